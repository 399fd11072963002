"""Rules of the etcd certificate set (module_utils.etcd_pki): created once, kept byte-for-byte,
re-issued only when missing, invalid, changed SANs or inside the renewal window."""
from __future__ import annotations

import datetime
import subprocess

import pytest
from cryptography import x509

from ansible_collections.kamaji.core.plugins.module_utils.pki import etcd_set as etcd_pki
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

MEMBERS = [{"name": "etcd-0", "addresses": ["192.0.2.10"]},
           {"name": "etcd-1", "addresses": ["192.0.2.11", "etcd-1.example.test"]},
           {"name": "etcd-2", "addresses": ["2001:db8::12"]}]


def params(members=None, **over):
    p = {"members": members or MEMBERS}
    p.update(over)
    return p


@pytest.fixture(scope="module")
def first():
    material, changed, _unused = etcd_pki.reconcile(params(), {})
    return material, changed


def cert(pem):
    return x509.load_pem_x509_certificate(pem.encode())


def sans(pem):
    ext = cert(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)) | {str(i) for i in ext.get_values_for_type(x509.IPAddress)}


def test_new_cluster_gets_one_ca_and_every_member_its_files(first, tmp_path):
    material, changed = first
    assert set(material["members"]) == {"etcd-0", "etcd-1", "etcd-2"}
    for name, files in material["members"].items():
        assert set(files) == {"ca.crt", "ca.key", "server.crt", "server.key", "peer.crt", "peer.key", "root.crt", "root.key"}
        assert files["ca.crt"] == material["ca"]["cert"]
        assert changed[name] == {"ca": "missing on every member", "server": "missing",
                                 "peer": "missing", "root": "missing"}
        (tmp_path / "ca.crt").write_text(files["ca.crt"])
        for item in ("server", "peer", "root"):
            (tmp_path / "leaf.crt").write_text(files[item + ".crt"])
            out = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "leaf.crt")],
                                 capture_output=True, text=True, check=False)
            assert out.returncode == 0, out.stderr
    files = material["members"]["etcd-1"]
    assert sans(files["server.crt"]) == {"etcd-1", "localhost", "127.0.0.1", "::1", "192.0.2.11", "etcd-1.example.test"}
    assert sans(files["peer.crt"]) == sans(files["server.crt"])
    assert "2001:db8::12" in sans(material["members"]["etcd-2"]["peer.crt"])
    root = cert(files["root.crt"])
    assert root.subject.rfc4514_string() == "CN=root"
    eku = root.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]


def test_second_call_returns_everything_byte_for_byte(first):
    material, _unused = first
    again, changed, _unused = etcd_pki.reconcile(params(), material["members"])
    assert changed == {}
    assert again == material


def test_changed_address_reissues_only_that_members_server_and_peer_keeping_keys(first):
    material, _unused = first
    members = [dict(m) for m in MEMBERS]
    members[0]["addresses"] = ["192.0.2.10", "192.0.2.99"]
    again, changed, diff = etcd_pki.reconcile(params(members), material["members"])
    assert changed == {"etcd-0": {"server": "SANs changed", "peer": "SANs changed"}}
    old, new = material["members"]["etcd-0"], again["members"]["etcd-0"]
    assert new["server.key"] == old["server.key"] and new["server.crt"] != old["server.crt"]
    assert new["root.crt"] == old["root.crt"]
    assert again["members"]["etcd-1"] == material["members"]["etcd-1"]
    assert "192.0.2.99" in diff["after"]["etcd-0"]["server"]["sans"]
    assert "-----BEGIN" not in repr(diff)


def test_inside_the_renewal_window_is_renewed(first):
    material, _unused = first
    later = pki.utcnow() + datetime.timedelta(days=340)
    _unused, changed, _unused = etcd_pki.reconcile(params(), material["members"], now=later)
    assert set(changed) == {"etcd-0", "etcd-1", "etcd-2"}
    assert all(r.startswith("inside renewal window") for m in changed.values() for r in m.values())
    # before the window: nothing
    earlier = pki.utcnow() + datetime.timedelta(days=300)
    _unused, changed, _unused = etcd_pki.reconcile(params(), material["members"], now=earlier)
    assert changed == {}


def test_a_new_or_replaced_member_receives_the_cluster_ca(first):
    material, _unused = first
    existing = {k: v for k, v in material["members"].items() if k != "etcd-1"}  # etcd-1 comes back empty
    members = [*MEMBERS, {"name": "etcd-3", "addresses": ["192.0.2.13"]}]
    again, changed, _unused = etcd_pki.reconcile(params(members), existing)
    assert again["ca"] == material["ca"]
    assert set(changed) == {"etcd-1", "etcd-3"}
    assert changed["etcd-3"]["ca"] == "missing"
    assert again["members"]["etcd-0"] == material["members"]["etcd-0"]


def test_a_member_holding_another_ca_is_brought_back_to_the_cluster_ca(first):
    material, _unused = first
    rogue, _unused, _unused = etcd_pki.reconcile(params([MEMBERS[2]]), {})
    existing = dict(material["members"], **{"etcd-2": rogue["members"]["etcd-2"]})
    again, changed, _unused = etcd_pki.reconcile(params(), existing)
    assert again["members"]["etcd-2"]["ca.crt"] == material["ca"]["cert"]
    assert changed["etcd-2"] == {"ca": "differs from the cluster CA", "server": "not signed by the current CA",
                                 "peer": "not signed by the current CA", "root": "not signed by the current CA"}


def test_unreadable_material_is_replaced(first):
    material, _unused = first
    broken = dict(material["members"]["etcd-0"], **{"server.crt": "not a certificate"})
    _unused, changed, _unused = etcd_pki.reconcile(params(), dict(material["members"], **{"etcd-0": broken}))
    assert changed == {"etcd-0": {"server": "unreadable (certificate cannot be parsed)"}}


@pytest.mark.parametrize(("over", "field"), [
    ({"members": []}, "members:"),
    ({"members": [{"name": "etcd 0", "addresses": ["192.0.2.1"]}]}, "members[0].name"),
    ({"members": [MEMBERS[0], MEMBERS[0]]}, "members[1].name"),
    ({"members": [{"name": "etcd-0", "addresses": []}]}, "members[0].addresses"),
    ({"members": [{"name": "etcd-0", "addresses": ["not an address!"]}]}, "members[0].addresses"),
    ({"renewal_window_days": 365}, "renewal_window_days"),
    ({"key_algorithm": "dsa"}, "key_algorithm"),
])
def test_bad_input_names_the_field(over, field):
    with pytest.raises(pki.PKIError) as err:
        etcd_pki.reconcile(dict(params(), **over), {})
    assert str(err.value).startswith(field), str(err.value)


# ---- the policy for unreadable existing material (pki/engine), etcd side

def _with(material, member, **files):
    held = dict(material["members"][member], **{k.replace("_", "."): v for k, v in files.items()})
    return dict(material["members"], **{member: held})


@pytest.mark.parametrize("files, reason", [
    ({"ca_crt": "garbage"}, "unreadable (certificate cannot be parsed)"),
    ({"ca_key": "garbage"}, "unreadable (key cannot be parsed (ValueError))"),
    ({"ca_key": ""}, "unreadable (key missing)"),
])
def test_a_members_unreadable_ca_copy_is_rewritten_from_another_member(first, files, reason):
    material, _unused = first
    again, changed, _unused = etcd_pki.reconcile(params(), _with(material, "etcd-0", **files))
    assert again == material
    assert changed == {"etcd-0": {"ca": reason}}


def test_a_member_with_a_mismatched_ca_key_gets_the_cluster_ca(first):
    material, _unused = first
    other = pki.key_to_pem(pki.generate_key("ecdsa-p256"))
    again, changed, _unused = etcd_pki.reconcile(params(), _with(material, "etcd-2", ca_key=other))
    assert again == material
    assert changed == {"etcd-2": {"ca": "differs from the cluster CA"}}


def test_ca_material_on_members_but_no_usable_copy_fails_naming_members_and_files(first):
    material, _unused = first
    other = pki.key_to_pem(pki.generate_key("ecdsa-p256"))
    existing = _with(material, "etcd-0", ca_crt="garbage")
    existing = dict(existing, **_with({"members": existing}, "etcd-1", ca_key=other))
    existing["etcd-2"] = {k: v for k, v in existing["etcd-2"].items() if not k.startswith("ca.")}
    with pytest.raises(pki.PKIError) as err:
        etcd_pki.reconcile(params(), existing)
    message = str(err.value)
    assert message.startswith("existing: no usable copy of the CA ("), message
    assert "etcd-0 (ca.crt, ca.key): unreadable (certificate cannot be parsed)" in message
    assert "etcd-1 (ca.crt, ca.key): the CA key does not match the CA certificate" in message
    assert "etcd-2" not in message  # it holds no CA material
    assert "restore ca.crt and ca.key on a member from a backup (or pass the pair as the ca option)" in message
    # the fix: the pair passed as the ca option
    again, changed, _unused = etcd_pki.reconcile(params(), existing, material["ca"])
    assert again == material
    assert set(changed) == {"etcd-0", "etcd-1", "etcd-2"}
    assert all(set(c) == {"ca"} for c in changed.values())


def test_a_lone_ca_certificate_without_its_key_is_ca_material(first):
    material, _unused = first
    existing = {"etcd-1": {"ca.crt": material["ca"]["cert"]}}
    with pytest.raises(pki.PKIError, match=r"^existing: no usable copy .*etcd-1 \(ca.crt, ca.key\): unreadable \(key missing\)"):
        etcd_pki.reconcile(params(), existing)


def test_a_single_members_broken_ca_is_named_with_the_member_and_files():
    material, _unused, _unused = etcd_pki.reconcile(params([MEMBERS[0]]), {})
    broken = dict(material["members"]["etcd-0"], **{"ca.key": "garbage"})
    with pytest.raises(pki.PKIError, match=r"^existing: no usable copy of the CA \(etcd-0 \(ca.crt, ca.key\): unreadable"):
        etcd_pki.reconcile(params([MEMBERS[0]]), {"etcd-0": broken})


def test_an_expired_cluster_ca_fails_instead_of_being_replaced():
    then = pki.utcnow() - datetime.timedelta(days=30)
    old, _unused, _unused = etcd_pki.reconcile(params(ca_validity_days=10, leaf_validity_days=5, renewal_window_days=1),
                                               {}, now=then)
    with pytest.raises(pki.PKIError, match="^existing: no usable copy .*the CA certificate expired on "):
        etcd_pki.reconcile(params(), old["members"])


def test_only_when_no_member_holds_a_ca_a_new_one_is_created(first):
    material, _unused = first
    existing = {name: {k: v for k, v in files.items() if not k.startswith("ca.")}
                for name, files in material["members"].items()}
    again, changed, _unused = etcd_pki.reconcile(params(), existing)
    assert again["ca"] != material["ca"]
    assert changed["etcd-0"] == {"ca": "missing on every member", "server": "not signed by the current CA",
                                 "peer": "not signed by the current CA", "root": "not signed by the current CA"}
    # keys still matching the certificate are kept across the re-issue
    assert again["members"]["etcd-0"]["server.key"] == material["members"]["etcd-0"]["server.key"]


def test_a_given_ca_that_is_not_a_usable_pair_is_an_error(first):
    material, _unused = first
    with pytest.raises(pki.PKIError, match="^ca: cert and key are both required"):
        etcd_pki.reconcile(params(), {}, {"cert": material["ca"]["cert"], "key": "garbage"})


def test_leaf_unreadable_key_and_algorithm_change(first):
    material, _unused = first
    _unused, changed, _unused = etcd_pki.reconcile(params(), _with(material, "etcd-1", root_key="garbage"))
    assert changed == {"etcd-1": {"root": "unreadable (key cannot be parsed (ValueError))"}}
    again, changed, _unused = etcd_pki.reconcile(params(key_algorithm="rsa-2048"), material["members"])
    assert again["ca"] == material["ca"]
    assert all(r == "key algorithm changed" for m in changed.values() for r in m.values())


def test_member_addresses_follow_the_shared_host_rule():
    material, _unused, _unused = etcd_pki.reconcile(params([{"name": "etcd_0", "addresses": ["ETCD_0.Lab.Test", "[2001:db8::1]"]}]), {})
    assert {"etcd_0.lab.test", "2001:db8::1"} <= sans(material["members"]["etcd_0"]["server.crt"])
