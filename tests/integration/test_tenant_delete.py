"""Deleting a tenant with the tenants play (``tenant.state: absent``, guarded by
``tenant.confirm_delete``), on the fixture admin cluster and the shared TLS etcd; then bringing
it back from the archive kamaji.core.tenant_backup made before the delete, on this site and
then on another one (its own etcd, with another CA, and its own admin cluster).

Two tenants, ``gone`` and ``stays``, run as processes from what the role applied (as in
test_tenant_control_plane.py). A watcher stops ``gone``'s processes once its Deployment is
removed from the admin cluster, as the kubelet stops the pods of a deleted Deployment; a
poller reads ``stays``' API every 0.5 s throughout. One module fixture runs the sequence
(the backup, refusals, check mode, the delete, its re-runs, the restore and its refusals); the
tests read its record."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time

import pytest
import yaml
from harness.etcd_cluster import EtcdCluster
from harness.kube_control_plane import KubeControlPlane
from harness.procs import binary, free_port
from harness.runner import REPO, run_playbook
from harness.site import mark_site
from test_tenant_control_plane import PLAYBOOK, TenantProcesses, _changed, _inventory

BACKUP = os.path.join(REPO, "playbooks", "tenant_backup.yml")
RESTORE = os.path.join(REPO, "playbooks", "tenant_restore.yml")
BACKUP_KEY = base64.b64encode(bytes(range(32))).decode()

pytestmark = pytest.mark.usefixtures("site_marker")
GONE, STAYS = "gone", "stays"


def _keys(etcd_cluster, name):
    """Every key under the tenant's prefix: key -> (value, mod_revision)."""
    out = json.loads(etcd_cluster.etcdctl("get", f"/{name}/", "--prefix", "-w", "json").stdout)
    return {base64.b64decode(kv["key"]).decode(): (kv.get("value", ""), kv["mod_revision"]) for kv in out.get("kvs", [])}


class Poller(threading.Thread):
    """Reads a tenant API's /readyz every 0.5 s until stopped; counts the failed reads."""

    def __init__(self, kubeconfig):
        super().__init__(daemon=True)
        self.kubeconfig, self.reads, self.failed = kubeconfig, 0, []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            res = subprocess.run([binary("kubectl"), "--kubeconfig", self.kubeconfig, "--request-timeout=5s",
                                  "get", "--raw", "/readyz"], capture_output=True, text=True, check=False, timeout=30)
            self.reads += 1
            if res.returncode != 0 or res.stdout.strip() != "ok":
                self.failed.append(res.stderr.strip()[-200:])
            self.halt.wait(0.5)


class Kubelet(threading.Thread):
    """Stops a tenant's processes once its Deployment is gone from the admin cluster (bounded).
    Here the namespace goes at once (no kubelet, no pod to wait for), so the processes may still
    be shutting down while the play removes the tenant's etcd user and keys, as a pod on a
    machine cut off from its admin cluster would."""

    def __init__(self, kube, procs, namespace, timeout=300):
        super().__init__(daemon=True)
        self.kube, self.procs, self.namespace, self.timeout = kube, procs, namespace, timeout
        self.stopped_at = None

    def run(self):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            res = self.kube.kubectl("-n", self.namespace, "get", "deployment", "kube-control-plane", check=False)
            if res.returncode != 0 and "NotFound" in res.stderr:
                self.stopped_at = time.monotonic()
                self.procs.stop()
                return
            time.sleep(0.5)


def _spec(port, **extra):
    return {"tenant": {"endpoint": {"address": "192.0.2.10", "port": port}, "service_type": "ClusterIP",
                       "replicas": 1, **extra},
            "tenant_control_plane_api_url": f"https://127.0.0.1:{port}"}


@pytest.fixture(scope="module")
def deletion(etcd_cluster, kube_control_plane, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("delete")
    ports = {GONE: free_port(), STAYS: free_port()}
    kube = kube_control_plane

    def inventory(gone=None, **more):
        hosts = {STAYS: _spec(ports[STAYS]), GONE: _spec(ports[GONE], **(gone or {})), **more}
        return _inventory(tmp, etcd_cluster, kube, hosts, tenant_control_plane_kubeconfig_dir=str(tmp))

    created = run_playbook(PLAYBOOK, tmp, {"tenant_control_plane_wait": False}, inventory=inventory())
    assert created.rc == 0, created.failed_tasks()
    procs = {name: TenantProcesses(kube, name, str(tmp / f"proc-{name}")).start() for name in ports}
    rec = {}
    try:
        ready = run_playbook(PLAYBOOK, tmp, inventory=inventory())
        assert ready.rc == 0, ready.failed_tasks()
        for name in ports:
            conf = yaml.safe_load((tmp / f"{name}.kubeconfig").read_text())
            conf["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{ports[name]}"
            # a copy the tenant's user keeps: the delete removes the play's own file
            (tmp / f"{name}-local.kubeconfig").write_text(yaml.safe_dump(conf))
        absent = {"state": "absent", "confirm_delete": GONE}

        # the tenant's objects and a Secret, then its archive
        gone_conf = str(tmp / f"{GONE}-local.kubeconfig")

        def tk(*args, check=True):
            return subprocess.run([binary("kubectl"), "--kubeconfig", gone_conf, "--request-timeout=10s", *args],
                                  capture_output=True, text=True, check=check, timeout=60)

        tk("create", "secret", "generic", "kept-secret", "--from-literal=password=s3cr3t-value")
        for i in range(20):
            tk("create", "configmap", f"kept-{i}", f"--from-literal=n={i}")
        backups = tmp / "backups"
        backup_vars = {"tenant_control_plane_backup_key": BACKUP_KEY, "tenant_control_plane_backup_dir": str(backups)}
        rec["backup"] = run_playbook(BACKUP, tmp, backup_vars, inventory=inventory(), args=("--limit", GONE))
        rec["archives"] = sorted(os.listdir(backups)) if backups.is_dir() else []

        def state():
            return {"namespace": kube.kubectl("get", "ns", f"tenant-{GONE}", check=False).returncode == 0,
                    "keys": sorted(_keys(etcd_cluster, GONE)),
                    "user": GONE in etcd_cluster.etcdctl("user", "list").stdout.split(),
                    "role": GONE in etcd_cluster.etcdctl("role", "list").stdout.split(),
                    "kubeconfig": (tmp / f"{GONE}.kubeconfig").exists()}

        rec["before"] = state()
        rec["unguarded"] = run_playbook(PLAYBOOK, tmp, inventory=inventory({"state": "absent"}))
        rec["wrong_guard"] = run_playbook(PLAYBOOK, tmp, inventory=inventory({"state": "absent", "confirm_delete": STAYS}))
        rec["unknown"] = run_playbook(PLAYBOOK, tmp, inventory=inventory(
            never={"tenant": {"state": "absent", "confirm_delete": "never"}}))
        rec["check"] = run_playbook(PLAYBOOK, tmp, inventory=inventory(absent), check=True)
        rec["after_refusals"] = state()

        poller = Poller(str(tmp / "stays-local.kubeconfig"))
        kubelet = Kubelet(kube, procs[GONE], f"tenant-{GONE}")
        rec["stays_before"] = _keys(etcd_cluster, STAYS)
        poller.start()
        kubelet.start()
        start = time.monotonic()
        rec["delete"] = run_playbook(PLAYBOOK, tmp, inventory=inventory(absent))
        rec["delete_seconds"] = time.monotonic() - start
        rec["stopped_after"] = None if kubelet.stopped_at is None else round(kubelet.stopped_at - start, 1)
        rec["stays_after"] = _keys(etcd_cluster, STAYS)
        rec["after"] = state()
        rec["again"] = run_playbook(PLAYBOOK, tmp, inventory=inventory(absent))
        rec["check_again"] = run_playbook(PLAYBOOK, tmp, inventory=inventory(absent), check=True)
        rec["stays_before_restore"] = _keys(etcd_cluster, STAYS)

        # the restore: refused with a wrong key before anything changes; then the tenant comes
        # back from its archive, its control plane run anew from what was applied
        restore_vars = {"tenant_control_plane_backup_key": BACKUP_KEY, "tenant_control_plane_restore_from": str(backups),
                        "tenant_control_plane_wait": False}
        wrong = dict(restore_vars, tenant_control_plane_backup_key=base64.b64encode(b"w" * 32).decode())
        rec["restore_wrong_key"] = run_playbook(RESTORE, tmp, wrong, inventory=inventory(), args=("--limit", GONE))
        rec["after_wrong_key"] = state()
        start = time.monotonic()
        rec["restore"] = run_playbook(RESTORE, tmp, restore_vars, inventory=inventory(), args=("--limit", GONE))
        rec["restore_seconds"] = time.monotonic() - start
        if rec["restore"].rc == 0:
            procs["restored"] = TenantProcesses(kube, GONE, str(tmp / "proc-restored")).start()
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and tk("get", "--raw", "/readyz", check=False).stdout.strip() != "ok":
                time.sleep(2)
            rec["restored_secret"] = tk("get", "secret", "kept-secret", "-o", "jsonpath={.data.password}",
                                        check=False).stdout
            rec["restored_configmaps"] = tk("get", "configmaps", "-o", "name", check=False).stdout.split()
            rec["restored_ready"] = run_playbook(PLAYBOOK, tmp, inventory=inventory(), args=("--limit", GONE))
        rec["restore_live"] = run_playbook(RESTORE, tmp, restore_vars, inventory=inventory(), args=("--limit", GONE))
        rec["after_restore"] = state()
        rec["stays_after_restore"] = _keys(etcd_cluster, STAYS)
        print(f"tenant {GONE} restored in {rec['restore_seconds']:.1f} s")
        poller.halt.set()
        poller.join(timeout=30)
        kubelet.join(timeout=5)
        rec["poller"] = poller
        rec["record"] = json.loads(kube.kubectl("-n", "kube-system", "get", "configmap", "kamaji-deleted-tenants",
                                                "-o", "json").stdout)["data"]
        # for test_the_archive_restores_into_another_site...: where the archive is, the tenant's
        # port, its user's kubeconfig, and its processes (stopped there, to serve from the other site)
        rec.update(backups=str(backups), port=ports[GONE], gone_conf=gone_conf, procs=procs)
        print(f"tenant {GONE} deleted in {rec['delete_seconds']:.1f} s (its processes told to stop after "
              f"{rec['stopped_after']} s); {STAYS} read {poller.reads} times, {len(poller.failed)} failed")
        yield rec
    finally:
        for p in procs.values():
            p.stop()


def test_a_delete_without_its_guard_is_refused_naming_the_field_and_changes_nothing(deletion):
    for label in ("unguarded", "wrong_guard"):
        res = deletion[label]
        assert res.rc != 0, label
        assert _changed(res) == {}, label
        msg = res.task("The tenant spec is valid (nothing has changed yet)", host=GONE)["msg"]
        assert msg.startswith(f"tenant {GONE}: tenant.confirm_delete: set it to '{GONE}' to delete tenant {GONE}"), msg
    before, after = deletion["before"], deletion["after_refusals"]
    assert {k: v for k, v in after.items() if k != "keys"} == {k: v for k, v in before.items() if k != "keys"} == {
        "namespace": True, "user": True, "role": True, "kubeconfig": True}
    # no key of the tenant is gone; its own controller-manager may still add some (service
    # accounts, root CA ConfigMaps, events) while the refused runs go on
    assert before["keys"] and set(before["keys"]) <= set(after["keys"]), sorted(set(before["keys"]) - set(after["keys"]))


def test_deleting_a_tenant_that_does_not_exist_is_refused_naming_the_field(deletion):
    res = deletion["unknown"]
    assert res.rc != 0 and _changed(res) == {}
    msg = res.task("The tenant spec is valid (nothing has changed yet)", host="never")["msg"]
    assert "tenant.state: absent, but there is no tenant never to delete" in msg, msg


def test_check_mode_previews_the_delete_and_deletes_nothing(deletion):
    check = deletion["check"]
    assert check.rc == 0, check.failed_tasks()
    preview = check.task("Check mode - the tenants marked absent would be deleted", host=GONE)
    assert preview["changed"]
    assert deletion["after_refusals"]["namespace"] and deletion["after_refusals"]["user"]


def test_the_delete_removes_every_object_key_user_role_and_kubeconfig_of_the_tenant(deletion):
    res = deletion["delete"]
    assert res.rc == 0, res.failed_tasks()
    assert deletion["after"] == {"namespace": False, "keys": [], "user": False, "role": False, "kubeconfig": False}
    assert deletion["stopped_after"] is not None  # its control plane stopped during the run
    assert set(deletion["record"]) == {GONE}


def test_the_other_tenant_keeps_every_key_and_serves_throughout(deletion):
    before, after = deletion["stays_before"], deletion["stays_after"]
    assert before.keys() <= after.keys(), sorted(before.keys() - after.keys())
    # every key of the other tenant is byte-identical (value and mod_revision) but those its own
    # running components rewrite: their leases and the events they record
    own = tuple(f"/{STAYS}/{kind}/" for kind in ("leases", "masterleases", "peerserverleases", "events"))
    moved = sorted(k for k in before if before[k] != after[k] and not k.startswith(own))
    assert moved == [], moved
    assert len([k for k in before if not k.startswith(own)]) > 100
    poller = deletion["poller"]
    assert poller.reads > 0 and poller.failed == [], poller.failed


def test_a_re_run_after_the_delete_changes_nothing(deletion):
    for label in ("again", "check_again"):
        res = deletion[label]
        assert res.rc == 0, res.failed_tasks()
        assert _changed(res) == {}, (label, res.stdout[-2000:])


def test_the_archive_made_before_the_delete_brings_the_tenant_back_on_its_own_ca(deletion):
    """The tenant's archive (made by kamaji.core.tenant_backup before the delete) restores its
    keys, Namespace and Secrets; its control plane, run anew from what the play applied, serves
    the objects and the Secret value written before, to the admin kubeconfig issued before."""
    backup = deletion["backup"]
    assert backup.rc == 0, backup.failed_tasks()
    (archive,) = deletion["archives"]
    assert archive.startswith(f"{GONE}-") and archive.endswith(".tenant-backup.tar")
    where = backup.task("Backup - where the archive is", host=GONE)["msg"]
    assert where.startswith(f"tenant {GONE}: ") and " etcd keys, " in where, where
    res = deletion["restore"]
    assert res.rc == 0, res.failed_tasks()
    back = res.task("Restore - what came back", host=GONE)["msg"]
    assert f"{archive} (made " in back and " deleted" in back, back
    assert base64.b64decode(deletion["restored_secret"]).decode() == "s3cr3t-value"
    assert {f"configmap/kept-{i}" for i in range(20)} <= set(deletion["restored_configmaps"])
    ready = deletion["restored_ready"]
    assert ready.rc == 0, ready.failed_tasks()
    assert deletion["after_restore"]["namespace"] and deletion["after_restore"]["user"]
    assert deletion["after_restore"]["kubeconfig"]


def test_a_restore_refuses_a_wrong_key_and_a_live_tenant_before_any_change(deletion):
    wrong = deletion["restore_wrong_key"]
    assert wrong.rc != 0
    msg = wrong.task("Restore - the archive was read and written back (or why not)", host=GONE)["msg"]
    assert msg == (f"tenant {GONE}: backup_key: the archive's Secrets cannot be opened with this key: it is not the "
                   "backup key the archive was made with"), msg
    assert deletion["after_wrong_key"] == {"namespace": False, "keys": [], "user": False, "role": False,
                                           "kubeconfig": False}
    live = deletion["restore_live"]
    assert live.rc != 0 and _changed(live) == {}
    msg = live.task("Restore - over a live tenant only with its guard (tenant_control_plane_restore_confirm)",
                    host=GONE)["msg"]
    assert msg.startswith(f"tenant {GONE} is live: namespace tenant-{GONE} exists in the admin cluster."), msg
    assert msg.endswith(f"set tenant_control_plane_restore_confirm: {GONE} to do so. Nothing was changed."), msg


def test_the_other_tenant_is_untouched_by_the_restore(deletion):
    before, after = deletion["stays_before_restore"], deletion["stays_after_restore"]
    own = tuple(f"/{STAYS}/{kind}/" for kind in ("leases", "masterleases", "peerserverleases", "events"))
    assert sorted(k for k in before if before[k] != after.get(k) and not k.startswith(own)) == []


@pytest.fixture(scope="module")
def other_site(tmp_path_factory):
    """Another site: its own etcd (one member, another CA) and its own admin cluster, marked as
    that site's."""
    tmp = tmp_path_factory.mktemp("other-site")
    etcd = EtcdCluster(str(tmp / "etcd"), size=1).start()
    try:
        kube = KubeControlPlane(str(tmp / "kube"), etcd, name="admin-other").start()
        try:
            mark_site(kube.kubeconfig, os.path.dirname(etcd.pki.ca_file), tmp / "site")
            yield {"etcd": etcd, "kube": kube, "dir": tmp}
        finally:
            kube.stop()
    finally:
        etcd.stop()


def test_the_archive_restores_into_another_site_on_that_sites_etcd_ca(deletion, other_site):
    """The archive made on this site restores the tenant into another site (another etcd cluster,
    with another CA, and another admin cluster), from the same inventory entry: its keys come
    back under its prefix there, its etcd client certificate is issued anew by that site's etcd
    CA (the archived one was this site's), and on its own tenant CA its user's kubeconfig from
    before reads the Secret and the objects written before the backup."""
    etcd, kube, tmp = other_site["etcd"], other_site["kube"], other_site["dir"]
    deletion["procs"]["restored"].stop()  # this site's copy stops: the other site serves it on its port
    inventory = _inventory(tmp, etcd, kube, {GONE: _spec(deletion["port"])},
                           tenant_control_plane_kubeconfig_dir=str(tmp))
    restore_vars = {"tenant_control_plane_backup_key": BACKUP_KEY, "tenant_control_plane_restore_from":
                    deletion["backups"], "tenant_control_plane_wait": False}
    start = time.monotonic()
    res = run_playbook(RESTORE, tmp, restore_vars, inventory=inventory, args=("--limit", GONE))
    seconds = time.monotonic() - start
    assert res.rc == 0, res.failed_tasks()
    print(f"tenant {GONE} restored into another site in {seconds:.1f} s")
    assert {k.split("/")[2] for k in _keys(etcd, GONE)} >= {"secrets", "configmaps", "namespaces"}
    pki_secret = json.loads(kube.kubectl("-n", f"tenant-{GONE}", "get", "secret", "kamaji-pki", "-o", "json").stdout)
    data = {k: base64.b64decode(v).decode() for k, v in pki_secret["data"].items()}
    with open(etcd.pki.ca_file, encoding="utf-8") as f:
        other_ca = f.read()
    assert data["etcd-ca.crt"].strip() == other_ca.strip()
    verified = subprocess.run(["openssl", "verify", "-CAfile", etcd.pki.ca_file, "/dev/stdin"],
                              input=data["apiserver-etcd-client.crt"],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    procs = TenantProcesses(kube, GONE, str(tmp / "proc")).start()
    try:
        def tk(*args):
            return subprocess.run([binary("kubectl"), "--kubeconfig", deletion["gone_conf"], "--request-timeout=10s",
                                   *args], capture_output=True, text=True, check=False, timeout=60)

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and tk("get", "--raw", "/readyz").stdout.strip() != "ok":
            time.sleep(2)
        secret = tk("get", "secret", "kept-secret", "-o", "jsonpath={.data.password}")
        assert base64.b64decode(secret.stdout).decode() == "s3cr3t-value", secret.stderr
        assert {f"configmap/kept-{i}" for i in range(20)} <= set(tk("get", "configmaps", "-o", "name").stdout.split())
        ready = run_playbook(PLAYBOOK, tmp, inventory=inventory, args=("--limit", GONE))
        assert ready.rc == 0, ready.failed_tasks()
    finally:
        procs.stop()
