# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The offline bundle's manifest: versions, and the sha256 of every file."""

from __future__ import annotations

import json
import os
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common.files import atomic_write, sha256_file

MANIFEST = "manifest.json"

Manifest = dict[str, Any]


class BundleError(Exception):
    pass


def bundle_files(directory: str) -> list[str]:
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


def build_manifest(directory: str, versions: dict[str, Any] | None, images: dict[str, str] | None = None,
                   packages: dict[str, Any] | None = None) -> Manifest:
    if not os.path.isdir(directory):
        raise BundleError("path: %s is not a directory" % directory)
    files = {}
    for rel in bundle_files(directory):
        path = os.path.join(directory, rel)
        files[rel] = {"sha256": sha256_file(path), "size": os.path.getsize(path)}
    return {"format": 1, "versions": dict(versions or {}), "images": dict(images or {}),
            "packages": dict(packages or {}), "files": files}


def read_manifest(directory: str) -> Manifest:
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise BundleError("%s: cannot be read (%s); build the bundle first" % (path, exc.strerror))
    except ValueError:
        raise BundleError("%s: is not valid JSON; rebuild the bundle" % path)
    if not isinstance(data, dict):
        raise BundleError("%s: is not a manifest (a JSON object); rebuild the bundle" % path)
    return data


def verify(directory: str, manifest: Manifest | None = None) -> list[str]:
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


def render(manifest: Manifest) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def write(directory: str, versions: dict[str, Any] | None, images: dict[str, str] | None,
          packages: dict[str, Any] | None, check: bool = False) -> tuple[bool, Manifest | None, Manifest]:
    """Write the manifest of ``directory`` when it differs; returns (changed, before, after).

    ``before`` is None when there was no manifest, ``{}`` when it could not be read.
    Every image archive named in ``images`` must be a file of the bundle.
    """
    for ref, rel in (images or {}).items():
        if not os.path.isfile(os.path.join(directory, rel)):
            raise BundleError("images: %s points to %s, which is not in the bundle" % (ref, rel))
    after = build_manifest(directory, versions, images, packages)
    before: Manifest | None = None
    if os.path.exists(os.path.join(directory, MANIFEST)):
        try:
            before = read_manifest(directory)
        except BundleError:
            before = {}
    changed = before != after
    if changed and not check:
        atomic_write(os.path.join(directory, MANIFEST), render(after), 0o644)
    return changed, before, after


def diff(before: Manifest | None, after: Manifest) -> dict[str, dict[str, Any]]:
    """Files added, removed or changed (each side lists its own), and the versions."""
    old_files = (before or {}).get("files", {})
    old, new = set(old_files), set(after["files"])
    modified = sorted(f for f in old & new if old_files[f] != after["files"][f])
    return {"before": {"files": sorted(old - new) + modified, "versions": (before or {}).get("versions")},
            "after": {"files": sorted(new - old) + modified, "versions": after["versions"]}}
