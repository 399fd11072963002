# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: control_plane_unsettled
short_description: The control-plane static pods of a kubeadm node that have not settled
version_added: 0.3.0
description:
  - Given the control-plane pods of a kubeadm cluster (kube-system, label C(tier=control-plane),
    as read by C(kubernetes.core.k8s_info)), returns one line (the pod, a colon, the reason) for each static pod
    of O(node) that has not settled - missing, not Ready, with a container started before
    O(since), or (kube-apiserver, kube-controller-manager, kube-scheduler) an image not tagged
    O(version). Empty when the node has settled.
options:
  _input:
    description: The pods (the C(resources) of a C(kubernetes.core.k8s_info) read).
    type: list
    elements: dict
    required: true
  node:
    description: The node's name (the pods' C(spec.nodeName)).
    type: str
    required: true
  since:
    description: UTC time (C(2026-12-02T15:25:18Z)); every container must have started at or after it.
    type: str
  version:
    description: Release (C(v1.37.2)) the API server, controller-manager and scheduler images must carry.
    type: str
  components:
    description: The components that must each have a pod on the node.
    type: list
    elements: str
    default: [kube-apiserver, kube-controller-manager, kube-scheduler, etcd]
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: This node's control plane restarted after the renewal
  ansible.builtin.debug:
    msg: "{{ pods.resources | kamaji.core.control_plane_unsettled(inventory_hostname, since='2026-12-02T15:25:18Z') }}"
"""

RETURN = r"""
_value:
  description: One line per pod not settled, the pod, a colon and the reason (empty when all are).
  type: list
  elements: str
"""

from collections.abc import Callable

from ansible_collections.kamaji.core.plugins.module_utils.upgrade.control_plane import control_plane_unsettled


class FilterModule:
    def filters(self) -> dict[str, Callable[..., list[str]]]:
        return {"control_plane_unsettled": control_plane_unsettled}
