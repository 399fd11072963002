# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The tenant pipeline for a batch of tenant hosts: spec -> PKI -> objects, and its policy.

For each tenant host, in host order: the spec is validated once (``tenant.spec``); the
tenant name must be unique in the batch; the Kubernetes version may move one minor at a
time and never down from what runs; the spec becomes the PKI set's parameters
(``pki_params``, the one mapping) and the PKI is reconciled with what the admin cluster's
Secrets hold (``pki.tenant_set.reconcile``: valid material is kept); then the objects are
rendered (``tenant.admin_objects``, ``tenant.bootstrap``), the tenant's record last
(``tenant.record``: the applied spec, for the inventory plugin). A tenant that breaks a rule gets
its message in ``errors`` and is left out; the others go on, so each tenant host can fail
alone before anything changes.

A tenant marked ``state: absent`` is planned for deletion instead (``_deletion``): its guard
``confirm_delete`` must repeat its name, and it must be a tenant of this admin cluster (its
namespace is there) or one this site began deleting (its name is in the ``deleted`` record the
role keeps, so a re-run after a delete, or after a delete that stopped half way, goes on
instead of failing). Everything a deletion removes is named after the tenant
(``tenant.names``), so it never reaches another tenant.

Then the batch-wide part: objects inside a tenant namespace that does not exist yet are
left out in check mode (they cannot be dry-run), and objects the admin cluster already
holds unchanged are left out so a no-op run sends nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.common import objects as k8s
from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki
from ansible_collections.kamaji.core.plugins.module_utils.tenant import admin_objects, bootstrap, datastore, encryption, record, secrets
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import Settings, Spec
from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

# The module options that are batch-wide settings of the renderers (tenant.spec.Settings).
SETTINGS = ("etcd_endpoints", "image_repository", "coredns_version", "node_selector", "tolerations",
            "priority_class", "cgroup_driver", "kubelet_config", "proxy_mode")
DEFAULT_KEY_ALGORITHM = "ecdsa-p256"
DEFAULT_RENEWAL_WINDOW_DAYS = 30


class TenantError(Exception):
    """One tenant breaks a rule; the message starts with the field (or ``pki:``)."""


@dataclass(frozen=True)
class Inputs:
    """What a batch is planned from (the tenant_control_plane module's options)."""

    tenants: Mapping[str, Any]  # inventory host -> the spec (the host's ``tenant`` dict plus ``name``)
    etcd_ca: Mapping[str, str]  # {"cert", "key"}: the default datastore's CA (signs tenants' etcd client certificates)
    settings: Settings
    existing: Mapping[str, list[Obj] | None] = field(default_factory=dict)  # objects read, by kind
    supported_minors: tuple[int, ...] = versions.SUPPORTED_MINORS
    admin_networks: tuple[str, ...] = ()
    key_algorithm: str = DEFAULT_KEY_ALGORITHM
    renewal_window_days: int = DEFAULT_RENEWAL_WINDOW_DAYS
    check_mode: bool = False
    deleted: Mapping[str, str] = field(default_factory=dict)  # tenant name -> when this site began deleting it
    # the etcd clusters tenants may live on, by name (tenant.datastore); none: the default only
    datastores: Mapping[str, datastore.Datastore] = field(default_factory=dict)

    def datastores_by_name(self) -> Mapping[str, datastore.Datastore]:
        return self.datastores or datastore.from_params(None, self.settings.get("etcd_endpoints") or [], self.etcd_ca)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], check_mode: bool = False) -> Inputs:
        settings = cast(Settings, {k: params[k] for k in SETTINGS if params.get(k) is not None})
        return cls(
            tenants=params["tenants"],
            etcd_ca=params["etcd_ca"],
            settings=settings,
            existing=params.get("existing_objects") or {},
            supported_minors=tuple(params.get("supported_minors") or versions.SUPPORTED_MINORS),
            admin_networks=tuple(params.get("admin_networks") or ()),
            key_algorithm=params.get("key_algorithm") or DEFAULT_KEY_ALGORITHM,
            renewal_window_days=(DEFAULT_RENEWAL_WINDOW_DAYS if params.get("renewal_window_days") is None
                                 else params["renewal_window_days"]),
            check_mode=check_mode,
            deleted=params.get("deleted_tenants") or {},
            datastores=datastore.from_params(params.get("datastores"), params["etcd_endpoints"], params["etcd_ca"]),
        )


@dataclass
class Plan:
    """A planned batch. ``tenants`` holds, per host of a valid tenant, what the module returns
    plus ``bootstrap_objects`` (the module writes them to a file)."""

    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    admin_objects: list[Obj] = field(default_factory=list)  # to apply, in order
    unchanged_objects: int = 0
    new_namespaces: list[str] = field(default_factory=list)
    etcd_tenants: list[dict[str, Any]] = field(default_factory=list)
    # per inventory host of a tenant marked absent: name, namespace, exists (its namespace is
    # still in the admin cluster); and the same tenants for etcd_tenant (state absent, purge)
    deletions: dict[str, dict[str, Any]] = field(default_factory=dict)
    etcd_deletions: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)  # datastore.Move.as_dict of each moving tenant
    etcd_by_datastore: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # etcd_tenants + etcd_deletions


# ------------------------------------------------------------------ policy

def deployed_version(objects: list[Obj], namespace: str) -> str | None:
    """Kubernetes version of the tenant's running control plane (its kube-apiserver image tag)."""
    container = admin_objects.deployed_apiserver(objects, namespace)
    return str(container.get("image", "")).rsplit(":", 1)[-1] if container else None


def version_step_error(running: str | None, wanted: str) -> str | None:
    """Upgrades move one minor at a time and never down (``upgrade.skew.step_error``)."""
    return skew.step_error(tenant_spec.field("kubernetes_version"), running, wanted, "tenant control planes")


def pki_params(spec: Spec, key_algorithm: str = DEFAULT_KEY_ALGORITHM,
               renewal_window_days: int = DEFAULT_RENEWAL_WINDOW_DAYS) -> dict[str, Any]:
    """The tenant PKI set's parameters (``pki.tenant_set.reconcile``) of a normalized spec."""
    return {
        "name": spec["name"],
        "endpoint": dict(spec["endpoint"]),
        # the API server listens on the endpoint's port inside its pod too
        "apiserver_bind_port": spec["endpoint"]["port"],
        "extra_sans": list(spec["extra_sans"]),
        "service_cidrs": [spec["service_cidr"]],
        "cluster_domain": spec["cluster_domain"],
        "key_algorithm": key_algorithm,
        "renewal_window_days": renewal_window_days,
        "etcd_user": spec["derived"]["etcd_user"],
    }


def reconcile_material(spec: Spec, existing: secrets.Material, etcd_ca: Mapping[str, str | None],
                       key_algorithm: str = DEFAULT_KEY_ALGORITHM, renewal_window_days: int = DEFAULT_RENEWAL_WINDOW_DAYS,
                       now: datetime.datetime | None = None) -> tuple[secrets.Material, dict[str, Any]]:
    """(material, changed items) of the tenant: its PKI set and its encryption configuration, kept when
    valid; pki.PKIError or encryption.EncryptionError otherwise."""
    existing = dict(existing)
    sealing = existing.pop(encryption.CONFIG_ITEM, None)
    material, changed, _diff = tenant_set.reconcile(
        pki_params(spec, key_algorithm, renewal_window_days), existing, dict(etcd_ca), now)
    material[encryption.CONFIG_ITEM], why = encryption.reconcile(
        sealing, spec["encrypt_resources"], spec.get("encryption_key_generation"),
        tenant_spec.field("encryption_key_generation"))
    if why:
        changed[encryption.CONFIG_ITEM] = why
    return material, changed


def reconcile_pki(spec: Spec, existing_secrets: Mapping[str, Mapping[str, str] | None], inputs: Inputs,
                  now: datetime.datetime | None = None,
                  etcd_ca: Mapping[str, str] | None = None) -> tuple[secrets.Material, dict[str, Any]]:
    """(material, changed items) of the tenant: what its Secrets hold, kept when valid (its etcd
    client certificate when ``etcd_ca``, its datastore's CA, issued it)."""
    try:
        return reconcile_material(spec, secrets.material_from_secrets(existing_secrets), etcd_ca or inputs.etcd_ca,
                                  inputs.key_algorithm, inputs.renewal_window_days, now)
    except (pki.PKIError, secrets.SecretError, encryption.EncryptionError) as exc:
        raise TenantError("pki: %s" % exc)
    except ValueError as exc:  # a key generation the stored keys refuse
        raise TenantError(str(exc))


def rotation(spec: Spec, material: secrets.Material, etcd_ca_pem: str, settings: Settings) -> list[dict[str, Any]]:
    """The stages of the tenant's key rotation still to apply after its objects (encryption.rotation_stages):
    each with the configuration's key names in order and the two objects that carry it (its
    kamaji-pki Secret and its control-plane Deployment, whose checksum rolls the replicas)."""
    out = []
    for stage, text in encryption.rotation_stages(material[encryption.CONFIG_ITEM], spec["encrypt_resources"],
                                                  spec["encryption_key_generation"]):
        objects = admin_objects.admin_objects(spec, {**material, encryption.CONFIG_ITEM: text}, etcd_ca_pem, settings)
        out.append({"stage": stage, "keys": [k["name"] for k in encryption.keys_of(text)],
                    "objects": [o for o in objects if (o["kind"], o["metadata"]["name"]) in
                                (("Secret", secrets.SECRET_PKI), ("Deployment", admin_objects.DEPLOYMENT))]})
    return out


# ------------------------------------------------------------------ the batch

def _spec(raw: object, inputs: Inputs) -> Spec:
    try:
        return tenant_spec.normalize(raw, inputs.supported_minors, inputs.admin_networks)
    except tenant_spec.SpecError as exc:
        raise TenantError(str(exc))


def _tenant(host: str, raw: object, inputs: Inputs, names: dict[str, str], existing: list[Obj],
            secrets_by_ns: Mapping[str, Mapping[str, Mapping[str, str]]],
            now: datetime.datetime | None) -> tuple[dict[str, Any], list[Obj]]:
    """One tenant host's result and admin objects; TenantError when it breaks a rule."""
    spec = _spec(raw, inputs)
    name, namespace = spec["name"], spec["derived"]["namespace"]
    if name in names:
        raise TenantError("name: %r is also the name of tenant host %s; tenant names must be unique"
                          % (name, names[name]))
    names[name] = host
    running = deployed_version(existing, namespace)
    step = version_step_error(running, spec["kubernetes_version"])
    if step:
        raise TenantError(step)
    if spec["write_freeze"] and running and running != spec["kubernetes_version"]:
        raise TenantError(
            "%s: %s would move a write-frozen tenant from %s; a control plane that moves writes to its datastore "
            "(its API server's own objects, the addons): set %s: false for the upgrade, or keep %s"
            % (tenant_spec.field("kubernetes_version"), spec["kubernetes_version"], running,
               tenant_spec.field("write_freeze"), running))
    try:
        store = datastore.resolve(spec, inputs.datastores_by_name())
        move = datastore.move_of(spec, existing, inputs.datastores_by_name(), running)
    except datastore.MoveError as exc:
        raise TenantError(str(exc))
    # the tenant's control plane reaches its datastore: its URLs, a client certificate of its CA
    settings = cast(Settings, {**inputs.settings, "etcd_endpoints": list(store.endpoints)})
    material, changed = reconcile_pki(spec, secrets_by_ns.get(namespace) or {}, inputs, now, store.ca)
    stages = rotation(spec, material, store.ca["cert"], settings)
    if stages and spec["write_freeze"]:
        raise TenantError(
            "%s: %s rotates the key of a write-frozen tenant; a rotation writes again what the old key sealed: "
            "set %s: false for it, or leave %s out" % (
                tenant_spec.field("encryption_key_generation"), spec["encryption_key_generation"],
                tenant_spec.field("write_freeze"), tenant_spec.field("encryption_key_generation")))
    result = {
        "spec": spec,
        "changed_items": changed,
        "bootstrap_objects": bootstrap.bootstrap_objects(spec, material, settings),
        "admin_kubeconfig": material["admin.conf"],
        "super_admin_kubeconfig": material["super-admin.conf"],
        "server": spec["derived"]["server"],
        "ca_cert_hash": material["ca_cert_hash"],
        "ca_cert": material["ca"]["cert"],
        "sealing_key": encryption.primary_key(material[encryption.CONFIG_ITEM]),
        "rotation": stages,
        "move": move.as_dict() if move else None,
    }
    objects = admin_objects.admin_objects(spec, material, store.ca["cert"], settings)
    if move:
        # a moving tenant's objects switch it to the new datastore: applied by the move, once its
        # prefix is copied there; its record only once the old copy is purged
        result["move_objects"], result["record_object"] = objects, record.record_object(spec)
        return result, []
    # the record last: it names what was applied once the objects before it are in
    return result, [*objects, record.record_object(spec)]


def _deletion(host: str, spec: Spec, inputs: Inputs, names: dict[str, str], have_ns: set[str],
              existing: list[Obj]) -> dict[str, Any]:
    """A tenant marked absent: guarded, and known to this site; TenantError otherwise."""
    name, namespace = spec["name"], spec["derived"]["namespace"]
    if name in names:
        raise TenantError("name: %r is also the name of tenant host %s; tenant names must be unique"
                          % (name, names[name]))
    names[name] = host
    if spec["confirm_delete"] != name:
        raise TenantError(
            "%s: set it to %r to delete tenant %s (state: absent removes its control plane, namespace, "
            "Secrets, etcd keys, etcd user and role, and its kubeconfig file, for good); it is %s; nothing "
            "has changed" % (tenant_spec.field("confirm_delete"), name, name,
                             "not set" if spec["confirm_delete"] is None else repr(spec["confirm_delete"])))
    exists = namespace in have_ns
    held = datastore.held(spec, existing)
    if held not in inputs.datastores_by_name():
        raise TenantError("%s: tenant %s lives on datastore %r, which this site does not reach: keep its inventory "
                          "group (or its entry of tenant_control_plane_datastores) to delete it"
                          % (tenant_spec.field("state"), name, held))
    if not exists and name not in inputs.deleted:
        raise TenantError(
            "%s: absent, but there is no tenant %s to delete: the admin cluster has no namespace %s and this "
            "site never deleted a tenant of that name; check the tenant's name (the inventory host, or "
            "tenant_name), or remove the host from the inventory" % (tenant_spec.field("state"), name, namespace))
    return {"name": name, "namespace": namespace, "exists": exists, "datastore": held,
            "etcd": {"name": name, "prefix": spec["derived"]["etcd_prefix"], "user": spec["derived"]["etcd_user"],
                     "state": "absent", "purge": True}}


def plan(inputs: Inputs, now: datetime.datetime | None = None) -> Plan:
    """Plan every tenant of the batch; a tenant breaking a rule lands in ``errors``, not in the objects."""
    existing = k8s.with_kind(inputs.existing)
    secrets_by_ns = secrets.secrets_by_namespace([o for o in existing if o["kind"] == "Secret"])
    have_ns = {str((o.get("metadata") or {}).get("name")) for o in existing if o.get("kind") == "Namespace"}
    out = Plan()
    names: dict[str, str] = {}
    wanted: list[Obj] = []
    for host in sorted(inputs.tenants):
        raw = inputs.tenants[host]
        try:
            if tenant_spec.state(raw) == "absent":
                out.deletions[host] = _deletion(host, _spec(raw, inputs), inputs, names, have_ns, existing)
                continue
            out.tenants[host], objects = _tenant(host, raw, inputs, names, existing, secrets_by_ns, now)
        except TenantError as exc:
            out.errors[host] = str(exc)
            continue
        wanted.extend(objects)

    out.new_namespaces = sorted({o["metadata"]["name"] for o in wanted if o["kind"] == "Namespace"} - have_ns)
    if inputs.check_mode:
        wanted = [o for o in wanted if o["metadata"].get("namespace", o["metadata"]["name"]) not in out.new_namespaces]
    out.admin_objects, out.unchanged_objects = k8s.unchanged(wanted, existing)
    for tenant in out.tenants.values():
        tenant["new_namespace"] = tenant["spec"]["derived"]["namespace"] in out.new_namespaces
    out.moves = [t["move"] for t in out.tenants.values() if t["move"]]
    out.etcd_tenants = [{"name": t["spec"]["name"], "prefix": t["spec"]["derived"]["etcd_prefix"],
                         "user": t["spec"]["derived"]["etcd_user"],
                         "permission": "read" if t["spec"]["write_freeze"] else "readwrite",
                         "quota_bytes": t["spec"]["derived"]["quota_bytes"],
                         # what its key does not seal yet is written again once its API serves
                         "sealed_with": {"key": t["sealing_key"], "resources": t["spec"]["encrypt_resources"]}}
                        for t in out.tenants.values()]
    out.etcd_deletions = [d.pop("etcd") for d in out.deletions.values()]
    # the same entries by the datastore that holds each tenant (the role calls etcd_tenant once per datastore)
    where = {t["spec"]["name"]: t["spec"]["datastore"] for t in out.tenants.values()}
    where.update({d["name"]: d["datastore"] for d in out.deletions.values()})
    for entry in out.etcd_tenants + out.etcd_deletions:
        out.etcd_by_datastore.setdefault(where[entry["name"]], []).append(entry)
    return out
