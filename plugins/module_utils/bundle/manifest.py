# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The offline bundle's manifest: versions, and the sha256 of every file."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common.files import atomic_write, sha256_file

MANIFEST = "manifest.json"
# The fix every "the bundle lacks or spoils something" message ends with.
REBUILD = "the kamaji.core.offline_bundle playbook"

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
                   packages: dict[str, Any] | None = None, kubernetes: dict[str, str] | None = None) -> Manifest:
    if not os.path.isdir(directory):
        raise BundleError("path: %s is not a directory" % directory)
    files = {}
    for rel in bundle_files(directory):
        path = os.path.join(directory, rel)
        files[rel] = {"sha256": sha256_file(path), "size": os.path.getsize(path)}
    out = {"format": 1, "versions": dict(versions or {}), "images": dict(images or {}),
           "packages": dict(packages or {}), "files": files}
    if kubernetes:
        out["kubernetes"] = dict(kubernetes)
    return out


def kubernetes_dirs(manifest: Manifest) -> dict[str, str]:
    """Every Kubernetes version the bundle holds -> the directory of its node binaries.

    A bundle holds one Kubernetes version in ``bin`` (``versions.kubernetes``) and may hold
    older ones, each in a directory of its own, listed under the manifest's ``kubernetes``.
    """
    out = dict(manifest.get("kubernetes") or {})
    primary = (manifest.get("versions") or {}).get("kubernetes")
    if primary and primary not in out:
        out[primary] = "bin"
    return out


def kubernetes_files(manifest: Manifest, version: str, binaries: Sequence[str]) -> dict[str, str]:
    """``binaries`` of Kubernetes ``version`` -> their paths in the bundle (empty: not held)."""
    where = kubernetes_dirs(manifest).get(version)
    return {name: "%s/%s" % (where, name) for name in binaries} if where else {}


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


def _component(rel: str) -> str:
    """What a user calls a bundle file: bin/kubelet -> kubelet, images/pause.tar -> pause.tar."""
    return os.path.basename(rel)


def check(directory: str, variable: str = "path", require: Sequence[str] = (), images: Sequence[str] = (),
          versions: Mapping[str, str] | None = None, kubernetes_binaries: Sequence[str] = (),
          kubernetes_versions: Sequence[str] = ()) -> Manifest:
    """The bundle at ``directory`` holds what a role needs, before anything is installed from it.

    ``require``: files relative to the bundle (``bin/kubelet``); ``images``: image references of
    the manifest's image index (their archives are checked like ``require``); ``versions``: the
    versions the bundle must hold (empty values are not checked; ``kubernetes`` may be any of the
    Kubernetes versions the bundle holds); ``kubernetes_versions``: more Kubernetes versions the
    bundle must hold; ``kubernetes_binaries``: node binaries of each of these Kubernetes versions,
    required like ``require``. Every required file must be
    listed in manifest.json, present and match its sha256. Raises BundleError with one line
    naming ``variable`` (the variable that holds ``directory``), what is wrong and the fix; the
    first kind of problem found wins (directory, manifest, versions, missing, corrupted), every
    item of that kind is named. Returns the manifest.
    """
    if not directory:
        raise BundleError("%s: empty; set it to the offline bundle's directory on the controller (made by %s)"
                          % (variable, REBUILD))
    if not os.path.exists(directory):
        raise BundleError("%s: %s does not exist; build the offline bundle there with %s (offline_bundle_dir) "
                          "or set %s to an existing bundle" % (variable, directory, REBUILD, variable))
    if not os.path.isdir(directory):
        raise BundleError("%s: %s is not a directory; set %s to the offline bundle's directory (made by %s)"
                          % (variable, directory, variable, REBUILD))
    if not os.path.isfile(os.path.join(directory, MANIFEST)):
        raise BundleError("%s: %s is not an offline bundle (its %s cannot be read: no such file); build one there with %s "
                          "or set %s to one" % (variable, directory, MANIFEST, REBUILD, variable))
    try:
        manifest = read_manifest(directory)
    except BundleError as exc:
        raise BundleError("%s: %s with %s" % (variable, exc, REBUILD))
    have = manifest.get("versions") or {}
    kube = kubernetes_dirs(manifest)

    def held_by_bundle(name: str, want: str) -> bool:
        return want in kube if name == "kubernetes" else have.get(name) == want

    def held_versions(name: str) -> str:
        held = sorted(kube, key=_version_key, reverse=True) if name == "kubernetes" else [str(have.get(name) or "")]
        return " and ".join(v for v in held if v) or "none"

    kube_wanted = list(dict.fromkeys([v for v in [(versions or {}).get("kubernetes") or ""] + list(kubernetes_versions) if v]))
    asked = [(name, want) for name, want in (versions or {}).items() if name != "kubernetes"]
    asked += [("kubernetes", want) for want in kube_wanted]
    wrong = sorted((name, want) for name, want in asked if want and not held_by_bundle(name, want))
    if wrong:
        held = ", ".join("%s %s" % (name, held_versions(name)) for name in dict.fromkeys(name for name, _want in wrong))
        wanted_versions = ", ".join("%s %s" % (name, want) for name, want in wrong)
        where = (" (offline_bundle_kube_version, or offline_bundle_kube_older_versions for an older release)"
                 if any(name == "kubernetes" for name, _want in wrong) else "")
        raise BundleError("%s: the bundle %s holds %s, the inventory wants %s; rebuild it with %s for %s%s, or point %s "
                          "at a bundle of %s" % (variable, directory, held, wanted_versions, REBUILD, wanted_versions,
                                                 where, variable, "those versions" if len(wrong) > 1 else "that version"))
    index = manifest.get("images") or {}
    files = manifest.get("files") or {}
    absent_images = [ref for ref in images if ref not in index]
    kube_files = [rel for v in kube_wanted for rel in kubernetes_files(manifest, v, kubernetes_binaries).values()]
    wanted = list(require) + kube_files + [index[ref] for ref in images if ref in index]
    missing = [rel for rel in wanted if rel not in files or not os.path.isfile(os.path.join(directory, rel))]
    if absent_images or missing:
        what = ["image %s" % ref for ref in absent_images] + ["%s (%s)" % (_component(rel), rel) for rel in missing]
        # a Kubernetes image of a release the bundle does not hold: the fix is that release, not an image
        kube_tags = (ref.rsplit(":", 1)[-1] for ref in absent_images if ref.rsplit("/", 1)[-1].startswith("kube-"))
        releases = sorted({tag for tag in kube_tags if tag not in kube})
        hint = " (offline_bundle_images: true; offline_bundle_image_names, if set, naming it)" if absent_images else ""
        if releases:
            hint = " (offline_bundle_kube_older_versions listing %s)" % ", ".join(releases)
        raise BundleError("%s: the bundle %s has no %s; rebuild it with %s including %s%s"
                          % (variable, directory, ", ".join(what), REBUILD, "them" if len(what) > 1 else "it", hint))
    corrupted = [rel for rel in dict.fromkeys(wanted)
                 if os.path.getsize(os.path.join(directory, rel)) != files[rel].get("size")
                 or sha256_file(os.path.join(directory, rel)) != files[rel].get("sha256")]
    if corrupted:
        raise BundleError("%s: %s in the bundle %s do%s not match the sha256 in manifest.json (corrupted or replaced); "
                          "rebuild it with %s" % (variable, ", ".join(corrupted), directory,
                                                  "" if len(corrupted) > 1 else "es", REBUILD))
    return manifest


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.lstrip("v").split(".") if part.isdigit())


def render(manifest: Manifest) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def write(directory: str, versions: dict[str, Any] | None, images: dict[str, str] | None,
          packages: dict[str, Any] | None, check: bool = False,
          kubernetes: dict[str, str] | None = None) -> tuple[bool, Manifest | None, Manifest]:
    """Write the manifest of ``directory`` when it differs; returns (changed, before, after).

    ``before`` is None when there was no manifest, ``{}`` when it could not be read.
    Every image archive named in ``images`` must be a file of the bundle.
    """
    for ref, rel in (images or {}).items():
        if not os.path.isfile(os.path.join(directory, rel)):
            raise BundleError("images: %s points to %s, which is not in the bundle" % (ref, rel))
    for version, where in (kubernetes or {}).items():
        if not os.path.isdir(os.path.join(directory, where)):
            raise BundleError("kubernetes: %s points to %s, which is not a directory of the bundle" % (version, where))
    after = build_manifest(directory, versions, images, packages, kubernetes)
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
