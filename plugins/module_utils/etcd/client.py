# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""etcd v3 client of the kamaji.core etcd modules: connection options, TLS material and
the RPCs the modules use.

The gRPC channel is built here from PEM bytes (``grpc.ssl_channel_credentials``); the
``etcd3`` library only provides the API's schema, from which ``etcdrpc`` builds the messages
and service stubs on any protobuf from 3.20 on. So the CA,
client certificate and key may be given as file paths or as PEM content inline. Endpoints
are tried in order, so one stopped member does not stop a call. The few RPCs whose
messages are newer than the library's protobufs (users without password, auth status,
member status) are encoded by ``wire``.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.common.deps import Dependency
from ansible_collections.kamaji.core.plugins.module_utils.etcd import etcdrpc, report, wire
from ansible_collections.kamaji.core.plugins.module_utils.etcd.names import (
    PERMISSIONS,
    Permission,
    perm_sort_key,
    permission,
    prefix_range_end,
)
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError, describe, details, is_transient

__all__ = ["ETCD3", "GRPC", "Client", "EtcdError", "connection_argument_spec", "is_inline", "read_material"]

GRPC = Dependency("grpc", "grpcio")
# etcd3's schema, loaded without running its generated code (etcdrpc: any protobuf >= 3.20)
ETCD3 = Dependency("etcd3", "etcd3 (and protobuf)", loader=etcdrpc.load)
if GRPC.ok and ETCD3.ok:
    import grpc

    SCHEMA: etcdrpc.Schema = ETCD3.module
    auth_pb2, rpc_pb2 = SCHEMA.auth, SCHEMA.rpc

PAGE = 1000
# Bytes of keys and values one write transaction carries at most: under etcd's default
# --max-request-bytes (1.5 MiB) with room for the request's framing. A larger single value
# goes alone (the source's etcd accepted it, so a like-configured target does too).
TXN_BYTES = 1024 * 1024
# What one gRPC response may hold: a page of large values (Helm's release Secrets, up to about
# 1 MiB each) is far above gRPC's default of 4 MiB; etcd's own server and etcdctl allow 2 GiB.
MAX_RESPONSE_BYTES = 2 ** 31 - 1
RETRIES = 3
RETRY_DELAY = 0.5
# Seconds a membership change waits for etcd to consider the cluster healthy again.
RECONFIG_WAIT = 15.0
ABSENT = object()
DEFAULT_TIMEOUT = 5.0
# Seconds each member gets to answer when a failure is explained (lost quorum, TLS).
PROBE_TIMEOUT = 2.0

# Connection options: name -> environment variable read when the option is not set
# (in the style of kubernetes.core's K8S_AUTH_*).
ENV = {
    "endpoints": "KAMAJI_ETCD_ENDPOINTS",
    "ca_cert": "KAMAJI_ETCD_CA_CERT",
    "client_cert": "KAMAJI_ETCD_CLIENT_CERT",
    "client_key": "KAMAJI_ETCD_CLIENT_KEY",
    "timeout": "KAMAJI_ETCD_TIMEOUT",
}
PEM_BEGIN = "-----BEGIN"
PEM_END = "-----END"
MATERIAL = ("ca_cert", "client_cert", "client_key")


def connection_argument_spec() -> dict[str, dict[str, Any]]:
    """Options every etcd module takes, each with its environment fallback."""
    from ansible.module_utils.basic import env_fallback

    def env(option: str) -> tuple[Any, list[str]]:
        return (env_fallback, [ENV[option]])

    return dict(
        endpoints=dict(type="list", elements="str", required=True, fallback=env("endpoints")),
        ca_cert=dict(type="str", required=True, fallback=env("ca_cert")),
        client_cert=dict(type="str", required=True, fallback=env("client_cert")),
        client_key=dict(type="str", required=True, no_log=True, fallback=env("client_key")),
        timeout=dict(type="float", default=DEFAULT_TIMEOUT, fallback=env("timeout")),
    )


# ------------------------------------------------------------------ TLS material

def is_inline(value: str | bytes) -> bool:
    """True when the option holds PEM content rather than a path."""
    if isinstance(value, bytes):
        return PEM_BEGIN.encode("ascii") in value
    return PEM_BEGIN in value


def read_material(value: str | bytes | None, field: str) -> bytes:
    """PEM bytes of ``ca_cert``/``client_cert``/``client_key``: the content itself when it
    is inline (it holds '-----BEGIN'), else the content of the file it names.

    Messages name the field and the path, never inline content (it may be a key).
    """
    if value is None or (isinstance(value, (str, bytes)) and not value.strip()):
        raise EtcdError("%s: give the path of a PEM file or the PEM content itself" % field)
    if not isinstance(value, (str, bytes)):
        raise EtcdError("%s: expected a path or PEM content, got %s" % (field, type(value).__name__))
    if is_inline(value):
        data = wire.to_bytes(value)
        if PEM_END.encode("ascii") not in data:
            raise EtcdError("%s: the inline PEM content has a -----BEGIN line but no -----END line "
                            "(truncated?)" % field)
        return data.strip() + b"\n"
    path = os.path.expanduser(os.path.expandvars(value if isinstance(value, str) else value.decode()))
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise EtcdError("%s: cannot read %s (%s)" % (field, path, exc.strerror or exc))


def material_source(value: str | bytes) -> str:
    """How a TLS option was given, for messages: its path, or 'inline PEM' (never the content)."""
    if is_inline(value):
        return "inline PEM"
    text = value if isinstance(value, str) else value.decode("utf-8", "replace")
    return os.path.expanduser(os.path.expandvars(text))


def peer_certificate(endpoint: Endpoint, timeout: float) -> bytes | None:
    """The certificate an endpoint presents, as PEM, fetched without verifying it and
    without a client certificate (TLS 1.3 servers show theirs before asking for ours);
    None when the handshake does not get that far."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock, \
                context.wrap_socket(sock, server_hostname=endpoint.host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    return ssl.DER_cert_to_PEM_cert(der).encode("ascii") if der else None


class Endpoint:
    """One etcd client URL (``https://host:port`` or ``host:port``) as a gRPC target."""

    PATTERN = re.compile(r"^(?:https?://)?\[?([^\]/]+?)\]?:(\d+)/?$")

    def __init__(self, url: str) -> None:
        match = self.PATTERN.match(url.strip()) if isinstance(url, str) else None
        if not match:
            raise EtcdError("endpoints: %r is not host:port or https://host:port" % (url,))
        self.url = url
        self.host = net.host(match.group(1), "endpoints", underscore=True, error=EtcdError)
        self.port = net.port(int(match.group(2)), "endpoints", error=EtcdError)
        self.target = "%s:%d" % (net.url_host(self.host), self.port)


def _target(url: str) -> str:
    try:
        return Endpoint(url).target
    except EtcdError:
        return url


class Channel:
    """A TLS gRPC channel to one member with the etcd service stubs on it."""

    def __init__(self, endpoint: Endpoint, credentials: Any) -> None:
        self.endpoint = endpoint
        self.channel = grpc.secure_channel(endpoint.target, credentials,
                                           options=[("grpc.max_receive_message_length", MAX_RESPONSE_BYTES)])
        stubs = SCHEMA.stubs(self.channel)
        self.kv, self.cluster, self.maintenance, self.auth = (stubs["KV"], stubs["Cluster"], stubs["Maintenance"],
                                                              stubs["Auth"])

    def raw(self, service_method: str) -> Callable[..., bytes]:
        """A unary call whose request and response are bytes encoded by ``wire``."""
        method: Callable[..., bytes] = self.channel.unary_unary(
            "/etcdserverpb.%s" % service_method, request_serializer=wire.identity,
            response_deserializer=wire.identity)
        return method

    def status(self, timeout: float) -> dict[str, Any]:
        """Maintenance.Status decoded from the wire: the library's protobufs predate
        dbSizeInUse (field 9)."""
        f = wire.parse_fields(self.raw("Maintenance/Status")(b"", timeout=timeout))
        header = wire.parse_fields(wire.first_bytes(f, 1))
        return {"member_id": "%x" % wire.first_int(header, 2), "leader": "%x" % wire.first_int(f, 4),
                "version": wire.first_bytes(f, 2).decode("ascii", "replace"), "db_size": wire.first_int(f, 3),
                "db_size_in_use": wire.first_int(f, 9), "raft_term": wire.first_int(f, 6)}

    def close(self) -> None:
        self.channel.close()


# ------------------------------------------------------------------ client

class Client:
    """One connection to the first endpoint that answers; remembers the others' errors.

    ``ca_cert``, ``client_cert`` and ``client_key`` are file paths or PEM content.
    """

    def __init__(self, endpoints: Iterable[str], ca_cert: str | bytes, client_cert: str | bytes,
                 client_key: str | bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not (GRPC.ok and ETCD3.ok):  # pragma: no cover - the module tail checks first
            raise EtcdError("the etcd3 and grpcio Python libraries are not importable: %s"
                            % (GRPC.error or ETCD3.error))
        self.endpoints = list(endpoints or [])
        if not self.endpoints:
            raise EtcdError("endpoints: at least one etcd endpoint is required (https://host:2379)")
        ca = read_material(ca_cert, "ca_cert")
        cert = read_material(client_cert, "client_cert")
        key = read_material(client_key, "client_key")
        # kept to explain a refused handshake; messages show only the sources
        self._material = {"ca_cert": ca, "client_cert": cert, "client_key": key}
        self._sources = {"ca_cert": material_source(ca_cert), "client_cert": material_source(client_cert),
                         "client_key": material_source(client_key)}
        parsed = [Endpoint(e) for e in self.endpoints]
        self.timeout = float(timeout)
        self.down: dict[str, str] = {}
        self._credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key,
                                                         certificate_chain=cert)
        self._channel: Channel | None = None
        self.endpoint: str | None = None
        refused: list[Endpoint] = []
        said: dict[str, str] = {}
        for url, endpoint in zip(self.endpoints, parsed, strict=True):
            channel = Channel(endpoint, self._credentials)
            try:
                channel.maintenance.Status(rpc_pb2.StatusRequest(), timeout=self.timeout)
            except grpc.RpcError as exc:
                channel.close()
                self.down[url] = describe(exc)
                said[url] = report.last_error(exc)
                if not report.is_network(exc):  # reached, then refused: TLS, or credentials gRPC rejects
                    refused.append(endpoint)
                continue
            self._channel, self.endpoint = channel, url
            break
        if self._channel is None:
            problems = self.tls_problems(refused)
            if problems and refused:
                raise EtcdError("the TLS connection to etcd failed: %s. (What gRPC said: %s)"
                                % (". ".join(problems), "; ".join("%s: %s" % kv for kv in said.items())))
            raise EtcdError("no etcd endpoint answered: %s. Check that etcd runs, that the endpoints are "
                            "https:// URLs of its client port, and that ca_cert/client_cert/client_key belong "
                            "to this cluster and have not expired%s" % (
                                "; ".join("%s: %s" % kv for kv in self.down.items()),
                                "".join(". Also: %s" % p for p in problems)))

    @property
    def channel(self) -> Channel:
        if self._channel is None:  # pragma: no cover - __init__ raises instead
            raise EtcdError("not connected")
        return self._channel

    def _channel_for(self, endpoint: str) -> Channel:
        return self.channel if endpoint == self.endpoint else Channel(Endpoint(endpoint), self._credentials)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    # --- failures explained
    def tls_problems(self, refused: Iterable[Endpoint] = ()) -> list[str]:
        """What is wrong with the TLS material: the certificate the first refusing endpoint
        presents (a wrong ca_cert shows there first), then the client's own material."""
        server: list[str] = []
        for endpoint in list(refused)[:1]:
            pem = peer_certificate(endpoint, min(self.timeout, PROBE_TIMEOUT))
            if pem:
                server = report.server_problems(endpoint.url, endpoint.host, pem, self._material, self._sources)
        return server + report.credential_problems(self._material, self._sources)

    def _status_probe(self, url: str, timeout: float) -> tuple[dict[str, Any] | None, str]:
        """(status, '') of the member at ``url``, or (None, why it did not answer)."""
        try:
            channel = Channel(Endpoint(url), self._credentials)
        except EtcdError as exc:
            return None, str(exc)
        try:
            return channel.status(timeout), ""
        except grpc.RpcError as exc:
            return None, report.reason(exc, timeout)
        finally:
            channel.close()

    def probe_members(self) -> tuple[list[report.Probe], bool]:
        """Every member's answer to a status request, asked in parallel with a short
        timeout: (probes, whether the member list was read). Without a member list the
        configured endpoints stand for the members."""
        timeout = min(self.timeout, PROBE_TIMEOUT)
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = dict(zip(self.endpoints, pool.map(lambda u: self._status_probe(u, timeout), self.endpoints),
                                strict=True))
            members: list[Any] | None = None
            for url, (status, _unused) in statuses.items():
                if status is None:
                    continue
                channel = Channel(Endpoint(url), self._credentials)
                try:
                    members = list(channel.cluster.MemberList(rpc_pb2.MemberListRequest(), timeout=timeout).members)
                    break
                except grpc.RpcError:
                    continue
                finally:
                    channel.close()
            if members is None:
                return [report.Probe(url, error=error, leader=bool(status and status["leader"] != "0"))
                        for url, (status, error) in statuses.items()], False
            by_target = {Endpoint(url).target: url for url in self.endpoints}
            seen = {s["member_id"]: url for url, (s, _unused) in statuses.items() if s}
            urls: list[str] = []
            for m in members:
                url = seen.get("%x" % m.ID, "")
                if not url:
                    clients = list(m.clientURLs)
                    url = next((by_target[t] for t in (_target(c) for c in clients) if t in by_target),
                               clients[0] if clients else "")
                urls.append(url)
            missing = [u for u in urls if u and u not in statuses]
            statuses.update(zip(missing, pool.map(lambda u: self._status_probe(u, timeout), missing), strict=True))
        probes = []
        for m, url in zip(members, urls, strict=True):
            status, error = statuses.get(url, (None, "never started (no client URL)"))
            probes.append(report.Probe(url or "peer %s" % ",".join(m.peerURLs), name=m.name or "%x" % m.ID,
                                       error=error, leader=bool(status and status["leader"] != "0"),
                                       learner=bool(getattr(m, "isLearner", False))))
        return probes, True

    def explain(self, what: str, exc: Any) -> EtcdError:
        """The error of a failed call, explained by the state of the cluster (lost quorum)
        or of the TLS material (a refused certificate) where that is the likely cause."""
        failure = "%s failed at %s: %s" % (what, self.endpoint, describe(exc))
        if report.is_tls(exc):
            problems = self.tls_problems([self.channel.endpoint])
            if problems:
                return EtcdError("%s. %s" % (failure, ". ".join(problems)))
        elif report.may_be_quorum(exc):
            started = time.monotonic()
            probes, known = self.probe_members()
            return EtcdError(report.quorum_report(failure, probes, known, time.monotonic() - started,
                                                  min(self.timeout, PROBE_TIMEOUT)))
        return EtcdError(failure)

    # --- generic call with error translation
    def call(self, what: str, fn: Callable[..., Any], *args: Any, absent: str | None = None) -> Any:
        """One RPC. Transient failures (leader election, overload) are retried a bounded
        number of times; an add that already happened before its retry counts as done."""
        for attempt in range(RETRIES + 1):
            try:
                return fn(*args, timeout=self.timeout)
            except grpc.RpcError as exc:
                text = details(exc)
                if absent and absent in text:
                    return ABSENT
                if attempt and "already exists" in text:
                    return None
                if attempt < RETRIES and is_transient(exc):
                    time.sleep(RETRY_DELAY * (attempt + 1))
                    continue
                raise self.explain(what, exc)
        return None  # pragma: no cover - the loop returns or raises

    def _raw(self, service_method: str, payload: bytes, what: str) -> bytes:
        result: bytes = self.call(what, self.channel.raw(service_method), payload)
        return result

    # --- auth
    def auth_status(self) -> bool:
        fields = wire.parse_fields(self._raw("Auth/AuthStatus", b"", "auth status"))
        return bool(wire.first_int(fields, 2))

    def auth_enable(self) -> None:
        self.call("auth enable", self.channel.auth.AuthEnable, rpc_pb2.AuthEnableRequest())

    def auth_disable(self) -> None:
        self.call("auth disable", self.channel.auth.AuthDisable, rpc_pb2.AuthDisableRequest())

    def user_list(self) -> list[str]:
        return sorted(self.call("user list", self.channel.auth.UserList, rpc_pb2.AuthUserListRequest()).users)

    def role_list(self) -> list[str]:
        return sorted(self.call("role list", self.channel.auth.RoleList, rpc_pb2.AuthRoleListRequest()).roles)

    def user_get(self, name: str) -> list[str] | None:
        """Roles of the user, or None when the user does not exist."""
        resp = self.call("reading user %s" % name, self.channel.auth.UserGet,
                         rpc_pb2.AuthUserGetRequest(name=name), absent="user name not found")
        return None if resp is ABSENT else sorted(resp.roles)

    def user_add(self, name: str, password: str | None = None) -> None:
        payload = wire.field_bytes(1, name)
        if password:
            payload += wire.field_bytes(2, password)
        else:
            payload += wire.field_bytes(3, wire.field_varint(1, 1))  # options.no_password = true
        self._raw("Auth/UserAdd", payload, "adding user %s" % name)

    def user_delete(self, name: str) -> None:
        self.call("deleting user %s" % name, self.channel.auth.UserDelete, rpc_pb2.AuthUserDeleteRequest(name=name))

    def user_grant_role(self, user: str, role: str) -> None:
        self.call("granting role %s to user %s" % (role, user), self.channel.auth.UserGrantRole,
                  rpc_pb2.AuthUserGrantRoleRequest(user=user, role=role))

    def user_revoke_role(self, user: str, role: str) -> None:
        self.call("revoking role %s from user %s" % (role, user), self.channel.auth.UserRevokeRole,
                  rpc_pb2.AuthUserRevokeRoleRequest(name=user, role=role))

    def role_get(self, name: str) -> list[Permission] | None:
        """Permissions of the role as a sorted list of dicts, or None when absent."""
        resp = self.call("reading role %s" % name, self.channel.auth.RoleGet,
                         rpc_pb2.AuthRoleGetRequest(role=name), absent="role name not found")
        if resp is ABSENT:
            return None
        return sorted((permission(p.key, p.range_end, p.permType) for p in resp.perm), key=perm_sort_key)

    def role_add(self, name: str) -> None:
        self.call("adding role %s" % name, self.channel.auth.RoleAdd, rpc_pb2.AuthRoleAddRequest(name=name))

    def role_delete(self, name: str) -> None:
        self.call("deleting role %s" % name, self.channel.auth.RoleDelete, rpc_pb2.AuthRoleDeleteRequest(role=name))

    def role_grant(self, name: str, perm: Permission) -> None:
        p = auth_pb2.Permission(permType=PERMISSIONS[perm["type"]], key=wire.to_bytes(perm["key"]),
                                range_end=wire.to_bytes(perm.get("range_end") or b""))
        self.call("granting %s on %s to role %s" % (perm["type"], perm["key"], name),
                  self.channel.auth.RoleGrantPermission, rpc_pb2.AuthRoleGrantPermissionRequest(name=name, perm=p))

    def role_revoke(self, name: str, perm: Permission) -> None:
        self.call("revoking %s from role %s" % (perm["key"], name), self.channel.auth.RoleRevokePermission,
                  rpc_pb2.AuthRoleRevokePermissionRequest(role=name, key=wire.to_bytes(perm["key"]),
                                                          range_end=wire.to_bytes(perm.get("range_end") or b"")))

    # --- keys
    def _pages(self, prefix: str) -> Iterator[Any]:
        """Every key-value under ``prefix``, read in pages of ``PAGE`` keys."""
        start, end = wire.to_bytes(prefix), prefix_range_end(prefix)
        while True:
            resp = self.call("reading %s" % prefix, self.channel.kv.Range,
                             rpc_pb2.RangeRequest(key=start, range_end=end, limit=PAGE))
            yield from resp.kvs
            if not resp.more or not resp.kvs:
                return
            start = resp.kvs[-1].key + b"\0"

    def prefix_stats(self, prefix: str) -> tuple[int, int]:
        """(number of keys, bytes of keys and values) under ``prefix``, paged."""
        count = size = 0
        for kv in self._pages(prefix):
            count += 1
            size += len(kv.key) + len(kv.value)
        return count, size

    def prefix_count(self, prefix: str) -> int:
        resp = self.call("counting %s" % prefix, self.channel.kv.Range,
                         rpc_pb2.RangeRequest(key=wire.to_bytes(prefix), range_end=prefix_range_end(prefix),
                                              count_only=True))
        return int(resp.count)

    def delete_prefix(self, prefix: str) -> int:
        resp = self.call("deleting %s" % prefix, self.channel.kv.DeleteRange,
                         rpc_pb2.DeleteRangeRequest(key=wire.to_bytes(prefix), range_end=prefix_range_end(prefix)))
        return int(resp.deleted)

    def export_prefix(self, prefix: str) -> Iterator[tuple[bytes, bytes]]:
        for kv in self._pages(prefix):
            yield kv.key, kv.value

    def export_prefix_revisions(self, prefix: str) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, mod_revision) of every key under ``prefix``."""
        for kv in self._pages(prefix):
            yield kv.key, kv.value, int(kv.mod_revision)

    def revision(self) -> int:
        resp = self.call("reading the revision", self.channel.kv.Range,
                         rpc_pb2.RangeRequest(key=b"\0", count_only=True))
        return int(resp.header.revision)

    def put_many(self, items: Iterable[tuple[str | bytes, str | bytes]]) -> None:
        """Write (key, value) pairs, in order, in transactions of at most 64 operations and
        ``TXN_BYTES`` of keys and values (a larger pair alone)."""
        batch: list[Any] = []
        size = 0
        for key, value in items:
            k, v = wire.to_bytes(key), wire.to_bytes(value)
            if batch and (len(batch) == 64 or size + len(k) + len(v) > TXN_BYTES):
                self.call("writing keys", self.channel.kv.Txn, rpc_pb2.TxnRequest(success=batch))
                batch, size = [], 0
            batch.append(rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k, value=v)))
            size += len(k) + len(v)
        if batch:
            self.call("writing keys", self.channel.kv.Txn, rpc_pb2.TxnRequest(success=batch))

    def delete_key(self, key: str | bytes) -> None:
        self.call("deleting %r" % key, self.channel.kv.DeleteRange, rpc_pb2.DeleteRangeRequest(key=wire.to_bytes(key)))

    def put(self, key: str | bytes, value: str | bytes) -> None:
        self.call("writing %s" % wire.to_bytes(key).decode("utf-8", "replace"), self.channel.kv.Put,
                  rpc_pb2.PutRequest(key=wire.to_bytes(key), value=wire.to_bytes(value)))

    # --- maintenance
    def snapshot(self, fileobj: IO[bytes]) -> None:
        """Stream a snapshot of the member that serves this client into ``fileobj``."""
        try:
            for resp in self.channel.maintenance.Snapshot(rpc_pb2.SnapshotRequest(), timeout=max(self.timeout, 300)):
                fileobj.write(resp.blob)
        except grpc.RpcError as exc:
            raise EtcdError("snapshot failed at %s: %s" % (self.endpoint, describe(exc)))

    def defragment(self, endpoint: str) -> None:
        channel = self._channel_for(endpoint)
        try:
            channel.maintenance.Defragment(rpc_pb2.DefragmentRequest(), timeout=max(self.timeout, 120))
        except grpc.RpcError as exc:
            raise EtcdError("defragmenting %s failed: %s" % (endpoint, describe(exc)))
        finally:
            if channel is not self._channel:
                channel.close()

    def endpoint_status(self) -> list[dict[str, Any]]:
        """Status of every configured endpoint (one connection each; bounded by the timeout)."""
        out = []
        for endpoint in self.endpoints:
            started = time.monotonic()
            channel = self._channel_for(endpoint)
            try:
                out.append(dict(channel.status(self.timeout), endpoint=endpoint, healthy=True,
                                latency_ms=round((time.monotonic() - started) * 1000, 1)))
            except grpc.RpcError as exc:
                out.append({"endpoint": endpoint, "healthy": False, "error": describe(exc)})
            finally:
                if channel is not self._channel:
                    channel.close()
        return out

    def alarms(self) -> list[dict[str, str]]:
        resp = self.call("alarm list", self.channel.maintenance.Alarm,
                         rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.GET, memberID=0, alarm=rpc_pb2.NONE))
        names = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}
        return [{"member_id": "%x" % a.memberID, "alarm": names.get(a.alarm, str(a.alarm))} for a in resp.alarms]

    # --- cluster
    def members(self) -> list[dict[str, Any]]:
        resp = self.call("member list", self.channel.cluster.MemberList, rpc_pb2.MemberListRequest())
        return [{"id": "%x" % m.ID, "name": m.name, "peer_urls": list(m.peerURLs),
                 "client_urls": list(m.clientURLs), "learner": bool(getattr(m, "isLearner", False))}
                for m in resp.members]

    def _reconfigure(self, what: str, fn: Callable[..., Any], request: Any) -> Any:
        """Membership changes: etcd refuses them ("unhealthy cluster") until the leader has
        been connected to a majority for a few seconds, e.g. right after a (re)start."""
        deadline = time.monotonic() + RECONFIG_WAIT
        while True:
            try:
                return self.call(what, fn, request)
            except EtcdError as exc:
                if "unhealthy cluster" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def member_add(self, peer_urls: Iterable[str]) -> str:
        urls = list(peer_urls)
        resp = self._reconfigure("member add %s" % ",".join(urls), self.channel.cluster.MemberAdd,
                                 rpc_pb2.MemberAddRequest(peerURLs=urls))
        return "%x" % resp.member.ID

    def member_remove(self, member_id: str) -> None:
        self._reconfigure("member remove %s" % member_id, self.channel.cluster.MemberRemove,
                          rpc_pb2.MemberRemoveRequest(ID=int(member_id, 16)))
