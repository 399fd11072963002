#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_member
short_description: Add, replace or remove one member of a running etcd cluster
version_added: 0.1.0
description:
  - Changes the membership of a running cluster by one member per call, the way etcd
    keeps quorum during reconfiguration; start the new member (with RV(initial_cluster)
    and C(initial-cluster-state=existing)) before adding the next one.
  - With O(replace=true), a member of the same name or peer URLs is removed before the new
    one is added. Use it for a machine that comes back with an empty data dir (failed
    disk, re-provisioned VM); removing first keeps quorum reachable while the old member
    is dead.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_full
  - kamaji.core.etcd
options:
  name:
    description: Member name (the name it starts with).
    type: str
    required: true
  peer_urls:
    description: Peer URLs of the member (C(https://address:2380)). Required with O(state=present).
    type: list
    elements: str
    default: []
  state:
    description: Whether the member belongs to the cluster.
    type: str
    choices: [present, absent]
    default: present
  replace:
    description: Remove a member of the same name or peer URLs first, then add this one.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Add etcd-3 to the running cluster
  kamaji.core.etcd_member:
    name: etcd-3
    peer_urls: [https://192.0.2.13:2380]
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/pki/ca.crt
    client_cert: /etc/kamaji/etcd/pki/root.crt
    client_key: /etc/kamaji/etcd/pki/root.key
  register: added
  delegate_to: localhost

- name: Remove a retired member
  kamaji.core.etcd_member:
    name: etcd-4
    state: absent
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/pki/ca.crt
    client_cert: /etc/kamaji/etcd/pki/root.crt
    client_key: /etc/kamaji/etcd/pki/root.key
"""

RETURN = r"""
member_id:
  description: Hexadecimal id of the member after the call (none when absent).
  returned: always
  type: str
initial_cluster:
  description: The C(initial-cluster) value the member must start with (state=present).
  returned: always
  type: str
  sample: etcd-0=https://192.0.2.10:2380,etcd-1=https://192.0.2.11:2380,etcd-3=https://192.0.2.13:2380
actions:
  description: What was done (or would be in check mode), in order; C(remove) and/or C(add).
  returned: always
  type: list
  elements: str
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.ops import ensure_member
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import with_diff

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    name=dict(type="str", required=True),
    peer_urls=dict(type="list", elements="str", default=[]),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    replace=dict(type="bool", default=False),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    changed, before, after, info = ensure_member(client, p["name"], p["peer_urls"], p["state"], p["replace"],
                                                 module.check_mode)
    return with_diff(dict(changed=changed, member_id=info["id"], initial_cluster=info["initial_cluster"],
                          actions=info["actions"]), module._diff, before, after)


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work)


if __name__ == "__main__":
    main()
