# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Assemble OCI image archives locally, without a registry or a container engine.

An image is one or more layers (tar streams of files) plus a config and a manifest,
packed as an OCI image layout in a single tar file that ``ctr images import`` and
``podman load`` accept. Everything is deterministic (fixed mtimes, owners and order),
so the same inputs give the same digests and the archive is only rewritten when its
content changes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, Any, Protocol, Union, cast

from ansible_collections.kamaji.core.plugins.module_utils.common.files import atomic_file, sha256_bytes, sha256_file

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
CHUNK = 1024 * 1024

# {"src", "dest", "mode", "content"} after normalize_files
FileEntry = dict[str, Any]
# {"path" (None when only the digest matters), "digest", "size"}
Layer = dict[str, Any]
# digest -> content, or path of a file holding it
Blobs = dict[str, Union[bytes, str]]  # noqa: UP007 - evaluated at import


class OCIError(Exception):
    pass


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _digest(data: bytes) -> str:
    return "sha256:" + sha256_bytes(data)


def _tarinfo(name: str, size: int = 0, mode: int = 0o644, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.type = kind
    info.linkname = linkname
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


class _HashingWriter:
    """File wrapper computing sha256 and size of what is written."""

    def __init__(self, f: Sink) -> None:
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()

    def tar(self) -> tarfile.TarFile:
        """A streaming tar writer over this file."""
        return tarfile.open(fileobj=cast(IO[bytes], self), mode="w|", format=tarfile.PAX_FORMAT)

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


class NullSink:
    """A file that keeps nothing: hashing a layer stream without writing it."""

    def write(self, data: bytes, /) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def _mode(value: Any) -> int:
    return int(value, 8) if isinstance(value, str) else int(value)


def normalize_files(files: Sequence[dict[str, Any]]) -> list[FileEntry]:
    """Validate ``[{src, dest, mode}]`` and return them sorted by destination."""
    out = []
    for i, entry in enumerate(files):
        src, dest = entry.get("src"), entry.get("dest")
        if not dest or not str(dest).startswith("/"):
            raise OCIError("files[%d].dest: an absolute path inside the image is required" % i)
        if src is not None and not os.path.isfile(src):
            raise OCIError("files[%d].src: %s is not a file" % (i, src))
        mode = entry.get("mode")
        try:
            out.append({"src": src, "dest": str(dest), "mode": _mode("0755" if mode is None else mode),
                        "content": entry.get("content")})
        except ValueError:
            raise OCIError("files[%d].mode: %r is not an octal file mode" % (i, mode))
    return sorted(out, key=lambda e: e["dest"])


def write_layer(files: Sequence[FileEntry], out: Sink) -> tuple[str, int]:
    """Write a layer tar of ``files`` to the open binary file ``out``; return (digest, size)."""
    writer = _HashingWriter(out)
    with writer.tar() as tar:
        made = set()
        for entry in files:
            parts = entry["dest"].strip("/").split("/")
            for depth in range(1, len(parts)):
                d = "/".join(parts[:depth])
                if d not in made:
                    made.add(d)
                    tar.addfile(_tarinfo(d, mode=0o755, kind=tarfile.DIRTYPE))
            name = "/".join(parts)
            if entry.get("content") is not None:
                data = entry["content"].encode("utf-8") if isinstance(entry["content"], str) else entry["content"]
                tar.addfile(_tarinfo(name, len(data), entry["mode"]), io.BytesIO(data))
            else:
                with open(entry["src"], "rb") as f:
                    tar.addfile(_tarinfo(name, os.path.getsize(entry["src"]), entry["mode"]), f)
    return writer.digest(), writer.size


def write_tree_layer(root: str, out: Sink) -> tuple[str, int]:
    """A layer holding the directory tree ``root`` (regular files, directories, symlinks,
    hard links); device nodes and sockets are left out. Deterministic."""
    writer = _HashingWriter(out)
    seen: dict[tuple[int, int], str] = {}
    with writer.tar() as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            if rel_dir != ".":
                st = os.lstat(dirpath)
                tar.addfile(_tarinfo(rel_dir, mode=st.st_mode & 0o7777, kind=tarfile.DIRTYPE))
            for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
                path = os.path.join(dirpath, name)
                rel = os.path.normpath(os.path.join(rel_dir, name))
                st = os.lstat(path)
                if os.path.islink(path):
                    tar.addfile(_tarinfo(rel, kind=tarfile.SYMTYPE, mode=0o777, linkname=os.readlink(path)))
                elif stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in seen:
                        tar.addfile(_tarinfo(rel, kind=tarfile.LNKTYPE, mode=st.st_mode & 0o7777, linkname=seen[key]))
                        continue
                    seen[key] = rel
                    with open(path, "rb") as f:
                        tar.addfile(_tarinfo(rel, st.st_size, st.st_mode & 0o7777), f)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return writer.digest(), writer.size


def digest_file(path: str) -> str:
    return "sha256:" + sha256_file(path)


def image_reference(repository: str, name: str, tag: str) -> str:
    repository = repository.rstrip("/")
    return "%s/%s:%s" % (repository, name, tag) if repository else "%s:%s" % (name, tag)


def layer_from_file(path: str) -> Layer:
    """Descriptor of a layer tar already on disk."""
    return {"path": path, "digest": digest_file(path), "size": os.path.getsize(path)}


def build_image(reference: str, layers: Sequence[str | Layer], entrypoint: Sequence[str] | None = None,
                cmd: Sequence[str] | None = None, env: Sequence[str] | None = None, user: str = "0",
                workdir: str = "/", architecture: str = "amd64",
                labels: dict[str, str] | None = None) -> tuple[Blobs, dict[str, Any], str]:
    """Describe an image. ``layers`` holds layer tar paths or descriptors
    ``{"path", "digest", "size"}`` (``path`` may be None when only the digests matter).

    Returns (blobs, index, manifest digest) where ``blobs`` maps digest -> bytes or path.
    """
    blobs: Blobs = {}
    diff_ids, layer_descs = [], []
    for layer in layers:
        desc = layer_from_file(layer) if isinstance(layer, str) else layer
        diff_ids.append(desc["digest"])
        layer_descs.append({"mediaType": LAYER_MEDIA_TYPE, "digest": desc["digest"], "size": desc["size"]})
        blobs[desc["digest"]] = desc["path"]
    image_config: dict[str, Any] = {"Env": list(env or DEFAULT_ENV), "User": user, "WorkingDir": workdir,
                                    "Labels": dict(labels or {})}
    if entrypoint:
        image_config["Entrypoint"] = list(entrypoint)
    if cmd:
        image_config["Cmd"] = list(cmd)
    config = {
        "architecture": architecture,
        "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "created": "1970-01-01T00:00:00Z",
    }
    config_bytes = _canonical(config)
    config_digest = _digest(config_bytes)
    blobs[config_digest] = config_bytes
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
                "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": len(config_bytes)},
                "layers": layer_descs}
    manifest_bytes = _canonical(manifest)
    manifest_digest = _digest(manifest_bytes)
    blobs[manifest_digest] = manifest_bytes
    tag = reference.rsplit(":", 1)[1] if ":" in reference.rsplit("/", 1)[-1] else "latest"
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [{
        "mediaType": MANIFEST_MEDIA_TYPE, "digest": manifest_digest, "size": len(manifest_bytes),
        "platform": {"architecture": architecture, "os": "linux"},
        "annotations": {"io.containerd.image.name": reference, "org.opencontainers.image.ref.name": tag},
    }]}
    return blobs, index, manifest_digest


def write_archive(path: str, blobs: Blobs, index: dict[str, Any]) -> None:
    """Write the OCI layout as one tar file, atomically."""
    with atomic_file(path, 0o644) as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
        layout = _canonical({"imageLayoutVersion": "1.0.0"})
        tar.addfile(_tarinfo("oci-layout", len(layout)), io.BytesIO(layout))
        index_bytes = _canonical(index)
        tar.addfile(_tarinfo("index.json", len(index_bytes)), io.BytesIO(index_bytes))
        tar.addfile(_tarinfo("blobs", mode=0o755, kind=tarfile.DIRTYPE))
        tar.addfile(_tarinfo("blobs/sha256", mode=0o755, kind=tarfile.DIRTYPE))
        for digest in sorted(blobs):
            blob = blobs[digest]
            name = "blobs/sha256/" + digest.split(":", 1)[1]
            if isinstance(blob, bytes):
                tar.addfile(_tarinfo(name, len(blob)), io.BytesIO(blob))
            else:
                with open(blob, "rb") as bf:
                    tar.addfile(_tarinfo(name, os.path.getsize(blob)), bf)


def archive_manifest_digest(path: str) -> tuple[str | None, str | None]:
    """The manifest digest and image name recorded in an existing archive, or (None, None)."""
    try:
        with tarfile.open(path, "r") as tar:
            member = tar.extractfile("index.json")
            if member is None:
                return None, None
            index = json.loads(member.read())
        desc = index["manifests"][0]
        return desc["digest"], desc.get("annotations", {}).get("io.containerd.image.name")
    except (OSError, KeyError, ValueError, IndexError, tarfile.TarError):
        return None, None


def assemble(reference: str, dest: str, files: Sequence[dict[str, Any]], base_layers: Sequence[str] = (),
             base_rootfs: str | None = None, entrypoint: Sequence[str] | None = None, cmd: Sequence[str] | None = None,
             env: Sequence[str] | None = None, architecture: str = "amd64",
             check: bool = False) -> tuple[bool, dict[str, str | None], dict[str, str | None]]:
    """Write the image archive ``dest`` when its manifest digest or name differs.

    Layers, bottom to top: ``base_rootfs`` (a directory tree), ``base_layers`` (tar files),
    ``files``. The digest is computed by hashing the layer streams without writing them, so
    an unchanged image (and check mode) writes nothing. Returns (changed, before, after),
    each ``{"digest", "reference"}``.
    """
    if not files and not base_layers and not base_rootfs:
        raise OCIError("files: give at least one file, base layer or base root file system")
    if base_rootfs and not os.path.isdir(base_rootfs):
        raise OCIError("base_rootfs: %s is not a directory" % base_rootfs)
    for i, layer in enumerate(base_layers):
        if not os.path.isfile(layer):
            raise OCIError("base_layers[%d]: %s is not a file" % (i, layer))
    entries = normalize_files(files)
    dest_dir = os.path.dirname(dest) or "."
    if not os.path.isdir(dest_dir):
        raise OCIError("dest: directory %s does not exist" % dest_dir)

    writers: list[Callable[[Sink], tuple[str, int]]] = []
    if base_rootfs:
        rootfs = base_rootfs
        writers.append(lambda f: write_tree_layer(rootfs, f))
    if entries:
        writers.append(lambda f: write_layer(entries, f))

    def layers(tmp: str | None) -> list[Layer]:
        """Layer descriptors; without ``tmp`` (a directory) the streams are only hashed."""
        produced = []
        for n, write in enumerate(writers):
            if tmp is None:
                digest, size = write(NullSink())
                produced.append({"path": None, "digest": digest, "size": size})
                continue
            path = os.path.join(tmp, "layer-%d.tar" % n)
            with open(path, "wb") as f:
                digest, size = write(f)
            produced.append({"path": path, "digest": digest, "size": size})
        given = [layer_from_file(path) for path in base_layers]
        # the root file system is the bottom layer, the files the top one
        return (produced[:1] if base_rootfs else []) + given + (produced[-1:] if entries else [])

    def describe(descs: list[Layer]) -> tuple[Blobs, dict[str, Any], str]:
        return build_image(reference, descs, entrypoint, cmd, env, architecture=architecture)

    old_digest, old_ref = archive_manifest_digest(dest) if os.path.exists(dest) else (None, None)
    digest = describe(layers(None))[2]
    changed = digest != old_digest or old_ref != reference
    if changed and not check:
        with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".layers-") as tmp:
            blobs, index, digest = describe(layers(tmp))
            write_archive(dest, blobs, index)
    return changed, {"digest": old_digest, "reference": old_ref}, {"digest": digest, "reference": reference}
