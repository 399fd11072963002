"""The whole site on the lab, over SSH: the shared etcd, the kubeadm admin cluster (real
kubelets, containerd, bridge CNI) and two tenants whose control planes run as pods there."""
from __future__ import annotations

import base64
import http.client
import itertools
import json
import os
import ssl
import subprocess
import threading
import time

import pytest
from conftest import lab_up
from harness.procs import CACHE, REPO, binary
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions

SITE = os.path.join(REPO, "playbooks", "site.yml")
ADMIN = os.path.join(CACHE, "lab", "admin.conf")
TENANTS = os.path.join(CACHE, "lab", "tenants")


def kubectl(conf, *args, check=True):
    return subprocess.run([binary("kubectl"), "--kubeconfig", conf, *args], capture_output=True, text=True,
                          check=check, timeout=120)


NODES = ["lab-admin-cp-0", "lab-admin-worker-0", "lab-tenant-worker-0", "lab-tenant-worker-1"]
# what the roles install on bare nodes: Debian packages and the binaries of the bundle
RUNTIME_PACKAGES = ["containerd", "runc", "containernetworking-plugins", "kubelet", "kubeadm", "kubectl",
                    "kubernetes-cni", "cri-tools", "iptables"]


def on_node(node, *argv, check=True):
    return subprocess.run(["podman", "exec", node, *argv], capture_output=True, text=True, check=check, timeout=120)


def what_is_installed(node):
    """Installed packages among RUNTIME_PACKAGES and kube*, and which runtime commands exist."""
    listed = on_node(node, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n").stdout.splitlines()
    packages = sorted(p.split()[0] for p in listed if p.split()[-1].startswith("ii")
                      and (p.split()[0] in RUNTIME_PACKAGES or p.startswith("kube")))
    commands = sorted(c for c in ("containerd", "runc", "ctr", "kubelet", "kubeadm", "kubectl")
                      if on_node(node, "sh", "-c", f"command -v {c}", check=False).returncode == 0)
    return {"packages": packages, "commands": commands}


@pytest.fixture(scope="module")
def site(lab, old_runtime_bundle, tmp_path_factory):
    """Deployed with the previous containerd release; test_containerd_version_bump_rolls... moves it."""
    tmp = tmp_path_factory.mktemp("site")
    bundle_dir = old_runtime_bundle
    old = {"kamaji_bundle_dir": bundle_dir, "containerd_version": versions.CONTAINERD_OLDER}
    runs = {"before": {node: what_is_installed(node) for node in NODES}}
    # check mode first, on machines with no admin cluster, tenant or joined worker yet
    runs["check"] = run_playbook(SITE, tmp, old, inventory=lab, check=True)
    runs["after_check"] = {
        "admin.conf on lab-admin-cp-0": subprocess.run(["podman", "exec", "lab-admin-cp-0", "test", "-e",
                                                        "/etc/kubernetes/admin.conf"], check=False).returncode == 0,
        "kubelet.conf on lab-tenant-worker-0": subprocess.run(["podman", "exec", "lab-tenant-worker-0", "test", "-e",
                                                               "/etc/kubernetes/kubelet.conf"], check=False).returncode == 0,
        "admin kubeconfig on the controller": os.path.exists(ADMIN),
        "tenant kubeconfigs on the controller": sorted(os.listdir(TENANTS)) if os.path.isdir(TENANTS) else [],
    }
    for label in ("first", "second"):
        start = time.monotonic()
        runs[label] = run_playbook(SITE, tmp, old, inventory=lab)
        runs[label + "_seconds"] = time.monotonic() - start
        assert runs[label].rc == 0, runs[label].failed_tasks()
    # and check mode again on the deployed site: the preview of a re-run, nothing to change
    runs["check_deployed"] = run_playbook(SITE, tmp, old, inventory=lab, check=True)
    print(f"site: first run {runs['first_seconds']:.0f} s, second run {runs['second_seconds']:.0f} s")
    return runs


def test_bare_nodes_get_their_runtime_from_the_bundle(site, old_runtime_bundle):
    for node in NODES:
        assert site["before"][node] == {"packages": [], "commands": []}, (node, site["before"][node])
    with open(os.path.join(old_runtime_bundle, "manifest.json"), encoding="utf-8") as f:
        files = json.load(f)["files"]
    for node in NODES:
        assert on_node(node, "containerd", "--version").stdout.split()[-1] == versions.CONTAINERD_OLDER
        for path, rel in (("/usr/local/bin/containerd", "bin/containerd"), ("/usr/local/sbin/runc", "bin/runc"),
                          ("/opt/cni/bin/bridge", "cni/bridge")):
            assert on_node(node, "sha256sum", path).stdout.split()[0] == files[rel]["sha256"], (node, path)
        assert "libseccomp" in on_node(node, "runc", "--version").stdout
        # still no Debian package of the runtime or of Kubernetes: everything came from the bundle
        assert what_is_installed(node)["packages"] == [], node


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
    kubectl(a, "delete", "configmap", "only-in-a", "--ignore-not-found")
    kubectl(a, "create", "configmap", "only-in-a", "--from-literal=k=v")
    assert kubectl(b, "get", "configmap", "only-in-a", check=False).returncode != 0
    assert kubectl(a, "-n", "kube-public", "get", "configmap", "cluster-info").returncode == 0


def test_check_mode_on_new_machines_previews_the_site_and_changes_nothing(site):
    check = site["check"]
    assert check.rc == 0, check.failed_tasks()
    assert site["after_check"] == {"admin.conf on lab-admin-cp-0": False, "kubelet.conf on lab-tenant-worker-0": False,
                                   "admin kubeconfig on the controller": False, "tenant kubeconfigs on the controller": []}
    init = check.task("Check mode - the admin cluster does not exist yet", host="lab-admin-cp-0")
    assert init["changed"] and init["msg"].startswith("kubeadm init on lab-admin-cp-0 would create the admin cluster")
    tenant = check.task("Check mode - no admin cluster to create the tenant in yet", host="tenant-a")
    assert tenant["changed"] and tenant["msg"].startswith("tenant tenant-a would be created"), tenant
    worker = check.task("Check mode - the tenant does not exist yet", host="lab-tenant-worker-1")
    assert worker["changed"] and worker["msg"].startswith("lab-tenant-worker-1 would join tenant tenant-b"), worker


def test_check_mode_on_the_deployed_site_reports_no_change(site):
    check = site["check_deployed"]
    assert check.rc == 0, check.failed_tasks()
    assert {h: s["changed"] for h, s in check.stats.items() if s.get("changed")} == {}


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
    kubectl(conf, "delete", "pod", "probe", "--ignore-not-found", "--wait=true")
    kubectl(conf, "run", "probe", "--image=registry.k8s.io/etcd:" + versions.ETCD_IMAGE_TAG, "--image-pull-policy=Never",
            "--command", "--", "etcd", "--data-dir=/tmp/etcd")
    kubectl(conf, "wait", "--for=condition=Ready", "pod/probe", "--timeout=120s")
    assert "etcd" in kubectl(conf, "logs", "probe").stdout
    assert "etcd Version" in kubectl(conf, "exec", "probe", "--", "etcd", "--version").stdout


class TenantPoller(threading.Thread):
    """Reads from a tenant API every 0.1 s, a new TLS connection each time (as a
    client reconnecting through the endpoint would), and records every failed read."""

    def __init__(self, conf, tmp):
        super().__init__(daemon=True)
        import yaml

        with open(conf, encoding="utf-8") as f:
            kc = yaml.safe_load(f)
        cluster, user = kc["clusters"][0]["cluster"], kc["users"][0]["user"]
        files = {}
        for key, src in (("certificate-authority-data", cluster), ("client-certificate-data", user),
                         ("client-key-data", user)):
            files[key] = tmp / key
            files[key].write_bytes(base64.b64decode(src[key]))
        self.ctx = ssl.create_default_context(cafile=str(files["certificate-authority-data"]))
        self.ctx.load_cert_chain(str(files["client-certificate-data"]), str(files["client-key-data"]))
        self.host, port = cluster["server"].removeprefix("https://").rsplit(":", 1)
        self.port = int(port)
        self.ok, self.failed = 0, []
        self.stopping = threading.Event()

    def run(self):
        deadline = time.monotonic() + 600
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=3)
                conn.request("GET", "/api/v1/namespaces/kube-system")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    self.ok += 1
                else:
                    self.failed.append((time.strftime("%H:%M:%S"), resp.status))
            except (OSError, http.client.HTTPException) as exc:
                self.failed.append((time.strftime("%H:%M:%S"), repr(exc)[:200]))
            time.sleep(0.1)

    def stop(self):
        self.stopping.set()
        self.join(10)


def test_deleting_a_tenant_control_plane_pod_fails_no_read(site, tmp_path):
    ns = "tenant-tenant-a"
    pods = json.loads(kubectl(ADMIN, "-n", ns, "get", "pods", "-o", "json").stdout)["items"]
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    poller = TenantPoller(_tenant_conf("tenant-a"), tmp_path)
    poller.start()
    try:
        time.sleep(2)
        kubectl(ADMIN, "-n", ns, "delete", "pod", pods[0]["metadata"]["name"], "--wait=true", "--timeout=90s")
        kubectl(ADMIN, "-n", ns, "rollout", "status", "deployment/kube-control-plane", "--timeout=120s")
        time.sleep(2)
    finally:
        poller.stop()
    print(f"pod deletion: {poller.ok} reads served, {len(poller.failed)} failed")
    assert poller.failed == []
    assert poller.ok > 50
    after = json.loads(kubectl(ADMIN, "-n", ns, "get", "pods", "-o", "json").stdout)["items"]
    names = {p["metadata"]["name"] for p in after if all(c["ready"] for c in p["status"].get("containerStatuses", []))}
    assert len(names) == 2 and pods[0]["metadata"]["name"] not in names, names


def _etcd_member(action):
    subprocess.run(["podman", "exec", "lab-etcd-0", "systemctl", action, "etcd"], check=True, timeout=120)


def test_with_one_etcd_member_stopped_tenants_serve_and_a_third_tenant_is_created(site, lab, bundle_dir, tmp_path):
    admin_worker = json.loads(kubectl(ADMIN, "get", "node", "lab-admin-worker-0", "-o", "json").stdout)
    address = next(a["address"] for a in admin_worker["status"]["addresses"] if a["type"] == "InternalIP")
    extra = tmp_path / "tenant-c.yml"
    extra.write_text(json.dumps({"tenants": {"hosts": {"tenant-c": {"tenant": {
        "endpoint": {"address": address, "port": 31445}, "replicas": 1}}}}}))
    _etcd_member("stop")
    try:
        for tenant in ("tenant-a", "tenant-b"):
            conf = _tenant_conf(tenant)
            kubectl(conf, "delete", "configmap", "written-with-a-member-down", "--ignore-not-found")
            kubectl(conf, "create", "configmap", "written-with-a-member-down", "--from-literal=k=v")
            assert "written-with-a-member-down" in kubectl(conf, "get", "configmap", "-o", "name").stdout
        third = run_playbook(os.path.join(REPO, "playbooks", "tenants.yml"), tmp_path,
                             {"kamaji_bundle_dir": bundle_dir}, inventory=lab, args=("-i", str(extra)))
        assert third.rc == 0, third.failed_tasks()
        assert kubectl(_tenant_conf("tenant-c"), "get", "--raw", "/readyz").stdout == "ok"
        assert "kube-system" in kubectl(_tenant_conf("tenant-c"), "get", "ns").stdout
    finally:
        _etcd_member("start")


def _containerd_started(node):
    """When this node's containerd last started (UTC wall clock, microseconds)."""
    from datetime import datetime

    out = on_node(node, "systemctl", "show", "containerd", "-p", "ActiveEnterTimestamp", "--timestamp=us+utc").stdout
    return datetime.strptime(out.strip().split("=", 1)[1], "%a %Y-%m-%d %H:%M:%S.%f %Z")


def test_containerd_version_bump_rolls_one_node_at_a_time(site, lab, bundle_dir, tmp_path):
    """The inventory's containerd version moves to the current release (the bundle's): each running
    node's containerd restarts in turn, the next one only once the previous node is Ready with it."""
    from datetime import datetime

    started = {node: _containerd_started(node) for node in NODES}
    # the two plays of the site that own nodes (etcd and the tenants play have no containerd)
    nodes_plays = [{"ansible.builtin.import_playbook": os.path.join(REPO, "playbooks", name)}
                   for name in ("admin_cluster.yml", "tenant_workers.yml")]
    bump = run_playbook(nodes_plays, tmp_path, {"kamaji_bundle_dir": bundle_dir}, inventory=lab)
    assert bump.rc == 0, bump.failed_tasks()
    # the roll plays, one batch (play) per node: when its containerd restarted, when it was Ready again
    turns = []
    for play in bump.data["plays"]:
        if "container runtime changes, one running node at a time" not in play["play"]["name"]:
            continue
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if task["task"]["name"].endswith("The node is Ready again, its kubelet reporting this containerd") \
                        and not result.get("skipped"):
                    end = datetime.fromisoformat(task["task"]["duration"]["end"].rstrip("Z"))
                    turns.append((host, end))
    assert sorted(turn[0] for turn in turns) == sorted(NODES), turns
    restarted = {node: _containerd_started(node) for node in NODES}
    for node in NODES:
        assert restarted[node] > started[node], node
        assert on_node(node, "containerd", "--version").stdout.split()[-1] == versions.CONTAINERD
    # within each play's hosts, in the order they were rolled: the next restart after the previous Ready
    for (prev, ready), (nxt, _started) in itertools.pairwise(turns):
        assert restarted[nxt] > ready, f"{nxt} restarted at {restarted[nxt]} before {prev} was Ready ({ready})"
    for conf, nodes in ((ADMIN, NODES[:2]), (_tenant_conf("tenant-a"), NODES[2:3]), (_tenant_conf("tenant-b"), NODES[3:])):
        for item in json.loads(kubectl(conf, "get", "nodes", "-o", "json").stdout)["items"]:
            if item["metadata"]["name"] in nodes:
                assert item["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://" + versions.CONTAINERD.lstrip("v")
                assert next(c for c in item["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"
    # the tenants kept serving
    for tenant in ("tenant-a", "tenant-b"):
        assert kubectl(_tenant_conf(tenant), "get", "--raw", "/readyz").stdout == "ok"
    # nothing left to roll: the preview of a re-run on the tenant workers changes nothing (the
    # admin nodes' is the next test's, on the admin cluster play)
    again = run_playbook(os.path.join(REPO, "playbooks", "tenant_workers.yml"), tmp_path,
                         {"kamaji_bundle_dir": bundle_dir}, inventory=lab, check=True)
    assert again.rc == 0 and {h: s["changed"] for h, s in again.stats.items() if s.get("changed")} == {}


def test_check_mode_with_a_new_admin_worker_names_it_and_joins_nothing(site, bundle_dir, tmp_path):
    """Runs last: a new machine in admin_workers, previewed on the deployed admin cluster."""
    inventory = lab_up(admin_workers=2)
    try:
        check = run_playbook(os.path.join(REPO, "playbooks", "admin_cluster.yml"), tmp_path,
                             {"kamaji_bundle_dir": bundle_dir}, inventory=inventory, check=True)
        assert check.rc == 0, check.failed_tasks()
        preview = check.task("Check mode - nodes that would join the admin cluster", host="lab-admin-cp-0")
        assert preview["changed"] and preview["msg"] == "lab-admin-worker-1 would join the admin cluster", preview
        joined = subprocess.run(["podman", "exec", "lab-admin-worker-1", "test", "-e", "/etc/kubernetes/kubelet.conf"],
                                check=False).returncode == 0
        assert not joined
        names = [n["metadata"]["name"] for n in json.loads(kubectl(ADMIN, "get", "nodes", "-o", "json").stdout)["items"]]
        assert sorted(names) == ["lab-admin-cp-0", "lab-admin-worker-0"]
        assert {h: s["changed"] for h, s in check.stats.items() if s.get("changed")}.keys() <= {
            "lab-admin-cp-0", "lab-admin-worker-1"}
    finally:
        lab_up()
