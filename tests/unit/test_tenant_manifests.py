"""Objects of a tenant control plane (module_utils.tenant_manifests), without any API server."""
from __future__ import annotations

import base64

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set as tenant_pki
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki
from ansible_collections.kamaji.core.plugins.module_utils.tenant import manifests as tenant_manifests
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

OPTIONS = {"etcd_endpoints": ["https://192.0.2.21:2379", "https://192.0.2.22:2379"], "image_repository": "registry.example"}


@pytest.fixture(scope="module")
def etcd_ca():
    key = pki.generate_key("ecdsa-p256")
    return {"cert": pki.cert_to_pem(pki.issue_ca("etcd-ca", key, 3650)), "key": pki.key_to_pem(key)}


def build(etcd_ca, existing=None, **over):
    raw = {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}
    raw.update(over)
    spec = tenant_spec.normalize(raw)
    params = {"name": "acme", "endpoint": spec["endpoint"], "apiserver_bind_port": spec["endpoint"]["port"],
              "service_cidrs": [spec["service_cidr"]], "extra_sans": spec["extra_sans"]}
    material = tenant_pki.reconcile(params, existing or {}, etcd_ca)[0]
    objects = tenant_manifests.admin_objects(spec, material, etcd_ca["cert"], OPTIONS)
    return spec, material, {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_admin_objects_in_the_tenant_namespace(etcd_ca):
    _unused, _unused, objs = build(etcd_ca)
    assert next(iter(objs)) == ("Namespace", "tenant-acme")
    assert set(objs) == {
        ("Namespace", "tenant-acme"), ("Secret", "kamaji-pki"), ("Secret", "kamaji-kubeconfigs"),
        ("Secret", "kamaji-admin-kubeconfig"), ("Deployment", "kube-control-plane"),
        ("Service", "kube-apiserver"), ("PodDisruptionBudget", "kube-control-plane")}
    for obj in objs.values():
        assert obj["metadata"]["labels"]["kamaji.core/tenant"] == "acme"


def test_deployment_wiring(etcd_ca):
    _unused, _unused, objs = build(etcd_ca, replicas=3, extra_args={"apiserver": {"audit-log-maxage": 7}})
    deploy = objs[("Deployment", "kube-control-plane")]
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    api, cm, sched = deploy["spec"]["template"]["spec"]["containers"]
    assert api["image"] == "registry.example/kube-apiserver:v1.37.2"
    args = api["args"]
    assert "--etcd-prefix=/acme" in args and "--etcd-compaction-interval=0" in args
    assert "--etcd-servers=https://192.0.2.21:2379,https://192.0.2.22:2379" in args
    assert "--secure-port=31443" in args and "--advertise-address=192.0.2.10" in args
    assert "--audit-log-maxage=7" in args
    assert "--controllers=*,bootstrapsigner,tokencleaner" in cm["args"]
    assert "--cluster-cidr=10.244.0.0/16" in cm["args"]
    assert sched["name"] == "kube-scheduler"
    term = deploy["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert term["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["topologyKey"] == \
        "kubernetes.io/hostname"
    svc = objs[("Service", "kube-apiserver")]
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 31443


def test_sleeping_tenant_keeps_everything_with_zero_replicas(etcd_ca):
    _unused, _unused, objs = build(etcd_ca, replicas=0)
    assert objs[("Deployment", "kube-control-plane")]["spec"]["replicas"] == 0
    assert ("Secret", "kamaji-pki") in objs


def test_renewed_certificates_change_the_pod_template_checksum(etcd_ca):
    _unused, material, objs = build(etcd_ca)
    same = build(etcd_ca, existing=material)[2]
    checksum = objs[("Deployment", "kube-control-plane")]["spec"]["template"]["metadata"]["annotations"]
    assert same[("Deployment", "kube-control-plane")]["spec"]["template"]["metadata"]["annotations"] == checksum
    renewed = dict(material)
    del renewed["apiserver"]
    other = build(etcd_ca, existing=renewed)[2]
    assert other[("Deployment", "kube-control-plane")]["spec"]["template"]["metadata"]["annotations"] != checksum


def test_material_read_back_from_secrets_is_kept(etcd_ca):
    _unused, material, objs = build(etcd_ca)
    secrets = {name: objs[("Secret", name)]["data"] for name in
               ("kamaji-pki", "kamaji-kubeconfigs", "kamaji-admin-kubeconfig")}
    existing = tenant_manifests.material_from_secrets(secrets)
    again = build(etcd_ca, existing=existing)[1]
    assert again == material
    assert base64.b64decode(secrets["kamaji-pki"]["etcd-ca.crt"]).decode() == etcd_ca["cert"]


def test_bootstrap_objects(etcd_ca):
    spec, material, _unused = build(etcd_ca)
    objs = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
            for o in tenant_manifests.bootstrap_objects(spec, material, OPTIONS)}
    assert ("ClusterRoleBinding", "", "kubeadm:cluster-admins") in objs
    info = objs[("ConfigMap", "kube-public", "cluster-info")]["data"]["kubeconfig"]
    assert "https://192.0.2.10:31443" in info
    assert "failCgroupV1: false" in objs[("ConfigMap", "kube-system", "kubelet-config")]["data"]["kubelet"]
    assert objs[("Service", "kube-system", "kube-dns")]["spec"]["clusterIP"] == "10.96.0.10"
    assert ("DaemonSet", "kube-system", "kube-proxy") in objs
    no_addons = tenant_manifests.bootstrap_objects(
        tenant_spec.normalize({"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443},
                               "addons": {"coredns": False, "kube_proxy": False}}), material, OPTIONS)
    assert not [o for o in no_addons if o["kind"] in ("DaemonSet", "Deployment")]


def test_kubelet_config_fields_are_merged_over_the_defaults(etcd_ca):
    import yaml

    spec, material, _unused = build(etcd_ca)
    options = dict(OPTIONS, kubelet_config={"imageGCHighThresholdPercent": 100,
                                            "evictionHard": {"imagefs.available": "1%"}})
    objs = {(o["kind"], o["metadata"]["name"]): o for o in tenant_manifests.bootstrap_objects(spec, material, options)}
    kubelet = yaml.safe_load(objs[("ConfigMap", "kubelet-config")]["data"]["kubelet"])
    assert kubelet["imageGCHighThresholdPercent"] == 100
    assert kubelet["evictionHard"] == {"imagefs.available": "1%"}
    assert kubelet["failCgroupV1"] is False and kubelet["clusterDomain"] == "cluster.local"


@pytest.mark.parametrize(("wanted", "have", "same"), [
    ({"a": 1}, {"a": 1, "b": 2}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": [1, 2]}, {"a": [1, 2, 3]}, False),
    ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),
    ({"a": True}, {"a": "true"}, False),
    ({"a": "1"}, {"a": 1}, True),
    ({"a": {"b": None}}, {"a": {}}, False),
])
def test_is_subset(wanted, have, same):
    assert tenant_manifests.is_subset(wanted, have) is same


def _module():
    import importlib

    return importlib.import_module("ansible_collections.kamaji.core.plugins.modules.tenant_control_plane")


@pytest.mark.parametrize(("running", "wanted", "error"), [
    (None, "v1.37.2", None),
    ("v1.36.3", "v1.37.2", None),
    ("v1.37.2", "v1.37.2", None),
    ("v1.36.3", "v1.36.1", None),
    ("v1.37.2", "v1.36.3", "kubernetes_version: v1.36.3 would downgrade the running v1.37.2"),
    ("v1.35.4", "v1.37.2", "kubernetes_version: v1.37.2 skips a minor from the running v1.35.4; upgrade one minor"),
])
def test_upgrades_move_one_minor_at_a_time(running, wanted, error):
    got = _module().version_step_error(running, wanted)
    assert (got is None) if error is None else got.startswith(error), got


def test_deployed_version_is_read_from_the_apiserver_image(etcd_ca):
    _unused, _unused, objs = build(etcd_ca, kubernetes_version="v1.36.3")
    deploy = objs[("Deployment", "kube-control-plane")]
    assert _module().deployed_version([deploy], "tenant-acme") == "v1.36.3"
    assert _module().deployed_version([deploy], "tenant-other") is None
