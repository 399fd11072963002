# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The version-skew rules of the fleet, one function per rule.

Each rule returns ``None`` when the versions may run together, else one line that starts
with the inventory field at fault (as the inventory spells it) and ends with the fix.
Versions look like ``v1.37.2``; a version that does not is reported by the rule too.

- A control plane moves one minor at a time and never down (``step_error``): data written by
  a newer API server may not be readable by an older one, and kubeadm upgrades one minor.
  An etcd member follows the same rule (``etcd_step_error``): etcd supports a rolling upgrade
  from one minor to the next only, and its data written by a newer minor is not for an older one.
- A kubelet is never newer than its control plane and at most ``KUBELET_MAX_MINORS_BEHIND``
  minors older (``kubelet_error``), the Kubernetes version-skew policy since v1.28.
"""

from __future__ import annotations

import re

from ansible_collections.kamaji.core.plugins.module_utils import versions

VERSION_RE = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
# how many minors a kubelet may lag behind its kube-apiserver
KUBELET_MAX_MINORS_BEHIND = 3


def parse(version: object) -> tuple[int, int, int] | None:
    """``v1.37.2`` -> (1, 37, 2); None when it does not look like a release."""
    match = VERSION_RE.match(str(version or ""))
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


def _malformed(field: str, version: object, example: str = versions.KUBERNETES) -> str:
    return "%s: %r must look like %s (v<major>.<minor>.<patch>)" % (field, version, example)


def step_error(field: str, running: str | None, wanted: str, what: str = "control planes",
               example: str = versions.KUBERNETES) -> str | None:
    """``running`` (None: not deployed yet) may move to ``wanted``: the same minor (any
    patch), or the next minor; never down a minor, never two at once. ``example`` is the
    release a malformed ``wanted`` is told to look like."""
    if not running:
        return None
    have, want = parse(running), parse(wanted)
    if want is None:
        return _malformed(field, wanted, example)
    if have is None:
        return None  # a running version we cannot read is not the user's input to fix
    if want[:2] < have[:2]:
        return "%s: %s would downgrade the running %s; %s never move down a minor: set it to v%d.%d.x or newer" % (
            field, wanted, running, what, have[0], have[1])
    if want[0] != have[0] or want[1] > have[1] + 1:
        return "%s: %s skips a minor from the running %s; upgrade one minor at a time (first v%d.%d)" % (
            field, wanted, running, have[0], have[1] + 1)
    return None


def etcd_step_error(running: str | None, wanted: str) -> str | None:
    """``step_error`` for an etcd member running ``running`` that ``etcd_version`` moves to ``wanted``."""
    return step_error("etcd_version", running, wanted, "etcd members", versions.ETCD)


def kubelet_error(field: str, kubelet: str, control_plane: str, control_plane_field: str) -> str | None:
    """A kubelet at ``kubelet`` may serve a control plane at ``control_plane``."""
    got, cp = parse(kubelet), parse(control_plane)
    if got is None:
        return _malformed(field, kubelet)
    if cp is None:
        return _malformed(control_plane_field, control_plane)
    if got[:2] > cp[:2]:
        return ("%s: %s is newer than %s %s; a kubelet never runs a newer minor than its control plane: "
                "set it to v%d.%d.x or older, or upgrade the control plane first"
                % (field, kubelet, control_plane_field, control_plane, cp[0], cp[1]))
    if got[0] != cp[0] or cp[1] - got[1] > KUBELET_MAX_MINORS_BEHIND:
        return ("%s: %s is more than %d minors behind %s %s; move the kubelet up (v%d.%d.x at least) "
                "before the control plane" % (field, kubelet, KUBELET_MAX_MINORS_BEHIND, control_plane_field,
                                              control_plane, cp[0], cp[1] - KUBELET_MAX_MINORS_BEHIND))
    return None
