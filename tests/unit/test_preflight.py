"""Bad input fails early, in one line naming the thing and the fix, before anything changes:
a nonexistent bundle path, a bundle missing a component, an unreachable node. Through the real
site playbook on localhost (every group's hosts are local connections; an unreachable node is
127.0.0.1 on an unused port), and the happy path through the preflight playbook itself."""
from __future__ import annotations

import json
import os
import sys

import pytest
import yaml
from harness.procs import free_port
from harness.runner import REPO, run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle

SITE = os.path.join(REPO, "playbooks", "site.yml")
PREFLIGHT = os.path.join(REPO, "playbooks", "preflight.yml")
PAUSE = f"registry.k8s.io/pause:{versions.PAUSE}"
FIX = "rebuild it with the kamaji.core.offline_bundle playbook"
BINARIES = ("etcd", "etcdctl", "etcdutl", "kubelet", "kubeadm", "kubectl", "containerd", "containerd-shim-runc-v2", "ctr",
            "runc")
CNI = ("bridge", "host-local", "loopback", "portmap")


def _bundle(directory, without=(), older=(), **other_versions):
    """A bundle as the offline_bundle playbook lays it out (small stand-in files), without some
    parts; ``older``: older Kubernetes releases it holds too."""
    (directory / "bin").mkdir(parents=True)
    (directory / "images").mkdir()
    (directory / "cni").mkdir()
    for name in BINARIES:
        if f"bin/{name}" not in without:
            (directory / "bin" / name).write_text(name)
    kube_dirs = {versions.KUBERNETES: "bin"}
    for release in older:
        kube_dirs[release] = f"kubernetes/{release}/bin"
        (directory / kube_dirs[release]).mkdir(parents=True)
        for name in ("kubelet", "kubeadm", "kubectl"):
            (directory / kube_dirs[release] / name).write_text(name + release)
    for name in CNI:
        if f"cni/{name}" not in without:
            (directory / "cni" / name).write_text(name)
    images = {}
    if PAUSE not in without:
        (directory / "images" / "pause.tar").write_text("pause")
        images[PAUSE] = "images/pause.tar"
    for release in kube_dirs:  # the control-plane and kube-proxy images of every release
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
            ref, archive = f"registry.k8s.io/{name}:{release}", f"images/{name}-{release}.tar"
            if ref not in without:
                (directory / archive).write_text(ref)
                images[ref] = archive
    bundle.write(str(directory), {"kubernetes": versions.KUBERNETES, "etcd": versions.ETCD,
                                  "containerd": versions.CONTAINERD, "runc": versions.RUNC,
                                  "cni_plugins": versions.CNI_PLUGINS, **other_versions}, images, {}, kubernetes=kube_dirs)
    return str(directory)


def _inventory(tmp_path, bundle_dir, tenant=None, worker=None, admin=None, **etcd_hosts):
    """etcd-1, admin-cp-1, worker-1 (of tenant acme, whose spec is ``tenant``) on local connections;
    the etcd members' binaries and settings in ``tmp_path`` (none installed unless a test puts them there)."""
    local = {"ansible_connection": "local"}
    inv = {"all": {"vars": {"ansible_python_interpreter": sys.executable, "kamaji_bundle_dir": bundle_dir,
                            "preflight_timeout": 2, "etcd_bin_dir": str(tmp_path / "etcd-bin"),
                            "etcd_config_dir": str(tmp_path / "etcd-config")},
                   "children": {
                       "etcd": {"hosts": dict({"etcd-1": local}, **etcd_hosts)},
                       "admin_control_plane": {"hosts": {"admin-cp-1": dict(local, **(admin or {}))}},
                       "admin_workers": {"hosts": {}},
                       "tenants": {"hosts": {"acme": dict(local, tenant=tenant or {})}},
                       "tenant_workers": {"hosts": {"worker-1": dict(local, **dict({"kamaji_tenant": "acme"}, **(worker or {})))}}}}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def _failures(res):
    """The distinct messages of every failed task result."""
    out = []
    for play in res.data.get("plays", []):
        for task in play["tasks"]:
            for r in task["hosts"].values():
                if (r.get("failed") or r.get("unreachable")) and r.get("msg") not in out:
                    out.append(r.get("msg"))
    return out


def _fails_before_anything_changes(res, message):
    assert res.rc != 0
    assert _failures(res) == [message], res.failed_tasks()
    assert "\n" not in message
    # only the preflight ran: no play of the site started, no task changed anything
    assert {p["play"]["name"] for p in res.data["plays"]} == {"Preflight"}, [p["play"]["name"] for p in res.data["plays"]]
    assert {h: s["changed"] for h, s in res.stats.items() if s["changed"]} == {}


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_every_node_answers_and_the_bundle_holds_everything(tmp_path, check):
    inventory = _inventory(tmp_path, _bundle(tmp_path / "bundle"))
    res = run_playbook(PREFLIGHT, tmp_path, inventory=inventory, check=check)
    assert res.rc == 0, res.failed_tasks()
    assert set(res.stats) == {"etcd-1", "admin-cp-1", "worker-1"}
    assert all(s["failures"] == 0 and s["unreachable"] == 0 and s["changed"] == 0 for s in res.stats.values())


def test_a_nonexistent_bundle_path_fails_naming_it(tmp_path):
    nope = str(tmp_path / "no-bundle")
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, nope))
    _fails_before_anything_changes(res, (
        f"etcd_bundle_dir: {nope} does not exist; build the offline bundle there with the kamaji.core.offline_bundle "
        "playbook (offline_bundle_dir) or set etcd_bundle_dir to an existing bundle"))


@pytest.mark.parametrize("missing, message", [
    ("bin/etcdutl", "etcd_bundle_dir: the bundle {b} has no etcdutl (bin/etcdutl); " + FIX + " including it"),
    ("bin/kubelet", "kube_packages_bundle_dir: the bundle {b} has no kubelet (bin/kubelet); " + FIX + " including it"),
    ("bin/runc", "containerd_bundle_dir: the bundle {b} has no runc (bin/runc); " + FIX + " including it"),
    ("cni/portmap", "containerd_bundle_dir: the bundle {b} has no portmap (cni/portmap); " + FIX + " including it"),
    (PAUSE, "containerd_bundle_dir: the bundle {b} has no image " + PAUSE + "; " + FIX + " including it "
            "(offline_bundle_images: true; offline_bundle_image_names, if set, naming it)"),
], ids=["etcd-binary", "node-binary", "runc", "cni-plugin", "image"])
def test_a_bundle_missing_a_component_fails_naming_it(tmp_path, missing, message):
    b = _bundle(tmp_path / "bundle", without=(missing,))
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, b))
    _fails_before_anything_changes(res, message.format(b=b))


def test_a_bundle_with_another_containerd_fails_naming_both_versions(tmp_path):
    b = _bundle(tmp_path / "bundle", containerd=versions.CONTAINERD_OLDER)
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, b))
    _fails_before_anything_changes(res, (
        f"containerd_bundle_dir: the bundle {b} holds containerd {versions.CONTAINERD_OLDER}, the inventory wants "
        f"containerd {versions.CONTAINERD}; " + FIX + f" for containerd {versions.CONTAINERD}, or point "
        "containerd_bundle_dir at a bundle of that version"))


def test_a_corrupted_component_fails_naming_it_in_check_mode_too(tmp_path):
    b = _bundle(tmp_path / "bundle")
    with open(os.path.join(b, "bin", "kubeadm"), "a", encoding="utf-8") as f:
        f.write("tampered")
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, b), check=True)
    _fails_before_anything_changes(res, (
        f"kube_packages_bundle_dir: bin/kubeadm in the bundle {b} does not match the sha256 in manifest.json "
        f"(corrupted or replaced); {FIX}"))


def test_an_unreachable_node_fails_naming_it_and_nothing_changes_anywhere(tmp_path):
    port = free_port()  # nothing listens there: the connection is refused
    down = {"ansible_host": "127.0.0.1", "ansible_port": port, "ansible_connection": "ssh", "ansible_user": "nobody"}
    inventory = _inventory(tmp_path, _bundle(tmp_path / "bundle"), **{"etcd-3": down})
    res = run_playbook(SITE, tmp_path, inventory=inventory)
    failures = _failures(res)
    assert len(failures) == 1 and failures[0].startswith(
        f"etcd-3 (127.0.0.1:{port}) does not answer over SSH: check ansible_host, the SSH key and that sshd runs ("), failures
    assert "Connection refused" in failures[0]
    _fails_before_anything_changes(res, failures[0])
    # the reachable nodes answered, and went no further
    assert res.stats["etcd-1"]["failures"] == 0 and res.stats["etcd-1"]["ok"] > 0


def test_every_entry_playbook_that_touches_machines_starts_with_the_preflight():
    for name in ("site", "etcd", "admin_cluster", "tenant_workers", "etcd_maintenance"):
        with open(os.path.join(REPO, "playbooks", f"{name}.yml"), encoding="utf-8") as f:
            first = yaml.safe_load(f)[0]
        assert first.get("ansible.builtin.import_playbook") == "preflight.yml", name
    with open(PREFLIGHT, encoding="utf-8") as f:
        play = yaml.safe_load(f)[0]
    assert play["any_errors_fatal"] is True and play["max_fail_percentage"] == 0
    assert json.dumps(play).count("bundle_check") == 3


OLDER = versions.KUBERNETES_OLDER[0]


def _results(res, name):
    """host -> result of every run of the task ``name`` (a role's task too)."""
    out = {}
    for play in res.data["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == name or task["task"]["name"].endswith(" : " + name):
                out.update(task["hosts"])
    return out


def _kubelet_versions(res):
    """Each node's kube_packages_version, as the preflight settled it."""
    found = _results(res, "The kubelet version of this node (the inventory's pin, else its control plane's)")
    return {host: r["ansible_facts"]["kube_packages_version"] for host, r in found.items()}


def test_a_tenant_worker_follows_its_tenants_release_and_the_admin_nodes_the_admin_cluster(tmp_path):
    """A v1.36 tenant's worker takes the v1.36 kubelet from a bundle holding both releases."""
    b = _bundle(tmp_path / "bundle", older=(OLDER,))
    inventory = _inventory(tmp_path, b, tenant={"kubernetes_version": OLDER})
    res = run_playbook(PREFLIGHT, tmp_path, inventory=inventory, check=True)
    assert res.rc == 0, res.failed_tasks()
    assert _kubelet_versions(res) == {"worker-1": OLDER, "admin-cp-1": versions.KUBERNETES}
    # the bundle check asked for both releases, each once
    checked = [r for r in _results(res, "The offline bundle holds kube_packages_binaries at every kube_packages_version "
                                        "of the play, intact").values() if not r.get("skipped")]
    assert len(checked) == 1 and checked[0]["kubernetes_files"] == {
        OLDER: {n: f"kubernetes/{OLDER}/bin/{n}" for n in ("kubelet", "kubeadm", "kubectl")},
        versions.KUBERNETES: {n: f"bin/{n}" for n in ("kubelet", "kubeadm", "kubectl")}}


def test_a_tenant_worker_pinned_to_an_older_release_keeps_its_pin(tmp_path):
    b = _bundle(tmp_path / "bundle", older=(OLDER,))
    res = run_playbook(PREFLIGHT, tmp_path, inventory=_inventory(tmp_path, b, worker={"kube_packages_version": OLDER}))
    assert res.rc == 0, res.failed_tasks()
    assert _kubelet_versions(res)["worker-1"] == OLDER


def test_a_worker_pinned_newer_than_its_tenant_is_refused_before_anything_changes(tmp_path):
    b = _bundle(tmp_path / "bundle", older=(OLDER,))
    inventory = _inventory(tmp_path, b, tenant={"kubernetes_version": OLDER},
                           worker={"kube_packages_version": versions.KUBERNETES})
    res = run_playbook(SITE, tmp_path, inventory=inventory)
    minor = ".".join(OLDER.split(".")[:2])
    _fails_before_anything_changes(res, (
        f"worker-1: kube_packages_version: {versions.KUBERNETES} is newer than tenant.kubernetes_version of tenant acme "
        f"{OLDER}; a kubelet never runs a newer minor than its control plane: set it to {minor}.x or older, or upgrade "
        "the control plane first"))


def test_an_admin_node_pinned_newer_than_the_admin_cluster_is_refused(tmp_path):
    b = _bundle(tmp_path / "bundle", older=(OLDER,))
    inventory = _inventory(tmp_path, b, admin={"admin_cluster_kubernetes_version": OLDER,
                                               "kube_packages_version": versions.KUBERNETES})
    res = run_playbook(SITE, tmp_path, inventory=inventory)
    _fails_before_anything_changes(res, (
        f"admin-cp-1: kube_packages_version: {versions.KUBERNETES} is newer than admin_cluster_kubernetes_version "
        f"{OLDER}; a kubelet never runs a newer minor than its control plane: set it to "
        f"{'.'.join(OLDER.split('.')[:2])}.x or older, or upgrade the control plane first"))


def test_an_admin_node_follows_the_admin_clusters_release(tmp_path):
    b = _bundle(tmp_path / "bundle", older=(OLDER,))
    res = run_playbook(PREFLIGHT, tmp_path, inventory=_inventory(tmp_path, b, admin={"admin_cluster_kubernetes_version": OLDER}))
    assert res.rc == 0, res.failed_tasks()
    assert _kubelet_versions(res)["admin-cp-1"] == OLDER


def _joined_admin_node(tmp_path, control_plane_release):
    """kubeadm's directory of a joined control-plane node whose API server runs ``control_plane_release``
    (the role reads it at _admin_cluster_etc; the extra variable that points it here)."""
    etc = tmp_path / "kubernetes"
    (etc / "pki").mkdir(parents=True)
    (etc / "manifests").mkdir()
    (etc / "pki" / "ca.crt").write_text("a CA")
    (etc / "manifests" / "kube-apiserver.yaml").write_text(
        f"spec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:{control_plane_release}\n")
    return {"_admin_cluster_etc": str(etc)}


def test_an_admin_release_skipping_a_minor_is_refused_before_the_bundle_is_checked(tmp_path):
    """The admin cluster two minors up, a release the bundle lacks too: the skip is what is refused
    (no release that must not run is worth adding to the bundle)."""
    minor = versions.minor(versions.KUBERNETES)
    running, skip = f"v1.{minor - 1}.3", f"v1.{minor + 1}.0"
    ev = _joined_admin_node(tmp_path, running)
    inventory = _inventory(tmp_path, _bundle(tmp_path / "bundle"), admin={"admin_cluster_kubernetes_version": skip})
    res = run_playbook(SITE, tmp_path, ev, inventory=inventory)
    _fails_before_anything_changes(res, (
        f"admin-cp-1: admin_cluster_kubernetes_version: {skip} skips a minor from the running {running}; upgrade one "
        f"minor at a time (first v1.{minor})"))


def test_an_admin_release_one_minor_up_passes_the_step_check(tmp_path):
    running = versions.KUBERNETES_OLDER[0]
    ev = _joined_admin_node(tmp_path, running)
    res = run_playbook(PREFLIGHT, tmp_path, ev, inventory=_inventory(tmp_path, _bundle(tmp_path / "bundle")), check=True)
    assert res.rc == 0, res.failed_tasks()
    plan = _results(res, "What moves on the admin nodes in this run (one plan for the play)")
    assert plan["admin-cp-1"]["ansible_facts"]["_admin_cluster_upgrade_plan"]["admin-cp-1"] == {
        "moves": True, "action": "apply", "error": "",
        "line": f"admin-cp-1: control plane {running} -> {versions.KUBERNETES} (kubeadm upgrade apply)"}


def test_a_tenant_release_missing_from_the_bundle_is_refused_naming_it(tmp_path):
    b = _bundle(tmp_path / "bundle")
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, b, tenant={"kubernetes_version": OLDER}))
    _fails_before_anything_changes(res, (
        f"kube_packages_bundle_dir: the bundle {b} holds kubernetes {versions.KUBERNETES}, the inventory wants kubernetes "
        f"{OLDER}; {FIX} for kubernetes {OLDER} (offline_bundle_kube_version, or offline_bundle_kube_older_versions for "
        "an older release), or point kube_packages_bundle_dir at a bundle of that version"))


def test_a_worker_of_a_tenant_the_inventory_lacks_is_refused(tmp_path):
    b = _bundle(tmp_path / "bundle")
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, b, worker={"kamaji_tenant": "acmee"}))
    _fails_before_anything_changes(res, (
        'worker-1: kamaji_tenant: "acmee" is no tenant of the inventory (a host of the tenants group, or the tenant_name '
        "of one: acme); set kamaji_tenant to the tenant this machine joins"))


def test_a_tenant_release_whose_images_the_bundle_lacks_is_refused_naming_them(tmp_path):
    """The admin workers would never start that tenant's pods: refused before the site changes anything."""
    b = _bundle(tmp_path / "bundle", older=(OLDER,), without=(f"registry.k8s.io/kube-apiserver:{OLDER}",))
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, b, tenant={"kubernetes_version": OLDER}))
    _fails_before_anything_changes(res, (
        f"tenant_control_plane_bundle_dir: the bundle {b} has no image registry.k8s.io/kube-apiserver:{OLDER}; "
        f"{FIX} including it (offline_bundle_images: true; offline_bundle_image_names, if set, naming it)"))


def test_a_tenant_release_the_bundle_does_not_hold_names_the_option_that_adds_it(tmp_path):
    """acme on the previous minor, a bundle of the newest release only: the tenant's images are not
    there, and the fix is the bundle's list of older releases (its worker, left out here, is refused
    the same way by test_a_tenant_release_missing_from_the_bundle_is_refused_naming_it)."""
    b = _bundle(tmp_path / "bundle")
    inventory = _inventory(tmp_path, b, tenant={"kubernetes_version": OLDER})
    with open(inventory, encoding="utf-8") as f:
        inv = yaml.safe_load(f)
    inv["all"]["children"]["tenant_workers"]["hosts"] = {}
    with open(inventory, "w", encoding="utf-8") as f:
        yaml.safe_dump(inv, f)
    res = run_playbook(SITE, tmp_path, inventory=inventory)
    _fails_before_anything_changes(res, (
        f"tenant_control_plane_bundle_dir: the bundle {b} has no image registry.k8s.io/kube-apiserver:{OLDER}, image "
        f"registry.k8s.io/kube-controller-manager:{OLDER}, image registry.k8s.io/kube-scheduler:{OLDER}, image "
        f"registry.k8s.io/kube-proxy:{OLDER}; {FIX} including them (offline_bundle_kube_older_versions listing {OLDER})"))


# ---- etcd's version step: read on the member (`etcd --version`, or its restart-owed marker)
ETCD_MINOR = versions.minor(versions.ETCD)
ETCD_MOVE = "What moves on this member (etcd_upgrade_move), what it runs, whether it owes a restart"


def _etcd_release(minor, patch=0):
    return "v3.%d.%d" % (ETCD_MINOR + minor, patch)


def _installed_etcd(tmp_path, version, restart_owed=None):
    """An etcd binary at ``version`` on the local member (a stand-in printing what etcd prints), and
    its restart-owed marker with ``restart_owed`` when given."""
    bin_dir = tmp_path / "etcd-bin"
    bin_dir.mkdir()
    etcd = bin_dir / "etcd"
    etcd.write_text("#!/bin/sh\necho 'etcd Version: %s'\necho 'Git SHA: 0123abcd'\n" % version.lstrip("v"))
    etcd.chmod(0o755)
    if restart_owed is not None:
        (tmp_path / "etcd-config").mkdir()
        (tmp_path / "etcd-config" / "restart-owed").write_text(restart_owed)


def test_an_etcd_member_skipping_a_minor_is_refused_before_anything_changes(tmp_path):
    _installed_etcd(tmp_path, _etcd_release(-2, 4))
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, _bundle(tmp_path / "bundle")))
    _fails_before_anything_changes(res, (
        f"etcd-1: etcd_version: {versions.ETCD} skips a minor from the running {_etcd_release(-2, 4)}; upgrade one "
        f"minor at a time (first v3.{ETCD_MINOR - 1})"))


def test_an_etcd_member_moving_down_a_minor_is_refused_before_anything_changes(tmp_path):
    older = _etcd_release(-1, 9)
    _installed_etcd(tmp_path, versions.ETCD)
    b = _bundle(tmp_path / "bundle", etcd=older)
    inventory = _inventory(tmp_path, b)
    res = run_playbook(SITE, tmp_path, inventory=inventory, extra_vars={"etcd_version": older})
    _fails_before_anything_changes(res, (
        f"etcd-1: etcd_version: {older} would downgrade the running {versions.ETCD}; etcd members never move down a "
        f"minor: set it to v3.{ETCD_MINOR}.x or newer"))


def test_a_stopped_roll_is_checked_against_the_release_its_member_still_runs(tmp_path):
    """The binary is etcd_version's already, but the member owes its restart: it still runs the
    release its marker names, from which a second minor at once is refused."""
    older = _etcd_release(-1, 9)
    _installed_etcd(tmp_path, versions.ETCD, restart_owed=older + "\n")
    newer = _etcd_release(1)
    b = _bundle(tmp_path / "bundle", etcd=newer)
    res = run_playbook(SITE, tmp_path, inventory=_inventory(tmp_path, b), extra_vars={"etcd_version": newer})
    _fails_before_anything_changes(res, (
        f"etcd-1: etcd_version: {newer} skips a minor from the running {older}; upgrade one minor at a time "
        f"(first v3.{ETCD_MINOR})"))


@pytest.mark.parametrize(("installed", "owed", "move"), [
    (None, None, ""),                                                     # not installed: nothing moves
    (versions.ETCD, None, ""),
    (_etcd_release(-1, 9), None, f"etcd {_etcd_release(-1, 9)} -> {versions.ETCD}"),
    (_etcd_release(0, 1), None, f"etcd {_etcd_release(0, 1)} -> {versions.ETCD}"),
    (versions.ETCD, _etcd_release(-1, 9) + "\n", f"etcd {_etcd_release(-1, 9)} -> {versions.ETCD}"),
], ids=["not-installed", "same", "next-minor", "patch", "restart-owed"])
def test_each_etcd_member_records_what_moves_on_it(tmp_path, installed, owed, move):
    if installed:
        _installed_etcd(tmp_path, installed, owed)
    res = run_playbook(PREFLIGHT, tmp_path, inventory=_inventory(tmp_path, _bundle(tmp_path / "bundle")), check=True)
    assert res.rc == 0, res.failed_tasks()
    assert _results(res, ETCD_MOVE)["etcd-1"]["ansible_facts"]["etcd_upgrade_move"] == move
    assert set(_results(res, ETCD_MOVE)) == {"etcd-1"}  # the etcd group only
