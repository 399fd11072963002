"""OCI archives: deterministic, valid layout, symlinks and hard links kept."""
from __future__ import annotations

import json
import os
import tarfile

from ansible_collections.kamaji.core.plugins.module_utils.bundle import oci


def _image(tmp_path, payload=b"binary"):
    src = tmp_path / "tool"
    src.write_bytes(payload)
    layer = tmp_path / f"layer-{len(payload)}.tar"
    with open(layer, "wb") as f:
        oci.write_layer(oci.normalize_files([{"src": str(src), "dest": "/usr/local/bin/tool"}]), f)
    return oci.build_image("registry.k8s.io/tool:v1", [str(layer)], entrypoint=["/usr/local/bin/tool"])


def test_same_inputs_same_digest(tmp_path):
    assert _image(tmp_path)[2] == _image(tmp_path)[2]
    assert _image(tmp_path)[2] != _image(tmp_path, b"other")[2]


def test_archive_layout(tmp_path):
    blobs, index, digest = _image(tmp_path)
    path = tmp_path / "img.tar"
    oci.write_archive(str(path), blobs, index)
    with tarfile.open(path) as tar:
        names = tar.getnames()
        idx = json.loads(tar.extractfile("index.json").read())
    assert "oci-layout" in names and f"blobs/sha256/{digest.split(':')[1]}" in names
    assert idx["manifests"][0]["annotations"]["io.containerd.image.name"] == "registry.k8s.io/tool:v1"
    assert oci.archive_manifest_digest(str(path)) == (digest, "registry.k8s.io/tool:v1")


def test_tree_layer_keeps_links(tmp_path):
    root = tmp_path / "rootfs"
    (root / "usr" / "sbin").mkdir(parents=True)
    (root / "usr" / "sbin" / "xtables").write_bytes(b"x")
    os.link(root / "usr" / "sbin" / "xtables", root / "usr" / "sbin" / "xtables-hard")
    os.symlink("xtables", root / "usr" / "sbin" / "iptables")
    os.symlink("usr/sbin", root / "sbin")
    out = tmp_path / "layer.tar"
    with open(out, "wb") as f:
        oci.write_tree_layer(str(root), f)
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["usr/sbin/iptables"].issym() and members["usr/sbin/iptables"].linkname == "xtables"
    assert members["sbin"].issym()
    assert members["usr/sbin/xtables-hard"].islnk() or members["usr/sbin/xtables"].islnk()
