#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tenant_backup
short_description: Back up one tenant into an archive of its own, or restore it from one
version_added: 0.1.0
description:
  - O(state=created) reads every key under the tenant's etcd prefix (with the order etcd wrote
    them in) and writes, into O(dir), one archive holding them, the tenant's spec (O(spec)) and
    its Namespace and Secrets in the admin cluster (O(objects)), sealed with the operator's backup key
    (O(backup_key), AES-256-GCM). Archives of the tenant beyond the O(keep) newest in O(dir) are
    removed. Each run makes a new archive (changed).
  - O(state=restored) reads the archive O(path), checks every member against its manifest and
    opens its Secrets with O(backup_key) before anything changes, then writes the tenant's keys
    back under its prefix in their order and returns its Namespace and Secrets (RV(objects)) for the
    caller to apply in the admin cluster. A prefix that holds keys is refused unless O(overwrite=true)
    (then the keys the archive does not hold are deleted).
  - The archive's etcd values stay as etcd held them (Secrets sealed by the tenant's encryption
    key); the key itself is in the sealed Secrets. Without the backup key nothing in it reads
    in the clear.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
  - kamaji.core.etcd
options:
  state:
    description: Make an archive, or restore the tenant from one.
    type: str
    choices: [created, restored]
    default: created
  name:
    description: The tenant's name (its etcd prefix is C(/<name>/)). A restore refuses an archive of another tenant.
    type: str
    required: true
  backup_key:
    description:
      - 32 random bytes, base64-encoded (C(head -c 32 /dev/urandom | base64)); the same key opens
        the archive again. Another size is refused before anything is read.
    type: str
    required: true
  objects:
    description:
      - With O(state=created), the tenant's Namespace and Secrets as read from the admin cluster;
        each is kept with its kind, name, namespace, labels, type and data (what the API server
        fills in, such as its uid and resourceVersion, is left out). They hold the tenant's keys,
        so set C(no_log) on the task.
    type: list
    elements: dict
  spec:
    description: With O(state=created), the tenant's applied spec (its record), kept in the archive as it is.
    type: dict
  dir:
    description: With O(state=created), the directory the archive is written to (it must exist).
    type: path
  keep:
    description: With O(state=created), how many archives of this tenant O(dir) keeps (the newest); C(0) keeps them all.
    type: int
    default: 7
  path:
    description:
      - With O(state=restored), the archive, or a directory (then the newest archive of the tenant in it).
    type: path
  overwrite:
    description:
      - With O(state=restored), restore over a prefix that holds keys (a live tenant, or what is
        left of one); this is the guard. Without it such a prefix is refused and nothing changes.
    type: bool
    default: false
requirements:
  - cryptography
"""

EXAMPLES = r"""
- name: Back up tenant acme into /var/backups/kamaji/tenants, keeping 7
  kamaji.core.tenant_backup:
    name: acme
    backup_key: "{{ vault_kamaji_backup_key }}"
    objects: "{{ acme_namespace_and_secrets }}"
    spec: "{{ acme_spec }}"
    dir: /var/backups/kamaji/tenants
  no_log: true

- name: Restore it (its prefix is empty)
  kamaji.core.tenant_backup:
    state: restored
    name: acme
    backup_key: "{{ vault_kamaji_backup_key }}"
    path: /var/backups/kamaji/tenants  # its newest archive there
  register: restored
  no_log: true
"""

RETURN = r"""
path:
  description: The archive written (or, with O(state=restored), read).
  returned: always
  type: str
sha256:
  description: The archive's sha256.
  returned: with O(state=created), unless in check mode
  type: str
keys:
  description: Keys under the tenant's prefix in the archive.
  returned: always
  type: int
bytes:
  description: Bytes of those keys and values.
  returned: always
  type: int
revision:
  description: The etcd revision the keys were read at.
  returned: always
  type: int
created:
  description: When the archive was made (UTC, ISO 8601).
  returned: always
  type: str
removed:
  description: Archives of the tenant removed from O(dir) by O(keep).
  returned: with O(state=created)
  type: list
  elements: str
written:
  description: Keys written back by the restore.
  returned: with O(state=restored)
  type: int
deleted:
  description: Keys under the prefix the archive does not hold, deleted (O(overwrite=true)).
  returned: with O(state=restored)
  type: int
objects:
  description: The tenant's Namespace and Secrets from the archive, to apply as they are; contains keys.
  returned: with O(state=restored)
  type: list
  elements: dict
spec:
  description: The tenant's spec from the archive.
  returned: with O(state=restored)
  type: dict
"""

import os
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common.deps import require
from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.names import tenant_names
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError
from ansible_collections.kamaji.core.plugins.module_utils.tenant import backup

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    state=dict(type="str", default="created", choices=["created", "restored"]),
    name=dict(type="str", required=True),
    backup_key=dict(type="str", required=True, no_log=True),
    # holds keys: the task is no_log (an option-level no_log would mask every short value in the output)
    objects=dict(type="list", elements="dict"),
    spec=dict(type="dict"),
    dir=dict(type="path"),
    keep=dict(type="int", default=7),
    path=dict(type="path"),
    overwrite=dict(type="bool", default=False),
)


def validate(module: Any) -> None:
    """Bad input fails here, before etcd is contacted."""
    p = module.params
    require(module, backup.AEAD)
    tenant_names(p["name"])
    try:
        backup.check_key(p["backup_key"], "backup_key")
    except backup.BackupError as exc:
        raise EtcdError(str(exc))
    if p["state"] == "created":
        if not p["dir"] or not os.path.isdir(p["dir"]):
            raise EtcdError("dir: %r is not a directory on %s (create it first)" % (p["dir"], os.uname()[1]))
        if p["keep"] < 0:
            raise EtcdError("keep: %d must be 0 (keep every archive) or more" % p["keep"])
        if not any(o.get("kind") == "Secret" for o in p["objects"] or []):
            raise EtcdError("objects: the tenant's Secrets are required (a backup without its CA and keys "
                            "cannot bring the tenant back)")
    elif not p["path"]:
        raise EtcdError("path: the archive to restore is required")


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    try:
        if p["state"] == "created":
            return backup.create(client, p["name"], p["backup_key"], p["objects"], p["spec"], p["dir"], p["keep"],
                                 module.check_mode)
        return backup.restore(client, p["name"], p["backup_key"], p["path"], p["overwrite"], module.check_mode)
    except backup.BackupError as exc:
        raise EtcdError(str(exc))


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work, validate)


if __name__ == "__main__":
    main()
