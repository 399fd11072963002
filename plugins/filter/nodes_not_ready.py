# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: nodes_not_ready
short_description: The nodes of a list that are not Ready in a cluster
version_added: 0.3.0
description:
  - Given the Nodes of a cluster (as read by C(kubernetes.core.k8s_info)), returns the names of
    O(names) whose Node is missing or whose C(Ready) condition is not C(True), each once, in
    the order given. One read of the Nodes then checks every node of a play.
options:
  _input:
    description: The Nodes (the C(resources) of a C(kubernetes.core.k8s_info) read).
    type: list
    elements: dict
    required: true
  names:
    description: The node names that should be Ready.
    type: list
    elements: str
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: Nodes of the play not Ready yet
  ansible.builtin.debug:
    msg: "{{ nodes.resources | kamaji.core.nodes_not_ready(ansible_play_hosts) }}"
"""

RETURN = r"""
_value:
  description: The names of O(names) that are not Ready (empty when all are).
  type: list
  elements: str
"""

from collections.abc import Callable

from ansible_collections.kamaji.core.plugins.module_utils.common.objects import nodes_not_ready


class FilterModule:
    def filters(self) -> dict[str, Callable[..., list[str]]]:
        return {"nodes_not_ready": nodes_not_ready}
