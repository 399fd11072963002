# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Keep or re-issue: the one engine behind the etcd and the tenant certificate sets.

Given what exists (PEM text as it was read back) and what is wanted, the engine keeps
valid material byte-for-byte or issues new material, and records for each item why it
changed, with before/after certificate facts for diffs (never keys).

The policy for existing material that cannot be used:

- a **leaf** (certificate and key, or a kubeconfig with its embedded client certificate)
  that is unreadable, incomplete or wrong is re-issued; the reason says why, e.g.
  ``unreadable (certificate cannot be parsed)``. Its old key is reused when it still
  matches the certificate and the key algorithm is unchanged.
- a **CA** that is unreadable, incomplete, whose key does not match, or that has expired
  fails the run, naming the item and the fix: a silently replaced CA breaks every client
  that trusts it. Only a CA that nobody holds is created; one is replaced only on request
  (``rotate``).
- where several copies of one CA exist (the etcd members), a usable copy is the CA and
  the other copies are rewritten; the run fails only when copies exist and none is usable.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, Optional

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki
from ansible_collections.kamaji.core.plugins.module_utils.pki.kubeconfig import (
    KubeconfigError,
    parse_kubeconfig,
    render_kubeconfig,
)
from ansible_collections.kamaji.core.plugins.module_utils.pki.policy import Policy

if TYPE_CHECKING:
    from ansible_collections.kamaji.core.plugins.module_utils.pki.x509 import Certificate, PrivateKey

Facts = Optional[dict[str, object]]  # noqa: UP045 - evaluated at import
# (certificate PEM, key PEM) as read back; either may be missing
HeldPem = tuple[Optional[str], Optional[str]]  # noqa: UP045 - evaluated at import


class Pair(NamedTuple):
    """A certificate and its key, parsed, with the PEM text they came from (or were written as)."""

    cert: Certificate
    key: PrivateKey
    cert_pem: str
    key_pem: str


class Unreadable(Exception):
    """Existing material that is present but cannot be used; the message says what is wrong."""


def read_pair(cert_pem: str | None, key_pem: str | None) -> Pair | None:
    """The existing pair; None when both parts are absent, Unreadable when one is absent or unparsable."""
    if not cert_pem and not key_pem:
        return None
    if not cert_pem:
        raise Unreadable("certificate missing")
    if not key_pem:
        raise Unreadable("key missing")
    if not isinstance(cert_pem, str) or not isinstance(key_pem, str):
        raise Unreadable("not PEM text")
    try:
        return Pair(pki.parse_cert(cert_pem), pki.parse_key(key_pem), cert_pem, key_pem)
    except ValueError as exc:
        raise Unreadable(str(exc))


def new_pair(cert: Certificate, key: PrivateKey) -> Pair:
    return Pair(cert, key, pki.cert_to_pem(cert), pki.key_to_pem(key))


# ---------------------------------------------------------------- CAs

class CaChoice(NamedTuple):
    """The CA to sign with; ``reason`` is set when it is new, ``before`` holds the facts of a rotated one."""

    pair: Pair
    source: str | None
    reason: str | None
    before: Facts


def ca_problem(pair: Pair, now: datetime.datetime) -> str | None:
    """Why an existing, readable CA cannot sign; None when it can."""
    if not pki.public_keys_match(pair.cert, pair.key):
        return "the CA key does not match the CA certificate"
    if pair.cert.not_valid_after_utc <= now:
        return "the CA certificate expired on %s" % pki.iso(pair.cert.not_valid_after_utc)
    return None


def choose_ca(copies: Mapping[str, HeldPem], common_name: str, policy: Policy, now: datetime.datetime, *,
              label: str, fix: str, missing_reason: str = "missing", rotate: bool = False) -> CaChoice:
    """The CA among ``copies`` ({where: (cert PEM, key PEM)}): the first usable copy, in order.

    No copy at all: a new CA (``missing_reason``). ``rotate``: a new CA in any case. Copies
    present but none usable: PKIError ``<label>: ...; <fix>`` naming every copy's problem.
    """
    problems: list[tuple[str, str]] = []
    present = False
    old: Pair | None = None
    for where, (cert_pem, key_pem) in copies.items():
        try:
            pair = read_pair(cert_pem, key_pem)
        except Unreadable as exc:
            present = True
            problems.append((where, "unreadable (%s)" % exc))
            continue
        if pair is None:
            continue
        present = True
        old = old or pair
        problem = ca_problem(pair, now)
        if problem:
            problems.append((where, problem))
        elif not rotate:
            return CaChoice(pair, where, None, None)
    if present and not rotate:
        if list(copies) == [label]:  # one copy, named like the item: "<item>: <problem>; <fix>"
            raise pki.PKIError("%s: %s; %s" % (label, problems[0][1], fix))
        raise pki.PKIError("%s: no usable copy of the CA (%s); %s"
                           % (label, "; ".join("%s: %s" % p for p in problems), fix))
    key = pki.generate_key(policy.key_algorithm)
    cert = pki.issue_ca(common_name, key, policy.ca_days, now)
    reason = "rotated on request" if present else missing_reason
    return CaChoice(new_pair(cert, key), None, reason, pki.cert_facts(old.cert) if old else None)


# ---------------------------------------------------------------- the engine

class Engine:
    """Keeps or re-issues the items of one set (a tenant, or one etcd member) and records why."""

    def __init__(self, policy: Policy, now: datetime.datetime | None = None) -> None:
        self.policy = policy
        self.now = now or pki.utcnow()
        self.changed: dict[str, str] = {}
        self.before: dict[str, Facts] = {}
        self.after: dict[str, Facts] = {}

    def record(self, item: str, reason: str, before: Facts, after: Facts) -> None:
        self.changed[item] = reason
        self.before[item] = before
        self.after[item] = after

    # -- CAs

    def ca(self, item: str, held: HeldPem, common_name: str, *, fix: str, rotate: bool = False) -> Pair:
        """Keep the CA ``item`` or create it when missing (or on ``rotate``); fail on an unusable one."""
        choice = choose_ca({item: held}, common_name, self.policy, self.now, label=item, fix=fix, rotate=rotate)
        if choice.reason:
            self.record(item, choice.reason, choice.before, pki.cert_facts(choice.pair.cert))
        return choice.pair

    def ca_copy(self, item: str, held: HeldPem, choice: CaChoice) -> None:
        """Record a copy of the chosen CA that must be (re)written: missing, unreadable or another CA."""
        if held == (choice.pair.cert_pem, choice.pair.key_pem):
            return
        before: Facts = None
        try:
            old = read_pair(*held)
        except Unreadable as exc:
            reason = "unreadable (%s)" % exc
        else:
            if old is None:
                reason = "missing"
            else:
                reason = "differs from the cluster CA"
                before = pki.cert_facts(old.cert)
        self.record(item, choice.reason or reason, before, pki.cert_facts(choice.pair.cert))

    # -- leaves

    def _reasons(self, old: Pair, spec: pki.LeafSpec, issuer: Pair) -> list[str]:
        why = pki.leaf_reissue_reasons(old.cert, old.key, spec, issuer.cert, self.policy.renew_before, self.now)
        if pki.key_algorithm_of(old.key) != self.policy.key_algorithm:
            why.append("key algorithm changed")
        return why

    def _issue(self, spec: pki.LeafSpec, issuer: Pair, old: Pair | None) -> Pair:
        """A new certificate; the old key is reused when it matches and its algorithm is still wanted."""
        if (old is not None and pki.public_keys_match(old.cert, old.key)
                and pki.key_algorithm_of(old.key) == self.policy.key_algorithm):
            key, key_pem = old.key, old.key_pem
        else:
            key = pki.generate_key(self.policy.key_algorithm)
            key_pem = pki.key_to_pem(key)
        cert = pki.issue_leaf(spec, key, issuer.cert, issuer.key, self.policy.leaf_days, self.now)
        return Pair(cert, key, pki.cert_to_pem(cert), key_pem)

    def leaf(self, item: str, held: HeldPem, spec: pki.LeafSpec, issuer: Pair) -> Pair:
        """Keep the leaf ``item`` byte-for-byte when valid, else re-issue it and record why."""
        try:
            old = read_pair(*held)
        except Unreadable as exc:
            old, reason = None, "unreadable (%s)" % exc
        else:
            reason = "missing"
        if old is not None:
            why = self._reasons(old, spec, issuer)
            if not why:
                return old
            reason = "; ".join(why)
        new = self._issue(spec, issuer, old)
        self.record(item, reason, pki.cert_facts(old.cert) if old else None, pki.cert_facts(new.cert))
        return new

    def kubeconfig(self, item: str, text: str | None, spec: pki.LeafSpec, issuer: Pair, *,
                   cluster: str, server: str, user: str) -> str:
        """Keep the kubeconfig ``item`` byte-for-byte when its client certificate, server, CA and
        user are still right, else render it anew and record why."""
        old: Pair | None = None
        reason = "missing"
        if text:
            try:
                parsed = parse_kubeconfig(text)
                old = read_pair(parsed["client_cert"], parsed["client_key"])
                if old is None:
                    raise Unreadable("no client credentials")
            except KubeconfigError as exc:
                reason = "unreadable (kubeconfig %s)" % exc
            except Unreadable as exc:
                reason = "unreadable (client %s)" % exc
        if old is not None:
            why = self._reasons(old, spec, issuer)
            if parsed["server"] != server:
                why.append("server changed to %s" % server)
            if parsed["ca"].strip() != issuer.cert_pem.strip():
                why.append("CA changed")
            if parsed["user"] != user:
                why.append("user name changed")
            if not why:
                return str(text)
            reason = "; ".join(why)
        new = self._issue(spec, issuer, old)
        self.record(item, reason, pki.cert_facts(old.cert) if old else None,
                    dict(pki.cert_facts(new.cert) or {}, server=server))
        return render_kubeconfig(cluster=cluster, server=server, ca_pem=issuer.cert_pem, user=user,
                                 client_cert_pem=new.cert_pem, client_key_pem=new.key_pem)
