# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Cluster health and maintenance: the cluster report, snapshots, rolling defragmentation."""

from __future__ import annotations

import os
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import files
from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import Client
from ansible_collections.kamaji.core.plugins.module_utils.etcd.names import ROOT, TENANT_PERMISSIONS
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError
from ansible_collections.kamaji.core.plugins.module_utils.tenant import names as tenant_names_rule


def snapshot(client: Client, path: str, check: bool = False) -> dict[str, Any]:
    """Stream a snapshot of the serving member into ``path`` (mode 0600, written atomically).

    Always a change: a snapshot is a new point in time. Returns path, size and sha256.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise EtcdError("path: directory %s does not exist" % directory)
    if check:
        return dict(changed=True)
    with files.AtomicFile(path, 0o600) as out:
        client.snapshot(out.file)
        out.commit()
    return dict(changed=True, path=path, size=os.path.getsize(path), sha256=files.sha256_file(path))


def free_ratio(status: dict[str, Any]) -> float:
    """Share of the member's database file that is free space (what defragmenting returns)."""
    size = status["db_size"]
    in_use = status.get("db_size_in_use") or size
    return (size - in_use) / float(size) if size else 0.0


def defragment(client: Client, min_free_ratio: float = 0.0, check: bool = False) -> dict[str, Any]:
    """Defragment members one at a time, in endpoint order, each answering again before the
    next, so a quorum keeps serving. Every member must be healthy first; members whose free
    ratio is below ``min_free_ratio`` are skipped."""
    done: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    statuses = client.endpoint_status()
    for status in statuses:
        if not status["healthy"]:
            raise EtcdError("defragment: %s is not healthy (%s); fix it first, defragmenting the others "
                            "could leave no quorum" % (status["endpoint"], status.get("error")))
    for status in statuses:
        endpoint = status["endpoint"]
        ratio = free_ratio(status)
        if ratio < min_free_ratio:
            skipped.append({"endpoint": endpoint, "reason": "free ratio %.2f below %.2f" % (ratio, min_free_ratio)})
            continue
        if check:
            done.append({"endpoint": endpoint, "db_size_before": status["db_size"]})
            continue
        client.defragment(endpoint)
        after = next(s for s in client.endpoint_status() if s["endpoint"] == endpoint)
        if not after["healthy"]:
            raise EtcdError("defragment: %s did not answer after its defragmentation; stopping" % endpoint)
        done.append({"endpoint": endpoint, "db_size_before": status["db_size"], "db_size_after": after["db_size"]})
    return dict(changed=bool(done), defragmented=done, skipped_endpoints=skipped)


def _url_key(url: str) -> str:
    return url.rstrip("/").replace("https://", "").replace("http://", "")


def cluster_info(client: Client, tenants: list[str] | None = None, measure: bool = True) -> dict[str, Any]:
    """What etcd_info reports: members, the leader, every endpoint's health, unhealthy
    members by name, alarms, auth, users, roles and per-tenant usage.

    Without ``tenants``, every role whose only permission is a prefix, readwrite or read (a
    write-frozen tenant), counts as one. Each tenant's ``permission`` is its role's (None when
    its role is missing or holds more than one permission).
    """
    members = client.members()
    endpoints = client.endpoint_status()
    by_url = {_url_key(u): m for m in members for u in m["client_urls"]}
    by_id = {m["id"]: m for m in members}
    leader = next((by_id.get(e["leader"], {}).get("name") for e in endpoints if e.get("healthy")), None)
    unhealthy: list[str] = []
    for e in endpoints:
        member = by_url.get(_url_key(e["endpoint"]))
        e["member"] = member["name"] if member else None
        if not e["healthy"]:
            unhealthy.append(e["member"] or e["endpoint"])
    # members whose client URLs were not among the endpoints and that never started
    for m in members:
        if not m["client_urls"] and m["name"] not in unhealthy:
            unhealthy.append(m["name"] or m["id"])
    roles = client.role_list()
    usage: dict[str, dict[str, Any]] = {}
    if tenants is None:
        for r in roles:
            perms = client.role_get(r) or []
            if r != ROOT and len(perms) == 1 and perms[0]["prefix"] and perms[0]["type"] in TENANT_PERMISSIONS:
                usage[r] = {"prefix": perms[0]["key"], "permission": perms[0]["type"]}
    for name in tenants or []:
        perms = client.role_get(name) or []
        usage[name] = {"prefix": tenant_names_rule.etcd_prefix(name),
                       "permission": perms[0]["type"] if len(perms) == 1 else None}
    if measure:
        for t in usage.values():
            t["keys"], t["bytes"] = client.prefix_stats(t["prefix"])
    return dict(changed=False, members=members, leader=leader, endpoints=endpoints, unhealthy_members=unhealthy,
                alarms=client.alarms(), auth_enabled=client.auth_status(), users=client.user_list(), roles=roles,
                tenants=usage)
