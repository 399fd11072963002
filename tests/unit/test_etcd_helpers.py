"""Pure helpers of the etcd client layer."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd
from ansible_collections.kamaji.core.plugins.module_utils.etcd.ops import tenant_names


@pytest.mark.parametrize("prefix, end", [("/acme/", b"/acme0"), ("/a", b"/b"), ("a\xff".encode("latin-1"), b"b"),
                                         (b"\xff\xff", b"\0")])
def test_prefix_range_end(prefix, end):
    assert etcd.prefix_range_end(prefix) == end


def test_tenant_prefix_never_covers_a_longer_name():
    start, end = b"/acme/", etcd.prefix_range_end("/acme/")
    assert not (start <= b"/acme2/x" < end)
    assert start <= b"/acme/pods/default/x" < end


@pytest.mark.parametrize("prefix", ["/", "acme/", "/acme", ""])
def test_invalid_prefix(prefix):
    with pytest.raises(etcd.EtcdError, match="^prefix:"):
        etcd.validate_prefix(prefix)


def test_tenant_names_defaults_and_reserved():
    assert tenant_names("acme") == ("/acme/", "acme", "acme")
    with pytest.raises(etcd.EtcdError, match="^name: 'root' is reserved"):
        tenant_names("root")
    with pytest.raises(etcd.EtcdError, match="^user:"):
        tenant_names("acme", user="Bad User")


def test_wire_roundtrip():
    payload = etcd._field_bytes(1, "alice") + etcd._field_bytes(3, etcd._varint(8) + etcd._varint(1))
    fields = etcd._parse_fields(payload)
    assert fields[1] == [b"alice"]
    assert etcd._parse_fields(fields[3][0]) == {1: [1]}
    big = etcd._varint(300)
    assert etcd._read_varint(big, 0) == (300, 2)


def test_normalize_permission():
    assert etcd.normalize_permission({"key": "/x/", "prefix": True}) == {
        "key": "/x/", "type": "readwrite", "prefix": True, "range_end": "/x0"}
    with pytest.raises(etcd.EtcdError, match="type 'all'"):
        etcd.normalize_permission({"key": "/x", "type": "all"})


class _FakeRpcError(Exception):
    def __init__(self, details):
        super().__init__(details)
        self._details = details

    def details(self):
        return self._details

    def code(self):
        return None


@pytest.mark.parametrize("details, transient", [
    ("etcdserver: revision of auth store is old", True),
    ("etcdserver: request timed out", True),
    ("etcdserver: leader changed", True),
    ("etcdserver: permission denied", False),
    ("etcdserver: user name not found", False),
])
def test_transient_errors_are_retried(details, transient):
    assert etcd._transient(_FakeRpcError(details)) is transient
