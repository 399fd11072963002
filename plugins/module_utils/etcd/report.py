# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""What the etcd modules tell the user: the error type, gRPC failures put into words,
which failures are worth a retry, and the shape of a module's result.

Every other file of the etcd wing raises ``EtcdError``; it lives here, at the bottom of
the wing, so that names, wire and client can all import it without a cycle.
"""

from __future__ import annotations

from typing import Any

# Errors that go away on their own: leader elections, overload, and the auth revision
# race (a request authorised just before another client changed users or roles).
TRANSIENT = ("request timed out", "leader changed", "no leader", "too many requests",
             "revision of auth store is old")


class EtcdError(Exception):
    """A failure explained for the user: what failed, where, and what to do."""


def details(exc: BaseException) -> str:
    """The server's message of a gRPC error ('' when it has none)."""
    get = getattr(exc, "details", None)
    return (get() if callable(get) else "") or ""


def is_transient(exc: BaseException) -> bool:
    """True for a gRPC error that a bounded retry may get past."""
    text = details(exc)
    return any(t in text for t in TRANSIENT)


def describe(exc: BaseException) -> str:
    """A gRPC error in words, with the likely cause where one is known."""
    get_code = getattr(exc, "code", None)
    code = get_code() if callable(get_code) else None
    text = details(exc) if callable(getattr(exc, "details", None)) else str(exc)
    name = getattr(code, "name", None) or "ERROR"
    lower = text.lower()
    if name == "PERMISSION_DENIED" or "permission denied" in text:
        return "permission denied (%s); use the root client certificate for user and role management" % text
    if "certificate" in lower or "handshake" in lower or "ssl" in lower:
        return "TLS failure: %s (check that the CA, client certificate and key match and are not expired)" % text
    if "user name not found" in text:
        return ("%s (when it is the caller: the client certificate's common name must be an etcd user; "
                "user and role management need the root client certificate)" % text)
    if name == "DEADLINE_EXCEEDED":
        return "timed out"
    return "%s: %s" % (name, text)


def with_diff(result: dict[str, Any], diff: bool, before: object, after: object) -> dict[str, Any]:
    """``result`` with Ansible's diff when the run asked for one (facts only, never secrets)."""
    if diff:
        result["diff"] = {"before": before, "after": after}
    return result


def connection_facts(result: dict[str, Any], endpoint: str | None, down: dict[str, str]) -> dict[str, Any]:
    """``result`` with the endpoint that served the call and the ones that did not answer."""
    result.setdefault("endpoint", endpoint)
    if down:
        result["unreachable_endpoints"] = dict(down)
    return result
