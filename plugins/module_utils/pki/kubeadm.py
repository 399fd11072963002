# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The kubeadm-managed certificates of an admin control-plane node: which expires first, from
``kubeadm certs check-expiration -o json``, and whether a run renews them (one rule, read by
the status report and by the renewal)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

DAY = 86400


def certs_first(read: Mapping[str, Any], node: str) -> dict[str, Any]:
    """The report row of ``node`` from the registered result of ``kubeadm certs check-expiration
    -o json`` (``rc``, ``stdout``, ``stderr_lines``): ``node``, ``certificate``, ``expires``
    (kubeadm's date) and ``days`` left (whole days, negative once expired) of the first
    kubeadm-managed certificate to expire (missing and externally managed ones left out), or
    ``node`` and ``error`` when the node cannot tell."""
    if read.get("rc") != 0:
        lines = [line for line in read.get("stderr_lines") or [] if str(line).strip()]
        return {"node": node, "error": str(lines[-1]) if lines else "no answer"}
    try:
        certs = json.loads(read.get("stdout") or "").get("certificates") or []
    except (ValueError, AttributeError):
        return {"node": node, "error": "kubeadm certs check-expiration printed no JSON"}
    managed = [c for c in certs if not c.get("missing") and not c.get("externallyManaged")]
    if not managed:
        return {"node": node, "error": "no kubeadm-managed certificate"}
    first = min(managed, key=lambda c: int(c.get("residualTime") or 0))
    return {"node": node, "certificate": first.get("name"), "expires": first.get("expirationDate"),
            "days": int(first.get("residualTime") or 0) // DAY}


def renewal_due(row: Mapping[str, Any], renew_days: int) -> bool:
    """A node renews when its first certificate has fewer than ``renew_days`` days left; 0 turns
    renewal off, and a node that cannot tell (``error``) is not renewed blindly."""
    return int(renew_days) > 0 and "days" in row and int(row["days"]) < int(renew_days)
