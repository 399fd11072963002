"""The etcd role on lab nodes over SSH: a 3-member cluster from the offline bundle, idempotent,
restarts one member at a time, grows 3 -> 5 and replaces a failed member without data loss."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time

import pytest
from conftest import lab_up
from harness.procs import REPO
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd

PLAYBOOK = os.path.join(REPO, "playbooks", "etcd.yml")


def _inventory_hosts(inventory, group):
    with open(inventory, encoding="utf-8") as f:
        data = json.loads(f.read().split("\n", 1)[1])
    return {name: h["ansible_host"] for name, h in data["all"]["children"][group]["hosts"].items()}


def _deploy(inventory, bundle_dir, tmp_path, **extra):
    return run_playbook(PLAYBOOK, tmp_path, {"etcd_bundle_dir": bundle_dir, **extra}, inventory=inventory)


def _changed(res):
    return sum(s.get("changed", 0) for s in res.stats.values())


@pytest.fixture(scope="module")
def creds(lab, bundle_dir, tmp_path_factory):
    """Deploy once; the root credentials are then copied from the first member for the test's client."""
    tmp = tmp_path_factory.mktemp("etcd-deploy")
    first = _deploy(lab, bundle_dir, tmp)
    assert first.rc == 0, first.stdout[-5000:]
    files = {}
    for name in ("ca.crt", "root.crt", "root.key"):
        path = tmp / name
        out = subprocess.run(["podman", "exec", "lab-etcd-0", "cat", f"/etc/kamaji/etcd/pki/{name}"],
                             capture_output=True, text=True, check=True).stdout
        path.write_text(out)
        path.chmod(0o600)
        files[name] = str(path)
    return {"first": first, "files": files, "tmp": tmp}


def client(creds, inventory, timeout=3.0):
    urls = [f"https://{ip}:2379" for ip in _inventory_hosts(inventory, "etcd").values()]
    f = creds["files"]
    return etcd.Client(urls, f["ca.crt"], f["root.crt"], f["root.key"], timeout=timeout)


def test_three_members_started_with_auth_on(lab, creds):
    c = client(creds, lab)
    try:
        members = c.members()
        assert sorted(m["name"] for m in members) == ["lab-etcd-0", "lab-etcd-1", "lab-etcd-2"]
        assert all(m["client_urls"] for m in members)
        assert c.auth_status() is True
        assert all(e["healthy"] for e in c.endpoint_status())
    finally:
        c.close()


def test_keys_are_private_and_certs_carry_the_member_addresses(lab, creds):
    ip = _inventory_hosts(lab, "etcd")["lab-etcd-1"]
    out = subprocess.run(["podman", "exec", "lab-etcd-1", "stat", "-c", "%n %a %U",
                          "/etc/kamaji/etcd/pki/server.key", "/etc/kamaji/etcd/pki/peer.key",
                          "/etc/kamaji/etcd/pki/root.key", "/etc/kamaji/etcd/pki/ca.key", "/var/lib/etcd"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    for line in filter(None, out):
        assert line.split()[1:] == ["600", "etcd"] or line.endswith("/var/lib/etcd 700 etcd"), line
    text = subprocess.run(["podman", "exec", "lab-etcd-1", "openssl", "x509", "-noout", "-ext", "subjectAltName",
                           "-in", "/etc/kamaji/etcd/pki/peer.crt"], capture_output=True, text=True, check=False)
    if text.returncode != 0:  # no openssl in the node image: read it on this machine
        pem = subprocess.run(["podman", "exec", "lab-etcd-1", "cat", "/etc/kamaji/etcd/pki/peer.crt"],
                             capture_output=True, text=True, check=True).stdout
        text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem,
                              capture_output=True, text=True, check=True)
    assert f"IP Address:{ip}" in text.stdout and "DNS:lab-etcd-1" in text.stdout


def test_second_run_changes_nothing(lab, bundle_dir, creds, tmp_path):
    again = _deploy(lab, bundle_dir, tmp_path)
    assert again.rc == 0, again.stdout[-4000:]
    assert _changed(again) == 0, {h: s["changed"] for h, s in again.stats.items()}


def test_check_mode_on_a_running_cluster_reports_no_change(lab, bundle_dir, creds, tmp_path):
    res = run_playbook(PLAYBOOK, tmp_path, {"etcd_bundle_dir": bundle_dir}, inventory=lab, check=True)
    assert res.rc == 0, res.stdout[-4000:]
    assert _changed(res) == 0


class QuorumWatch(threading.Thread):
    """Writes a key every 0.2 s while a play runs, through whichever member answers: the
    cluster keeps quorum when every write is accepted by some member within 3 s."""

    def __init__(self, creds, inventory):
        super().__init__(daemon=True)
        self.creds, self.inventory = creds, inventory
        self.samples = []
        self.stop = threading.Event()

    def _write(self, n):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                c = client(self.creds, self.inventory, timeout=1.0)
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
        n = 0
        while not self.stop.is_set():
            n += 1
            self.samples.append(self._write(n))
            time.sleep(0.2)


def _started_at(host):
    out = subprocess.run(["podman", "exec", host, "systemctl", "show", "etcd", "-p", "ExecMainStartTimestampMonotonic"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip().split("=", 1)[1])


def test_changed_setting_restarts_one_member_at_a_time(lab, bundle_dir, creds, tmp_path):
    hosts = ("lab-etcd-0", "lab-etcd-1", "lab-etcd-2")
    before = {h: _started_at(h) for h in hosts}
    watch = QuorumWatch(creds, lab)
    watch.start()
    res = _deploy(lab, bundle_dir, tmp_path, etcd_snapshot_count=20000)
    watch.stop.set()
    watch.join(10)
    assert res.rc == 0, res.stdout[-4000:]
    after = {h: _started_at(h) for h in hosts}
    assert all(after[h] > before[h] for h in hosts), "every member restarts for the new setting"
    starts = sorted(after.values())
    # each restart waited for the previous member to be healthy again
    assert all(b - a > 500_000 for a, b in itertools.pairwise(starts)), starts
    assert len(watch.samples) > 10, "too few writes were attempted during the run"
    # quorum never lost: every write during the rolling restart was accepted
    assert all(watch.samples), "%d of %d writes failed" % (watch.samples.count(False), len(watch.samples))
    # back to the defaults for the next tests (again one at a time)
    back = _deploy(lab, bundle_dir, tmp_path)
    assert back.rc == 0, back.stdout[-4000:]


def test_grow_to_five_then_replace_a_failed_member_keeps_data(lab, bundle_dir, creds, tmp_path):
    c = client(creds, lab)
    c.put("/kept/before-growth", "v1")
    c.close()
    try:
        five = lab_up(etcd=5)
        res = _deploy(five, bundle_dir, tmp_path)
        assert res.rc == 0, res.stdout[-5000:]
        c = client(creds, five)
        try:
            members = c.members()
            assert sorted(m["name"] for m in members) == [f"lab-etcd-{i}" for i in range(5)]
            assert all(e["healthy"] for e in c.endpoint_status())
            assert dict(c.export_prefix("/kept/")) == {b"/kept/before-growth": b"v1"}
            old_id = {m["name"]: m["id"] for m in members}["lab-etcd-1"]
        finally:
            c.close()

        # a member's machine dies and comes back empty
        subprocess.run(["podman", "rm", "-f", "-t", "0", "lab-etcd-1"], check=True, capture_output=True)
        lab_up(etcd=5)
        res = _deploy(five, bundle_dir, tmp_path)
        assert res.rc == 0, res.stdout[-5000:]
        c = client(creds, five)
        try:
            members = {m["name"]: m for m in c.members()}
            assert sorted(members) == [f"lab-etcd-{i}" for i in range(5)]
            assert members["lab-etcd-1"]["id"] != old_id
            assert all(e["healthy"] for e in c.endpoint_status())
            assert dict(c.export_prefix("/kept/")) == {b"/kept/before-growth": b"v1"}
        finally:
            c.close()
        again = _deploy(five, bundle_dir, tmp_path)
        assert again.rc == 0 and _changed(again) == 0, again.stdout[-4000:]
    finally:
        # back to three members: remove the extra two from the cluster, then the nodes
        c = client(creds, lab_up(etcd=5))
        try:
            for m in c.members():
                if m["name"] in ("lab-etcd-3", "lab-etcd-4"):
                    c.member_remove(m["id"])
        finally:
            c.close()
        lab_up()


def test_maintenance_snapshot_then_restore_over_ssh(lab, bundle_dir, creds, tmp_path):
    maintenance = os.path.join(REPO, "playbooks", "etcd_maintenance.yml")
    c = client(creds, lab)
    try:
        c.put("/restore/in-snapshot", "1")
    finally:
        c.close()
    snap = run_playbook(maintenance, tmp_path, inventory=lab, args=["--tags", "snapshot"])
    assert snap.rc == 0, snap.stdout[-4000:]
    stored = snap.task("Store the snapshot on the first member", host="lab-etcd-0")["dest"]
    c = client(creds, lab)
    try:
        c.put("/restore/after-snapshot", "2")
    finally:
        c.close()
    local = tmp_path / "snapshot.db"
    subprocess.run(["podman", "cp", f"lab-etcd-0:{stored}", str(local)], check=True)

    res = run_playbook(maintenance, tmp_path, {"etcd_restore_snapshot": str(local)}, inventory=lab,
                       args=["--tags", "restore"])
    assert res.rc == 0, res.stdout[-5000:]
    c = client(creds, lab)
    try:
        assert dict(c.export_prefix("/restore/")) == {b"/restore/in-snapshot": b"1"}
        assert sorted(m["name"] for m in c.members()) == ["lab-etcd-0", "lab-etcd-1", "lab-etcd-2"]
        assert all(e["healthy"] for e in c.endpoint_status())
        assert c.auth_status() is True
    finally:
        c.close()
    kept = subprocess.run(["podman", "exec", "lab-etcd-2", "sh", "-c", "ls -d /var/lib/etcd.before-restore-*"],
                          capture_output=True, text=True, check=False)
    assert kept.returncode == 0, "the old data dir is kept aside"
    again = _deploy(lab, bundle_dir, tmp_path)
    assert again.rc == 0 and _changed(again) == 0, again.stdout[-4000:]
