# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: beyond_newest
short_description: The dated files a retention removes
version_added: 0.3.0
description:
  - Of a list of file names or paths named C(<stem>-<UTC time><suffix>) (etcd snapshots, tenant
    backups), the ones beyond the O(keep) newest, oldest first. Files of another stem are never
    listed. O(keep) 0 keeps them all (an empty list).
options:
  _input:
    description: File names or paths.
    type: list
    elements: str
    required: true
  stem:
    description: What precedes C(-<UTC time>) in the names.
    type: str
    required: true
  suffix:
    description: What follows the time, such as C(.db).
    type: str
    required: true
  keep:
    description: How many of the newest stay; 0 keeps them all.
    type: int
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: Older snapshots removed
  ansible.builtin.file:
    path: "{{ item }}"
    state: absent
  loop: "{{ found.files | map(attribute='path') | kamaji.core.beyond_newest('snapshot', '.db', 7) }}"
"""

RETURN = r"""
_value:
  description: The names or paths beyond the newest O(keep), oldest first.
  type: list
  elements: str
"""

from collections.abc import Callable, Iterable

from ansible.errors import AnsibleFilterError

from ansible_collections.kamaji.core.plugins.module_utils.common import retention


def beyond_newest(names: Iterable[str], stem: str, suffix: str, keep: int) -> list[str]:
    try:
        return retention.beyond_newest(list(names), stem, suffix, int(keep))
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("beyond_newest: %s" % exc)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., list[str]]]:
        return {"beyond_newest": beyond_newest}
