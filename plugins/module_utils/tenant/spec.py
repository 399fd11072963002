# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The tenant spec: defaults, validation and derived values.

A tenant is a host of the ``tenants`` group; its host_vars are the spec. ``normalize``
fills the defaults (two lines — a name and an endpoint — make a working tenant), checks
every field and returns the complete spec plus what the roles derive from it. Every error
names the field and the fix, and is raised before anything changes anywhere.
"""

from __future__ import annotations

import ipaddress
import re

SUPPORTED_MINORS = (35, 36, 37)
DEFAULT_VERSION = "v1.37.2"
SERVICE_TYPES = ("NodePort", "LoadBalancer", "ClusterIP")
COMPONENTS = ("apiserver", "controller_manager", "scheduler")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
VERSION_RE = re.compile(r"^v1\.(\d+)\.(\d+)$")
QUANTITY_RE = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
PLUGIN_RE = re.compile(r"^[A-Z][A-Za-z0-9]+$")
DNS_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
FLAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Flags the role sets itself: overriding them would break isolation or the pod layout.
MANAGED_FLAGS = {
    "apiserver": {"etcd-servers", "etcd-prefix", "etcd-cafile", "etcd-certfile", "etcd-keyfile",
                  "etcd-compaction-interval", "client-ca-file", "tls-cert-file", "tls-private-key-file",
                  "service-account-key-file", "service-account-signing-key-file", "secure-port",
                  "service-cluster-ip-range", "enable-bootstrap-token-auth", "authorization-mode"},
    "controller_manager": {"kubeconfig", "service-account-private-key-file", "root-ca-file",
                           "cluster-signing-cert-file", "cluster-signing-key-file", "cluster-cidr",
                           "service-cluster-ip-range", "controllers"},
    "scheduler": {"kubeconfig"},
}
DEFAULTS = {
    "kubernetes_version": DEFAULT_VERSION,
    "replicas": 2,
    "service_type": "NodePort",
    "extra_sans": [],
    "service_cidr": "10.96.0.0/16",
    "pod_cidr": "10.244.0.0/16",
    "cluster_domain": "cluster.local",
    "admission_plugins": [],
    "extra_args": {},
    "resources": {
        "apiserver": {"requests": {"cpu": "100m", "memory": "320Mi"}},
        "controller_manager": {"requests": {"cpu": "50m", "memory": "128Mi"}},
        "scheduler": {"requests": {"cpu": "20m", "memory": "64Mi"}},
    },
    "addons": {"coredns": True, "kube_proxy": True},
}
KNOWN = set(DEFAULTS) | {"name", "endpoint", "dns_service_ip"}


class SpecError(Exception):
    """Invalid tenant spec; the message starts with the field."""


def _net(value, field):
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        raise SpecError("%s: %r is not a network address with prefix, e.g. 10.96.0.0/16 (%s)" % (field, value, exc))


def _host(value, field):
    value = str(value or "").strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        if value and len(value) <= 253 and DNS_RE.match(value.lower()):
            return value.lower()
    raise SpecError("%s: %r is neither an IP address nor a DNS name" % (field, value))


def _quantity(value, field):
    if not QUANTITY_RE.match(str(value)):
        raise SpecError("%s: %r is not a Kubernetes quantity (e.g. 100m, 320Mi, 1)" % (field, value))
    return str(value)


def _check_version(version, supported_minors):
    match = VERSION_RE.match(str(version))
    if not match:
        raise SpecError("kubernetes_version: %r must look like v1.37.2" % (version,))
    if int(match.group(1)) not in supported_minors:
        raise SpecError("kubernetes_version: %s is not supported; supported minors are %s" % (
            version, ", ".join("1.%d" % m for m in supported_minors)))
    return version


def _merge(defaults, given):
    out = dict(defaults)
    for key, value in (given or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def normalize(raw, supported_minors=SUPPORTED_MINORS, admin_networks=()):
    """Return the complete, validated spec with derived values; raise SpecError."""
    if not isinstance(raw, dict):
        raise SpecError("spec: must be a mapping of tenant fields")
    unknown = sorted(set(raw) - KNOWN)
    if unknown:
        raise SpecError("%s: unknown tenant field; known fields are %s" % (unknown[0], ", ".join(sorted(KNOWN))))
    spec = _merge(DEFAULTS, raw)

    name = spec.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError("name: %r must be a DNS-1123 label of at most 40 characters (lower-case letters, digits, "
                        "'-'; starting and ending alphanumeric)" % (name,))
    if name == "root":
        raise SpecError("name: 'root' is reserved for etcd's administrator")
    _check_version(spec["kubernetes_version"], supported_minors)

    replicas = spec["replicas"]
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise SpecError("replicas: %r must be an integer >= 0 (0 keeps the tenant's state and stops its "
                        "control plane)" % (replicas,))
    if spec["service_type"] not in SERVICE_TYPES:
        raise SpecError("service_type: %r must be one of %s" % (spec["service_type"], ", ".join(SERVICE_TYPES)))

    endpoint = spec.get("endpoint")
    if not isinstance(endpoint, dict) or not endpoint.get("address"):
        raise SpecError("endpoint.address: required: the address workers and users reach the tenant API at "
                        "(an admin worker's address for NodePort, the load balancer's otherwise)")
    address = _host(endpoint["address"], "endpoint.address")
    default_port = 6443
    port = endpoint.get("port", default_port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise SpecError("endpoint.port: %r is not a TCP port (1-65535)" % (port,))
    if spec["service_type"] == "NodePort" and not 30000 <= port <= 32767:
        raise SpecError("endpoint.port: %d is outside the NodePort range 30000-32767 (service_type NodePort)" % port)
    spec["endpoint"] = {"address": address, "port": port}
    spec["extra_sans"] = [_host(s, "extra_sans") for s in spec["extra_sans"]]

    service = _net(spec["service_cidr"], "service_cidr")
    pods = _net(spec["pod_cidr"], "pod_cidr")
    if service.overlaps(pods):
        raise SpecError("pod_cidr: %s overlaps service_cidr %s; give them disjoint networks" % (pods, service))
    if service.num_addresses < 16:
        raise SpecError("service_cidr: %s is too small (fewer than 16 addresses)" % service)
    for admin in admin_networks:
        admin_net = _net(admin, "admin network")
        for field, net in (("service_cidr", service), ("pod_cidr", pods)):
            if net.overlaps(admin_net):
                raise SpecError("%s: %s overlaps the admin cluster's network %s; tenant workers could not "
                                "reach the admin cluster" % (field, net, admin_net))
    dns_ip = spec.get("dns_service_ip") or str(service.network_address + 10)
    try:
        dns = ipaddress.ip_address(dns_ip)
    except ValueError:
        raise SpecError("dns_service_ip: %r is not an IP address" % (dns_ip,))
    if dns not in service or dns == service.network_address + 1:
        raise SpecError("dns_service_ip: %s must be inside service_cidr %s and not its first address "
                        "(the kubernetes Service)" % (dns, service))
    spec["dns_service_ip"] = str(dns)
    if not DNS_RE.match(str(spec["cluster_domain"])):
        raise SpecError("cluster_domain: %r is not a DNS name" % (spec["cluster_domain"],))

    for plugin in spec["admission_plugins"]:
        if not isinstance(plugin, str) or not PLUGIN_RE.match(plugin):
            raise SpecError("admission_plugins: %r is not an admission plugin name (e.g. NodeRestriction)" % (plugin,))
    for component, args in spec["extra_args"].items():
        if component not in COMPONENTS:
            raise SpecError("extra_args.%s: unknown component; use %s" % (component, ", ".join(COMPONENTS)))
        for flag in args or {}:
            bare = str(flag).lstrip("-")
            if not FLAG_RE.match(bare):
                raise SpecError("extra_args.%s: %r is not a flag name" % (component, flag))
            if bare in MANAGED_FLAGS[component]:
                raise SpecError("extra_args.%s.%s: set by kamaji.core itself (isolation and wiring depend on it); "
                                "remove it" % (component, bare))
    for component, res in spec["resources"].items():
        if component not in COMPONENTS:
            raise SpecError("resources.%s: unknown component; use %s" % (component, ", ".join(COMPONENTS)))
        for kind, values in (res or {}).items():
            if kind not in ("requests", "limits"):
                raise SpecError("resources.%s.%s: use requests or limits" % (component, kind))
            for resource, qty in (values or {}).items():
                if resource not in ("cpu", "memory"):
                    raise SpecError("resources.%s.%s.%s: use cpu or memory" % (component, kind, resource))
                _quantity(qty, "resources.%s.%s.%s" % (component, kind, resource))
    for addon, enabled in spec["addons"].items():
        if addon not in DEFAULTS["addons"] or not isinstance(enabled, bool):
            raise SpecError("addons.%s: known addons are %s, each true or false" % (addon, ", ".join(DEFAULTS["addons"])))

    spec["derived"] = {
        "namespace": "tenant-" + name,
        "etcd_prefix": "/%s/" % name,
        "etcd_user": name,
        "apiserver_etcd_prefix": "/" + name,
        "server": "https://%s:%d" % ("[%s]" % address if ":" in address else address, port),
        "kubernetes_service_ip": str(service.network_address + 1),
    }
    return spec
