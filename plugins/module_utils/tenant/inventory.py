# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The live fleet as inventory: tenants' records (``tenant.record``) -> hosts, groups, variables.

The ``kamaji.core.tenants`` inventory plugin reads the records from the admin cluster and
hands them here with what the inventory already holds; nothing here talks to a cluster or
to Ansible. Two cases:

- No earlier inventory source defined a ``tenants`` group: the admin cluster is the fleet.
  Each recorded tenant becomes a host named after it, in ``tenants``, with its ``tenant`` dict
  (the recorded spec, in the inventory's form), so the tenants play can run on it.
- An earlier source (a static inventory) defined ``tenants``: that is the fleet. A recorded
  tenant it names (by host, or ``tenant_name``) keeps the inventory's ``tenant`` dict (the wish
  wins over the record) and gets the record beside it. A recorded tenant it does not name is
  *orphaned*: a host named after it, in group ``orphaned`` and never in ``tenants``, so a run
  on ``tenants`` (a site run) cannot act on it by accident.

Every tenant host the records reach gets ``kamaji_tenant_recorded`` (the recorded spec) and
``kamaji_tenant_orphaned``, and joins ``kamaji_version_v1_<minor>`` and
``kamaji_state_<state>`` by its record (what was applied, not what the inventory wants).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.tenant import names, record
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec
from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

FLEET_GROUP = "tenants"
ORPHANED_GROUP = "orphaned"
VERSION_GROUP = "kamaji_version_v%d_%d"  # major, minor
STATE_GROUP = "kamaji_state_%s"
ORPHANED_VAR = "kamaji_tenant_orphaned"
RECORDED_VAR = "kamaji_tenant_recorded"


@dataclass
class Fleet:
    """What to add to the inventory: host -> variables to set, group -> hosts, and warnings."""

    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, host: str, variables: dict[str, Any], groups: Iterable[str]) -> None:
        self.hosts[host] = variables
        for group in groups:
            self.groups.setdefault(group, []).append(host)


def inventory_tenants(hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Tenant name -> inventory host, for the hosts of the ``tenants`` group (host -> its
    variables; a host stands for the tenant its ``tenant_name`` names, else for itself)."""
    return {tenant_spec.tenant_name(host, hostvars): host for host, hostvars in hosts.items()}


def groups_of(tenant: Mapping[str, Any]) -> list[str]:
    """The version and state groups of a recorded ``tenant`` dict."""
    parsed = skew.parse(tenant.get("kubernetes_version"))
    out = [VERSION_GROUP % parsed[:2]] if parsed else []
    return out + [STATE_GROUP % tenant.get("state", "present")]


def fleet(records: Iterable[Obj], inventory: Mapping[str, str] | None, taken: Iterable[str] = ()) -> Fleet:
    """The inventory additions of the tenants ``records`` (as read from the admin cluster).

    ``inventory``: tenant name -> host of the ``tenants`` group an earlier source defined
    (``inventory_tenants``), or None when no source defined that group. ``taken``: every host
    already in the inventory. A record that cannot be read is skipped with a warning naming its
    namespace; so is an orphan whose name is already a host outside ``tenants``."""
    out = Fleet()
    taken = set(taken)
    decoded = []
    for obj in records:
        try:
            decoded.append(record.spec_from_record(obj))
        except record.RecordError as exc:
            out.warnings.append("tenant record %s; skipped" % exc)
    for name, tenant in sorted(decoded, key=lambda item: item[0]):
        recorded = {RECORDED_VAR: tenant}
        groups = groups_of(tenant)
        if inventory is None:
            out.add(name, {**recorded, "tenant": copy.deepcopy(tenant), ORPHANED_VAR: False,
                           "ansible_connection": "local"}, [FLEET_GROUP, *groups])
        elif name in inventory:
            # the inventory's own `tenant` dict stays: what it wants wins over what was applied
            out.add(inventory[name], {**recorded, ORPHANED_VAR: False}, groups)
        elif name in taken:
            out.warnings.append(
                "tenant %s (namespace %s) is in the admin cluster, not in the %s group, and its name is already "
                "an inventory host outside %s; not added (rename that host, or add the tenant to %s)"
                % (name, names.namespace(name), FLEET_GROUP, FLEET_GROUP, FLEET_GROUP))
        else:
            out.add(name, {**recorded, "tenant": copy.deepcopy(tenant), ORPHANED_VAR: True,
                           "ansible_connection": "local"}, [ORPHANED_GROUP, *groups])
    return out
