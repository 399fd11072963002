# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""One tenant's backup: an archive holding everything that makes the tenant, and nothing else.

The archive (``<tenant>-<UTC time>.tenant-backup.tar``, mode 0600) holds four members:

- ``manifest.json``: the format, the tenant's name and etcd prefix, when it was made, the etcd
  revision it was read at, the counts, and the sha256 of every other member (read back first:
  a damaged or altered archive is refused before anything changes);
- ``etcd.jsonl``: every key under the tenant's prefix (relative to it) with its value, in the
  order etcd last wrote them (their ``mod_revision``), so a restore writes them in that order;
- ``spec.json``: the spec the tenants play applied (the tenant's record), for the operator and
  for a restore's check that it restores the tenant it names;
- ``secrets.sealed``: the tenant's Namespace and Secrets in the admin cluster (its CAs and
  keys, its kubeconfigs, its encryption keys), sealed with the operator's backup key (AES-256-GCM, a
  32-byte key; the tenant's name and the time the archive was made are authenticated with
  it). Values in ``etcd.jsonl`` that the tenant's encryption key sealed stay sealed: the
  archive reads back nothing in the clear without the backup key.

A restore needs the archive and the same backup key; the tenant comes back with the same CA,
so its joined workers and the kubeconfigs issued before keep working.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import importlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import deps, retention
from ansible_collections.kamaji.core.plugins.module_utils.common.files import AtomicFile
from ansible_collections.kamaji.core.plugins.module_utils.etcd import dump
from ansible_collections.kamaji.core.plugins.module_utils.etcd.names import tenant_names

# cryptography's AES-GCM (the module fails cleanly without the library)
AEAD = deps.Dependency("cryptography", loader=lambda: importlib.import_module(
    "cryptography.hazmat.primitives.ciphers.aead").AESGCM)

FORMAT = "kamaji.core/tenant-backup/1"
KEY_BYTES = 32
NONCE_BYTES = 12
SUFFIX = ".tenant-backup.tar"
MANIFEST, ETCD, SPEC, SECRETS = "manifest.json", "etcd.jsonl", "spec.json", "secrets.sealed"
MEMBERS = (ETCD, SPEC, SECRETS)
# the tenant's Secrets in the admin cluster (tenant/secrets.py names them)
MAKE_KEY = "head -c 32 /dev/urandom | base64"


class BackupError(ValueError):
    """A backup that cannot be made or read back; the message names the field or the file."""


def check_key(value: object, field: str) -> bytes:
    """The operator's backup key: 32 bytes, base64-encoded."""
    if not isinstance(value, str) or not value.strip():
        raise BackupError("%s: the backup key is required: 32 random bytes, base64-encoded (%s); keep it in a "
                          "vault, a restore needs the same key" % (field, MAKE_KEY))
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BackupError("%s: not base64 (make one with: %s)" % (field, MAKE_KEY))
    if len(key) != KEY_BYTES:
        raise BackupError("%s: the backup key is %d bytes, it must be %d (make one with: %s)"
                          % (field, len(key), KEY_BYTES, MAKE_KEY))
    return key


def _aad(manifest: Mapping[str, Any]) -> bytes:
    return json.dumps({"tenant": manifest["tenant"], "created": manifest["created"]}, sort_keys=True).encode("utf-8")


def seal(key: bytes, plaintext: bytes, manifest: Mapping[str, Any]) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AEAD.module(key).encrypt(nonce, plaintext, _aad(manifest))


def unseal(key: bytes, blob: bytes, manifest: Mapping[str, Any], field: str) -> bytes:
    try:
        return bytes(AEAD.module(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(manifest)))
    except Exception:  # cryptography's InvalidTag, or a blob too short
        raise BackupError("%s: the archive's Secrets cannot be opened with this key: it is not the backup key "
                          "the archive was made with" % field)


def archive_name(tenant: str, created: datetime.datetime) -> str:
    return "%s-%s%s" % (tenant, created.strftime(retention.TIME_FORMAT), SUFFIX)


def etcd_member(prefix: str, kvs: Iterable[tuple[bytes, bytes, int]]) -> tuple[bytes, int, int]:
    """(``etcd.jsonl``, keys, bytes) from (key, value, mod_revision) read under ``prefix``."""
    plen = len(prefix.encode("utf-8"))
    lines, size = [], 0
    for key, value, revision in dump.in_write_order(prefix, kvs):
        lines.append(json.dumps({"k": base64.b64encode(key).decode("ascii"),
                                 "v": base64.b64encode(value).decode("ascii"), "r": revision}, sort_keys=True))
        size += plen + len(key) + len(value)
    return ("\n".join(lines) + "\n" if lines else "").encode("ascii"), len(lines), size


def etcd_items(data: bytes, path: str) -> list[tuple[bytes, bytes]]:
    """(key relative to the prefix, value) from ``etcd.jsonl``, in the order they were written."""
    out = []
    for n, line in enumerate(data.decode("ascii", "replace").splitlines(), start=1):
        try:
            doc = json.loads(line)
            out.append((base64.b64decode(doc["k"], validate=True), base64.b64decode(doc["v"], validate=True)))
        except (ValueError, KeyError, TypeError):
            raise BackupError("%s: %s line %d is damaged" % (path, ETCD, n))
    return out


def write_archive(path: str, manifest: dict[str, Any], members: Mapping[str, bytes]) -> str:
    """Write the archive atomically (0600); returns its sha256."""
    manifest = dict(manifest, format=FORMAT, sha256={n: hashlib.sha256(members[n]).hexdigest() for n in MEMBERS})
    mtime = int(datetime.datetime.strptime(manifest["created"], "%Y-%m-%dT%H:%M:%SZ")
                .replace(tzinfo=datetime.UTC).timestamp())
    with AtomicFile(path, 0o600) as out:
        with tarfile.open(fileobj=out.file, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in ((MANIFEST, (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode("utf-8")),
                               *((n, members[n]) for n in MEMBERS)):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o600, mtime
                tar.addfile(info, io.BytesIO(data))
        out.commit()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_archive(path: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(manifest, members) of an archive, every member checked against the manifest's sha256."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            members = {}
            for info in tar.getmembers():
                f = tar.extractfile(info) if info.isfile() else None
                if f is not None:
                    members[info.name] = f.read()
    except (OSError, tarfile.TarError) as exc:
        raise BackupError("%s: not a readable tenant backup (%s)" % (path, exc))
    try:
        manifest = json.loads(members.get(MANIFEST, b"").decode("utf-8"))
    except ValueError:
        raise BackupError("%s: its %s is missing or damaged" % (path, MANIFEST))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("%s: not a kamaji.core tenant backup (format %r)"
                          % (path, manifest.get("format") if isinstance(manifest, dict) else None))
    for name in MEMBERS:
        want = (manifest.get("sha256") or {}).get(name)
        if name not in members or hashlib.sha256(members[name]).hexdigest() != want:
            raise BackupError("%s: member %s is missing or does not match the manifest's sha256 (a damaged or "
                              "altered archive)" % (path, name))
    return manifest, members


def _archives(names: Iterable[str], tenant: str) -> list[str]:
    """The archive names of ``tenant``, oldest first (their names sort by time)."""
    return retention.dated(names, tenant, SUFFIX)


def expired(names: Iterable[str], tenant: str, keep: int) -> list[str]:
    """The archives of ``tenant`` beyond the ``keep`` newest; ``keep`` 0 keeps them all."""
    return retention.beyond_newest(names, tenant, SUFFIX, keep)


def archive_path(path: str, tenant: str) -> str:
    """``path`` itself, or when it is a directory the newest archive of ``tenant`` in it."""
    if not os.path.isdir(path):
        return path
    mine = _archives(os.listdir(path), tenant)
    if not mine:
        raise BackupError("path: %s holds no archive of tenant %s (%s<time>%s)" % (path, tenant, tenant + "-", SUFFIX))
    return os.path.join(path, mine[-1])


# what an object keeps in the archive: what a restore applies (the API server fills in the rest)
KEPT_METADATA = ("name", "namespace", "labels")


def kept_objects(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        kept: dict[str, Any] = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                                "metadata": {k: meta[k] for k in KEPT_METADATA if meta.get(k)}}
        for key in ("type", "data"):
            if key in obj:
                kept[key] = obj[key]
        out.append(kept)
    # the Namespace first: the Secrets are applied into it
    return sorted(out, key=lambda o: (o["kind"] != "Namespace", str(o["kind"]), str(o["metadata"].get("name"))))


def create(client: Any, name: str, key: str, objects: Iterable[Mapping[str, Any]], spec: Mapping[str, Any] | None,
           directory: str, keep: int, check: bool = False) -> dict[str, Any]:
    """Write the archive of tenant ``name`` into ``directory`` and prune its older ones (``keep``);
    the result the module returns (always changed: every run makes an archive)."""
    prefix = tenant_names(name)[0]
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    revision = client.revision()
    etcd_data, keys, size = etcd_member(prefix, client.export_prefix_revisions(prefix))
    manifest = {"tenant": name, "prefix": prefix, "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "revision": revision, "keys": keys, "bytes": size}
    sealed = seal(check_key(key, "backup_key"), json.dumps(kept_objects(objects), sort_keys=True).encode("utf-8"),
                  manifest)
    path = os.path.join(directory, archive_name(name, now))
    result: dict[str, Any] = dict(changed=True, path=path, keys=keys, bytes=size, revision=revision,
                                  created=manifest["created"])
    if check:
        result["removed"] = expired([*os.listdir(directory), os.path.basename(path)], name, keep)
        return result
    result["sha256"] = write_archive(path, manifest, {
        ETCD: etcd_data, SPEC: json.dumps(spec or {}, sort_keys=True, indent=2).encode("utf-8"), SECRETS: sealed})
    result["removed"] = expired(os.listdir(directory), name, keep)
    for old in result["removed"]:
        os.unlink(os.path.join(directory, old))
    return result


def restore(client: Any, name: str, key: str, path: str, overwrite: bool, check: bool = False) -> dict[str, Any]:
    """Check and open the archive (``path``, or the newest of the tenant in that directory), then
    write the tenant's keys back in their order; BackupError before anything changes. The result
    holds the objects to apply (keys in them)."""
    prefix = tenant_names(name)[0]
    path = archive_path(path, name)
    manifest, members = read_archive(path)
    if manifest.get("tenant") != name:
        raise BackupError("name: %s, but %s is a backup of tenant %s" % (name, path, manifest.get("tenant")))
    objects = json.loads(unseal(check_key(key, "backup_key"), members[SECRETS], manifest, "backup_key"))
    current, to_put, extra = dump.prefix_changes(client, prefix, etcd_items(members[ETCD], path), replace=True)
    if current and not overwrite:
        raise BackupError("overwrite: etcd holds %d keys under %s (a live tenant, or what is left of one); restoring "
                          "over them needs the guard (overwrite: true), nothing was changed" % (current, prefix))
    if not check:
        dump.apply_changes(client, to_put, extra)
    return dict(changed=bool(to_put or extra), path=path, keys=manifest["keys"], bytes=manifest["bytes"],
                revision=manifest["revision"], created=manifest["created"], written=len(to_put),
                deleted=len(extra), objects=objects, spec=json.loads(members[SPEC] or b"{}"))
