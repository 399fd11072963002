"""What the etcd modules say when etcd fails, on a dedicated 3-member TLS cluster (two of
its members are stopped here, so it is not the session's shared fixture): lost quorum
names the members that do not answer; refused TLS material names the option, the file
and the reason."""
from __future__ import annotations

import datetime
import os

import pytest
from harness.etcd_cluster import EtcdCluster, EtcdPKI, _write
from harness.runner import run_playbook, seconds

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

TIMEOUT = 3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    own = EtcdCluster(str(tmp_path_factory.mktemp("etcd-errors"))).start()
    yield own
    own.stop()


def run(cluster, tmp_path, module, args, creds=None, endpoints=None):
    conn = dict(cluster.connection(creds), endpoints=endpoints or cluster.endpoints, timeout=TIMEOUT)
    res = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", f"kamaji.core.{module}": dict(conn, **args)}]}], tmp_path)
    task = res.data["plays"][0]["tasks"][0]
    return res, res.task("t"), seconds(task["task"]["duration"])


def _client(cluster, tmp_path, name, ca=None, now=None, days=365):
    """A client certificate with CN root, issued by ``ca`` (default the cluster's) at ``now``."""
    ca_cert, ca_key = ca or (cluster.pki.ca_cert, cluster.pki.ca_key)
    key = pki.generate_key("ecdsa-p256")
    cert = pki.issue_leaf(pki.LeafSpec("root", usages=(pki.CLIENT_AUTH,)), key, ca_cert, ca_key, days, now=now)
    return {"ca_cert": cluster.pki.ca_file,
            "client_cert": _write(str(tmp_path / f"{name}.crt"), pki.cert_to_pem(cert), 0o644),
            "client_key": _write(str(tmp_path / f"{name}.key"), pki.key_to_pem(key))}, cert


def test_expired_root_client_certificate(cluster, tmp_path):
    creds, cert = _client(cluster, tmp_path, "expired", now=pki.utcnow() - datetime.timedelta(days=30), days=10)
    res, failed, took = run(cluster, tmp_path, "etcd_info", {}, creds=creds)
    assert res.rc != 0
    msg = failed["msg"]
    assert msg.startswith("the TLS connection to etcd failed: client_cert: %s: expired on %s (CN=root)"
                          % (creds["client_cert"], pki.iso(cert.not_valid_after_utc))), msg
    assert "BEGIN" not in msg and took < 30


def test_client_certificate_of_another_ca(cluster, tmp_path):
    other = EtcdPKI(str(tmp_path / "other"))
    creds, _unused = _client(cluster, tmp_path, "foreign", ca=(other.ca_cert, other.ca_key))
    res, failed, _unused = run(cluster, tmp_path, "etcd_role", {"name": "x"}, creds=creds)
    assert res.rc != 0
    assert ("client_cert: %s: not signed by the CA in ca_cert %s (CN=root issued by CN=etcd-ca)"
            % (creds["client_cert"], cluster.pki.ca_file)) in failed["msg"], failed["msg"]


def test_client_key_that_does_not_match(cluster, tmp_path):
    creds, _unused = _client(cluster, tmp_path, "mismatch")
    res, failed, _unused = run(cluster, tmp_path, "etcd_info", {}, creds=dict(creds, client_key=cluster.root["client_key"]))
    assert res.rc != 0
    assert failed["msg"].startswith("the TLS connection to etcd failed: client_key does not match client_cert (%s)"
                                    % creds["client_cert"]), failed["msg"]


def test_server_not_trusted_by_ca_cert(cluster, tmp_path):
    other = EtcdPKI(str(tmp_path / "other"))
    creds = dict(cluster.root, ca_cert=open(other.ca_file, encoding="ascii").read())  # inline PEM
    res, failed, _unused = run(cluster, tmp_path, "etcd_info", {}, creds=creds)
    assert res.rc != 0
    msg = failed["msg"]
    assert msg.startswith("the TLS connection to etcd failed: ca_cert: inline PEM: the server certificate of %s "
                          "(CN=etcd-0 issued by CN=etcd-ca) is not signed by the CA in ca_cert" % cluster.endpoints[0]), msg
    # the cluster's root certificate is not signed by that CA either: it is named too
    assert "client_cert: %s: not signed by the CA in ca_cert inline PEM" % cluster.root["client_cert"] in msg


def test_lost_quorum_names_the_stopped_members(cluster, tmp_path):
    """Last: it stops two members of the module's own cluster."""
    cluster.stop_member(1)
    cluster.stop_member(2)
    try:
        for module, args in (("etcd_role", {"name": "x"}), ("etcd_info", {})):
            res, failed, took = run(cluster, tmp_path, module, args)
            assert res.rc != 0
            msg = failed["msg"]
            assert "etcd has lost quorum: 1 of 3 voting members answer, a 3-member cluster needs 2" in msg, msg
            down = msg[msg.index("Not answering:"):msg.index("Answering:")]
            for i in (1, 2):
                assert f"etcd-{i} at {cluster.endpoints[i]} (connection refused" in down, msg
            assert f"Answering: etcd-0 at {cluster.endpoints[0]} (no leader)" in msg
            assert "start the stopped etcd members" in msg
            # the call's timeout, its retries' backoff and a probe of at most 2s per member
            assert took < TIMEOUT + 15, took
    finally:
        for i in (1, 2):
            if not cluster.procs[i].alive:
                cluster.start_member(i)
    assert os.path.exists(cluster.pki.ca_file)
