# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: kubelet_skew
short_description: Whether a kubelet version may serve a control plane version
version_added: 0.2.0
description:
  - Returns an empty string when a kubelet at the input version may serve a control plane at
    O(control_plane) under the Kubernetes version-skew policy (never a newer minor than the
    control plane, at most three minors older), else one line that starts with O(field) and
    ends with the fix.
options:
  _input:
    description: The kubelet's version (C(v1.37.2)).
    type: str
    required: true
  control_plane:
    description: The version of the control plane the kubelet serves.
    type: str
    required: true
  field:
    description: The inventory variable that sets the kubelet's version, named in the message.
    type: str
    default: kube_packages_version
  control_plane_field:
    description: Where the control plane's version comes from, named in the message.
    type: str
    default: the control plane's version
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: The kubelet never runs a newer minor than its control plane
  ansible.builtin.assert:
    that: _problem | length == 0
    fail_msg: "{{ _problem }}"
  vars:
    _problem: "{{ kube_packages_version | kamaji.core.kubelet_skew(admin_cluster_kubernetes_version) }}"
"""

RETURN = r"""
_value:
  description: Empty when the versions may run together, else what is wrong and the fix.
  type: str
"""

from collections.abc import Callable

from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew


def kubelet_skew(kubelet: str, control_plane: str, field: str = "kube_packages_version",
                 control_plane_field: str = "the control plane's version") -> str:
    return skew.kubelet_error(field, kubelet, control_plane, control_plane_field) or ""


class FilterModule:
    def filters(self) -> dict[str, Callable[..., str]]:
        return {"kubelet_skew": kubelet_skew}
