"""bundle.manifest.check: the one rule for "the offline bundle holds what a role needs".
Each problem is one line naming the variable, the bundle, the component and the fix."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle

PAUSE = f"registry.k8s.io/pause:{versions.PAUSE}"
PROXY = f"registry.k8s.io/kube-proxy:{versions.KUBERNETES}"
OTHER_ETCD = versions.ETCD + "-other"
FIX = "the kamaji.core.offline_bundle playbook"


@pytest.fixture
def bundle_dir(tmp_path):
    d = tmp_path / "bundle"
    (d / "bin").mkdir(parents=True)
    (d / "images").mkdir()
    for name in ("kubelet", "kubeadm", "etcd"):
        (d / "bin" / name).write_text(name)
    (d / "images" / "pause.tar").write_text("pause")
    bundle.write(str(d), {"kubernetes": versions.KUBERNETES, "etcd": versions.ETCD}, {PAUSE: "images/pause.tar"}, {})
    return d


def _fails(d, **kw):
    kw.setdefault("variable", "kube_packages_bundle_dir")
    with pytest.raises(bundle.BundleError) as exc:
        bundle.check(str(d), **kw)
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


def test_a_bundle_holding_what_is_required_passes(bundle_dir):
    got = bundle.check(str(bundle_dir), "v", ["bin/kubelet", "bin/kubeadm"], [PAUSE], {"kubernetes": versions.KUBERNETES, "etcd": ""})
    assert got["versions"]["kubernetes"] == versions.KUBERNETES


def test_a_nonexistent_or_empty_path_names_the_variable_and_the_fix(tmp_path):
    nope = tmp_path / "nope"
    assert _fails(nope) == (f"kube_packages_bundle_dir: {nope} does not exist; build the offline bundle there with {FIX} "
                            "(offline_bundle_dir) or set kube_packages_bundle_dir to an existing bundle")
    assert _fails("").startswith("kube_packages_bundle_dir: empty; set it to the offline bundle's directory")
    (tmp_path / "file").write_text("x")
    assert _fails(tmp_path / "file").startswith(f"kube_packages_bundle_dir: {tmp_path / 'file'} is not a directory")


def test_a_directory_without_a_manifest_is_not_a_bundle(tmp_path):
    assert _fails(tmp_path) == (f"kube_packages_bundle_dir: {tmp_path} is not an offline bundle (its manifest.json cannot "
                                f"be read: no such file); build one there with {FIX} or set kube_packages_bundle_dir to one")
    (tmp_path / "manifest.json").write_text("{")
    assert _fails(tmp_path) == (f"kube_packages_bundle_dir: {tmp_path}/manifest.json: is not valid JSON; rebuild the "
                                f"bundle with {FIX}")


def test_another_version_names_both_and_the_fix(bundle_dir):
    msg = _fails(bundle_dir, variable="etcd_bundle_dir", versions={"etcd": OTHER_ETCD})
    assert msg == (f"etcd_bundle_dir: the bundle {bundle_dir} holds etcd {versions.ETCD}, the inventory wants etcd "
                   f"{OTHER_ETCD}; rebuild it with {FIX} for etcd {OTHER_ETCD}, or point etcd_bundle_dir at a bundle of "
                   "that version")


def test_a_missing_component_is_named_with_the_bundle_and_the_fix(bundle_dir):
    msg = _fails(bundle_dir, require=["bin/kubelet", "bin/kubectl"])
    assert msg == (f"kube_packages_bundle_dir: the bundle {bundle_dir} has no kubectl (bin/kubectl); "
                   f"rebuild it with {FIX} including it")
    # listed in the manifest but gone from the disk: missing too
    os.remove(bundle_dir / "bin" / "kubelet")
    msg = _fails(bundle_dir, require=["bin/kubelet", "bin/kubectl"])
    assert msg.startswith(f"kube_packages_bundle_dir: the bundle {bundle_dir} has no kubelet (bin/kubelet), "
                          "kubectl (bin/kubectl); rebuild it with"), msg
    assert msg.endswith("including them")


def test_a_missing_image_is_named_with_the_options_that_select_images(bundle_dir):
    msg = _fails(bundle_dir, variable="containerd_bundle_dir", images=[PAUSE, PROXY])
    assert msg == (f"containerd_bundle_dir: the bundle {bundle_dir} has no image {PROXY}; "
                   f"rebuild it with {FIX} including it (offline_bundle_images: true; offline_bundle_image_names, "
                   "if set, naming it)")
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["images"] = {}
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))
    assert f"has no image {PAUSE};" in _fails(bundle_dir, images=[PAUSE])


def test_a_corrupted_component_names_the_file(bundle_dir):
    (bundle_dir / "bin" / "kubeadm").write_text("kubeadX")
    msg = _fails(bundle_dir, require=["bin/kubelet", "bin/kubeadm"])
    assert msg == (f"kube_packages_bundle_dir: bin/kubeadm in the bundle {bundle_dir} does not match the sha256 in "
                   f"manifest.json (corrupted or replaced); rebuild it with {FIX}")
    # only what is required is read: an unrelated corrupted file does not matter here
    bundle.check(str(bundle_dir), "v", ["bin/kubelet"])
