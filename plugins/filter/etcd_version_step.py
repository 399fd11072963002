# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: etcd_version_step
short_description: The etcd release a member runs, and whether etcd_version may move it
version_added: 0.2.0
description:
  - Reads the release an etcd member runs from the output of its C(etcd --version) and its restart-owed marker
    (a member owing a restart still runs the release its marker names), and tells whether the input
    (C(etcd_version)) may follow it, that is the same minor (any patch) or the next minor, never down a minor
    nor two at once.
  - A member where etcd is not installed yet (empty O(version_output)) runs nothing and may take any release.
options:
  _input:
    description: The wanted release (C(etcd_version), e.g. C(v3.7.3)).
    type: str
    required: true
  version_output:
    description: What C(etcd --version) printed on the member; empty when etcd is not installed there.
    type: str
    required: true
  restart_owed:
    description: The content of the member's restart-owed marker; null when it has none.
    type: str
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: Etcd moves one minor at a time, never down
  ansible.builtin.assert:
    that: _step.error | length == 0
    fail_msg: "{{ inventory_hostname }}: {{ _step.error }}"
  vars:
    _step: "{{ etcd_version | kamaji.core.etcd_version_step(etcd_version_read.stdout, none) }}"
"""

RETURN = r"""
_value:
  description: The member's step.
  type: dict
  contains:
    running:
      description: The release the member runs (C(v3.7.3)); empty when etcd is not installed.
      type: str
    restart_owed:
      description: Whether the member has a restart-owed marker.
      type: bool
    move:
      description: Empty when the member's release does not change, else C(etcd <running> -> <etcd_version>).
      type: str
    error:
      description: Empty when the move is allowed, else one line naming C(etcd_version) and the fix.
      type: str
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import release


def etcd_version_step(wanted: str, version_output: str | None, restart_owed: str | None = None) -> dict[str, Any]:
    return release.step(wanted, version_output, restart_owed)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., dict[str, Any]]]:
        return {"etcd_version_step": etcd_version_step}
