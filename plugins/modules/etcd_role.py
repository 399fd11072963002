#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_role
short_description: Manage an etcd role and its key permissions
version_added: 0.1.0
description:
  - Creates, updates or removes an etcd role. Permissions are compared with what etcd
    holds; only the difference is granted or revoked.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_full
  - kamaji.core.etcd
options:
  name:
    description: Role name.
    type: str
    required: true
  state:
    description: Whether the role exists.
    type: str
    choices: [present, absent]
    default: present
  permissions:
    description: Key permissions of the role.
    type: list
    elements: dict
    default: []
    suboptions:
      key:
        description: The key, or the prefix with O(permissions[].prefix=true).
        type: str
        required: true
      prefix:
        description:
          - Grant on every key starting with O(permissions[].key). End a prefix with C(/)
            to keep C(/acme/) from covering C(/acme2/).
        type: bool
        default: false
      type:
        description: Access granted.
        type: str
        choices: [read, write, readwrite]
        default: readwrite
  exact:
    description:
      - V(true) makes the role hold exactly O(permissions) (others are revoked);
        V(false) only adds the missing ones.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Read-only access to the shared settings sub-tree
  kamaji.core.etcd_role:
    name: settings-reader
    permissions:
      - key: /settings/
        prefix: true
        type: read
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key
"""

RETURN = r"""
permissions:
  description: The role's permissions after the call (none when absent).
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.ops import ensure_role
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import with_diff

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    permissions=dict(type="list", elements="dict", default=[], options=dict(
        key=dict(type="str", required=True, no_log=False),
        prefix=dict(type="bool", default=False),
        type=dict(type="str", default="readwrite", choices=["read", "write", "readwrite"]),
    )),
    exact=dict(type="bool", default=True),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    changed, before, after = ensure_role(client, p["name"], p["state"], p["permissions"], p["exact"], module.check_mode)
    return with_diff(dict(changed=changed, permissions=(after or {}).get("permissions", [])), module._diff,
                     before, after)


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work)


if __name__ == "__main__":
    main()
