# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The certificate set of one tenant control plane, kept stable across runs.

``reconcile(params, existing)`` takes the wanted spec and the material returned last
time (or read back from the admin cluster's Secrets) and returns the complete set plus
the list of items that changed. Valid existing material comes back byte-for-byte.
"""

from __future__ import annotations

import datetime
import ipaddress
import re

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki
from ansible_collections.kamaji.core.plugins.module_utils.pki.kubeconfig import (
    KubeconfigError,
    parse_kubeconfig,
    render_kubeconfig,
)

CERT_ITEMS = (
    "ca",
    "front-proxy-ca",
    "apiserver",
    "apiserver-kubelet-client",
    "front-proxy-client",
    "apiserver-etcd-client",
)
KUBECONFIG_ITEMS = {
    # item: (user name in the kubeconfig, CN, organizations, uses the internal server URL)
    "admin.conf": ("kubernetes-admin", "kubernetes-admin", ("kubeadm:cluster-admins",), False),
    "super-admin.conf": ("kubernetes-super-admin", "kubernetes-super-admin", ("system:masters",), False),
    "controller-manager.conf": ("system:kube-controller-manager", "system:kube-controller-manager", (), True),
    "scheduler.conf": ("system:kube-scheduler", "system:kube-scheduler", (), True),
}
ALL_ITEMS = CERT_ITEMS + ("sa",) + tuple(KUBECONFIG_ITEMS)
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_NAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class Spec:
    """Validated inputs. Every error names the option and how to fix it."""

    def __init__(self, params):
        err = pki.PKIError
        self.name = params["name"]
        if not self.name or not DNS1123_LABEL.match(self.name):
            raise err("name: %r is not a DNS-1123 label (lower-case letters, digits and '-', "
                      "at most 63 characters, starting and ending alphanumeric)" % (self.name,))
        endpoint = params.get("endpoint") or {}
        self.address = str(endpoint.get("address") or "").strip()
        if not self.address:
            raise err("endpoint.address: required (the IP or DNS name workers and users reach)")
        if not _valid_host(self.address):
            raise err("endpoint.address: %r is neither an IP address nor a DNS name" % self.address)
        self.port = _port(endpoint.get("port", 6443), "endpoint.port")
        self.bind_port = _port(params.get("apiserver_bind_port") or 6443, "apiserver_bind_port")
        self.extra_sans = [str(s) for s in (params.get("extra_sans") or [])]
        for san in self.extra_sans:
            if not _valid_host(san):
                raise err("extra_sans: %r is neither an IP address nor a DNS name" % san)
        cidrs = params.get("service_cidrs") or ["10.96.0.0/16"]
        self.service_ips = []
        for cidr in cidrs:
            try:
                net = ipaddress.ip_network(str(cidr), strict=True)
            except ValueError as exc:
                raise err("service_cidrs: %r is not a valid network (%s); write it as "
                          "<network address>/<prefix>, e.g. 10.96.0.0/16" % (cidr, exc))
            if net.num_addresses < 4:
                raise err("service_cidrs: %s is too small to hold services" % cidr)
            self.service_ips.append(net.network_address + 1)
        self.cluster_domain = str(params.get("cluster_domain") or "cluster.local").lower()
        if not DNS_NAME.match(self.cluster_domain):
            raise err("cluster_domain: %r is not a DNS name" % self.cluster_domain)
        self.key_algorithm = params.get("key_algorithm") or "ecdsa-p256"
        if self.key_algorithm not in pki.KEY_ALGORITHMS:
            raise err("key_algorithm: must be one of %s" % ", ".join(pki.KEY_ALGORITHMS))
        self.ca_days = int(params.get("ca_validity_days") or 3650)
        self.leaf_days = int(params.get("leaf_validity_days") or 365)
        self.renew_days = int(params.get("renewal_window_days") if params.get("renewal_window_days") is not None else 30)
        if self.leaf_days < 1 or self.ca_days < 1:
            raise err("ca_validity_days / leaf_validity_days: must be at least 1")
        if self.renew_days < 0 or self.renew_days >= self.leaf_days:
            raise err("renewal_window_days: must be between 0 and leaf_validity_days - 1 "
                      "(%d), otherwise every run re-issues every certificate" % (self.leaf_days - 1))
        self.etcd_user = params.get("etcd_user") or self.name
        self.rotate_ca = bool(params.get("rotate_ca"))
        self.server = "https://%s:%d" % (_url_host(self.address), self.port)
        self.internal_server = "https://127.0.0.1:%d" % self.bind_port

    def apiserver_sans(self):
        names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc." + self.cluster_domain, "localhost", "127.0.0.1",
                 self.address] + [str(ip) for ip in self.service_ips] + self.extra_sans
        return pki.normalize_sans(names)


def _valid_host(value):
    return pki.is_ip_or_dns_name(value, DNS_NAME)


def _url_host(address):
    try:
        return "[%s]" % address if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        return address


def _port(value, field):
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise pki.PKIError("%s: %r is not a TCP port (1-65535)" % (field, value))
    return port


def leaf_specs(spec):
    dns, ips = spec.apiserver_sans()
    return {
        "apiserver": ("ca", pki.LeafSpec("kube-apiserver", usages=(pki.SERVER_AUTH,), dns_names=dns, ip_addresses=ips)),
        "apiserver-kubelet-client": ("ca", pki.LeafSpec("kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",))),
        "front-proxy-client": ("front-proxy-ca", pki.LeafSpec("front-proxy-client")),
        "apiserver-etcd-client": ("etcd-ca", pki.LeafSpec(spec.etcd_user)),
    }


class _State:
    def __init__(self, spec, existing, now):
        self.spec = spec
        self.existing = existing or {}
        self.now = now
        self.renew_before = datetime.timedelta(days=spec.renew_days)
        self.out = {}
        self.changed = {}      # item -> reason
        self.before = {}       # item -> facts (for diff)
        self.after = {}

    def record(self, item, reason, before, after):
        self.changed[item] = reason
        self.before[item] = before
        self.after[item] = after

    def _old_pair(self, item):
        old = self.existing.get(item) or {}
        if not old.get("cert") and not old.get("key"):
            return None, None
        if not old.get("cert") or not old.get("key"):
            return None, None
        return pki.load_cert(old["cert"], item), pki.load_key(old["key"], item)

    def reuse_or_new_key(self, old_key):
        if old_key is not None and pki.key_algorithm_of(old_key) == self.spec.key_algorithm:
            return old_key
        return pki.generate_key(self.spec.key_algorithm)


def _ca(state, item, common_name):
    old_cert, old_key = state._old_pair(item)
    if old_cert is not None and not pki.public_keys_match(old_cert, old_key):
        raise pki.PKIError("%s: the CA key does not match the CA certificate; restore the matching "
                           "pair or set rotate_ca: true to replace the CA (and every certificate)" % item)
    if old_cert is not None and not state.spec.rotate_ca:
        state.out[item] = dict(state.existing[item])
        return old_cert, old_key
    key = pki.generate_key(state.spec.key_algorithm)
    cert = pki.issue_ca(common_name, key, state.spec.ca_days, state.now)
    state.out[item] = {"cert": pki.cert_to_pem(cert), "key": pki.key_to_pem(key)}
    state.record(item, "rotated on request" if old_cert is not None else "missing",
                 pki.cert_facts(old_cert), pki.cert_facts(cert))
    return cert, key


def _leaf(state, item, leaf_spec, ca_cert, ca_key):
    old_cert, old_key = state._old_pair(item)
    if old_cert is not None:
        reasons = pki.leaf_reissue_reasons(old_cert, old_key, leaf_spec, ca_cert, state.renew_before, state.now)
        if pki.key_algorithm_of(old_key) != state.spec.key_algorithm:
            reasons.append("key algorithm changed")
        if not reasons:
            state.out[item] = dict(state.existing[item])
            return old_cert, old_key
        reason = "; ".join(reasons)
    else:
        reason = "missing"
    key = old_key if old_key is not None and pki.public_keys_match(old_cert, old_key) else None
    key = state.reuse_or_new_key(key)
    cert = pki.issue_leaf(leaf_spec, key, ca_cert, ca_key, state.spec.leaf_days, state.now)
    state.out[item] = {"cert": pki.cert_to_pem(cert), "key": pki.key_to_pem(key)}
    state.record(item, reason, pki.cert_facts(old_cert), pki.cert_facts(cert))
    return cert, key


def _service_account(state):
    old = state.existing.get("sa") or {}
    if old.get("key"):
        key = pki.load_key(old["key"], "sa")
        pub = pki.public_key_to_pem(key)
        if old.get("pub") == pub:
            state.out["sa"] = dict(old)
            return
        state.out["sa"] = {"key": old["key"], "pub": pub}
        state.record("sa", "public key re-derived", None, {"public_key": "derived from sa.key"})
        return
    # kubeadm's service-account keys are RSA; any supported algorithm signs tokens
    key = pki.generate_key("rsa-2048" if state.spec.key_algorithm.startswith("rsa") else state.spec.key_algorithm)
    state.out["sa"] = {"key": pki.key_to_pem(key), "pub": pki.public_key_to_pem(key)}
    state.record("sa", "missing", None, {"public_key": pki.key_algorithm_of(key)})


def _kubeconfig(state, item, ca_cert, ca_key, ca_pem):
    user, cn, orgs, internal = KUBECONFIG_ITEMS[item]
    server = state.spec.internal_server if internal else state.spec.server
    leaf_spec = pki.LeafSpec(cn, orgs)
    old_text = state.existing.get(item)
    old_cert = None
    reason = "missing"
    key = None
    if old_text:
        try:
            parsed = parse_kubeconfig(old_text)
        except KubeconfigError as exc:
            raise pki.PKIError("%s: existing kubeconfig cannot be parsed (%s); remove it from the "
                               "existing material to have it re-issued" % (item, exc))
        old_cert = pki.load_cert(parsed["client_cert"], item)
        old_key = pki.load_key(parsed["client_key"], item)
        reasons = pki.leaf_reissue_reasons(old_cert, old_key, leaf_spec, ca_cert, state.renew_before, state.now)
        if pki.key_algorithm_of(old_key) != state.spec.key_algorithm:
            reasons.append("key algorithm changed")
        if parsed["server"] != server:
            reasons.append("server changed to %s" % server)
        if parsed["ca"].strip() != ca_pem.strip():
            reasons.append("CA changed")
        if parsed["user"] != user:
            reasons.append("user name changed")
        if not reasons:
            state.out[item] = old_text
            return
        reason = "; ".join(reasons)
        if pki.public_keys_match(old_cert, old_key):
            key = old_key
    key = state.reuse_or_new_key(key)
    cert = pki.issue_leaf(leaf_spec, key, ca_cert, ca_key, state.spec.leaf_days, state.now)
    state.out[item] = render_kubeconfig(
        cluster=state.spec.name, server=server, ca_pem=ca_pem, user=user,
        client_cert_pem=pki.cert_to_pem(cert), client_key_pem=pki.key_to_pem(key),
    )
    before = dict(pki.cert_facts(old_cert) or {}) if old_cert is not None else None
    after = dict(pki.cert_facts(cert), server=server)
    state.record(item, reason, before, after)


def reconcile(params, existing=None, etcd_ca=None, now=None):
    """Return ``(material, changed)``.

    ``material`` has one entry per item of ALL_ITEMS plus ``ca_cert_hash``;
    ``changed`` maps each re-issued item to the reason, with ``diff`` facts.
    """
    if not pki.HAS_CRYPTOGRAPHY:  # pragma: no cover
        raise pki.PKIError("the cryptography Python library is required")
    spec = Spec(params)
    existing = existing or {}
    unknown = sorted(set(existing) - set(ALL_ITEMS) - {"ca_cert_hash"})
    if unknown:
        raise pki.PKIError("existing: unknown item(s) %s; known items are %s"
                           % (", ".join(unknown), ", ".join(ALL_ITEMS)))
    if not etcd_ca or not etcd_ca.get("cert") or not etcd_ca.get("key"):
        raise pki.PKIError("etcd_ca: cert and key of the etcd CA are required to sign the "
                           "apiserver-etcd-client certificate")
    etcd_cert = pki.load_cert(etcd_ca["cert"], "etcd_ca")
    etcd_key = pki.load_key(etcd_ca["key"], "etcd_ca")
    if not pki.public_keys_match(etcd_cert, etcd_key):
        raise pki.PKIError("etcd_ca: the key does not match the certificate; pass the etcd CA's own key")

    state = _State(spec, existing, now or pki.utcnow())
    cas = {
        "ca": _ca(state, "ca", "kubernetes"),
        "front-proxy-ca": _ca(state, "front-proxy-ca", "front-proxy-ca"),
        "etcd-ca": (etcd_cert, etcd_key),
    }
    for item, (issuer, leaf_spec) in leaf_specs(spec).items():
        ca_cert, ca_key = cas[issuer]
        _leaf(state, item, leaf_spec, ca_cert, ca_key)
    _service_account(state)
    ca_cert, ca_key = cas["ca"]
    ca_pem = state.out["ca"]["cert"]
    for item in KUBECONFIG_ITEMS:
        _kubeconfig(state, item, ca_cert, ca_key, ca_pem)
    state.out["ca_cert_hash"] = pki.spki_sha256(ca_cert)
    changed = {item: state.changed[item] for item in ALL_ITEMS if item in state.changed}
    diff = {
        "before": {k: state.before[k] for k in changed},
        "after": {k: state.after[k] for k in changed},
    }
    return state.out, changed, diff
