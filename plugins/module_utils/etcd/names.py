# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Names and key ranges in etcd: users, roles, prefixes and permissions.

A tenant's prefix is never derived here: it comes from ``tenant/names.py``
(``etcd_prefix``), the one place the tenant's derived names live.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError
from ansible_collections.kamaji.core.plugins.module_utils.etcd.wire import to_bytes
from ansible_collections.kamaji.core.plugins.module_utils.tenant import names as tenant_names_rule

# etcd's administrator: the user (certificate CN) and etcd's built-in role of that name
ROOT = "root"
PERMISSIONS = {"read": 0, "write": 1, "readwrite": 2}
PERMISSION_NAMES = {v: k for k, v in PERMISSIONS.items()}
# what a tenant's role may do on its prefix: readwrite, or read when the tenant is write-frozen
TENANT_PERMISSIONS = ("readwrite", "read")


def check_permission(value: object, field: str = "permission") -> str:
    """A tenant's permission on its prefix: one of TENANT_PERMISSIONS."""
    if value not in TENANT_PERMISSIONS:
        raise EtcdError("%s: %r must be one of %s" % (field, value, ", ".join(TENANT_PERMISSIONS)))
    return str(value)


def check_quota(value: object, field: str = "quota_bytes") -> int | None:
    """A tenant's storage quota: None (no quota) or a positive number of bytes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EtcdError("%s: %r must be a positive number of bytes" % (field, value))
    return value


# A permission as the modules return and compare it: key, type, prefix, and range_end
# when it covers a range.
Permission = dict[str, Any]


def prefix_range_end(prefix: str | bytes) -> bytes:
    """The range end covering every key that starts with ``prefix``."""
    key = bytearray(to_bytes(prefix))
    for i in range(len(key) - 1, -1, -1):
        if key[i] < 0xFF:
            key[i] += 1
            return bytes(key[: i + 1])
    return b"\0"  # the whole key space


def validate_name(name: object, field: str = "name") -> str:
    """An etcd user or role name (a DNS-1123 label)."""
    if not isinstance(name, str) or not net.DNS1123_LABEL.match(name):
        raise EtcdError("%s: %r is not a valid name; use lower-case letters, digits and '-', "
                        "at most 63 characters, starting and ending with a letter or digit" % (field, name))
    return name


def validate_prefix(prefix: object, field: str = "prefix") -> str:
    """A key prefix naming a sub-tree: '/acme/', never '/' nor '/acme' (which covers '/acme2')."""
    if not isinstance(prefix, str) or not prefix.startswith("/") or not prefix.endswith("/") or prefix == "/":
        raise EtcdError("%s: %r must start and end with '/' and name a sub-tree (for example /acme/), "
                        "otherwise it also covers other tenants' keys" % (field, prefix))
    return prefix


def tenant_names(name: object, prefix: str | None = None, user: str | None = None,
                 role: str | None = None) -> tuple[str, str, str]:
    """(prefix, user, role) of a tenant: the defaults are derived from its name, and
    ``root`` is refused for each (it is etcd's own administrator)."""
    tenant = validate_name(name)
    if tenant == ROOT:
        raise EtcdError("name: 'root' is reserved for etcd's own administrator")
    out_prefix = validate_prefix(prefix or tenant_names_rule.etcd_prefix(tenant))
    out_user = validate_name(user or tenant_names_rule.etcd_user(tenant), "user")
    out_role = validate_name(role or tenant_names_rule.etcd_user(tenant), "role")
    for reserved, field in ((out_user, "user"), (out_role, "role")):
        if reserved == ROOT:
            raise EtcdError("%s: 'root' is reserved for etcd's own administrator" % field)
    return out_prefix, out_user, out_role


# ------------------------------------------------------------------ permissions

def permission(key: bytes, range_end: bytes, perm_type: int) -> Permission:
    """The permission dict of what etcd holds (a role's ``Permission`` message fields)."""
    out: Permission = {"key": key.decode("utf-8", "replace"),
                       "type": PERMISSION_NAMES.get(perm_type, str(perm_type))}
    if range_end:
        out["range_end"] = range_end.decode("utf-8", "replace")
        out["prefix"] = range_end == prefix_range_end(key)
    else:
        out["prefix"] = False
    return out


def perm_sort_key(p: Permission) -> tuple[str, str, str]:
    return (p["key"], p.get("range_end", ""), p["type"])


def normalize_permission(perm: dict[str, Any], field: str = "permissions") -> Permission:
    """User input {key, prefix, type} -> the dict ``Client.role_get`` returns."""
    key = perm.get("key")
    if not key:
        raise EtcdError("%s: every permission needs a key" % field)
    ptype = perm.get("type") or "readwrite"
    if ptype not in PERMISSIONS:
        raise EtcdError("%s: type %r is not one of read, write, readwrite" % (field, ptype))
    out: Permission = {"key": key, "type": ptype, "prefix": bool(perm.get("prefix"))}
    if out["prefix"]:
        out["range_end"] = prefix_range_end(key).decode("utf-8", "replace")
    return out
