# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The one place where kamaji.core's component versions are written.

Role defaults and argument specs (YAML), module defaults, the Makefile, the sample and
lab inventories and the tests all agree with this file; ``tests/unit/test_versions.py``
fails when one of them drifts. To move a version, change it here and run that test: it
names every place that still says the old one.

``tools/versions.py make`` prints the values as Makefile assignments (the Makefile
includes them).
"""

from __future__ import annotations

# Kubernetes: the newest supported release, and one release of each older supported minor
# (every one of them is built and run by the test tiers: docs/version-policy.md).
KUBERNETES = "v1.37.2"
KUBERNETES_OLDER = ("v1.36.3",)
# etcd (kubeadm v1.37 recommends the 3.7 line), CoreDNS (kubeadm v1.37's), the pause image
ETCD = "v3.7.3"
# ETCD_OLDER: the release the e2e tier deploys the site's etcd at before kamaji.core.upgrade moves it.
ETCD_OLDER = "v3.7.2"
COREDNS = "v1.14.6"
PAUSE = "3.10.2"
# The container runtime, built from the Go module proxy (module versions): containerd 2.x,
# runc (its module is github.com/opencontainers/runc) and the CNI plugins
# (github.com/containernetworking/plugins), installed by the containerd role from the bundle.
# CONTAINERD_OLDER: the release a site is deployed at before the e2e tier's runtime upgrade.
CONTAINERD = "v2.4.2"
CONTAINERD_OLDER = "v2.4.1"
RUNC = "v1.5.3"
CNI_PLUGINS = "v1.10.0"

KUBERNETES_ALL = (KUBERNETES,) + KUBERNETES_OLDER


def minor(version: str) -> int:
    """``v1.37.2`` -> 37."""
    return int(version.lstrip("v").split(".")[1])


SUPPORTED_MINORS = tuple(sorted(minor(v) for v in KUBERNETES_ALL))
# kubeadm's tag of the etcd image
ETCD_IMAGE_TAG = ETCD.lstrip("v") + "-0"
ETCD_OLDER_IMAGE_TAG = ETCD_OLDER.lstrip("v") + "-0"

# Every value above, by the name the Makefile and the drift test use.
ALL = {
    "KUBE_VERSION": KUBERNETES,
    "OLDER_KUBE_VERSIONS": " ".join(KUBERNETES_OLDER),
    "ETCD_VERSION": ETCD,
    "ETCD_OLDER_VERSION": ETCD_OLDER,
    "COREDNS_VERSION": COREDNS,
    "PAUSE_VERSION": PAUSE,
    "ETCD_IMAGE_TAG": ETCD_IMAGE_TAG,
    "CONTAINERD_VERSION": CONTAINERD,
    "CONTAINERD_OLDER_VERSION": CONTAINERD_OLDER,
    "RUNC_VERSION": RUNC,
    "CNI_PLUGINS_VERSION": CNI_PLUGINS,
}
