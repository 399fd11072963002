"""upgrade.skew: the fleet's version-skew rules, and the filters the roles ask them through."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.filter.kubelet_skew import kubelet_skew
from ansible_collections.kamaji.core.plugins.filter.tenant_kubernetes_version import tenant_kubernetes_version
from ansible_collections.kamaji.core.plugins.filter.version_step import version_step
from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

NEWEST = versions.KUBERNETES
OLDER = versions.KUBERNETES_OLDER[0]


M = versions.minor(NEWEST)


def v(minor, patch=0):
    """A release of the newest minor plus ``minor`` (versions written out here would be drift)."""
    return "v1.%d.%d" % (M + minor, patch)


@pytest.mark.parametrize(("kubelet", "control_plane", "error"), [
    (v(0, 2), v(0, 2), None),
    (v(0, 9), v(0, 2), None),              # a newer patch of the same minor is within the policy
    (v(-1, 3), v(0, 2), None),
    (v(-3), v(0, 2), None),                # three minors behind: the oldest a kubelet may be
    (v(1), v(0, 2), f"kv: {v(1)} is newer than cpf {v(0, 2)}; a kubelet never runs a newer minor than its "
                    f"control plane: set it to v1.{M}.x or older, or upgrade the control plane first"),
    (v(-4, 9), v(0, 2), f"kv: {v(-4, 9)} is more than 3 minors behind cpf {v(0, 2)}; move the kubelet up "
                        f"(v1.{M - 3}.x at least) before the control plane"),
    (v(0, 2)[1:], v(0, 2), f"kv: '{v(0, 2)[1:]}' must look like v"),
    (v(0, 2), "latest", "cpf: 'latest' must look like v"),
])
def test_a_kubelet_never_runs_newer_than_its_control_plane(kubelet, control_plane, error):
    got = skew.kubelet_error("kv", kubelet, control_plane, "cpf")
    assert (got is None) if error is None else got.startswith(error), got
    assert kubelet_skew(kubelet, control_plane, "kv", "cpf") == (got or "")


@pytest.mark.parametrize(("running", "wanted", "error"), [
    (None, v(0, 2), None),
    (v(-1, 3), v(0, 2), None),
    (v(0, 2), v(0, 2), None),
    (v(0, 2), v(0, 9), None),
    (v(0, 2), v(0, 1), None),              # a patch down within the minor: the data format is the minor's
    (v(0, 2), v(-1, 3), f"f: {v(-1, 3)} would downgrade the running {v(0, 2)}; etcd members never move down a minor"),
    (v(-2, 4), v(0, 2), f"f: {v(0, 2)} skips a minor from the running {v(-2, 4)}; upgrade one minor at a time "
                        f"(first v1.{M - 1})"),
    (v(0, 2), "v2.0.0", f"f: v2.0.0 skips a minor from the running {v(0, 2)}"),
    (v(0, 2), v(1)[:-2], f"f: '{v(1)[:-2]}' must look like v"),
])
def test_a_version_moves_one_minor_at_a_time_and_never_down(running, wanted, error):
    got = skew.step_error("f", running, wanted, "etcd members")
    assert (got is None) if error is None else got.startswith(error), got
    assert version_step(wanted, running or "", "f", "etcd members") == (got or "")


def test_a_tenant_worker_finds_its_tenants_version_with_the_specs_default():
    hostvars = {"acme": {"tenant": {"kubernetes_version": OLDER}}, "globex": {"tenant": {}},
                "initech-host": {"tenant_name": "initech", "tenant": {"kubernetes_version": OLDER}}}
    hosts = list(hostvars)
    assert tenant_kubernetes_version("acme", hostvars, hosts) == OLDER
    assert tenant_kubernetes_version("globex", hostvars, hosts) == NEWEST
    assert tenant_kubernetes_version("initech", hostvars, hosts) == OLDER
    # named by tenant_name, not by its host any more; an unknown tenant: empty
    assert tenant_kubernetes_version("initech-host", hostvars, hosts) == ""
    assert tenant_kubernetes_version("nope", hostvars, hosts) == ""
