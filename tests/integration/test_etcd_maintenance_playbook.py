"""kamaji.core.etcd_maintenance on the real etcd fixture, through the etcd role's entry points."""
from __future__ import annotations

import json
import os
import shutil
import sys

from harness.runner import REPO, run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "etcd_maintenance.yml")


def _inventory(etcd_cluster, tmp_path, **extra):
    pki = tmp_path / "pki"
    pki.mkdir(exist_ok=True)
    shutil.copy(etcd_cluster.root["ca_cert"], pki / "ca.crt")
    shutil.copy(etcd_cluster.root["client_cert"], pki / "root.crt")
    shutil.copy(etcd_cluster.root["client_key"], pki / "root.key")
    inventory = tmp_path / "hosts.json"
    inventory.write_text(json.dumps({"etcd": {"hosts": {"member-0": None}, "vars": dict({
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "etcd_pki_dir": str(pki), "etcd_endpoints": etcd_cluster.endpoints,
        "etcd_backup_dir": str(tmp_path / "backups")}, **extra)}}))
    return str(inventory)


def test_health_snapshot_backup_defragment(etcd_cluster, tmp_path):
    assert run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.etcd_tenant": dict(etcd_cluster.connection(), name="backed-up")}]}], tmp_path).rc == 0
    etcd_cluster.etcdctl("put", "/backed-up/key", "value")
    inv = _inventory(etcd_cluster, tmp_path, etcd_defrag_min_free_ratio=0.0)
    res = run_playbook(PLAYBOOK, tmp_path, inventory=inv, args=["--tags", "health,snapshot,tenant_backup,defragment"])
    assert res.rc == 0, res.stdout[-3000:]
    backups = tmp_path / "backups"
    assert len(list(backups.glob("snapshot-*.db"))) == 1
    export = (backups / "tenants" / "backed-up.jsonl").read_text().splitlines()
    assert json.loads(export[0])["prefix"] == "/backed-up/" and len(export) == 2


def test_health_names_the_down_member(etcd_cluster, tmp_path):
    etcd_cluster.stop_member(1)
    try:
        res = run_playbook(PLAYBOOK, tmp_path, inventory=_inventory(etcd_cluster, tmp_path))
        assert res.rc != 0
        assert "etcd-1" in res.task("Every etcd member is healthy and no alarm is raised", host="member-0")["msg"]
    finally:
        etcd_cluster.start_member(1)


def test_snapshots_are_kept_to_their_number_on_the_member_and_in_the_controllers_copy(etcd_cluster, tmp_path):
    """etcd_snapshot_keep: 2 keeps the two newest snapshots of that name on the first member and
    in etcd_snapshot_copy_dir (the copy off the members); another name's snapshots stay."""
    copies = tmp_path / "copies"
    copies.mkdir()
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "before-upgrade-20260101T000000Z.db").write_bytes(b"")
    for old in ("snapshot-20260101T000000Z.db", "snapshot-20260102T000000Z.db"):
        (backups / old).write_bytes(b"")
        (copies / old).write_bytes(b"")
    inv = _inventory(etcd_cluster, tmp_path, etcd_snapshot_keep=2, etcd_snapshot_copy_dir=str(copies))
    for run in (1, 2):
        res = run_playbook(PLAYBOOK, tmp_path, inventory=inv, args=["--tags", "snapshot"])
        assert res.rc == 0, (run, res.stdout[-3000:])
    on_member = sorted(p.name for p in backups.glob("snapshot-*.db"))
    assert len(on_member) == 2 and "snapshot-20260102T000000Z.db" not in on_member, on_member
    assert sorted(p.name for p in copies.glob("snapshot-*.db")) == on_member
    assert all((backups / n).stat().st_size > 0 and (copies / n).read_bytes() == (backups / n).read_bytes()
               for n in on_member)
    assert (backups / "before-upgrade-20260101T000000Z.db").exists()
