"""etcd failures put into words: lost quorum from the members' answers, refused TLS
material from the certificates themselves (generated here with the project's PKI code)."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd
from ansible_collections.kamaji.core.plugins.module_utils.etcd import report
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import Probe
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.UTC)
SOURCES = {"ca_cert": "/etc/kamaji/etcd/pki/ca.crt", "client_cert": "/etc/kamaji/etcd/pki/root.crt",
           "client_key": "/etc/kamaji/etcd/pki/root.key"}


class _RpcError(Exception):
    def __init__(self, details, code=None):
        super().__init__(details)
        self._details, self._code = details, code

    def details(self):
        return self._details

    def code(self):
        return type("Code", (), {"name": self._code})() if self._code else None


@pytest.fixture(scope="module")
def ca():
    key = pki.generate_key("ecdsa-p256")
    return pki.issue_ca("etcd-ca", key, 3650, now=NOW - datetime.timedelta(days=365)), key


def _leaf(ca, cn="root", now=NOW, days=365, usages=(pki.CLIENT_AUTH,), sans=()):
    key = pki.generate_key("ecdsa-p256")
    dns, ips = net.split_names(sans)
    spec = pki.LeafSpec(cn, usages=usages, dns_names=dns, ip_addresses=ips)
    return pki.issue_leaf(spec, key, ca[0], ca[1], days, now=now), key


def _material(ca, cert, key):
    return {"ca_cert": pki.cert_to_pem(ca[0]).encode(), "client_cert": pki.cert_to_pem(cert).encode(),
            "client_key": pki.key_to_pem(key).encode()}


def test_good_material_has_no_problem(ca):
    assert report.credential_problems(_material(ca, *_leaf(ca)), SOURCES, now=NOW) == []


def test_expired_client_certificate_names_option_file_and_date(ca):
    cert, key = _leaf(ca, now=NOW - datetime.timedelta(days=30), days=10)
    material = _material(ca, cert, key)
    problems = report.credential_problems(material, SOURCES, now=NOW)
    assert len(problems) == 1
    expired = pki.iso(cert.not_valid_after_utc)
    assert problems[0].startswith("client_cert: /etc/kamaji/etcd/pki/root.crt: expired on %s (CN=root)" % expired)
    assert "rerun the kamaji.core.etcd playbook" in problems[0]
    secret = material["client_key"].decode().splitlines()[1]
    assert all(secret not in p for p in problems)


def test_not_yet_valid_client_certificate(ca):
    cert, key = _leaf(ca, now=NOW + datetime.timedelta(days=2))
    problems = report.credential_problems(_material(ca, cert, key), SOURCES, now=NOW)
    assert len(problems) == 1 and "client_cert: /etc/kamaji/etcd/pki/root.crt: not valid before" in problems[0]
    assert "clock" in problems[0]


def test_client_certificate_of_another_ca(ca):
    other = pki.generate_key("ecdsa-p256")
    other_ca = (pki.issue_ca("other-ca", other, 3650, now=NOW - datetime.timedelta(days=1)), other)
    cert, key = _leaf(other_ca)
    problems = report.credential_problems(_material(ca, cert, key), SOURCES, now=NOW)
    assert problems == ["client_cert: /etc/kamaji/etcd/pki/root.crt: not signed by the CA in ca_cert "
                        "/etc/kamaji/etcd/pki/ca.crt (CN=root issued by CN=other-ca); give a client certificate "
                        "issued by the etcd cluster's CA, or the CA that issued it"]


def test_key_that_does_not_match_the_certificate(ca):
    cert, _unused = _leaf(ca)
    material = _material(ca, cert, pki.generate_key("ecdsa-p256"))
    problems = report.credential_problems(material, SOURCES, now=NOW)
    assert problems == ["client_key does not match client_cert (/etc/kamaji/etcd/pki/root.crt); give the key "
                        "the certificate was issued for"]
    material["client_key"] = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"
    problems = report.credential_problems(material, dict(SOURCES, client_key="inline PEM"), now=NOW)
    assert problems == ["client_key: inline PEM: the private key cannot be parsed (ValueError) "
                        "(an unencrypted PEM key is needed)"]
    assert "c2VjcmV0" not in problems[0]


def test_inline_material_is_named_inline_and_a_bundle_ca_is_searched(ca):
    other = pki.generate_key("ecdsa-p256")
    bundle = pki.cert_to_pem(pki.issue_ca("other-ca", other, 10, now=NOW)) + pki.cert_to_pem(ca[0])
    cert, key = _leaf(ca, now=NOW - datetime.timedelta(days=400), days=1)
    material = dict(_material(ca, cert, key), ca_cert=bundle.encode())
    inline = {"ca_cert": "inline PEM", "client_cert": "inline PEM", "client_key": "inline PEM"}
    problems = report.credential_problems(material, inline, now=NOW)
    assert len(problems) == 1 and problems[0].startswith("client_cert: inline PEM: expired on")
    assert etcd.material_source(pki.cert_to_pem(cert)) == "inline PEM"
    assert etcd.material_source("/x/root.crt") == "/x/root.crt"


def test_expired_ca_and_a_file_without_certificate(ca):
    old = pki.generate_key("ecdsa-p256")
    old_ca = (pki.issue_ca("old-ca", old, 10, now=NOW - datetime.timedelta(days=30)), old)
    problems = report.credential_problems(_material(old_ca, *_leaf(old_ca, now=NOW - datetime.timedelta(days=29))),
                                          SOURCES, now=NOW)
    assert problems[0].startswith("ca_cert: /etc/kamaji/etcd/pki/ca.crt: expired on")
    assert any(p.startswith("client_cert: /etc/kamaji/etcd/pki/root.crt: expired on") for p in problems)
    material = dict(_material(ca, *_leaf(ca)), client_cert=b"not a certificate")
    assert report.credential_problems(material, SOURCES, now=NOW) == [
        "client_cert: /etc/kamaji/etcd/pki/root.crt: holds no PEM certificate; give the client certificate "
        "(CN root for user and role management)"]


def test_server_certificate_checks(ca):
    material = _material(ca, *_leaf(ca))
    server, _unused = _leaf(ca, "etcd-0", usages=(pki.SERVER_AUTH,), sans=("127.0.0.1", "etcd-0.example.com"))
    pem = pki.cert_to_pem(server).encode()
    assert report.server_problems("https://127.0.0.1:2379", "127.0.0.1", pem, material, SOURCES, now=NOW) == []
    assert report.server_problems("https://etcd-0.example.com:2379", "etcd-0.example.com", pem, material, SOURCES,
                                  now=NOW) == []
    [wrong_name] = report.server_problems("https://10.0.0.9:2379", "10.0.0.9", pem, material, SOURCES, now=NOW)
    assert wrong_name.startswith("server certificate of https://10.0.0.9:2379: does not name 10.0.0.9 "
                                 "(its names: etcd-0.example.com, 127.0.0.1)")
    other = pki.generate_key("ecdsa-p256")
    other_ca = (pki.issue_ca("other-ca", other, 3650, now=NOW - datetime.timedelta(days=1)), other)
    foreign, _unused = _leaf(other_ca, "etcd-0", usages=(pki.SERVER_AUTH,), sans=("127.0.0.1",))
    [untrusted] = report.server_problems("https://127.0.0.1:2379", "127.0.0.1", pki.cert_to_pem(foreign).encode(),
                                         material, SOURCES, now=NOW)
    assert untrusted.startswith("ca_cert: /etc/kamaji/etcd/pki/ca.crt: the server certificate of "
                                "https://127.0.0.1:2379 (CN=etcd-0 issued by CN=other-ca) is not signed by the CA")


def test_names_with_wildcards():
    assert report._names(["*.example.com"], [], "a.example.com")
    assert not report._names(["*.example.com"], [], "a.b.example.com")
    assert not report._names([], [], "example.com")


@pytest.mark.parametrize("exc, quorum, tls", [
    (_RpcError("Deadline Exceeded", "DEADLINE_EXCEEDED"), True, False),
    (_RpcError("etcdserver: no leader", "UNAVAILABLE"), True, False),
    (_RpcError("etcdserver: request timed out", "UNKNOWN"), True, False),
    (_RpcError("failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: Secure read failed",
               "UNAVAILABLE"), False, True),
    (_RpcError("etcdserver: permission denied", "PERMISSION_DENIED"), False, False),
])
def test_failure_classes(exc, quorum, tls):
    assert report.may_be_quorum(exc) is quorum
    assert report.is_tls(exc) is tls
    assert report.is_network(_RpcError("connect: Connection refused (111)", "UNAVAILABLE"))
    assert not report.is_network(_RpcError("empty address list", "UNAVAILABLE"))
    assert report.last_error(_RpcError("failed to connect to all addresses; last error: UNAVAILABLE: "
                                       "ipv4:127.0.0.1:1: Secure read failed")) == "UNAVAILABLE: ipv4:127.0.0.1:1: " \
                                                                                   "Secure read failed"


@pytest.mark.parametrize("details, code, expect", [
    ("failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.2:2379: Failed to connect to remote "
     "host: connect: Connection refused (111)", "UNAVAILABLE", "connection refused: etcd does not run there"),
    ("Deadline Exceeded", "DEADLINE_EXCEEDED", "no answer within 2s"),
    ("ipv4:10.0.0.2:2379: Secure read failed", "UNAVAILABLE", "TLS failure"),
    ("No route to host", "UNAVAILABLE", "host unreachable"),
])
def test_reason_in_a_few_words(details, code, expect):
    assert report.reason(_RpcError(details, code), 2.0) == expect


def _three(up):
    names = ["etcd-0", "etcd-1", "etcd-2"]
    return [Probe("https://10.0.0.%d:2379" % i, name=n, error="" if n in up else "connection refused",
                  leader=False) for i, n in enumerate(names)]


def test_lost_quorum_names_the_members_that_do_not_answer():
    text = report.quorum_report("reading role x failed at https://10.0.0.0:2379: timed out", _three({"etcd-0"}),
                                True, 2.04, 2.0)
    assert text.startswith("reading role x failed at https://10.0.0.0:2379: timed out. etcd has lost quorum: "
                           "1 of 3 voting members answer, a 3-member cluster needs 2. Not answering: "
                           "etcd-1 at https://10.0.0.1:2379 (connection refused), etcd-2 at https://10.0.0.2:2379 "
                           "(connection refused). Answering: etcd-0 at https://10.0.0.0:2379 (no leader). "
                           "Fix: start the stopped etcd members")
    assert "kamaji.core.etcd_maintenance --tags restore" in text
    assert text.endswith("(each member asked for its status with a 2s timeout, 2.0s in all)")


def test_quorum_verdict_without_member_list_is_a_guess():
    text = report.quorum_report("f", _three({"etcd-0"})[:2], False, 0.1, 2.0)
    assert "etcd has probably lost quorum (a guess from the configured endpoints" in text
    assert "1 of 2 voting members answer, a 2-member cluster needs 2" in text


def test_no_leader_with_a_majority_and_a_healthy_cluster():
    probes = _three({"etcd-0", "etcd-1"})
    message = report.quorum_report("f", probes, True, 0.1, 2.0)
    assert "etcd has no leader although 2 of 3 voting members answer" in message
    probes[0].leader = True
    healthy = report.quorum_report("f", probes, True, 0.1, 2.0)
    assert healthy.startswith("f; the cluster has a leader and 2 of 3 voting members answer now")
    assert "quorum" not in healthy


def test_learners_do_not_count():
    probes = _three({"etcd-0", "etcd-1"}) + [Probe("https://10.0.0.9:2379", name="new", error="x", learner=True)]
    text = report.quorum_report("f", probes, True, 0.1, 2.0)
    assert "2 of 3 voting members" in text and "new" not in text
