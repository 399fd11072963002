# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Where a tenant's data lives, and its move from one etcd cluster to another.

A tenant names its datastore in its spec (``tenant.datastore``): an etcd cluster of the site,
by name. ``etcd`` is the shared etcd of the ``etcd`` group; another name is another inventory
group of etcd members (or an entry of ``tenant_control_plane_datastores``), reached the same
way: its members' client URLs, its CA and root credentials on its first member.

A tenant's record (``tenant.record``) names the datastore it was last applied on; a record
written before datastores existed names none and means ``etcd``. When the spec names another
datastore than the record, the tenants play moves the tenant (``Move``): its role on the old
datastore becomes read-only (the freeze), its prefix is copied to the new one and compared key by
key (``etcd_prefix state=copied``), its control plane is switched to the new one (its
Deployment's ``--etcd-servers`` and its etcd client certificate, issued by the new CA) and rolled
out behind the readiness gate; only then is the old copy purged and the move recorded. A move
whose control plane already points at the new datastore (a run stopped after the switch) is
never copied again: the new datastore may have taken writes since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.tenant import admin_objects
from ansible_collections.kamaji.core.plugins.module_utils.tenant import record as tenant_record
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

DEFAULT = "etcd"


class MoveError(Exception):
    """A datastore or move the site cannot carry out; the message starts with the field."""


@dataclass(frozen=True)
class Datastore:
    """An etcd cluster tenants may live on: its client URLs and the CA that signs their certificates."""

    name: str
    endpoints: tuple[str, ...]
    ca: Mapping[str, str]  # {"cert", "key"}


def from_params(datastores: Mapping[str, Mapping[str, Any]] | None, default_endpoints: Iterable[str],
                default_ca: Mapping[str, str]) -> dict[str, Datastore]:
    """The datastores of a batch by name: ``etcd`` is the default (its endpoints and CA), the others
    as given (``{name: {endpoints, ca: {cert, key}}}``; one named ``etcd`` replaces the default)."""
    out = {DEFAULT: Datastore(DEFAULT, tuple(default_endpoints), dict(default_ca))}
    for name, given in (datastores or {}).items():
        ca = given.get("ca") if isinstance(given, Mapping) else None
        endpoints = given.get("endpoints") if isinstance(given, Mapping) else None
        if (not isinstance(endpoints, list) or not endpoints or not all(isinstance(e, str) for e in endpoints)
                or not isinstance(ca, Mapping) or not all(isinstance(ca.get(k), str) for k in ("cert", "key"))):
            raise MoveError("datastores.%s: needs endpoints (the client URLs of its members) and ca (its CA's cert "
                            "and key, PEM)" % name)
        out[name] = Datastore(name, tuple(endpoints), {"cert": ca["cert"], "key": ca["key"]})
    return out


def names_in_use(raw_specs: Iterable[object], records: Iterable[Obj] = ()) -> list[str]:
    """The datastores a batch may reach: ``etcd``, those its specs name and those its tenants'
    records name (a tenant moving away from one still needs it), sorted."""
    names = {DEFAULT}
    for raw in raw_specs:
        if isinstance(raw, Mapping) and isinstance(raw.get("datastore"), str):
            names.add(raw["datastore"])
    for obj in records:
        name = recorded(obj)
        if name:
            names.add(name)
    return sorted(names)


def reach(names: Iterable[str], groups: Mapping[str, Iterable[str]], hostvars: Mapping[str, Any],
          configured: Mapping[str, Mapping[str, Any]], default: Mapping[str, Any], port: int = 2379,
          pki_dir: str | None = None, read: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, dict[str, Any]]:
    """How the controller reaches each named datastore: ``endpoints``, ``credentials_host`` (the
    member holding its CA and root credentials) and ``pki_dir``. ``etcd`` is ``default``; another
    name is its entry of ``configured`` (tenant_control_plane_datastores), its missing fields
    filled from the inventory group of that name (its members' client URLs, its first member),
    else that group alone. A name neither configured nor a group with members is left out (the
    tenants naming it are refused, naming the field).

    With ``read`` (per name, the files read from its credentials host: ``ca.crt``, ``ca.key``,
    ``root.crt``, ``root.key``), each entry also holds ``ca`` (``cert``, ``key``: signs its
    tenants' certificates) and ``connection`` (the etcd modules' options: ``endpoints``,
    ``ca_cert``, ``client_cert``, ``client_key``)."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        given = dict(configured.get(name) or {})
        if name == DEFAULT and not given:
            given = dict(default)
        members = list(groups.get(name) or [])
        if not given and not members:
            continue
        out[name] = {
            "endpoints": list(given.get("endpoints") or net.host_urls(members, hostvars, port)),
            "credentials_host": given.get("credentials_host") or (members[0] if members else None),
            "pki_dir": given.get("pki_dir") or pki_dir or default.get("pki_dir"),
        }
        if not out[name]["endpoints"] or not out[name]["credentials_host"]:
            del out[name]
            continue
        files = (read or {}).get(name)
        if files:
            out[name]["ca"] = {"cert": files["ca.crt"], "key": files["ca.key"]}
            out[name]["connection"] = {"endpoints": out[name]["endpoints"], "ca_cert": files["ca.crt"],
                                       "client_cert": files["root.crt"], "client_key": files["root.key"]}
    return out


def recorded(obj: Obj) -> str | None:
    """The datastore a tenant's record names (``etcd`` for a record from before datastores),
    None for an object that is no readable record."""
    if (obj.get("metadata") or {}).get("name") != tenant_record.NAME:
        return None
    try:
        _name, tenant = tenant_record.spec_from_record(obj)
    except tenant_record.RecordError:
        return None
    value = tenant.get("datastore", DEFAULT)
    return value if isinstance(value, str) else None


def _record_of(existing: Iterable[Obj], namespace: str) -> Obj | None:
    return next((o for o in existing if o.get("kind") == "ConfigMap"
                 and (o.get("metadata") or {}).get("namespace") == namespace
                 and (o.get("metadata") or {}).get("name") == tenant_record.NAME), None)


def held(spec: Mapping[str, Any], existing: Iterable[Obj]) -> str:
    """The datastore that holds the tenant's data: the one its record names, else its spec's."""
    record = _record_of(list(existing), spec["derived"]["namespace"])
    return (recorded(record) if record is not None else None) or spec["datastore"]


def serving_endpoints(existing: Iterable[Obj], namespace: str) -> tuple[str, ...] | None:
    """The etcd client URLs the tenant's control plane runs with (its kube-apiserver's
    ``--etcd-servers``); None without a Deployment."""
    container = admin_objects.deployed_apiserver(existing, namespace)
    if container is None:
        return None
    for arg in list(container.get("command") or []) + list(container.get("args") or []):
        if str(arg).startswith("--etcd-servers="):
            return tuple(str(arg).split("=", 1)[1].split(","))
    return ()


@dataclass(frozen=True)
class Move:
    """A tenant on its way from ``source`` to ``target``; ``switched``: its control plane runs on the
    target already (the copy is done and must not run again)."""

    name: str
    prefix: str
    user: str
    source: str
    target: str
    switched: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "prefix": self.prefix, "user": self.user, "source": self.source,
                "target": self.target, "switched": self.switched}


def resolve(spec: Mapping[str, Any], datastores: Mapping[str, Datastore]) -> Datastore:
    """The datastore the spec names; MoveError naming the field when the site has none of that name."""
    name = spec["datastore"]
    if name not in datastores:
        raise MoveError(
            "%s: %r is no datastore of this site: make it an inventory group of etcd members (deployed by the "
            "etcd playbook with -e kamaji_etcd_group=%s), or an entry of tenant_control_plane_datastores "
            "(known: %s)" % (tenant_spec.field("datastore"), name, name, ", ".join(sorted(datastores))))
    return datastores[name]


def move_of(spec: Mapping[str, Any], existing: Iterable[Obj], datastores: Mapping[str, Datastore],
            running: str | None) -> Move | None:
    """The move the spec asks for (None when the tenant stays where its record says, or is new);
    MoveError when it cannot be made."""
    existing = list(existing)
    namespace = spec["derived"]["namespace"]
    record = _record_of(existing, namespace)
    source = recorded(record) if record is not None else None
    target = spec["datastore"]
    if source is None or source == target:
        return None
    if source not in datastores:
        raise MoveError(
            "%s: %s moves from datastore %r, which this site no longer reaches: keep its inventory group (or its "
            "entry of tenant_control_plane_datastores) until the move is done" % (
                tenant_spec.field("datastore"), target, source))
    if running and running != spec["kubernetes_version"]:
        raise MoveError(
            "%s: %s and %s: %s in one run; move the tenant first, then its release (or the other way round)" % (
                tenant_spec.field("datastore"), target, tenant_spec.field("kubernetes_version"),
                spec["kubernetes_version"]))
    shared = set(datastores[source].endpoints) & set(datastores[target].endpoints)
    if shared:
        raise MoveError(
            "%s: %s and %s share the members %s: a move copies a tenant between two etcd clusters (then purges "
            "the old copy); point the datastores at their own members" % (
                tenant_spec.field("datastore"), source, target, ", ".join(sorted(shared))))
    serving = serving_endpoints(existing, namespace)
    switched = bool(serving) and serving == datastores[target].endpoints
    return Move(spec["name"], spec["derived"]["etcd_prefix"], spec["derived"]["etcd_user"], source, target, switched)
