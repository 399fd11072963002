"""The offline bundle: built from source, loadable into containerd, verifiable, and the
download mode against a mirror on loopback (checksums enforced)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time

import pytest
from harness import bundles
from harness.procs import KUBE_VERSION, binary
from harness.runner import REPO, run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions

PLAYBOOK = os.path.join(REPO, "playbooks", "offline_bundle.yml")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle")
    # the e2e lab's bundle (this release and the previous minor's): one bundle for both tiers
    ev = bundles.playbook_vars("site")
    first = run_playbook(PLAYBOOK, tmp, ev)
    assert first.rc == 0, first.stdout[-4000:]
    start = time.monotonic()
    second = run_playbook(PLAYBOOK, tmp, ev)
    warm = time.monotonic() - start
    assert second.rc == 0, second.stdout[-4000:]
    bundle_dir = second.task("Write manifest.json")["invocation"]["module_args"]["path"]
    return {"dir": bundle_dir, "second_changed": second.changed(), "warm_seconds": warm}


def test_second_run_changes_nothing_and_is_fast(bundle):
    assert bundle["second_changed"] == 0
    # (generous: make test runs this tier beside the e2e tier; a cold build takes minutes)
    assert bundle["warm_seconds"] < 180, "warm bundle run took %.0fs" % bundle["warm_seconds"]


def test_manifest_lists_every_file_with_its_checksum(bundle):
    with open(os.path.join(bundle["dir"], "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    assert manifest["versions"]["kubernetes"] == KUBE_VERSION
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubeadm", "kubectl",
                 "kube-proxy", "etcd", "etcdctl", "coredns", "pause"):
        assert f"bin/{name}" in manifest["files"], name
    rel = "bin/pause"
    with open(os.path.join(bundle["dir"], rel), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == manifest["files"][rel]["sha256"]
    # pause, etcd, CoreDNS, and each release's apiserver, controller-manager, scheduler and kube-proxy
    assert len(manifest["images"]) == 3 + 4 * len(bundles.OLDER_RELEASES + [KUBE_VERSION])
    assert manifest["versions"]["kubernetes_older"] == bundles.OLDER_RELEASES
    # the container runtime the containerd role installs, at the versions of versions.py
    assert {k: manifest["versions"][k] for k in ("containerd", "runc", "cni_plugins")} == {
        "containerd": versions.CONTAINERD, "runc": versions.RUNC, "cni_plugins": versions.CNI_PLUGINS}
    for rel in ("bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/runc", "cni/bridge", "cni/host-local",
                "cni/loopback", "cni/portmap"):
        assert rel in manifest["files"], rel


def test_the_bundled_runtime_runs_and_says_its_version(bundle):
    def out(*argv):
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    assert out(os.path.join(bundle["dir"], "bin", "containerd"), "--version").split()[-1] == versions.CONTAINERD
    runc = out(os.path.join(bundle["dir"], "bin", "runc"), "--version")
    # runc applies seccomp profiles (kubeadm's static pods ask for RuntimeDefault)
    assert runc.startswith("runc version " + versions.RUNC.lstrip("v")) and "libseccomp: " in runc, runc
    bridge = subprocess.run([os.path.join(bundle["dir"], "cni", "bridge")], capture_output=True, text=True,
                            check=False, env={})
    assert versions.CNI_PLUGINS in bridge.stdout + bridge.stderr


def test_images_match_what_kubeadm_asks_for(bundle):
    with open(os.path.join(bundle["dir"], "manifest.json"), encoding="utf-8") as f:
        images = set(json.load(f)["images"])
    wanted = subprocess.run([binary("kubeadm"), "config", "images", "list", "--kubernetes-version", KUBE_VERSION],
                            capture_output=True, text=True, check=True).stdout.split()
    # kubeadm pins its own etcd tag; the bundle's etcd is set through the ClusterConfiguration imageTag
    assert {w for w in wanted if "/etcd:" not in w} <= images
    assert any("/etcd:" in i for i in images)


def test_images_import_into_containerd_and_run(bundle, containerd):
    with open(os.path.join(bundle["dir"], "manifest.json"), encoding="utf-8") as f:
        images = json.load(f)["images"]
    for rel in images.values():
        containerd.ctr("images", "import", "--snapshotter", "native", os.path.join(bundle["dir"], rel))
    listed = set(containerd.ctr("images", "ls", "-q").stdout.split())
    assert set(images) <= listed
    runs = {"pause": ["/pause", "-v"], "kube-proxy": ["iptables", "--version"],
            "kube-apiserver": ["kube-apiserver", "--version"], "etcd": ["etcd", "--version"]}
    for name, argv in runs.items():
        ref = next(r for r in images if r.rsplit("/", 1)[-1].startswith(name + ":"))
        out = containerd.ctr("run", "--snapshotter", "native", "--rm", ref, f"t-{name}", *argv)
        assert out.stdout.strip(), (name, out.stderr)
    assert KUBE_VERSION in containerd.ctr("run", "--snapshotter", "native", "--rm",
                                          f"registry.k8s.io/kube-apiserver:{KUBE_VERSION}", "t2",
                                          "kube-apiserver", "--version").stdout


def _small_bundle(tmp_path):
    d = tmp_path / "small"
    (d / "bin").mkdir(parents=True)
    (d / "bin" / "tool").write_bytes(b"#!/bin/sh\necho tool\n")
    (d / "images").mkdir()
    (d / "images" / "x.tar").write_bytes(b"x" * 1000)
    return d


def test_corrupted_file_is_detected_by_name(tmp_path):
    d = _small_bundle(tmp_path)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "write", "kamaji.core.bundle_manifest": {"path": str(d), "versions": {"kubernetes": KUBE_VERSION}}},
        {"name": "verify", "kamaji.core.bundle_manifest": {"path": str(d), "state": "verified"}}]}]
    ok = run_playbook(play, tmp_path)
    assert ok.rc == 0 and ok.task("write")["changed"] is True and ok.task("verify")["changed"] is False
    again = run_playbook(play, tmp_path)
    assert again.task("write")["changed"] is False
    # flip one byte, same size
    data = bytearray((d / "images" / "x.tar").read_bytes())
    data[10] = ord("y")
    (d / "images" / "x.tar").write_bytes(bytes(data))
    (d / "bin" / "tool").unlink()
    verify = [{"hosts": "localhost", "gather_facts": False, "tasks": [play[0]["tasks"][1]]}]
    bad = run_playbook(verify, tmp_path)
    assert bad.rc != 0
    msg = bad.task("verify")["msg"]
    assert "images/x.tar: sha256" in msg and "bin/tool: missing" in msg


@pytest.fixture
def mirror(bundle, tmp_path):
    """The release layout of dl.k8s.io and the etcd/CoreDNS release pages, served on loopback.
    Each file is a small stand-in named after its tool: this tests the bundle's layout and
    checksums, not what the binaries are (the bundle fixture's own files are run above), and the
    real ones would have each test hash and copy a gigabyte."""
    root = tmp_path / "mirror"
    src = os.path.join(str(root), "src", "bin")
    os.makedirs(src)
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kubeadm",
                 "kube-proxy", "etcd", "etcdctl", "etcdutl", "coredns", "containerd", "containerd-shim-runc-v2", "ctr",
                 "runc"):
        with open(os.path.join(src, name), "wb") as f:
            f.write(b"#!/bin/sh\necho " + name.encode() + b" stand-in\n" + os.urandom(64))
    cni_src = os.path.join(str(root), "src", "cni")
    os.makedirs(cni_src)
    for name in ("bridge", "host-local", "loopback", "portmap"):
        with open(os.path.join(cni_src, name), "wb") as f:
            f.write(b"#!/bin/sh\necho " + name.encode() + b" stand-in\n" + os.urandom(64))
    # the newest release, and the previous minor's laid out the same way (same bytes)
    for version in (KUBE_VERSION, versions.KUBERNETES_OLDER[0]):
        kube = root / "kube" / version / "bin" / "linux" / "amd64"
        kube.mkdir(parents=True)
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kubeadm",
                     "kube-proxy"):
            shutil.copy(os.path.join(src, name), kube / name)
            with open(kube / name, "rb") as f:
                (kube / f"{name}.sha256").write_text(hashlib.sha256(f.read()).hexdigest())
    kube = root / "kube" / KUBE_VERSION / "bin" / "linux" / "amd64"
    with open(os.path.join(bundle["dir"], "manifest.json"), encoding="utf-8") as f:
        held = json.load(f)["versions"]
    ev, cv = held["etcd"], held["coredns"]
    etcd_dir = root / "etcd" / ev
    etcd_dir.mkdir(parents=True)
    archive = f"etcd-{ev}-linux-amd64.tar.gz"
    with tarfile.open(etcd_dir / archive, "w:gz", compresslevel=1) as tar:
        for name in ("etcd", "etcdctl", "etcdutl"):
            tar.add(os.path.join(src, name), f"etcd-{ev}-linux-amd64/{name}")
    with open(etcd_dir / archive, "rb") as f:
        (etcd_dir / "SHA256SUMS").write_text(f"{hashlib.sha256(f.read()).hexdigest()}  {archive}\n")
    core_dir = root / "coredns" / cv
    core_dir.mkdir(parents=True)
    carchive = f"coredns_{cv[1:]}_linux_amd64.tgz"
    with tarfile.open(core_dir / carchive, "w:gz", compresslevel=1) as tar:
        tar.add(os.path.join(src, "coredns"), "coredns")
    with open(core_dir / carchive, "rb") as f:
        (core_dir / f"{carchive}.sha256").write_text(f"{hashlib.sha256(f.read()).hexdigest()}  {carchive}\n")
    # the container runtime, laid out as the containerd, runc and CNI plugins release pages
    rv = {k: held[k] for k in ("containerd", "runc", "cni_plugins")}
    ctd_dir = root / "containerd" / rv["containerd"]
    ctd_dir.mkdir(parents=True)
    ctd = f"containerd-{rv['containerd'][1:]}-linux-amd64.tar.gz"
    with tarfile.open(ctd_dir / ctd, "w:gz", compresslevel=1) as tar:
        for name in ("containerd", "containerd-shim-runc-v2", "ctr"):
            tar.add(os.path.join(src, name), f"bin/{name}")
    _sums(ctd_dir, ctd, f"{ctd}.sha256sum")
    runc_dir = root / "runc" / rv["runc"]
    runc_dir.mkdir(parents=True)
    shutil.copy(os.path.join(src, "runc"), runc_dir / "runc.amd64")
    _sums(runc_dir, "runc.amd64", "runc.sha256sum", other="runc.arm64")
    cni_dir = root / "cni" / rv["cni_plugins"]
    cni_dir.mkdir(parents=True)
    cni = f"cni-plugins-linux-amd64-{rv['cni_plugins']}.tgz"
    with tarfile.open(cni_dir / cni, "w:gz", compresslevel=1) as tar:
        for name in ("bridge", "host-local", "loopback", "portmap"):
            tar.add(os.path.join(cni_src, name), f"./{name}")
    _sums(cni_dir, cni, f"{cni}.sha256")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {"root": root, "kube": f"{base}/kube", "etcd": f"{base}/etcd", "coredns": f"{base}/coredns",
           "containerd": f"{base}/containerd", "runc": f"{base}/runc", "cni": f"{base}/cni", "kube_dir": kube,
           "runc_dir": runc_dir, "src": src}
    server.shutdown()


def _sums(directory, name, sums, other=None):
    """A release page's checksum file for ``name`` (``other``: a line for another file before it)."""
    with open(directory / name, "rb") as f:
        line = f"{hashlib.sha256(f.read()).hexdigest()}  {name}\n"
    (directory / sums).write_text((f"{'0' * 64}  {other}\n" if other else "") + line)


def _download_vars(mirror, tmp_path):
    # the role's default source is download; the cache's downloads/ directory is the role's to make
    return {"offline_bundle_images": False,
            "offline_bundle_cache_dir": str(tmp_path / "cache"), "offline_bundle_dir": str(tmp_path / "dl-bundle"),
            "offline_bundle_kube_base_url": mirror["kube"], "offline_bundle_etcd_base_url": mirror["etcd"],
            "offline_bundle_coredns_base_url": mirror["coredns"], "offline_bundle_containerd_base_url": mirror["containerd"],
            "offline_bundle_runc_base_url": mirror["runc"], "offline_bundle_cni_plugins_base_url": mirror["cni"]}


def test_download_mode_from_a_mirror_with_two_releases(mirror, tmp_path):
    """Every file from the mirror, checksummed; offline_bundle_kube_older_versions: the previous
    minor's binaries beside the newest's, listed in the manifest, in the default directory keyed
    by both releases; the kube_packages role's bundle check finds each release's kubelet where it
    is and refuses a release the bundle does not hold, naming the releases it holds."""
    older = versions.KUBERNETES_OLDER[0]
    ev = dict(_download_vars(mirror, tmp_path), offline_bundle_kube_older_versions=[older])
    del ev["offline_bundle_dir"]  # the default: keyed by both releases
    bundle_dir = tmp_path / "cache" / "bundle" / f"{KUBE_VERSION}+{older}-etcd-{versions.ETCD}"
    res = run_playbook(PLAYBOOK, tmp_path, ev)
    assert res.rc == 0, res.failed_tasks()
    for rel in ("bin/kubelet", "bin/etcd", "bin/coredns", "bin/containerd", "bin/ctr", "bin/runc", "cni/portmap"):
        with open(bundle_dir / rel, "rb") as a, open(os.path.join(mirror["src"], "..", rel), "rb") as b:
            assert hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest(), rel
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["versions"]["source"] == "download" and manifest["versions"]["runc"] == versions.RUNC
    assert manifest["kubernetes"] == {KUBE_VERSION: "bin", older: f"kubernetes/{older}/bin"}
    assert manifest["versions"]["kubernetes"] == KUBE_VERSION and manifest["versions"]["kubernetes_older"] == [older]
    for name in ("kubelet", "kubeadm", "kubectl", "kube-apiserver", "kube-proxy"):
        assert f"kubernetes/{older}/bin/{name}" in manifest["files"], name
    again = run_playbook(PLAYBOOK, tmp_path, ev)
    assert again.rc == 0 and again.changed() == 0
    check = {"kamaji.core.bundle_manifest": {
        "path": str(bundle_dir), "state": "verified", "variable": "kube_packages_bundle_dir",
        "kubernetes_versions": [older, KUBE_VERSION], "kubernetes_binaries": ["kubelet", "kubeadm", "kubectl"]}}
    ok = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [dict(check, name="check")]}], tmp_path)
    assert ok.rc == 0, ok.failed_tasks()
    assert ok.task("check")["kubernetes_files"][older]["kubelet"] == f"kubernetes/{older}/bin/kubelet"
    assert ok.task("check")["kubernetes_files"][KUBE_VERSION]["kubelet"] == "bin/kubelet"
    oldest = "v1.%d.4" % (versions.minor(KUBE_VERSION) - 2)  # a release this bundle does not hold
    check["kamaji.core.bundle_manifest"]["kubernetes_versions"] = [oldest]
    bad = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [dict(check, name="check")]}], tmp_path)
    assert bad.rc != 0
    assert bad.task("check")["msg"].startswith(
        f"kube_packages_bundle_dir: the bundle {bundle_dir} holds kubernetes {KUBE_VERSION} and {older}, the inventory "
        f"wants kubernetes {oldest}; rebuild it"), bad.task("check")["msg"]


def test_an_older_release_that_is_not_older_is_refused_before_anything_is_built(tmp_path):
    ev = {"offline_bundle_dir": str(tmp_path / "dl-bundle"), "offline_bundle_cache_dir": str(tmp_path / "cache"),
          "offline_bundle_kube_older_versions": [KUBE_VERSION]}
    res = run_playbook(PLAYBOOK, tmp_path, ev)
    assert res.rc != 0
    assert res.task("The older Kubernetes releases are older than offline_bundle_kube_version")["msg"] == (
        f"offline_bundle_kube_older_versions: {KUBE_VERSION} not older than offline_bundle_kube_version {KUBE_VERSION}; "
        "list only older releases there (the newest is offline_bundle_kube_version)")
    assert not (tmp_path / "dl-bundle").exists()


def test_download_mode_refuses_a_corrupted_download(mirror, tmp_path):
    (mirror["kube_dir"] / "kubeadm.sha256").write_text("0" * 64)
    ev = _download_vars(mirror, tmp_path)
    res = run_playbook(PLAYBOOK, tmp_path, ev)
    assert res.rc != 0
    failed = res.task("Download the Kubernetes binaries of every release of the bundle (checksum verified)")
    text = json.dumps(failed)
    assert "kubeadm" in text and "checksum" in text.lower()
    assert not (tmp_path / "dl-bundle" / "bin" / "kubeadm").exists()


def test_download_mode_refuses_a_runc_whose_checksum_differs(mirror, tmp_path):
    _sums(mirror["runc_dir"], "runc.amd64", "runc.sha256sum")
    with open(mirror["runc_dir"] / "runc.amd64", "ab") as f:
        f.write(b"tampered")
    res = run_playbook(PLAYBOOK, tmp_path, _download_vars(mirror, tmp_path))
    assert res.rc != 0
    text = json.dumps(res.task("Download the container runtime releases (checksum verified)"))
    assert "runc" in text and "checksum" in text.lower()
    assert not (tmp_path / "dl-bundle" / "bin" / "runc").exists()


def test_download_mode_pulls_images_through_a_registry_mirror(mirror, oci_registry, tmp_path):
    from harness.registry import push_image

    digest, _size, _layer = push_image(oci_registry["url"], "pause", versions.PAUSE)
    ev = dict(_download_vars(mirror, tmp_path), offline_bundle_images=True, offline_bundle_image_names=["pause"],
              offline_bundle_registry_mirrors={"registry.k8s.io": oci_registry["url"]})
    res = run_playbook(PLAYBOOK, tmp_path, ev)
    assert res.rc == 0, res.failed_tasks()
    with open(tmp_path / "dl-bundle" / "manifest.json", encoding="utf-8") as f:
        manifest = json.load(f)
    assert manifest["images"] == {"registry.k8s.io/pause:" + versions.PAUSE: "images/pause.tar"}
    assert "images/pause.tar" in manifest["files"]
    from ansible_collections.kamaji.core.plugins.module_utils.bundle import oci
    assert oci.archive_manifest_digest(str(tmp_path / "dl-bundle" / "images" / "pause.tar")) == (
        digest, "registry.k8s.io/pause:" + versions.PAUSE)
    again = run_playbook(PLAYBOOK, tmp_path, ev)
    assert again.rc == 0 and again.changed() == 0, again.failed_tasks()
