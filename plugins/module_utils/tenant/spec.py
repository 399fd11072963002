# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The tenant spec: defaults, validation and derived values.

A tenant is a host of the ``tenants`` group; its host variable ``tenant`` (one dict) is
the spec, and the tenant is named by its host (or the ``tenant_name`` host variable).
``normalize`` fills the defaults (an endpoint is enough for a working tenant), checks every
field and returns the complete spec plus what the roles derive from it. Every error names
the field as the inventory spells it (``tenant.endpoint.port``) and the fix, and is raised
before anything changes anywhere; an unknown key also names the nearest known one.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.tenant import encryption, names
from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

# A normalized spec (``normalize``'s result): the fields below, filled, plus ``name`` and ``derived``.
Spec = dict[str, Any]

ROOT = "tenant"  # the host variable holding the spec; error fields are paths from it
SERVICE_TYPES = ("NodePort", "LoadBalancer", "ClusterIP")
COMPONENTS = ("apiserver", "controller_manager", "scheduler")
RESOURCE_KINDS = ("requests", "limits")
RESOURCES = ("cpu", "memory")
ENDPOINT_FIELDS = ("address", "port")
DEFAULT_PORT = 6443
NODE_PORTS = (30000, 32767)
QUANTITY_RE = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
BYTE_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
              "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
PLUGIN_RE = re.compile(r"^[A-Z][A-Za-z0-9]+$")
FLAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# an inventory group name (Ansible's rule: letters, digits and underscores, not a digit first)
DATASTORE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Flags the role sets itself: overriding them would break isolation or the pod layout.
MANAGED_FLAGS = {
    "apiserver": {"etcd-servers", "etcd-prefix", "etcd-cafile", "etcd-certfile", "etcd-keyfile",
                  "etcd-compaction-interval", "client-ca-file", "tls-cert-file", "tls-private-key-file",
                  "service-account-key-file", "service-account-signing-key-file", "secure-port",
                  "service-cluster-ip-range", "enable-bootstrap-token-auth", "authorization-mode",
                  "encryption-provider-config"},
    "controller_manager": {"kubeconfig", "service-account-private-key-file", "root-ca-file",
                           "cluster-signing-cert-file", "cluster-signing-key-file", "cluster-cidr",
                           "service-cluster-ip-range", "controllers"},
    "scheduler": {"kubeconfig"},
}
# Size profiles (tenant.size): the Go runtime's settings and the resource requests of each
# component, chosen from tools/bench/tenant_memory.py's figures (docs/performance.md).
# standard: the runtime as upstream ships it, requests for a busy tenant. small: the heap
# collected at half the growth (GOGC=50: an idle apiserver holds about 37 MiB less of its own
# memory, at no idle CPU measured; more GC work under load), requests near an idle tenant's own
# memory, so an admin worker packs more of them. A tenant's own resources win over its profile's.
SIZES: dict[str, dict[str, Any]] = {
    "standard": {
        "go": {},
        "resources": {
            "apiserver": {"requests": {"cpu": "100m", "memory": "320Mi"}},
            "controller_manager": {"requests": {"cpu": "50m", "memory": "128Mi"}},
            "scheduler": {"requests": {"cpu": "20m", "memory": "64Mi"}},
        },
    },
    "small": {
        "go": {component: {"GOGC": "50"} for component in COMPONENTS},
        "resources": {
            "apiserver": {"requests": {"cpu": "50m", "memory": "192Mi"}},
            "controller_manager": {"requests": {"cpu": "20m", "memory": "64Mi"}},
            "scheduler": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        },
    },
}
# With a memory limit, the Go runtime collects harder as the heap nears this share of it
# (GOMEMLIMIT) rather than the container being killed at the limit.
GO_MEMORY_LIMIT_SHARE = 0.9
DEFAULTS: dict[str, Any] = {
    "kubernetes_version": versions.KUBERNETES,
    "replicas": 2,
    "service_type": "NodePort",
    "extra_sans": [],
    "service_cidr": "10.96.0.0/16",
    "pod_cidr": "10.244.0.0/16",
    "cluster_domain": "cluster.local",
    "admission_plugins": [],
    "extra_args": {},
    # the size profile: the Go runtime's settings and the default resources (SIZES)
    "size": "standard",
    "resources": SIZES["standard"]["resources"],
    "addons": {"coredns": True, "kube_proxy": True},
    # read-only at the datastore: the tenant's etcd role may read its prefix, not write it
    "write_freeze": False,
    # bytes of keys and values under the tenant's etcd prefix; over it, the tenant is write-frozen
    "storage_quota": None,
    # sealed in etcd with the tenant's own key (tenant.encrypt_resources)
    "encrypt_resources": list(encryption.DEFAULT_RESOURCES),
    # N: the tenant's key key-N seals; raise it by one to rotate the key (none: keep the one that seals)
    "encryption_key_generation": None,
    # the etcd cluster that holds the tenant's prefix: an inventory group of etcd members; another
    # group than the one the tenant runs on moves it there (freeze, copy, verify, switch, unfreeze)
    "datastore": "etcd",
}
# A tenant's life in the inventory: ``state: absent`` deletes it, and only when
# ``confirm_delete`` repeats its name (the guard: a variable, never a prompt).
STATES = ("present", "absent")
LIFECYCLE_FIELDS = ("state", "confirm_delete")
# The keys of the ``tenant`` dict. ``name`` is not one: the host (or tenant_name) names the tenant.
FIELDS = tuple(sorted(set(DEFAULTS) | {"endpoint", "dns_service_ip"} | set(LIFECYCLE_FIELDS)))
ADDONS = tuple(DEFAULTS["addons"])
DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"


class SpecError(Exception):
    """Invalid tenant spec; the message starts with the field."""


class Settings(TypedDict, total=False):
    """Batch-wide settings the role passes (the same for every tenant); the renderers read them."""

    etcd_endpoints: list[str]
    image_repository: str
    coredns_version: str
    coredns_replicas: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    priority_class: str | None
    cgroup_driver: str
    kubelet_config: dict[str, Any]
    proxy_mode: str


def field(*path: str) -> str:
    """The inventory path of a spec field: ``field('endpoint', 'port')`` -> ``tenant.endpoint.port``."""
    return ".".join((ROOT,) + path)


def check_keys(given: Iterable[object], known: Iterable[str], path: str, what: str = "field") -> None:
    """Fail on the first key of ``given`` not in ``known``, naming it and the nearest known key."""
    known = sorted(known)
    for key in sorted(given, key=str):
        if key in known:
            continue
        near = difflib.get_close_matches(str(key), known, n=1)
        hint = "did you mean %s? " % near[0] if near else ""
        raise SpecError("%s.%s: unknown %s; %sknown %ss: %s" % (path, key, what, hint, what, ", ".join(known)))


def _mapping(value: object, path: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError("%s: %r must be a mapping" % (path, value))
    return value


def check_all_keys(raw: Mapping[str, Any]) -> None:
    """Every level of the spec holds only known keys (checked before any value)."""
    check_keys(set(raw) - {"name"}, FIELDS, ROOT)
    check_keys(_mapping(raw.get("endpoint"), field("endpoint")), ENDPOINT_FIELDS, field("endpoint"))
    check_keys(_mapping(raw.get("addons"), field("addons")), ADDONS, field("addons"), "addon")
    extra_args = _mapping(raw.get("extra_args"), field("extra_args"))
    check_keys(extra_args, COMPONENTS, field("extra_args"), "component")
    resources = _mapping(raw.get("resources"), field("resources"))
    check_keys(resources, COMPONENTS, field("resources"), "component")
    for component, res in resources.items():
        path = field("resources", component)
        res = _mapping(res, path)
        check_keys(res, RESOURCE_KINDS, path, "kind")
        for kind, values in res.items():
            check_keys(_mapping(values, "%s.%s" % (path, kind)), RESOURCES, "%s.%s" % (path, kind), "resource")


def _quantity(value: object, path: str) -> str:
    if isinstance(value, bool) or not QUANTITY_RE.match(str(value)):
        raise SpecError("%s: %r is not a Kubernetes quantity (e.g. 100m, 320Mi, 1)" % (path, value))
    return str(value)


def quantity_bytes(value: object) -> int:
    """A Kubernetes quantity of bytes (``512Mi``, ``2G``, a number) in bytes; 0 when it is not one."""
    match = QUANTITY_RE.match(str(value))
    if isinstance(value, bool) or not match or (match.group(3) or "") not in BYTE_UNITS:
        return 0
    return int(float(match.group(1)) * BYTE_UNITS[match.group(3) or ""])


def quota_bytes(value: object, path: str) -> int | None:
    """A storage quota (``512Mi``, ``2G``, or a number of bytes) in bytes; None: no quota."""
    if value is None:
        return None
    size = quantity_bytes(value)
    if size < 1:
        raise SpecError("%s: %r is not a size in bytes (e.g. 512Mi, 2Gi, or a number of bytes)" % (path, value))
    return size


def tenant_name(host: str, hostvars: Mapping[str, Any]) -> str:
    """The name of the tenant an inventory host of ``tenants`` stands for: its ``tenant_name``
    host variable, else the host's name (``hostvars``: that host's variables)."""
    return str(hostvars.get("tenant_name") or host)


def in_inventory(name: str, hostvars: Mapping[str, Any], hosts: Iterable[str]) -> Mapping[str, Any] | None:
    """The raw spec (the host's ``tenant`` dict) of the tenant named ``name`` among the ``tenants``
    hosts (``tenant_name``). None when absent."""
    for host in hosts:
        hv = hostvars[host]
        if tenant_name(host, hv) == name:
            return hv.get("tenant") or {}
    return None


def state(raw: object) -> str:
    """The lifecycle state a raw (not yet normalized) spec asks for; its value is checked by ``normalize``."""
    if isinstance(raw, Mapping) and raw.get("state") is not None:
        return str(raw["state"])
    return "present"


def derived_names(name: str) -> dict[str, str]:
    """Everything named after the tenant (``tenant.names``): what a delete removes, too."""
    return {
        "namespace": names.namespace(name),
        "etcd_prefix": names.etcd_prefix(name),
        "etcd_user": names.etcd_user(name),
        "apiserver_etcd_prefix": names.apiserver_etcd_prefix(name),
    }


def _deletion(raw: Mapping[str, Any]) -> Spec:
    """The spec of a tenant marked ``state: absent``: its name and guard. Its other fields are
    not checked (a tenant on a release no longer supported can still be deleted)."""
    name = names.validate_name(raw.get("name"), "name", SpecError)
    # (its datastore is where to purge it when it has no record left to say so)
    return {"name": name, "state": "absent", "confirm_delete": raw.get("confirm_delete"),
            "datastore": str(raw.get("datastore") or DEFAULTS["datastore"]), "derived": derived_names(name)}


def kubernetes_version(raw: Mapping[str, Any]) -> str:
    """The Kubernetes version of a raw (not yet normalized) spec, with its default."""
    return str(raw.get("kubernetes_version") or DEFAULTS["kubernetes_version"])


def check_version(version: object, supported_minors: Iterable[int]) -> str:
    """``version`` as v1.<minor>.<patch> with a supported minor."""
    supported = tuple(supported_minors)
    parsed = skew.parse(version)
    if parsed is None or parsed[0] != 1:
        raise SpecError("%s: %r must look like %s" % (field("kubernetes_version"), version, versions.KUBERNETES))
    if parsed[1] not in supported:
        raise SpecError("%s: %s is not supported; supported minors are %s" % (
            field("kubernetes_version"), version, ", ".join("1.%d" % m for m in supported)))
    return str(version)


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` over ``defaults``, nested mappings merged; a null value (YAML ``key:``) keeps the default."""
    out = dict(defaults)
    for key, value in (given or {}).items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _endpoint(spec: Spec) -> dict[str, Any]:
    endpoint = spec.get("endpoint")
    if not isinstance(endpoint, Mapping) or not endpoint.get("address"):
        raise SpecError("%s: required: the address workers and users reach the tenant API at "
                        "(an admin worker's address for NodePort, the load balancer's otherwise)"
                        % field("endpoint", "address"))
    address = net.host(endpoint["address"], field("endpoint", "address"), error=SpecError)
    port = net.port(endpoint.get("port", DEFAULT_PORT), field("endpoint", "port"), error=SpecError)
    low, high = NODE_PORTS
    if spec["service_type"] == "NodePort" and not low <= port <= high:
        raise SpecError("%s: %d is outside the NodePort range %d-%d (service_type NodePort)"
                        % (field("endpoint", "port"), port, low, high))
    return {"address": address, "port": port}


def _networks(spec: Spec, admin_networks: Iterable[object]) -> tuple[net.IPNetwork, str]:
    """The service network and the DNS Service IP, after every network rule."""
    service = net.network(spec["service_cidr"], field("service_cidr"), error=SpecError)
    pods = net.network(spec["pod_cidr"], field("pod_cidr"), error=SpecError)
    if service.overlaps(pods):
        raise SpecError("%s: %s overlaps service_cidr %s; give them disjoint networks" % (field("pod_cidr"), pods, service))
    if service.num_addresses < 16:
        raise SpecError("%s: %s is too small (fewer than 16 addresses)" % (field("service_cidr"), service))
    for admin in admin_networks:
        admin_net = net.network(admin, "admin network", error=SpecError)
        for name, network in (("service_cidr", service), ("pod_cidr", pods)):
            if network.overlaps(admin_net):
                raise SpecError("%s: %s overlaps the admin cluster's network %s; tenant workers could not "
                                "reach the admin cluster" % (field(name), network, admin_net))
    dns_ip = spec.get("dns_service_ip") or str(service.network_address + 10)
    dns = net.ip(dns_ip)
    if dns is None:
        raise SpecError("%s: %r is not an IP address" % (field("dns_service_ip"), dns_ip))
    if dns not in service or dns == service.network_address + 1:
        raise SpecError("%s: %s must be inside service_cidr %s and not its first address "
                        "(the kubernetes Service)" % (field("dns_service_ip"), dns, service))
    return service, str(dns)


def _extra_args(spec: Spec) -> None:
    for component, args in spec["extra_args"].items():
        for flag in _mapping(args, field("extra_args", component)):
            bare = str(flag).lstrip("-")
            if not FLAG_RE.match(bare):
                raise SpecError("%s: %r is not a flag name" % (field("extra_args", component), flag))
            if bare in MANAGED_FLAGS[component]:
                raise SpecError("%s: set by kamaji.core itself (isolation and wiring depend on it); remove it"
                                % field("extra_args", component, bare))


def _resources(spec: Spec) -> None:
    for component, res in spec["resources"].items():
        for kind, values in (res or {}).items():
            for resource, qty in (values or {}).items():
                _quantity(qty, field("resources", component, kind, resource))
        limit = ((res or {}).get("limits") or {}).get("memory")
        if limit is not None and quantity_bytes(limit) < 1:
            path = field("resources", component, "limits", "memory")
            raise SpecError("%s: %r is not a size in bytes (e.g. 512Mi)" % (path, limit))


def go_runtime_env(spec: Spec, component: str) -> dict[str, str]:
    """The Go runtime's environment of ``component`` (apiserver, controller_manager, scheduler):
    its size profile's settings, and GOMEMLIMIT at ``GO_MEMORY_LIMIT_SHARE`` of its memory limit
    when it has one."""
    env = dict(SIZES[spec["size"]]["go"].get(component, {}))
    limit = ((spec["resources"].get(component) or {}).get("limits") or {}).get("memory")
    if limit is not None:
        env["GOMEMLIMIT"] = "%dMiB" % (quantity_bytes(limit) * GO_MEMORY_LIMIT_SHARE // 2**20)
    return env


def inventory_form(spec: Spec) -> dict[str, Any]:
    """The ``tenant`` dict of a normalized spec of a tenant that stays, as an inventory would
    write it: every field filled and ``state: present`` (``normalize`` of it, with the name,
    gives ``spec`` back), without ``name`` (the host names the tenant) and ``derived`` (computed
    again from the rest). A copy: nothing in it is shared with ``spec``."""
    out = {key: copy.deepcopy(value) for key, value in spec.items() if key in FIELDS and key not in LIFECYCLE_FIELDS}
    out["state"] = "present"
    return out


def normalize(raw: object, supported_minors: Iterable[int] = versions.SUPPORTED_MINORS,
              admin_networks: Iterable[object] = ()) -> Spec:
    """Return the complete, validated spec (``raw``: the ``tenant`` dict plus ``name``) with
    derived values; raise SpecError."""
    if not isinstance(raw, Mapping):
        raise SpecError("%s: must be a mapping of tenant fields (%s)" % (ROOT, ", ".join(FIELDS)))
    check_all_keys(raw)
    wanted = state(raw)
    if wanted not in STATES:
        raise SpecError("%s: %r must be present or absent (absent deletes the tenant, with %s)"
                        % (field("state"), raw.get("state"), field("confirm_delete")))
    if wanted == "absent":
        return _deletion(raw)
    if raw.get("confirm_delete") is not None:
        raise SpecError("%s: only read with %s: absent; remove it from a tenant that stays (a guard "
                        "left in place would let a later state: absent delete at once)"
                        % (field("confirm_delete"), field("state")))
    spec = _merge(DEFAULTS, {k: v for k, v in raw.items() if k not in LIFECYCLE_FIELDS})
    if not isinstance(spec["size"], str) or spec["size"] not in SIZES:
        raise SpecError("%s: %r must be one of %s (the Go runtime's settings and resource requests of the control "
                        "plane, docs/tenant-spec.md)" % (field("size"), spec["size"], ", ".join(sorted(SIZES))))
    spec["resources"] = _merge(SIZES[spec["size"]]["resources"], _mapping(raw.get("resources"), field("resources")))

    name = names.validate_name(spec.get("name"), "name", SpecError)
    version = check_version(spec["kubernetes_version"], supported_minors)

    replicas = spec["replicas"]
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise SpecError("%s: %r must be an integer >= 0 (0 keeps the tenant's state and stops its "
                        "control plane)" % (field("replicas"), replicas))
    if spec["service_type"] not in SERVICE_TYPES:
        raise SpecError("%s: %r must be one of %s" % (field("service_type"), spec["service_type"], ", ".join(SERVICE_TYPES)))
    endpoint = spec["endpoint"] = _endpoint(spec)
    sans = spec["extra_sans"]
    if not isinstance(sans, list):
        raise SpecError("%s: %r must be a list of IP addresses or DNS names" % (field("extra_sans"), sans))
    spec["extra_sans"] = [names.san(s, field("extra_sans"), SpecError) for s in sans]

    service, spec["dns_service_ip"] = _networks(spec, admin_networks)
    if not net.is_dns_name(spec["cluster_domain"]):
        raise SpecError("%s: %r is not a DNS name" % (field("cluster_domain"), spec["cluster_domain"]))
    spec["cluster_domain"] = str(spec["cluster_domain"]).lower()

    for plugin in spec["admission_plugins"] or []:
        if not isinstance(plugin, str) or not PLUGIN_RE.match(plugin):
            raise SpecError("%s: %r is not an admission plugin name (e.g. NodeRestriction)"
                            % (field("admission_plugins"), plugin))
    _extra_args(spec)
    _resources(spec)
    for addon, enabled in spec["addons"].items():
        if not isinstance(enabled, bool):
            raise SpecError("%s: %r must be true or false" % (field("addons", addon), enabled))
    try:
        spec["encrypt_resources"] = encryption.check_resources(spec["encrypt_resources"], field("encrypt_resources"))
    except ValueError as exc:
        raise SpecError(str(exc))
    try:
        encryption.check_generation(spec["encryption_key_generation"], field("encryption_key_generation"))
    except ValueError as exc:
        raise SpecError(str(exc))
    quota = quota_bytes(spec["storage_quota"], field("storage_quota"))
    if not isinstance(spec["write_freeze"], bool):
        raise SpecError("%s: %r must be true or false (true makes the tenant read-only at the datastore)"
                        % (field("write_freeze"), spec["write_freeze"]))

    datastore = spec["datastore"]
    if not isinstance(datastore, str) or not DATASTORE_RE.match(datastore):
        raise SpecError("%s: %r must name the inventory group of the etcd members that hold the tenant (letters, "
                        "digits and _, such as etcd)" % (field("datastore"), datastore))

    spec["name"] = name
    spec["kubernetes_version"] = version
    spec["derived"] = {
        **derived_names(name),
        "server": net.https_url(endpoint["address"], endpoint["port"]),
        "kubernetes_service_ip": str(service.network_address + 1),
        "quota_bytes": quota,
    }
    return spec
