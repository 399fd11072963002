# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""X.509 building blocks shared by the PKI modules (tenant and etcd).

Pure Python on top of ``cryptography``: key generation, certificate issuing, parsing of
existing material, and the comparison that decides whether a certificate must be
re-issued. Modules stay thin and call into this file; nothing here imports Ansible.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by missing_required_lib
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = exc

KEY_ALGORITHMS = ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")
SERVER_AUTH = "server"
CLIENT_AUTH = "client"
# Certificates start slightly in the past so that small clock skew between the
# controller and the machines never makes a fresh certificate "not yet valid".
BACKDATE = datetime.timedelta(minutes=5)


class PKIError(Exception):
    """Invalid input or material; the message names the item and the fix."""


def utcnow():
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


# ---------------------------------------------------------------- keys

def generate_key(algorithm):
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    raise PKIError("key_algorithm must be one of %s, got %r" % (", ".join(KEY_ALGORITHMS), algorithm))


def key_algorithm_of(key):
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ecdsa-p256"
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa-%d" % key.key_size
    return "other"


def key_to_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_to_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def cert_to_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_key(pem, item):
    try:
        return serialization.load_pem_private_key(_b(pem), password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError("%s: the private key cannot be parsed (%s); remove it from the existing "
                       "material to have a new one generated" % (item, exc.__class__.__name__))


def load_cert(pem, item):
    try:
        return x509.load_pem_x509_certificate(_b(pem))
    except ValueError as exc:
        raise PKIError("%s: the certificate cannot be parsed (%s); remove it from the existing "
                       "material to have it re-issued" % (item, exc))


def _b(value):
    return value.encode("ascii") if isinstance(value, str) else value


def public_keys_match(cert, key):
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert.public_key().public_bytes(enc, pub) == key.public_key().public_bytes(enc, pub)


def spki_sha256(cert):
    """``sha256:<hex>`` of the DER SubjectPublicKeyInfo: kubeadm's discovery CA hash."""
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def ca_cert_hash(pem):
    return spki_sha256(load_cert(pem, "ca"))


# ---------------------------------------------------------------- names

def is_ip_or_dns_name(value, dns_name_re):
    """True for an IP address (IPv6 may be bracketed) or a name matching dns_name_re (253 chars max)."""
    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        return bool(dns_name_re.match(value.lower())) and len(value) <= 253


def normalize_sans(names):
    """Split SAN strings into sorted, de-duplicated (dns, ip) lists."""
    dns, ips = set(), set()
    for name in names:
        if name is None or str(name).strip() == "":
            continue
        name = str(name).strip()
        try:
            ips.add(ipaddress.ip_address(name.strip("[]")))
        except ValueError:
            dns.add(name.lower())
    return sorted(dns), sorted(ips, key=lambda a: (a.version, int(a)))


def cert_sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = sorted(n.lower() for n in ext.get_values_for_type(x509.DNSName))
    ips = sorted(ext.get_values_for_type(x509.IPAddress), key=lambda a: (a.version, int(a)))
    return dns, ips


def build_name(common_name, organizations=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def name_parts(name):
    cn = [a.value for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = sorted(a.value for a in name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return (cn[0] if cn else ""), orgs


# ---------------------------------------------------------------- issuing

def _sign_hash(key):
    return hashes.SHA256()


def issue_ca(common_name, key, days, now=None):
    now = now or utcnow()
    name = build_name(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
    )
    return builder.sign(key, _sign_hash(key))


def issue_leaf(spec, key, ca_cert, ca_key, days, now=None):
    """Issue a leaf certificate for ``spec`` (a LeafSpec) signed by the CA."""
    now = now or utcnow()
    usages = []
    if SERVER_AUTH in spec.usages:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if CLIENT_AUTH in spec.usages:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    not_after = now + datetime.timedelta(days=days)
    # never outlive the issuer
    if not_after > ca_cert.not_valid_after_utc:
        not_after = ca_cert.not_valid_after_utc
    builder = (
        x509.CertificateBuilder()
        .subject_name(build_name(spec.common_name, spec.organizations))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if spec.dns_names or spec.ip_addresses:
        sans = [x509.DNSName(n) for n in spec.dns_names]
        sans += [x509.IPAddress(ip) for ip in spec.ip_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, _sign_hash(ca_key))


def signed_by(cert, ca_cert):
    """True when ``cert`` carries ``ca_cert``'s subject as issuer and its signature verifies."""
    if cert.issuer != ca_cert.subject:
        return False
    pub = ca_cert.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       cert.signature_hash_algorithm)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


class LeafSpec:
    """What a leaf certificate must look like; compared against existing material."""

    def __init__(self, common_name, organizations=(), usages=(CLIENT_AUTH,), dns_names=(), ip_addresses=()):
        self.common_name = common_name
        self.organizations = sorted(organizations)
        self.usages = tuple(usages)
        self.dns_names = sorted(n.lower() for n in dns_names)
        self.ip_addresses = sorted(ip_addresses, key=lambda a: (a.version, int(a)))


def _eku(cert):
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


def leaf_reissue_reasons(cert, key, spec, ca_cert, renew_before, now=None):
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


def cert_facts(cert):
    """Parsed facts for diffs and results: never key material."""
    if cert is None:
        return None
    cn, orgs = name_parts(cert.subject)
    icn = name_parts(cert.issuer)[0]
    dns, ips = cert_sans(cert)
    facts = {
        "subject": "CN=%s%s" % (cn, "".join(",O=%s" % o for o in orgs)),
        "issuer": "CN=%s" % icn,
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "serial": "%x" % cert.serial_number,
    }
    if dns or ips:
        facts["sans"] = dns + [str(i) for i in ips]
    return facts
