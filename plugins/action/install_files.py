# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Action of kamaji.core.install_files: the expected sha256 of each file from the bundle's
manifest (or of its content), one call of the module on the node to compare, then only the
files that differ transferred and installed."""

from __future__ import annotations

import os
import posixpath
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle
from ansible_collections.kamaji.core.plugins.module_utils.common.files import sha256_bytes, sha256_file

MODULE = "kamaji.core.install_files"
ATTRS = ("mode", "owner", "group")


def expand(files: Any, defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of ``files`` as one dict per file: ``{dest: dir, src: dir, names: [...]}`` and
    ``{dest: dir, contents: {name: text}}`` give one file per name; ``defaults`` (mode, owner,
    group) apply where an item sets none."""
    if not isinstance(files, list) or not files:
        raise AnsibleActionFail("files: a non-empty list of {dest, src or content, mode, owner, group} is required")
    out = []
    for n, item in enumerate(files):
        if not isinstance(item, dict) or not item.get("dest"):
            raise AnsibleActionFail("files[%d]: a dict with dest is required" % n)
        unknown = set(item) - {"dest", "src", "content", "names", "contents", "sha256", *ATTRS}
        if unknown:
            raise AnsibleActionFail("files[%d] (%s): unknown keys %s (known: dest, src, content, names, contents, "
                                    "mode, owner, group)" % (n, item["dest"], ", ".join(sorted(unknown))))
        attrs = {k: item.get(k, defaults.get(k)) for k in ATTRS if item.get(k, defaults.get(k)) is not None}
        sources = [k for k in ("src", "content", "contents") if item.get(k) is not None]
        if len(sources) != 1:
            raise AnsibleActionFail("files[%d] (%s): set exactly one of src, content and contents" % (n, item["dest"]))
        if "names" in item and sources != ["src"]:
            raise AnsibleActionFail("files[%d] (%s): names goes with src (a directory)" % (n, item["dest"]))
        if item.get("contents") is not None:
            if not isinstance(item["contents"], dict):
                raise AnsibleActionFail("files[%d] (%s): contents is a dict of file name to text" % (n, item["dest"]))
            out += [dict(attrs, dest=posixpath.join(item["dest"], name), content=text, _item=n)
                    for name, text in item["contents"].items()]
        elif item.get("names") is not None:
            if not isinstance(item["names"], list):
                raise AnsibleActionFail("files[%d] (%s): names is a list of file names" % (n, item["dest"]))
            out += [dict(attrs, dest=posixpath.join(item["dest"], name), src=posixpath.join(item["src"], name), _item=n)
                    for name in item["names"]]
        else:
            out.append(dict(attrs, _item=n, **{k: item[k] for k in ("dest", "src", "content", "sha256") if k in item}))
    return out


def expected(files: Any, bundle_dir: str | None, defaults: dict[str, Any] | None = None,
             read_manifest: Any = bundle.read_manifest) -> list[dict[str, Any]]:
    """Each file with its sha256 and, for ``src``, the controller path; fails naming the item."""
    listed: dict[str, Any] = {}
    items = expand(files, defaults or {})
    if bundle_dir:
        try:
            listed = read_manifest(bundle_dir).get("files") or {}
        except bundle.BundleError as exc:
            raise AnsibleActionFail("bundle_dir: %s" % exc) from None
    out = []
    for item in items:
        n, dest = item["_item"], item["dest"]
        entry: dict[str, Any] = {"dest": dest, **{k: item[k] for k in ATTRS if k in item}}
        if item.get("content") is not None:
            entry["content"] = item["content"]
            entry["sha256"] = sha256_bytes(to_bytes(item["content"], errors="surrogate_or_strict"))
        elif bundle_dir:
            rel = item["src"]
            if rel not in listed:
                raise AnsibleActionFail("files[%d]: %s is not in the manifest of the bundle %s; rebuild it with the "
                                        "kamaji.core.offline_bundle playbook" % (n, rel, bundle_dir))
            entry["path"] = os.path.join(bundle_dir, rel)
            entry["sha256"] = listed[rel]["sha256"]
        else:
            entry["path"] = item["src"]
            try:
                entry["sha256"] = sha256_file(item["src"])
            except OSError as exc:
                raise AnsibleActionFail("files[%d]: %s cannot be read on the controller (%s)"
                                        % (n, item["src"], exc.strerror)) from None
        if item.get("sha256") and item["sha256"] != entry["sha256"]:
            raise AnsibleActionFail("files[%d] (%s): sha256 %s given, the source has %s"
                                    % (n, dest, item["sha256"], entry["sha256"]))
        out.append(entry)
    dests = [e["dest"] for e in out]
    twice = sorted({d for d in dests if dests.count(d) > 1})
    if twice:
        raise AnsibleActionFail("files: %s listed more than once" % ", ".join(twice))
    return out


def _probe_args(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the module gets: no content and no controller path."""
    return [{k: v for k, v in e.items() if k not in ("content", "path")} for e in entries]


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _requires_connection = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp
        args = self._task.args
        try:
            entries = expected(args.get("files"), args.get("bundle_dir"), {k: args.get(k) for k in ATTRS})
        except AnsibleActionFail as exc:
            return dict(result, failed=True, msg=str(exc))
        probe = self._execute_module(MODULE, module_args={"files": _probe_args(entries),
                                                          "directories": args.get("directories") or []},
                                     task_vars=task_vars)
        if probe.get("failed") or not probe.get("needed"):
            return dict(result, **probe)
        by_dest = {e["dest"]: e for e in entries}
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        tmpdir = self._connection._shell.tmpdir
        install = []
        try:
            for n, dest in enumerate(probe["needed"]):
                entry = by_dest[dest]
                remote = self._connection._shell.join_path(tmpdir, "file-%d" % n)
                if "content" in entry:
                    self._transfer_data(remote, entry["content"])
                else:
                    self._transfer_file(entry["path"], remote)
                install.append(dict(_probe_args([entry])[0], src=remote))
            self._fixup_perms2([tmpdir] + [i["src"] for i in install])
            placed = self._execute_module(MODULE, module_args={"files": install}, task_vars=task_vars)
        finally:
            self._remove_tmp_path(tmpdir)
        if placed.get("failed"):
            return dict(result, **placed)
        files = dict(probe.get("files") or {}, **(placed.get("files") or {}))
        out = dict(result, changed=bool(probe.get("changed") or placed.get("changed")), files=files, needed=[],
                   changed_files=list(probe.get("changed_files") or []) + list(placed.get("changed_files") or []),
                   directories_made=probe.get("directories_made") or [])
        if placed.get("diff"):
            out["diff"] = placed["diff"]
        return out
