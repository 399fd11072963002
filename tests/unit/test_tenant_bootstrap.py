"""What kubeadm join needs inside a tenant cluster, and the addons (module_utils.tenant.bootstrap, .addons)."""
from __future__ import annotations

import yaml

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import bootstrap


def _by_key(objects):
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}


def test_bootstrap_objects(build_tenant, settings):
    spec, material, _unused = build_tenant()
    objs = _by_key(bootstrap.bootstrap_objects(spec, material, settings))
    assert ("ClusterRoleBinding", "", "kubeadm:cluster-admins") in objs
    info = objs[("ConfigMap", "kube-public", "cluster-info")]["data"]["kubeconfig"]
    assert "https://192.0.2.10:31443" in info
    assert "failCgroupV1: false" in objs[("ConfigMap", "kube-system", "kubelet-config")]["data"]["kubelet"]
    assert objs[("Service", "kube-system", "kube-dns")]["spec"]["clusterIP"] == "10.96.0.10"
    assert ("DaemonSet", "kube-system", "kube-proxy") in objs
    no_addons = bootstrap.bootstrap_objects(build_tenant(addons={"coredns": False, "kube_proxy": False})[0],
                                            material, settings)
    assert not [o for o in no_addons if o["kind"] in ("DaemonSet", "Deployment")]


def test_addon_images_follow_the_tenant_and_the_versions_module(build_tenant, settings):
    spec, material, _unused = build_tenant(kubernetes_version=versions.KUBERNETES_OLDER[0])
    objs = _by_key(bootstrap.bootstrap_objects(spec, material, settings))
    proxy = objs[("DaemonSet", "kube-system", "kube-proxy")]["spec"]["template"]["spec"]["containers"][0]
    assert proxy["image"] == "registry.example/kube-proxy:" + versions.KUBERNETES_OLDER[0]
    dns = objs[("Deployment", "kube-system", "coredns")]["spec"]["template"]["spec"]["containers"][0]
    assert dns["image"] == "registry.example/coredns/coredns:" + versions.COREDNS


def test_kubelet_config_fields_are_merged_over_the_defaults(build_tenant, settings):
    spec, material, _unused = build_tenant()
    options = dict(settings, kubelet_config={"imageGCHighThresholdPercent": 100,
                                             "evictionHard": {"imagefs.available": "1%"}})
    objs = {(o["kind"], o["metadata"]["name"]): o for o in bootstrap.bootstrap_objects(spec, material, options)}
    kubelet = yaml.safe_load(objs[("ConfigMap", "kubelet-config")]["data"]["kubelet"])
    assert kubelet["imageGCHighThresholdPercent"] == 100
    assert kubelet["evictionHard"] == {"imagefs.available": "1%"}
    assert kubelet["failCgroupV1"] is False and kubelet["clusterDomain"] == "cluster.local"
