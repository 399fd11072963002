"""kamaji.core.tenant_backup against the real 3-member TLS etcd fixture: one tenant's archive,
its retention, and the tenant's keys restored from it; bad input refused before any change."""
from __future__ import annotations

import base64
import json
import os
import tarfile
import time

import pytest
from harness.runner import run_playbook

KEY = base64.b64encode(b"k" * 32).decode()
OTHER_KEY = base64.b64encode(b"o" * 32).decode()
LABELS = {"kamaji.core/tenant": "bk"}
# the tenant's Namespace and Secrets as the admin cluster returns them (server-filled fields too)
OBJECTS = [
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "kamaji-pki", "namespace": "tenant-bk", "labels": LABELS, "uid": "u-1",
                  "resourceVersion": "12", "managedFields": [{"manager": "x"}]},
     "data": {"ca.crt": base64.b64encode(b"the tenant CA").decode(),
              "encryption-config.yaml": base64.b64encode(b"the tenant's keys").decode()}},
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "kamaji-admin-kubeconfig", "namespace": "tenant-bk", "labels": LABELS},
     "data": {"admin.conf": base64.b64encode(b"an admin kubeconfig").decode()}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-bk", "labels": LABELS, "uid": "u-2"},
     "status": {"phase": "Active"}},
]
# what the archive keeps and a restore applies: the Namespace first
KEPT = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-bk", "labels": LABELS}},
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "kamaji-admin-kubeconfig", "namespace": "tenant-bk", "labels": LABELS},
     "data": OBJECTS[1]["data"]},
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "kamaji-pki", "namespace": "tenant-bk", "labels": LABELS}, "data": OBJECTS[0]["data"]},
]


def play(etcd_cluster, args, check=False):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.tenant_backup": dict(etcd_cluster.connection(), **args), "register": "r",
         "no_log": False}]}]


def run(etcd_cluster, tmp_path, args, check=False):
    return run_playbook(play(etcd_cluster, args), tmp_path, check=check)


def _kvs(etcd_cluster, prefix):
    out = json.loads(etcd_cluster.etcdctl("get", prefix, "--prefix", "-w", "json").stdout)
    return {base64.b64decode(kv["key"]): base64.b64decode(kv["value"]) for kv in out.get("kvs", [])}


@pytest.fixture
def tenant(etcd_cluster):
    """Tenant bk's keys, written in an order that is not the keys' order, and a neighbour's."""
    for key, value in (("/bk/z-first", "1"), ("/bk/a-second", "2"), ("/bk/m-third", "3"),
                       ("/bk/secrets/default/s", "k8s:enc:secretbox:v1:key-1:sealed"), ("/bk2/other", "x")):
        etcd_cluster.etcdctl("put", key, value)
    yield "bk"
    etcd_cluster.etcdctl("del", "/bk/", "--prefix")
    etcd_cluster.etcdctl("del", "/bk2/", "--prefix")


def test_one_tenant_is_archived_then_restored_after_its_keys_are_gone(etcd_cluster, tenant, tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    args = {"name": tenant, "backup_key": KEY, "objects": OBJECTS, "spec": {"replicas": 2}, "dir": str(backups)}
    preview = run(etcd_cluster, tmp_path, args, check=True)
    assert preview.rc == 0 and preview.task("t")["changed"] is True, preview.stdout[-2000:]
    assert os.listdir(backups) == []
    made = run(etcd_cluster, tmp_path, args)
    assert made.rc == 0, made.stdout[-2000:]
    res = made.task("t")
    assert res["keys"] == 4 and os.path.basename(res["path"]).startswith("bk-"), res
    assert oct(os.stat(res["path"]).st_mode & 0o777) == "0o600"
    with tarfile.open(res["path"]) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert sorted(members) == ["etcd.jsonl", "manifest.json", "secrets.sealed", "spec.json"]
    lines = [json.loads(line) for line in members["etcd.jsonl"].decode().splitlines()]
    # the order etcd wrote them in, relative to the prefix; the neighbour's key is not there
    assert [base64.b64decode(d["k"]) for d in lines] == [b"z-first", b"a-second", b"m-third", b"secrets/default/s"]
    # nothing of the Secrets reads in the clear without the key
    for secret in (b"the tenant CA", b"dGhlIHRlbmFudCBDQQ==", b"an admin kubeconfig"):
        assert all(secret not in data for data in members.values())
    assert json.loads(members["manifest.json"])["tenant"] == "bk"
    # the keys are gone (a deleted tenant); the restore brings them back, in order, and its Secrets
    before = _kvs(etcd_cluster, "/bk/")
    etcd_cluster.etcdctl("del", "/bk/", "--prefix")
    # the directory: its newest archive of the tenant
    restore = {"state": "restored", "name": tenant, "backup_key": KEY, "path": str(backups)}
    wrong = run(etcd_cluster, tmp_path, dict(restore, backup_key=OTHER_KEY))
    assert wrong.rc != 0
    assert wrong.task("t")["msg"] == ("backup_key: the archive's Secrets cannot be opened with this key: it is not "
                                      "the backup key the archive was made with")
    assert _kvs(etcd_cluster, "/bk/") == {}
    back = run(etcd_cluster, tmp_path, restore)
    assert back.rc == 0, back.stdout[-2000:]
    out = back.task("t")
    assert out["changed"] is True and out["written"] == 4 and out["objects"] == KEPT
    assert out["spec"] == {"replicas": 2}
    assert _kvs(etcd_cluster, "/bk/") == before
    revisions = {base64.b64decode(kv["key"]): kv["mod_revision"] for kv in json.loads(etcd_cluster.etcdctl(
        "get", "/bk/", "--prefix", "-w", "json").stdout)["kvs"]}
    assert revisions[b"/bk/z-first"] <= revisions[b"/bk/a-second"] <= revisions[b"/bk/m-third"]
    # a live tenant is not restored over without the guard; with it, the archive's keys alone
    etcd_cluster.etcdctl("put", "/bk/written-since", "x")
    refused = run(etcd_cluster, tmp_path, restore)
    assert refused.rc != 0
    assert refused.task("t")["msg"].startswith("overwrite: etcd holds 5 keys under /bk/ (a live tenant"), refused.task("t")
    assert b"/bk/written-since" in _kvs(etcd_cluster, "/bk/")
    forced = run(etcd_cluster, tmp_path, dict(restore, overwrite=True))
    assert forced.rc == 0 and forced.task("t")["deleted"] == 1 and forced.task("t")["written"] == 0
    assert _kvs(etcd_cluster, "/bk/") == before
    assert _kvs(etcd_cluster, "/bk2/") == {b"/bk2/other": b"x"}


def test_only_the_newest_archives_of_the_tenant_are_kept(etcd_cluster, tenant, tmp_path):
    backups = tmp_path / "kept"
    backups.mkdir()
    # older archives of bk and one of another tenant whose name starts the same
    for name in ("bk-20260101T000000Z", "bk-20260102T000000Z", "bk-20260103T000000Z", "bk2-20260101T000000Z"):
        (backups / f"{name}.tenant-backup.tar").write_bytes(b"")
    res = run(etcd_cluster, tmp_path, {"name": tenant, "backup_key": KEY, "objects": OBJECTS, "dir": str(backups),
                                       "keep": 2})
    assert res.rc == 0, res.stdout[-2000:]
    assert res.task("t")["removed"] == ["bk-20260101T000000Z.tenant-backup.tar", "bk-20260102T000000Z.tenant-backup.tar"]
    assert sorted(os.listdir(backups)) == ["bk-20260103T000000Z.tenant-backup.tar", os.path.basename(
        res.task("t")["path"]), "bk2-20260101T000000Z.tenant-backup.tar"]


@pytest.mark.parametrize(("args", "message"), [
    ({"backup_key": base64.b64encode(b"short").decode()},
     "backup_key: the backup key is 5 bytes, it must be 32 (make one with: head -c 32 /dev/urandom | base64)"),
    ({"backup_key": "not base64!"}, "backup_key: not base64 (make one with: head -c 32 /dev/urandom | base64)"),
    ({"dir": "/nonexistent/backups"}, "dir: '/nonexistent/backups' is not a directory on "),
    ({"objects": [OBJECTS[2]]}, "objects: the tenant's Secrets are required"),
    ({"name": "Bad_Name"}, "name: 'Bad_Name' is not a valid name"),
    ({"state": "restored", "path": "/nonexistent/acme.tenant-backup.tar"},
     "/nonexistent/acme.tenant-backup.tar: not a readable tenant backup"),
    ({"state": "restored", "path": "/"}, "path: / holds no archive of tenant bk"),
])
def test_bad_input_is_refused_naming_the_field(etcd_cluster, tenant, tmp_path, args, message):
    before = _kvs(etcd_cluster, "/bk/")
    res = run(etcd_cluster, tmp_path, {"name": tenant, "backup_key": KEY, "objects": OBJECTS, "dir": str(tmp_path),
                                       **args})
    assert res.rc != 0
    assert res.task("t")["msg"].startswith(message), res.task("t")["msg"]
    assert _kvs(etcd_cluster, "/bk/") == before
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tenant-backup.tar")]


def test_a_tenant_of_a_thousand_objects_is_archived_and_restored_in_seconds(etcd_cluster, tenant, tmp_path):
    """1,000 keys of about 1 KB (a tenant's objects, as its API server stores them): the archive and
    the restore each take seconds (the runs' wall time, Ansible's start included, printed for
    docs/tenant-lifecycle.md; bounded here)."""
    dump = tmp_path / "thousand.jsonl"
    lines = [json.dumps({"format": "kamaji.core/etcd-prefix/1", "prefix": "/bk/", "revision": 1})]
    lines += [json.dumps({"k": base64.b64encode(f"configmaps/default/cm-{i:04d}".encode()).decode(),
                          "v": base64.b64encode(b"v" * 1000).decode()}) for i in range(1000)]
    dump.write_text("\n".join(lines) + "\n")
    loaded = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "t", "kamaji.core.etcd_prefix": dict(
        etcd_cluster.connection(), state="imported", path=str(dump))}]}], tmp_path)
    assert loaded.rc == 0 and len(_kvs(etcd_cluster, "/bk/")) == 1004, loaded.stdout[-2000:]
    backups = tmp_path / "big"
    backups.mkdir()
    start = time.monotonic()
    made = run(etcd_cluster, tmp_path, {"name": "bk", "backup_key": KEY, "objects": OBJECTS, "dir": str(backups)})
    archive = time.monotonic() - start
    assert made.rc == 0 and made.task("t")["keys"] == 1004, made.stdout[-2000:]
    etcd_cluster.etcdctl("del", "/bk/", "--prefix")
    start = time.monotonic()
    back = run(etcd_cluster, tmp_path, {"state": "restored", "name": "bk", "backup_key": KEY, "path": str(backups)})
    restore = time.monotonic() - start
    assert back.rc == 0 and back.task("t")["written"] == 1004, back.stdout[-2000:]
    print(f"a tenant of 1,000 keys of 1 KB: archive {archive:.1f} s, restore {restore:.1f} s (ansible-playbook runs; "
          f"the archive {os.path.getsize(made.task('t')['path']) // 1024} KiB)")
    assert archive < 60 and restore < 60, (archive, restore)
