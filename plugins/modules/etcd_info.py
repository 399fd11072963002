#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_info
short_description: Health, membership, auth and per-tenant usage of an etcd cluster
version_added: 0.1.0
description:
  - Reports members, the leader, the health, database size and version of every
    endpoint, alarms, whether auth is enabled, users and roles, and the number of keys and
    bytes under each tenant prefix.
  - An endpoint that does not answer is reported with its error and, when it can be
    matched, the member name; the call itself succeeds while one endpoint answers.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
  - kamaji.core.etcd
options:
  tenants:
    description:
      - Tenant names whose prefixes (C(/<name>/)) are measured. By default every role
        whose only permission is a readwrite prefix is taken as a tenant.
    type: list
    elements: str
  measure:
    description: Count keys and bytes per tenant prefix.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Cluster report
  kamaji.core.etcd_info:
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key
  register: etcd

- name: Fail when a member is down
  ansible.builtin.assert:
    that: etcd.unhealthy_members | length == 0
    fail_msg: "etcd members down: {{ etcd.unhealthy_members }}"
"""

RETURN = r"""
members:
  description: Cluster members (id, name, peer_urls, client_urls, learner).
  returned: always
  type: list
  elements: dict
leader:
  description: Name of the leader member.
  returned: always
  type: str
endpoints:
  description: Per endpoint, healthy, member_id, leader, db_size, version, or error.
  returned: always
  type: list
  elements: dict
unhealthy_members:
  description: Names (or endpoints, when no member matches) of members that did not answer.
  returned: always
  type: list
  elements: str
alarms:
  description: Active alarms.
  returned: always
  type: list
  elements: dict
auth_enabled:
  description: Whether authentication is enabled.
  returned: always
  type: bool
users:
  description: User names.
  returned: always
  type: list
  elements: str
roles:
  description: Role names.
  returned: always
  type: list
  elements: str
tenants:
  description:
    - Per tenant name, its prefix, keys and bytes, and its role's C(permission) on the prefix
      (C(readwrite), or C(read) when the tenant is write-frozen; null when the role is missing or
      holds more than one permission).
  returned: always
  type: dict
  sample: {acme: {prefix: /acme/, permission: readwrite, keys: 412, bytes: 1093421}}
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import maintenance
from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    tenants=dict(type="list", elements="str"),
    measure=dict(type="bool", default=True),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    return maintenance.cluster_info(client, module.params["tenants"], module.params["measure"])


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work)


if __name__ == "__main__":
    main()
