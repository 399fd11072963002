"""Rules of the tenant certificate set (module_utils.tenant_pki)."""
from __future__ import annotations

import base64
import datetime
import subprocess

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set as tenant_pki
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

NOW = pki.utcnow()


def params(**over):
    p = {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443},
         "extra_sans": ["acme.example.test"], "service_cidrs": ["10.96.0.0/16"]}
    p.update(over)
    return p


@pytest.fixture(scope="module")
def first(etcd_ca):
    material, changed, _unused = tenant_pki.reconcile(params(), {}, etcd_ca)
    return material, changed


def cert(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def kubeconfig_cert(text):
    doc = yaml.safe_load(text)
    return cert(base64.b64decode(doc["users"][0]["user"]["client-certificate-data"]).decode())


def test_first_run_creates_every_item(first):
    material, changed = first
    assert set(changed) == set(tenant_pki.ALL_ITEMS)
    assert all(reason == "missing" for reason in changed.values())
    assert material["ca_cert_hash"].startswith("sha256:") and len(material["ca_cert_hash"]) == 71


def test_second_call_with_first_output_is_byte_identical(first, etcd_ca):
    material, _unused = first
    again, changed, diff = tenant_pki.reconcile(params(), material, etcd_ca)
    assert changed == {}
    assert diff == {"before": {}, "after": {}}
    assert again == material


def test_apiserver_sans(first):
    dns, ips = pki.cert_sans(cert(first[0]["apiserver"]["cert"]))
    for name in ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local", "localhost", "acme.example.test"):
        assert name in dns
    assert {str(i) for i in ips} == {"127.0.0.1", "10.96.0.1", "192.0.2.10"}


def test_subjects_match_kubeadm(first):
    material = first[0]

    def subject(c):
        return (c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                sorted(a.value for a in c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)))
    assert subject(kubeconfig_cert(material["admin.conf"])) == ("kubernetes-admin", ["kubeadm:cluster-admins"])
    assert subject(kubeconfig_cert(material["super-admin.conf"])) == ("kubernetes-super-admin", ["system:masters"])
    assert subject(kubeconfig_cert(material["controller-manager.conf"]))[0] == "system:kube-controller-manager"
    assert subject(kubeconfig_cert(material["scheduler.conf"]))[0] == "system:kube-scheduler"
    assert subject(cert(material["apiserver-etcd-client"]["cert"])) == ("acme", [])
    assert subject(cert(material["apiserver-kubelet-client"]["cert"])) == (
        "kube-apiserver-kubelet-client", ["kubeadm:cluster-admins"])


def test_kubeconfig_servers(first):
    material = first[0]
    assert yaml.safe_load(material["admin.conf"])["clusters"][0]["cluster"]["server"] == "https://192.0.2.10:31443"
    assert yaml.safe_load(material["scheduler.conf"])["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"


def test_openssl_verifies_every_leaf(first, etcd_ca, tmp_path):
    material = first[0]
    (tmp_path / "ca.crt").write_text(material["ca"]["cert"])
    (tmp_path / "fp.crt").write_text(material["front-proxy-ca"]["cert"])
    (tmp_path / "etcd.crt").write_text(etcd_ca["cert"])
    leaves = {"apiserver": "ca", "apiserver-kubelet-client": "ca", "front-proxy-client": "fp",
              "apiserver-etcd-client": "etcd"}
    for item in leaves:
        (tmp_path / f"{item}.crt").write_text(material[item]["cert"])
    for item in tenant_pki.KUBECONFIG_ITEMS:
        pem = pki.cert_to_pem(kubeconfig_cert(material[item]))
        (tmp_path / f"{item}.crt").write_text(pem)
        leaves[item] = "ca"
    for item, ca in leaves.items():
        out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / f"{ca}.crt"),
                              str(tmp_path / f"{item}.crt")], capture_output=True, text=True, check=False)
        assert out.returncode == 0, (item, out.stdout, out.stderr)


def test_ca_cert_hash_matches_openssl(first, tmp_path):
    material = first[0]
    (tmp_path / "ca.crt").write_text(material["ca"]["cert"])
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(tmp_path / "ca.crt")],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    import hashlib
    assert material["ca_cert_hash"] == "sha256:" + hashlib.sha256(der).hexdigest()


def test_leaf_ten_days_from_expiry_is_renewed_with_30_day_window(etcd_ca):
    old_now = NOW - datetime.timedelta(days=355)  # 365-day leaves issued then expire in 10 days
    old, _unused, _unused = tenant_pki.reconcile(params(), {}, etcd_ca, now=old_now)
    new, changed, diff = tenant_pki.reconcile(params(renewal_window_days=30), old, etcd_ca)
    leaves = {"apiserver", "apiserver-kubelet-client", "front-proxy-client", "apiserver-etcd-client",
              *tenant_pki.KUBECONFIG_ITEMS}
    assert set(changed) == leaves
    assert all("inside renewal window" in changed[i] for i in leaves)
    assert new["ca"] == old["ca"] and new["front-proxy-ca"] == old["front-proxy-ca"] and new["sa"] == old["sa"]
    assert cert(new["apiserver"]["cert"]).not_valid_after_utc > NOW + datetime.timedelta(days=360)
    # keys are kept on renewal, only the certificate changes
    assert new["apiserver"]["key"] == old["apiserver"]["key"]
    assert "key" not in str(diff).lower().replace("key does not match", "")
    # with a 5-day window, the same material is kept
    _unused, changed5, _unused = tenant_pki.reconcile(params(renewal_window_days=5), old, etcd_ca)
    assert changed5 == {}


def test_added_san_reissues_only_apiserver(first, etcd_ca):
    material = first[0]
    new, changed, diff = tenant_pki.reconcile(params(extra_sans=["acme.example.test", "203.0.113.7"]),
                                              material, etcd_ca)
    assert changed == {"apiserver": "SANs changed"}
    assert "203.0.113.7" in diff["after"]["apiserver"]["sans"]
    assert "203.0.113.7" not in diff["before"]["apiserver"]["sans"]
    assert {k: v for k, v in new.items() if k != "apiserver"} == {k: v for k, v in material.items() if k != "apiserver"}


def test_endpoint_change_reissues_apiserver_and_external_kubeconfigs(first, etcd_ca):
    material = first[0]
    moved = params(endpoint={"address": "acme.example.test", "port": 443})
    _unused, changed, _unused = tenant_pki.reconcile(moved, material, etcd_ca)
    assert set(changed) == {"apiserver", "admin.conf", "super-admin.conf"}
    assert "server changed" in changed["admin.conf"]


def test_key_mismatch_reissues(first, etcd_ca):
    material = dict(first[0])
    other = pki.key_to_pem(pki.generate_key("ecdsa-p256"))
    material["front-proxy-client"] = {"cert": material["front-proxy-client"]["cert"], "key": other}
    new, changed, _unused = tenant_pki.reconcile(params(), material, etcd_ca)
    assert list(changed) == ["front-proxy-client"]
    assert "key does not match" in changed["front-proxy-client"]
    assert pki.public_keys_match(cert(new["front-proxy-client"]["cert"]),
                                 pki.load_key(new["front-proxy-client"]["key"], "x"))


def test_new_etcd_ca_reissues_only_etcd_client(first):
    key = pki.generate_key("ecdsa-p256")
    other = {"cert": pki.cert_to_pem(pki.issue_ca("etcd-ca", key, 3650)), "key": pki.key_to_pem(key)}
    _unused, changed, _unused = tenant_pki.reconcile(params(), first[0], other)
    assert changed == {"apiserver-etcd-client": "not signed by the current CA"}


def test_etcd_user_change_reissues_etcd_client(first, etcd_ca):
    new, changed, _unused = tenant_pki.reconcile(params(etcd_user="tenant-acme"), first[0], etcd_ca)
    assert changed == {"apiserver-etcd-client": "subject changed"}
    assert pki.name_parts(cert(new["apiserver-etcd-client"]["cert"]).subject)[0] == "tenant-acme"


def test_rotate_ca_reissues_everything_signed_by_it(first, etcd_ca):
    material = first[0]
    new, changed, _unused = tenant_pki.reconcile(params(rotate_ca=True), material, etcd_ca)
    assert changed["ca"] == "rotated on request" and changed["front-proxy-ca"] == "rotated on request"
    expected = {"ca", "front-proxy-ca", "apiserver", "apiserver-kubelet-client", "front-proxy-client",
                *tenant_pki.KUBECONFIG_ITEMS}
    assert set(changed) == expected
    assert new["ca_cert_hash"] != material["ca_cert_hash"]
    assert new["apiserver-etcd-client"] == material["apiserver-etcd-client"]
    assert new["sa"] == material["sa"]


def test_without_rotate_ca_an_existing_ca_is_never_replaced(etcd_ca):
    old_now = NOW - datetime.timedelta(days=3640)  # CA 10 days from expiry
    old, _unused, _unused = tenant_pki.reconcile(params(), {}, etcd_ca, now=old_now)
    new, changed, _unused = tenant_pki.reconcile(params(), old, etcd_ca)
    assert new["ca"] == old["ca"] and "ca" not in changed
    # leaves never outlive their CA
    assert cert(new["apiserver"]["cert"]).not_valid_after_utc <= cert(new["ca"]["cert"]).not_valid_after_utc


def test_rsa_2048(etcd_ca):
    material, changed, _unused = tenant_pki.reconcile(params(key_algorithm="rsa-2048"), {}, etcd_ca)
    assert pki.key_algorithm_of(pki.load_key(material["apiserver"]["key"], "x")) == "rsa-2048"
    again, changed, _unused = tenant_pki.reconcile(params(key_algorithm="rsa-2048"), material, etcd_ca)
    assert changed == {}


def test_algorithm_change_reissues_leaves_not_cas(first, etcd_ca):
    new, changed, _unused = tenant_pki.reconcile(params(key_algorithm="rsa-2048"), first[0], etcd_ca)
    assert "ca" not in changed and "sa" not in changed
    assert "key algorithm changed" in changed["apiserver"]


@pytest.mark.parametrize("over, field", [
    ({"endpoint": {"address": "not a host!"}}, "endpoint.address"),
    ({"endpoint": {"address": ""}}, "endpoint.address"),
    ({"endpoint": {"address": "10.0.0.1", "port": 70000}}, "endpoint.port"),
    ({"service_cidrs": ["10.96.0.1/16"]}, "service_cidrs"),
    ({"service_cidrs": ["10.96.0.0/33"]}, "service_cidrs"),
    ({"name": "Acme_1"}, "name"),
    ({"extra_sans": ["bad name"]}, "extra_sans"),
    ({"renewal_window_days": 400}, "renewal_window_days"),
    ({"cluster_domain": "-bad-"}, "cluster_domain"),
])
def test_invalid_input_names_the_field(etcd_ca, over, field):
    with pytest.raises(pki.PKIError) as err:
        tenant_pki.reconcile(params(**over), {}, etcd_ca)
    assert str(err.value).startswith(field + ":")


def test_etcd_ca_key_mismatch_is_an_error(etcd_ca):
    wrong = {"cert": etcd_ca["cert"], "key": pki.key_to_pem(pki.generate_key("ecdsa-p256"))}
    with pytest.raises(pki.PKIError, match="^etcd_ca: the key does not match"):
        tenant_pki.reconcile(params(), {}, wrong)


@pytest.mark.parametrize("item, value, expect", [
    ("apiserver", {"cert": "garbage", "key": "garbage"}, "unreadable (certificate cannot be parsed)"),
    ("admin.conf", "{{{not yaml", "unreadable (kubeconfig not YAML: "),
])
def test_unparsable_existing_leaf_is_reissued_naming_the_item(first, etcd_ca, item, value, expect):
    """Policy: an unreadable leaf or kubeconfig is re-issued, the reason says it was unreadable."""
    material = dict(first[0])
    material[item] = value
    new, changed, diff = tenant_pki.reconcile(params(), material, etcd_ca)
    assert list(changed) == [item]
    assert changed[item].startswith(expect), changed[item]
    assert diff["before"][item] is None and diff["after"][item]["serial"]
    assert {k: v for k, v in new.items() if k != item} == {k: v for k, v in first[0].items() if k != item}


def test_unparsable_service_account_key_is_an_error_naming_the_item(first, etcd_ca):
    """Policy: the service-account key signs every token, like a CA it is never replaced silently."""
    material = dict(first[0], sa={"key": "not a key", "pub": ""})
    with pytest.raises(pki.PKIError, match="^sa: the private key cannot be parsed .*every service account token"):
        tenant_pki.reconcile(params(), material, etcd_ca)


def test_ca_key_mismatch_is_an_error_unless_rotating(first, etcd_ca):
    material = dict(first[0])
    material["ca"] = {"cert": material["ca"]["cert"], "key": pki.key_to_pem(pki.generate_key("ecdsa-p256"))}
    with pytest.raises(pki.PKIError, match="^ca: the CA key does not match"):
        tenant_pki.reconcile(params(), material, etcd_ca)


def test_unknown_existing_item_is_an_error(first, etcd_ca):
    with pytest.raises(pki.PKIError, match="^existing: unknown item"):
        tenant_pki.reconcile(params(), {"apiserver.crt": "x"}, etcd_ca)


# ---- the policy for unreadable existing material (pki/engine), tenant side

def _kubeconfig_with_client(text, cert_pem, key_pem):
    doc = yaml.safe_load(text)
    doc["users"][0]["user"]["client-certificate-data"] = base64.b64encode(cert_pem.encode()).decode()
    doc["users"][0]["user"]["client-key-data"] = base64.b64encode(key_pem.encode()).decode()
    return yaml.safe_dump(doc)


@pytest.mark.parametrize("item, value, reason", [
    ("front-proxy-client", {"cert": None, "key": "kept below"}, "unreadable (certificate missing)"),
    ("apiserver-kubelet-client", {"cert": "kept below", "key": ""}, "unreadable (key missing)"),
    ("apiserver-etcd-client", {"cert": "kept below", "key": "-----BEGIN PRIVATE KEY-----\nAAAA\n"},
     "unreadable (key cannot be parsed"),
    ("scheduler.conf", "apiVersion: v1\nkind: Config\n", "unreadable (kubeconfig missing or invalid field"),
    ("controller-manager.conf", "client garbage", "unreadable (client certificate cannot be parsed)"),
])
def test_unreadable_leaf_or_kubeconfig_is_reissued_with_the_reason(first, etcd_ca, item, value, reason):
    material = dict(first[0])
    old = material[item]
    if isinstance(value, dict):
        value = {k: (old[k] if v == "kept below" else v) for k, v in value.items()}
    elif value == "client garbage":
        value = _kubeconfig_with_client(old, "garbage", "garbage")
    material[item] = value
    new, changed, _unused = tenant_pki.reconcile(params(), material, etcd_ca)
    assert list(changed) == [item]
    assert changed[item].startswith(reason), changed[item]
    again, changed, _unused = tenant_pki.reconcile(params(), new, etcd_ca)
    assert changed == {} and again == new


def test_an_unreadable_leafs_readable_key_is_not_trusted_without_its_certificate(first, etcd_ca):
    material = dict(first[0], apiserver={"cert": "garbage", "key": first[0]["apiserver"]["key"]})
    new, changed, _unused = tenant_pki.reconcile(params(), material, etcd_ca)
    assert changed == {"apiserver": "unreadable (certificate cannot be parsed)"}
    assert pki.public_keys_match(cert(new["apiserver"]["cert"]), pki.load_key(new["apiserver"]["key"], "x"))


@pytest.mark.parametrize("item", ["ca", "front-proxy-ca"])
@pytest.mark.parametrize("broken, problem", [
    ({"cert": "garbage"}, "unreadable (certificate cannot be parsed)"),
    ({"key": "garbage"}, "unreadable (key cannot be parsed"),
    ({"key": None}, "unreadable (key missing)"),
    ({"cert": ""}, "unreadable (certificate missing)"),
    ({"key": "other"}, "the CA key does not match the CA certificate"),
])
def test_unusable_ca_fails_naming_the_item_and_the_fix(first, etcd_ca, item, broken, problem):
    """Policy: a CA is never replaced silently (every client trusting it would break)."""
    other = pki.key_to_pem(pki.generate_key("ecdsa-p256"))
    material = dict(first[0])
    material[item] = dict(material[item], **{k: (other if v == "other" else v) for k, v in broken.items()})
    with pytest.raises(pki.PKIError) as err:
        tenant_pki.reconcile(params(), material, etcd_ca)
    message = str(err.value)
    assert message.startswith("%s: %s" % (item, problem)), message
    assert "restore the matching pair, or set rotate_ca: true" in message
    # the fix works: rotate_ca replaces it and re-issues what it signs
    new, changed, _unused = tenant_pki.reconcile(params(rotate_ca=True), material, etcd_ca)
    assert changed[item] == "rotated on request"
    assert pki.public_keys_match(cert(new[item]["cert"]), pki.load_key(new[item]["key"], item))


def test_expired_ca_fails_naming_the_fix(etcd_ca):
    old, _unused, _unused = tenant_pki.reconcile(params(ca_validity_days=10, leaf_validity_days=5,
                                                        renewal_window_days=1), {}, etcd_ca,
                                                 now=NOW - datetime.timedelta(days=20))
    with pytest.raises(pki.PKIError, match="^ca: the CA certificate expired on .*rotate_ca: true"):
        tenant_pki.reconcile(params(), old, etcd_ca)


def test_existing_item_of_the_wrong_shape_is_an_error(first, etcd_ca):
    with pytest.raises(pki.PKIError, match="^existing: item apiserver must be a mapping"):
        tenant_pki.reconcile(params(), dict(first[0], apiserver="text"), etcd_ca)
    with pytest.raises(pki.PKIError, match="^existing: item admin.conf must be text"):
        tenant_pki.reconcile(params(), dict(first[0], **{"admin.conf": {"cert": "x"}}), etcd_ca)


# ---- the shared name and address rules

def test_tenant_name_follows_the_tenant_name_rule(etcd_ca):
    with pytest.raises(pki.PKIError, match="^name: .* at most 40"):
        tenant_pki.reconcile(params(name="a" * 41), {}, etcd_ca)
    with pytest.raises(pki.PKIError, match="^name: 'root' is reserved"):
        tenant_pki.reconcile(params(name="root"), {}, etcd_ca)
    material, _unused, _unused = tenant_pki.reconcile(params(name="a" * 40), {}, etcd_ca)
    assert pki.name_parts(cert(material["apiserver-etcd-client"]["cert"]).subject)[0] == "a" * 40


def test_wildcard_sans_and_ipv6_endpoint(etcd_ca):
    material, _unused, _unused = tenant_pki.reconcile(
        params(endpoint={"address": "[2001:DB8::10]", "port": 443}, extra_sans=["*.Apps.Example.Test"]), {}, etcd_ca)
    dns, ips = pki.cert_sans(cert(material["apiserver"]["cert"]))
    assert "*.apps.example.test" in dns and "2001:db8::10" in {str(i) for i in ips}
    assert yaml.safe_load(material["admin.conf"])["clusters"][0]["cluster"]["server"] == "https://[2001:db8::10]:443"


@pytest.mark.parametrize("over, field", [
    ({"endpoint": {"address": "10.0.0.1", "port": True}}, "endpoint.port"),
    ({"apiserver_bind_port": 0}, "apiserver_bind_port"),
    ({"extra_sans": ["a..b"]}, "extra_sans"),
    ({"service_cidrs": ["10.96.0.0/31"]}, "service_cidrs"),
])
def test_more_invalid_input_names_the_field(etcd_ca, over, field):
    with pytest.raises(pki.PKIError) as err:
        tenant_pki.reconcile(params(**over), {}, etcd_ca)
    assert str(err.value).startswith(field + ":"), str(err.value)
