# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The fleet's status, one row per tenant: what the inventory wants beside what runs.

Inputs are what the status playbook read (the tenants' Deployments and PKI Secrets in the
admin cluster, each tenant's Nodes through its own API, etcd's per-prefix usage); nothing
here talks to a cluster. ``rows`` builds the rows, ``table`` renders them for a job log.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set, x509
from ansible_collections.kamaji.core.plugins.module_utils.tenant import plan
from ansible_collections.kamaji.core.plugins.module_utils.tenant.admin_objects import LABEL
from ansible_collections.kamaji.core.plugins.module_utils.tenant.secrets import SECRET_ADMIN, SECRET_PKI

Obj = dict[str, Any]
# the certificates a tenant's control plane serves and presents (its CAs live ten years)
LEAF_CERTS = tuple(item for item in tenant_set.CERT_ITEMS if item not in tenant_set.CA_ITEMS)
COLUMNS = (("tenant", "name"), ("version", "version"), ("running", "running"), ("replicas", "replicas"),
           ("endpoint", "endpoint"), ("certs (days)", "cert_days"), ("etcd keys", "etcd_keys"),
           ("etcd bytes", "etcd_bytes"), ("workers", "workers"), ("state", "state"))


def _tenant_of(obj: Obj) -> str:
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(LABEL) or "")


def _image_tag(deployment: Obj) -> str:
    for container in ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []:
        if container.get("name") == "kube-apiserver":
            return str(container.get("image", "")).rsplit(":", 1)[-1]
    return ""


def admin_kubeconfig(secrets: Sequence[Obj], name: str) -> str:
    """The admin kubeconfig (text) of tenant ``name`` from its Secrets as read from the admin
    cluster; empty when it has none."""
    for secret in secrets:
        if _tenant_of(secret) == name and (secret.get("metadata") or {}).get("name") == SECRET_ADMIN:
            raw = (secret.get("data") or {}).get("admin.conf")
            if raw:
                return base64.b64decode(raw).decode("utf-8")
    return ""


def certificates(secrets: Sequence[Obj]) -> dict[str, dict[str, str]]:
    """Per tenant, the certificates (public, base64 as the API returns them) of its PKI Secret;
    nothing else of the Secrets (keys stay out of what is passed on)."""
    out = {}
    for secret in secrets:
        if _tenant_of(secret) and (secret.get("metadata") or {}).get("name") == SECRET_PKI:
            out[_tenant_of(secret)] = {k: v for k, v in (secret.get("data") or {}).items() if k.endswith(".crt")}
    return out


def cert_days(data: Mapping[str, str] | None, now: datetime.datetime) -> int | None:
    """Days until the first of the tenant's leaf certificates expires (None: none readable)."""
    if not data:
        return None
    days = []
    for item in LEAF_CERTS:
        raw = data.get(item + ".crt")
        if not raw:
            continue
        try:
            cert = x509.parse_cert(base64.b64decode(raw))
        except (ValueError, TypeError):
            continue
        days.append((cert.not_valid_after_utc - now).days)
    return min(days) if days else None


def _ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def rows(inventory: Sequence[Mapping[str, Any]], deployments: Sequence[Obj], certs: Mapping[str, Mapping[str, str]],
         etcd_tenants: Mapping[str, Mapping[str, Any]] | None,
         now: datetime.datetime | None = None) -> list[dict[str, Any]]:
    """One row per tenant of the inventory (each: name, version, endpoint, state (present or
    absent), and nodes as its API listed them or error), and one per tenant found in the admin cluster or etcd that the
    inventory does not name (state ``orphaned``)."""
    now = now or x509.utcnow()
    tenants = {str(t["name"]): t for t in inventory}
    deploys = {_tenant_of(d): d for d in deployments if _tenant_of(d)}
    usage = etcd_tenants or {}
    out = []
    for name in sorted(set(tenants) | set(deploys) | set(usage)):
        want = tenants.get(name)
        deploy = deploys.get(name)
        status = (deploy or {}).get("status") or {}
        wanted = ((deploy or {}).get("spec") or {}).get("replicas", 0)
        ready = status.get("readyReplicas", 0) or 0
        listed = (want or {}).get("nodes")
        row: dict[str, Any] = {
            "name": name,
            "version": (want or {}).get("version", ""),
            "running": _image_tag(deploy) if deploy else "",
            "replicas": "%d/%d" % (ready, wanted) if deploy else "",
            "endpoint": (want or {}).get("endpoint", ""),
            "cert_days": cert_days(certs.get(name), now),
            "etcd_keys": (usage.get(name) or {}).get("keys"),
            "etcd_bytes": (usage.get(name) or {}).get("bytes"),
            "workers": "%d/%d" % (sum(1 for n in listed if _ready(n)), len(listed)) if listed is not None else "",
            "serving": None,
        }
        if want is not None and want.get("state") == "absent":
            gone = deploy is None and not (usage.get(name) or {}).get("keys")
            row["state"] = "deleted" if gone else "marked absent, not deleted yet (the tenants play deletes it)"
            out.append(row)
            continue
        problems = []
        if want is None:
            problems.append("orphaned (in the admin cluster, not in the inventory)")
        elif deploy is None:
            problems.append("not deployed yet")
        else:
            if ready < wanted or wanted == 0:
                problems.append("replicas not ready")
            if row["running"] and row["version"] and row["running"] != row["version"]:
                problems.append("runs %s, the inventory wants %s" % (row["running"], row["version"]))
            if listed is None:
                problems.append("API: %s" % ((want or {}).get("error") or "not read"))
            elif listed and any(not _ready(n) for n in listed):
                problems.append("workers not Ready: %s" % ", ".join(sorted(
                    str(n.get("metadata", {}).get("name")) for n in listed if not _ready(n))))
        # read-only at the datastore (tenant.write_freeze): reads serve, every write is refused
        if (usage.get(name) or {}).get("permission") == "read":
            problems.append("write-frozen (etcd: read only)")
        row["state"] = "; ".join(problems) or "ok"
        # a deployed tenant of the inventory serves: every replica ready and its API answered
        if want is not None and deploy is not None:
            row["serving"] = wanted > 0 and ready >= wanted and listed is not None
        out.append(row)
    return out


def gates(table_rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """What an upgrade checks before anything changes: ``not_serving``, each deployed tenant of
    the inventory that does not serve now (its state says why); ``moving``, each deployed
    tenant whose control plane runs another release than the inventory's (``v1.36.3 -> v1.37.2``);
    ``refused``, each of those whose move skips a minor or goes down (the reason and the fix)."""
    moving = {str(r["name"]): (str(r["running"]), str(r["version"])) for r in table_rows
              if r.get("serving") is not None and r.get("running") and r.get("version")
              and r["running"] != r["version"]}
    refused = {name: plan.version_step_error(running, wanted) for name, (running, wanted) in moving.items()}
    return {
        "not_serving": {str(r["name"]): str(r["state"]) for r in table_rows if r.get("serving") is False},
        "moving": {name: "%s -> %s" % move for name, move in moving.items()},
        "refused": {name: error for name, error in refused.items() if error},
    }


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def table(table_rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The rows as aligned text lines, a header first."""
    cells = [[title for title, _key in COLUMNS]] + [[_cell(r.get(key)) for _title, key in COLUMNS] for r in table_rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
