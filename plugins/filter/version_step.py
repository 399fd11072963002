# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: version_step
short_description: Whether a running version may move to the wanted one
version_added: 0.2.0
description:
  - Returns an empty string when a component running O(running) may move to the input version,
    that is to the same minor (any patch) or the next minor, never down a minor nor two at once. Else one
    line that starts with O(field) and ends with the fix. An empty O(running) (not deployed yet)
    always may.
options:
  _input:
    description: The wanted version (C(v1.37.2)).
    type: str
    required: true
  running:
    description: The version running now; empty when none runs yet.
    type: str
    required: true
  field:
    description: The inventory variable that sets the wanted version, named in the message.
    type: str
    required: true
  what:
    description: What moves, in the plural (C(tenant workers)), named in the message.
    type: str
    default: control planes
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: One minor at a time, never down
  ansible.builtin.assert:
    that: _problem | length == 0
    fail_msg: "{{ _problem }}"
  vars:
    _problem: "{{ kube_packages_version | kamaji.core.version_step(running_kubelet, 'kube_packages_version', 'kubelets') }}"
"""

RETURN = r"""
_value:
  description: Empty when the move is allowed, else what is wrong and the fix.
  type: str
"""

from collections.abc import Callable

from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew


def version_step(wanted: str, running: str, field: str, what: str = "control planes") -> str:
    return skew.step_error(field, running or None, wanted, what) or ""


class FilterModule:
    def filters(self) -> dict[str, Callable[..., str]]:
        return {"version_step": version_step}
