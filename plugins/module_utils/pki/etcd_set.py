# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The certificate set of a multi-tenant etcd cluster, kept stable across runs.

One CA; per member a server certificate (client URLs) and a peer certificate (peer URLs),
both carrying the member's names and addresses as SANs; per member a client certificate
for the etcd ``root`` user (the credentials that manage tenants). ``reconcile`` takes
what the members hold today and returns the complete set plus what changed and why.
Valid material comes back byte-for-byte, so a re-run writes nothing.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

MEMBER_ITEMS = ("server", "peer", "root")
MEMBER_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9_]*[a-z0-9])?)*$")


class Spec:
    """Validated inputs; every error names the option and the fix."""

    def __init__(self, params):
        err = pki.PKIError
        self.key_algorithm = params.get("key_algorithm") or "ecdsa-p256"
        if self.key_algorithm not in pki.KEY_ALGORITHMS:
            raise err("key_algorithm: must be one of %s" % ", ".join(pki.KEY_ALGORITHMS))
        self.ca_days = int(params.get("ca_validity_days") or 3650)
        self.leaf_days = int(params.get("leaf_validity_days") or 365)
        renew = params.get("renewal_window_days")
        self.renew_days = int(30 if renew is None else renew)
        if self.leaf_days < 1 or self.ca_days < 1:
            raise err("ca_validity_days / leaf_validity_days: must be at least 1")
        if self.renew_days < 0 or self.renew_days >= self.leaf_days:
            raise err("renewal_window_days: must be between 0 and leaf_validity_days - 1 (%d), otherwise "
                      "every run re-issues every certificate" % (self.leaf_days - 1))
        self.ca_common_name = params.get("ca_common_name") or "etcd-ca"
        self.root_user = params.get("root_user") or "root"
        members = params.get("members") or []
        if not members:
            raise err("members: at least one etcd member is required (name and addresses)")
        self.members = {}
        for i, member in enumerate(members):
            name = str(member.get("name") or "")
            if not MEMBER_NAME.match(name):
                raise err("members[%d].name: %r is not a valid member name (letters, digits, '-', '_', '.'; "
                          "at most 63 characters)" % (i, name))
            if name in self.members:
                raise err("members[%d].name: %r appears twice; every etcd member needs its own name" % (i, name))
            addresses = [str(a) for a in (member.get("addresses") or [])]
            if not addresses:
                raise err("members[%d].addresses: required, the IP addresses or DNS names clients and peers "
                          "use to reach %s" % (i, name))
            for address in addresses:
                if not _valid_host(address):
                    raise err("members[%d].addresses: %r is neither an IP address nor a DNS name" % (i, address))
            self.members[name] = pki.normalize_sans([name, "localhost", "127.0.0.1", "::1"] + addresses)


def _valid_host(value):
    return pki.is_ip_or_dns_name(value, DNS_NAME)


def leaf_specs(spec, name):
    dns, ips = spec.members[name]
    both = (pki.SERVER_AUTH, pki.CLIENT_AUTH)
    return {
        # etcd's own gateway dials the client port with the server certificate: it needs both usages
        "server": pki.LeafSpec(name, usages=both, dns_names=dns, ip_addresses=ips),
        "peer": pki.LeafSpec(name, usages=both, dns_names=dns, ip_addresses=ips),
        "root": pki.LeafSpec(spec.root_user),
    }


def _pair(files, item):
    """(cert, key) of ``item`` from a member's files {"<item>.crt": pem, "<item>.key": pem}."""
    files = files or {}
    cert, key = files.get(item + ".crt"), files.get(item + ".key")
    if not cert or not key:
        return None, None
    try:
        return pki.load_cert(cert, item), pki.load_key(key, item)
    except pki.PKIError:
        # unreadable material is replaced, like missing material
        return None, None


def _choose_ca(spec, ca, existing, now):
    """The CA every member must carry: the given one, else the first valid one a member holds,
    else a new one. Returns (cert, key, pem pair, reason when new)."""
    if ca and (ca.get("cert") or ca.get("key")):
        cert, key = _pair({"ca.crt": ca.get("cert"), "ca.key": ca.get("key")}, "ca")
        if cert is None:
            raise pki.PKIError("ca: cert and key are both required and must be PEM")
        if not pki.public_keys_match(cert, key):
            raise pki.PKIError("ca: the key does not match the certificate; give the matching pair")
        return cert, key, {"cert": ca["cert"], "key": ca["key"]}, None
    for name in spec.members:
        held = existing.get(name) or {}
        cert, key = _pair(held, "ca")
        if cert is not None and pki.public_keys_match(cert, key) and cert.not_valid_after_utc > now:
            return cert, key, {"cert": held["ca.crt"], "key": held["ca.key"]}, None
    key = pki.generate_key(spec.key_algorithm)
    cert = pki.issue_ca(spec.ca_common_name, key, spec.ca_days, now)
    return cert, key, {"cert": pki.cert_to_pem(cert), "key": pki.key_to_pem(key)}, "missing on every member"


def reconcile(params, existing, ca=None, now=None):
    """Return (material, changed, diff).

    ``existing``: {member: {"ca.crt": pem, "ca.key": pem, "server.crt": ..., ...}} as read
    from the members' PKI directories (any subset).
    ``material``: {"ca": {"cert", "key"}, "members": {member: {file name: pem}}}, every file.
    ``changed``: {member: {item: reason}} for what must be written.
    """
    spec = Spec(params)
    now = now or pki.utcnow()
    existing = existing or {}
    renew_before = datetime.timedelta(days=spec.renew_days)
    ca_cert, ca_key, ca_pem, ca_reason = _choose_ca(spec, ca, existing, now)
    material = {"ca": ca_pem, "members": {}}
    changed = {}
    before, after = {}, {}
    for name in spec.members:
        held = existing.get(name) or {}
        out = {"ca.crt": ca_pem["cert"], "ca.key": ca_pem["key"]}
        reasons = {}
        if held.get("ca.crt") != ca_pem["cert"] or held.get("ca.key") != ca_pem["key"]:
            reasons["ca"] = ca_reason or ("missing" if not held.get("ca.crt") else "differs from the cluster CA")
        for item, leaf in leaf_specs(spec, name).items():
            old_cert, old_key = _pair(held, item)
            if old_cert is not None:
                why = pki.leaf_reissue_reasons(old_cert, old_key, leaf, ca_cert, renew_before, now)
                if pki.key_algorithm_of(old_key) != spec.key_algorithm:
                    why.append("key algorithm changed")
                if not why:
                    out[item + ".crt"], out[item + ".key"] = held[item + ".crt"], held[item + ".key"]
                    continue
                reason = "; ".join(why)
                keep = pki.public_keys_match(old_cert, old_key) and pki.key_algorithm_of(old_key) == spec.key_algorithm
                key = old_key if keep else pki.generate_key(spec.key_algorithm)
            else:
                reason = "missing or unreadable"
                key = pki.generate_key(spec.key_algorithm)
            cert = pki.issue_leaf(leaf, key, ca_cert, ca_key, spec.leaf_days, now)
            out[item + ".crt"], out[item + ".key"] = pki.cert_to_pem(cert), pki.key_to_pem(key)
            reasons[item] = reason
            before.setdefault(name, {})[item] = pki.cert_facts(old_cert)
            after.setdefault(name, {})[item] = pki.cert_facts(cert)
        material["members"][name] = out
        if reasons:
            changed[name] = reasons
    return material, changed, {"before": before, "after": after}


def facts(material):
    """Certificate facts (no keys) for the result."""
    out = {"ca": pki.cert_facts(pki.load_cert(material["ca"]["cert"], "ca")), "members": {}}
    for name, files in material["members"].items():
        out["members"][name] = {item: pki.cert_facts(pki.load_cert(files[item + ".crt"], item))
                                for item in MEMBER_ITEMS}
    return out
