"""The whole site on the lab, over SSH: the shared etcd, the kubeadm admin cluster (real
kubelets, containerd, bridge CNI) and two tenants whose control planes run as pods there."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from ansible_runner import run_playbook
from fixtures.procs import CACHE, REPO, binary

SITE = os.path.join(REPO, "playbooks", "site.yml")
ADMIN = os.path.join(CACHE, "lab", "admin.conf")
TENANTS = os.path.join(CACHE, "lab", "tenants")


def kubectl(conf, *args, check=True):
    return subprocess.run([binary("kubectl"), "--kubeconfig", conf, *args], capture_output=True, text=True,
                          check=check, timeout=120)


@pytest.fixture(scope="module")
def site(lab, bundle_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    runs = {}
    for label in ("first", "second"):
        start = time.monotonic()
        runs[label] = run_playbook(SITE, tmp, {"kamaji_bundle_dir": bundle_dir}, inventory=lab)
        runs[label + "_seconds"] = time.monotonic() - start
        assert runs[label].rc == 0, runs[label].failed_tasks()
    print(f"site: first run {runs['first_seconds']:.0f} s, second run {runs['second_seconds']:.0f} s")
    return runs


def test_admin_cluster_nodes_are_ready(site):
    nodes = json.loads(kubectl(ADMIN, "get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["lab-admin-cp-0", "lab-admin-worker-0"]
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", (node["metadata"]["name"], ready)


def test_tenant_control_plane_pods_run_with_the_replicas_asked_for(site):
    for tenant in ("tenant-a", "tenant-b"):
        pods = json.loads(kubectl(ADMIN, "-n", f"tenant-{tenant}", "get", "pods", "-o", "json").stdout)["items"]
        running = [p for p in pods if p["status"]["phase"] == "Running"
                   and all(c["ready"] for c in p["status"]["containerStatuses"])]
        assert len(running) == 2, [(p["metadata"]["name"], p["status"]["phase"]) for p in pods]
        assert {c["name"] for c in running[0]["status"]["containerStatuses"]} == {
            "kube-apiserver", "kube-controller-manager", "kube-scheduler"}


def test_tenant_api_answers_through_its_endpoint_and_tenants_are_isolated(site):
    a, b = (os.path.join(TENANTS, f"{t}.kubeconfig") for t in ("tenant-a", "tenant-b"))
    assert "kube-system" in kubectl(a, "get", "ns").stdout
    kubectl(a, "create", "configmap", "only-in-a", "--from-literal=k=v")
    assert kubectl(b, "get", "configmap", "only-in-a", check=False).returncode != 0
    assert kubectl(a, "-n", "kube-public", "get", "configmap", "cluster-info").returncode == 0


def test_second_site_run_changes_nothing(site):
    changed = {h: s["changed"] for h, s in site["second"].stats.items() if s.get("changed")}
    assert changed == {}


def _tenant_conf(tenant):
    return os.path.join(TENANTS, f"{tenant}.kubeconfig")


def test_each_tenant_worker_is_ready_in_its_own_tenant_only(site):
    expected = {"tenant-a": "lab-tenant-worker-0", "tenant-b": "lab-tenant-worker-1"}
    for tenant, worker in expected.items():
        nodes = json.loads(kubectl(_tenant_conf(tenant), "get", "nodes", "-o", "json").stdout)["items"]
        assert [n["metadata"]["name"] for n in nodes] == [worker]
        ready = next(c for c in nodes[0]["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", ready


def test_a_pod_runs_on_the_tenant_worker_with_logs_and_exec(site):
    conf = _tenant_conf("tenant-a")
    kubectl(conf, "run", "probe", "--image=registry.k8s.io/etcd:3.7.3-0", "--image-pull-policy=Never",
            "--command", "--", "etcd", "--data-dir=/tmp/etcd")
    kubectl(conf, "wait", "--for=condition=Ready", "pod/probe", "--timeout=120s")
    assert "etcd" in kubectl(conf, "logs", "probe").stdout
    assert "etcd Version" in kubectl(conf, "exec", "probe", "--", "etcd", "--version").stdout
