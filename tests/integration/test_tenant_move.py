"""A tenant moved to another etcd cluster by the tenants play (tenant.datastore), on two real
3-member TLS etcd clusters with their own CAs and the fixture admin kube-apiserver; the
tenant's control plane runs as processes from what the role applied (no kubelet here, so the
role's rollout gate is off: the e2e tier proves the move under it on the lab).

mover lives on the shared etcd with objects and a Secret; a move to ``west`` is previewed by
check mode (nothing changes); a move whose new datastore goes down once the tenant is frozen
stops at the copy, naming it, and leaves mover serving from the shared etcd, thawed (a write
reaching the copy while it is verified is test_etcd_copy's); the move then runs: frozen,
copied, verified, switched (its Deployment's etcd servers, an etcd client certificate of west's
CA), the old copy purged, recorded. Its control plane, started
from the switched objects, serves every object from west and writes there; the shared etcd holds
nothing of it; a re-run changes nothing."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest
import yaml
from cryptography import x509
from harness.etcd_cluster import EtcdCluster
from harness.procs import binary, free_port
from harness.runner import REPO, run_playbook
from harness.tenant_processes import TenantProcesses

PLAYBOOK = os.path.join(REPO, "playbooks", "tenants.yml")
pytestmark = pytest.mark.usefixtures("site_marker")
OBJECTS = 40


def _changed(res):
    return {h: s.get("changed", 0) for h, s in res.stats.items() if s.get("changed")}


@pytest.fixture(scope="module")
def west(tmp_path_factory):
    cluster = EtcdCluster(str(tmp_path_factory.mktemp("etcd-west"))).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def mover(etcd_cluster, west, kube_control_plane, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mover")
    port = free_port()
    tenant = {"endpoint": {"address": "192.0.2.10", "port": port}, "service_type": "ClusterIP", "replicas": 1}
    inv = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                   "children": {
        "etcd_credentials": {"hosts": {"etcd-creds": {}, "west-creds": {}}},
        "tenants": {"hosts": {"mover": {"tenant": tenant, "tenant_control_plane_api_url": f"https://127.0.0.1:{port}"}},
                    "vars": {
            "tenant_control_plane_admin_kubeconfig": kube_control_plane.kubeconfig,
            "tenant_control_plane_etcd_endpoints": etcd_cluster.endpoints,
            "tenant_control_plane_etcd_credentials_host": "etcd-creds",
            "tenant_control_plane_etcd_pki_dir": etcd_cluster.credentials_dir(tmp / "etcd-pki"),
            "tenant_control_plane_datastores": {"west": {
                "endpoints": west.endpoints, "credentials_host": "west-creds",
                "pki_dir": west.credentials_dir(tmp / "west-pki")}},
            "tenant_control_plane_kubeconfig_dir": str(tmp),
            "tenant_control_plane_wait_timeout": 60,
            "tenant_control_plane_wait_rollout": False}}}}}
    inventory = tmp / "hosts.yml"
    inventory.write_text(yaml.safe_dump(inv))
    made = run_playbook(PLAYBOOK, tmp, {"tenant_control_plane_wait": False}, inventory=str(inventory))
    assert made.rc == 0, made.failed_tasks()
    state = {"dir": tmp, "inventory": str(inventory), "inv": inv, "port": port,
             "procs": TenantProcesses(kube_control_plane, "mover", str(tmp / "proc-etcd")).start()}
    conf = yaml.safe_load((tmp / "mover.kubeconfig").read_text())
    conf["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    (tmp / "mover-local.kubeconfig").write_text(yaml.safe_dump(conf))
    state["kubeconfig"] = str(tmp / "mover-local.kubeconfig")
    try:
        ready = run_playbook(PLAYBOOK, tmp, inventory=str(inventory))
        assert ready.rc == 0, ready.failed_tasks()
        for i in range(OBJECTS):
            _kubectl(state, "create", "configmap", f"kept-{i:02d}", f"--from-literal=i={i}")
        _kubectl(state, "create", "secret", "generic", "moved-secret", "--from-literal=password=s3cr3t")
        yield state
    finally:
        state["procs"].stop()


def _kubectl(state, *args, check=True):
    return subprocess.run([binary("kubectl"), "--kubeconfig", state["kubeconfig"], *args],
                          capture_output=True, text=True, check=check, timeout=60)


def _inventory_on(state, name, datastore):
    inv = json.loads(json.dumps(state["inv"]))
    inv["all"]["children"]["tenants"]["hosts"]["mover"]["tenant"]["datastore"] = datastore
    path = state["dir"] / f"{name}.yml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def _keys(cluster, prefix="/mover/"):
    out = cluster.etcdctl("get", prefix, "--prefix", "--keys-only").stdout.split()
    return sorted(out)


def _role_writes(cluster):
    out = cluster.etcdctl("role", "get", "mover", check=False)
    return out.returncode == 0 and "[/mover/, /mover0)" in out.stdout.split("KV Write:")[1]


def _deployment(kube):
    return json.loads(kube.kubectl("-n", "tenant-mover", "get", "deployment", "kube-control-plane", "-o", "json").stdout)


def _etcd_servers(kube):
    (api,) = [c for c in _deployment(kube)["spec"]["template"]["spec"]["containers"] if c["name"] == "kube-apiserver"]
    return next(a for a in api["command"] + api.get("args", []) if a.startswith("--etcd-servers=")).split("=", 1)[1]


def _recorded(kube):
    obj = json.loads(kube.kubectl("-n", "tenant-mover", "get", "configmap", "kamaji-tenant-spec", "-o", "json").stdout)
    return json.loads(obj["data"]["spec.json"]).get("datastore")


class OutageOnFreeze(threading.Thread):
    """Stops every member of ``target`` the moment ``source`` freezes the tenant (its role loses
    write): the copy, the next step, then finds the new datastore gone. Reads the role through
    one open connection every 20 ms, well inside the second Ansible takes to start the copy."""

    def __init__(self, source, target, tenant="mover"):
        super().__init__(daemon=True)
        self.source, self.target, self.tenant = source, target, tenant
        self.halt, self.fired = threading.Event(), False

    def run(self):
        from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import Client
        client = Client(**self.source.connection())
        try:
            deadline = time.monotonic() + 600
            while not self.halt.is_set() and time.monotonic() < deadline:
                perms = client.role_get(self.tenant) or []
                if perms and not any("write" in p["type"].lower() for p in perms):
                    for i in range(len(self.target.procs)):
                        self.target.kill_member(i)
                    self.fired = True
                    return
                time.sleep(0.02)
        finally:
            client.close()


def test_a_move_is_previewed_then_an_outage_of_the_new_datastore_stops_it_leaving_the_tenant_on_its_old_datastore(
        mover, etcd_cluster, west, kube_control_plane):
    before_keys, servers = _keys(etcd_cluster), _etcd_servers(kube_control_plane)
    assert len(before_keys) > OBJECTS and _keys(west) == []
    inventory = _inventory_on(mover, "to-west", "west")

    preview = run_playbook(PLAYBOOK, mover["dir"], inventory=inventory, check=True)
    assert preview.rc == 0, preview.failed_tasks()
    copy = preview.task("Move - copy its prefix to the new datastore, read back and compared key by key", host="mover")
    assert copy["changed"], copy
    assert _keys(west) == [] and _role_writes(etcd_cluster) and _etcd_servers(kube_control_plane) == servers

    outage = OutageOnFreeze(etcd_cluster, west)
    outage.start()
    try:
        stopped = run_playbook(PLAYBOOK, mover["dir"], {"tenant_control_plane_wait": False}, inventory=inventory)
    finally:
        outage.halt.set()
        outage.join()
        west.restart_stopped()
    assert outage.fired and stopped.rc != 0, (outage.fired, stopped.rc)
    msg = stopped.task("Move - stopped", host="mover")["msg"]
    print(msg)
    assert msg.startswith('tenant mover: the move from datastore etcd to west stopped at "Move - copy its prefix to '
                          'the new datastore, read back and compared key by key": '), msg
    assert "no etcd endpoint answered" in msg and "It serves from etcd as before (thawed: writes work again)" in msg, msg
    # nothing moved: its control plane on the shared etcd, writing there, its record unchanged
    assert _etcd_servers(kube_control_plane) == servers and _recorded(kube_control_plane) == "etcd"
    assert _role_writes(etcd_cluster)
    _kubectl(mover, "create", "configmap", "after-the-stopped-move", "--from-literal=k=v")
    assert "/mover/configmaps/default/after-the-stopped-move" in _keys(etcd_cluster)


def test_the_tenant_moves_and_serves_everything_from_the_new_datastore(mover, etcd_cluster, west, kube_control_plane):
    inventory = _inventory_on(mover, "to-west", "west")
    source = _keys(etcd_cluster)
    start = time.monotonic()
    # (no kubelet runs the switched Deployment here: the gate after the switch is the e2e tier's)
    moved = run_playbook(PLAYBOOK, mover["dir"], {"tenant_control_plane_wait": False}, inventory=inventory)
    seconds = time.monotonic() - start
    assert moved.rc == 0, moved.failed_tasks()
    copied = moved.task("Move - what was copied", host="mover")["msg"]
    freeze = moved.task("Moved - the freeze ended with the switch (how long the tenant refused writes, at most)",
                        host="mover")["msg"]
    print(f"the move run: {seconds:.1f} s; {copied}; {freeze}")
    # (the keys the frozen tenant's API server still wrote before the freeze, such as events, come along)
    count = re.match(r"^tenant mover: (\d+) keys copied from etcd to west \(\d+ written, \d+ stale keys deleted\), "
                     r"verified$", copied)
    landed = _keys(west)
    assert count and int(count.group(1)) == len(landed), (copied, len(landed))
    # what the tenant dropped itself before the freeze (expired events and leases) is all that may be missing
    gone = sorted(set(source) - set(landed))
    assert all(k.startswith(("/mover/events/", "/mover/leases/", "/mover/masterleases/")) for k in gone), gone
    # switched: west's members, a client certificate of west's CA
    assert _etcd_servers(kube_control_plane) == ",".join(west.endpoints)
    pki = json.loads(kube_control_plane.kubectl("-n", "tenant-mover", "get", "secret", "kamaji-pki", "-o", "json").stdout)
    cert = x509.load_pem_x509_certificate(base64.b64decode(pki["data"]["apiserver-etcd-client.crt"]))
    with open(west.pki.ca_file, "rb") as f:
        assert cert.issuer == x509.load_pem_x509_certificate(f.read()).subject
    # the old copy purged, the move recorded
    assert _keys(etcd_cluster) == [] and "mover" not in etcd_cluster.etcdctl("user", "list").stdout.split()
    assert "mover" not in etcd_cluster.etcdctl("role", "list").stdout.split()
    assert _recorded(kube_control_plane) == "west" and _role_writes(west)

    # its control plane as the switched objects run it: everything read back from west
    mover["procs"].stop()
    mover["procs"] = TenantProcesses(kube_control_plane, "mover", str(mover["dir"] / "proc-west")).start()
    deadline = time.monotonic() + 240
    while _kubectl(mover, "get", "--raw", "/readyz", check=False).stdout.strip() != "ok":
        assert time.monotonic() < deadline, "mover's API server did not become ready on west within 240 s"
        time.sleep(2)
    names = _kubectl(mover, "get", "configmaps", "-o", "name").stdout.split()
    assert {f"configmap/kept-{i:02d}" for i in range(OBJECTS)} | {"configmap/after-the-stopped-move"} <= set(names)
    secret = _kubectl(mover, "get", "secret", "moved-secret", "-o", "jsonpath={.data.password}").stdout
    assert base64.b64decode(secret).decode() == "s3cr3t"
    _kubectl(mover, "create", "configmap", "written-on-west", "--from-literal=k=v")
    assert "/mover/configmaps/default/written-on-west" in _keys(west)

    again = run_playbook(PLAYBOOK, mover["dir"], inventory=inventory)
    assert again.rc == 0 and _changed(again) == {}, _changed(again)
    # the fleet status measures the tenant where it lives now
    status = run_playbook(os.path.join(REPO, "playbooks", "status.yml"), mover["dir"], inventory=inventory)
    assert status.rc == 0, status.failed_tasks()
    # (the fixture admin cluster holds other modules' tenants too: mover's row is the one named so)
    (row,) = [r for r in status.task("The fleet, one row per tenant", host="mover")["rows"] if r["name"] == "mover"]
    assert row["etcd_keys"] >= len(source), row
