"""Pure helpers of the etcd wing: names and key ranges, wire encoding, error reports."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.etcd import names, report, wire
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError
from ansible_collections.kamaji.core.plugins.module_utils.tenant import names as tenant_names_rule


@pytest.mark.parametrize("prefix, end", [("/acme/", b"/acme0"), ("/a", b"/b"), ("a\xff".encode("latin-1"), b"b"),
                                         (b"\xff\xff", b"\0")])
def test_prefix_range_end(prefix, end):
    assert names.prefix_range_end(prefix) == end


def test_tenant_prefix_never_covers_a_longer_name():
    start, end = b"/acme/", names.prefix_range_end("/acme/")
    assert not (start <= b"/acme2/x" < end)
    assert start <= b"/acme/pods/default/x" < end


@pytest.mark.parametrize("prefix", ["/", "acme/", "/acme", "", None])
def test_invalid_prefix(prefix):
    with pytest.raises(EtcdError, match="^prefix:"):
        names.validate_prefix(prefix)


@pytest.mark.parametrize("name", ["acme", "a", "a-1", "x" * 63])
def test_valid_names(name):
    assert names.validate_name(name) == name


@pytest.mark.parametrize("name", ["", "Acme", "-a", "a-", "a_b", "x" * 64, None, 3])
def test_invalid_names_name_the_field(name):
    with pytest.raises(EtcdError, match="^role: .* is not a valid name"):
        names.validate_name(name, "role")


def test_tenant_names_defaults_and_reserved():
    assert names.tenant_names("acme") == ("/acme/", "acme", "acme")
    with pytest.raises(EtcdError, match="^name: 'root' is reserved"):
        names.tenant_names("root")
    with pytest.raises(EtcdError, match="^user:"):
        names.tenant_names("acme", user="Bad User")
    with pytest.raises(EtcdError, match="^role: 'root' is reserved"):
        names.tenant_names("acme", role="root")
    assert names.tenant_names("acme", "/other/", "u", "r") == ("/other/", "u", "r")


def test_tenant_prefix_comes_from_the_tenant_rule(monkeypatch):
    """The etcd wing never derives '/<name>/' itself."""
    monkeypatch.setattr(tenant_names_rule, "etcd_prefix", lambda name: "/from-tenant-rule-%s/" % name)
    assert names.tenant_names("acme")[0] == "/from-tenant-rule-acme/"


def test_wire_roundtrip():
    payload = wire.field_bytes(1, "alice") + wire.field_bytes(3, wire.field_varint(1, 1))
    fields = wire.parse_fields(payload)
    assert fields[1] == [b"alice"]
    assert wire.parse_fields(wire.first_bytes(fields, 3)) == {1: [1]}
    assert wire.first_int(fields, 9, default=7) == 7 and wire.first_bytes(fields, 9) == b""


@pytest.mark.parametrize("n, encoded", [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"),
                                        (300, b"\xac\x02"), (2 ** 63, b"\x80" * 9 + b"\x01")])
def test_varint(n, encoded):
    assert wire.varint(n) == encoded
    assert wire.read_varint(encoded, 0) == (n, len(encoded))


def test_wire_fixed_fields_and_errors():
    # field 2 fixed64, field 3 fixed32, field 4 varint
    data = wire.varint((2 << 3) | 1) + b"12345678" + wire.varint((3 << 3) | 5) + b"abcd" + wire.field_varint(4, 5)
    assert wire.parse_fields(data) == {2: [b"12345678"], 3: [b"abcd"], 4: [5]}
    with pytest.raises(EtcdError, match="wire type 3"):
        wire.parse_fields(wire.varint((1 << 3) | 3))
    with pytest.raises(EtcdError, match="truncated"):
        wire.read_varint(b"\x80", 0)
    with pytest.raises(ValueError):
        wire.varint(-1)


def test_normalize_permission():
    assert names.normalize_permission({"key": "/x/", "prefix": True}) == {
        "key": "/x/", "type": "readwrite", "prefix": True, "range_end": "/x0"}
    with pytest.raises(EtcdError, match="type 'all'"):
        names.normalize_permission({"key": "/x", "type": "all"})
    with pytest.raises(EtcdError, match="^permissions: every permission needs a key"):
        names.normalize_permission({"type": "read"})


def test_a_tenants_permission_and_quota_name_their_field():
    assert names.check_permission("read") == "read"
    with pytest.raises(EtcdError, match=r"^tenants\[1\]\.permission: 'write' must be one of readwrite, read$"):
        names.check_permission("write", "tenants[1].permission")
    assert names.check_quota(None) is None and names.check_quota(1) == 1
    for bad in (0, -1, True, "1Gi"):
        with pytest.raises(EtcdError, match=r"^quota_bytes: .* must be a positive number of bytes$"):
            names.check_quota(bad)


def test_permission_from_etcd_matches_normalized_input():
    """What role_get returns compares equal to the normalized user input (no spurious changes)."""
    wanted = names.normalize_permission({"key": "/x/", "prefix": True, "type": "read"})
    assert names.permission(b"/x/", b"/x0", 0) == wanted
    assert names.permission(b"/k", b"", 2) == {"key": "/k", "type": "readwrite", "prefix": False}
    assert names.permission(b"/a", b"/c", 1)["prefix"] is False  # a range, not a prefix


class _FakeRpcError(Exception):
    def __init__(self, details, code=None):
        super().__init__(details)
        self._details = details
        self._code = code

    def details(self):
        return self._details

    def code(self):
        return self._code


class _Code:
    def __init__(self, name):
        self.name = name


@pytest.mark.parametrize("details, transient", [
    ("etcdserver: revision of auth store is old", True),
    ("etcdserver: request timed out", True),
    ("etcdserver: leader changed", True),
    ("etcdserver: permission denied", False),
    ("etcdserver: user name not found", False),
])
def test_transient_errors_are_retried(details, transient):
    assert report.is_transient(_FakeRpcError(details)) is transient


@pytest.mark.parametrize("details, code, expect", [
    ("etcdserver: permission denied", "PERMISSION_DENIED", "permission denied (etcdserver: permission denied); use the root"),
    ("failed to connect: SSL handshake failed", "UNAVAILABLE", "TLS failure: "),
    ("etcdserver: user name not found", "INVALID_ARGUMENT", "etcdserver: user name not found (when it is the caller"),
    ("Deadline Exceeded", "DEADLINE_EXCEEDED", "timed out"),
    ("connection refused", "UNAVAILABLE", "UNAVAILABLE: connection refused"),
    ("odd", None, "ERROR: odd"),
])
def test_describe_names_the_likely_cause(details, code, expect):
    assert report.describe(_FakeRpcError(details, _Code(code) if code else None)).startswith(expect)


def test_describe_plain_exception():
    assert report.describe(RuntimeError("boom")) == "ERROR: boom"


def test_result_shaping():
    assert report.with_diff({"changed": True}, False, 1, 2) == {"changed": True}
    assert report.with_diff({}, True, None, {"a": 1}) == {"diff": {"before": None, "after": {"a": 1}}}
    assert report.connection_facts({}, "https://e:1", {}) == {"endpoint": "https://e:1"}
    assert report.connection_facts({"endpoint": "mine"}, "https://e:1", {"https://d:1": "timed out"}) == {
        "endpoint": "mine", "unreachable_endpoints": {"https://d:1": "timed out"}}
