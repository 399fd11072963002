# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Which admin nodes move to another release in a run, and how.

Each admin node reports what it runs (read on the node: its kubelet's version, and on a
control-plane node the image of its kube-apiserver static pod) and whether an upgrade stopped
half-way on it (its marker). ``plan`` turns those reads and the inventory's versions into one
entry per node:

- the control plane moves first, one node at a time: ``kubeadm upgrade apply`` on the first
  control-plane node that moves while no control-plane node runs the wanted release yet (the
  cluster's configuration moves with it), ``kubeadm upgrade node`` on every other one;
- a worker moves after every control-plane node (``kubeadm upgrade node``: its kubelet's
  configuration), then its kubelet;
- a node whose marker is there moves again, whatever it reports: the run that wrote the marker
  stopped before the node was uncordoned.

Refusals (a control plane or a kubelet that would skip a minor or go down) come from
``skew.step_error``, before anything changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

# the first `image:` of a static pod manifest (kubeadm writes one container per control-plane pod)
IMAGE_RE = re.compile(r"^[ \t-]*image:[ \t]*[\"']?([^\s\"']+)", re.MULTILINE)


def manifest_version(text: str | None) -> str:
    """The release of a static pod manifest: its first image's tag (``v1.37.2``), ``""`` when
    the manifest is missing or names no tagged image."""
    match = IMAGE_RE.search(text or "")
    if not match:
        return ""
    _name, sep, tag = match.group(1).rpartition(":")
    return tag if sep and "/" not in tag else ""


def kubelet_version(text: str | None) -> str:
    """``Kubernetes v1.37.2`` (``kubelet --version``) -> ``v1.37.2``; ``""`` when unreadable."""
    words = (text or "").split()
    return words[-1] if words and skew.parse(words[-1]) else ""


def plan(nodes: Mapping[str, Mapping[str, Any]], control_plane_version: str) -> dict[str, dict[str, Any]]:
    """One entry per node of ``nodes`` (in their order: control-plane nodes are listed first
    by the caller), from what each reports:

    ``joined`` (bool), ``control_plane`` (bool), ``manifest`` (the text of its kube-apiserver
    manifest, control-plane nodes), ``kubelet`` (what ``kubelet --version`` printed),
    ``wanted_kubelet`` (its kube_packages_version), ``marker`` (bool: an upgrade stopped half-way).

    Each entry: ``moves`` (bool), ``action`` (``apply``, ``node``, or ``""`` when no kubeadm step
    is due: a control-plane node already on the release whose pinned kubelet moves), ``error``
    (a refusal line or ``""``), ``line`` (what moves, for the preview and the run's summary)."""
    applied = any(manifest_version(n.get("manifest")) == control_plane_version
                  for n in nodes.values() if n.get("control_plane") and n.get("joined"))
    out: dict[str, dict[str, Any]] = {}
    apply_taken = applied
    for host, node in nodes.items():
        entry: dict[str, Any] = {"moves": False, "action": "", "error": "", "line": ""}
        out[host] = entry
        if not node.get("joined"):
            continue
        is_cp = bool(node.get("control_plane"))
        running, kubelet = manifest_version(node.get("manifest")), kubelet_version(node.get("kubelet"))
        wanted_kubelet = str(node.get("wanted_kubelet") or "")
        errors = []
        if is_cp:
            errors.append(skew.step_error("admin_cluster_kubernetes_version", running or None, control_plane_version))
        errors.append(skew.step_error("kube_packages_version", kubelet or None, wanted_kubelet, "kubelets"))
        entry["error"] = next((e for e in errors if e), "")
        # a release this node does not tell (no manifest, no kubelet answer) is not moved blindly
        cp_moves = is_cp and bool(running) and running != control_plane_version
        kubelet_moves = bool(kubelet) and kubelet != wanted_kubelet
        if not (cp_moves or kubelet_moves or node.get("marker")):
            continue
        entry["moves"] = True
        if is_cp and cp_moves and not apply_taken:
            entry["action"], apply_taken = "apply", True
        elif cp_moves or (not is_cp and kubelet_moves) or node.get("marker"):
            entry["action"] = "node"
        # else: a control-plane node already on the release whose (pinned) kubelet moves: no kubeadm step
        parts = []
        if is_cp and cp_moves:
            parts.append("control plane %s -> %s (kubeadm upgrade %s)" % (running, control_plane_version, entry["action"]))
        if kubelet_moves:
            parts.append("kubelet %s -> %s" % (kubelet, wanted_kubelet))
        if not parts:
            parts.append("finishes the upgrade that stopped half-way (kubelet %s)" % wanted_kubelet)
        entry["line"] = "%s: %s" % (host, ", ".join(parts))
    return out
