# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The offline bundle's manifest: versions, and the sha256 of every file."""

from __future__ import annotations

import hashlib
import json
import os

MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class BundleError(Exception):
    pass


def sha256_file(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            sha.update(chunk)
    return sha.hexdigest()


def bundle_files(directory):
    """Relative paths of every regular file in the bundle but the manifest, sorted."""
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            rel = os.path.relpath(os.path.join(root, name), directory)
            if rel != MANIFEST:
                out.append(rel)
    return sorted(out)


def build_manifest(directory, versions, images=None, packages=None):
    if not os.path.isdir(directory):
        raise BundleError("path: %s is not a directory" % directory)
    files = {}
    for rel in bundle_files(directory):
        path = os.path.join(directory, rel)
        files[rel] = {"sha256": sha256_file(path), "size": os.path.getsize(path)}
    return {"format": 1, "versions": dict(versions or {}), "images": dict(images or {}),
            "packages": dict(packages or {}), "files": files}


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise BundleError("%s: cannot be read (%s); build the bundle first" % (path, exc.strerror))
    except ValueError:
        raise BundleError("%s: is not valid JSON; rebuild the bundle" % path)


def verify(directory, manifest=None):
    """Every problem found, each naming the file: missing, wrong size, wrong checksum."""
    manifest = manifest or read_manifest(directory)
    problems = []
    for rel, want in sorted(manifest.get("files", {}).items()):
        path = os.path.join(directory, rel)
        if not os.path.isfile(path):
            problems.append("%s: missing" % rel)
            continue
        if os.path.getsize(path) != want["size"]:
            problems.append("%s: size %d, manifest says %d" % (rel, os.path.getsize(path), want["size"]))
            continue
        got = sha256_file(path)
        if got != want["sha256"]:
            problems.append("%s: sha256 %s, manifest says %s" % (rel, got, want["sha256"]))
    return problems


def render(manifest):
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"
