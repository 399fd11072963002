# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Kubernetes objects as plain dicts: small builders and the "already there" comparison.

``unchanged`` splits wanted objects into those to send and those the API server already
holds with every wanted field (it adds defaults and status, so the comparison is a
subset test), so that a no-op run sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# A Kubernetes object (or any part of one) as returned by the API or about to be sent.
Obj = dict[str, Any]
RBAC_API = "rbac.authorization.k8s.io"


def is_subset(wanted: object, have: object) -> bool:
    """True when every field of ``wanted`` is in ``have`` with the same value (the API server
    adds defaults and status; lists must match item by item)."""
    if isinstance(wanted, dict):
        return isinstance(have, dict) and all(k in have and is_subset(v, have[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(have, list) and len(wanted) == len(have) and all(
            is_subset(w, h) for w, h in zip(wanted, have, strict=True))
    if isinstance(wanted, bool) or isinstance(have, bool):
        return wanted is have
    if isinstance(wanted, (int, float)) and isinstance(have, (int, float)):
        return wanted == have
    return str(wanted) == str(have) if wanted is not None else have is None


def object_key(obj: Mapping[str, Any]) -> tuple[str | None, str, str | None]:
    """(kind, namespace or "", name): the identity of an object in one cluster."""
    meta = obj.get("metadata") or {}
    return (obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def unchanged(objects: Iterable[Obj], existing: Iterable[Mapping[str, Any]] | None) -> tuple[list[Obj], int]:
    """Split ``objects`` into (to_apply, unchanged_count) against the objects read from the API."""
    index = {object_key(o): o for o in existing or []}
    to_apply = []
    same = 0
    for obj in objects:
        have = index.get(object_key(obj))
        if have is not None and is_subset(obj, have):
            same += 1
        else:
            to_apply.append(obj)
    return to_apply, same


def with_kind(by_kind: Mapping[str, Iterable[Mapping[str, Any]] | None] | None) -> list[Obj]:
    """Objects read from the API by kind (list items come without ``kind``), each with its kind."""
    out = []
    for kind, items in (by_kind or {}).items():
        for item in items or []:
            out.append(dict(item, kind=kind))
    return out


# ------------------------------------------------------------------ builders

def config_map(name: str, namespace: str, data: dict[str, str], labels: dict[str, str] | None = None) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
                "data": data}
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def group(name: str) -> Obj:
    """An RBAC subject: a group of users."""
    return {"apiGroup": RBAC_API, "kind": "Group", "name": name}


def cluster_role_binding(name: str, role: str, subjects: list[Obj], kind: str = "ClusterRole") -> Obj:
    return {"apiVersion": RBAC_API + "/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC_API, "kind": kind, "name": role}, "subjects": subjects}


def role(name: str, namespace: str, rules: list[Obj]) -> Obj:
    return {"apiVersion": RBAC_API + "/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace}, "rules": rules}


def role_binding(name: str, namespace: str, role_name: str, subjects: list[Obj]) -> Obj:
    return {"apiVersion": RBAC_API + "/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC_API, "kind": "Role", "name": role_name}, "subjects": subjects}


def nodes_not_ready(nodes: Iterable[Mapping[str, Any]] | None, names: Iterable[str]) -> list[str]:
    """The names of ``names`` whose Node is missing from ``nodes`` or not Ready (its Ready
    condition is not ``True``), in the order given, each once."""
    ready = {
        (node.get("metadata") or {}).get("name")
        for node in nodes or []
        if any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])
    }
    return list(dict.fromkeys(name for name in names if name not in ready))
