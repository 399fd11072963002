"""oci_pull against a real registry (Debian's docker-registry) on loopback: pushed with the
registry HTTP API, pulled through a mirror mapping, imported into a real containerd and run."""
from __future__ import annotations

import hashlib
import json

from harness.procs import free_port
from harness.registry import push_image, request
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.bundle import oci

PAUSE = "registry.k8s.io/pause:" + versions.PAUSE


def pull_play(reference, dest, mirrors, **extra):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "t", "register": "r",
             "kamaji.core.oci_pull": dict({"reference": reference, "dest": str(dest), "mirrors": mirrors}, **extra)}]}]


def test_pull_through_a_mirror_imports_and_runs(oci_registry, containerd, tmp_path):
    digest, _size, _layer = push_image(oci_registry["url"], "pause", versions.PAUSE)
    dest = tmp_path / "pause.tar"
    mirrors = {"registry.k8s.io": oci_registry["url"]}
    checked = run_playbook(pull_play(PAUSE, dest, mirrors), tmp_path, check=True)
    assert checked.rc == 0 and checked.task("t")["changed"] is True, checked.failed_tasks()
    assert not dest.exists()
    first = run_playbook(pull_play(PAUSE, dest, mirrors), tmp_path)
    assert first.rc == 0 and first.task("t")["changed"] is True, first.failed_tasks()
    assert first.task("t")["digest"] == digest
    assert oci.archive_manifest_digest(str(dest)) == (digest, PAUSE)
    again = run_playbook(pull_play(PAUSE, dest, mirrors), tmp_path)
    assert again.rc == 0 and again.task("t")["changed"] is False
    containerd.ctr("images", "import", "--snapshotter", "native", str(dest))
    assert PAUSE in containerd.ctr("images", "ls", "-q").stdout.split()
    out = containerd.ctr("run", "--snapshotter", "native", "--rm", PAUSE, "t-pulled", "/pause", "-v")
    assert out.stdout.strip()


def test_a_multi_arch_index_resolves_to_the_platform(oci_registry, tmp_path):
    url = oci_registry["url"]
    amd64, amd64_size, _layer = push_image(url, "multi", "amd64-only", "amd64")
    arm64, arm64_size, _layer = push_image(url, "multi", "arm64-only", "arm64")
    index = json.dumps({"schemaVersion": 2, "mediaType": oci.INDEX_MEDIA_TYPE, "manifests": [
        {"mediaType": oci.MANIFEST_MEDIA_TYPE, "digest": arm64, "size": arm64_size,
         "platform": {"architecture": "arm64", "os": "linux"}},
        {"mediaType": oci.MANIFEST_MEDIA_TYPE, "digest": amd64, "size": amd64_size,
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    request("PUT", f"{url}/v2/multi/manifests/v1", index, {"Content-Type": oci.INDEX_MEDIA_TYPE})
    mirrors = {"registry.example": url}
    res = run_playbook(pull_play("registry.example/multi:v1", tmp_path / "m.tar", mirrors), tmp_path)
    assert res.rc == 0 and res.task("t")["digest"] == amd64, res.failed_tasks()
    res = run_playbook(pull_play("registry.example/multi:v1", tmp_path / "m-arm.tar", mirrors, architecture="arm64"),
                       tmp_path)
    assert res.task("t")["digest"] == arm64
    res = run_playbook(pull_play("registry.example/multi:v1", tmp_path / "m-s390x.tar", mirrors, architecture="s390x"),
                       tmp_path)
    assert res.rc != 0 and "no linux/s390x manifest (it has linux/arm64, linux/amd64)" in res.task("t")["msg"]


def test_a_corrupted_blob_is_refused_naming_it(oci_registry, tmp_path):
    # a layer of its own: blobs are shared between repositories in the registry's storage
    _digest, _size, layer = push_image(oci_registry["url"], "tampered", "v1", salt="tampered")
    layer_digest = hashlib.sha256(layer).hexdigest()
    data = oci_registry["data"] / "docker" / "registry" / "v2" / "blobs" / "sha256" / layer_digest[:2] / layer_digest / "data"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    dest = tmp_path / "t.tar"
    res = run_playbook(pull_play("registry.example/tampered:v1", dest, {"registry.example": oci_registry["url"]}), tmp_path)
    assert res.rc != 0
    assert f"blob sha256:{layer_digest} of tampered: downloaded content has digest" in res.task("t")["msg"]
    assert not dest.exists()


def test_unknown_tag_and_unreachable_registry_are_clear(oci_registry, tmp_path):
    res = run_playbook(pull_play("registry.example/pause:nope", tmp_path / "x.tar", {"registry.example": oci_registry["url"]}),
                       tmp_path)
    assert res.rc != 0 and "HTTP 404" in res.task("t")["msg"] and "/v2/pause/manifests/nope" in res.task("t")["msg"]
    res = run_playbook(pull_play("registry.example/pause:1", tmp_path / "y.tar",
                                 {"registry.example": f"http://127.0.0.1:{free_port()}"}), tmp_path)
    assert res.rc != 0 and "Connection refused" in res.task("t")["msg"]
