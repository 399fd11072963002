# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""etcd v3 client layer for the kamaji.core etcd modules.

Built on the ``etcd3`` library's gRPC channel and generated stubs. Endpoints are tried
in order, so one stopped member does not stop a call. The few RPCs whose messages are
newer than the library's protobufs (users without password, auth status) are sent
through the same channel with their fields encoded here.
"""

from __future__ import annotations

import re
import time

try:
    import etcd3
    import grpc
    from etcd3.etcdrpc import auth_pb2, rpc_pb2

    HAS_ETCD3 = True
    ETCD3_IMPORT_ERROR = None
except Exception as exc:
    HAS_ETCD3 = False
    ETCD3_IMPORT_ERROR = exc

PERMISSIONS = {"read": 0, "write": 1, "readwrite": 2}
PERMISSION_NAMES = {v: k for k, v in PERMISSIONS.items()}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
ROOT = "root"
PAGE = 1000
RETRIES = 3
ABSENT = object()
RETRY_DELAY = 0.5
# Seconds a membership change waits for etcd to consider the cluster healthy again.
RECONFIG_WAIT = 15.0
# Errors that go away on their own: leader elections, overload, and the auth revision
# race (a request authorised just before another client changed users or roles).
TRANSIENT = ("request timed out", "leader changed", "no leader", "too many requests",
             "revision of auth store is old")


class EtcdError(Exception):
    """A failure explained for the user: what failed, where, and what to do."""


def connection_argument_spec():
    return dict(
        endpoints=dict(type="list", elements="str", required=True),
        ca_cert=dict(type="path", required=True),
        client_cert=dict(type="path", required=True),
        client_key=dict(type="path", required=True, no_log=False),
        timeout=dict(type="float", default=5.0),
    )


# ------------------------------------------------------------------ key ranges

def _b(value):
    return value.encode("utf-8") if isinstance(value, str) else value


def prefix_range_end(prefix):
    """The range end covering every key that starts with ``prefix``."""
    key = bytearray(_b(prefix))
    for i in range(len(key) - 1, -1, -1):
        if key[i] < 0xFF:
            key[i] += 1
            return bytes(key[: i + 1])
    return b"\0"  # the whole key space


def tenant_prefix(name):
    """Tenant keys live under ``/<name>/``. The trailing slash matters: a permission on
    ``/acme`` would also cover ``/acme2``."""
    return "/%s/" % name


def validate_name(name, field="name"):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise EtcdError("%s: %r is not a valid name; use lower-case letters, digits and '-', "
                        "at most 63 characters, starting and ending with a letter or digit" % (field, name))
    return name


def validate_prefix(prefix, field="prefix"):
    if not prefix or not prefix.startswith("/") or not prefix.endswith("/") or prefix == "/":
        raise EtcdError("%s: %r must start and end with '/' and name a sub-tree (for example /acme/), "
                        "otherwise it also covers other tenants' keys" % (field, prefix))
    return prefix


# ------------------------------------------------------------------ protobuf wire helpers

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_bytes(num, value):
    value = _b(value)
    return _varint((num << 3) | 2) + _varint(len(value)) + value


def _parse_fields(data):
    """Minimal protobuf reader: {field number: [values]} (varints as int, others as bytes)."""
    fields, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _read_varint(data, i)
        elif wire == 2:
            length, i = _read_varint(data, i)
            val, i = data[i:i + length], i + length
        elif wire == 1:
            val, i = data[i:i + 8], i + 8
        elif wire == 5:
            val, i = data[i:i + 4], i + 4
        else:
            raise EtcdError("unexpected protobuf wire type %d from etcd" % wire)
        fields.setdefault(num, []).append(val)
    return fields


def _read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _identity(b):
    return b


# ------------------------------------------------------------------ client

class Client:
    """One connection to the first endpoint that answers; remembers the others' errors."""

    def __init__(self, endpoints, ca_cert, client_cert, client_key, timeout=5.0):
        if not HAS_ETCD3:  # pragma: no cover
            raise EtcdError("the etcd3 Python library is not importable: %s" % ETCD3_IMPORT_ERROR)
        if not endpoints:
            raise EtcdError("endpoints: at least one etcd endpoint is required (https://host:2379)")
        self.timeout = timeout
        self.endpoints = list(endpoints)
        self.down = {}
        self._files = (ca_cert, client_key, client_cert)
        for path, field in ((ca_cert, "ca_cert"), (client_cert, "client_cert"), (client_key, "client_key")):
            try:
                with open(path, "rb"):
                    pass
            except (OSError, TypeError) as exc:
                raise EtcdError("%s: cannot read %s (%s)" % (field, path, exc))
        self.client = None
        self.endpoint = None
        for endpoint in self.endpoints:
            try:
                client = self._client_for(endpoint)
                client.maintenancestub.Status(rpc_pb2.StatusRequest(), timeout)
            except grpc.RpcError as exc:
                self.down[endpoint] = _describe(exc)
                continue
            self.client, self.endpoint = client, endpoint
            break
        if self.client is None:
            raise EtcdError("no etcd endpoint answered: %s. Check that etcd runs, that the endpoints are "
                            "https:// URLs of its client port, and that ca_cert/client_cert/client_key belong "
                            "to this cluster and have not expired" % "; ".join(
                                "%s: %s" % kv for kv in self.down.items()))

    def _client_for(self, endpoint):
        match = re.match(r"^(?:https?://)?\[?([^\]/]+?)\]?:(\d+)/?$", endpoint)
        if not match:
            raise EtcdError("endpoints: %r is not host:port or https://host:port" % endpoint)
        ca_cert, key, cert = self._files
        return etcd3.client(host=match.group(1), port=int(match.group(2)), ca_cert=ca_cert, cert_key=key,
                            cert_cert=cert, timeout=self.timeout)

    def close(self):
        if self.client is not None:
            self.client.close()

    # --- generic call with error translation
    def call(self, what, fn, *args, absent=None):
        """One RPC. Transient failures (leader election, overload) are retried a bounded
        number of times; an add that already happened before its retry counts as done."""
        for attempt in range(RETRIES + 1):
            try:
                return fn(*args, timeout=self.timeout)
            except grpc.RpcError as exc:
                details = exc.details() if hasattr(exc, "details") else ""
                if absent and absent in (details or ""):
                    return ABSENT
                if attempt and "already exists" in (details or ""):
                    return None
                if attempt < RETRIES and _transient(exc):
                    time.sleep(RETRY_DELAY * (attempt + 1))
                    continue
                raise EtcdError("%s failed at %s: %s" % (what, self.endpoint, _describe(exc)))
        return None  # pragma: no cover - the loop returns or raises

    def _raw(self, service_method, payload, what):
        method = self.client.channel.unary_unary(
            "/etcdserverpb.%s" % service_method, request_serializer=_identity, response_deserializer=_identity)
        return self.call(what, method, payload)

    # --- auth
    def auth_status(self):
        fields = _parse_fields(self._raw("Auth/AuthStatus", b"", "auth status"))
        return bool(fields.get(2, [0])[0])

    def auth_enable(self):
        self.call("auth enable", rpc_pb2_grpc_auth(self.client).AuthEnable, rpc_pb2.AuthEnableRequest())

    def auth_disable(self):
        self.call("auth disable", rpc_pb2_grpc_auth(self.client).AuthDisable, rpc_pb2.AuthDisableRequest())

    def user_list(self):
        return sorted(self.call("user list", rpc_pb2_grpc_auth(self.client).UserList, rpc_pb2.AuthUserListRequest()).users)

    def role_list(self):
        return sorted(self.call("role list", rpc_pb2_grpc_auth(self.client).RoleList, rpc_pb2.AuthRoleListRequest()).roles)

    def user_get(self, name):
        """Roles of the user, or None when the user does not exist."""
        resp = self.call("reading user %s" % name, rpc_pb2_grpc_auth(self.client).UserGet,
                         rpc_pb2.AuthUserGetRequest(name=name), absent="user name not found")
        return None if resp is ABSENT else sorted(resp.roles)

    def user_add(self, name, password=None):
        payload = _field_bytes(1, name)
        if password:
            payload += _field_bytes(2, password)
        else:
            payload += _field_bytes(3, _varint((1 << 3) | 0) + _varint(1))  # options.no_password = true
        self._raw("Auth/UserAdd", payload, "adding user %s" % name)

    def user_delete(self, name):
        self.call("deleting user %s" % name, rpc_pb2_grpc_auth(self.client).UserDelete,
                  rpc_pb2.AuthUserDeleteRequest(name=name))

    def user_grant_role(self, user, role):
        self.call("granting role %s to user %s" % (role, user), rpc_pb2_grpc_auth(self.client).UserGrantRole,
                  rpc_pb2.AuthUserGrantRoleRequest(user=user, role=role))

    def user_revoke_role(self, user, role):
        self.call("revoking role %s from user %s" % (role, user), rpc_pb2_grpc_auth(self.client).UserRevokeRole,
                  rpc_pb2.AuthUserRevokeRoleRequest(name=user, role=role))

    def role_get(self, name):
        """Permissions of the role as a sorted list of dicts, or None when absent."""
        resp = self.call("reading role %s" % name, rpc_pb2_grpc_auth(self.client).RoleGet,
                         rpc_pb2.AuthRoleGetRequest(role=name), absent="role name not found")
        if resp is ABSENT:
            return None
        return sorted((perm_to_dict(p) for p in resp.perm), key=perm_sort_key)

    def role_add(self, name):
        self.call("adding role %s" % name, rpc_pb2_grpc_auth(self.client).RoleAdd, rpc_pb2.AuthRoleAddRequest(name=name))

    def role_delete(self, name):
        self.call("deleting role %s" % name, rpc_pb2_grpc_auth(self.client).RoleDelete,
                  rpc_pb2.AuthRoleDeleteRequest(role=name))

    def role_grant(self, name, perm):
        p = auth_pb2.Permission(permType=PERMISSIONS[perm["type"]], key=_b(perm["key"]),
                                range_end=_b(perm.get("range_end") or b""))
        self.call("granting %s on %s to role %s" % (perm["type"], perm["key"], name),
                  rpc_pb2_grpc_auth(self.client).RoleGrantPermission,
                  rpc_pb2.AuthRoleGrantPermissionRequest(name=name, perm=p))

    def role_revoke(self, name, perm):
        self.call("revoking %s from role %s" % (perm["key"], name), rpc_pb2_grpc_auth(self.client).RoleRevokePermission,
                  rpc_pb2.AuthRoleRevokePermissionRequest(role=name, key=_b(perm["key"]),
                                                          range_end=_b(perm.get("range_end") or b"")))

    # --- keys
    def prefix_stats(self, prefix):
        """(number of keys, bytes of keys and values) under ``prefix``, paged."""
        start, end = _b(prefix), prefix_range_end(prefix)
        count = size = 0
        while True:
            resp = self.call("reading %s" % prefix, self.client.kvstub.Range,
                             rpc_pb2.RangeRequest(key=start, range_end=end, limit=PAGE))
            for kv in resp.kvs:
                count += 1
                size += len(kv.key) + len(kv.value)
            if not resp.more or not resp.kvs:
                return count, size
            start = resp.kvs[-1].key + b"\0"

    def prefix_count(self, prefix):
        resp = self.call("counting %s" % prefix, self.client.kvstub.Range,
                         rpc_pb2.RangeRequest(key=_b(prefix), range_end=prefix_range_end(prefix), count_only=True))
        return resp.count

    def delete_prefix(self, prefix):
        resp = self.call("deleting %s" % prefix, self.client.kvstub.DeleteRange,
                         rpc_pb2.DeleteRangeRequest(key=_b(prefix), range_end=prefix_range_end(prefix)))
        return resp.deleted

    def export_prefix(self, prefix):
        start, end = _b(prefix), prefix_range_end(prefix)
        while True:
            resp = self.call("reading %s" % prefix, self.client.kvstub.Range,
                             rpc_pb2.RangeRequest(key=start, range_end=end, limit=PAGE))
            for kv in resp.kvs:
                yield kv.key, kv.value
            if not resp.more or not resp.kvs:
                return
            start = resp.kvs[-1].key + b"\0"

    def revision(self):
        resp = self.call("reading the revision", self.client.kvstub.Range,
                         rpc_pb2.RangeRequest(key=b"\0", count_only=True))
        return resp.header.revision

    def put_many(self, items):
        """Write (key, value) pairs in transactions of at most 64 operations."""
        batch = []
        for key, value in items:
            batch.append(rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=_b(key), value=_b(value))))
            if len(batch) == 64:
                self.call("writing keys", self.client.kvstub.Txn, rpc_pb2.TxnRequest(success=batch))
                batch = []
        if batch:
            self.call("writing keys", self.client.kvstub.Txn, rpc_pb2.TxnRequest(success=batch))

    def snapshot(self, fileobj):
        """Stream a snapshot of the member that serves this client into ``fileobj``."""
        try:
            for resp in self.client.maintenancestub.Snapshot(rpc_pb2.SnapshotRequest(), timeout=max(self.timeout, 300)):
                fileobj.write(resp.blob)
        except grpc.RpcError as exc:
            raise EtcdError("snapshot failed at %s: %s" % (self.endpoint, _describe(exc)))

    def defragment(self, endpoint):
        client = self.client if endpoint == self.endpoint else self._client_for(endpoint)
        try:
            client.maintenancestub.Defragment(rpc_pb2.DefragmentRequest(), timeout=max(self.timeout, 120))
        except grpc.RpcError as exc:
            raise EtcdError("defragmenting %s failed: %s" % (endpoint, _describe(exc)))
        finally:
            if client is not self.client:
                client.close()

    def delete_key(self, key):
        self.call("deleting %r" % key, self.client.kvstub.DeleteRange, rpc_pb2.DeleteRangeRequest(key=_b(key)))

    def put(self, key, value):
        self.call("writing %s" % key, self.client.kvstub.Put, rpc_pb2.PutRequest(key=_b(key), value=_b(value)))

    # --- cluster
    def members(self):
        resp = self.call("member list", self.client.clusterstub.MemberList, rpc_pb2.MemberListRequest())
        return [{"id": "%x" % m.ID, "name": m.name, "peer_urls": list(m.peerURLs),
                 "client_urls": list(m.clientURLs), "learner": bool(getattr(m, "isLearner", False))}
                for m in resp.members]

    def _reconfigure(self, what, fn, request):
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

    def member_add(self, peer_urls):
        resp = self._reconfigure("member add %s" % ",".join(peer_urls), self.client.clusterstub.MemberAdd,
                                 rpc_pb2.MemberAddRequest(peerURLs=list(peer_urls)))
        return "%x" % resp.member.ID

    def member_remove(self, member_id):
        self._reconfigure("member remove %s" % member_id, self.client.clusterstub.MemberRemove,
                          rpc_pb2.MemberRemoveRequest(ID=int(member_id, 16)))

    def endpoint_status(self):
        """Status of every configured endpoint (one connection each; bounded by the timeout)."""
        out = []
        for endpoint in self.endpoints:
            started = time.monotonic()
            try:
                client = self.client if endpoint == self.endpoint else self._client_for(endpoint)
                try:
                    out.append(dict(_status_fields(client, self.timeout), endpoint=endpoint, healthy=True,
                                    latency_ms=round((time.monotonic() - started) * 1000, 1)))
                finally:
                    if client is not self.client:
                        client.close()
            except grpc.RpcError as exc:
                out.append({"endpoint": endpoint, "healthy": False, "error": _describe(exc)})
        return out

    def alarms(self):
        resp = self.call("alarm list", self.client.maintenancestub.Alarm,
                         rpc_pb2.AlarmRequest(action=rpc_pb2.AlarmRequest.GET, memberID=0, alarm=rpc_pb2.NONE))
        names = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}
        return [{"member_id": "%x" % a.memberID, "alarm": names.get(a.alarm, str(a.alarm))} for a in resp.alarms]


def _status_fields(client, timeout):
    """Maintenance.Status decoded from the wire: the library's protobufs predate
    dbSizeInUse (field 9)."""
    method = client.channel.unary_unary("/etcdserverpb.Maintenance/Status", request_serializer=_identity,
                                        response_deserializer=_identity)
    f = _parse_fields(method(b"", timeout=timeout))
    header = _parse_fields(f.get(1, [b""])[0])
    return {"member_id": "%x" % header.get(2, [0])[0], "leader": "%x" % f.get(4, [0])[0],
            "version": f.get(2, [b""])[0].decode("ascii", "replace"), "db_size": f.get(3, [0])[0],
            "db_size_in_use": f.get(9, [0])[0], "raft_term": f.get(6, [0])[0]}


def rpc_pb2_grpc_auth(client):
    """The Auth service stub on the client's channel (etcd3 builds it only for password logins)."""
    stub = getattr(client, "_kamaji_auth_stub", None)
    if stub is None:
        from etcd3.etcdrpc import rpc_pb2_grpc

        stub = rpc_pb2_grpc.AuthStub(client.channel)
        client._kamaji_auth_stub = stub
    return stub


def perm_to_dict(p):
    key = p.key.decode("utf-8", "replace")
    end = p.range_end
    out = {"key": key, "type": PERMISSION_NAMES.get(p.permType, str(p.permType))}
    if end:
        out["range_end"] = end.decode("utf-8", "replace")
        out["prefix"] = end == prefix_range_end(p.key)
    else:
        out["prefix"] = False
    return out


def perm_sort_key(p):
    return (p["key"], p.get("range_end", ""), p["type"])


def normalize_permission(perm, field="permissions"):
    """User input {key, prefix, type} -> the dict role_get returns."""
    key = perm.get("key")
    if not key:
        raise EtcdError("%s: every permission needs a key" % field)
    ptype = perm.get("type") or "readwrite"
    if ptype not in PERMISSIONS:
        raise EtcdError("%s: type %r is not one of read, write, readwrite" % (field, ptype))
    out = {"key": key, "type": ptype, "prefix": bool(perm.get("prefix"))}
    if out["prefix"]:
        out["range_end"] = prefix_range_end(key).decode("utf-8", "replace")
    return out


def _transient(exc):
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    return any(t in details for t in TRANSIENT)


def _describe(exc):
    code = exc.code() if hasattr(exc, "code") else None
    details = (exc.details() if hasattr(exc, "details") else str(exc)) or ""
    name = code.name if code is not None else "ERROR"
    if name == "PERMISSION_DENIED" or "permission denied" in details:
        return "permission denied (%s); use the root client certificate for user and role management" % details
    if "certificate" in details.lower() or "handshake" in details.lower() or "ssl" in details.lower():
        return "TLS failure: %s (check that the CA, client certificate and key match and are not expired)" % details
    if "user name not found" in details:
        return ("%s (when it is the caller: the client certificate's common name must be an etcd user; "
                "user and role management need the root client certificate)" % details)
    if name == "DEADLINE_EXCEEDED":
        return "timed out"
    return "%s: %s" % (name, details)
