"""etcd_member against the real 3-member TLS etcd fixture: add, re-run, replace, remove."""
from __future__ import annotations

from harness.procs import free_port
from harness.runner import run_playbook


def play(etcd_cluster, **args):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.etcd_member": dict(etcd_cluster.connection(), **args), "register": "r"}]}]


def member_lines(etcd_cluster):
    return etcd_cluster.etcdctl("member", "list").stdout.strip().splitlines()


def test_add_replace_and_remove_a_member(etcd_cluster, tmp_path):
    url = f"https://127.0.0.1:{free_port()}"
    add = play(etcd_cluster, name="extra", peer_urls=[url])
    try:
        checked = run_playbook(add, tmp_path, check=True, diff=True)
        assert checked.rc == 0 and checked.task("t")["changed"] is True, checked.stdout[-3000:]
        assert checked.task("t")["actions"] == ["add"]
        assert len(member_lines(etcd_cluster)) == 3, "check mode added nothing"

        real = run_playbook(add, tmp_path)
        assert real.rc == 0 and real.task("t")["changed"] is True, real.stdout[-3000:]
        result = real.task("t")
        lines = member_lines(etcd_cluster)
        assert len(lines) == 4 and any(url in line and "unstarted" in line for line in lines), lines
        parts = result["initial_cluster"].split(",")
        assert f"extra={url}" in parts and len(parts) == 4

        again = run_playbook(add, tmp_path)
        assert again.rc == 0 and again.task("t")["changed"] is False, again.stdout[-3000:]
        assert again.task("t")["member_id"] == result["member_id"]

        # replace keeps a member that never started and has the same URL (it is waiting for its machine)
        kept = run_playbook(play(etcd_cluster, name="extra", peer_urls=[url], replace=True), tmp_path)
        assert kept.rc == 0 and kept.task("t")["changed"] is False, kept.stdout[-3000:]
    finally:
        gone = run_playbook(play(etcd_cluster, name="extra", peer_urls=[url], state="absent"), tmp_path, diff=True)
    assert gone.rc == 0 and gone.task("t")["actions"] == ["remove"], gone.stdout[-3000:]
    assert len(member_lines(etcd_cluster)) == 3
    again = run_playbook(play(etcd_cluster, name="extra", peer_urls=[url], state="absent"), tmp_path)
    assert again.rc == 0 and again.task("t")["changed"] is False


def test_replacing_a_started_member_of_the_same_name_is_refused_without_replace(etcd_cluster, tmp_path):
    name = member_lines(etcd_cluster)[0].split(", ")[2]
    res = run_playbook(play(etcd_cluster, name=name, peer_urls=[f"https://127.0.0.1:{free_port()}"]), tmp_path)
    assert res.rc != 0
    msg = res.task("t")["msg"]
    assert f"member {name} already exists" in msg and "replace: true" in msg
    assert len(member_lines(etcd_cluster)) == 3
