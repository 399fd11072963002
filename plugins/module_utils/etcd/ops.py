# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Desired-state reconcilers for etcd roles, users, auth and tenants.

Each function reads the current state, compares it with the wanted state, and (unless
``check``) applies only the difference. They return ``(changed, before, after)`` with
facts suitable for Ansible's diff; no secrets are ever part of them.
"""

from __future__ import annotations

from typing import Any, Optional

from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import Client
from ansible_collections.kamaji.core.plugins.module_utils.etcd.names import (
    ROOT,
    Permission,
    check_permission,
    check_quota,
    normalize_permission,
    perm_sort_key,
    prefix_range_end,
    tenant_names,
    validate_name,
)
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError
from ansible_collections.kamaji.core.plugins.module_utils.etcd.wire import to_bytes
from ansible_collections.kamaji.core.plugins.module_utils.tenant import encryption

# A reconciler's facts before or after the call (None: the object does not exist).
State = Optional[dict[str, Any]]  # noqa: UP045 - evaluated at import
Outcome = tuple[bool, State, State]


def _perm_id(p: Permission) -> tuple[str, str]:
    return (p["key"], p.get("range_end", ""))


def ensure_role(client: Client, name: str, state: str = "present", permissions: list[dict[str, Any]] | None = None,
                exact: bool = True, check: bool = False) -> Outcome:
    if name != ROOT:
        validate_name(name)
    current = client.role_get(name)
    before = None if current is None else {"name": name, "permissions": current}
    if state == "absent":
        if current is None:
            return False, before, None
        if name == ROOT:
            raise EtcdError("name: the root role cannot be removed (etcd auth needs it)")
        if not check:
            client.role_delete(name)
        return True, before, None

    wanted = sorted((normalize_permission(p) for p in (permissions or [])), key=perm_sort_key)
    have = {_perm_id(p): p for p in (current or [])}
    want = {_perm_id(p): p for p in wanted}
    to_grant = [p for pid, p in want.items() if pid not in have or have[pid]["type"] != p["type"]]
    to_revoke = [p for pid, p in have.items() if pid not in want] if exact else []
    if current is not None and not to_grant and not to_revoke:
        return False, before, before
    final = dict(have)
    for p in to_revoke:
        final.pop(_perm_id(p), None)
    for p in to_grant:
        final[_perm_id(p)] = p
    after = {"name": name, "permissions": sorted(final.values(), key=perm_sort_key)}
    if not check:
        if current is None:
            client.role_add(name)
        for p in to_revoke:
            client.role_revoke(name, p)
        for p in to_grant:
            client.role_grant(name, p)
    return True, before, after


def ensure_user(client: Client, name: str, state: str = "present", roles: list[str] | None = None, exact: bool = True,
                password: str | None = None, check: bool = False) -> Outcome:
    if name != ROOT:
        validate_name(name)
    current = client.user_get(name)
    before = None if current is None else {"name": name, "roles": current}
    if state == "absent":
        if current is None:
            return False, before, None
        if name == ROOT:
            raise EtcdError("name: the root user cannot be removed while auth is enabled")
        if not check:
            client.user_delete(name)
        return True, before, None
    wanted = sorted(set(roles or []))
    have = current or []
    to_grant = [r for r in wanted if r not in have]
    to_revoke = [r for r in have if r not in wanted] if exact else []
    if current is not None and not to_grant and not to_revoke:
        return False, before, before
    final = sorted((set(have) - set(to_revoke)) | set(to_grant))
    after = {"name": name, "roles": final}
    if not check:
        if current is None:
            client.user_add(name, password)
        for r in to_revoke:
            client.user_revoke_role(name, r)
        for r in to_grant:
            client.user_grant_role(name, r)
    return True, before, after


def ensure_auth(client: Client, state: str = "enabled", check: bool = False) -> Outcome:
    """Enable auth safely: the root user (certificate only) holding etcd's built-in root
    role comes first, so the root client certificate can still manage the cluster."""
    enabled = client.auth_status()
    before = {"enabled": enabled}
    if state == "enabled":
        changed = False
        roles = client.user_get(ROOT)
        if roles is None or ROOT not in roles:
            changed = True
            if not check:
                if roles is None:
                    client.user_add(ROOT)
                client.user_grant_role(ROOT, ROOT)
        if not enabled:
            changed = True
            if not check:
                client.auth_enable()
        return changed, before, {"enabled": True}
    if not enabled:
        return False, before, before
    if not check:
        client.auth_disable()
    return True, before, {"enabled": False}


def ensure_tenant(client: Client, name: str, state: str = "present", prefix: str | None = None,
                  user: str | None = None, role: str | None = None, purge: bool = False, measure: bool = True,
                  check: bool = False, permission: str = "readwrite", quota_bytes: int | None = None,
                  sealed_with: tuple[str, list[str], bool] | None = None,
                  ) -> tuple[bool, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A tenant's etcd user and role, confined to the tenant prefix: ``readwrite``, or ``read``
    (a write-frozen tenant: its API server reads, every write is refused by etcd).

    With ``quota_bytes``, the prefix is measured first and a tenant holding more than that
    is write-frozen (``stats["over_quota"]``), whatever ``permission`` says; under it again,
    ``permission`` applies. With ``sealed_with`` (a key name and resources), ``stats["unsealed"]``
    lists the keys of those resources (below the prefix) that key does not seal, and with its third
    item true ``stats["sealing_keys"]`` counts the values each key seals under the whole prefix
    (read only).

    Returns ``(changed, before, after, stats)``; ``stats`` holds ``keys`` and ``bytes``
    under the prefix (for ``absent`` with ``purge``, what was deleted).
    """
    prefix, user, role = tenant_names(name, prefix, user, role)
    check_permission(permission)
    quota_bytes = check_quota(quota_bytes)
    if state == "present":
        stats: dict[str, Any] = {"prefix": prefix, "range_end": prefix_range_end(prefix).decode("utf-8", "replace")}
        # the quota's measure decides the permission; else the role and user come first (their
        # calls say best what a certificate without the root role lacks)
        if quota_bytes is not None:
            stats["keys"], stats["bytes"] = client.prefix_stats(prefix)
            stats["over_quota"] = stats["bytes"] > quota_bytes
            if stats["over_quota"]:
                permission = "read"
        perm = {"key": prefix, "prefix": True, "type": permission}
        stats["permission"] = permission
        r_changed, r_before, r_after = ensure_role(client, role, "present", [perm], exact=True, check=check)
        u_changed, u_before, u_after = ensure_user(client, user, "present", [role], exact=True, check=check)
        if measure and "keys" not in stats:
            stats["keys"], stats["bytes"] = client.prefix_stats(prefix)
        if sealed_with is not None:
            key_name, resources, count_keys = sealed_with
            stats["unsealed"] = []
            for path in encryption.etcd_paths(resources).values():
                stats["unsealed"] += encryption.unsealed(client.export_prefix(prefix + path), to_bytes(prefix), key_name)
            stats["unsealed"].sort(key=lambda o: (o["kind"], o["namespace"], o["name"]))
            if count_keys:
                stats["sealing_keys"] = encryption.sealing_keys(v for _k, v in client.export_prefix(prefix))
        return (r_changed or u_changed, {"role": r_before, "user": u_before}, {"role": r_after, "user": u_after}, stats)

    # the user and role go first: a tenant API server still running (a pod on a machine that
    # lost its admin cluster, say) can no longer write back under the prefix being purged
    stats = {"prefix": prefix}
    changed = False
    u_changed, u_before, _unused = ensure_user(client, user, "absent", check=check)
    r_changed, r_before, _unused = ensure_role(client, role, "absent", check=check)
    if purge:
        keys, size = client.prefix_stats(prefix)
        stats.update(keys=keys, bytes=size)
        if keys:
            changed = True
            if not check:
                client.delete_prefix(prefix)
    before: dict[str, Any] = {"role": r_before, "user": u_before}
    if purge:
        before["keys"] = stats["keys"]
    return changed or u_changed or r_changed, before, {"role": None, "user": None}, stats


def _norm_url(url: str) -> str:
    return url.rstrip("/").lower()


def initial_cluster(members: list[dict[str, Any]], name: str, peer_urls: list[str]) -> str:
    """The ``initial-cluster`` value a joining member starts with: every member's name and
    peer URLs, the joining one (not started, so nameless in etcd) under ``name``."""
    mine = {_norm_url(u) for u in peer_urls}
    parts: list[str] = []
    for m in members:
        member_name = name if mine & {_norm_url(u) for u in m["peer_urls"]} else m["name"]
        if not member_name:
            continue
        parts.extend("%s=%s" % (member_name, u) for u in m["peer_urls"])
    return ",".join(sorted(parts))


def ensure_member(client: Client, name: str, peer_urls: list[str], state: str = "present", replace: bool = False,
                  check: bool = False) -> tuple[bool, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Membership of one member, one change at a time (etcd's own rule for quorum safety).

    present: add a member with ``peer_urls`` when none has them. With ``replace``, a member
    of the same name (or the same peer URLs) that must start over with an empty data dir is
    removed first: removing before adding keeps the quorum reachable when the old one is dead.
    absent: remove the member named ``name`` (or holding ``peer_urls``).
    Returns (changed, before, after, info) where info carries the member id and the
    ``initial_cluster`` value for the member's first start.
    """
    if not peer_urls and state == "present":
        raise EtcdError("peer_urls: at least one peer URL (https://host:2380) is required")
    wanted = {_norm_url(u) for u in peer_urls or []}
    members = client.members()

    def matches(m: dict[str, Any]) -> bool:
        return (name and m["name"] == name) or bool(wanted & {_norm_url(u) for u in m["peer_urls"]})

    current = [m for m in members if matches(m)]
    before = {"members": sorted("%s %s" % (m["name"] or "(not started)", ",".join(m["peer_urls"])) for m in members)}
    steps: list[tuple[str, dict[str, Any] | None]] = []
    if state == "absent":
        steps = [("remove", m) for m in current]
    else:
        # with replace, a member added earlier that never started is kept: it is waiting for us
        same = [m for m in current if {_norm_url(u) for u in m["peer_urls"]} == wanted
                and (not replace or not m["name"])]
        if not same:
            steps = [("remove", m) for m in current] if replace else []
            if current and not replace:
                other = current[0]
                raise EtcdError("member %s already exists with peer URLs %s; set replace: true to remove it and "
                                "add it again with %s (its data dir must be empty)"
                                % (other["name"] or other["id"], ",".join(other["peer_urls"]), ",".join(peer_urls)))
            steps.append(("add", None))
    if len(members) - sum(1 for s in steps if s[0] == "remove") < 1 and state == "absent":
        raise EtcdError("name: removing %s would leave the cluster without members" % name)
    member_id = current[0]["id"] if current and not steps else None
    after_members = [m for m in members if not any(s[1] is m for s in steps)]
    if not check:
        for action, step_member in steps:
            if action == "remove" and step_member is not None:
                client.member_remove(step_member["id"])
            else:
                member_id = client.member_add(list(peer_urls))
        if steps:
            after_members = client.members()
    elif any(s[0] == "add" for s in steps):
        after_members = after_members + [{"id": "(new)", "name": "", "peer_urls": list(peer_urls),
                                          "client_urls": [], "learner": False}]
    after = {"members": sorted("%s %s" % (m["name"] or "(not started)", ",".join(m["peer_urls"]))
                               for m in after_members)}
    info = {"id": member_id, "initial_cluster": initial_cluster(after_members, name, peer_urls) if state == "present" else "",
            "actions": [s[0] for s in steps]}
    return bool(steps), before, after, info
