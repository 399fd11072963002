# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""A tenant's name and every name derived from it: the one place these rules live.

The tenant spec, the tenant PKI set and the etcd modules all use these; a tenant's
etcd prefix, etcd user and namespace are never spelled anywhere else.
"""

from __future__ import annotations

from ansible_collections.kamaji.core.plugins.module_utils.common import net

# The namespace is "tenant-<name>" (a label of at most 63): 40 leaves room for suffixes.
NAME_MAX = 40
# Names a tenant may not take, and why: etcd's administrator, and the names operators read as
# Kubernetes' own namespaces (a tenant "kube-system" would show up as the etcd user, the etcd
# prefix /kube-system/ and the namespace tenant-kube-system).
RESERVED = {
    "root": "etcd's administrator",
    "default": "Kubernetes' default namespace",
    "kube-system": "a Kubernetes system namespace",
    "kube-public": "a Kubernetes system namespace",
    "kube-node-lease": "a Kubernetes system namespace",
}
# Kubernetes reserves every namespace name starting with this for its own use.
RESERVED_PREFIX = "kube-"
FIX = "choose another tenant name (the inventory host name, or the tenant_name host variable)"


def reserved(name: str) -> str:
    """Why ``name`` is reserved, or '' when a tenant may take it."""
    if name in RESERVED:
        return RESERVED[name]
    if name.startswith(RESERVED_PREFIX):
        return "Kubernetes keeps names starting with %r for its own namespaces" % RESERVED_PREFIX
    return ""


def validate_name(name: object, field: str = "name", error: type[Exception] = net.InvalidValue) -> str:
    """The tenant name, or ``error`` naming ``field``, the rule and the fix."""
    value = net.dns_label(name, field, NAME_MAX, error)
    why = reserved(value)
    if why:
        raise error("%s: %r is reserved (%s); %s" % (field, value, why, FIX))
    return value


def namespace(name: str) -> str:
    """The admin cluster namespace holding the tenant's control plane."""
    return "tenant-" + name


def etcd_prefix(name: str) -> str:
    """The tenant's etcd key prefix; the trailing '/' keeps /acme from covering /acme2."""
    return "/%s/" % name


def apiserver_etcd_prefix(name: str) -> str:
    """The tenant kube-apiserver's --etcd-prefix (the apiserver adds the '/' itself)."""
    return "/" + name


def etcd_user(name: str) -> str:
    """The tenant's etcd user (and role): the CN of its apiserver's etcd client certificate."""
    return name


def san(value: object, field: str, error: type[Exception] = net.InvalidValue) -> str:
    """An extra SAN of the tenant API serving certificate: IP address or DNS name, wildcards allowed."""
    return net.host(value, field, wildcard=True, error=error)
