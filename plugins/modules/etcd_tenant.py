#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_tenant
short_description: One tenant's etcd user and role, confined to the tenant's key prefix
version_added: 0.1.0
description:
  - Makes the etcd role C(<role>) whose only permission is readwrite on the key range of
    the tenant prefix (C(/<name>/) by default, trailing slash included, so that C(/acme/)
    never covers C(/acme2/)), and the user C(<user>) with exactly that role and no
    password. The tenant's kube-apiserver authenticates with a client certificate whose
    common name is the user, and uses C(--etcd-prefix=/<name>).
  - With O(state=absent) the user and role are removed; with O(purge=true) every key under
    the prefix is deleted first, and nothing outside it.
  - Needs the root client certificate.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.etcd
options:
  name:
    description: Tenant name (DNS-1123 label). C(root) is reserved.
    type: str
    required: true
  state:
    description: Whether the tenant's user and role exist.
    type: str
    choices: [present, absent]
    default: present
  prefix:
    description:
      - Key prefix of the tenant; must start and end with C(/). Default C(/<name>/).
    type: str
  user:
    description: etcd user name; default O(name).
    type: str
  role:
    description: etcd role name; default O(name).
    type: str
  purge:
    description: With O(state=absent), delete every key under the prefix.
    type: bool
    default: false
  measure:
    description:
      - Count keys and bytes under the prefix (a paged scan). Turn off to make large
        fleets' no-op runs cheaper.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Tenant acme in the shared etcd
  kamaji.core.etcd_tenant:
    name: acme
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key

- name: Delete tenant acme and all its data
  kamaji.core.etcd_tenant:
    name: acme
    state: absent
    purge: true
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key
"""

RETURN = r"""
prefix:
  description: The tenant's key prefix.
  returned: always
  type: str
  sample: /acme/
keys:
  description: Keys under the prefix (with O(purge=true), the keys deleted).
  returned: when measured or purged
  type: int
bytes:
  description: Bytes of keys and values under the prefix (with O(purge=true), deleted).
  returned: when measured or purged
  type: int
user:
  description: The etcd user name.
  returned: always
  type: str
role:
  description: The etcd role name.
  returned: always
  type: str
endpoint:
  description: The endpoint that served the call.
  returned: always
  type: str
unreachable_endpoints:
  description: Endpoints that did not answer, with the reason.
  returned: when some endpoint was down
  type: dict
"""

from ansible_collections.kamaji.core.plugins.module_utils.etcd import EtcdError
from ansible_collections.kamaji.core.plugins.module_utils.etcd_module import etcd_module, run
from ansible_collections.kamaji.core.plugins.module_utils.etcd_ops import ensure_tenant, tenant_names


def main():
    module = etcd_module(dict(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        prefix=dict(type="str"),
        user=dict(type="str"),
        role=dict(type="str"),
        purge=dict(type="bool", default=False),
        measure=dict(type="bool", default=True),
    ))
    p = module.params
    try:
        prefix, user, role = tenant_names(p["name"], p["prefix"], p["user"], p["role"])
    except EtcdError as exc:
        module.fail_json(msg=str(exc))

    def work(client):
        changed, before, after, stats = ensure_tenant(
            client, p["name"], p["state"], prefix, user, role, p["purge"], p["measure"], module.check_mode)
        result = dict(changed=changed, user=user, role=role, **stats)
        if module._diff:
            result["diff"] = {"before": before, "after": after}
        return result

    module.exit_json(**run(module, work))


if __name__ == "__main__":
    main()
