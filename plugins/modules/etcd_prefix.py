#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_prefix
short_description: Export or import every key under one prefix (per-tenant backup and move)
version_added: 0.1.0
description:
  - O(state=exported) writes every key and value under O(prefix) to a file on the host that
    runs the module; the file is only rewritten when the data differs.
  - O(state=imported) loads such a file under O(prefix) (default the exported prefix), so a
    tenant can be restored, renamed, or moved to another etcd cluster. Only keys whose value
    differs are written; with O(replace=true) keys under the prefix that are not in the file
    are deleted.
  - The file holds the tenant's data unencrypted; it is written with mode 0600.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
  - kamaji.core.etcd
options:
  state:
    description: Export to O(path) or import from it.
    type: str
    choices: [exported, imported]
    default: exported
  prefix:
    description:
      - The key prefix, with leading and trailing slash (a tenant's is C(/<name>/)).
      - Required for O(state=exported); for O(state=imported) the exported prefix by default.
    type: str
  path:
    description: The export file.
    type: path
    required: true
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
  description: Digest of the exported data lines.
  returned: when exported
  type: str
written:
  description: Keys written by the import.
  returned: when imported
  type: int
deleted:
  description: Keys deleted by the import (O(replace=true)).
  returned: when imported
  type: int
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.dump import export_prefix, import_prefix

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    state=dict(type="str", default="exported", choices=["exported", "imported"]),
    prefix=dict(type="str"),
    path=dict(type="path", required=True),
    replace=dict(type="bool", default=False),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    if p["state"] == "exported":
        changed, info = export_prefix(client, p["prefix"], p["path"], module.check_mode)
    else:
        changed, info = import_prefix(client, p["path"], p["prefix"], p["replace"], module.check_mode)
    return dict(changed=changed, **info)


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work, required_if=[("state", "exported", ("prefix",))])


if __name__ == "__main__":
    main()
