# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: admin_upgrade_plan
short_description: Which admin nodes move to another release, and how
version_added: 0.3.0
description:
  - Given what each admin node reports (joined or not, the text of its kube-apiserver manifest on a
    control-plane node, what C(kubelet --version) printed, the kubelet release it should run, whether
    an upgrade stopped half-way on it), returns one entry per node saying whether it moves in this
    run, with C(kubeadm upgrade apply) (the first control-plane node that moves while none runs the
    wanted release yet) or C(kubeadm upgrade node), and the refusal line when a control plane or a
    kubelet would skip a minor or move down.
options:
  _input:
    description: Node name to its reads (C(joined), C(control_plane), C(manifest), C(kubelet),
      C(wanted_kubelet), C(marker)), control-plane nodes first.
    type: dict
    required: true
  version:
    description: The admin control plane's wanted release (C(admin_cluster_kubernetes_version)).
    type: str
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: What moves
  ansible.builtin.set_fact:
    plan: "{{ reads | kamaji.core.admin_upgrade_plan(admin_cluster_kubernetes_version) }}"
"""

RETURN = r"""
_value:
  description: Node name to C(moves) (bool), C(action) (C(apply), C(node) or empty), C(error) (a refusal
    line or empty) and C(line) (what moves, for the preview).
  type: dict
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.upgrade import admin


def admin_upgrade_plan(nodes: dict[str, dict[str, Any]], version: str) -> dict[str, dict[str, Any]]:
    return admin.plan(nodes, version)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., dict[str, dict[str, Any]]]]:
        return {"admin_upgrade_plan": admin_upgrade_plan}
