"""The admin control plane's rules: the first kubeadm certificate to expire and whether a run
renews it (module_utils.pki.kubeadm), and whether a control-plane node's static pods have
settled after a renewal or an upgrade (module_utils.upgrade.control_plane)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.kamaji.core.plugins.filter.control_plane_unsettled import FilterModule as Unsettled
from ansible_collections.kamaji.core.plugins.filter.kubeadm_certs_first import FilterModule as CertsFirst
from ansible_collections.kamaji.core.plugins.module_utils.pki import kubeadm
from ansible_collections.kamaji.core.plugins.module_utils.upgrade import control_plane

DAY = 86400


def _read(*certs, rc=0, stderr=()):
    return {"rc": rc, "stderr_lines": list(stderr), "stdout": json.dumps({
        "kind": "CertificateExpirationInfo", "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
        "certificates": [{"name": n, "expirationDate": "d-" + n, "residualTime": t, "externallyManaged": ext,
                          "caName": "ca", "missing": miss} for n, t, ext, miss in certs]})}


def test_the_first_managed_certificate_to_expire():
    read = _read(("admin.conf", 364 * DAY + 5, False, False), ("apiserver", 80 * DAY + 7, False, False),
                 ("external", 3 * DAY, True, False), ("etcd-peer", 0, False, True))
    assert kubeadm.certs_first(read, "cp-0") == {"node": "cp-0", "certificate": "apiserver", "expires": "d-apiserver",
                                                 "days": 80}


@pytest.mark.parametrize(("read", "error"), [
    ({"rc": 1, "stdout": "", "stderr_lines": ["W0101 warning", "error execution phase: no admin.conf", ""]},
     "error execution phase: no admin.conf"),
    ({"rc": 1, "stdout": "", "stderr_lines": []}, "no answer"),
    ({"rc": 0, "stdout": "not json"}, "kubeadm certs check-expiration printed no JSON"),
    (_read(("etcd-peer", 0, False, True)), "no kubeadm-managed certificate"),
])
def test_a_node_that_cannot_tell_says_why(read, error):
    assert kubeadm.certs_first(read, "cp-1") == {"node": "cp-1", "error": error}


@pytest.mark.parametrize(("days", "renew_days", "due"), [
    (89, 90, True), (90, 90, False), (364, 90, False), (-3, 90, True), (5, 0, False), (400, 400, False),
])
def test_renewal_under_the_threshold_only(days, renew_days, due):
    assert kubeadm.renewal_due({"node": "n", "days": days}, renew_days) is due


def test_the_filter_adds_the_decision_only_when_asked():
    f = CertsFirst().filters()["kubeadm_certs_first"]
    read = _read(("apiserver", 10 * DAY, False, False))
    assert "renew" not in f(read, "cp-0")
    assert f(read, "cp-0", renew_days=90)["renew"] is True
    assert f(read, "cp-0", renew_days=0)["renew"] is False
    cannot_tell = f({"rc": 1, "stderr_lines": ["boom"]}, "cp-0", renew_days=90)
    assert cannot_tell == {"node": "cp-0", "error": "boom", "renew": False}


OLD, SINCE, NEW = "2026-01-01T00:00:00Z", "2026-06-01T10:00:00Z", "2026-06-01T10:00:07Z"


def _pod(component, node="cp-0", ready=True, started=NEW, image=None, running=True):
    return {"metadata": {"name": f"{component}-{node}", "namespace": "kube-system",
                         "labels": {"component": component, "tier": "control-plane"}},
            "spec": {"nodeName": node, "containers": [{"name": component,
                                                       "image": image or f"registry.k8s.io/{component}:v1.37.2"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "containerStatuses": [{"name": component, "ready": ready,
                                              "state": {"running": {"startedAt": started}} if running else
                                              {"waiting": {"reason": "CrashLoopBackOff"}}}]}}


def _all(node="cp-0", **over):
    pods = [_pod(c, node) for c in control_plane.COMPONENTS]
    pods[-1]["spec"]["containers"][0]["image"] = "registry.k8s.io/etcd:3.7.3-0"
    return pods


def test_a_settled_node_and_the_pods_of_other_nodes():
    pods = _all() + [_pod("kube-apiserver", "cp-1", ready=False, started=OLD)]
    assert control_plane.control_plane_unsettled(pods, "cp-0", since=SINCE, version="v1.37.2") == []
    assert control_plane.control_plane_unsettled(pods, "cp-0") == []
    assert control_plane.control_plane_unsettled(pods, "cp-1") == [
        "kube-apiserver-cp-1: not Ready", "kube-controller-manager-cp-1: missing", "kube-scheduler-cp-1: missing",
        "etcd-cp-1: missing"]


def test_each_unsettled_pod_is_named_with_what_it_lacks():
    pods = _all()
    pods[0] = _pod("kube-apiserver", started=OLD)
    pods[1] = _pod("kube-controller-manager", image="registry.k8s.io/kube-controller-manager:v1.36.3")
    pods[2] = _pod("kube-scheduler", ready=False)
    pods[3] = _pod("etcd", running=False, image="registry.k8s.io/etcd:3.7.3-0")
    pods[3]["status"]["conditions"][0]["status"] = "True"
    assert control_plane.control_plane_unsettled(pods, "cp-0", since=SINCE, version="v1.37.2") == [
        "kube-apiserver-cp-0: started 2026-01-01T00:00:00Z, before 2026-06-01T10:00:00Z",
        "kube-controller-manager-cp-0: runs registry.k8s.io/kube-controller-manager:v1.36.3, not v1.37.2",
        "kube-scheduler-cp-0: not Ready",
        "etcd-cp-0: container etcd not running"]
    # without since and version only readiness counts
    assert control_plane.control_plane_unsettled(pods, "cp-0") == ["kube-scheduler-cp-0: not Ready"]


def test_a_container_started_in_the_second_of_the_renewal_counts_and_etcd_keeps_its_own_tag():
    pods = _all()
    for p in pods:
        p["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] = SINCE
    assert control_plane.control_plane_unsettled(pods, "cp-0", since=SINCE, version="v1.37.2") == []
    assert control_plane.control_plane_unsettled(pods, "cp-0", components=["kube-apiserver"]) == []


@pytest.mark.parametrize(("image", "tag"), [
    ("registry.k8s.io/kube-apiserver:v1.37.2", "v1.37.2"), ("localhost:5000/kube-apiserver", ""),
    ("localhost:5000/kube-apiserver:v1.37.2@sha256:abc", "v1.37.2"), ("kube-apiserver", "")])
def test_image_tag(image, tag):
    assert control_plane.image_tag(image) == tag


def test_a_malformed_since_is_named_and_the_filter_is_the_function():
    with pytest.raises(ValueError, match="since: '2026-06-01 10:00' is not a UTC time"):
        control_plane.control_plane_unsettled(_all(), "cp-0", since="2026-06-01 10:00")
    f = Unsettled().filters()["control_plane_unsettled"]
    assert f(None, "cp-0")[0] == "kube-apiserver-cp-0: missing"
    assert f(_all(), "cp-0", since=None, version=None) == []
