# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Per-tenant export and import of one key prefix (backup, restore, moving a tenant), and the
copy of a prefix from one etcd cluster to another, verified (moving a tenant).

File format, one JSON document per line: a header
``{"format": "kamaji.core/etcd-prefix/1", "prefix": "/acme/", "revision": N}``
then ``{"k": <base64 key without the prefix>, "v": <base64 value>}`` per key, in key
order. Keys are stored relative to the prefix, so an import can place them under another
prefix (another tenant name, or another etcd cluster).

The file is written through ``common.files.AtomicFile`` (0600, never half-written) and
only replaced when its data lines differ: their sha256 (the header holds the revision,
which moves with every write anywhere in etcd, so it is left out of the digest) is
computed while streaming, as the keys are never all held in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common.files import AtomicFile
from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import Client
from ansible_collections.kamaji.core.plugins.module_utils.etcd.names import validate_prefix
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError

FORMAT = "kamaji.core/etcd-prefix/1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def export_prefix(client: Client, prefix: str, dest: str, check: bool = False) -> tuple[bool, dict[str, Any]]:
    """Write the prefix to ``dest``; unchanged when the file already holds the same keys."""
    validate_prefix(prefix)
    revision = client.revision()
    body = hashlib.sha256()
    count = size = 0
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory):
        raise EtcdError("dest: directory %s does not exist" % directory)
    plen = len(prefix.encode("utf-8"))
    with AtomicFile(dest, 0o600) as out:
        out.file.write((json.dumps({"format": FORMAT, "prefix": prefix, "revision": revision}) + "\n").encode("ascii"))
        for key, value in client.export_prefix(prefix):
            line = (json.dumps({"k": _b64(key[plen:]), "v": _b64(value)}, sort_keys=True) + "\n").encode("ascii")
            body.update(line)
            out.file.write(line)
            count += 1
            size += len(key) + len(value)
        digest = body.hexdigest()
        old = read_header_and_digest(dest) if os.path.exists(dest) else None
        changed = old is None or old[1] != digest or old[0].get("prefix") != prefix
        if changed and not check:
            out.commit()
    return changed, {"prefix": prefix, "keys": count, "bytes": size, "revision": revision, "sha256": digest}


def read_header_and_digest(path: str) -> tuple[dict[str, Any], str]:
    """The header of an export and the sha256 of its data lines."""
    body = hashlib.sha256()
    with open(path, encoding="utf-8") as f:
        header = json.loads(f.readline() or "{}")
        for line in f:
            body.update(line.encode("ascii"))
    return header, body.hexdigest()


def read_dump(path: str) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
    try:
        with open(path, encoding="utf-8") as f:
            header = json.loads(f.readline())
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise EtcdError("src: %s is not a kamaji.core prefix export (format %r)" % (
                    path, header.get("format") if isinstance(header, dict) else None))
            items = []
            for n, line in enumerate(f, start=2):
                try:
                    doc = json.loads(line)
                    items.append((base64.b64decode(doc["k"], validate=True), base64.b64decode(doc["v"], validate=True)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise EtcdError("src: %s line %d is damaged (%s)" % (path, n, exc.__class__.__name__))
    except OSError as exc:
        raise EtcdError("src: cannot read %s (%s)" % (path, exc.strerror))
    except ValueError:
        raise EtcdError("src: %s has no valid header line" % path)
    return header, items


def import_prefix(client: Client, src: str, prefix: str | None = None, replace: bool = False,
                  check: bool = False) -> tuple[bool, dict[str, Any]]:
    """Load an export under ``prefix`` (default: the exported one).

    With ``replace``, keys under the prefix that are not in the export are deleted first.
    Unchanged when every key already holds the exported value (and, with ``replace``, no
    other key exists under the prefix).
    """
    header, items = read_dump(src)
    prefix = validate_prefix(prefix or header["prefix"])
    _current, to_put, extra = prefix_changes(client, prefix, sorted(items), replace)
    changed = bool(to_put or extra)
    if changed and not check:
        apply_changes(client, to_put, extra)
    return changed, {"prefix": prefix, "keys": len(items), "written": len(to_put), "deleted": len(extra),
                     "source_prefix": header["prefix"], "source_revision": header.get("revision")}


def prefix_changes(client: Client, prefix: str, items: list[tuple[bytes, bytes]],
                   replace: bool) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
    """What makes the keys under ``prefix`` hold ``items`` (keys relative to it): (keys there now,
    the puts, in the order of ``items``, of the keys whose value differs, and with ``replace`` the
    keys there that ``items`` does not hold)."""
    pb = prefix.encode("utf-8")
    wanted = [(pb + k, v) for k, v in items]
    current = dict(client.export_prefix(prefix))
    to_put = [(k, v) for k, v in wanted if current.get(k) != v]
    extra = sorted(set(current) - {k for k, _v in wanted}) if replace else []
    return len(current), to_put, extra


def apply_changes(client: Client, to_put: list[tuple[bytes, bytes]], extra: list[bytes]) -> None:
    """``prefix_changes``' deletes, then its puts (in their order, 64 per transaction)."""
    for key in extra:
        client.delete_key(key)
    client.put_many(to_put)


def in_write_order(prefix: str, rows: Iterable[tuple[bytes, bytes, int]]) -> list[tuple[bytes, bytes, int]]:
    """(key relative to ``prefix``, value, mod_revision) of ``rows`` read under it
    (``Client.export_prefix_revisions``), in the order etcd last wrote them."""
    plen = len(prefix.encode("utf-8"))
    return [(key[plen:], value, revision) for key, value, revision in sorted(rows, key=lambda kv: (kv[2], kv[0]))]


def prefix_digest(items: Iterable[tuple[bytes, bytes]]) -> str:
    """sha256 of (relative key, value) pairs in key order, each length-framed: equal on two
    clusters exactly when the prefixes hold the same keys and values."""
    body = hashlib.sha256()
    for key, value in sorted(items):
        body.update(b"%d:%s%d:%s" % (len(key), key, len(value), value))
    return body.hexdigest()


def compare_prefixes(source: Client, target: Client, prefix: str, target_prefix: str) -> dict[str, Any]:
    """The keys under ``prefix`` on ``source`` against those under ``target_prefix`` on
    ``target`` (relative keys): counts, digests, and the first keys missing, differing or extra."""
    def read(client: Client, where: str) -> dict[bytes, bytes]:
        plen = len(where.encode("utf-8"))
        return {k[plen:]: v for k, v in client.export_prefix(where)}

    have, copied = read(source, prefix), read(target, target_prefix)
    missing = sorted(set(have) - set(copied))
    differing = sorted(k for k in set(have) & set(copied) if have[k] != copied[k])
    extra = sorted(set(copied) - set(have))
    return {"keys": len(have), "target_keys": len(copied), "sha256": prefix_digest(have.items()),
            "target_sha256": prefix_digest(copied.items()),
            "missing": [k.decode("utf-8", "replace") for k in missing[:5]], "missing_count": len(missing),
            "differing": [k.decode("utf-8", "replace") for k in differing[:5]], "differing_count": len(differing),
            "extra": [k.decode("utf-8", "replace") for k in extra[:5]], "extra_count": len(extra)}


def copy_prefix(source: Client, target: Client, prefix: str, target_prefix: str | None = None,
                check: bool = False) -> tuple[bool, dict[str, Any]]:
    """Make ``target_prefix`` (default ``prefix``) on ``target`` hold exactly the keys under
    ``prefix`` on ``source``: written in the order ``source`` last wrote them, keys it does not
    hold deleted; then both read back and compared. A difference raises ``EtcdError`` naming
    the keys (the source is never written)."""
    prefix = validate_prefix(prefix)
    target_prefix = validate_prefix(target_prefix or prefix)
    items = [(k, v) for k, v, _r in in_write_order(prefix, source.export_prefix_revisions(prefix))]
    _before, to_put, extra = prefix_changes(target, target_prefix, items, replace=True)
    changed = bool(to_put or extra)
    info: dict[str, Any] = {"prefix": prefix, "target_prefix": target_prefix, "keys": len(items),
                            "written": len(to_put), "deleted": len(extra), "sha256": prefix_digest(items)}
    if check:
        return changed, info
    if changed:
        apply_changes(target, to_put, extra)
    found = compare_prefixes(source, target, prefix, target_prefix)
    if found["missing_count"] or found["differing_count"] or found["extra_count"]:
        raise EtcdError("the copy of %s into %s differs from its source: %d keys missing%s, %d differing%s, %d extra%s "
                        "(a write reached the source during the copy, or the target was written); the source is "
                        "unchanged" % (
                            prefix, target_prefix, found["missing_count"], _first(found["missing"]),
                            found["differing_count"], _first(found["differing"]), found["extra_count"],
                            _first(found["extra"])))
    info.update(keys=found["keys"], sha256=found["sha256"], verified=True)
    return changed, info


def _first(keys: list[str]) -> str:
    return " (%s)" % ", ".join(keys) if keys else ""
