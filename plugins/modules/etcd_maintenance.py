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

import hashlib
import os
import tempfile

from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import EtcdError
from ansible_collections.kamaji.core.plugins.module_utils.etcd.module import etcd_module, run


def _snapshot(module, client):
    path = module.params["path"]
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise EtcdError("path: directory %s does not exist" % directory)
    if module.check_mode:
        return dict(changed=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".snapshot-")
    try:
        with os.fdopen(fd, "wb") as f:
            client.snapshot(f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return dict(changed=True, path=path, size=os.path.getsize(path), sha256=sha.hexdigest())


def _defragment(module, client):
    done, skipped = [], []
    for status in client.endpoint_status():
        endpoint = status["endpoint"]
        if not status["healthy"]:
            raise EtcdError("defragment: %s is not healthy (%s); fix it first, defragmenting the others "
                            "could leave no quorum" % (endpoint, status.get("error")))
        size, in_use = status["db_size"], status.get("db_size_in_use") or status["db_size"]
        ratio = (size - in_use) / float(size) if size else 0.0
        if ratio < module.params["min_free_ratio"]:
            skipped.append({"endpoint": endpoint, "reason": "free ratio %.2f below %.2f" % (
                ratio, module.params["min_free_ratio"])})
            continue
        if not module.check_mode:
            client.defragment(endpoint)
            after = next(s for s in client.endpoint_status() if s["endpoint"] == endpoint)
            if not after["healthy"]:
                raise EtcdError("defragment: %s did not answer after its defragmentation; stopping" % endpoint)
            done.append({"endpoint": endpoint, "db_size_before": size, "db_size_after": after["db_size"]})
        else:
            done.append({"endpoint": endpoint, "db_size_before": size})
    return dict(changed=bool(done), defragmented=done, skipped_endpoints=skipped)


def main():
    module = etcd_module(dict(
        action=dict(type="str", required=True, choices=["snapshot", "defragment"]),
        path=dict(type="path"),
        min_free_ratio=dict(type="float", default=0.0),
    ), required_if=[("action", "snapshot", ("path",))])

    def work(client):
        return _snapshot(module, client) if module.params["action"] == "snapshot" else _defragment(module, client)

    module.exit_json(**run(module, work))


if __name__ == "__main__":
    main()
