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


OLDER = versions.KUBERNETES_OLDER[0]
# a release two minors back: no longer supported, held by no bundle
OLDEST = "v1.%d.4" % (versions.minor(versions.KUBERNETES) - 2)


@pytest.fixture
def two_release_bundle(tmp_path):
    """A bundle holding the newest release in bin/ and an older one in kubernetes/<version>/bin/."""
    d = tmp_path / "bundle2"
    older_bin = d / "kubernetes" / OLDER / "bin"
    older_bin.mkdir(parents=True)
    (d / "bin").mkdir()
    for name in ("kubelet", "kubeadm", "kubectl"):
        (d / "bin" / name).write_text(name + versions.KUBERNETES)
        (older_bin / name).write_text(name + OLDER)
    bundle.write(str(d), {"kubernetes": versions.KUBERNETES, "kubernetes_older": [OLDER]}, {}, {},
                 kubernetes={versions.KUBERNETES: "bin", OLDER: f"kubernetes/{OLDER}/bin"})
    return d


def test_a_bundle_of_two_releases_gives_each_release_its_own_binaries(two_release_bundle):
    d = str(two_release_bundle)
    names = ["kubelet", "kubeadm", "kubectl"]
    newest = bundle.check(d, "kube_packages_bundle_dir", versions={"kubernetes": versions.KUBERNETES}, kubernetes_binaries=names)
    assert bundle.kubernetes_files(newest, versions.KUBERNETES, names) == {n: f"bin/{n}" for n in names}
    older = bundle.check(d, "kube_packages_bundle_dir", versions={"kubernetes": OLDER}, kubernetes_binaries=names)
    assert bundle.kubernetes_files(older, OLDER, names) == {n: f"kubernetes/{OLDER}/bin/{n}" for n in names}
    assert bundle.kubernetes_dirs(older) == {versions.KUBERNETES: "bin", OLDER: f"kubernetes/{OLDER}/bin"}


def test_a_release_the_bundle_lacks_names_every_release_it_holds_and_the_fix(two_release_bundle):
    msg = _fails(two_release_bundle, versions={"kubernetes": OLDEST}, kubernetes_binaries=["kubelet"])
    assert msg == (f"kube_packages_bundle_dir: the bundle {two_release_bundle} holds kubernetes {versions.KUBERNETES} and "
                   f"{OLDER}, the inventory wants kubernetes {OLDEST}; rebuild it with {FIX} for kubernetes {OLDEST} "
                   "(offline_bundle_kube_version, or offline_bundle_kube_older_versions for an older release), or point "
                   "kube_packages_bundle_dir at a bundle of that version")


def test_an_older_release_missing_or_corrupted_binary_is_named_with_its_path(two_release_bundle):
    older_bin = two_release_bundle / "kubernetes" / OLDER / "bin"
    (older_bin / "kubeadm").write_text("tampered")
    msg = _fails(two_release_bundle, versions={"kubernetes": OLDER}, kubernetes_binaries=["kubelet", "kubeadm"])
    assert msg.startswith(f"kube_packages_bundle_dir: kubernetes/{OLDER}/bin/kubeadm in the bundle"), msg
    os.remove(older_bin / "kubelet")
    msg = _fails(two_release_bundle, versions={"kubernetes": OLDER}, kubernetes_binaries=["kubelet"])
    assert msg.startswith(f"kube_packages_bundle_dir: the bundle {two_release_bundle} has no kubelet "
                          f"(kubernetes/{OLDER}/bin/kubelet)"), msg


def test_a_bundle_of_one_release_keeps_its_binaries_in_bin(bundle_dir):
    """Bundles written before several releases existed have no `kubernetes` map: bin/ holds their one release."""
    manifest = bundle.check(str(bundle_dir), "v", versions={"kubernetes": versions.KUBERNETES}, kubernetes_binaries=["kubelet"])
    assert "kubernetes" not in manifest
    assert bundle.kubernetes_files(manifest, versions.KUBERNETES, ["kubelet"]) == {"kubelet": "bin/kubelet"}


def test_a_release_map_pointing_outside_the_bundle_is_refused(tmp_path):
    (tmp_path / "b").mkdir()
    with pytest.raises(bundle.BundleError, match="kubernetes: v1.36.3 points to kubernetes/v1.36.3/bin, which is not a directory"):
        bundle.write(str(tmp_path / "b"), {}, {}, {}, kubernetes={"v1.36.3": "kubernetes/v1.36.3/bin"})
