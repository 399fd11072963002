# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""X.509 building blocks shared by the PKI sets (tenant and etcd).

Pure Python on top of ``cryptography``: key generation, certificate issuing, parsing of
existing material, and the comparison that says why a certificate must be re-issued.
Host names and addresses follow ``common/net``; the keep-or-reissue decisions live in
``pki/engine``. Nothing here imports Ansible.
"""

from __future__ import annotations

import datetime
import traceback
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ansible_collections.kamaji.core.plugins.module_utils.common import deps, files, net

# The one guard for the library: modules call deps.require(module, x509.CRYPTOGRAPHY).
CRYPTOGRAPHY = deps.Dependency("cryptography")
try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # pragma: no cover - exercised by missing_required_lib
    CRYPTOGRAPHY.error = CRYPTOGRAPHY.error or traceback.format_exc()

if TYPE_CHECKING:
    from typing import Union

    from cryptography.x509 import Certificate

    # the keys this collection issues and signs with
    PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]  # noqa: UP007

KEY_ALGORITHMS = ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")
SERVER_AUTH = "server"
CLIENT_AUTH = "client"
# Certificates start slightly in the past so that small clock skew between the
# controller and the machines never makes a fresh certificate "not yet valid".
BACKDATE = datetime.timedelta(minutes=5)


class PKIError(Exception):
    """Invalid input or material; the message names the item and the fix."""


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def iso(moment: datetime.datetime) -> str:
    """A certificate time as facts and messages show it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- keys

def generate_key(algorithm: str) -> PrivateKey:
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm in KEY_ALGORITHMS and algorithm.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    raise PKIError("key_algorithm: must be one of %s, got %r" % (", ".join(KEY_ALGORITHMS), algorithm))


def key_algorithm_of(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256"
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa-%d" % key.key_size
    return "other"


def key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_to_pem(key: PrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def cert_to_pem(cert: Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def parse_key(pem: str | bytes) -> PrivateKey:
    """The private key in ``pem`` (ECDSA or RSA, unencrypted); ValueError says briefly what is wrong."""
    try:
        key = serialization.load_pem_private_key(_b(pem), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("key cannot be parsed (%s)" % exc.__class__.__name__)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError("key of an unsupported type (%s)" % key.__class__.__name__)
    return key


def parse_cert(pem: str | bytes) -> Certificate:
    """The certificate in ``pem``; ValueError says briefly what is wrong."""
    try:
        return x509.load_pem_x509_certificate(_b(pem))
    except (ValueError, TypeError):
        raise ValueError("certificate cannot be parsed")


def load_key(pem: str | bytes, item: str) -> PrivateKey:
    """``parse_key``, with a PKIError naming ``item`` and the fix."""
    try:
        return parse_key(pem)
    except ValueError as exc:
        raise PKIError("%s: the private %s; remove it from the existing material to have a new one "
                       "generated" % (item, exc))


def load_cert(pem: str | bytes, item: str) -> Certificate:
    """``parse_cert``, with a PKIError naming ``item`` and the fix."""
    try:
        return parse_cert(pem)
    except ValueError as exc:
        raise PKIError("%s: the %s; remove it from the existing material to have it re-issued" % (item, exc))


def _b(value: str | bytes) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else value


def _spki_der(cert_or_key: Certificate | PrivateKey) -> bytes:
    public = cert_or_key.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_keys_match(cert: Certificate, key: PrivateKey) -> bool:
    return _spki_der(cert) == _spki_der(key)


def spki_sha256(cert: Certificate) -> str:
    """``sha256:<hex>`` of the DER SubjectPublicKeyInfo: kubeadm's discovery CA hash."""
    return "sha256:" + files.sha256_bytes(_spki_der(cert))


def ca_cert_hash(pem: str | bytes) -> str:
    return spki_sha256(load_cert(pem, "ca"))


# ---------------------------------------------------------------- names

def cert_sans(cert: Certificate) -> tuple[list[str], list[net.IPAddress]]:
    """(DNS names, IP addresses) of the SubjectAlternativeName extension, sorted as net.split_names sorts."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = sorted(n.lower() for n in ext.get_values_for_type(x509.DNSName))
    # a SAN's IPAddress values are addresses (networks appear only in name constraints)
    values = (net.ip(value) for value in ext.get_values_for_type(x509.IPAddress))
    ips = sorted((address for address in values if address is not None), key=net.sort_key)
    return dns, ips


def build_name(common_name: str, organizations: Iterable[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def name_parts(name: x509.Name) -> tuple[str, list[str]]:
    """(common name, sorted organizations) of a subject or issuer."""
    cn = [str(a.value) for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = sorted(str(a.value) for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return (cn[0] if cn else ""), orgs


# ---------------------------------------------------------------- issuing

class LeafSpec:
    """What a leaf certificate must look like; compared against existing material."""

    def __init__(self, common_name: str, organizations: Iterable[str] = (),
                 usages: Sequence[str] = (CLIENT_AUTH,), dns_names: Iterable[str] = (),
                 ip_addresses: Iterable[net.IPAddress] = ()) -> None:
        self.common_name = common_name
        self.organizations = sorted(organizations)
        self.usages = tuple(usages)
        self.dns_names = sorted(n.lower() for n in dns_names)
        self.ip_addresses = sorted(ip_addresses, key=net.sort_key)


def _key_usage(key_cert_sign: bool, key_encipherment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=key_encipherment,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
        crl_sign=False, encipher_only=False, decipher_only=False,
    )


def issue_ca(common_name: str, key: PrivateKey, days: int, now: datetime.datetime | None = None) -> Certificate:
    now = now or utcnow()
    name = build_name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, key_encipherment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def issue_leaf(spec: LeafSpec, key: PrivateKey, ca_cert: Certificate, ca_key: PrivateKey, days: int,
               now: datetime.datetime | None = None) -> Certificate:
    """Issue a leaf certificate for ``spec`` signed by the CA; it never outlives the CA."""
    now = now or utcnow()
    usages = []
    if SERVER_AUTH in spec.usages:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if CLIENT_AUTH in spec.usages:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(build_name(spec.common_name, spec.organizations))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=False, key_encipherment=isinstance(key, rsa.RSAPrivateKey)),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if spec.dns_names or spec.ip_addresses:
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in spec.dns_names]
        sans += [x509.IPAddress(address) for address in spec.ip_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def signed_by(cert: Certificate, ca_cert: Certificate) -> bool:
    """True when ``cert`` carries ``ca_cert``'s subject as issuer and its signature verifies."""
    if cert.issuer != ca_cert.subject:
        return False
    pub = ca_cert.public_key()
    algorithm = cert.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _eku(cert: Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    out = []
    if ExtendedKeyUsageOID.SERVER_AUTH in ext:
        out.append(SERVER_AUTH)
    if ExtendedKeyUsageOID.CLIENT_AUTH in ext:
        out.append(CLIENT_AUTH)
    return tuple(out)


def leaf_reissue_reasons(cert: Certificate, key: PrivateKey, spec: LeafSpec, ca_cert: Certificate,
                         renew_before: datetime.timedelta, now: datetime.datetime | None = None) -> list[str]:
    """Why an existing leaf must be re-issued; an empty list means keep it."""
    now = now or utcnow()
    reasons = []
    if not public_keys_match(cert, key):
        reasons.append("key does not match certificate")
    if not signed_by(cert, ca_cert):
        reasons.append("not signed by the current CA")
    cn, orgs = name_parts(cert.subject)
    if cn != spec.common_name or orgs != spec.organizations:
        reasons.append("subject changed")
    dns, ips = cert_sans(cert)
    if dns != spec.dns_names or ips != spec.ip_addresses:
        reasons.append("SANs changed")
    if sorted(_eku(cert)) != sorted(spec.usages):
        reasons.append("usages changed")
    if cert.not_valid_after_utc - renew_before <= now:
        reasons.append("inside renewal window (expires %s)" % cert.not_valid_after_utc.isoformat())
    if cert.not_valid_before_utc > now + BACKDATE:
        reasons.append("not yet valid")
    return reasons


def cert_facts(cert: Certificate | None) -> dict[str, object] | None:
    """Parsed facts for diffs and results: never key material."""
    if cert is None:
        return None
    cn, orgs = name_parts(cert.subject)
    icn = name_parts(cert.issuer)[0]
    dns, ips = cert_sans(cert)
    facts: dict[str, object] = {
        "subject": "CN=%s%s" % (cn, "".join(",O=%s" % o for o in orgs)),
        "issuer": "CN=%s" % icn,
        "not_after": iso(cert.not_valid_after_utc),
        "serial": "%x" % cert.serial_number,
    }
    if dns or ips:
        facts["sans"] = dns + [str(i) for i in ips]
    return facts
