"""etcd's API built from the etcd3 library's schema (module_utils/etcd/etcdrpc.py): on the
venv's protobuf (not 3.x: the reason this loader exists), without running etcd3's generated
code, with the messages, enums and stubs the modules call."""
from __future__ import annotations

import sys

import google.protobuf
import pytest

from ansible_collections.kamaji.core.plugins.module_utils.etcd import etcdrpc


@pytest.fixture(scope="module")
def schema():
    return etcdrpc.load()


def test_the_venv_runs_a_protobuf_that_refuses_etcd3s_generated_code():
    # the reason for the loader: were this 3.x, the test below would prove nothing new
    assert int(google.protobuf.__version__.split(".")[0]) >= 4, google.protobuf.__version__


def test_messages_encode_as_etcd_expects(schema):
    rpc, auth = schema.rpc, schema.auth
    assert rpc.RangeRequest(key=b"a", range_end=b"b", limit=3).SerializeToString() == b"\n\x01a\x12\x01b\x18\x03"
    assert rpc.PutRequest.FromString(b"\n\x01k\x12\x01v").value == b"v"
    assert rpc.AlarmRequest(action=rpc.AlarmRequest.GET).action == 0
    assert auth.Permission(permType=auth.Permission.READWRITE, key=b"/t/").SerializeToString() == b"\x08\x02\x12\x03/t/"
    # enums of a file and their top-level values, as the generated modules had them
    assert rpc.NONE == 0 and rpc.AlarmType.Name(rpc.NOSPACE) == "NOSPACE"
    assert schema.kv.Event.PUT == 0 and schema.kv.Event.DELETE == 1


def test_the_generated_code_never_ran(schema):
    # neither etcd3's package (its __init__ imports the generated code) nor its etcdrpc
    assert "etcd3" not in sys.modules and "etcd3.etcdrpc" not in sys.modules


class _Channel:
    """Records what a gRPC channel was asked for: path -> (kind, serializer, deserializer)."""

    def __init__(self):
        self.calls = {}
        for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
            setattr(self, kind, self._recorder(kind))

    def _recorder(self, kind):
        def make(path, request_serializer, response_deserializer):
            self.calls[path] = (kind, request_serializer, response_deserializer)
            return path
        return make


def test_stubs_call_each_method_by_its_path_and_kind(schema):
    channel = _Channel()
    stubs = schema.stubs(channel)
    assert {"KV", "Cluster", "Maintenance", "Auth", "Watch", "Lease"} <= set(stubs)
    assert stubs["KV"].Range == "/etcdserverpb.KV/Range"
    assert channel.calls["/etcdserverpb.KV/Range"][0] == "unary_unary"
    assert channel.calls["/etcdserverpb.Maintenance/Snapshot"][0] == "unary_stream"
    assert channel.calls["/etcdserverpb.Watch/Watch"][0] == "stream_stream"
    kind, serialize, parse = channel.calls["/etcdserverpb.Cluster/MemberList"]
    assert serialize(schema.rpc.MemberListRequest()) == b""
    assert parse(b"").members == []
    with pytest.raises(AttributeError, match="etcdserverpb.KV service has no method Rnage"):
        stubs["KV"].Rnage  # noqa: B018  a typo names the service


def test_descriptor_bytes_of_both_generated_forms():
    old = "DESCRIPTOR = _descriptor.FileDescriptor(name='x.proto', serialized_pb=_b('\\n\\x07x.proto'))\n"
    new = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(b'\\n\\x07x.proto')\n"
    assert etcdrpc.descriptor_bytes(old) == etcdrpc.descriptor_bytes(new) == b"\n\x07x.proto"


def test_an_unknown_layout_fails_naming_the_file(tmp_path):
    (tmp_path / "kv_pb2.py").write_text("x = 1\n")
    with pytest.raises(etcdrpc.SchemaError, match="kv_pb2.py: no serialized file descriptor in it"):
        etcdrpc.load(str(tmp_path))
    (tmp_path / "kv_pb2.py").write_text("D = pool.AddSerializedFile(b'\\n\\x02kv')\n")
    with pytest.raises(etcdrpc.SchemaError, match="auth_pb2.py: No such file"):
        etcdrpc.load(str(tmp_path))
