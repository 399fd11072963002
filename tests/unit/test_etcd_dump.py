"""The pure parts of etcd/dump.py that backups and moves share: the write order of a prefix's
keys and the digest two clusters' copies are compared by."""
from __future__ import annotations

from ansible_collections.kamaji.core.plugins.module_utils.etcd import dump


def test_keys_come_relative_to_the_prefix_in_the_order_etcd_last_wrote_them():
    rows = [(b"/acme/b", b"2", 9), (b"/acme/a", b"1", 12), (b"/acme/c", b"3", 9)]
    assert dump.in_write_order("/acme/", rows) == [(b"b", b"2", 9), (b"c", b"3", 9), (b"a", b"1", 12)]


def test_the_digest_is_the_same_for_the_same_keys_in_any_order_and_frames_each_part():
    a = [(b"k1", b"v1"), (b"k2", b"v2")]
    assert dump.prefix_digest(a) == dump.prefix_digest(list(reversed(a)))
    assert dump.prefix_digest(a) != dump.prefix_digest([(b"k1", b"v1"), (b"k2", b"v3")])
    # a key and value that run together differently are not the same pair
    assert dump.prefix_digest([(b"ab", b"c")]) != dump.prefix_digest([(b"a", b"bc")])
    assert dump.prefix_digest([]) == dump.prefix_digest(())


def test_writes_go_in_order_in_transactions_etcd_accepts_by_count_and_by_bytes():
    from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd_client

    sent: list[list[tuple[bytes, int]]] = []
    fake = etcd_client.Client.__new__(etcd_client.Client)
    fake._channel = type("Ch", (), {"kv": type("Kv", (), {"Txn": None})()})()
    fake.call = lambda _what, _fn, req: sent.append([(op.request_put.key, len(op.request_put.value))
                                                     for op in req.success])
    big = etcd_client.TXN_BYTES // 2
    items = [(b"/t/small-%03d" % i, b"v") for i in range(70)] + [(b"/t/half-1", b"x" * big),
                                                                 (b"/t/half-2", b"x" * big),
                                                                 (b"/t/huge", b"x" * (2 * big + 1)),
                                                                 (b"/t/last", b"v")]
    fake.put_many(items)
    assert [len(t) for t in sent] == [64, 7, 1, 1, 1]
    assert [k for t in sent for k, _n in t] == [k for k, _v in items]  # the order kept
    assert all(sum(len(k) + n for k, n in t) <= etcd_client.TXN_BYTES for t in sent if len(t) > 1)
