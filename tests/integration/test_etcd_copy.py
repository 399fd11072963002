"""The copy step of moving a tenant to another etcd cluster: ``etcd_prefix state=copied`` on two
real 3-member TLS clusters (the session's and one of this module's, with its own CA). Check
mode writes nothing; the copy makes the target's prefix hold exactly the source's keys and
values (keys only the target held are deleted), read back and compared; a re-run changes
nothing; the source is never written. An unreachable target or source fails naming it, with
nothing written anywhere; a write that reaches the target during the copy makes it fail,
naming the key (the verify step)."""
from __future__ import annotations

import base64
import json
import time

import pytest
from harness.etcd_cluster import EtcdCluster
from harness.runner import run_playbook

PREFIX = "/mover/"


@pytest.fixture(scope="module")
def other_cluster(tmp_path_factory):
    cluster = EtcdCluster(str(tmp_path_factory.mktemp("etcd-other"))).start()
    yield cluster
    cluster.stop()


def _kvs(cluster, prefix):
    out = json.loads(cluster.etcdctl("get", prefix, "--prefix", "-w", "json").stdout)
    return {base64.b64decode(kv["key"]).decode(): (base64.b64decode(kv.get("value", "")), kv["mod_revision"])
            for kv in out.get("kvs", [])}


def _copy(source, target, tmp_path, check=False, **extra):
    args = dict(target.connection(), state="copied", prefix=PREFIX, source=source.connection(), **extra)
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "copy", "kamaji.core.etcd_prefix": args, "register": "r"}]}]
    return run_playbook(play, tmp_path, check=check)


def test_a_prefix_is_copied_to_another_cluster_verified_and_the_source_untouched(etcd_cluster, other_cluster,
                                                                                 tmp_path):
    for i in range(200):
        etcd_cluster.etcdctl("put", f"{PREFIX}k{i:03d}", f"value-{i}-" + "x" * 200)
    etcd_cluster.etcdctl("put", f"{PREFIX}k007", "rewritten last")  # the newest write of the source
    other_cluster.etcdctl("put", f"{PREFIX}stale", "only on the target")
    source_before = _kvs(etcd_cluster, PREFIX)

    checked = _copy(etcd_cluster, other_cluster, tmp_path, check=True)
    assert checked.rc == 0, checked.failed_tasks()
    c = checked.task("copy")
    assert c["changed"] and c["keys"] == 200 and c["written"] == 200 and c["deleted"] == 1
    assert set(_kvs(other_cluster, PREFIX)) == {f"{PREFIX}stale"}

    start = time.monotonic()
    copied = _copy(etcd_cluster, other_cluster, tmp_path)
    seconds = time.monotonic() - start
    assert copied.rc == 0, copied.failed_tasks()
    r = copied.task("copy")
    assert r["changed"] and r["verified"] is True and r["written"] == 200 and r["deleted"] == 1, r
    target = _kvs(other_cluster, PREFIX)
    assert {k: v for k, (v, _rev) in target.items()} == {k: v for k, (v, _rev) in source_before.items()}
    # written in the order the source last wrote them: k007 last
    assert max(target, key=lambda k: target[k][1]) == f"{PREFIX}k007"
    assert _kvs(etcd_cluster, PREFIX) == source_before  # values and mod_revisions: never written
    print(f"200 keys of 200 bytes copied between two 3-member clusters and verified in {seconds:.1f} s "
          "(the whole ansible-playbook run)")

    again = _copy(etcd_cluster, other_cluster, tmp_path)
    assert again.rc == 0 and again.task("copy")["changed"] is False and again.task("copy")["verified"] is True


def test_into_another_prefix_of_the_same_cluster(etcd_cluster, tmp_path):
    etcd_cluster.etcdctl("put", f"{PREFIX}same", "one")
    res = _copy(etcd_cluster, etcd_cluster, tmp_path, target_prefix="/mover-2/")
    assert res.rc == 0, res.failed_tasks()
    assert res.task("copy")["target_prefix"] == "/mover-2/"
    assert _kvs(etcd_cluster, "/mover-2/")["/mover-2/same"][0] == b"one"


def test_an_unreachable_target_or_source_fails_naming_it_and_writes_nothing(etcd_cluster, other_cluster, tmp_path):
    etcd_cluster.etcdctl("put", f"{PREFIX}new-key", "not copied")
    before = _kvs(other_cluster, PREFIX)
    down = dict(other_cluster.connection(), endpoints=["https://127.0.0.1:9"], timeout=2)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "copy", "kamaji.core.etcd_prefix": dict(
        down, state="copied", prefix=PREFIX, source=etcd_cluster.connection())}]}]
    res = run_playbook(play, tmp_path)
    assert res.rc != 0
    assert res.task("copy")["msg"].startswith("no etcd endpoint answered: https://127.0.0.1:9: "), res.task("copy")
    assert _kvs(other_cluster, PREFIX) == before
    res = _copy(dict_cluster(etcd_cluster, ["https://127.0.0.1:9"]), other_cluster, tmp_path)
    assert res.rc != 0 and "https://127.0.0.1:9" in res.task("copy")["msg"]
    assert _kvs(other_cluster, PREFIX) == before


def test_a_key_written_on_the_target_meanwhile_fails_the_verify_naming_it(etcd_cluster, other_cluster, tmp_path):
    """A writer on the target's prefix (what the freeze before a move rules out on the source)
    is found by the read-back: the copy fails naming the key, and says the source is unchanged."""
    from ansible_collections.kamaji.core.plugins.module_utils.etcd import dump
    from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import Client
    from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError

    source = Client(**etcd_cluster.connection())
    target = Client(**other_cluster.connection())
    real_apply = dump.apply_changes

    def apply_then_intrude(client, to_put, extra):
        real_apply(client, to_put, extra)
        client.put(f"{PREFIX}intruder", "written meanwhile")

    etcd_cluster.etcdctl("put", f"{PREFIX}k000", "changed again")
    dump.apply_changes = apply_then_intrude
    try:
        with pytest.raises(EtcdError) as err:
            dump.copy_prefix(source, target, PREFIX)
    finally:
        dump.apply_changes = real_apply
        source.close()
        target.close()
    assert str(err.value).startswith(f"the copy of {PREFIX} into {PREFIX} differs from its source: 0 keys missing, "
                                     f"0 differing, 1 extra (intruder)"), err.value
    assert str(err.value).endswith("the source is unchanged")


def dict_cluster(cluster, endpoints):
    """``cluster`` as a source reached at other endpoints (its own credentials)."""
    class Reached:
        @staticmethod
        def connection():
            return dict(cluster.connection(), endpoints=endpoints)

    return Reached()


def test_values_near_etcds_request_limit_are_read_and_written_in_pieces_it_accepts(
        etcd_cluster, other_cluster, tmp_path):
    """Tenants keep large objects (Helm keeps every release in a Secret of up to about 1 MiB):
    eight keys of 700 KiB are more than one gRPC response holds by default (4 MiB) and more
    than one etcd request may carry (1.5 MiB by default): the copy reads and writes them in
    pieces both accept."""
    from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import Client
    prefix, size = "/bulky/", 700 * 1024
    source = Client(**etcd_cluster.connection())
    try:
        for i in range(8):
            source.put(f"{prefix}release-{i}", bytes([65 + i]) * size)
    finally:
        source.close()
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "copy", "kamaji.core.etcd_prefix": dict(
        other_cluster.connection(), state="copied", prefix=prefix, source=etcd_cluster.connection())}]}]
    res = run_playbook(play, tmp_path)
    assert res.rc == 0, res.failed_tasks()
    r = res.task("copy")
    assert r["verified"] is True and r["written"] == 8, r
    target = _kvs(other_cluster, prefix)
    assert {k: len(v) for k, (v, _rev) in target.items()} == {f"{prefix}release-{i}": size for i in range(8)}
    assert target[f"{prefix}release-7"][0] == b"H" * size
