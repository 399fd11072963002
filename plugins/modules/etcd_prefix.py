#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_prefix
short_description: Export, import or copy every key under one prefix (per-tenant backup and move)
version_added: 0.1.0
description:
  - O(state=exported) writes every key and value under O(prefix) to a file on the host that
    runs the module; the file is only rewritten when the data differs.
  - O(state=imported) loads such a file under O(prefix) (default the exported prefix), so a
    tenant can be restored, renamed, or moved to another etcd cluster. Only keys whose value
    differs are written; with O(replace=true) keys under the prefix that are not in the file
    are deleted.
  - O(state=copied) copies every key under O(prefix) from another etcd cluster (O(source)) into
    O(target_prefix) (default O(prefix)) of the cluster the module connects to, in the order the
    source last wrote them; keys there that the source does not hold are deleted. Both are read
    back and compared; any key missing, differing or extra fails the module naming it (a write
    that reached the source during the copy). The source is only read. This is the copy step of
    moving a tenant to another etcd cluster; its writes are frozen before.
  - The file holds the tenant's data unencrypted; it is written with mode 0600.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
  - kamaji.core.etcd
options:
  state:
    description: Export to O(path), import from it, or copy from O(source).
    type: str
    choices: [exported, imported, copied]
    default: exported
  prefix:
    description:
      - The key prefix, with leading and trailing slash (a tenant's is C(/<name>/)).
      - Required for O(state=exported); for O(state=imported) the exported prefix by default.
    type: str
  path:
    description: The export file; required for O(state=exported) and O(state=imported).
    type: path
  source:
    description:
      - With O(state=copied), the etcd cluster the keys are copied from, reached as the module's
        own connection options are (paths or inline PEM).
    type: dict
    suboptions:
      endpoints:
        description: Client URLs of the source cluster.
        type: list
        elements: str
        required: true
      ca_cert:
        description: The source cluster's CA certificate (a path or PEM content).
        type: str
        required: true
      client_cert:
        description: A client certificate the source cluster accepts for reading O(prefix).
        type: str
        required: true
      client_key:
        description: Its key.
        type: str
        required: true
  target_prefix:
    description: With O(state=copied), the prefix the keys go to on the module's cluster (default O(prefix)).
    type: str
  replace:
    description: With O(state=imported), delete keys under the prefix that the file does not hold.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Back up tenant acme
  kamaji.core.etcd_prefix:
    prefix: /acme/
    path: /var/backups/kamaji/acme.etcd.jsonl
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/pki/ca.crt
    client_cert: /etc/kamaji/etcd/pki/root.crt
    client_key: /etc/kamaji/etcd/pki/root.key

- name: Copy tenant acme from the etcd cluster it runs on to this one, verified
  kamaji.core.etcd_prefix:
    state: copied
    prefix: /acme/
    source:
      endpoints: ["https://192.0.2.21:2379"]
      ca_cert: /etc/kamaji/etcd-old/ca.crt
      client_cert: /etc/kamaji/etcd-old/root.crt
      client_key: /etc/kamaji/etcd-old/root.key
    endpoints: ["https://192.0.2.31:2379"]
    ca_cert: /etc/kamaji/etcd/pki/ca.crt
    client_cert: /etc/kamaji/etcd/pki/root.crt
    client_key: /etc/kamaji/etcd/pki/root.key

- name: Restore it as tenant acme-restored
  kamaji.core.etcd_prefix:
    state: imported
    prefix: /acme-restored/
    path: /var/backups/kamaji/acme.etcd.jsonl
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/pki/ca.crt
    client_cert: /etc/kamaji/etcd/pki/root.crt
    client_key: /etc/kamaji/etcd/pki/root.key
"""

RETURN = r"""
prefix:
  description: The prefix exported or imported into.
  returned: always
  type: str
keys:
  description: Number of keys in the export.
  returned: always
  type: int
bytes:
  description: Bytes of keys and values exported.
  returned: when exported
  type: int
revision:
  description: etcd revision the export was read at.
  returned: when exported
  type: int
sha256:
  description: Digest of the exported data lines; when copied, of the keys and values copied.
  returned: when exported or copied
  type: str
written:
  description: Keys written by the import or the copy.
  returned: when imported or copied
  type: int
deleted:
  description: Keys deleted by the import (O(replace=true)) or the copy.
  returned: when imported or copied
  type: int
target_prefix:
  description: The prefix copied into.
  returned: when copied
  type: str
verified:
  description: The copy was read back and equals its source (not in check mode).
  returned: when copied and not in check mode
  type: bool
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import Client
from ansible_collections.kamaji.core.plugins.module_utils.etcd.dump import copy_prefix, export_prefix, import_prefix

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    state=dict(type="str", default="exported", choices=["exported", "imported", "copied"]),
    prefix=dict(type="str"),
    path=dict(type="path"),
    replace=dict(type="bool", default=False),
    source=dict(type="dict", options=dict(
        endpoints=dict(type="list", elements="str", required=True),
        ca_cert=dict(type="str", required=True),
        client_cert=dict(type="str", required=True),
        client_key=dict(type="str", required=True, no_log=True),
    )),
    target_prefix=dict(type="str"),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    if p["state"] == "exported":
        changed, info = export_prefix(client, p["prefix"], p["path"], module.check_mode)
    elif p["state"] == "imported":
        changed, info = import_prefix(client, p["path"], p["prefix"], p["replace"], module.check_mode)
    else:
        s = p["source"]
        source = Client(s["endpoints"], s["ca_cert"], s["client_cert"], s["client_key"], p["timeout"])
        try:
            changed, info = copy_prefix(source, client, p["prefix"], p["target_prefix"], module.check_mode)
        finally:
            source.close()
    return dict(changed=changed, **info)


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work, required_if=[("state", "exported", ("prefix", "path")),
                                                       ("state", "imported", ("path",)),
                                                       ("state", "copied", ("prefix", "source"))])


if __name__ == "__main__":
    main()
