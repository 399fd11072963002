"""install_files: files compared by sha256 (the bundle's from its manifest, no hashing on the
controller), only the differing ones transferred; through real ansible-playbook on localhost."""
from __future__ import annotations

import os
import stat

import pytest
from ansible.errors import AnsibleActionFail
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.action import install_files as action
from ansible_collections.kamaji.core.plugins.module_utils.bundle import install
from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle
from ansible_collections.kamaji.core.plugins.module_utils.common.files import sha256_bytes


def one_task(args):
    return [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "t", "kamaji.core.install_files": args, "register": "out"}]}]


@pytest.fixture
def bundle_dir(tmp_path):
    d = tmp_path / "bundle"
    (d / "bin").mkdir(parents=True)
    (d / "cni").mkdir()
    for rel in ("bin/etcd", "bin/etcdctl", "cni/bridge", "cni/loopback"):
        (d / rel).write_text("binary " + rel)
    bundle.write(str(d), {"etcd": "v3.7.3"}, {}, {})
    return d


def test_items_expand_to_one_file_each_with_defaults_where_an_item_sets_none():
    got = action.expand([{"src": "cni", "names": ["bridge", "loopback"], "dest": "/opt/cni/bin"},
                         {"dest": "/pki", "contents": {"ca.crt": "C", "ca.key": "K"}, "mode": "0600"},
                         {"src": "bin/runc", "dest": "/usr/local/sbin/runc", "owner": "etcd"}],
                        {"mode": "0755", "owner": "root"})
    assert [(f["dest"], f.get("src"), f.get("content"), f["mode"], f["owner"]) for f in got] == [
        ("/opt/cni/bin/bridge", "cni/bridge", None, "0755", "root"),
        ("/opt/cni/bin/loopback", "cni/loopback", None, "0755", "root"),
        ("/pki/ca.crt", None, "C", "0600", "root"),
        ("/pki/ca.key", None, "K", "0600", "root"),
        ("/usr/local/sbin/runc", "bin/runc", None, "0755", "etcd"),
    ]


@pytest.mark.parametrize(("files", "message"), [
    ([], "files: a non-empty list"),
    ([{"src": "a"}], "files[0]: a dict with dest is required"),
    ([{"dest": "/a", "src": "a", "content": "x"}], "files[0] (/a): set exactly one of src, content and contents"),
    ([{"dest": "/a"}], "files[0] (/a): set exactly one of src, content and contents"),
    ([{"dest": "/a", "content": "x", "names": ["b"]}], "files[0] (/a): names goes with src (a directory)"),
    ([{"dest": "/a", "src": "a", "mdoe": "0755"}], "files[0] (/a): unknown keys mdoe"),
    ([{"dest": "/a", "content": "x"}, {"dest": "/", "contents": {"a": "y"}}], "files: /a listed more than once"),
])
def test_bad_items_fail_naming_the_item(files, message):
    with pytest.raises(AnsibleActionFail) as err:
        action.expected(files, None)
    assert str(err.value).startswith(message), str(err.value)


def test_bundle_files_take_their_sha256_from_the_manifest_without_hashing(bundle_dir, monkeypatch):
    def no_hashing(path):
        raise AssertionError("hashed on the controller: %s" % path)

    monkeypatch.setattr(action, "sha256_file", no_hashing)
    listed = bundle.read_manifest(str(bundle_dir))["files"]
    got = action.expected([{"src": "bin", "names": ["etcd"], "dest": "/usr/local/bin"}], str(bundle_dir))
    assert got == [{"dest": "/usr/local/bin/etcd", "path": str(bundle_dir / "bin" / "etcd"),
                    "sha256": listed["bin/etcd"]["sha256"]}]
    with pytest.raises(AnsibleActionFail) as err:
        action.expected([{"src": "bin/kubelet", "dest": "/usr/local/bin/kubelet"}], str(bundle_dir))
    assert str(err.value) == (f"files[0]: bin/kubelet is not in the manifest of the bundle {bundle_dir}; rebuild it "
                              "with the kamaji.core.offline_bundle playbook")


def test_compare_and_place_on_the_node(tmp_path):
    dest = str(tmp_path / "sub" / "f")
    want = sha256_bytes(b"new")
    assert install.compare(dest, want) == ("created", None)
    src = tmp_path / "transferred"
    src.write_bytes(b"other")
    with pytest.raises(install.InstallError) as err:
        install.place(str(src), dest, want)
    assert str(err.value).startswith(f"{dest}: the transferred file's sha256 is {sha256_bytes(b'other')}, not the "
                                     f"expected {want}")
    assert not os.path.exists(dest)
    src.write_bytes(b"new")
    install.place(str(src), dest, want)
    assert install.compare(dest, want) == ("unchanged", want)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600  # until the module sets its mode
    os.chmod(dest, 0o755)
    src.write_bytes(b"newer")
    install.place(str(src), dest, sha256_bytes(b"newer"))
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o755  # a replaced file keeps its mode
    assert install.compare(dest, want) == ("updated", sha256_bytes(b"newer"))


def test_check_run_rerun_and_only_what_differs_is_transferred(bundle_dir, tmp_path):
    dest = tmp_path / "node"
    args = {"bundle_dir": str(bundle_dir), "mode": "0755",
            "files": [{"src": "bin", "names": ["etcd", "etcdctl"], "dest": str(dest / "bin")},
                      {"src": "cni", "names": ["bridge"], "dest": str(dest / "cni")},
                      {"dest": str(dest / "pki"), "contents": {"server.key": "KEY\n"}, "mode": "0600"}]}
    checked = run_playbook(one_task(args), tmp_path, check=True, diff=True)
    assert checked.rc == 0, checked.failed_tasks()
    t = checked.task("t")
    assert t["changed"] is True and set(t["files"].values()) == {"created"} and not dest.exists()
    assert f"{dest}/bin/etcd: absent" in t["diff"]["before"]
    first = run_playbook(one_task(args), tmp_path)
    assert first.rc == 0, first.failed_tasks()
    assert sorted(first.task("t")["changed_files"]) == sorted(
        [str(dest / "bin/etcd"), str(dest / "bin/etcdctl"), str(dest / "cni/bridge"), str(dest / "pki/server.key")])
    assert (dest / "bin" / "etcd").read_text() == "binary bin/etcd"
    assert stat.S_IMODE(os.stat(dest / "bin" / "etcd").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "pki" / "server.key").st_mode) == 0o600
    again = run_playbook(one_task(args), tmp_path)
    assert again.rc == 0 and again.task("t")["changed"] is False, again.task("t")
    assert set(again.task("t")["files"].values()) == {"unchanged"}
    # one file replaced on the node, one mode changed: only the first is transferred again
    (dest / "bin" / "etcdctl").write_text("tampered")
    os.chmod(dest / "cni" / "bridge", 0o700)
    fixed = run_playbook(one_task(args), tmp_path)
    assert fixed.rc == 0, fixed.failed_tasks()
    assert fixed.task("t")["files"] == {str(dest / "bin/etcd"): "unchanged", str(dest / "bin/etcdctl"): "updated",
                                        str(dest / "cni/bridge"): "attributes", str(dest / "pki/server.key"): "unchanged"}
    assert fixed.task("t")["changed_files"] == [str(dest / "bin/etcdctl")]
    assert (dest / "bin" / "etcdctl").read_text() == "binary bin/etcdctl"
    # the key's content is never part of the result
    assert "KEY" not in fixed.stdout and "KEY" not in first.stdout


def test_a_bundle_file_changed_after_its_manifest_replaces_nothing(bundle_dir, tmp_path):
    dest = tmp_path / "node"
    (bundle_dir / "bin" / "etcd").write_text("corrupted")
    res = run_playbook(one_task({"bundle_dir": str(bundle_dir), "files": [{"src": "bin/etcd", "dest": str(dest / "etcd")}]}),
                       tmp_path)
    assert res.rc != 0
    assert "etcd: the transferred file's sha256 is" in res.task("t")["msg"], res.task("t")["msg"]
    assert not (dest / "etcd").exists()


def test_directories_are_made_in_the_same_call_check_mode_makes_none(tmp_path):
    dest = tmp_path / "node"
    args = {"files": [{"dest": str(dest / "etc" / "config.toml"), "content": "x = 1\n", "mode": "0644"}],
            "directories": [str(dest / "etc" / "certs.d"), str(dest / "cni" / "net.d")]}
    checked = run_playbook(one_task(args), tmp_path, check=True)
    assert checked.rc == 0, checked.failed_tasks()
    assert checked.task("t")["directories_made"] == args["directories"] and not dest.exists()
    first = run_playbook(one_task(args), tmp_path)
    assert first.rc == 0 and first.task("t")["changed"] is True, first.failed_tasks()
    assert (dest / "etc" / "certs.d").is_dir() and (dest / "cni" / "net.d").is_dir()
    assert stat.S_IMODE(os.stat(dest / "cni" / "net.d").st_mode) == 0o755
    again = run_playbook(one_task(args), tmp_path)
    assert again.rc == 0 and again.task("t")["changed"] is False, again.task("t")
    assert again.task("t")["directories_made"] == []
