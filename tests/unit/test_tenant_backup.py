"""One tenant's archive (module_utils.tenant.backup): the key's rules, the sealed member, the
write order of the keys, the archive read back and checked, retention."""
from __future__ import annotations

import base64
import datetime
import json
import os
import tarfile

import pytest

from ansible_collections.kamaji.core.plugins.filter.backup_key_error import backup_key_error
from ansible_collections.kamaji.core.plugins.module_utils.tenant import backup

KEY = bytes(range(32))
MANIFEST = {"tenant": "acme", "created": "2026-12-06T03:15:00Z"}


@pytest.mark.parametrize(("value", "message"), [
    ("", "k: the backup key is required"),
    (None, "k: the backup key is required"),
    ("not base64!", "k: not base64"),
    (base64.b64encode(b"x" * 16).decode(), "k: the backup key is 16 bytes, it must be 32"),
])
def test_a_key_of_another_size_or_not_base64_is_refused_naming_the_variable(value, message):
    with pytest.raises(backup.BackupError, match="^" + message):
        backup.check_key(value, "k")
    assert backup_key_error(value, "k").startswith(message)
    assert backup.check_key(" " + base64.b64encode(KEY).decode() + "\n", "k") == KEY
    assert backup_key_error(base64.b64encode(KEY).decode(), "k") == ""


def test_the_sealed_member_opens_with_its_key_only_and_for_its_tenant_and_time():
    blob = backup.seal(KEY, b"the tenant's keys", MANIFEST)
    assert b"the tenant's keys" not in blob
    assert backup.unseal(KEY, blob, MANIFEST, "f") == b"the tenant's keys"
    for key, manifest in ((bytes(32), MANIFEST), (KEY, dict(MANIFEST, tenant="globex")),
                          (KEY, dict(MANIFEST, created="2026-12-07T00:00:00Z"))):
        with pytest.raises(backup.BackupError, match="^f: the archive's Secrets cannot be opened with this key"):
            backup.unseal(key, blob, manifest, "f")


def test_keys_are_kept_in_the_order_etcd_wrote_them_relative_to_the_prefix():
    data, count, size = backup.etcd_member("/acme/", [(b"/acme/b", b"2", 7), (b"/acme/a", b"1", 9), (b"/acme/c", b"", 3)])
    assert (count, size) == (3, len(b"/acme/b2/acme/a1/acme/c"))
    assert backup.etcd_items(data, "x") == [(b"c", b""), (b"b", b"2"), (b"a", b"1")]
    with pytest.raises(backup.BackupError, match="^x: etcd.jsonl line 2 is damaged"):
        backup.etcd_items(data.replace(b'"k": "Yg=="', b'"k": 1'), "x")


def test_an_archive_is_read_back_and_an_altered_one_refused(tmp_path):
    path = str(tmp_path / backup.archive_name("acme", datetime.datetime(2026, 12, 6, 3, 15)))
    assert path.endswith("/acme-20261206T031500Z.tenant-backup.tar")
    members = {backup.ETCD: b"", backup.SPEC: b"{}", backup.SECRETS: b"sealed"}
    digest = backup.write_archive(path, dict(MANIFEST, prefix="/acme/"), members)
    assert len(digest) == 64 and oct(os.stat(path).st_mode & 0o777) == "0o600"
    manifest, back = backup.read_archive(path)
    assert manifest["format"] == backup.FORMAT and manifest["tenant"] == "acme"
    assert {n: back[n] for n in backup.MEMBERS} == members
    # the same member with other bytes: refused, naming it
    altered = str(tmp_path / "altered.tar")
    with tarfile.open(path) as src, tarfile.open(altered, "w") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read()
            if info.name == backup.SECRETS:
                data = b"SEALED"
            dst.addfile(info, __import__("io").BytesIO(data))
    with pytest.raises(backup.BackupError, match="member secrets.sealed is missing or does not match"):
        backup.read_archive(altered)
    (tmp_path / "other.tar").write_text("not a tar")
    with pytest.raises(backup.BackupError, match="not a readable tenant backup"):
        backup.read_archive(str(tmp_path / "other.tar"))
    with tarfile.open(str(tmp_path / "foreign.tar"), "w") as tar:
        info = tarfile.TarInfo(backup.MANIFEST)
        data = json.dumps({"format": "something/else"}).encode()
        info.size = len(data)
        tar.addfile(info, __import__("io").BytesIO(data))
    with pytest.raises(backup.BackupError, match="not a kamaji.core tenant backup \\(format 'something/else'\\)"):
        backup.read_archive(str(tmp_path / "foreign.tar"))


def test_retention_keeps_the_newest_of_the_tenant_only(tmp_path):
    names = ["acme-20260101T000000Z.tenant-backup.tar", "acme-20260103T000000Z.tenant-backup.tar",
             "acme-20260102T000000Z.tenant-backup.tar", "acme-prod-20250101T000000Z.tenant-backup.tar", "notes.txt"]
    assert backup.expired(names, "acme", 1) == names[:1] + names[2:3]
    assert backup.expired(names, "acme", 0) == []
    assert backup.expired(names, "acme-prod", 1) == []
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert backup.archive_path(str(tmp_path), "acme").endswith(names[1])
    with pytest.raises(backup.BackupError, match="holds no archive of tenant globex"):
        backup.archive_path(str(tmp_path), "globex")


def test_objects_keep_what_a_restore_applies_the_namespace_first():
    kept = backup.kept_objects([
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"a": "Yg=="},
         "metadata": {"name": "s", "namespace": "tenant-acme", "uid": "u", "resourceVersion": "1", "labels": {"x": "y"}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-acme", "uid": "v"},
         "status": {"phase": "Active"}, "spec": {"finalizers": ["kubernetes"]}}])
    assert kept == [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant-acme"}},
                    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"a": "Yg=="},
                     "metadata": {"name": "s", "namespace": "tenant-acme", "labels": {"x": "y"}}}]
