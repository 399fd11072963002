# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The little of protobuf's wire format the etcd client writes and reads by hand.

A few etcd RPCs are newer than the ``etcd3`` library's generated messages (a user
without password, auth status, the member status' ``dbSizeInUse``); their messages are
encoded and decoded here and sent as raw bytes over the same gRPC channel.
"""

from __future__ import annotations

from typing import Union

from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError

# Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit.
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

# A decoded field: varints as int, every other wire type as its bytes.
Value = Union[int, bytes]  # noqa: UP007 - evaluated at import
Fields = dict[int, list[Value]]


def to_bytes(value: str | bytes) -> bytes:
    """Text as UTF-8, bytes unchanged (etcd keys, values and names are bytes)."""
    return value.encode("utf-8") if isinstance(value, str) else value


def varint(n: int) -> bytes:
    """``n`` (>= 0) as a base-128 varint."""
    if n < 0:
        raise ValueError("varint: negative numbers are not encoded here")
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def field_varint(num: int, value: int) -> bytes:
    """Field ``num`` holding the integer (or boolean) ``value``."""
    return varint((num << 3) | VARINT) + varint(value)


def field_bytes(num: int, value: str | bytes) -> bytes:
    """Field ``num`` holding a string, bytes or an embedded message."""
    raw = to_bytes(value)
    return varint((num << 3) | LENGTH) + varint(len(raw)) + raw


def read_varint(data: bytes, i: int) -> tuple[int, int]:
    """(value, index after it) of the varint at ``data[i]``."""
    shift = result = 0
    while True:
        if i >= len(data):
            raise EtcdError("truncated protobuf varint from etcd")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def parse_fields(data: bytes) -> Fields:
    """Minimal protobuf reader: {field number: [values]} in the order they came."""
    fields: Fields = {}
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        num, wire = key >> 3, key & 7
        val: Value
        if wire == VARINT:
            val, i = read_varint(data, i)
        elif wire == LENGTH:
            length, i = read_varint(data, i)
            val, i = data[i:i + length], i + length
        elif wire == FIXED64:
            val, i = data[i:i + 8], i + 8
        elif wire == FIXED32:
            val, i = data[i:i + 4], i + 4
        else:
            raise EtcdError("unexpected protobuf wire type %d from etcd" % wire)
        fields.setdefault(num, []).append(val)
    return fields


def first_int(fields: Fields, num: int, default: int = 0) -> int:
    """The first value of a varint field, ``default`` when absent."""
    values = fields.get(num)
    return values[0] if values and isinstance(values[0], int) else default


def first_bytes(fields: Fields, num: int, default: bytes = b"") -> bytes:
    """The first value of a length-delimited field, ``default`` when absent."""
    values = fields.get(num)
    return values[0] if values and isinstance(values[0], bytes) else default


def identity(data: bytes) -> bytes:
    """Serializer of raw gRPC calls: the message is already encoded."""
    return data
