# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The certificate set of a multi-tenant etcd cluster, kept stable across runs.

One CA; per member a server certificate (client URLs) and a peer certificate (peer URLs),
both carrying the member's names and addresses as SANs; per member a client certificate
for the etcd ``root`` user (the credentials that manage tenants). ``reconcile`` takes
what the members hold today and returns the complete set plus what changed and why.
Valid material comes back byte-for-byte, so a re-run writes nothing.

Every member holds a copy of the cluster CA. A usable copy on any member is the cluster
CA (other members' missing, unreadable or foreign copies are rewritten); when copies exist
but none is usable the run fails naming the members; only when no member holds any CA
material is a new CA created. Unreadable leaves are re-issued (``pki/engine``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.pki import engine
from ansible_collections.kamaji.core.plugins.module_utils.pki import policy as pki_policy
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

MEMBER_ITEMS = ("server", "peer", "root")
MEMBER_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
CA_FIX = ("restore ca.crt and ca.key on a member from a backup (or pass the pair as the ca option); "
          "a new CA is created only when no member holds any, and every etcd client must then trust it")

# {member: {file name: PEM}}
MemberFiles = Mapping[str, Mapping[str, str]]


class Spec:
    """Validated inputs; every error names the option and the fix."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        err = pki.PKIError
        self.policy = pki_policy.validity(params)
        self.ca_common_name: str = params.get("ca_common_name") or "etcd-ca"
        self.root_user: str = params.get("root_user") or "root"
        members = params.get("members") or []
        if not members:
            raise err("members: at least one etcd member is required (name and addresses)")
        # member name -> (DNS SANs, IP SANs)
        self.members: dict[str, tuple[list[str], list[net.IPAddress]]] = {}
        for i, member in enumerate(members):
            name = str(member.get("name") or "")
            if not MEMBER_NAME.match(name):
                raise err("members[%d].name: %r is not a valid member name (letters, digits, '-', '_', '.'; "
                          "at most 63 characters)" % (i, name))
            if name in self.members:
                raise err("members[%d].name: %r appears twice; every etcd member needs its own name" % (i, name))
            addresses = [net.host(a, "members[%d].addresses" % i, underscore=True, error=err)
                         for a in (member.get("addresses") or [])]
            if not addresses:
                raise err("members[%d].addresses: required, the IP addresses or DNS names clients and peers "
                          "use to reach %s" % (i, name))
            self.members[name] = net.split_names([name, "localhost", "127.0.0.1", "::1", *addresses])


def leaf_specs(spec: Spec, name: str) -> dict[str, pki.LeafSpec]:
    dns, ips = spec.members[name]
    both = (pki.SERVER_AUTH, pki.CLIENT_AUTH)
    return {
        # etcd's own gateway dials the client port with the server certificate: it needs both usages
        "server": pki.LeafSpec(name, usages=both, dns_names=dns, ip_addresses=ips),
        "peer": pki.LeafSpec(name, usages=both, dns_names=dns, ip_addresses=ips),
        "root": pki.LeafSpec(spec.root_user),
    }


def _held(files: Mapping[str, str] | None, item: str) -> engine.HeldPem:
    files = files or {}
    return files.get(item + ".crt"), files.get(item + ".key")


def _given_ca(ca: Mapping[str, str | None], now: datetime.datetime) -> engine.CaChoice:
    """The CA passed as the ``ca`` option: it must be a usable pair."""
    try:
        pair = engine.read_pair(ca.get("cert"), ca.get("key"))
    except engine.Unreadable:
        pair = None
    if pair is None:
        raise pki.PKIError("ca: cert and key are both required and must be PEM")
    if not pki.public_keys_match(pair.cert, pair.key):
        raise pki.PKIError("ca: the key does not match the certificate; give the matching pair")
    problem = engine.ca_problem(pair, now)
    if problem:
        raise pki.PKIError("ca: %s; give a valid CA" % problem)
    return engine.CaChoice(pair, "ca", None, None)


def _cluster_ca(spec: Spec, existing: MemberFiles, now: datetime.datetime) -> engine.CaChoice:
    """The first usable CA copy of the members (in their order, then any other holder), else a new CA
    when nobody holds CA material; fails when copies exist and none is usable."""
    holders = list(spec.members) + sorted(set(existing) - set(spec.members))
    copies = {"%s (ca.crt, ca.key)" % name: _held(existing.get(name), "ca") for name in holders}
    return engine.choose_ca(copies, spec.ca_common_name, spec.policy, now, label="existing", fix=CA_FIX,
                            missing_reason="missing on every member")


def reconcile(params: Mapping[str, Any], existing: MemberFiles | None,
              ca: Mapping[str, str | None] | None = None, now: datetime.datetime | None = None,
              ) -> tuple[dict[str, Any], dict[str, dict[str, str]], dict[str, dict[str, dict[str, engine.Facts]]]]:
    """Return (material, changed, diff).

    ``existing``: {member: {"ca.crt": pem, "ca.key": pem, "server.crt": ..., ...}} as read
    from the members' PKI directories (any subset).
    ``material``: {"ca": {"cert", "key"}, "members": {member: {file name: pem}}}, every file.
    ``changed``: {member: {item: reason}} for what must be written.
    ``diff``: {"before": {member: {item: facts}}, "after": ...} for the changed items.
    """
    spec = Spec(params)
    now = now or pki.utcnow()
    existing = existing or {}
    if ca and (ca.get("cert") or ca.get("key")):
        choice = _given_ca(ca, now)
    else:
        choice = _cluster_ca(spec, existing, now)
    cluster_ca = choice.pair
    members: dict[str, dict[str, str]] = {}
    changed: dict[str, dict[str, str]] = {}
    before: dict[str, dict[str, engine.Facts]] = {}
    after: dict[str, dict[str, engine.Facts]] = {}
    for name in spec.members:
        held = existing.get(name) or {}
        eng = engine.Engine(spec.policy, now)
        eng.ca_copy("ca", _held(held, "ca"), choice)
        out = {"ca.crt": cluster_ca.cert_pem, "ca.key": cluster_ca.key_pem}
        for item, leaf in leaf_specs(spec, name).items():
            pair = eng.leaf(item, _held(held, item), leaf, cluster_ca)
            out[item + ".crt"], out[item + ".key"] = pair.cert_pem, pair.key_pem
        members[name] = out
        if eng.changed:
            changed[name], before[name], after[name] = eng.changed, eng.before, eng.after
    material = {"ca": {"cert": cluster_ca.cert_pem, "key": cluster_ca.key_pem}, "members": members}
    return material, changed, {"before": before, "after": after}


def facts(material: Mapping[str, Any]) -> dict[str, Any]:
    """Certificate facts (no keys) for the result."""
    out: dict[str, Any] = {"ca": pki.cert_facts(pki.load_cert(material["ca"]["cert"], "ca")), "members": {}}
    for name, files in material["members"].items():
        out["members"][name] = {item: pki.cert_facts(pki.load_cert(files[item + ".crt"], item))
                                for item in MEMBER_ITEMS}
    return out
