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
  description: Per tenant name, its prefix, keys and bytes.
  returned: always
  type: dict
"""

from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import tenant_prefix
from ansible_collections.kamaji.core.plugins.module_utils.etcd.module import etcd_module, run


def _normalize(url):
    return url.rstrip("/").replace("https://", "").replace("http://", "")


def main():
    module = etcd_module(dict(
        tenants=dict(type="list", elements="str"),
        measure=dict(type="bool", default=True),
    ))
    p = module.params

    def work(client):
        members = client.members()
        endpoints = client.endpoint_status()
        by_url = {_normalize(u): m for m in members for u in m["client_urls"]}
        by_id = {m["id"]: m for m in members}
        leader = next((by_id.get(e["leader"], {}).get("name") for e in endpoints if e.get("healthy")), None)
        unhealthy = []
        for e in endpoints:
            member = by_url.get(_normalize(e["endpoint"]))
            e["member"] = member["name"] if member else None
            if not e["healthy"]:
                unhealthy.append(e["member"] or e["endpoint"])
        # members whose client URLs were not among the endpoints and that never started
        for m in members:
            if not m["client_urls"] and m["name"] not in unhealthy:
                unhealthy.append(m["name"] or m["id"])
        roles = client.role_list()
        tenants = {}
        names = p["tenants"]
        if names is None:
            names = []
            for r in roles:
                perms = client.role_get(r) or []
                if r != "root" and len(perms) == 1 and perms[0]["prefix"] and perms[0]["type"] == "readwrite":
                    tenants[r] = {"prefix": perms[0]["key"]}
        for n in names:
            tenants[n] = {"prefix": tenant_prefix(n)}
        if p["measure"]:
            for t in tenants.values():
                t["keys"], t["bytes"] = client.prefix_stats(t["prefix"])
        return dict(changed=False, members=members, leader=leader, endpoints=endpoints,
                    unhealthy_members=unhealthy, alarms=client.alarms(), auth_enabled=client.auth_status(),
                    users=client.user_list(), roles=roles, tenants=tenants)

    module.exit_json(**run(module, work))


if __name__ == "__main__":
    main()
