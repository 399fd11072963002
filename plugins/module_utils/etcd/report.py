# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""What the etcd modules tell the user: the error type, gRPC failures put into words,
which failures are worth a retry, and the shape of a module's result.

Every other file of the etcd wing raises ``EtcdError``; it lives here, at the bottom of
the wing, so that names, wire and client can all import it without a cycle.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

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


def code_name(exc: BaseException) -> str:
    """The gRPC status code's name of an error ('' when it has none)."""
    get_code = getattr(exc, "code", None)
    code = get_code() if callable(get_code) else None
    return str(getattr(code, "name", "") or "")


def is_tls(exc: BaseException) -> bool:
    """True for a failure of the TLS layer (refused certificate, untrusted server...)."""
    lower = (details(exc) or str(exc)).lower()
    return any(t in lower for t in ("certificate", "handshake", "ssl", "secure read", "tls", "decrypt"))


def last_error(exc: BaseException) -> str:
    """gRPC's own words without its preamble ('failed to connect to all addresses; last error: ...')."""
    text = details(exc) or str(exc)
    return text.rsplit("last error: ", 1)[-1].strip()


def is_network(exc: BaseException) -> bool:
    """True when the endpoint was not reached at all (refused, timed out, unreachable)."""
    return reason(exc, 0).startswith(("connection refused", "no answer within", "host unreachable"))


def may_be_quorum(exc: BaseException) -> bool:
    """True for a failure that a cluster without quorum (no leader) produces: the request
    times out, or etcd says there is no leader."""
    text = details(exc).lower()
    return (code_name(exc) in ("DEADLINE_EXCEEDED", "UNAVAILABLE") and not is_tls(exc)) or any(
        t in text for t in ("request timed out", "no leader", "leader changed"))


def reason(exc: BaseException, timeout: float) -> str:
    """Why one endpoint did not answer, in a few words."""
    text = details(exc) or str(exc)
    lower = text.lower()
    if "connection refused" in lower:
        return "connection refused: etcd does not run there"
    if code_name(exc) == "DEADLINE_EXCEEDED" or "timeout" in lower or "timed out" in lower:
        return "no answer within %gs" % timeout
    if "no route" in lower or "unreachable" in lower:
        return "host unreachable"
    if is_tls(exc):
        return "TLS failure"
    return text.splitlines()[0][:120] if text else code_name(exc) or "error"


# ------------------------------------------------------------------ lost quorum

@dataclass
class Probe:
    """What one member (or configured endpoint) said when asked for its status."""

    endpoint: str
    name: str = ""        # member name, '' when not known
    error: str = ""       # why it did not answer; '' when it answered
    leader: bool = False  # it answered and knows a leader
    learner: bool = False  # a learner does not vote


def majority(voters: int) -> int:
    return voters // 2 + 1


def _who(probe: Probe) -> str:
    return "%s at %s" % (probe.name, probe.endpoint) if probe.name else probe.endpoint


RECOVER = ("Fix: start the stopped etcd members (on their hosts: systemctl start etcd) and check that they "
           "reach each other on the peer port (2380); if a majority cannot come back, restore from a snapshot "
           "(playbook kamaji.core.etcd_maintenance --tags restore -e etcd_restore_snapshot=<file>; "
           "docs/etcd.md, 'When etcd fails')")


def quorum_report(failure: str, probes: Sequence[Probe], members_known: bool, seconds: float,
                  probe_timeout: float) -> str:
    """``failure`` explained by the state of the members: lost quorum (which members do not
    answer, which do), no leader, or a cluster that looks healthy again.

    ``members_known`` is False when the member list could not be read: the verdict is then
    a guess from the configured endpoints and says so."""
    voters = sorted((p for p in probes if not p.learner), key=lambda p: (p.name, p.endpoint))
    up = [p for p in voters if not p.error]
    down = [p for p in voters if p.error]
    need = majority(len(voters))
    scope = "" if members_known else (" (a guess from the configured endpoints: the member list could not be "
                                      "read, so members not in endpoints are not counted)")
    took = " (each member asked for its status with a %gs timeout, %.1fs in all)" % (probe_timeout, seconds)
    if len(up) < need:
        verdict = "etcd has %s quorum%s: %d of %d voting members answer, a %d-member cluster needs %d" % (
            "lost" if members_known else "probably lost", scope, len(up), len(voters), len(voters), need)
    elif not any(p.leader for p in up):
        verdict = ("etcd has no leader although %d of %d voting members answer (an election in progress, or "
                   "members that cannot reach each other on the peer port)%s" % (len(up), len(voters), scope))
    else:
        return "%s; the cluster has a leader and %d of %d voting members answer now: the failure was " \
               "probably transient, retry (or raise timeout)%s" % (failure, len(up), len(voters), took)
    parts = [failure, verdict]
    if down:
        parts.append("Not answering: %s" % ", ".join("%s (%s)" % (_who(p), p.error) for p in down))
    if up:
        answering = ["%s (%s)" % (_who(p), "sees a leader" if p.leader else "no leader") for p in up]
        parts.append("Answering: %s" % ", ".join(answering))
    parts.append(RECOVER)
    return ". ".join(parts) + took


# ------------------------------------------------------------------ refused credentials

PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def certificates(pem: bytes) -> list[Any]:
    """Every certificate in ``pem`` (a bundle), skipping blocks that do not parse."""
    out = []
    for block in PEM_CERT.findall(pem):
        try:
            out.append(pki.parse_cert(block))
        except ValueError:
            continue
    return out


def _subject(cert: Any) -> str:
    return "CN=%s" % pki.name_parts(cert.subject)[0]


def _validity(option: str, where: str, cert: Any, now: datetime.datetime, fix: str) -> list[str]:
    if cert.not_valid_after_utc < now:
        return ["%s: %s: expired on %s (%s); %s" % (option, where, pki.iso(cert.not_valid_after_utc),
                                                    _subject(cert), fix)]
    if cert.not_valid_before_utc > now:
        return ["%s: %s: not valid before %s (%s): check the clock of this host and of the one that issued it"
                % (option, where, pki.iso(cert.not_valid_before_utc), _subject(cert))]
    return []


def credential_problems(material: Mapping[str, bytes], sources: Mapping[str, str],
                        now: datetime.datetime | None = None) -> list[str]:
    """What is wrong with the client TLS material, one sentence per problem naming the
    option, where it came from (the path, or 'inline PEM'), the reason and the fix.

    ``material`` maps ca_cert/client_cert/client_key to PEM bytes, ``sources`` to how they
    were given. Never prints key material. Empty when nothing is wrong (or cryptography is
    missing: the check is a diagnosis, not a gate)."""
    if not pki.CRYPTOGRAPHY.ok:
        return []
    now = now or pki.utcnow()
    renew = ("issue a new one with the cluster's CA (the etcd role re-issues expiring certificates: rerun "
             "the kamaji.core.etcd playbook) and point %s at it")
    problems: list[str] = []
    cas = certificates(material.get("ca_cert", b""))
    if not cas:
        problems.append("ca_cert: %s: holds no PEM certificate; give the etcd cluster's CA certificate"
                        % sources.get("ca_cert", "inline PEM"))
    for ca in cas:
        problems += _validity("ca_cert", sources.get("ca_cert", ""), ca, now, "the cluster's CA must be renewed")
    chain = certificates(material.get("client_cert", b""))
    where = sources.get("client_cert", "inline PEM")
    if not chain:
        return problems + ["client_cert: %s: holds no PEM certificate; give the client certificate (CN root "
                           "for user and role management)" % where]
    leaf = chain[0]
    problems += _validity("client_cert", where, leaf, now, renew % "client_cert")
    issuers = cas + chain[1:]
    if cas and not any(pki.signed_by(leaf, ca) for ca in issuers):
        problems.append("client_cert: %s: not signed by the CA in ca_cert %s (%s issued by CN=%s); give a client "
                        "certificate issued by the etcd cluster's CA, or the CA that issued it"
                        % (where, sources.get("ca_cert", ""), _subject(leaf), pki.name_parts(leaf.issuer)[0]))
    try:
        key = pki.parse_key(material.get("client_key", b""))
    except ValueError as exc:
        problems.append("client_key: %s: the private %s (an unencrypted PEM key is needed)"
                        % (sources.get("client_key", "inline PEM"), exc))
    else:
        if not pki.public_keys_match(leaf, key):
            # the key's path is not repeated: Ansible masks every no_log value in messages
            problems.append("client_key does not match client_cert (%s); give the key the certificate was "
                            "issued for" % where)
    return problems


def _names(dns: Sequence[str], ips: Sequence[net.IPAddress], host: str) -> bool:
    """True when a certificate with these SANs is valid for ``host`` (one-label wildcards)."""
    address = net.ip(host)
    if address is not None:
        return address in ips
    name = host.lower().rstrip(".")
    return any(d == name or (d.startswith("*.") and name.endswith(d[1:]) and "." not in name[:-len(d) + 1])
               for d in dns)


def server_problems(endpoint: str, host: str, server_pem: bytes, material: Mapping[str, bytes],
                    sources: Mapping[str, str], now: datetime.datetime | None = None) -> list[str]:
    """What is wrong with the certificate an etcd member presented at ``endpoint``: not
    signed by ca_cert, expired, or not naming ``host``."""
    if not pki.CRYPTOGRAPHY.ok:
        return []
    now = now or pki.utcnow()
    chain = certificates(server_pem)
    if not chain:
        return []
    leaf, where = chain[0], sources.get("ca_cert", "inline PEM")
    problems = _validity("server certificate of %s" % endpoint, "presented by etcd", leaf, now,
                         "renew the etcd member certificates (rerun the kamaji.core.etcd playbook)")
    cas = certificates(material.get("ca_cert", b""))
    if cas and not any(pki.signed_by(leaf, ca) for ca in cas + chain[1:]):
        problems.append("ca_cert: %s: the server certificate of %s (%s issued by CN=%s) is not signed by the CA "
                        "in ca_cert; give the CA of this etcd cluster (on its members: "
                        "/etc/kamaji/etcd/pki/ca.crt)" % (where, endpoint, _subject(leaf),
                                                          pki.name_parts(leaf.issuer)[0]))
    dns, ips = pki.cert_sans(leaf)
    if not _names(dns, ips, host):
        problems.append("server certificate of %s: does not name %s (its names: %s); use an endpoint address "
                        "the member certificate holds, or re-issue it with that address"
                        % (endpoint, host, ", ".join(dns + [str(i) for i in ips]) or "none"))
    return problems


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
