# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""etcd's v3 API (messages and service stubs) from the ``etcd3`` library's schema, on any
protobuf from 3.20 on.

``etcd3`` 0.12 ships code generated for protobuf 3, which protobuf 4 and later refuse to run
("Descriptors cannot be created directly"), so importing ``etcd3.etcdrpc`` forces a
``protobuf<4`` pin that no execution environment holding other collections accepts. What the
etcd modules need from those files is only the schema: each generated file carries its
``.proto`` file as a serialized ``FileDescriptorProto``. This module reads those bytes out of
the files' source without running them (neither does it run ``etcd3/__init__.py``), adds them
to a private descriptor pool, and builds from it the message classes, the enums and one stub
per service. Call sites keep the generated modules' names: ``rpc.RangeRequest``,
``rpc.AlarmRequest.GET``, ``auth.Permission.READWRITE``.

Fields newer than etcd3's schema stay unknown fields here as they did there (``wire`` decodes
the few the modules read).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import types
from typing import Any

# the generated files, in dependency order (rpc.proto imports kv.proto and auth.proto)
FILES = ("kv_pb2", "auth_pb2", "rpc_pb2")


class SchemaError(ImportError):
    """etcd3 is missing, or its generated files do not hold the schema where expected."""


def etcdrpc_dir() -> str:
    """Where etcd3's generated files are, found without importing the package."""
    spec = importlib.util.find_spec("etcd3")
    if spec is None or not spec.submodule_search_locations:
        raise SchemaError("the etcd3 library is not installed")
    return os.path.join(next(iter(spec.submodule_search_locations)), "etcdrpc")


def descriptor_bytes(source: bytes | str, name: str = "<source>") -> bytes:
    """The serialized ``FileDescriptorProto`` a generated ``*_pb2.py`` file carries, read from
    its syntax tree: ``FileDescriptor(..., serialized_pb=b'...')`` (or ``_b('...')``, a latin-1
    string) as older protoc wrote it, or ``AddSerializedFile(b'...')`` as protoc 3.20 and later
    write it."""
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, ast.Call):
            continue
        found = [kw.value for kw in node.keywords if kw.arg == "serialized_pb"]
        if isinstance(node.func, ast.Attribute) and node.func.attr == "AddSerializedFile" and node.args:
            found.append(node.args[0])
        for value in found:
            if isinstance(value, ast.Call) and len(value.args) == 1:  # _b('...')
                value = value.args[0]
            try:
                data = ast.literal_eval(value)
            except ValueError:
                continue
            if isinstance(data, str):
                data = data.encode("latin-1")
            if isinstance(data, bytes) and data:
                return data
    raise SchemaError("%s: no serialized file descriptor in it (an etcd3 release this collection does not know)" % name)


class Stub:
    """One service's methods as callables of a gRPC channel, named as the service names them
    (``KV.Range``, ``Maintenance.Snapshot``, ...)."""

    def __init__(self, channel: Any, service: Any, classes: dict[str, Any]) -> None:
        self._service = service.full_name
        kinds = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
                 (True, False): channel.stream_unary, (True, True): channel.stream_stream}
        for method in service.methods:
            call = kinds[(method.client_streaming, method.server_streaming)]
            setattr(self, method.name, call("/%s/%s" % (service.full_name, method.name),
                                            request_serializer=classes[method.input_type.full_name].SerializeToString,
                                            response_deserializer=classes[method.output_type.full_name].FromString))

    def __getattr__(self, name: str) -> Any:
        """Only for a method the service does not have (the others are instance attributes)."""
        raise AttributeError("etcd's %s service has no method %s" % (self.__dict__.get("_service", "?"), name))


def _message_class(message_factory: Any, pool: Any) -> Any:
    """descriptor -> its message class: ``GetMessageClass`` (protobuf 4.21 and later), else a
    ``MessageFactory`` of the pool (protobuf 3.20)."""
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is not None:
        return get_class
    return message_factory.MessageFactory(pool).GetPrototype


class Schema:
    """The loaded API: ``kv``, ``auth`` and ``rpc`` (message classes, enums and top-level enum
    values, as attributes) and ``stubs(channel)``."""

    def __init__(self, files: dict[str, bytes]) -> None:
        from google.protobuf import descriptor_pool, message_factory
        from google.protobuf.internal import enum_type_wrapper

        pool = descriptor_pool.DescriptorPool()  # private: no clash with another library's etcd schema
        message_class = _message_class(message_factory, pool)
        self.classes: dict[str, Any] = {}
        self.services: dict[str, Any] = {}
        spaces = {}
        for name in FILES:
            added = pool.AddSerializedFile(files[name])
            fd = added if hasattr(added, "message_types_by_name") else pool.FindFileByName(name[:-len("_pb2")] + ".proto")
            space = types.SimpleNamespace(DESCRIPTOR=fd)
            for mname, desc in fd.message_types_by_name.items():
                cls = message_class(desc)
                setattr(space, mname, cls)
                self.classes[desc.full_name] = cls
            for ename, desc in fd.enum_types_by_name.items():
                setattr(space, ename, enum_type_wrapper.EnumTypeWrapper(desc))
                for value in desc.values:
                    setattr(space, value.name, value.number)
            self.services.update(fd.services_by_name)
            spaces[name] = space
        self.kv, self.auth, self.rpc = spaces["kv_pb2"], spaces["auth_pb2"], spaces["rpc_pb2"]

    def stubs(self, channel: Any) -> dict[str, Stub]:
        """service name (``KV``, ``Cluster``, ``Maintenance``, ``Auth``, ...) -> its stub on ``channel``."""
        return {name: Stub(channel, service, self.classes) for name, service in self.services.items()}


def load(directory: str | None = None) -> Schema:
    """The schema of the installed etcd3 (or of the generated files in ``directory``)."""
    directory = directory or etcdrpc_dir()
    files = {}
    for name in FILES:
        path = os.path.join(directory, name + ".py")
        try:
            with open(path, "rb") as f:
                files[name] = descriptor_bytes(f.read(), path)
        except OSError as exc:
            raise SchemaError("%s: %s (an etcd3 release this collection does not know)" % (path, exc.strerror))
    return Schema(files)
