# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Has a kubeadm control-plane node settled: its static pods (the mirror pods kube-system holds,
label ``tier=control-plane``) Ready, restarted since a point in time (after a certificate
renewal or a manifest change) and running the wanted release. One rule for the certificate
renewal and the admin cluster's ``kubeadm upgrade``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

# the static pods of a kubeadm control-plane node with a local (stacked) etcd
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
# the ones whose image tag is the Kubernetes release (etcd has its own)
VERSIONED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_time(value: object, field: str = "since") -> datetime.datetime:
    """``2026-12-02T15:25:18Z`` (UTC, as the API and ``ansible_date_time.iso8601`` write it)."""
    try:
        return datetime.datetime.strptime(str(value), TIME_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise ValueError("%s: %r is not a UTC time like 2026-12-02T15:25:18Z" % (field, value)) from None


def image_tag(image: str) -> str:
    """``registry.k8s.io/kube-apiserver:v1.37.2`` -> ``v1.37.2`` (empty without a tag)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def _component(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str((meta.get("labels") or {}).get("component") or meta.get("name") or "")


def _why(pod: Mapping[str, Any], component: str, since: datetime.datetime | None, version: str | None) -> str:
    status = pod.get("status") or {}
    if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []):
        return "not Ready"
    if since is not None:
        containers = status.get("containerStatuses") or []
        if not containers:
            return "no container started"
        for c in containers:
            started = ((c.get("state") or {}).get("running") or {}).get("startedAt")
            if not started:
                return "container %s not running" % c.get("name")
            if parse_time(started, "startedAt") < since:
                return "started %s, before %s" % (started, since.strftime(TIME_FORMAT))
    if version and component in VERSIONED:
        for c in (pod.get("spec") or {}).get("containers") or []:
            tag = image_tag(str(c.get("image") or ""))
            if tag != version:
                return "runs %s, not %s" % (c.get("image"), version)
    return ""


def control_plane_unsettled(pods: Iterable[Mapping[str, Any]] | None, node: str, since: str | None = None,
                            version: str | None = None, components: Iterable[str] = COMPONENTS) -> list[str]:
    """``name: reason`` for each control-plane static pod of ``node`` that is not settled: missing
    (each of ``components`` must have its pod on the node), not Ready, with a container started
    before ``since`` (when given) or, for the API server, controller-manager and scheduler, an
    image not tagged ``version`` (when given). Empty when the node has settled."""
    start = parse_time(since) if since else None
    mine = [p for p in pods or [] if (p.get("spec") or {}).get("nodeName") == node]
    out = []
    for component in components:
        found = [p for p in mine if _component(p) == component]
        if not found:
            out.append("%s-%s: missing" % (component, node))
            continue
        for pod in found:
            why = _why(pod, component, start, version)
            if why:
                out.append("%s: %s" % ((pod.get("metadata") or {}).get("name") or component, why))
    return out
