"""The whole site on bare lab nodes, over SSH, as the sample inventory describes it: the shared
etcd (3 members), an HA kubeadm admin cluster (3 control-plane nodes behind a shared endpoint, 2
workers; real kubelets, containerd, bridge CNI) and the sample's tenants, acme and globex, whose
control planes run as pods there, each with a worker machine of its own. The site is deployed at
the previous Kubernetes minor (the admin cluster and both tenants), then kamaji.core.upgrade moves
it to the sample's releases (the admin cluster and globex; acme stays, as the sample pins it, until
a later scenario moves it) while clients read from every tenant and its workload. That one
deployed site serves every scenario of this module, in order; the shared etcd's own scenarios (a
rolling restart, growth to five members and a replaced member, snapshot and restore) run last, on
the etcd the tenants use.

The inventory is a copy of inventories/sample (hosts, group_vars, tenant definitions, as a
platform team would copy it) with only these changes:
- the sample's addresses become the lab nodes' (each sample host is one lab node; the
  inventory names stay the sample's, so a machine's hostname differs from its node name, as
  on many real sites), its endpoint name the lab load balancer's address;
- its controller paths (/srv/kamaji/...) move to a temporary directory, its bundle path to the
  bundle the tests built (first with the previous containerd release, which a later scenario
  moves to the current one);
- the control-plane nodes take kubelet, kubeadm and kubectl from a package repository
  (kube_packages source "apt": a signed repository laid out like the upstream one, built from
  the project's binaries) and the container runtime from Debian's own packages
  (containerd_source "apt"), both served over HTTP by the load balancer node; the other nodes
  keep the sample's bundle sources."""
from __future__ import annotations

import base64
import datetime
import glob
import http.client
import itertools
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
import yaml
from conftest import KEEP, LAB, SIZES, lab_up, wait_booted
from harness import apt_repo
from harness.procs import CACHE, KUBE_VERSION, REPO, binary
from harness.runner import profile, run_playbook, seconds

from ansible_collections.kamaji.core.plugins.module_utils import versions

SITE = os.path.join(REPO, "playbooks", "site.yml")
UPGRADE = os.path.join(REPO, "playbooks", "upgrade.yml")
SAMPLE = os.path.join(REPO, "inventories", "sample")
# each host of the sample inventory, and the lab node (container) that plays it
LAB_NODE = {
    **{f"etcd-{i}": f"lab-etcd-{i}" for i in range(3)},
    **{f"admin-cp-{i}": f"lab-admin-cp-{i}" for i in range(3)},
    **{f"admin-worker-{i}": f"lab-admin-worker-{i}" for i in range(3)},  # -2: a machine added later
    "acme-worker-0": "lab-tenant-worker-0",
    "globex-worker-0": "lab-tenant-worker-1",
}
CONTROL_PLANE = ["admin-cp-0", "admin-cp-1", "admin-cp-2"]
WORKERS = ["admin-worker-0", "admin-worker-1"]
TENANT_WORKERS = {"acme": "acme-worker-0", "globex": "globex-worker-0"}
# the sample's tenant versions (acme: the previous minor, which the e2e bundles hold too)
TENANT_VERSIONS = {"acme": versions.KUBERNETES_OLDER[0], "globex": versions.KUBERNETES}
# the site is deployed at the previous minor, then moved to the sample's releases by
# kamaji.core.upgrade: these lines of the inventory copy name the release that moves
OLDER = versions.KUBERNETES_OLDER[0]
MOVING_RELEASES = {"group_vars/admin_cluster.yml": "admin_cluster_kubernetes_version: {}",
                   "host_vars/globex.yml": "  kubernetes_version: {}"}
# the nodes that run the bundle's runtime (the control-plane nodes run Debian's)
BUNDLE_NODES = [*WORKERS, *TENANT_WORKERS.values()]
# what the roles install on bare nodes: Debian packages and the binaries of the bundle
RUNTIME_PACKAGES = ["containerd", "runc", "containernetworking-plugins", "kubelet", "kubeadm", "kubectl",
                    "kubernetes-cni", "cri-tools", "iptables"]


def on_node(host, *argv, check=True):
    """A command on the lab node playing this sample host."""
    return subprocess.run(["podman", "exec", LAB_NODE[host], *argv], capture_output=True, text=True, check=check,
                          timeout=120)


def what_is_installed(host):
    """Installed packages among RUNTIME_PACKAGES and kube*, and which runtime commands exist."""
    listed = on_node(host, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n").stdout.splitlines()
    packages = sorted(p.split()[0] for p in listed if p.split()[-1].startswith("ii")
                      and (p.split()[0] in RUNTIME_PACKAGES or p.startswith("kube")))
    commands = sorted(c for c in ("containerd", "runc", "ctr", "kubelet", "kubeadm", "kubectl")
                      if on_node(host, "sh", "-c", f"command -v {c}", check=False).returncode == 0)
    return {"packages": packages, "commands": commands}


def map_sample(out, lab_inventory, bundle_dir, controller_dir, cp_vars):
    """A copy of the sample inventory in ``out`` with the lab's addresses and paths (see the
    module's docstring); ``cp_vars`` are added to the control-plane hosts. Returns the admin
    cluster's shared endpoint."""
    lab = _lab_vars(lab_inventory)
    lab_ip = {name: host["ansible_host"] for group in lab["all"]["children"].values()
              for name, host in group.get("hosts", {}).items() if "ansible_host" in host}
    endpoint = lab["all"]["vars"]["admin_cluster_control_plane_endpoint"]
    shutil.copytree(SAMPLE, out)
    with open(os.path.join(SAMPLE, "hosts.yml"), encoding="utf-8") as f:
        sample = yaml.safe_load(f)
    hosts = {name: host for group in _groups(sample["all"]) for name, host in (group.get("hosts") or {}).items()}
    assert set(hosts) - {"acme", "globex"} <= set(LAB_NODE), "the sample's hosts changed: update LAB_NODE"
    addresses = {host["ansible_host"]: lab_ip[LAB_NODE[name]] for name, host in hosts.items() if host}
    subs = [(re.compile(r"/srv/kamaji/bundle/[^\s\"']+"), bundle_dir.rstrip("/")),
            (re.compile(r"/srv/kamaji/"), controller_dir.rstrip("/") + "/"),
            (re.compile(r"admin-api\.example\.internal:6443"), endpoint)]
    subs += [(re.compile(r"(?<![\d.])" + re.escape(a) + r"(?![\d.])"), b) for a, b in addresses.items()]
    for root, _dirs, files in os.walk(out):
        for name in files:
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for pattern, repl in subs:
                text = pattern.sub(repl.replace("\\", "\\\\"), text)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    with open(os.path.join(out, "hosts.yml"), encoding="utf-8") as f:
        mapped = yaml.safe_load(f)
    # how the controller reaches the lab nodes (the sample leaves SSH settings to the site)
    mapped["all"]["vars"] = {k: v for k, v in lab["all"]["vars"].items() if k.startswith("ansible_ssh")}
    for group in _groups(mapped["all"]):
        for name, host in (group.get("hosts") or {}).items():
            if name in CONTROL_PLANE:
                host.update(cp_vars)
    with open(os.path.join(out, "hosts.yml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(mapped, f, sort_keys=False)
    return endpoint


def _set_releases(inventory, release):
    """The admin cluster's and globex's release in the inventory copy (as a platform team edits it)."""
    for rel, line in MOVING_RELEASES.items():
        path = os.path.join(inventory, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        current = next(line.format(v) for v in versions.KUBERNETES_ALL if line.format(v) in text.splitlines())
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(current, line.format(release)))


def _set_bundle(site, bundle):
    """Point the inventory copy at ``bundle`` (as a platform team does with a new bundle); from then on
    the site's runs need none of the deployed bundle's releases as extra variables."""
    for root, _dirs, files in os.walk(site["inventory"]):
        for name in files:
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if site["bundle"] in text:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text.replace(site["bundle"], bundle))
    site["bundle"] = bundle


def _groups(group):
    yield group
    for child in (group.get("children") or {}).values():
        yield from _groups(child)


def _lab_vars(lab_inventory):
    with open(lab_inventory, encoding="utf-8") as f:
        return json.loads(f.read().split("\n", 1)[1])


def _minor(release):
    """``v1.37.2`` -> ``v1.37``."""
    return ".".join(release.split(".")[:2])


def _serve_package_sources(tmp, lb):
    """The kube packages repositories (one per minor under one URL, as upstream lays them out)
    and the Debian mirror, on the load balancer node; the control-plane nodes get the mirror as
    their only Debian source. Returns the former's URL."""
    repo = str(tmp / "apt")
    for release in versions.KUBERNETES_ALL:  # one repository per minor, as upstream lays them out
        apt_repo.build(os.path.join(repo, _minor(release)), release)
    debian = apt_repo.debian(str(tmp / "debian"), ["containerd", "runc", "containernetworking-plugins"], CACHE)
    for path, port in ((repo, 8080), (debian, 8081)):
        subprocess.run(["podman", "cp", path, f"lab-admin-lb:/srv/repo-{port}"], check=True, capture_output=True)
        subprocess.run(["podman", "exec", "-d", "lab-admin-lb", "python3", "-m", "http.server", str(port), "--directory",
                        f"/srv/repo-{port}"], check=True, capture_output=True)
    with open(os.path.join(debian, "Release.key"), encoding="utf-8") as f:
        debian_key = f.read()
    for host in CONTROL_PLANE:
        on_node(host, "rm", "-f", "/etc/apt/sources.list")
        for path, text in (("/etc/apt/keyrings/lab-debian.asc", debian_key),
                           ("/etc/apt/sources.list.d/debian.list",
                            f"deb [signed-by=/etc/apt/keyrings/lab-debian.asc] http://{lb}:8081/ /\n")):
            subprocess.run(["podman", "exec", "-i", LAB_NODE[host], "sh", "-c", f"mkdir -p {os.path.dirname(path)} && "
                            f"cat > {path}"], input=text, text=True, check=True, capture_output=True)
    return f"http://{lb}:8080/"


@pytest.fixture(scope="module")
def site(lab, bundle_dir, old_runtime_bundle, tmp_path_factory):
    """Deployed with the bundle of the previous releases (etcd, containerd, the admin cluster's and
    globex's Kubernetes minor); test_the_whole_site_moves... points the inventory at the current
    bundle and moves them all."""
    # the session's lab, booted fresh by the lab fixture (test_lab_nodes only looked at it)
    lab_inventory = lab_up(**SIZES)
    tmp = tmp_path_factory.mktemp("site")
    endpoint = _lab_vars(lab_inventory)["all"]["vars"]["admin_cluster_control_plane_endpoint"]
    repository = _serve_package_sources(tmp, endpoint.rsplit(":", 1)[0])
    # the repository of the minor each node's kube_packages_version names (upstream's layout)
    cp_vars = {"containerd_source": "apt", "kube_packages_source": "apt",
               "kube_packages_apt_repository": repository + "{{ kube_packages_version.split('.')[:2] | join('.') }}/"}
    inventory = str(tmp / "inventory")
    controller = str(tmp / "controller")
    map_sample(inventory, lab_inventory, old_runtime_bundle, controller, cp_vars)
    # the site is deployed at the previous minor: the admin cluster and globex (acme is there in
    # the sample); test_the_whole_site_moves... moves them to the sample's releases
    _set_releases(inventory, OLDER)
    admin = os.path.join(controller, "admin.conf")
    tenants = os.path.join(controller, "tenants")
    # the releases of the deployed bundle the sample's defaults do not name (the upgrade drops them)
    old = {"containerd_version": versions.CONTAINERD_OLDER, "etcd_version": versions.ETCD_OLDER,
           "admin_cluster_etcd_image_tag": versions.ETCD_OLDER_IMAGE_TAG}
    hosts = [*CONTROL_PLANE, *BUNDLE_NODES]
    runs = {"before": {host: what_is_installed(host) for host in hosts}}
    # check mode first, on machines with no admin cluster, tenant or joined worker yet
    runs["check"] = run_playbook(SITE, tmp, old, inventory=inventory, check=True)
    runs["after_check"] = {
        "admin.conf on admin-cp-0": on_node("admin-cp-0", "test", "-e", "/etc/kubernetes/admin.conf",
                                            check=False).returncode == 0,
        "kubelet.conf on acme-worker-0": on_node("acme-worker-0", "test", "-e", "/etc/kubernetes/kubelet.conf",
                                                 check=False).returncode == 0,
        "admin kubeconfig on the controller": os.path.exists(admin),
        "tenant kubeconfigs on the controller": sorted(os.listdir(tenants)) if os.path.isdir(tenants) else [],
        "image archives on admin-worker-0": on_node("admin-worker-0", "test", "-e", "/var/lib/kamaji/images",
                                                    check=False).returncode == 0,
    }
    start = time.monotonic()
    runs["first"] = run_playbook(SITE, tmp, old, inventory=inventory)
    runs["first_seconds"] = time.monotonic() - start
    assert runs["first"].rc == 0, runs["first"].failed_tasks()
    print(f"the sample site at {OLDER}: first run {runs['first_seconds']:.0f} s")
    # the upgrade's runs (test_the_whole_site_moves...) are added to runs
    yield {"runs": runs, "inventory": inventory, "lab_inventory": lab_inventory, "endpoint": endpoint, "admin": admin,
           "tenants": tenants, "repository": repository, "controller": controller,
           "bundle": old_runtime_bundle, "new_bundle": bundle_dir}
    # the next tier run starts from the default lab: leave none of these nodes behind
    if not KEEP:
        subprocess.run([*LAB, "destroy"], capture_output=True, text=True, check=False)


def kubectl(conf, *args, check=True, timeout=120, input=None):
    return subprocess.run([binary("kubectl"), "--kubeconfig", conf, "--request-timeout=10s", *args],
                          capture_output=True, text=True, check=check, timeout=timeout, input=input)


def _tenant_conf(site, tenant):
    return os.path.join(site["tenants"], f"{tenant}.kubeconfig")


def _ready(item):
    return next(c for c in item["status"]["conditions"] if c["type"] == "Ready")["status"] == "True"


def _changed(res):
    return {h: s["changed"] for h, s in res.stats.items() if s.get("changed")}


def _tasks(res, prefix):
    """Every task of a run whose name (after its role's prefix) starts with ``prefix``."""
    return [t for play in res.data.get("plays", []) for t in play["tasks"]
            if t["task"]["name"].split(" : ", 1)[-1].startswith(prefix)]


def test_check_mode_on_new_machines_previews_the_site_and_changes_nothing(site):
    check = site["runs"]["check"]
    assert check.rc == 0, check.failed_tasks()
    assert site["runs"]["after_check"] == {
        "admin.conf on admin-cp-0": False, "kubelet.conf on acme-worker-0": False,
        "admin kubeconfig on the controller": False, "tenant kubeconfigs on the controller": [],
        "image archives on admin-worker-0": False}
    # the images are named, not copied (hundreds of MB per node for a preview)
    images = check.task("Check mode - the images this node would import", host="admin-worker-0")
    assert images["changed"] and images["msg"].startswith("admin-worker-0 would import "), images
    assert "registry.k8s.io/kube-apiserver:" in images["msg"], images
    init = check.task("Check mode - the admin cluster does not exist yet", host="admin-cp-0")
    assert init["changed"] and init["msg"].startswith("kubeadm init on admin-cp-0 would create the admin cluster")
    tenant = check.task("Check mode - no admin cluster to create the tenant in yet", host="acme")
    assert tenant["changed"] and tenant["msg"].startswith("tenant acme would be created"), tenant
    worker = check.task("Check mode - the tenant does not exist yet", host="globex-worker-0")
    assert worker["changed"] and worker["msg"].startswith("globex-worker-0 would join tenant globex"), worker


def _run_once(res, name):
    """The result of a run_once task (it is reported on the first host of its play)."""
    return next(iter(next(t for play in res.data.get("plays", []) for t in play["tasks"]
                          if t["task"]["name"].split(" : ", 1)[-1] == name)["hosts"].values()))


def _snapshots(prefix="before-upgrade-"):
    out = on_node("etcd-0", "ls", "/var/backups/kamaji/etcd", check=False).stdout.split()
    return sorted(f for f in out if f.startswith(prefix))


NOTHING_MOVES = ["nothing moves: every component runs the release the inventory names"]
WHAT_MOVES = "What moves, layer by layer"
# what kamaji.core.upgrade moves on the site deployed at the previous releases, in the site's order
# (the control-plane nodes' containerd comes from Debian's packages: it stays)
ETCD_MEMBERS = ["etcd-0", "etcd-1", "etcd-2"]
MOVES = [*(f"{h}: etcd {versions.ETCD_OLDER} -> {versions.ETCD}" for h in ETCD_MEMBERS),
         *(f"{h}: containerd {versions.CONTAINERD_OLDER} -> {versions.CONTAINERD}" for h in WORKERS),
         *(f"{h}: control plane {OLDER} -> {versions.KUBERNETES} (kubeadm upgrade {a}), kubelet {OLDER} -> "
           f"{versions.KUBERNETES}" for h, a in zip(CONTROL_PLANE, ("apply", "node", "node"), strict=True)),
         *(f"{h}: kubelet {OLDER} -> {versions.KUBERNETES}" for h in WORKERS),
         f"globex: control plane {OLDER} -> {versions.KUBERNETES}",
         *(f"{h}: containerd {versions.CONTAINERD_OLDER} -> {versions.CONTAINERD}" for h in TENANT_WORKERS.values()),
         f"globex-worker-0: kubelet {OLDER} -> {versions.KUBERNETES}"]
# a workload on each tenant's worker: 2 replicas of an HTTP server behind a NodePort Service
# (etcd's image, which the bundle puts on every node, serving /version: the deployed bundle's, which
# the nodes keep after the upgrade)
WORKLOAD_PORT = 30379
WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: registry.k8s.io/etcd:{tag}
          imagePullPolicy: Never
          command: [etcd, --data-dir=/tmp/etcd, --listen-client-urls=http://0.0.0.0:2379,
                    --advertise-client-urls=http://127.0.0.1:2379, --listen-peer-urls=http://127.0.0.1:2380]
          readinessProbe: {{httpGet: {{path: /version, port: 2379}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: default}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 2379, nodePort: {port}}}]
""".format(tag=versions.ETCD_OLDER_IMAGE_TAG, port=WORKLOAD_PORT)
# what an upgrade may rewrite under a tenant's etcd prefix (objects the API servers, the
# controllers and the kubelets replace as they run); every other key must still be there after
# (a bootstrap token's Secret is removed by the token cleaner when it expires; an API server's
# peer lease when that API server is gone)
VOLATILE = ("events/", "leases/", "pods/", "replicasets/", "endpointslices/", "services/endpoints/",
            "controllerrevisions/", "flowschemas/", "prioritylevelconfigurations/", "masterleases/",
            "peerserverleases/", "secrets/kube-system/bootstrap-token-")


class WorkloadPoller(threading.Thread):
    """GETs a workload's /version every 0.2 s (a new connection each time, 2 s to answer) and
    records the gaps: each stretch of failed requests, from the first failure to the next answer."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url = url
        self.ok, self.gaps, self._down_since = 0, [], None
        self.stopping = threading.Event()

    def run(self):
        import urllib.request

        deadline = time.monotonic() + 1800
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    resp.read()
                self.ok += 1
                if self._down_since is not None:
                    self.gaps.append((time.strftime("%H:%M:%S"), time.monotonic() - self._down_since))
                    self._down_since = None
            except OSError:
                if self._down_since is None:
                    self._down_since = time.monotonic()
            time.sleep(0.2)

    def stop(self):
        self.stopping.set()
        self.join(10)
        if self._down_since is not None:
            self.gaps.append(("still down at the end", time.monotonic() - self._down_since))
            self._down_since = None

    def summary(self):
        gaps = ", ".join(f"{s:.0f} s (ended {t})" for t, s in self.gaps) or "none"
        return f"{self.ok} answers, gaps: {gaps}"


def _kubelets(conf):
    return {n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"]
            for n in json.loads(kubectl(conf, "get", "nodes", "-o", "json").stdout)["items"]}


def _images(conf, namespace, selector):
    """The image tags the pods ``selector`` selects in ``namespace`` run."""
    pods = json.loads(kubectl(conf, "-n", namespace, "get", "pods", "-l", selector, "-o", "json").stdout)["items"]
    return sorted({c["image"].rsplit(":", 1)[-1] for p in pods for c in p["spec"]["containers"]})


def _template_images(conf, namespace, kind_name):
    """The image tags a Deployment's or DaemonSet's pod template names (``deployment/coredns``)."""
    obj = json.loads(kubectl(conf, "-n", namespace, "get", kind_name, "-o", "json").stdout)
    return sorted({c["image"].rsplit(":", 1)[-1] for c in obj["spec"]["template"]["spec"]["containers"]})


def _tenant_keys(c, tenant):
    return {k: v for k, v in c.export_prefix(f"/{tenant}/")
            if not k.decode().removeprefix(f"/{tenant}/").startswith(VOLATILE)}


def test_the_upgrade_check_previews_what_moves_and_changes_nothing(site, tmp_path):
    """The inventory now names the sample's releases (the admin cluster and globex one minor up)
    and the current bundle (etcd and containerd one release up): kamaji.core.upgrade --check lists
    every member, node and tenant that moves, names globex's worker, and changes nothing."""
    _set_releases(site["inventory"], versions.KUBERNETES)
    _set_bundle(site, site["new_bundle"])
    preview = run_playbook(UPGRADE, tmp_path, inventory=site["inventory"], check=True)
    site["runs"]["preview"] = preview
    assert preview.rc == 0, preview.failed_tasks()
    assert _run_once(preview, WHAT_MOVES)["msg"] == MOVES
    would = preview.task("Check mode - this worker would move to another kubelet release", host="globex-worker-0")
    assert would["changed"] and would["msg"].startswith(
        f"globex-worker-0 would be drained and moved from kubelet {OLDER} to {versions.KUBERNETES}"), would
    assert _snapshots() == []
    assert set(_kubelets(site["admin"]).values()) == {OLDER}
    assert on_node("admin-cp-0", "kubeadm", "version", "-o", "short").stdout.strip() == OLDER
    assert json.loads(kubectl(_tenant_conf(site, "globex"), "version", "-o", "json").stdout
                      )["serverVersion"]["gitVersion"] == OLDER
    for host in ETCD_MEMBERS:
        assert f"etcd Version: {versions.ETCD_OLDER.lstrip('v')}" in on_node(host, "etcd", "--version").stdout, host
    for host in BUNDLE_NODES:
        assert on_node(host, "containerd", "--version").stdout.split()[-1] == versions.CONTAINERD_OLDER, host


def test_the_whole_site_moves_from_the_previous_minor_while_tenants_and_workloads_serve(site, etcd_creds, tmp_path):
    """kamaji.core.upgrade moves the site deployed at the previous releases to the sample's, with
    the current bundle: the etcd members (one at a time), the container runtime of the nodes that
    take it from the bundle (one node at a time, each Ready again before the next), the admin
    control plane (kubeadm upgrade, one node at a time, its local etcd too), the admin workers,
    globex's control plane and its worker. Meanwhile a client reads from each tenant's API and from each
    tenant's workload: no tenant read fails; the workload on the worker that is drained has a gap
    (one worker per tenant: its replicas have nowhere else to go), which is reported; every key of
    each tenant in etcd is still there, the test's own objects byte for byte. A second run moves
    nothing and changes nothing."""
    _set_releases(site["inventory"], versions.KUBERNETES)
    _set_bundle(site, site["new_bundle"])
    started = {host: _containerd_started(host) for host in [*CONTROL_PLANE, *BUNDLE_NODES]}
    lab_ip = {name: host["ansible_host"] for group in _lab_vars(site["lab_inventory"])["all"]["children"].values()
              for name, host in group.get("hosts", {}).items() if "ansible_host" in host}
    for tenant in TENANT_WORKERS:
        conf = _tenant_conf(site, tenant)
        kubectl(conf, "apply", "-f", "-", input=WORKLOAD)
        kubectl(conf, "delete", "configmap", "upgrade-witness", "--ignore-not-found")
        kubectl(conf, "create", "configmap", "upgrade-witness", "--from-literal=kept=yes")
        kubectl(conf, "rollout", "status", "deployment/web", "--timeout=120s", timeout=150)
    c = etcd_client(etcd_creds, site["lab_inventory"])
    try:
        keys_before = {tenant: _tenant_keys(c, tenant) for tenant in TENANT_WORKERS}
    finally:
        c.close()
    pollers = {t: TenantPoller(_tenant_conf(site, t), tmp_path, seconds=2400) for t in TENANT_WORKERS}
    workloads = {t: WorkloadPoller(f"http://{lab_ip[LAB_NODE[w]]}:{WORKLOAD_PORT}/version")
                 for t, w in TENANT_WORKERS.items()}
    for poller in [*pollers.values(), *workloads.values()]:
        poller.start()
    try:
        time.sleep(3)
        start = time.monotonic()
        moved = run_playbook(UPGRADE, tmp_path, inventory=site["inventory"])
        run_seconds = time.monotonic() - start
        time.sleep(3)
    finally:
        for poller in [*pollers.values(), *workloads.values()]:
            poller.stop()
    site["runs"]["upgrade"] = moved
    assert moved.rc == 0, moved.failed_tasks()
    # the times, per layer, for docs/upgrades.md
    layers = {
        "etcd members (3, one at a time)": _play_seconds(moved, "Multi-tenant etcd"),
        "container runtime of the admin workers (2, one at a time)": _play_seconds(
            moved, "Admin cluster - container runtime changes, one running node at a time"),
        "admin control-plane nodes (3, one at a time)": _play_seconds(
            moved, "Admin cluster - control-plane nodes move to their new release, one at a time"),
        "admin workers (2, in batches)": _play_seconds(moved, "Admin cluster - workers move to their new release, "
                                                              "in batches"),
        "tenant control planes (globex moves, acme stays)": _play_seconds(moved, "Tenant control planes"),
        "container runtime of the tenant workers (2, one at a time)": _play_seconds(
            moved, "Tenant workers - container runtime changes, one running node at a time"),
        "tenant workers (globex-worker-0)": _play_seconds(moved, "Tenant workers - kubelet upgrades, in batches"),
    }
    report = [f"kamaji.core.upgrade {OLDER} -> {versions.KUBERNETES} (etcd {versions.ETCD_OLDER} -> {versions.ETCD}, "
              f"containerd {versions.CONTAINERD_OLDER} -> {versions.CONTAINERD}), whole lab site: {run_seconds:.0f} s",
              *(f"  {name}: {secs:.0f} s" for name, secs in layers.items()),
              *(f"  tenant API {t}: {p.summary()}" for t, p in pollers.items()),
              *(f"  workload on {t}'s worker: {p.summary()}" for t, p in workloads.items())]
    print("\n".join(report))
    os.makedirs(os.path.join(REPO, ".build"), exist_ok=True)
    with open(os.path.join(REPO, ".build", "e2e-upgrade-times.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(report) + "\n\nwhere the upgrade run spends its time\n" + profile(moved))
    assert _run_once(moved, WHAT_MOVES)["msg"] == MOVES
    assert len(_snapshots()) == 1, _snapshots()
    # every component at its release (the inventory's: acme stays at the previous minor)
    assert _kubelets(site["admin"]) == dict.fromkeys([*CONTROL_PLANE, *WORKERS], versions.KUBERNETES)
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert _images(site["admin"], "kube-system", f"component={component}") == [versions.KUBERNETES], component
    assert _images(site["admin"], "kube-system", "component=etcd") == [versions.ETCD_IMAGE_TAG]
    for host in ETCD_MEMBERS:
        assert f"etcd Version: {versions.ETCD.lstrip('v')}" in on_node(host, "etcd", "--version").stdout, host
        assert on_node(host, "test", "-e", "/etc/kamaji/etcd/restart-owed", check=False).returncode != 0, host
    _runtime_rolled_one_node_at_a_time(moved, started, site)
    assert _template_images(site["admin"], "kube-system", "daemonset/kube-proxy") == [versions.KUBERNETES]
    assert _template_images(site["admin"], "kube-system", "deployment/coredns") == [versions.COREDNS]
    for host in [*CONTROL_PLANE, *WORKERS]:
        assert on_node(host, "kubeadm", "version", "-o", "short").stdout.strip() == versions.KUBERNETES, host
        assert on_node(host, "test", "-e", "/etc/kubernetes/kamaji-upgrade-in-progress", check=False).returncode != 0
    for tenant, want in TENANT_VERSIONS.items():
        conf = _tenant_conf(site, tenant)
        assert json.loads(kubectl(conf, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"] == want
        assert _template_images(site["admin"], f"tenant-{tenant}", "deployment/kube-control-plane") == [want], tenant
        assert _kubelets(conf) == {TENANT_WORKERS[tenant]: want}, tenant
        assert _template_images(conf, "kube-system", "daemonset/kube-proxy") == [want], tenant
        assert _template_images(conf, "kube-system", "deployment/coredns") == [versions.COREDNS], tenant
        node = _node(conf, TENANT_WORKERS[tenant])
        assert _ready(node) and not node["spec"].get("unschedulable"), (tenant, node["spec"])
    assert moved.task("Cordon and drain this worker", host="globex-worker-0")["changed"]
    # no tenant read failed; acme's workload (its worker stays) never stopped answering; globex's
    # answers again after its worker's drain
    for tenant, poller in pollers.items():
        assert poller.failed == [], (tenant, poller.failed[:5])
        assert poller.ok > 100, (tenant, poller.summary())
    assert workloads["acme"].gaps == [], workloads["acme"].summary()
    assert workloads["globex"].ok > 0 and all(t != "still down at the end" for t, _s in workloads["globex"].gaps), \
        workloads["globex"].summary()
    # every key of each tenant is still there; the witness ConfigMap and the Service byte for byte
    c = etcd_client(etcd_creds, site["lab_inventory"])
    try:
        keys_after = {tenant: _tenant_keys(c, tenant) for tenant in TENANT_WORKERS}
    finally:
        c.close()
    for tenant in TENANT_WORKERS:
        lost = sorted(set(keys_before[tenant]) - set(keys_after[tenant]))
        assert lost == [], (tenant, lost[:10])
        for key in (f"/{tenant}/configmaps/default/upgrade-witness", f"/{tenant}/services/specs/default/web"):
            assert keys_after[tenant][key.encode()] == keys_before[tenant][key.encode()], (tenant, key)
    # the second run: nothing moves, no snapshot, nothing changes
    start = time.monotonic()
    second = run_playbook(UPGRADE, tmp_path, inventory=site["inventory"])
    site["runs"]["second"] = second
    site["runs"]["second_seconds"] = time.monotonic() - start
    with open(os.path.join(REPO, ".build", "e2e-site-second-run-profile.txt"), "w", encoding="utf-8") as f:
        f.write(f"second upgrade run (nothing moves): {site['runs']['second_seconds']:.0f} s\n" + profile(second))
    assert second.rc == 0, second.failed_tasks()


def test_second_site_run_changes_nothing(site):
    """The second run of kamaji.core.upgrade: its gates pass, nothing moves, so it ends after its
    list: no second snapshot, every task of the site's plays skipped, nothing changes. (The
    layers' own re-runs after the upgrade change nothing either: the later scenarios' etcd,
    admin cluster, tenants and workers runs assert it.)"""
    second = site["runs"]["second"]
    assert _changed(second) == {}
    assert _run_once(second, WHAT_MOVES)["msg"] == NOTHING_MOVES
    assert len(_snapshots()) == 1, _snapshots()
    plays = second.data["plays"]
    snapshot = next(i for i, p in enumerate(plays) if p["play"]["name"].startswith("Upgrade - a fresh etcd snapshot"))
    site_plays = plays[snapshot + 1:]
    ran = [(p["play"]["name"], t["task"]["name"], h) for p in site_plays for t in p["tasks"]
           for h, r in t["hosts"].items() if not r.get("skipped")]
    assert site_plays and ran == [], ran[:5]


def test_the_upgrade_refuses_a_skip_a_downgrade_a_release_missing_from_the_bundle_and_a_pin_newer_than_its_tenant(
        site, tmp_path):
    """Each refused before anything changes, naming the host, the field and the fix: the admin
    cluster two minors up (a release the bundle lacks too: the skip is what is refused); the admin
    cluster back to the previous minor; globex's control plane back to the previous minor (the
    upgrade gate, before etcd or any node moves); a release the bundle does not hold (the admin
    workers take their kubelet from the bundle, the control-plane nodes from apt); acme's worker
    pinned to a newer kubelet than acme's control plane."""
    older, newer = versions.KUBERNETES_OLDER[0], versions.KUBERNETES
    ev = {}  # the site as the upgrade left it
    snapshots = _snapshots()
    skip = f"v1.{versions.minor(newer) + 2}.0"
    skipped = run_playbook(UPGRADE, tmp_path, {**ev, "admin_cluster_kubernetes_version": skip}, inventory=site["inventory"])
    assert skipped.rc != 0
    for host, field in (("admin-cp-0", "admin_cluster_kubernetes_version"), ("admin-worker-0", "kube_packages_version")):
        msg = skipped.task("A control plane and a kubelet move one minor at a time, never down", host=host)["msg"]
        assert msg == (f"{host}: {field}: {skip} skips a minor from the running {newer}; upgrade one minor at a time "
                       f"(first v1.{versions.minor(newer) + 1})"), msg
    assert {p["play"]["name"] for p in skipped.data["plays"]} == {"Preflight"}
    assert _changed(skipped) == {}

    globex_vars = os.path.join(site["inventory"], "host_vars", "globex.yml")
    with open(globex_vars, encoding="utf-8") as f:
        text = f.read()
    line = MOVING_RELEASES["host_vars/globex.yml"]
    assert line.format(newer) in text.splitlines()
    try:
        with open(globex_vars, "w", encoding="utf-8") as f:
            f.write(text.replace(line.format(newer), line.format(older)))
        tenant_down = run_playbook(UPGRADE, tmp_path, ev, inventory=site["inventory"])
    finally:
        with open(globex_vars, "w", encoding="utf-8") as f:
            f.write(text)
    assert tenant_down.rc != 0
    msg = _run_once(tenant_down, "Every tenant control plane moves one minor at a time, never down")["msg"]
    assert msg == (f"upgrade gate (tenant control planes): globex: tenant.kubernetes_version: {older} would downgrade "
                   f"the running {newer}; tenant control planes never move down a minor: set it to "
                   f"v1.{versions.minor(newer)}.x or newer. Nothing has changed."), msg
    assert [p["play"]["name"] for p in tenant_down.data["plays"]][-1].startswith("Upgrade gate - every tenant")
    assert _changed(tenant_down) == {}
    down = run_playbook(UPGRADE, tmp_path, {**ev, "admin_cluster_kubernetes_version": older}, inventory=site["inventory"])
    assert down.rc != 0
    msg = down.task("A control plane and a kubelet move one minor at a time, never down", host="admin-cp-0")["msg"]
    assert msg == (f"admin-cp-0: admin_cluster_kubernetes_version: {older} would downgrade the running {newer}; "
                   f"control planes never move down a minor: set it to v1.{versions.minor(newer)}.x or newer"), msg
    msg = down.task("A control plane and a kubelet move one minor at a time, never down", host="admin-worker-0")["msg"]
    assert msg == (f"admin-worker-0: kube_packages_version: {older} would downgrade the running {newer}; "
                   f"kubelets never move down a minor: set it to v1.{versions.minor(newer)}.x or newer"), msg
    assert _changed(down) == {}

    absent = f"v1.{versions.minor(newer)}.99"
    missing = run_playbook(UPGRADE, tmp_path, {**ev, "admin_cluster_kubernetes_version": absent},
                           inventory=site["inventory"])
    assert missing.rc != 0
    msg = _run_once(missing, "The offline bundle holds kube_packages_binaries at every kube_packages_version of the "
                             "play, intact")["msg"]
    assert msg.startswith(f"kube_packages_bundle_dir: the bundle {site['bundle']} holds kubernetes "), msg
    assert f"the inventory wants kubernetes {absent}; rebuild it" in msg, msg
    assert {p["play"]["name"] for p in missing.data["plays"]} == {"Preflight"}
    assert _changed(missing) == {}

    pin = tmp_path / "pin.yml"
    pin.write_text(json.dumps({"all": {"hosts": {"acme-worker-0": {"kube_packages_version": newer}}}}))
    pinned = run_playbook(UPGRADE, tmp_path, ev, inventory=site["inventory"], args=("-i", str(pin)))
    assert pinned.rc != 0
    # (the preflight runs that task for the admin nodes first, then for the tenant workers)
    pin_tasks = _tasks(pinned, "The kubelet never runs a newer minor than its control plane")
    msg = next(t["hosts"]["acme-worker-0"] for t in pin_tasks if "acme-worker-0" in t["hosts"])["msg"]
    assert msg == (f"acme-worker-0: kube_packages_version: {newer} is newer than tenant.kubernetes_version of tenant "
                   f"acme {older}; a kubelet never runs a newer minor than its control plane: set it to "
                   f"v1.{versions.minor(older)}.x or older, or upgrade the control plane first"), msg
    assert {p["play"]["name"] for p in pinned.data["plays"]} == {"Preflight"}
    assert _changed(pinned) == {}

    # nothing moved: no snapshot, no marker, the admin cluster's kubeadm and acme's kubelet as they were
    assert _snapshots() == snapshots
    assert on_node("admin-cp-0", "kubeadm", "version", "-o", "short").stdout.strip() == newer
    assert on_node("acme-worker-0", "kubelet", "--version").stdout.split()[-1] == older
    for host in CONTROL_PLANE:
        assert on_node(host, "test", "-e", "/etc/kubernetes/kamaji-upgrade-in-progress", check=False).returncode != 0


def test_bare_nodes_get_their_runtime_from_the_bundle(site):
    """Bare nodes got everything from the bundle; after the upgrade, from the current one."""
    for host, before in site["runs"]["before"].items():
        assert before == {"packages": [], "commands": []}, (host, before)
    with open(os.path.join(site["bundle"], "manifest.json"), encoding="utf-8") as f:
        files = json.load(f)["files"]
    for host in BUNDLE_NODES:
        assert on_node(host, "containerd", "--version").stdout.split()[-1] == versions.CONTAINERD
        for path, rel in (("/usr/local/bin/containerd", "bin/containerd"), ("/usr/local/sbin/runc", "bin/runc"),
                          ("/opt/cni/bin/bridge", "cni/bridge")):
            assert on_node(host, "sha256sum", path).stdout.split()[0] == files[rel]["sha256"], (host, path)
        assert "libseccomp" in on_node(host, "runc", "--version").stdout
        # still no Debian package of the runtime or of Kubernetes: everything came from the bundle
        assert what_is_installed(host)["packages"] == [], host
        assert "path=/usr/local/bin/kubelet" in on_node(host, "systemctl", "show", "-p", "ExecStart", "kubelet").stdout
        # the bundle's images are in containerd; their archives were removed once imported
        assert f"{versions.KUBERNETES}" in on_node(host, "ctr", "-n", "k8s.io", "images", "ls", "-q").stdout, host
        assert on_node(host, "test", "-e", "/var/lib/kamaji/images", check=False).returncode != 0, host


def test_the_control_plane_nodes_run_debian_packages_and_the_kube_repository(site):
    """The sample's control-plane nodes as the lab sets them: containerd from Debian's packages,
    kubelet, kubeadm and kubectl from the package repository, pinned and held (a re-run's single
    dpkg read: the certificate renewal scenario's admin_cluster run)."""
    want = f"{KUBE_VERSION.lstrip('v')}-1.1 hi"  # h: held, i: installed
    runtimes = {item["metadata"]["name"]: item["status"]["nodeInfo"]["containerRuntimeVersion"]
                for item in json.loads(kubectl(site["admin"], "get", "nodes", "-o", "json").stdout)["items"]}
    for host in CONTROL_PLANE:
        assert runtimes[host].startswith("containerd://1.6."), runtimes
        out = on_node(host, "dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n",
                      "containerd", "runc", "containernetworking-plugins").stdout
        assert sorted(line.split()[0] for line in out.splitlines() if line.split()[-1] == "ii") == [
            "containerd", "containernetworking-plugins", "runc"], (host, out)
        # nothing of the bundle's runtime on these nodes
        assert on_node(host, "test", "-e", "/usr/local/bin/containerd", check=False).returncode != 0, host
        out = on_node(host, "dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n",
                      "kubelet", "kubeadm", "kubectl").stdout
        assert sorted(line.strip() for line in out.splitlines()) == [f"{p} {want}" for p in ("kubeadm", "kubectl", "kubelet")], out
        unit = on_node(host, "systemctl", "show", "-p", "ExecStart", "kubelet").stdout
        assert "path=/usr/bin/kubelet" in unit and "/usr/local/bin" not in unit, (host, unit)
        sources = on_node(host, "cat", "/etc/apt/sources.list.d/kamaji-kubernetes.list").stdout
        assert sources == (f"deb [signed-by=/etc/apt/keyrings/kamaji-kubernetes.asc] {site['repository']}"
                           f"{_minor(KUBE_VERSION)}/ /\n"), sources


def test_admin_nodes_ready_under_their_inventory_names_behind_the_shared_endpoint(site):
    nodes = json.loads(kubectl(site["admin"], "get", "nodes", "-o", "json").stdout)["items"]
    # node names are the inventory's, not the machines' hostnames
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted([*CONTROL_PLANE, *WORKERS])
    assert all(_ready(n) for n in nodes), [(n["metadata"]["name"], n["status"]["conditions"]) for n in nodes]
    assert on_node("admin-cp-0", "hostname").stdout.strip() == "lab-admin-cp-0"
    etcd = json.loads(kubectl(site["admin"], "-n", "kube-system", "get", "pods", "-l", "component=etcd", "-o",
                              "json").stdout)
    assert sorted(p["spec"]["nodeName"] for p in etcd["items"]) == CONTROL_PLANE
    # every API server talks to every stacked etcd member, not to its own only
    addresses = [next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
                 for n in sorted(nodes, key=lambda n: n["metadata"]["name"]) if n["metadata"]["name"] in CONTROL_PLANE]
    wanted = "--etcd-servers=" + ",".join(f"https://{a}:2379" for a in addresses)
    for host in CONTROL_PLANE:
        manifest = on_node(host, "cat", "/etc/kubernetes/manifests/kube-apiserver.yaml").stdout
        assert wanted in manifest.split(), (host, [w for w in manifest.split() if "etcd-servers" in w])
    with open(site["admin"], encoding="utf-8") as f:
        assert yaml.safe_load(f)["clusters"][0]["cluster"]["server"] == f"https://{site['endpoint']}"


def test_the_sample_tenants_run_as_specified(site):
    for tenant, replicas in (("acme", 2), ("globex", 3)):
        deploy = json.loads(kubectl(site["admin"], "-n", f"tenant-{tenant}", "get", "deployment", "kube-control-plane",
                                    "-o", "json").stdout)
        assert deploy["status"].get("readyReplicas") == replicas, (tenant, deploy["status"])
        pods = json.loads(kubectl(site["admin"], "-n", f"tenant-{tenant}", "get", "pods", "-o", "json").stdout)["items"]
        assert {c["name"] for c in pods[0]["status"]["containerStatuses"]} == {
            "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
        # on the admin workers only (the sample's node selector, the label the admin play sets)
        assert {p["spec"]["nodeName"] for p in pods} <= set(WORKERS), [p["spec"]["nodeName"] for p in pods]
        assert kubectl(_tenant_conf(site, tenant), "get", "--raw", "/readyz").stdout == "ok"
    # globex's spec: its extra apiserver flag, its version, its memory request, its size, its extra SAN
    pod = json.loads(kubectl(site["admin"], "-n", "tenant-globex", "get", "pods", "-o", "json").stdout)["items"][0]
    apiserver = next(c for c in pod["spec"]["containers"] if c["name"] == "kube-apiserver")
    assert "--audit-log-maxage=7" in apiserver.get("command", []) + apiserver.get("args", []), apiserver
    assert apiserver["image"].endswith(":v1.37.2"), apiserver["image"]
    assert apiserver["resources"]["requests"]["memory"] == "512Mi"
    # its size profile (small) and its memory limit (1Gi) in each component's Go runtime
    envs = {c["name"]: {e["name"]: e["value"] for e in c.get("env", [])} for c in pod["spec"]["containers"]}
    assert envs == {"kube-apiserver": {"GOGC": "50", "GOMEMLIMIT": "921MiB"},
                    "kube-controller-manager": {"GOGC": "50"}, "kube-scheduler": {"GOGC": "50"}}, envs
    with open(_tenant_conf(site, "globex"), encoding="utf-8") as f:
        host, port = yaml.safe_load(f)["clusters"][0]["cluster"]["server"].removeprefix("https://").rsplit(":", 1)
    assert port == "31444"
    pem = ssl.get_server_certificate((host, int(port)), timeout=10)
    sans = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem, capture_output=True,
                          text=True, check=True).stdout
    assert "DNS:globex.k8s.example.com" in sans, sans


def test_each_tenants_secrets_are_sealed_in_the_shared_etcd(site, etcd_creds):
    """Read raw from the shared etcd, every Secret of each sample tenant is ciphertext under the
    tenant's own key (tenant.encrypt_resources; the keys differ per tenant)."""
    c = etcd_client(etcd_creds, site["lab_inventory"])
    for tenant in TENANT_WORKERS:
        made = kubectl(_tenant_conf(site, tenant), "create", "secret", "generic", "sealed-check",
                       "--from-literal=k=nobody-reads-this-from-etcd", check=False)
        assert made.returncode == 0 or "AlreadyExists" in made.stderr, made.stderr
        values = dict(c.export_prefix(f"/{tenant}/secrets/"))
        assert f"/{tenant}/secrets/default/sealed-check".encode() in values, sorted(values)
        assert b"nobody-reads-this-from-etcd" not in values[f"/{tenant}/secrets/default/sealed-check".encode()]
        plain = [k for k, v in values.items() if not v.startswith(b"k8s:enc:secretbox:v1:key-1:")]
        assert plain == [], (tenant, plain)
    keys = {tenant: json.loads(base64.b64decode(json.loads(kubectl(
        site["admin"], "-n", f"tenant-{tenant}", "get", "secret", "kamaji-pki", "-o", "json").stdout)["data"][
        "encryption-config.yaml"]))["resources"][0]["providers"][0]["secretbox"]["keys"][0]["secret"]
        for tenant in TENANT_WORKERS}
    assert len(set(keys.values())) == len(keys)


def test_a_tenants_key_rotation_reseals_its_secrets_while_it_serves(site, etcd_creds, tmp_path):
    """acme's tenant.encryption_key_generation: 2 in the inventory: one run of the tenants play adds
    key-2 (read first), makes it seal, writes again what key-1 sealed and drops key-1, each stage
    rolled out to both replicas by the admin cluster's kubelets, while a client reads from acme's
    API: no read fails. After it every Secret of acme in etcd is sealed by key-2, its
    configuration holds key-2 alone, the Secret written before reads back; a re-run changes nothing."""
    conf = _tenant_conf(site, "acme")
    acme_vars = os.path.join(site["inventory"], "host_vars", "acme.yml")
    with open(acme_vars, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    doc["tenant"]["encryption_key_generation"] = 2
    with open(acme_vars, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    tenants_play = os.path.join(REPO, "playbooks", "tenants.yml")
    poller = TenantPoller(conf, tmp_path, seconds=900)
    poller.start()
    try:
        start = time.monotonic()
        rotated = run_playbook(tenants_play, tmp_path, {"kamaji_bundle_dir": site["new_bundle"]},
                               inventory=site["inventory"], args=("--limit", "acme"))
        seconds = time.monotonic() - start
    finally:
        poller.stop()
    assert rotated.rc == 0, rotated.failed_tasks()
    print(f"acme's key rotation key-1 -> key-2 (a run of the tenants play, three rollouts): {seconds:.0f} s; "
          f"{poller.summary()}")
    assert poller.failed == [], poller.failed[:5]
    assert poller.ok > 50, poller.summary()
    assert rotated.task("Key rotation - the old keys seal nothing any more", host="acme") is not None
    config = json.loads(base64.b64decode(json.loads(kubectl(
        site["admin"], "-n", "tenant-acme", "get", "secret", "kamaji-pki", "-o", "json").stdout)["data"][
        "encryption-config.yaml"]))
    assert [k["name"] for k in config["resources"][0]["providers"][0]["secretbox"]["keys"]] == ["key-2"]
    c = etcd_client(etcd_creds, site["lab_inventory"])
    try:
        values = dict(c.export_prefix("/acme/secrets/"))
    finally:
        c.close()
    left = [k for k, v in values.items() if not v.startswith(b"k8s:enc:secretbox:v1:key-2:")]
    assert left == [], left
    read = kubectl(conf, "get", "secret", "sealed-check", "-o", "jsonpath={.data.k}").stdout
    assert base64.b64decode(read).decode() == "nobody-reads-this-from-etcd"
    again = run_playbook(tenants_play, tmp_path, {"kamaji_bundle_dir": site["new_bundle"]},
                         inventory=site["inventory"], args=("--limit", "acme"))
    assert again.rc == 0 and _changed(again) == {}, _changed(again)


def test_the_fleet_status_lists_each_tenant_as_it_runs(site, tmp_path):
    res = run_playbook(os.path.join(REPO, "playbooks", "status.yml"), tmp_path, inventory=site["inventory"])
    assert res.rc == 0, res.failed_tasks()
    assert _changed(res) == {}
    fleet = next(iter(t for t in _tasks(res, "The fleet, one row per tenant")))["hosts"]
    rows = {r["name"]: r for r in next(iter(fleet.values()))["rows"]}
    assert sorted(rows) == sorted(TENANT_WORKERS)
    for tenant, row in rows.items():
        assert row["state"] == "ok", row
        assert row["version"] == row["running"] == TENANT_VERSIONS[tenant], row
        ready, wanted = row["replicas"].split("/")
        assert ready == wanted and int(wanted) >= 2 and row["workers"] == "1/1", row
        assert row["cert_days"] >= 360 and row["etcd_keys"] > 100 and row["etcd_bytes"] > 0, row
    table = next(iter(next(iter(t for t in _tasks(res, "Fleet status")))["hosts"].values()))["msg"]
    assert table[0].split()[:2] == ["tenant", "version"] and len(table) == 3, table
    print("\n".join(table))
    # and the admin cluster's kubeadm certificates, the first to expire on each control-plane node
    certs = res.task("Admin cluster certificates, the first to expire on each control-plane node", host="admin-cp-0")
    assert [line.split(":", 1)[0] for line in certs["msg"]] == CONTROL_PLANE, certs["msg"]
    assert all(re.search(r" expires \S+ \(in 36[0-5] days\)$", line) for line in certs["msg"]), certs["msg"]


def test_tenant_api_answers_through_its_endpoint_and_tenants_are_isolated(site):
    a, b = (_tenant_conf(site, t) for t in ("acme", "globex"))
    assert "kube-system" in kubectl(a, "get", "ns").stdout
    kubectl(a, "delete", "configmap", "only-in-acme", "--ignore-not-found")
    kubectl(a, "create", "configmap", "only-in-acme", "--from-literal=k=v")
    assert kubectl(b, "get", "configmap", "only-in-acme", check=False).returncode != 0
    assert kubectl(a, "-n", "kube-public", "get", "configmap", "cluster-info").returncode == 0


def test_each_tenant_worker_is_ready_in_its_own_tenant_only_under_its_inventory_name(site):
    for tenant, worker in TENANT_WORKERS.items():
        nodes = json.loads(kubectl(_tenant_conf(site, tenant), "get", "nodes", "-o", "json").stdout)["items"]
        assert [n["metadata"]["name"] for n in nodes] == [worker]
        assert _ready(nodes[0]), nodes[0]["status"]["conditions"]


def test_each_tenant_worker_runs_its_tenants_release(site):
    """acme runs the previous minor: its worker's kubelet, kubeadm and kube-proxy are that release,
    taken from the bundle's older release; globex's worker runs the newest."""
    assert TENANT_VERSIONS["acme"] != TENANT_VERSIONS["globex"]
    for tenant, worker in TENANT_WORKERS.items():
        want = TENANT_VERSIONS[tenant]
        conf = _tenant_conf(site, tenant)
        node = json.loads(kubectl(conf, "get", "node", worker, "-o", "json").stdout)
        assert node["status"]["nodeInfo"]["kubeletVersion"] == want, (tenant, node["status"]["nodeInfo"])
        assert want in on_node(worker, "kubeadm", "version", "-o", "short").stdout
        proxies = json.loads(kubectl(conf, "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-proxy", "-o",
                                     "json").stdout)["items"]
        assert [p["spec"]["containers"][0]["image"].rsplit(":", 1)[-1] for p in proxies] == [want], tenant
        assert all(c["ready"] for p in proxies for c in p["status"]["containerStatuses"]), tenant
        assert json.loads(kubectl(conf, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"] == want


def test_a_pod_runs_on_the_tenant_worker_with_logs_and_exec(site):
    conf = _tenant_conf(site, "acme")
    kubectl(conf, "delete", "pod", "probe", "--ignore-not-found", "--wait=true")
    kubectl(conf, "run", "probe", "--image=registry.k8s.io/etcd:" + versions.ETCD_IMAGE_TAG, "--image-pull-policy=Never",
            "--command", "--", "etcd", "--data-dir=/tmp/etcd")
    kubectl(conf, "wait", "--for=condition=Ready", "pod/probe", "--timeout=120s", timeout=150)
    assert "etcd" in kubectl(conf, "logs", "probe").stdout
    assert "etcd Version" in kubectl(conf, "exec", "probe", "--", "etcd", "--version").stdout
    # a bare pod: a drain (acme's worker upgrade, later) would refuse it
    kubectl(conf, "delete", "pod", "probe", "--wait=true")


def _ready_within(site, tenant, seconds):
    """Wait (bounded) until the tenant's /readyz answers ok through its endpoint; return the
    seconds it took. Fails with the checks still failing (``/readyz?verbose``)."""
    start = time.monotonic()
    while True:
        res = kubectl(_tenant_conf(site, tenant), "get", "--raw", "/readyz?verbose", check=False)
        if res.returncode == 0 and res.stdout.rstrip().endswith("readyz check passed"):
            return time.monotonic() - start
        failing = [line for line in (res.stdout + res.stderr).splitlines() if line.startswith("[-]") or "rror" in line]
        assert time.monotonic() - start < seconds, f"{tenant}: not ready after {seconds} s: {failing}"
        time.sleep(2)


class TenantPoller(threading.Thread):
    """Reads from a tenant API every 0.2 s, a new TLS connection each time (as a
    client reconnecting through the endpoint would), and records every failed read and
    the slowest one. A read fails on an error status, a refused or reset connection, or
    no answer within ``READ_TIMEOUT`` s: kubectl's own ``--request-timeout`` in these tests.
    (3 s was tried: on CI's loaded 2 cores a served TLS read sometimes took longer while
    ansible and kubeadm ran beside it; that is load, not an outage a client would see.)"""

    READ_TIMEOUT = 10

    def __init__(self, conf, tmp, seconds=600):
        super().__init__(daemon=True)
        self.seconds = seconds
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
        self.ok, self.failed, self.slowest = 0, [], 0.0
        self.stopping = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            try:
                conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.READ_TIMEOUT)
                conn.request("GET", "/api/v1/namespaces/kube-system")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    self.ok += 1
                    self.slowest = max(self.slowest, time.monotonic() - began)
                else:
                    self.failed.append((time.strftime("%H:%M:%S"), resp.status))
            except (OSError, http.client.HTTPException) as exc:
                self.failed.append((time.strftime("%H:%M:%S"), repr(exc)[:200]))
            time.sleep(0.2)

    def stop(self):
        self.stopping.set()
        self.join(self.READ_TIMEOUT + 5)

    def summary(self):
        return f"{self.ok} reads served (slowest {self.slowest:.1f} s), {len(self.failed)} failed"


def test_deleting_a_tenant_control_plane_pod_fails_no_read(site, tmp_path):
    ns = "tenant-acme"
    # from a settled control plane: a replica of an earlier rollout (the key rotation's last) may
    # still be terminating, within its grace period (bounded wait)
    deadline = time.monotonic() + 120
    while True:
        pods = json.loads(kubectl(site["admin"], "-n", ns, "get", "pods", "-o", "json").stdout)["items"]
        if len(pods) == 2 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    poller = TenantPoller(_tenant_conf(site, "acme"), tmp_path)
    poller.start()
    try:
        time.sleep(2)
        kubectl(site["admin"], "-n", ns, "delete", "pod", pods[0]["metadata"]["name"], "--wait=true", "--timeout=90s",
                timeout=120)
        kubectl(site["admin"], "-n", ns, "rollout", "status", "deployment/kube-control-plane", "--timeout=120s",
                timeout=150)
        time.sleep(2)
    finally:
        poller.stop()
    print(f"pod deletion: {poller.summary()}")
    assert poller.failed == []
    assert poller.ok > 50
    after = json.loads(kubectl(site["admin"], "-n", ns, "get", "pods", "-o", "json").stdout)["items"]
    names = {p["metadata"]["name"] for p in after if all(c["ready"] for c in p["status"].get("containerStatuses", []))}
    assert len(names) == 2 and pods[0]["metadata"]["name"] not in names, names


def _etcd_member(action):
    on_node("etcd-0", "systemctl", action, "etcd")


def test_with_one_etcd_member_stopped_tenants_serve_and_a_third_tenant_is_created(site, bundle_dir, tmp_path):
    worker = json.loads(kubectl(site["admin"], "get", "node", "admin-worker-0", "-o", "json").stdout)
    address = next(a["address"] for a in worker["status"]["addresses"] if a["type"] == "InternalIP")
    extra = tmp_path / "initech.yml"
    extra.write_text(json.dumps({"tenants": {"hosts": {"initech": {"tenant": {
        "endpoint": {"address": address, "port": 31445}, "replicas": 1}}}}}))
    snapshots = _snapshots()
    _etcd_member("stop")
    try:
        for tenant in TENANT_WORKERS:
            conf = _tenant_conf(site, tenant)
            kubectl(conf, "delete", "configmap", "written-with-a-member-down", "--ignore-not-found")
            kubectl(conf, "create", "configmap", "written-with-a-member-down", "--from-literal=k=v")
            assert "written-with-a-member-down" in kubectl(conf, "get", "configmap", "-o", "name").stdout
        third = run_playbook(os.path.join(REPO, "playbooks", "tenants.yml"), tmp_path, {"kamaji_bundle_dir": bundle_dir},
                             inventory=site["inventory"], args=("-i", str(extra)))
        assert third.rc == 0, third.failed_tasks()
        assert kubectl(_tenant_conf(site, "initech"), "get", "--raw", "/readyz").stdout == "ok"
        assert "kube-system" in kubectl(_tenant_conf(site, "initech"), "get", "ns").stdout
        # an upgrade does not start on a cluster short of a member: refused by its etcd gate
        refused = run_playbook(UPGRADE, tmp_path, {"kamaji_bundle_dir": bundle_dir}, inventory=site["inventory"],
                               args=("-i", str(extra)))
        assert refused.rc != 0
        msg = _run_once(refused, "Every etcd member is healthy and no alarm is raised")["msg"]
        assert msg.startswith("etcd is not healthy: unhealthy members ['etcd-0"), msg
        assert _changed(refused) == {} and _snapshots() == snapshots
    finally:
        _etcd_member("start")


def _containerd_started(host):
    """When this node's containerd last started (UTC wall clock, microseconds)."""
    from datetime import datetime

    out = on_node(host, "systemctl", "show", "containerd", "-p", "ActiveEnterTimestamp", "--timestamp=us+utc").stdout
    return datetime.strptime(out.strip().split("=", 1)[1], "%a %Y-%m-%d %H:%M:%S.%f %Z")


def _runtime_rolled_one_node_at_a_time(res, started, site):
    """In run ``res``, each node with the bundle's runtime restarted its containerd in turn, the next
    one only once the previous node was Ready with it, and runs the current release; the
    control-plane nodes (Debian's containerd) were left alone. ``started``: each node's containerd
    start before the run."""
    from datetime import datetime

    # the roll plays, one batch (play) per node: when it was Ready again with its new containerd
    turns = []
    for play in res.data["plays"]:
        if "container runtime changes, one running node at a time" not in play["play"]["name"]:
            continue
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if task["task"]["name"].endswith("The node is Ready again, its kubelet reporting this containerd") \
                        and not result.get("skipped"):
                    end = datetime.fromisoformat(task["task"]["duration"]["end"].rstrip("Z"))
                    turns.append((host, end))
    assert sorted(turn[0] for turn in turns) == sorted(BUNDLE_NODES), turns
    restarted = {host: _containerd_started(host) for host in started}
    for host in BUNDLE_NODES:
        assert restarted[host] > started[host], host
        assert on_node(host, "containerd", "--version").stdout.split()[-1] == versions.CONTAINERD
    for host in CONTROL_PLANE:
        assert restarted[host] == started[host], host
    # in the order they were rolled: the next restart after the previous Ready
    for (prev, ready), (nxt, _started) in itertools.pairwise(turns):
        assert restarted[nxt] > ready, f"{nxt} restarted at {restarted[nxt]} before {prev} was Ready ({ready})"
    for conf, hosts in ((site["admin"], WORKERS), *((_tenant_conf(site, t), [w]) for t, w in TENANT_WORKERS.items())):
        for item in json.loads(kubectl(conf, "get", "nodes", "-o", "json").stdout)["items"]:
            if item["metadata"]["name"] in hosts:
                assert item["status"]["nodeInfo"]["containerRuntimeVersion"] == "containerd://" + versions.CONTAINERD.lstrip("v")


def test_check_mode_with_a_new_admin_worker_names_it_and_joins_nothing(site, bundle_dir, tmp_path):
    """A new machine in admin_workers, previewed on the deployed admin cluster."""
    lab_inventory = lab_up(**{**SIZES, "admin_workers": 3})
    try:
        address = _lab_vars(lab_inventory)["all"]["children"]["admin_workers"]["hosts"]["lab-admin-worker-2"]["ansible_host"]
        inventory = tmp_path / "inventory"
        shutil.copytree(site["inventory"], inventory)
        with open(inventory / "hosts.yml", encoding="utf-8") as f:
            hosts = yaml.safe_load(f)
        hosts["all"]["children"]["admin_cluster"]["children"]["admin_workers"]["hosts"]["admin-worker-2"] = {
            "ansible_host": address}
        (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
        check = run_playbook(os.path.join(REPO, "playbooks", "admin_cluster.yml"), tmp_path,
                             {"kamaji_bundle_dir": bundle_dir}, inventory=str(inventory), check=True)
        assert check.rc == 0, check.failed_tasks()
        preview = check.task("Check mode - nodes that would join the admin cluster", host="admin-cp-0")
        assert preview["changed"] and preview["msg"] == "admin-worker-2 would join the admin cluster", preview
        assert on_node("admin-worker-2", "test", "-e", "/etc/kubernetes/kubelet.conf", check=False).returncode != 0
        names = [n["metadata"]["name"] for n in json.loads(kubectl(site["admin"], "get", "nodes", "-o", "json").stdout)["items"]]
        assert sorted(names) == sorted([*CONTROL_PLANE, *WORKERS])
        assert _changed(check).keys() <= {"admin-cp-0", "admin-worker-2"}
    finally:
        lab_up(**SIZES)


def _node(conf, name):
    return next(n for n in json.loads(kubectl(conf, "get", "nodes", "-o", "json").stdout)["items"]
                if n["metadata"]["name"] == name)


def _batch_seconds(res, name):
    """Wall time of each batch of a serial play named ``name`` that finished, in order."""
    return [seconds(p["play"]["duration"]) for p in res.data.get("plays", [])
            if p["play"]["name"] == name and (p["play"].get("duration") or {}).get("end")]


def _play_seconds(res, name):
    """Wall time of the plays of a run named ``name`` (a serial play is one entry per batch)."""
    return sum(_batch_seconds(res, name))


def test_a_tenant_moves_one_minor_up_control_plane_first_then_its_worker(site, bundle_dir, tmp_path):
    """The fleet upgrade of one tenant, driven by the inventory: acme's tenant.kubernetes_version
    moves from the previous minor to the current one in the site's inventory (the later
    scenarios see the fleet as it now is). The workers play run first is refused before
    anything changes (its tenant's API server still runs the older release); kamaji.core.upgrade
    lists what moves, keeps an etcd
    snapshot and rolls acme's control plane in its canary batch while a client reads from it;
    a later batch's tenant whose control plane cannot become ready (initech) stops the run,
    naming it, before any worker moves; the re-run with initech fixed drains acme's worker,
    moves it to the new kubelet with kubeadm upgrade node and uncordons it."""
    older, newer = TENANT_VERSIONS["acme"], versions.KUBERNETES
    worker, conf = TENANT_WORKERS["acme"], _tenant_conf(site, "acme")
    acme_vars = os.path.join(site["inventory"], "host_vars", "acme.yml")
    with open(acme_vars, encoding="utf-8") as f:
        text = f.read()
    assert f"kubernetes_version: {older}" in text
    with open(acme_vars, "w", encoding="utf-8") as f:
        f.write(text.replace(f"kubernetes_version: {older}", f"kubernetes_version: {newer}"))
    workers_play = os.path.join(REPO, "playbooks", "tenant_workers.yml")
    ev = {"kamaji_bundle_dir": bundle_dir}
    # the workers job carries no file from the tenants job (as an AWX job in a fresh container):
    # the controller's directory of tenant kubeconfigs is empty for it, each worker's tenant
    # kubeconfig is read from the admin cluster, and none is left on the controller after it
    no_files = {**ev, "tenant_control_plane_kubeconfig_dir": str(tmp_path / "no-kubeconfigs")}
    scratch_before = set(glob.glob(os.path.join(tempfile.gettempdir(), "kamaji-tenant-kubeconfigs-*")))

    refused = run_playbook(workers_play, tmp_path, no_files, inventory=site["inventory"])
    assert refused.rc != 0
    msg = refused.task("Never a kubelet newer than its tenant's API server", host=worker)["msg"]
    assert msg.startswith(f"{worker}: kube_packages_version: {newer} is newer than the running API server of tenant "
                          f"acme {older}"), msg
    assert _changed(refused) == {}
    assert on_node(worker, "kubelet", "--version").stdout.split()[-1] == older

    # (its preview, kamaji.core.upgrade --check, is test_the_upgrade_check_previews...'s: the run lists the same)
    snapshots = _snapshots()
    assert json.loads(kubectl(conf, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"] == older
    assert on_node(worker, "kubelet", "--version").stdout.split()[-1] == older

    # the run meets a tenant whose control plane cannot become ready: initech (created by an earlier
    # scenario, added by an extra inventory source) gets an API server flag that does not exist.
    # The tenants move in canary batches (acme, then globex and initech) and a failed batch stops
    # the run: acme's batch finished and stays moved; its worker waits for the re-run.
    address = next(a["address"] for a in _node(site["admin"], "admin-worker-0")["status"]["addresses"]
                   if a["type"] == "InternalIP")
    initech = {"endpoint": {"address": address, "port": 31445}, "replicas": 1}
    broken, fixed = tmp_path / "initech-broken.yml", tmp_path / "initech.yml"
    broken.write_text(json.dumps({"tenants": {"hosts": {"initech": {
        "tenant_control_plane_wait_timeout": 45,
        "tenant": {**initech, "extra_args": {"apiserver": {"no-such-flag": "1"}}}}}}}))
    fixed.write_text(json.dumps({"tenants": {"hosts": {"initech": {"tenant": initech}}}}))
    batches = {**ev, "kamaji_tenants_serial": [1, 2], "kamaji_tenants_max_fail_percentage": 0}
    poller = TenantPoller(conf, tmp_path, seconds=1800)
    poller.start()
    try:
        start = time.monotonic()
        stopped = run_playbook(UPGRADE, tmp_path, batches, inventory=site["inventory"], args=("-i", str(broken)))
        stopped_seconds = time.monotonic() - start
        assert stopped.rc != 0
        msg = stopped.task("The tenant control plane did not become ready", host="initech")["msg"]
        print(msg)
        assert msg.startswith("tenant initech: the rollout of its control plane did not finish within 45 s "
                              "(Deployment: 1 replicas wanted, 1 on the applied spec, "), msg
        assert "Not ready: kube-apiserver in kube-control-plane-" in msg, msg
        assert msg.endswith("tenants of finished batches keep their release."), msg
        # and the run stops there: no tenant worker moves
        msg = stopped.task("The tenants that failed stay within kamaji_tenants_max_fail_percentage")["msg"]
        assert msg.startswith("tenant control planes: initech did not pass its gate (the reason is above), more than "
                              "kamaji_tenants_max_fail_percentage (0%) of the 3 tenants of this run: the run stops here, "
                              "before any tenant worker moves."), msg
        assert json.loads(kubectl(conf, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"] == newer
        assert on_node(worker, "kubelet", "--version").stdout.split()[-1] == older
        assert "Tenant workers - kubelet upgrades, in batches" not in {p["play"]["name"] for p in stopped.data["plays"]}
        both = [f"acme: control plane {older} -> {newer}", f"{worker}: kubelet {older} -> {newer}"]
        assert _run_once(stopped, WHAT_MOVES)["msg"] == both
        assert len(_snapshots()) == len(snapshots) + 1, _snapshots()
        # initech's previous replica still serves: nothing of it was lost
        assert kubectl(_tenant_conf(site, "initech"), "get", "--raw", "/readyz").stdout == "ok"
        # initech fixed in the inventory: the re-run finishes the job
        start = time.monotonic()
        moved = run_playbook(UPGRADE, tmp_path, batches, inventory=site["inventory"], args=("-i", str(fixed)))
        run_seconds = time.monotonic() - start
    finally:
        poller.stop()
    assert moved.rc == 0, moved.failed_tasks()
    # nothing moves on the etcd members and the admin nodes: those layers were left as they are
    for res in (stopped, moved):
        ran = [(p["play"]["name"], t["task"]["name"], h) for p in res.data["plays"]
               if p["play"]["name"] == "Multi-tenant etcd" or p["play"]["name"].startswith("Admin cluster")
               for t in p["tasks"] for h, r in t["hosts"].items() if not r.get("skipped")]
        assert ran == [], ran[:5]
    acme_seconds = _batch_seconds(stopped, "Tenant control planes")[0]
    worker_seconds = _play_seconds(moved, "Tenant workers - kubelet upgrades, in batches")
    print(f"acme {older} -> {newer} by kamaji.core.upgrade: stopped by initech after {stopped_seconds:.0f} s (acme's "
          f"control plane, its canary batch: {acme_seconds:.0f} s), finished by the re-run in {run_seconds:.0f} s "
          f"(its worker's kubelet upgrade batches: {worker_seconds:.0f} s); {poller.summary()}")
    assert kubectl(_tenant_conf(site, "initech"), "get", "--raw", "/readyz").stdout == "ok"
    # what was left: acme's worker (a snapshot before it too: anything that moves gets one)
    assert _run_once(moved, WHAT_MOVES)["msg"] == [f"{worker}: kubelet {older} -> {newer}"]
    assert len(_snapshots()) == len(snapshots) + 2, _snapshots()
    assert json.loads(kubectl(conf, "version", "-o", "json").stdout)["serverVersion"]["gitVersion"] == newer
    assert moved.task("Cordon and drain this worker", host=worker)["changed"]
    node = _node(conf, worker)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == newer
    assert _ready(node) and not node["spec"].get("unschedulable"), node["spec"]
    assert on_node(worker, "kubelet", "--version").stdout.split()[-1] == newer
    assert on_node(worker, "kubeadm", "version", "-o", "short").stdout.strip() == newer
    assert on_node(worker, "test", "-e", "/etc/kubernetes/kamaji-upgrade-in-progress", check=False).returncode != 0
    # the other tenant and its worker were left alone
    assert _node(_tenant_conf(site, "globex"), TENANT_WORKERS["globex"])["status"]["nodeInfo"]["kubeletVersion"] == newer
    # the control plane rolled without a failed read
    assert poller.failed == [], poller.failed[:5]
    again = run_playbook(workers_play, tmp_path, no_files, inventory=site["inventory"])
    assert again.rc == 0 and _changed(again) == {}, _changed(again)
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "kamaji-tenant-kubeconfigs-*"))) == scratch_before


def _certs(host):
    """Certificate name to its expiration, as kubeadm reads them on ``host``."""
    out = json.loads(on_node(host, "kubeadm", "certs", "check-expiration", "-o", "json").stdout)
    return {c["name"]: c["expirationDate"] for c in out["certificates"] if not c.get("missing")}


def test_a_control_plane_node_near_expiry_renews_its_certificates_while_tenants_serve(site, bundle_dir, tmp_path):
    """admin-cp-2 alone is given a threshold above its certificates' year (an extra inventory
    source sets its admin_cluster_certs_renew_days): the admin_cluster playbook previews, then
    renews its kubeadm certificates and restarts its control plane on them; the other nodes keep
    theirs; the tenants serve every read meanwhile."""
    extra = tmp_path / "renew.yml"
    extra.write_text(json.dumps({"all": {"hosts": {"admin-cp-2": {"admin_cluster_certs_renew_days": 400}}}}))
    play = os.path.join(REPO, "playbooks", "admin_cluster.yml")
    ev = {"kamaji_bundle_dir": bundle_dir}
    before = {h: _certs(h) for h in CONTROL_PLANE}
    preview = run_playbook(play, tmp_path, ev, inventory=site["inventory"], check=True, args=("-i", str(extra)))
    assert preview.rc == 0, preview.failed_tasks()
    would = preview.task("Check mode - this node would renew its kubeadm certificates", host="admin-cp-2")
    assert would["changed"] and would["msg"].startswith("admin-cp-2 would renew its kubeadm certificates"), would
    assert _changed(preview) == {"admin-cp-2": 1}, _changed(preview)
    assert {h: _certs(h) for h in CONTROL_PLANE} == before
    pollers = [TenantPoller(_tenant_conf(site, t), tmp_path) for t in TENANT_WORKERS]
    for poller in pollers:
        poller.start()
    try:
        start = time.monotonic()
        res = run_playbook(play, tmp_path, ev, inventory=site["inventory"], args=("-i", str(extra)))
        renew_seconds = time.monotonic() - start
    finally:
        for poller in pollers:
            poller.stop()
    assert res.rc == 0, res.failed_tasks()
    # the admin_cluster run found the control-plane nodes' packages settled in one dpkg read: no
    # apt-get update, no apt call
    for host in CONTROL_PLANE:
        installs = [r for t in _tasks(res, "Install kubelet, kubeadm and kubectl pinned")
                    for h, r in t["hosts"].items() if h == host]
        assert installs and all(r.get("skipped") for r in installs), (host, installs)
    print(f"admin-cp-2 renewed its certificates in an admin_cluster run of {renew_seconds:.0f} s; "
          + "; ".join(f"{t}: {p.summary()}" for t, p in zip(TENANT_WORKERS, pollers, strict=True)))
    after = {h: _certs(h) for h in CONTROL_PLANE}
    assert after["admin-cp-0"] == before["admin-cp-0"] and after["admin-cp-1"] == before["admin-cp-1"]
    assert all(after["admin-cp-2"][name] > before["admin-cp-2"][name] for name in ("apiserver", "admin.conf")), after
    manifest = on_node("admin-cp-2", "cat", "/etc/kubernetes/manifests/kube-apiserver.yaml").stdout
    assert "kamaji.core/certs-renewed" in manifest
    for tenant, poller in zip(TENANT_WORKERS, pollers, strict=True):
        assert poller.failed == [], (tenant, poller.failed[:5])


def test_another_endpoint_fails_naming_the_variable(site, bundle_dir, tmp_path):
    res = run_playbook(os.path.join(REPO, "playbooks", "admin_cluster.yml"), tmp_path,
                       {"kamaji_bundle_dir": bundle_dir, "admin_cluster_control_plane_endpoint": "10.255.0.1:6443"},
                       inventory=site["inventory"])
    assert res.rc != 0
    msg = res.task("The cluster serves on the configured shared endpoint (kubeadm fixes it at init)",
                   host="admin-cp-0")["msg"]
    assert msg.startswith("admin_cluster_control_plane_endpoint: the admin cluster was initialised with the endpoint "
                          f"https://{site['endpoint']}, not 10.255.0.1:6443"), msg
    # refused by the preflight: no play of the admin cluster started, nothing changed
    assert {p["play"]["name"] for p in res.data["plays"]} == {"Preflight"}, [p["play"]["name"] for p in res.data["plays"]]
    assert _changed(res) == {}


# --- The shared etcd under the running tenants -------------------------------------------
# These scenarios run after the site's: they roll, grow, replace and restore the etcd that
# the tenants of the site use (the restore runs last of all: it takes every member down).

ETCD_PLAYBOOK = os.path.join(REPO, "playbooks", "etcd.yml")
ETCD_PKI = "/etc/kamaji/etcd/pki"


@pytest.fixture(scope="module")
def etcd_creds(site, tmp_path_factory):
    """The root client credentials, copied from the first member for the tests' client."""
    tmp = tmp_path_factory.mktemp("etcd-creds")
    files = {}
    for name in ("ca.crt", "root.crt", "root.key"):
        path = tmp / name
        path.write_text(on_node("etcd-0", "cat", f"{ETCD_PKI}/{name}").stdout)
        path.chmod(0o600)
        files[name] = str(path)
    return files


def _etcd_addresses(lab_inventory):
    """Each etcd host of the sample (etcd-N) and its lab address."""
    lab = _lab_vars(lab_inventory)["all"]["children"]["etcd"]["hosts"]
    return {name.removeprefix("lab-"): host["ansible_host"] for name, host in lab.items()}


def etcd_client(creds, lab_inventory, timeout=3.0):
    from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd

    urls = [f"https://{ip}:2379" for ip in _etcd_addresses(lab_inventory).values()]
    return etcd.Client(urls, creds["ca.crt"], creds["root.crt"], creds["root.key"], timeout=timeout)


def _etcd_changed(res):
    return sum(s.get("changed", 0) for s in res.stats.values())


class QuorumWatch(threading.Thread):
    """Writes a key every 0.2 s while a play runs, through whichever member answers: the
    cluster keeps quorum when every write is accepted by some member within 3 s."""

    def __init__(self, creds, lab_inventory):
        super().__init__(daemon=True)
        self.creds, self.lab_inventory = creds, lab_inventory
        self.samples = []
        self.stopping = threading.Event()

    def _write(self, n):
        from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd

        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                c = etcd_client(self.creds, self.lab_inventory, timeout=1.0)
            except etcd.EtcdError:
                time.sleep(0.2)
                continue
            try:
                c.put("/quorum-watch/n", str(n))
                return True
            except etcd.EtcdError:
                time.sleep(0.2)
            finally:
                c.close()
        return False

    def run(self):
        n, deadline = 0, time.monotonic() + 900
        while not self.stopping.is_set() and time.monotonic() < deadline:
            n += 1
            self.samples.append(self._write(n))
            time.sleep(0.2)

    def stop(self):
        self.stopping.set()
        self.join(10)


def _etcd_started_at(host):
    out = on_node(host, "systemctl", "show", "etcd", "-p", "ExecMainStartTimestampMonotonic").stdout
    return int(out.strip().split("=", 1)[1])


def test_etcd_members_run_with_auth_and_private_keys_and_certs_carry_their_addresses(site, etcd_creds):
    c = etcd_client(etcd_creds, site["lab_inventory"])
    try:
        members = c.members()
        assert sorted(m["name"] for m in members) == ["etcd-0", "etcd-1", "etcd-2"]
        assert all(m["client_urls"] for m in members)
        assert c.auth_status() is True
        assert all(e["healthy"] for e in c.endpoint_status())
    finally:
        c.close()
    out = on_node("etcd-1", "stat", "-c", "%n %a %U", f"{ETCD_PKI}/server.key", f"{ETCD_PKI}/peer.key",
                  f"{ETCD_PKI}/root.key", f"{ETCD_PKI}/ca.key", "/var/lib/etcd").stdout.split("\n")
    for line in filter(None, out):
        assert line.split()[1:] == ["600", "etcd"] or line.endswith("/var/lib/etcd 700 etcd"), line
    pem = on_node("etcd-1", "cat", f"{ETCD_PKI}/peer.crt").stdout
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem, capture_output=True,
                          text=True, check=True).stdout
    assert f"IP Address:{_etcd_addresses(site['lab_inventory'])['etcd-1']}" in text and "DNS:etcd-1" in text, text


def test_etcd_changed_setting_restarts_one_member_at_a_time_while_tenants_serve(site, etcd_creds, tmp_path):
    hosts = ("etcd-0", "etcd-1", "etcd-2")
    # the tenant answers through its endpoint before the poller starts (bounded)
    _ready_within(site, "acme", 180)
    before = {h: _etcd_started_at(h) for h in hosts}
    watch = QuorumWatch(etcd_creds, site["lab_inventory"])
    poller = TenantPoller(_tenant_conf(site, "acme"), tmp_path)
    watch.start()
    poller.start()
    try:
        res = run_playbook(ETCD_PLAYBOOK, tmp_path, {"etcd_snapshot_count": 20000}, inventory=site["inventory"])
    finally:
        watch.stop()
        poller.stop()
    assert res.rc == 0, res.failed_tasks()
    after = {h: _etcd_started_at(h) for h in hosts}
    assert all(after[h] > before[h] for h in hosts), "every member restarts for the new setting"
    starts = sorted(after.values())
    # each restart waited for the previous member to be healthy again
    assert all(b - a > 500_000 for a, b in itertools.pairwise(starts)), starts
    assert len(watch.samples) > 10, "too few writes were attempted during the run"
    # quorum never lost: every write during the rolling restart was accepted
    assert all(watch.samples), "%d of %d writes failed" % (watch.samples.count(False), len(watch.samples))
    # and the tenant's API served every read meanwhile
    print(f"etcd roll: tenant {poller.summary()}")
    assert poller.failed == [] and poller.ok > 50, poller.failed[:5]
    # back to the inventory's setting (again one member at a time)
    back = run_playbook(ETCD_PLAYBOOK, tmp_path, inventory=site["inventory"])
    assert back.rc == 0, back.failed_tasks()


def _with_etcd_hosts(site, tmp_path, lab_inventory, count):
    """A copy of the site's inventory whose etcd group has ``count`` members (etcd-0..N-1)."""
    inventory = tmp_path / f"inventory-etcd-{count}"
    shutil.copytree(site["inventory"], inventory)
    with open(inventory / "hosts.yml", encoding="utf-8") as f:
        hosts = yaml.safe_load(f)
    addresses = _etcd_addresses(lab_inventory)
    hosts["all"]["children"]["etcd"]["hosts"] = {f"etcd-{i}": {"ansible_host": addresses[f"etcd-{i}"]}
                                                 for i in range(count)}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    return str(inventory)


def test_etcd_grows_to_five_then_replaces_a_failed_member_keeping_data(site, etcd_creds, tmp_path):
    c = etcd_client(etcd_creds, site["lab_inventory"])
    try:
        c.put("/kept/before-growth", "v1")
    finally:
        c.close()
    five = lab_up(**{**SIZES, "etcd": 5})
    try:
        inventory = _with_etcd_hosts(site, tmp_path, five, 5)
        res = run_playbook(ETCD_PLAYBOOK, tmp_path, inventory=inventory)
        assert res.rc == 0, res.failed_tasks()
        c = etcd_client(etcd_creds, five)
        try:
            members = c.members()
            assert sorted(m["name"] for m in members) == [f"etcd-{i}" for i in range(5)]
            assert all(e["healthy"] for e in c.endpoint_status())
            assert dict(c.export_prefix("/kept/")) == {b"/kept/before-growth": b"v1"}
            old_id = {m["name"]: m["id"] for m in members}["etcd-1"]
        finally:
            c.close()

        # a member's machine dies and comes back empty (one the tenants' API servers use)
        subprocess.run(["podman", "rm", "-f", "-t", "0", LAB_NODE["etcd-1"]], check=True, capture_output=True)
        lab_up(**{**SIZES, "etcd": 5})
        res = run_playbook(ETCD_PLAYBOOK, tmp_path, inventory=inventory)
        assert res.rc == 0, res.failed_tasks()
        c = etcd_client(etcd_creds, five)
        try:
            members = {m["name"]: m for m in c.members()}
            assert sorted(members) == [f"etcd-{i}" for i in range(5)]
            assert members["etcd-1"]["id"] != old_id
            assert all(e["healthy"] for e in c.endpoint_status())
            assert dict(c.export_prefix("/kept/")) == {b"/kept/before-growth": b"v1"}
        finally:
            c.close()
        again = run_playbook(ETCD_PLAYBOOK, tmp_path, inventory=inventory)
        assert again.rc == 0 and _etcd_changed(again) == 0, _changed(again)
        # the tenants' API servers, whose etcd list holds etcd-1, are ready again: within a
        # bounded wait, their etcd client reconnecting to the new member (measured and printed)
        waited = {tenant: round(_ready_within(site, tenant, 120)) for tenant in TENANT_WORKERS}
        print(f"tenants ready after etcd-1 was replaced, within (s): {waited}")
    finally:
        # back to three members: remove the extra two from the cluster (a patient client, a few
        # attempts: a removal under the tenants' load may outlast one call), then the nodes
        c = etcd_client(etcd_creds, lab_up(**{**SIZES, "etcd": 5}), timeout=15.0)
        try:
            for _attempt in range(3):
                extra = [m for m in c.members() if m["name"] in ("etcd-3", "etcd-4")]
                if not extra:
                    break
                try:
                    c.member_remove(extra[0]["id"])
                except Exception:  # retried, then the assertion below says what is left
                    time.sleep(5)
            assert not [m["name"] for m in c.members() if m["name"] in ("etcd-3", "etcd-4")]
        finally:
            c.close()
        lab_up(**SIZES)


def test_admin_api_survives_the_first_control_plane_node_stopping(site):
    subprocess.run(["podman", "stop", "-t", "5", LAB_NODE["admin-cp-0"]], check=True, capture_output=True)
    try:
        # haproxy drops the stopped server after two failed checks 1 s apart; bounded wait
        deadline = time.monotonic() + 60
        while True:
            got = kubectl(site["admin"], "create", "configmap", "written-with-cp-0-down", "-n", "default", check=False)
            if got.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert got.returncode == 0, got.stderr
        reads = [kubectl(site["admin"], "get", "configmap", "-n", "default", check=False) for _read in range(5)]
        assert all("written-with-cp-0-down" in r.stdout for r in reads), [r.stderr for r in reads]  # each one served
    finally:
        subprocess.run(["podman", "start", LAB_NODE["admin-cp-0"]], check=False, capture_output=True)


def test_after_a_reboot_the_node_keeps_its_address_routes_and_readiness(site):
    """Runs after the other site scenarios. The bridge network's routes to the other nodes' pod CIDRs are applied at boot
    (a container restart starts a new network namespace: no route survives it by itself), and
    the lab node comes back with its fixed address, so the kubelet is Ready."""
    nodes = json.loads(kubectl(site["admin"], "get", "nodes", "-o", "json").stdout)["items"]
    cidrs = {n["metadata"]["name"]: n["spec"]["podCIDR"] for n in nodes}
    host = "admin-worker-0"
    node = LAB_NODE[host]

    def address():
        out = subprocess.run(["podman", "inspect", node, "--format", "{{json .NetworkSettings.Networks}}"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["kamaji-lab"]["IPAddress"]

    before = address()
    restarted = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    subprocess.run(["podman", "restart", "-t", "10", node], check=True, capture_output=True, timeout=120)
    booted = wait_booted(node)
    assert booted in ("running", "degraded"), booted
    unit = on_node(host, "systemctl", "is-active", "kamaji-pod-routes", check=False).stdout.strip()
    routes = on_node(host, "ip", "-4", "route", "show").stdout
    assert unit == "active", unit
    for cp in CONTROL_PLANE:
        assert f"{cidrs[cp]} via " in routes, (cp, cidrs[cp], routes)
    assert address() == before
    # Ready again since the restart (the status before it stays Ready until the node's grace
    # period runs out), and so is every pod on it, the tenants' control planes among them: the
    # scenarios after this one start from a site that serves
    waiting = _back_since(site, host, restarted)
    deadline = time.monotonic() + 240
    while waiting and time.monotonic() < deadline:
        time.sleep(3)
        waiting = _back_since(site, host, restarted)
    assert not waiting, f"not Ready again since the restart at {restarted}: {waiting}"


def _back_since(site, host, since):
    """What on ``host`` is not Ready since ``since``: the Node (a heartbeat after it) and each of
    its pods (a Ready condition that turned True after it)."""
    def stamp(text):
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

    node = json.loads(kubectl(site["admin"], "get", "node", host, "-o", "json").stdout)
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    waiting = [] if ready and ready[0]["status"] == "True" and stamp(ready[0]["lastHeartbeatTime"]) >= since \
        else [f"node/{host}"]
    pods = json.loads(kubectl(site["admin"], "get", "pods", "-A", "--field-selector", f"spec.nodeName={host}",
                              "-o", "json").stdout)["items"]
    for pod in pods:
        if pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        cond = [c for c in pod["status"].get("conditions", []) if c["type"] == "Ready"]
        if not (cond and cond[0]["status"] == "True" and stamp(cond[0]["lastTransitionTime"]) >= since):
            waiting.append(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
    return waiting


def test_a_tenant_marked_absent_is_deleted_and_its_machine_leaves_it(site, etcd_creds, bundle_dir, tmp_path):
    """globex, with a Secret of its own, is backed up (kamaji.core.tenant_backup), then marked
    absent, with its guard, in the site's inventory: the tenants play removes its control
    plane, namespace, etcd keys, user and role and its kubeconfig while acme keeps serving.
    Marked present again, it is restored from its archive (kamaji.core.tenant_restore): its
    worker, never reset, is Ready again without a new join, its Secret reads back, through the
    admin kubeconfig issued before the delete. Marked absent once more and deleted, the
    workers play resets its machine (kubeadm reset, its pod network); re-runs of both change
    nothing."""
    worker = TENANT_WORKERS["globex"]
    globex_vars = os.path.join(site["inventory"], "host_vars", "globex.yml")
    with open(globex_vars, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    present = dict(doc["tenant"])

    def mark(tenant):
        with open(globex_vars, "w", encoding="utf-8") as f:
            yaml.safe_dump(dict(doc, tenant=tenant), f, sort_keys=False)

    absent = dict(present, state="absent", confirm_delete="globex")
    ev = {"kamaji_bundle_dir": bundle_dir}
    tenants_play = os.path.join(REPO, "playbooks", "tenants.yml")
    workers_play = os.path.join(REPO, "playbooks", "tenant_workers.yml")
    # the archive, made with the operator's key, and the admin kubeconfig a user kept
    backup = {"tenant_control_plane_backup_key": base64.b64encode(os.urandom(32)).decode(),
              "tenant_control_plane_backup_dir": str(tmp_path / "backups")}
    kept_conf = str(tmp_path / "globex-kept.kubeconfig")
    shutil.copy(_tenant_conf(site, "globex"), kept_conf)
    kubectl(kept_conf, "delete", "secret", "kept-secret", "--ignore-not-found")
    kubectl(kept_conf, "create", "secret", "generic", "kept-secret", "--from-literal=password=globex-s3cr3t")
    joined = on_node(worker, "sha256sum", "/etc/kubernetes/kubelet.conf").stdout.split()[0]
    archived = run_playbook(os.path.join(REPO, "playbooks", "tenant_backup.yml"), tmp_path, {**ev, **backup},
                            inventory=site["inventory"], args=("--limit", "globex"))
    assert archived.rc == 0, archived.failed_tasks()
    mark(absent)

    def acme_keys(c):
        """acme's keys but those its own components rewrite or expire (leases, events with their TTL)."""
        return {k for k, _v in c.export_prefix("/acme/") if not k.startswith((b"/acme/leases/", b"/acme/events/"))}

    c = etcd_client(etcd_creds, site["lab_inventory"])
    try:
        acme_before = acme_keys(c)
        assert c.prefix_count("/globex/") > 0 and "globex" in c.user_list()
    finally:
        c.close()
    poller = TenantPoller(_tenant_conf(site, "acme"), tmp_path)
    poller.start()
    try:
        start = time.monotonic()
        deleted = run_playbook(tenants_play, tmp_path, ev, inventory=site["inventory"])
        delete_seconds = time.monotonic() - start
    finally:
        poller.stop()
    assert deleted.rc == 0, deleted.failed_tasks()
    # nothing of globex in the admin cluster, in etcd, on the controller
    assert kubectl(site["admin"], "get", "ns", "tenant-globex", check=False).returncode != 0
    c = etcd_client(etcd_creds, site["lab_inventory"])
    try:
        assert c.prefix_count("/globex/") == 0
        assert "globex" not in c.user_list() and "globex" not in c.role_list()
        # acme's keys are all there
        assert acme_before <= acme_keys(c), sorted(acme_before - acme_keys(c))[:5]
    finally:
        c.close()
    assert not os.path.exists(_tenant_conf(site, "globex"))
    assert poller.failed == [], poller.failed[:5]
    assert kubectl(_tenant_conf(site, "acme"), "get", "--raw", "/readyz").stdout == "ok"

    # back from its archive: the worker that was never reset is Ready again, without a join
    mark(present)
    start = time.monotonic()
    restored = run_playbook(os.path.join(REPO, "playbooks", "tenant_restore.yml"), tmp_path,
                            {**ev, **backup, "tenant_control_plane_restore_from": backup["tenant_control_plane_backup_dir"]},
                            inventory=site["inventory"], args=("--limit", "globex"))
    restore_seconds = time.monotonic() - start
    assert restored.rc == 0, restored.failed_tasks()
    deadline, node = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        try:
            node = _node(kept_conf, worker)
        except (subprocess.SubprocessError, StopIteration, ValueError):
            node = None
        if node and _ready(node):
            break
        time.sleep(3)
    ready_seconds = time.monotonic() - start
    assert node and _ready(node), node and node["status"]["conditions"]
    assert on_node(worker, "sha256sum", "/etc/kubernetes/kubelet.conf").stdout.split()[0] == joined
    secret = kubectl(kept_conf, "get", "secret", "kept-secret", "-o", "jsonpath={.data.password}").stdout
    assert base64.b64decode(secret).decode() == "globex-s3cr3t"
    print(f"globex restored from its archive in {restore_seconds:.0f} s (the tenants play's run included); its "
          f"worker Ready again {ready_seconds:.0f} s after the restore began, without a new join")

    mark(absent)
    deleted = run_playbook(tenants_play, tmp_path, ev, inventory=site["inventory"])
    assert deleted.rc == 0, deleted.failed_tasks()
    start = time.monotonic()
    left = run_playbook(workers_play, tmp_path, ev, inventory=site["inventory"])
    leave_seconds = time.monotonic() - start
    assert left.rc == 0, left.failed_tasks()
    print(f"globex deleted by the tenants play in {delete_seconds:.0f} s (acme: {poller.summary()}); "
          f"its machine left it in the workers play, {leave_seconds:.0f} s")
    assert not os.path.exists(_tenant_conf(site, "globex"))
    assert poller.failed == [], poller.failed[:5]
    assert kubectl(_tenant_conf(site, "acme"), "get", "--raw", "/readyz").stdout == "ok"
    # the machine left its tenant: nothing of the join or of the pod network is left
    assert left.task("Kubeadm reset (the kubelet stops, the join's files and the tenant's containers go)",
                     host=worker)["changed"]
    for path in ("/etc/kubernetes/kubelet.conf", "/etc/cni/net.d/10-kamaji-bridge.conflist",
                 "/etc/kamaji/pod-routes.batch", "/etc/systemd/system/kamaji-pod-routes.service", "/sys/class/net/cni0"):
        assert on_node(worker, "test", "-e", path, check=False).returncode != 0, path
    assert on_node(worker, "systemctl", "is-active", "kubelet", check=False).stdout.strip() != "active"
    # acme's worker was left alone
    assert _ready(_node(_tenant_conf(site, "acme"), TENANT_WORKERS["acme"]))
    for play in (tenants_play, workers_play):
        again = run_playbook(play, tmp_path, ev, inventory=site["inventory"])
        assert again.rc == 0 and _changed(again) == {}, (play, _changed(again))
    status = run_playbook(os.path.join(REPO, "playbooks", "status.yml"), tmp_path, inventory=site["inventory"])
    assert status.rc == 0, status.failed_tasks()
    fleet = next(iter(t for t in _tasks(status, "The fleet, one row per tenant")))["hosts"]
    rows = {r["name"]: r for r in next(iter(fleet.values()))["rows"]}
    assert rows["globex"]["state"] == "deleted" and rows["acme"]["state"] == "ok", rows


def test_etcd_snapshot_then_restore_over_ssh_runs_last(site, etcd_creds, tmp_path):
    """The maintenance playbook's snapshot, then the disaster recovery from it: every member
    rebuilt from the file, the old data dirs kept aside. Last of the module: the tenants'
    API servers lose etcd while it runs."""
    maintenance = os.path.join(REPO, "playbooks", "etcd_maintenance.yml")
    lab_inventory = site["lab_inventory"]
    c = etcd_client(etcd_creds, lab_inventory)
    try:
        c.put("/restore/in-snapshot", "1")
    finally:
        c.close()
    snap = run_playbook(maintenance, tmp_path, inventory=site["inventory"], args=["--tags", "snapshot"])
    assert snap.rc == 0, snap.failed_tasks()
    stored = snap.task("Store the snapshot on the first member", host="etcd-0")["dest"]
    c = etcd_client(etcd_creds, lab_inventory)
    try:
        c.put("/restore/after-snapshot", "2")
    finally:
        c.close()
    local = tmp_path / "snapshot.db"
    subprocess.run(["podman", "cp", f"{LAB_NODE['etcd-0']}:{stored}", str(local)], check=True)

    res = run_playbook(maintenance, tmp_path, {"etcd_restore_snapshot": str(local)}, inventory=site["inventory"],
                       args=["--tags", "restore"])
    assert res.rc == 0, res.failed_tasks()
    c = etcd_client(etcd_creds, lab_inventory)
    try:
        assert dict(c.export_prefix("/restore/")) == {b"/restore/in-snapshot": b"1"}
        assert sorted(m["name"] for m in c.members()) == ["etcd-0", "etcd-1", "etcd-2"]
        assert all(e["healthy"] for e in c.endpoint_status())
        assert c.auth_status() is True
    finally:
        c.close()
    kept = on_node("etcd-2", "sh", "-c", "ls -d /var/lib/etcd.before-restore-*", check=False)
    assert kept.returncode == 0, "the old data dir is kept aside"
    again = run_playbook(ETCD_PLAYBOOK, tmp_path, inventory=site["inventory"])
    assert again.rc == 0 and _etcd_changed(again) == 0, _changed(again)
