#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_user
short_description: Manage an etcd user and its roles
version_added: 0.1.0
description:
  - Creates, updates or removes an etcd user. By default the user has no password and
    authenticates only with a client certificate whose common name is the user name.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_full
  - kamaji.core.etcd
options:
  name:
    description: User name.
    type: str
    required: true
  state:
    description: Whether the user exists.
    type: str
    choices: [present, absent]
    default: present
  roles:
    description: Roles of the user.
    type: list
    elements: str
    default: []
  exact:
    description: V(true) revokes roles not listed; V(false) only grants the missing ones.
    type: bool
    default: true
  password:
    description:
      - Password for a user that must log in with one. Leave unset for certificate-only
        users (recommended). Only used when the user is created.
    type: str
"""

EXAMPLES = r"""
- name: Certificate-only user with one role
  kamaji.core.etcd_user:
    name: backup
    roles: [settings-reader]
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key
"""

RETURN = r"""
roles:
  description: The user's roles after the call (none when absent).
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.ops import ensure_user
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import with_diff

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    roles=dict(type="list", elements="str", default=[]),
    exact=dict(type="bool", default=True),
    password=dict(type="str", no_log=True),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    changed, before, after = ensure_user(client, p["name"], p["state"], p["roles"], p["exact"], p["password"],
                                         module.check_mode)
    return with_diff(dict(changed=changed, roles=(after or {}).get("roles", [])), module._diff, before, after)


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work)


if __name__ == "__main__":
    main()
