# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tenant_datastores
short_description: How the controller reaches the etcd clusters a batch of tenants lives on
version_added: 0.2.0
description:
  - Returns, per datastore the input tenant hosts name in C(tenant.datastore) (and C(etcd), and
    the datastores their records in the admin cluster name, for tenants moving away from one), its
    C(endpoints) (client URLs), C(credentials_host) (the member holding its CA and root
    credentials) and C(pki_dir).
  - C(etcd) is O(default). Another name is its entry of O(configured), its missing fields taken
    from the inventory group of that name (its members' client URLs, its first member), else that
    group alone. A name neither configured nor a group with members is left out.
options:
  _input:
    description: Hosts of the C(tenants) group (this play's).
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) mapping.
    type: dict
    required: true
  groups:
    description: The C(groups) mapping.
    type: dict
    required: true
  records:
    description: The tenants' records read from the admin cluster (ConfigMaps C(kamaji-tenant-spec)); others are ignored.
    type: list
    elements: dict
    default: []
  configured:
    description: Datastores by name, as C(tenant_control_plane_datastores) sets them.
    type: dict
    default: {}
  default:
    description: The datastore C(etcd) (C(endpoints), C(credentials_host), C(pki_dir)).
    type: dict
    required: true
  read:
    description:
      - The results of reading each datastore's C(ca.crt), C(ca.key), C(root.crt) and C(root.key)
        (M(kamaji.core.read_files) looped over this filter's own output, C(item.key) the name).
      - With them, each datastore also holds C(ca) (C(cert), C(key)) and C(connection) (the etcd
        modules' C(endpoints), C(ca_cert), C(client_cert), C(client_key)). Both hold keys.
    type: list
    elements: dict
    default: []
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: The datastores of this batch
  ansible.builtin.debug:
    msg: >-
      {{ ansible_play_hosts_all | kamaji.core.tenant_datastores(hostvars, groups, [], {},
         {'endpoints': ['https://192.0.2.21:2379'], 'credentials_host': 'etcd-0', 'pki_dir': '/etc/kamaji/etcd/pki'}) }}
"""

RETURN = r"""
_value:
  description: Per datastore name, C(endpoints), C(credentials_host) and C(pki_dir).
  type: dict
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.tenant import datastore


def tenant_datastores(hosts: Iterable[str], hostvars: Mapping[str, Any], groups: Mapping[str, Any],
                      records: Iterable[Mapping[str, Any]] = (), configured: Mapping[str, Any] | None = None,
                      default: Mapping[str, Any] | None = None,
                      read: Iterable[Mapping[str, Any]] = ()) -> dict[str, dict[str, Any]]:
    specs = [hostvars[host].get("tenant") or {} for host in hosts]
    names = datastore.names_in_use(specs, records or [])
    files = {r["item"]["key"]: r["files"] for r in read or [] if r.get("files")}
    return datastore.reach(names, groups, hostvars, configured or {}, default or {}, read=files)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., dict[str, dict[str, Any]]]]:
        return {"tenant_datastores": tenant_datastores}
