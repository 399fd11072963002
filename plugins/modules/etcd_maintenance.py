#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_maintenance
short_description: Snapshot or defragment the multi-tenant etcd
version_added: 0.1.0
description:
  - O(action=snapshot) streams a snapshot of the member that serves the call into
    O(path) (mode 0600) and returns its size and sha256. Restore it with
    C(etcdutl snapshot restore) on every member (see the etcd role's documentation).
  - O(action=defragment) defragments the members one at a time, in O(endpoints) order,
    checking that the cluster answers between two members, so a quorum is always serving.
    Members whose free space inside the database is below O(min_free_ratio) are skipped.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
  - kamaji.core.etcd
options:
  action:
    description: What to do.
    type: str
    choices: [snapshot, defragment]
    required: true
  path:
    description: Snapshot file (O(action=snapshot)).
    type: path
  min_free_ratio:
    description:
      - O(action=defragment) only touches a member when (db size - size in use) / db size is
        at least this ratio. V(0) defragments every member.
    type: float
    default: 0.0
"""

EXAMPLES = r"""
- name: Nightly snapshot on the first member
  kamaji.core.etcd_maintenance:
    action: snapshot
    path: /var/backups/kamaji/etcd-{{ now(fmt='%Y%m%d') }}.db
    endpoints: [https://127.0.0.1:2379]
    ca_cert: /etc/kamaji/etcd/pki/ca.crt
    client_cert: /etc/kamaji/etcd/pki/root.crt
    client_key: /etc/kamaji/etcd/pki/root.key
  run_once: true

- name: Defragment members with at least 30 % free space, one at a time
  kamaji.core.etcd_maintenance:
    action: defragment
    min_free_ratio: 0.3
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/pki/ca.crt
    client_cert: /etc/kamaji/etcd/pki/root.crt
    client_key: /etc/kamaji/etcd/pki/root.key
  run_once: true
"""

RETURN = r"""
size:
  description: Snapshot size in bytes.
  returned: action=snapshot
  type: int
sha256:
  description: Snapshot sha256.
  returned: action=snapshot
  type: str
defragmented:
  description: Endpoints defragmented (or that would be, in check mode), with db size before and after.
  returned: action=defragment
  type: list
  elements: dict
skipped_endpoints:
  description: Endpoints skipped, with the reason.
  returned: action=defragment
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import maintenance
from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    action=dict(type="str", required=True, choices=["snapshot", "defragment"]),
    path=dict(type="path"),
    min_free_ratio=dict(type="float", default=0.0),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    if p["action"] == "snapshot":
        return maintenance.snapshot(client, p["path"], module.check_mode)
    return maintenance.defragment(client, p["min_free_ratio"], module.check_mode)


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work, required_if=[("action", "snapshot", ("path",))])


if __name__ == "__main__":
    main()
