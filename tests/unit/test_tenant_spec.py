"""The tenant spec: two lines are enough; every bad input is named before anything changes."""
from __future__ import annotations

import pytest
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import SpecError, normalize

TWO_LINES = {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}


def test_two_line_tenant_gets_every_default():
    spec = normalize(TWO_LINES)
    assert spec["kubernetes_version"] == "v1.37.2" and spec["replicas"] == 2
    assert spec["service_type"] == "NodePort"
    assert spec["dns_service_ip"] == "10.96.0.10"
    assert spec["addons"] == {"coredns": True, "kube_proxy": True}
    assert spec["resources"]["apiserver"]["requests"] == {"cpu": "100m", "memory": "320Mi"}
    assert spec["derived"] == {"namespace": "tenant-acme", "etcd_prefix": "/acme/", "etcd_user": "acme",
                               "apiserver_etcd_prefix": "/acme", "server": "https://192.0.2.10:31443",
                               "kubernetes_service_ip": "10.96.0.1"}


def test_partial_nested_values_merge_with_defaults():
    spec = normalize(dict(TWO_LINES, resources={"apiserver": {"limits": {"memory": "1Gi"}}}, addons={"kube_proxy": False}))
    assert spec["resources"]["apiserver"] == {"requests": {"cpu": "100m", "memory": "320Mi"}, "limits": {"memory": "1Gi"}}
    assert spec["addons"] == {"coredns": True, "kube_proxy": False}


def test_replicas_zero_is_a_sleeping_tenant():
    assert normalize(dict(TWO_LINES, replicas=0))["replicas"] == 0


BAD = [
    ({"name": "Acme"}, "name"),
    ({"name": "a" * 41}, "name"),
    ({"name": "root"}, "name"),
    ({"kubernetes_version": "1.37.2"}, "kubernetes_version"),
    ({"kubernetes_version": "v1.30.0"}, "kubernetes_version"),
    ({"replicas": -1}, "replicas"),
    ({"replicas": "two"}, "replicas"),
    ({"service_type": "Ingress"}, "service_type"),
    ({"endpoint": {}}, "endpoint.address"),
    ({"endpoint": {"address": "not valid!"}}, "endpoint.address"),
    ({"endpoint": {"address": "192.0.2.10", "port": 6443}}, "endpoint.port"),
    ({"endpoint": {"address": "192.0.2.10", "port": 70000}, "service_type": "LoadBalancer"}, "endpoint.port"),
    ({"service_cidr": "10.96.0.1/16"}, "service_cidr"),
    ({"pod_cidr": "10.96.128.0/17"}, "pod_cidr"),
    ({"dns_service_ip": "10.97.0.10"}, "dns_service_ip"),
    ({"dns_service_ip": "10.96.0.1"}, "dns_service_ip"),
    ({"extra_sans": ["bad san"]}, "extra_sans"),
    ({"admission_plugins": ["not-a-plugin"]}, "admission_plugins"),
    ({"extra_args": {"apiserver": {"etcd-prefix": "/other"}}}, "extra_args.apiserver.etcd-prefix"),
    ({"extra_args": {"kubelet": {"v": "2"}}}, "extra_args.kubelet"),
    ({"resources": {"apiserver": {"requests": {"cpu": "lots"}}}}, "resources.apiserver.requests.cpu"),
    ({"addons": {"konnectivity": True}}, "addons.konnectivity"),
    ({"cluster_domain": "Bad_Domain"}, "cluster_domain"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize("override, field", BAD, ids=[f for _o, f in BAD])
def test_bad_input_names_the_field(override, field):
    raw = dict(TWO_LINES, **override)
    with pytest.raises(SpecError) as err:
        normalize(raw)
    assert str(err.value).startswith(field + ":"), str(err.value)


def test_admin_network_overlap_is_refused():
    with pytest.raises(SpecError, match=r"^pod_cidr: 10\.244\.0\.0/16 overlaps the admin cluster's network"):
        normalize(TWO_LINES, admin_networks=["10.244.0.0/16"])


def test_module_fails_naming_the_field(tmp_path):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "good", "kamaji.core.tenant_spec": {"spec": TWO_LINES}, "register": "good"},
        {"name": "bad", "kamaji.core.tenant_spec": {"spec": dict(TWO_LINES, pod_cidr="10.96.0.0/12")}}]}]
    res = run_playbook(play, tmp_path)
    assert res.task("good")["changed"] is False
    assert res.task("good")["spec"]["derived"]["namespace"] == "tenant-acme"
    assert res.rc != 0
    assert res.task("bad")["msg"].startswith("tenant acme: pod_cidr: 10.96.0.0/12 overlaps service_cidr")
