"""read_files: several files of a node in one call (the roles' certificate reads)."""
from __future__ import annotations

from harness.runner import run_playbook


def one_task(args):
    return [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "t", "kamaji.core.read_files": args, "register": "out", "no_log": False}]}]


def test_reads_every_named_file_and_leaves_out_missing_ones_when_told(tmp_path):
    (tmp_path / "ca.crt").write_text("CERT\n")
    (tmp_path / "ca.key").write_text("KEY\n")
    res = run_playbook(one_task({"dir": str(tmp_path), "names": ["ca.crt", "ca.key", "peer.crt"], "missing_ok": True}),
                       tmp_path, check=True)
    assert res.rc == 0, res.failed_tasks()
    assert res.task("t")["files"] == {"ca.crt": "CERT\n", "ca.key": "KEY\n"}
    assert res.task("t")["changed"] is False


def test_a_missing_file_fails_naming_it(tmp_path):
    res = run_playbook(one_task({"dir": str(tmp_path), "names": ["root.crt"]}), tmp_path)
    assert res.rc != 0
    assert res.task("t")["msg"] == f"{tmp_path}/root.crt: no such file on this node"
