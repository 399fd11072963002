"""The real-process fixtures themselves: what every integration test stands on."""
from __future__ import annotations

import json
import time

import pytest
from harness.procs import wait_for


def test_etcd_has_three_started_members(etcd_cluster):
    out = json.loads(etcd_cluster.etcdctl("member", "list", "-w", "json").stdout)
    assert len(out["members"]) == 3
    assert all(m.get("clientURLs") for m in out["members"]), "every member has started"


def test_etcd_auth_is_enabled(etcd_cluster):
    assert "Authentication Status: true" in etcd_cluster.etcdctl("auth", "status").stdout


def test_etcd_refuses_a_client_without_certificate(etcd_cluster):
    nocert = {"ca_cert": etcd_cluster.pki.ca_file}
    out = etcd_cluster.etcdctl("get", "/x", creds=nocert, check=False)
    assert out.returncode != 0
    assert "certificate" in out.stderr.lower() or "tls" in out.stderr.lower() or "deadline" in out.stderr.lower()


def test_kube_apiserver_readyz(kube_control_plane):
    assert kube_control_plane.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_controller_manager_creates_replicasets(kube_control_plane, tmp_path):
    from harness.runner import run_playbook

    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "deployment", "kubernetes.core.k8s": {
            "kubeconfig": kube_control_plane.kubeconfig, "state": "present",
            "definition": {"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "probe", "namespace": "default"},
                           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "probe"}},
                                    "template": {"metadata": {"labels": {"app": "probe"}},
                                                 "spec": {"containers": [{"name": "c", "image": "pause"}]}}}}}}]}]
    res = run_playbook(play, tmp_path)
    assert res.rc == 0, res.stdout[-2000:]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rs = json.loads(kube_control_plane.kubectl("get", "rs", "-n", "default", "-o", "json").stdout)["items"]
        if rs:
            assert rs[0]["metadata"]["ownerReferences"][0]["name"] == "probe"
            return
        time.sleep(0.5)
    pytest.fail("kube-controller-manager created no ReplicaSet for Deployment probe within 60s")


def test_killing_one_etcd_member_leaves_the_cluster_writable(etcd_cluster):
    leader_index = _leader_index(etcd_cluster)
    etcd_cluster.kill_member(leader_index)  # the worst case: the leader dies
    try:
        # a new leader is elected within a few election timeouts (1 s each here); bounded wait
        wait_for("a write after the leader was killed",
                 lambda: etcd_cluster.etcdctl("put", "/fixture/probe", "still-writable", check=False).returncode == 0,
                 30)
        assert etcd_cluster.etcdctl("get", "/fixture/probe", "--print-value-only").stdout.strip() == "still-writable"
    finally:
        etcd_cluster.start_member(leader_index)
    assert etcd_cluster.healthy(leader_index)


def _leader_index(etcd_cluster):
    status = json.loads(etcd_cluster.etcdctl("endpoint", "status", "-w", "json").stdout)
    leader = status[0]["Status"]["leader"]
    return next(i for i, s in enumerate(status) if s["Status"]["header"]["member_id"] == leader)
