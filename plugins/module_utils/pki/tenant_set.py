# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The certificate set of one tenant control plane, kept stable across runs.

``reconcile(params, existing)`` takes the wanted spec and the material returned last
time (or read back from the admin cluster's Secrets) and returns the complete set plus
the items that changed and why. Valid existing material comes back byte-for-byte.

This file owns the set's item list (``CERT_ITEMS``, ``KUBECONFIG_ITEMS``, ``ALL_ITEMS``);
code that stores or reads the material imports it from here. Unreadable leaves and
kubeconfigs are re-issued; an unusable CA or service-account key fails the run
(``pki/engine``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.pki import engine
from ansible_collections.kamaji.core.plugins.module_utils.pki import policy as pki_policy
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki
from ansible_collections.kamaji.core.plugins.module_utils.pki.kubeconfig import parse_kubeconfig
from ansible_collections.kamaji.core.plugins.module_utils.tenant import names

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
CA_ITEMS = {"ca": "kubernetes", "front-proxy-ca": "front-proxy-ca"}  # item: common name
CA_FIX = ("restore the matching pair, or set rotate_ca: true to replace the CA (and re-issue every "
          "certificate it signs; workers must re-join)")
SA_FIX = ("restore it, or remove it from the existing material to have a new one generated (every service "
          "account token of the tenant then becomes invalid)")

# {item: {"cert", "key"} | {"key", "pub"} | kubeconfig text, "ca_cert_hash": str}
Material = dict[str, Any]


class Spec:
    """Validated inputs. Every error names the option and how to fix it."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        err = pki.PKIError
        self.name = names.validate_name(params.get("name"), "name", error=err)
        endpoint = params.get("endpoint") or {}
        if not str(endpoint.get("address") or "").strip():
            raise err("endpoint.address: required (the IP or DNS name workers and users reach)")
        self.address = net.host(endpoint["address"], "endpoint.address", error=err)
        port = endpoint.get("port")
        self.port = net.port(6443 if port is None else port, "endpoint.port", error=err)
        bind_port = params.get("apiserver_bind_port")
        self.bind_port = net.port(6443 if bind_port is None else bind_port, "apiserver_bind_port", error=err)
        self.extra_sans = [names.san(s, "extra_sans", error=err) for s in (params.get("extra_sans") or [])]
        self.service_ips: list[net.IPAddress] = []
        for cidr in params.get("service_cidrs") or ["10.96.0.0/16"]:
            network = net.network(cidr, "service_cidrs", error=err)
            if network.num_addresses < 4:
                raise err("service_cidrs: %s is too small to hold services" % cidr)
            self.service_ips.append(network.network_address + 1)
        self.cluster_domain = str(params.get("cluster_domain") or "cluster.local").lower()
        if not net.is_dns_name(self.cluster_domain):
            raise err("cluster_domain: %r is not a DNS name" % self.cluster_domain)
        self.policy = pki_policy.validity(params)
        self.etcd_user: str = params.get("etcd_user") or names.etcd_user(self.name)
        self.rotate_ca = bool(params.get("rotate_ca"))
        self.server = net.https_url(self.address, self.port)
        self.internal_server = net.https_url("127.0.0.1", self.bind_port)

    def apiserver_sans(self) -> tuple[list[str], list[net.IPAddress]]:
        return net.split_names([
            "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc." + self.cluster_domain, "localhost", "127.0.0.1", self.address,
            *(str(ip) for ip in self.service_ips), *self.extra_sans,
        ])


def leaf_specs(spec: Spec) -> dict[str, tuple[str, pki.LeafSpec]]:
    """item: (issuing CA item, what the leaf must look like)."""
    dns, ips = spec.apiserver_sans()
    return {
        "apiserver": ("ca", pki.LeafSpec("kube-apiserver", usages=(pki.SERVER_AUTH,), dns_names=dns, ip_addresses=ips)),
        "apiserver-kubelet-client": ("ca", pki.LeafSpec("kube-apiserver-kubelet-client", ("kubeadm:cluster-admins",))),
        "front-proxy-client": ("front-proxy-ca", pki.LeafSpec("front-proxy-client")),
        "apiserver-etcd-client": ("etcd-ca", pki.LeafSpec(spec.etcd_user)),
    }


def _held(existing: Mapping[str, Any], item: str) -> engine.HeldPem:
    old = existing.get(item) or {}
    return old.get("cert"), old.get("key")


def _service_account(eng: engine.Engine, old: Mapping[str, str], key_algorithm: str) -> dict[str, str]:
    """The service-account signing key: kept (its public half re-derived when needed), or new when missing.
    An unreadable key fails: replacing it silently invalidates every token it signed."""
    if old.get("key"):
        try:
            key = pki.parse_key(old["key"])
        except ValueError as exc:
            raise pki.PKIError("sa: the private %s; %s" % (exc, SA_FIX))
        pub = pki.public_key_to_pem(key)
        if old.get("pub") == pub:
            return dict(old)
        eng.record("sa", "public key re-derived", None, {"public_key": "derived from sa.key"})
        return {"key": old["key"], "pub": pub}
    # kubeadm's service-account keys are RSA; any supported algorithm signs tokens
    key = pki.generate_key("rsa-2048" if key_algorithm.startswith("rsa") else key_algorithm)
    eng.record("sa", "missing", None, {"public_key": pki.key_algorithm_of(key)})
    return {"key": pki.key_to_pem(key), "pub": pki.public_key_to_pem(key)}


def _etcd_ca(etcd_ca: Mapping[str, str | None] | None) -> engine.Pair:
    if not etcd_ca or not etcd_ca.get("cert") or not etcd_ca.get("key"):
        raise pki.PKIError("etcd_ca: cert and key of the etcd CA are required to sign the "
                           "apiserver-etcd-client certificate")
    cert = pki.load_cert(str(etcd_ca["cert"]), "etcd_ca")
    key = pki.load_key(str(etcd_ca["key"]), "etcd_ca")
    if not pki.public_keys_match(cert, key):
        raise pki.PKIError("etcd_ca: the key does not match the certificate; pass the etcd CA's own key")
    return engine.Pair(cert, key, str(etcd_ca["cert"]), str(etcd_ca["key"]))


def reconcile(params: Mapping[str, Any], existing: Mapping[str, Any] | None = None,
              etcd_ca: Mapping[str, str | None] | None = None, now: datetime.datetime | None = None,
              ) -> tuple[Material, dict[str, str], dict[str, dict[str, engine.Facts]]]:
    """Return ``(material, changed, diff)``.

    ``material`` has one entry per item of ALL_ITEMS plus ``ca_cert_hash``;
    ``changed`` maps each (re-)issued item to the reason, in ALL_ITEMS order;
    ``diff`` is ``{"before": {item: facts}, "after": {item: facts}}`` for those items.
    """
    if not pki.CRYPTOGRAPHY.ok:  # pragma: no cover
        raise pki.PKIError("the cryptography Python library is required")
    spec = Spec(params)
    existing = existing or {}
    unknown = sorted(set(existing) - set(ALL_ITEMS) - {"ca_cert_hash"})
    if unknown:
        raise pki.PKIError("existing: unknown item(s) %s; known items are %s"
                           % (", ".join(unknown), ", ".join(ALL_ITEMS)))
    for item, value in existing.items():
        wanted = str if item in KUBECONFIG_ITEMS or item == "ca_cert_hash" else Mapping
        if value is not None and not isinstance(value, wanted):
            raise pki.PKIError("existing: item %s must be %s, not %s" % (
                item, "text" if wanted is str else "a mapping (cert and key, or key and pub for sa)",
                type(value).__name__))
    etcd = _etcd_ca(etcd_ca)

    eng = engine.Engine(spec.policy, now)
    out: Material = {}
    cas = {"etcd-ca": etcd}
    for item, common_name in CA_ITEMS.items():
        cas[item] = eng.ca(item, _held(existing, item), common_name, fix=CA_FIX, rotate=spec.rotate_ca)
        out[item] = {"cert": cas[item].cert_pem, "key": cas[item].key_pem}
    for item, (issuer, leaf_spec) in leaf_specs(spec).items():
        pair = eng.leaf(item, _held(existing, item), leaf_spec, cas[issuer])
        out[item] = {"cert": pair.cert_pem, "key": pair.key_pem}
    out["sa"] = _service_account(eng, existing.get("sa") or {}, spec.policy.key_algorithm)
    for item, (user, cn, orgs, internal) in KUBECONFIG_ITEMS.items():
        out[item] = eng.kubeconfig(item, existing.get(item), pki.LeafSpec(cn, orgs), cas["ca"], cluster=spec.name,
                                   server=spec.internal_server if internal else spec.server, user=user)
    out["ca_cert_hash"] = pki.spki_sha256(cas["ca"].cert)
    changed = {item: eng.changed[item] for item in ALL_ITEMS if item in eng.changed}
    diff = {
        "before": {k: eng.before[k] for k in changed},
        "after": {k: eng.after[k] for k in changed},
    }
    return out, changed, diff


def facts(material: Mapping[str, Any]) -> dict[str, engine.Facts]:
    """Parsed facts of every certificate of the set (no keys), kubeconfigs with their server."""
    out: dict[str, engine.Facts] = {}
    for item in CERT_ITEMS:
        out[item] = pki.cert_facts(pki.load_cert(material[item]["cert"], item))
    for item in KUBECONFIG_ITEMS:
        parsed = parse_kubeconfig(material[item])
        out[item] = dict(pki.cert_facts(pki.load_cert(parsed["client_cert"], item)) or {}, server=parsed["server"])
    return out
