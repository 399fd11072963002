"""upgrade.admin: which admin nodes move in a run, with which kubeadm command, and the refusals."""
from __future__ import annotations

from ansible_collections.kamaji.core.plugins.filter.admin_upgrade_plan import admin_upgrade_plan
from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.upgrade.admin import kubelet_version, manifest_version

NEW = versions.KUBERNETES
OLD = versions.KUBERNETES_OLDER[0]
M = versions.minor(NEW)


def manifest(version):
    return ("apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\n"
            f"spec:\n  containers:\n  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:{version}\n")


def node(cp, running=OLD, kubelet=OLD, wanted=NEW, marker=False, joined=True):
    return {"joined": joined, "control_plane": cp, "manifest": manifest(running) if cp else None,
            "kubelet": f"Kubernetes {kubelet}\n", "wanted_kubelet": wanted, "marker": marker}


def test_the_release_of_a_manifest_and_of_a_kubelet_answer():
    assert manifest_version(manifest(NEW)) == NEW
    assert manifest_version("spec:\n  containers:\n  - image: 10.0.0.1:5000/kube-apiserver:v1.2.3\n") == "v1.2.3"
    assert manifest_version("spec:\n  containers:\n  - image: 10.0.0.1:5000/kube-apiserver\n") == ""
    assert manifest_version(None) == manifest_version("") == manifest_version("spec: {}\n") == ""
    assert manifest_version('spec:\n  containers:\n  - command: [x]\n    image: "registry.k8s.io/kube-apiserver:v1.2.3"\n'
                            '  - image: other:v9.9.9\n') == "v1.2.3"
    assert kubelet_version(f"Kubernetes {NEW}\n") == NEW
    assert kubelet_version("") == kubelet_version("command not found") == ""


def test_the_first_control_plane_node_applies_the_others_and_the_workers_follow_with_upgrade_node():
    plan = admin_upgrade_plan({"cp-0": node(True), "cp-1": node(True), "w-0": node(False)}, NEW)
    assert {h: (e["moves"], e["action"], e["error"]) for h, e in plan.items()} == {
        "cp-0": (True, "apply", ""), "cp-1": (True, "node", ""), "w-0": (True, "node", "")}
    assert plan["cp-0"]["line"] == f"cp-0: control plane {OLD} -> {NEW} (kubeadm upgrade apply), kubelet {OLD} -> {NEW}"
    assert plan["w-0"]["line"] == f"w-0: kubelet {OLD} -> {NEW}"


def test_a_run_that_stopped_after_the_apply_goes_on_with_upgrade_node():
    """cp-0 was upgraded and uncordoned, the run stopped on cp-1 (its marker stays)."""
    plan = admin_upgrade_plan({"cp-0": node(True, NEW, NEW), "cp-1": node(True, marker=True),
                               "cp-2": node(True)}, NEW)
    assert {h: (e["moves"], e["action"]) for h, e in plan.items()} == {
        "cp-0": (False, ""), "cp-1": (True, "node"), "cp-2": (True, "node")}


def test_a_marker_alone_finishes_a_node_that_reports_its_new_release():
    plan = admin_upgrade_plan({"cp-0": node(True, NEW, NEW), "w-0": node(False, kubelet=NEW, marker=True)}, NEW)
    assert plan["w-0"] == {"moves": True, "action": "node", "error": "",
                           "line": f"w-0: finishes the upgrade that stopped half-way (kubelet {NEW})"}
    assert not plan["cp-0"]["moves"]


def test_nothing_moves_on_a_settled_cluster_nor_on_nodes_not_joined_or_that_do_not_tell():
    plan = admin_upgrade_plan({"cp-0": node(True, NEW, NEW), "cp-1": node(True, "", ""), "w-0": node(False, kubelet=NEW),
                               "w-1": node(False, joined=False)}, NEW)
    assert not any(e["moves"] or e["error"] for e in plan.values()), plan


def test_a_pinned_older_kubelet_stays_while_the_control_plane_moves():
    plan = admin_upgrade_plan({"cp-0": node(True, wanted=OLD), "w-0": node(False, wanted=OLD)}, NEW)
    assert plan["cp-0"]["line"] == f"cp-0: control plane {OLD} -> {NEW} (kubeadm upgrade apply)"
    assert not plan["w-0"]["moves"]


def test_a_control_plane_node_whose_pinned_kubelet_moves_up_gets_no_kubeadm_step():
    plan = admin_upgrade_plan({"cp-0": node(True, NEW, OLD, wanted=NEW), "w-0": node(False, kubelet=OLD, wanted=NEW)}, NEW)
    assert (plan["cp-0"]["moves"], plan["cp-0"]["action"]) == (True, "")
    assert plan["cp-0"]["line"] == f"cp-0: kubelet {OLD} -> {NEW}"
    assert (plan["w-0"]["moves"], plan["w-0"]["action"]) == (True, "node")  # a worker's kubelet configuration


def test_skipping_a_minor_or_moving_down_is_refused_naming_the_field():
    skip = f"v1.{M + 2}.0"
    plan = admin_upgrade_plan({"cp-0": node(True, wanted=skip), "w-0": node(False, kubelet=NEW, wanted=OLD)}, skip)
    assert plan["cp-0"]["error"] == (f"admin_cluster_kubernetes_version: {skip} skips a minor from the running {OLD}; "
                                     f"upgrade one minor at a time (first v1.{M})")
    assert plan["w-0"]["error"] == (f"kube_packages_version: {OLD} would downgrade the running {NEW}; "
                                    f"kubelets never move down a minor: set it to v1.{M}.x or newer")
