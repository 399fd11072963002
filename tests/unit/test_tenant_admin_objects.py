"""A tenant's objects in the admin cluster (module_utils.tenant.admin_objects), without any API server."""
from __future__ import annotations

from ansible_collections.kamaji.core.plugins.module_utils import versions


def test_admin_objects_in_the_tenant_namespace(build_tenant):
    _unused, _unused, objs = build_tenant()
    assert next(iter(objs)) == ("Namespace", "tenant-acme")
    assert set(objs) == {
        ("Namespace", "tenant-acme"), ("Secret", "kamaji-pki"), ("Secret", "kamaji-kubeconfigs"),
        ("Secret", "kamaji-admin-kubeconfig"), ("Deployment", "kube-control-plane"),
        ("Service", "kube-apiserver"), ("PodDisruptionBudget", "kube-control-plane")}
    for obj in objs.values():
        assert obj["metadata"]["labels"]["kamaji.core/tenant"] == "acme"


def test_deployment_wiring(build_tenant):
    _unused, _unused, objs = build_tenant(replicas=3, extra_args={"apiserver": {"audit-log-maxage": 7}})
    deploy = objs[("Deployment", "kube-control-plane")]
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    api, cm, sched = deploy["spec"]["template"]["spec"]["containers"]
    assert api["image"] == "registry.example/kube-apiserver:" + versions.KUBERNETES
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


def test_a_size_profile_sets_the_go_runtime_and_requests_of_each_container(build_tenant):
    _unused, _unused, objs = build_tenant()
    standard = objs[("Deployment", "kube-control-plane")]["spec"]["template"]["spec"]["containers"]
    # the standard profile renders the Deployment as before profiles existed: no env, no rollout
    assert [c.get("env") for c in standard] == [None, None, None]
    _unused, _unused, objs = build_tenant(size="small", resources={"apiserver": {"limits": {"memory": "400Mi"}}})
    api, cm, sched = objs[("Deployment", "kube-control-plane")]["spec"]["template"]["spec"]["containers"]
    assert api["env"] == [{"name": "GOGC", "value": "50"}, {"name": "GOMEMLIMIT", "value": "360MiB"}]
    assert cm["env"] == sched["env"] == [{"name": "GOGC", "value": "50"}]
    assert api["resources"] == {"requests": {"cpu": "50m", "memory": "192Mi"}, "limits": {"memory": "400Mi"}}
    assert sched["resources"] == {"requests": {"cpu": "10m", "memory": "32Mi"}}


def test_dns_endpoint_turns_the_endpoint_reconciler_off(build_tenant):
    _unused, _unused, objs = build_tenant(endpoint={"address": "api.acme.example", "port": 31443},
                                          service_type="ClusterIP")
    args = objs[("Deployment", "kube-control-plane")]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--endpoint-reconciler-type=none" in args
    assert not [a for a in args if a.startswith("--advertise-address")]
    assert "externalIPs" not in objs[("Service", "kube-apiserver")]["spec"]


def test_sleeping_tenant_keeps_everything_with_zero_replicas(build_tenant):
    _unused, _unused, objs = build_tenant(replicas=0)
    assert objs[("Deployment", "kube-control-plane")]["spec"]["replicas"] == 0
    assert ("Secret", "kamaji-pki") in objs


def test_renewed_certificates_change_the_pod_template_checksum(build_tenant):
    _unused, material, objs = build_tenant()
    same = build_tenant(existing=material)[2]
    checksum = objs[("Deployment", "kube-control-plane")]["spec"]["template"]["metadata"]["annotations"]
    assert same[("Deployment", "kube-control-plane")]["spec"]["template"]["metadata"]["annotations"] == checksum
    renewed = dict(material)
    del renewed["apiserver"]
    other = build_tenant(existing=renewed)[2]
    assert other[("Deployment", "kube-control-plane")]["spec"]["template"]["metadata"]["annotations"] != checksum
