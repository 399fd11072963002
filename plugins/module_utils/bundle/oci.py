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
import tarfile
import tempfile

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
DEFAULT_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
CHUNK = 1024 * 1024


class OCIError(Exception):
    pass


def _canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _tarinfo(name, size=0, mode=0o644, kind=tarfile.REGTYPE, linkname=""):
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

    def __init__(self, f):
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.f.write(data)

    def flush(self):
        self.f.flush()


class NullSink:
    """A file that keeps nothing: hashing a layer stream without writing it."""

    def write(self, data):
        return len(data)

    def flush(self):
        pass


def normalize_files(files):
    """Validate ``[{src, dest, mode}]`` and return them sorted by destination."""
    out = []
    for i, entry in enumerate(files):
        src, dest = entry.get("src"), entry.get("dest")
        if not dest or not str(dest).startswith("/"):
            raise OCIError("files[%d].dest: an absolute path inside the image is required" % i)
        if src is not None and not os.path.isfile(src):
            raise OCIError("files[%d].src: %s is not a file" % (i, src))
        out.append({"src": src, "dest": str(dest), "mode": int(str(entry.get("mode", "0755")), 8)
                    if isinstance(entry.get("mode", "0755"), str) else int(entry["mode"]),
                    "content": entry.get("content")})
    return sorted(out, key=lambda e: e["dest"])


def write_layer(files, out):
    """Write a layer tar of ``files`` to the open binary file ``out``; return (digest, size)."""
    writer = _HashingWriter(out)
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
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
    return "sha256:" + writer.sha.hexdigest(), writer.size


def write_tree_layer(root, out):
    """A layer holding the directory tree ``root`` (regular files, directories, symlinks,
    hard links); device nodes and sockets are left out. Deterministic."""
    writer = _HashingWriter(out)
    seen = {}
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
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
                elif tarfile.stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in seen:
                        tar.addfile(_tarinfo(rel, kind=tarfile.LNKTYPE, mode=st.st_mode & 0o7777, linkname=seen[key]))
                        continue
                    seen[key] = rel
                    with open(path, "rb") as f:
                        tar.addfile(_tarinfo(rel, st.st_size, st.st_mode & 0o7777), f)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return "sha256:" + writer.sha.hexdigest(), writer.size


def digest_file(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def image_reference(repository, name, tag):
    repository = repository.rstrip("/")
    return "%s/%s:%s" % (repository, name, tag) if repository else "%s:%s" % (name, tag)


def layer_from_file(path):
    """Descriptor of a layer tar already on disk."""
    return {"path": path, "digest": digest_file(path), "size": os.path.getsize(path)}


def build_image(reference, layers, entrypoint=None, cmd=None, env=None, user="0", workdir="/",
                architecture="amd64", labels=None):
    """Describe an image. ``layers`` holds layer tar paths or descriptors
    ``{"path", "digest", "size"}`` (``path`` may be None when only the digests matter).

    Returns (blobs, index, manifest digest) where ``blobs`` maps digest -> bytes or path.
    """
    blobs, diff_ids, layer_descs = {}, [], []
    for layer in layers:
        desc = layer_from_file(layer) if isinstance(layer, str) else layer
        diff_ids.append(desc["digest"])
        layer_descs.append({"mediaType": LAYER_MEDIA_TYPE, "digest": desc["digest"], "size": desc["size"]})
        blobs[desc["digest"]] = desc["path"]
    config = {
        "architecture": architecture,
        "os": "linux",
        "config": {"Env": list(env or DEFAULT_ENV), "User": user, "WorkingDir": workdir,
                   "Labels": dict(labels or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "created": "1970-01-01T00:00:00Z",
    }
    if entrypoint:
        config["config"]["Entrypoint"] = list(entrypoint)
    if cmd:
        config["config"]["Cmd"] = list(cmd)
    config_bytes = _canonical(config)
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    blobs[config_digest] = config_bytes
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
                "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": len(config_bytes)},
                "layers": layer_descs}
    manifest_bytes = _canonical(manifest)
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    blobs[manifest_digest] = manifest_bytes
    tag = reference.rsplit(":", 1)[1] if ":" in reference.rsplit("/", 1)[-1] else "latest"
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [{
        "mediaType": MANIFEST_MEDIA_TYPE, "digest": manifest_digest, "size": len(manifest_bytes),
        "platform": {"architecture": architecture, "os": "linux"},
        "annotations": {"io.containerd.image.name": reference, "org.opencontainers.image.ref.name": tag},
    }]}
    return blobs, index, manifest_digest


def write_archive(path, blobs, index):
    """Write the OCI layout as one tar file, atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".oci-")
    try:
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
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
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def archive_manifest_digest(path):
    """The manifest digest and image name recorded in an existing archive, or (None, None)."""
    try:
        with tarfile.open(path, "r") as tar:
            member = tar.extractfile("index.json")
            index = json.loads(member.read())
        desc = index["manifests"][0]
        return desc["digest"], desc.get("annotations", {}).get("io.containerd.image.name")
    except (OSError, KeyError, ValueError, IndexError, tarfile.TarError):
        return None, None
