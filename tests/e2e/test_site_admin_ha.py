"""An HA admin control plane on the lab: three kubeadm control-plane nodes behind a shared
endpoint (the lab's haproxy load balancer), joined one at a time by the admin_cluster role.

These nodes get kubelet, kubeadm and kubectl from a package repository (kube_packages
source "apt"): a signed repository laid out like the upstream one, built from the
project's binaries (fixtures/apt_repo.py) and served over HTTP by the load balancer node.
The control-plane nodes take the container runtime from Debian's own packages
(containerd_source "apt": containerd, runc, the CNI plugins and their dependencies,
downloaded once into the cache, in a signed repository the load balancer node serves as the
site's Debian mirror); the worker keeps the bundle's. The nodes have no other package
source. test_site.py covers the bundle sources of both.

Runs after test_site.py (file order): it replaces the lab with fresh admin nodes, since a
kubeadm cluster's control-plane endpoint is fixed when it is initialised."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml
from conftest import LAB, lab_up, wait_booted
from harness import apt_repo
from harness.procs import CACHE, KUBE_VERSION, REPO, binary
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions

PLAYBOOK = os.path.join(REPO, "playbooks", "admin_cluster.yml")
ADMIN = os.path.join(CACHE, "lab", "admin.conf")
CONTROL_PLANE = ["lab-admin-cp-0", "lab-admin-cp-1", "lab-admin-cp-2"]
NODES = [*CONTROL_PLANE, "lab-admin-worker-0"]


def kubectl(*args, check=True, timeout=60):
    return subprocess.run([binary("kubectl"), "--kubeconfig", ADMIN, "--request-timeout=10s", *args],
                          capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def ha(lab, bundle_dir, tmp_path_factory):
    subprocess.run([*LAB, "destroy"], capture_output=True, text=True, check=True)
    inventory = lab_up(etcd=0, admin_control_plane=3, admin_workers=1, tenant_workers=0)
    with open(inventory, encoding="utf-8") as f:
        endpoint = yaml.safe_load(f)["all"]["vars"]["admin_cluster_control_plane_endpoint"]
    tmp = tmp_path_factory.mktemp("ha")
    # the package repository, served by the load balancer node; no other source on the nodes
    repo = apt_repo.build(str(tmp / "apt"), KUBE_VERSION)
    subprocess.run(["podman", "cp", repo, "lab-admin-lb:/srv/kube-apt"], check=True, capture_output=True)
    subprocess.run(["podman", "exec", "-d", "lab-admin-lb", "python3", "-m", "http.server", "8080", "--directory",
                    "/srv/kube-apt"], check=True, capture_output=True)
    for node in NODES:
        subprocess.run(["podman", "exec", node, "rm", "-f", "/etc/apt/sources.list"], check=True, capture_output=True)
    repository = f"http://{endpoint.rsplit(':', 1)[0]}:8080/"
    debian = apt_repo.debian(str(tmp / "debian"), ["containerd", "runc", "containernetworking-plugins"], CACHE)
    subprocess.run(["podman", "cp", debian, "lab-admin-lb:/srv/debian"], check=True, capture_output=True)
    subprocess.run(["podman", "exec", "-d", "lab-admin-lb", "python3", "-m", "http.server", "8081", "--directory",
                    "/srv/debian"], check=True, capture_output=True)
    with open(os.path.join(debian, "Release.key"), encoding="utf-8") as f:
        debian_key = f.read()
    for node in NODES:
        subprocess.run(["podman", "exec", "-i", node, "sh", "-c", "mkdir -p /etc/apt/keyrings && "
                        "cat > /etc/apt/keyrings/lab-debian.asc"], input=debian_key, text=True, check=True,
                       capture_output=True)
        subprocess.run(["podman", "exec", "-i", node, "sh", "-c", "cat > /etc/apt/sources.list.d/debian.list"],
                       input=f"deb [signed-by=/etc/apt/keyrings/lab-debian.asc] http://{endpoint.rsplit(':', 1)[0]}:8081/ /\n",
                       text=True, check=True, capture_output=True)
    # the worker was set up for an earlier minor: its repository (gone from the server) must be
    # replaced, or apt's update fails on it
    subprocess.run(["podman", "exec", "-i", "lab-admin-worker-0", "sh", "-c",
                    "cat > /etc/apt/sources.list.d/kamaji-kubernetes.list"], check=True, capture_output=True, text=True,
                   input=f"deb [signed-by=/etc/apt/keyrings/kamaji-kubernetes.asc] {repository}v1.36/ /\n")
    extra = {"kamaji_bundle_dir": bundle_dir, "kube_packages_source": "apt", "kube_packages_apt_repository": repository}
    # the control-plane nodes take Debian's containerd, the worker keeps the bundle's (with the
    # stale repository above, a first install from Debian's mirror could not refresh its lists)
    with open(inventory, encoding="utf-8") as f:
        head, data = f.read().split("\n", 1)
    hosts = json.loads(data)
    for node in CONTROL_PLANE:
        hosts["all"]["children"]["admin_control_plane"]["hosts"][node]["containerd_source"] = "apt"
    with open(inventory, "w", encoding="utf-8") as f:
        f.write(head + "\n" + json.dumps(hosts, indent=2) + "\n")
    runs = {}
    for label in ("first", "second"):
        start = time.monotonic()
        runs[label] = run_playbook(PLAYBOOK, tmp, extra, inventory=inventory)
        print(f"admin cluster with 3 control-plane nodes, {label} run: {time.monotonic() - start:.0f} s")
        assert runs[label].rc == 0, runs[label].failed_tasks()
    yield {"endpoint": endpoint, "runs": runs, "extra": extra}
    # the other e2e modules expect the default lab: leave none of the HA nodes behind
    subprocess.run([*LAB, "destroy"], capture_output=True, text=True, check=False)


def test_three_control_plane_nodes_ready_behind_the_shared_endpoint(ha):
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == [*CONTROL_PLANE, "lab-admin-worker-0"]
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", (node["metadata"]["name"], ready)
    etcd = json.loads(kubectl("-n", "kube-system", "get", "pods", "-l", "component=etcd", "-o", "json").stdout)
    assert sorted(p["spec"]["nodeName"] for p in etcd["items"]) == CONTROL_PLANE
    conf = yaml.safe_load(open(ADMIN, encoding="utf-8"))
    assert conf["clusters"][0]["cluster"]["server"] == f"https://{ha['endpoint']}"


def test_kube_packages_from_the_repository_pinned_and_held(ha):
    want = f"{KUBE_VERSION.lstrip('v')}-1.1 hi"  # h: held, i: installed
    for node in NODES:
        out = subprocess.run(["podman", "exec", node, "dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n",
                              "kubelet", "kubeadm", "kubectl"], check=True, capture_output=True, text=True).stdout
        assert sorted(line.strip() for line in out.splitlines()) == [f"{p} {want}" for p in ("kubeadm", "kubectl", "kubelet")], out
        unit = subprocess.run(["podman", "exec", node, "systemctl", "show", "-p", "ExecStart", "kubelet"], check=True,
                              capture_output=True, text=True).stdout
        assert "path=/usr/bin/kubelet" in unit and "/usr/local/bin" not in unit, (node, unit)


def test_the_runtime_from_debian_packages_on_the_control_plane_from_the_bundle_on_the_worker(ha):
    runtimes = {item["metadata"]["name"]: item["status"]["nodeInfo"]["containerRuntimeVersion"]
                for item in json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]}
    assert runtimes.pop("lab-admin-worker-0") == "containerd://" + versions.CONTAINERD.lstrip("v")
    assert all(r.startswith("containerd://1.6.") for r in runtimes.values()), runtimes
    for node in CONTROL_PLANE:
        out = subprocess.run(["podman", "exec", node, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n",
                              "containerd", "runc", "containernetworking-plugins"], check=True, capture_output=True,
                             text=True).stdout
        assert sorted(line.split()[0] for line in out.splitlines() if line.split()[-1] == "ii") == [
            "containerd", "containernetworking-plugins", "runc"], (node, out)
        # nothing of the bundle's runtime on these nodes
        assert subprocess.run(["podman", "exec", node, "test", "-e", "/usr/local/bin/containerd"],
                              check=False).returncode != 0, node


def test_the_sources_file_holds_the_configured_repository_only(ha):
    want = f"deb [signed-by=/etc/apt/keyrings/kamaji-kubernetes.asc] {ha['extra']['kube_packages_apt_repository']} /\n"
    for node in NODES:
        got = subprocess.run(["podman", "exec", node, "cat", "/etc/apt/sources.list.d/kamaji-kubernetes.list"],
                             check=True, capture_output=True, text=True).stdout
        assert got == want, (node, got)


def test_second_run_changes_nothing(ha):
    stats = ha["runs"]["second"].stats
    assert {h: s["changed"] for h, s in stats.items() if s["changed"]} == {}


def test_another_endpoint_fails_naming_the_variable(ha, tmp_path):
    inventory = os.path.join(REPO, "inventories", "lab", "hosts.yml")
    res = run_playbook(PLAYBOOK, tmp_path, {**ha["extra"], "admin_cluster_control_plane_endpoint": "10.255.0.1:6443"},
                       inventory=inventory)
    assert res.rc != 0
    msg = res.task("The cluster serves on the configured shared endpoint (kubeadm fixes it at init)",
                   host="lab-admin-cp-0")["msg"]
    assert msg.startswith("admin_cluster_control_plane_endpoint: the admin cluster was initialised with the endpoint "
                          f"https://{ha['endpoint']}, not 10.255.0.1:6443"), msg


def test_admin_api_survives_the_first_control_plane_node_stopping(ha):
    subprocess.run(["podman", "stop", "-t", "5", "lab-admin-cp-0"], check=True, capture_output=True)
    try:
        # haproxy drops the stopped server after two failed checks 1 s apart; bounded wait
        deadline = time.monotonic() + 60
        while True:
            got = kubectl("create", "configmap", "written-with-cp-0-down", "-n", "default", check=False)
            if got.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert got.returncode == 0, got.stderr
        reads = [kubectl("get", "configmap", "-n", "default", check=False) for _read in range(5)]
        assert all("written-with-cp-0-down" in r.stdout for r in reads), [r.stderr for r in reads]  # each one served
    finally:
        subprocess.run(["podman", "start", "lab-admin-cp-0"], check=False, capture_output=True)


def test_after_a_reboot_the_node_keeps_its_address_routes_and_readiness(ha):
    """Runs last in this module. The bridge network's routes to the other nodes' pod CIDRs are
    applied at boot (a container restart starts a new network namespace: no route survives it
    by itself), and the lab node comes back with its fixed address, so the kubelet is Ready."""
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    cidrs = {n["metadata"]["name"]: n["spec"]["podCIDR"] for n in nodes}
    node = "lab-admin-worker-0"

    def address():
        out = subprocess.run(["podman", "inspect", node, "--format", "{{json .NetworkSettings.Networks}}"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["kamaji-lab"]["IPAddress"]

    before = address()
    subprocess.run(["podman", "restart", "-t", "10", node], check=True, capture_output=True, timeout=120)
    booted = wait_booted(node)
    assert booted in ("running", "degraded"), booted
    unit = subprocess.run(["podman", "exec", node, "systemctl", "is-active", "kamaji-pod-routes"], capture_output=True,
                          text=True, check=False).stdout.strip()
    routes = subprocess.run(["podman", "exec", node, "ip", "-4", "route", "show"], capture_output=True, text=True,
                            check=True).stdout
    assert unit == "active", unit
    for cp in CONTROL_PLANE:
        assert f"{cidrs[cp]} via " in routes, (cp, cidrs[cp], routes)
    assert address() == before
    ready = kubectl("wait", "--for=condition=Ready", f"node/{node}", "--timeout=120s", check=False, timeout=150)
    assert ready.returncode == 0, ready.stderr
