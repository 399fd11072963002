"""bundle_manifest and oci_image through real ansible-playbook: check mode, run, re-run, diff, errors."""
from __future__ import annotations

import json

from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle
from ansible_collections.kamaji.core.plugins.module_utils.bundle import oci


def one_task(module, args):
    return [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "t", module: args, "register": "out"}]}]


def test_oci_image_check_run_rerun(tmp_path):
    (tmp_path / "tool").write_bytes(b"#!/bin/sh\necho tool\n")
    dest = tmp_path / "img.tar"
    args = {"reference": "registry.k8s.io/tool:v1", "dest": str(dest), "entrypoint": ["/usr/local/bin/tool"],
            "files": [{"src": str(tmp_path / "tool"), "dest": "/usr/local/bin/tool"},
                      {"content": "hello\n", "dest": "/etc/tool.conf", "mode": "0644"}]}
    checked = run_playbook(one_task("kamaji.core.oci_image", args), tmp_path, check=True, diff=True)
    assert checked.rc == 0, checked.failed_tasks()
    t = checked.task("t")
    assert t["changed"] is True and t["diff"]["before"] == {"digest": None, "reference": None}
    assert not dest.exists()
    first = run_playbook(one_task("kamaji.core.oci_image", args), tmp_path)
    assert first.rc == 0 and first.task("t")["changed"] is True, first.failed_tasks()
    # check mode predicted the digest that was written
    assert first.task("t")["digest"] == t["digest"] == oci.archive_manifest_digest(str(dest))[0]
    again = run_playbook(one_task("kamaji.core.oci_image", args), tmp_path)
    assert again.rc == 0 and again.task("t")["changed"] is False
    # a new name for the same content is a change
    renamed = run_playbook(one_task("kamaji.core.oci_image", dict(args, reference="example.com/tool:v1")), tmp_path)
    assert renamed.task("t")["changed"] is True
    assert oci.archive_manifest_digest(str(dest))[1] == "example.com/tool:v1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_oci_image_bad_input_names_the_field(tmp_path):
    dest = tmp_path / "img.tar"
    cases = [({"files": []}, "files: give at least one file"),
             ({"files": [{"content": "x", "dest": "relative"}]}, "files[0].dest: an absolute path"),
             ({"files": [{"src": str(tmp_path / "nope"), "dest": "/x"}]}, "files[0].src:"),
             ({"base_rootfs": str(tmp_path / "nope")}, "base_rootfs:"),
             ({"base_layers": [str(tmp_path / "nope.tar")]}, "base_layers[0]:"),
             ({"files": [{"content": "x", "dest": "/x", "mode": "rwx"}]}, "files[0].mode:"),
             ({"dest": str(tmp_path / "no" / "img.tar"), "files": [{"content": "x", "dest": "/x"}]}, "dest: directory")]
    for extra, msg in cases:
        args = dict({"reference": "r/x:v1", "dest": str(dest)}, **extra)
        res = run_playbook(one_task("kamaji.core.oci_image", args), tmp_path)
        assert res.rc != 0 and msg in res.task("t")["msg"], (extra, res.task("t")["msg"])
    assert not dest.exists()


def test_bundle_manifest_check_run_rerun_diff(tmp_path):
    d = tmp_path / "b"
    (d / "bin").mkdir(parents=True)
    (d / "bin" / "tool").write_bytes(b"tool")
    (d / "images").mkdir()
    (d / "images" / "x.tar").write_bytes(b"x")
    args = {"path": str(d), "versions": {"kubernetes": "k"}, "images": {"r/x:v1": "images/x.tar"}}
    checked = run_playbook(one_task("kamaji.core.bundle_manifest", args), tmp_path, check=True, diff=True)
    assert checked.rc == 0 and checked.task("t")["changed"] is True, checked.failed_tasks()
    assert checked.task("t")["diff"]["after"]["files"] == ["bin/tool", "images/x.tar"]
    assert not (d / bundle.MANIFEST).exists()
    first = run_playbook(one_task("kamaji.core.bundle_manifest", args), tmp_path)
    assert first.rc == 0 and first.task("t")["changed"] is True
    written = json.loads((d / bundle.MANIFEST).read_text())
    assert written["images"] == {"r/x:v1": "images/x.tar"} and written["versions"] == {"kubernetes": "k"}
    assert oct((d / bundle.MANIFEST).stat().st_mode & 0o777) == "0o644"
    again = run_playbook(one_task("kamaji.core.bundle_manifest", args), tmp_path)
    assert again.task("t")["changed"] is False
    (d / "bin" / "tool").write_bytes(b"tool2")
    (d / "bin" / "new").write_bytes(b"new")
    changed = run_playbook(one_task("kamaji.core.bundle_manifest", args), tmp_path, diff=True)
    assert changed.task("t")["diff"] == {"before": {"files": ["bin/tool"], "versions": {"kubernetes": "k"}},
                                         "after": {"files": ["bin/new", "bin/tool"], "versions": {"kubernetes": "k"}}}
    verified = run_playbook(one_task("kamaji.core.bundle_manifest", {"path": str(d), "state": "verified"}), tmp_path)
    assert verified.rc == 0 and verified.task("t")["changed"] is False


def test_bundle_manifest_refuses_an_image_outside_the_bundle(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    res = run_playbook(one_task("kamaji.core.bundle_manifest", {"path": str(d), "images": {"r/x:v1": "images/x.tar"}}),
                       tmp_path)
    assert res.rc != 0 and "images: r/x:v1 points to images/x.tar" in res.task("t")["msg"]
    assert not (d / bundle.MANIFEST).exists()
    res = run_playbook(one_task("kamaji.core.bundle_manifest", {"path": str(d), "state": "verified"}), tmp_path)
    assert res.rc != 0 and "cannot be read" in res.task("t")["msg"]
