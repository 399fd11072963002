"""The tenant spec: two lines are enough; every bad input is named before anything changes."""
from __future__ import annotations

import sys

import pytest
import yaml
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import FIELDS, SpecError, normalize

TWO_LINES = {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}


def test_two_line_tenant_gets_every_default():
    spec = normalize(TWO_LINES)
    assert spec["kubernetes_version"] == versions.KUBERNETES and spec["replicas"] == 2
    assert spec["service_type"] == "NodePort"
    assert spec["dns_service_ip"] == "10.96.0.10"
    assert spec["addons"] == {"coredns": True, "kube_proxy": True}
    assert spec["write_freeze"] is False
    assert spec["datastore"] == "etcd"
    assert spec["resources"]["apiserver"]["requests"] == {"cpu": "100m", "memory": "320Mi"}
    assert spec["derived"] == {"namespace": "tenant-acme", "etcd_prefix": "/acme/", "etcd_user": "acme",
                               "apiserver_etcd_prefix": "/acme", "server": "https://192.0.2.10:31443",
                               "kubernetes_service_ip": "10.96.0.1", "quota_bytes": None}


def test_partial_nested_values_merge_with_defaults():
    spec = normalize(dict(TWO_LINES, resources={"apiserver": {"limits": {"memory": "1Gi"}}}, addons={"kube_proxy": False}))
    assert spec["resources"]["apiserver"] == {"requests": {"cpu": "100m", "memory": "320Mi"}, "limits": {"memory": "1Gi"}}
    assert spec["addons"] == {"coredns": True, "kube_proxy": False}


def test_null_values_keep_the_defaults():
    spec = normalize(dict(TWO_LINES, addons=None, resources={"apiserver": None}, extra_args={"scheduler": None},
                          extra_sans=None, replicas=None))
    assert spec["addons"] == {"coredns": True, "kube_proxy": True} and spec["replicas"] == 2
    assert spec["resources"]["apiserver"]["requests"] == {"cpu": "100m", "memory": "320Mi"}
    assert spec["extra_sans"] == [] and spec["extra_args"] == {}


def test_a_size_profile_gives_its_requests_under_the_tenants_own_resources():
    assert normalize(TWO_LINES)["size"] == "standard"
    small = normalize(dict(TWO_LINES, size="small"))
    assert small["resources"] == {"apiserver": {"requests": {"cpu": "50m", "memory": "192Mi"}},
                                  "controller_manager": {"requests": {"cpu": "20m", "memory": "64Mi"}},
                                  "scheduler": {"requests": {"cpu": "10m", "memory": "32Mi"}}}
    own = normalize(dict(TWO_LINES, size="small", resources={"apiserver": {"requests": {"memory": "256Mi"},
                                                                           "limits": {"memory": "512Mi"}}}))
    assert own["resources"]["apiserver"] == {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    # what the record holds normalizes to itself
    form = {k: v for k, v in own.items() if k in FIELDS and k not in ("state", "confirm_delete")}
    assert normalize(dict(form, name="acme")) == own


def test_the_go_runtime_follows_the_profile_and_a_memory_limit():
    from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import go_runtime_env

    assert {c: go_runtime_env(normalize(TWO_LINES), c) for c in ("apiserver", "scheduler")} == {
        "apiserver": {}, "scheduler": {}}
    small = normalize(dict(TWO_LINES, size="small", resources={"apiserver": {"limits": {"memory": "512Mi"}}}))
    assert go_runtime_env(small, "apiserver") == {"GOGC": "50", "GOMEMLIMIT": "460MiB"}
    assert go_runtime_env(small, "controller_manager") == {"GOGC": "50"}
    limited = normalize(dict(TWO_LINES, resources={"scheduler": {"limits": {"memory": "1G"}}}))
    assert go_runtime_env(limited, "scheduler") == {"GOMEMLIMIT": "858MiB"}


def test_replicas_zero_is_a_sleeping_tenant():
    assert normalize(dict(TWO_LINES, replicas=0))["replicas"] == 0


BAD = [
    ({"name": "Acme"}, "name"),
    ({"name": "a" * 41}, "name"),
    ({"name": "root"}, "name"),
    ({"name": "kube-system"}, "name"),
    ({"name": "default"}, "name"),
    ({"name": "kube-lab"}, "name"),
    ({"kubernetes_version": "1.37.2"}, "tenant.kubernetes_version"),
    ({"kubernetes_version": "v1.30.0"}, "tenant.kubernetes_version"),
    ({"replicas": -1}, "tenant.replicas"),
    ({"replicas": "two"}, "tenant.replicas"),
    ({"service_type": "Ingress"}, "tenant.service_type"),
    ({"endpoint": {}}, "tenant.endpoint.address"),
    ({"endpoint": {"address": "not valid!"}}, "tenant.endpoint.address"),
    ({"endpoint": {"address": "192.0.2.10", "port": 6443}}, "tenant.endpoint.port"),
    ({"endpoint": {"address": "192.0.2.10", "port": 70000}, "service_type": "LoadBalancer"}, "tenant.endpoint.port"),
    ({"service_cidr": "10.96.0.1/16"}, "tenant.service_cidr"),
    ({"pod_cidr": "10.96.128.0/17"}, "tenant.pod_cidr"),
    ({"dns_service_ip": "10.97.0.10"}, "tenant.dns_service_ip"),
    ({"dns_service_ip": "10.96.0.1"}, "tenant.dns_service_ip"),
    ({"extra_sans": ["bad san"]}, "tenant.extra_sans"),
    ({"admission_plugins": ["not-a-plugin"]}, "tenant.admission_plugins"),
    ({"extra_args": {"apiserver": {"etcd-prefix": "/other"}}}, "tenant.extra_args.apiserver.etcd-prefix"),
    ({"extra_args": {"kubelet": {"v": "2"}}}, "tenant.extra_args.kubelet"),
    ({"resources": {"apiserver": {"requests": {"cpu": "lots"}}}}, "tenant.resources.apiserver.requests.cpu"),
    ({"addons": {"konnectivity": True}}, "tenant.addons.konnectivity"),
    ({"addons": {"coredns": "yes"}}, "tenant.addons.coredns"),
    ({"cluster_domain": "Bad_Domain"}, "tenant.cluster_domain"),
    ({"colour": "blue"}, "tenant.colour"),
    ({"endpoint": "192.0.2.10:31443"}, "tenant.endpoint"),
    ({"write_freeze": "yes"}, "tenant.write_freeze"),
    ({"storage_quota": "lots"}, "tenant.storage_quota"),
    ({"storage_quota": "500m"}, "tenant.storage_quota"),
    ({"storage_quota": 0}, "tenant.storage_quota"),
    ({"storage_quota": "0.5"}, "tenant.storage_quota"),
    ({"storage_quota": True}, "tenant.storage_quota"),
    ({"encryption_key_generation": 0}, "tenant.encryption_key_generation"),
    ({"encryption_key_generation": "2"}, "tenant.encryption_key_generation"),
    ({"encryption_key_generation": True}, "tenant.encryption_key_generation"),
    ({"datastore": "etcd-eu"}, "tenant.datastore"),
    ({"datastore": ""}, "tenant.datastore"),
    ({"datastore": ["etcd"]}, "tenant.datastore"),
    ({"size": "huge"}, "tenant.size"),
    ({"size": ["small"]}, "tenant.size"),
    ({"resources": {"scheduler": {"limits": {"memory": "100m"}}}}, "tenant.resources.scheduler.limits.memory"),
]


@pytest.mark.parametrize(("quota", "size"), [("512Mi", 512 * 2**20), ("2G", 2 * 10**9), (1048576, 1048576),
                                             ("1.5Gi", 3 * 2**29), ("100k", 100000)])
def test_a_storage_quota_is_a_size_in_bytes(quota, size):
    assert normalize(dict(TWO_LINES, storage_quota=quota))["derived"]["quota_bytes"] == size


# A misspelled key at every level the spec has: the message names it and the nearest known key.
TYPOS = [
    ({"kubernetes_verison": versions.KUBERNETES_OLDER[0]}, "tenant.kubernetes_verison", "kubernetes_version"),
    ({"replica": 3}, "tenant.replica", "replicas"),
    ({"endpoint": {"address": "192.0.2.10", "prot": 31443}}, "tenant.endpoint.prot", "port"),
    ({"addons": {"kube-proxy": False}}, "tenant.addons.kube-proxy", "kube_proxy"),
    ({"resources": {"api_server": {}}}, "tenant.resources.api_server", "apiserver"),
    ({"resources": {"apiserver": {"request": {}}}}, "tenant.resources.apiserver.request", "requests"),
    ({"resources": {"scheduler": {"limits": {"memroy": "1Gi"}}}}, "tenant.resources.scheduler.limits.memroy", "memory"),
    ({"extra_args": {"controller-manager": {}}}, "tenant.extra_args.controller-manager", "controller_manager"),
]


@pytest.mark.parametrize("override, field, near", TYPOS, ids=[f for _o, f, _n in TYPOS])
def test_a_misspelled_key_names_itself_and_the_nearest_known_one(override, field, near):
    with pytest.raises(SpecError) as err:
        normalize(dict(TWO_LINES, **override))
    assert str(err.value).startswith("%s: unknown " % field), str(err.value)
    assert "did you mean %s? known " % near in str(err.value), str(err.value)


def test_the_issue_typo_fails_instead_of_taking_the_default_version():
    with pytest.raises(SpecError) as err:
        normalize(dict(TWO_LINES, kubernetes_verison=versions.KUBERNETES_OLDER[0]))
    assert str(err.value) == ("tenant.kubernetes_verison: unknown field; did you mean kubernetes_version? "
                              "known fields: " + ", ".join(FIELDS))


def test_an_unknown_key_far_from_any_suggests_nothing():
    with pytest.raises(SpecError, match=r"^tenant\.colour: unknown field; known fields: addons, "):
        normalize(dict(TWO_LINES, colour="blue"))


@pytest.mark.parametrize("override, field", BAD, ids=[f for _o, f in BAD])
def test_bad_input_names_the_field(override, field):
    raw = dict(TWO_LINES, **override)
    with pytest.raises(SpecError) as err:
        normalize(raw)
    assert str(err.value).startswith(field + ":"), str(err.value)


def test_admin_network_overlap_is_refused():
    with pytest.raises(SpecError, match=r"^tenant\.pod_cidr: 10\.244\.0\.0/16 overlaps the admin cluster's network"):
        normalize(TWO_LINES, admin_networks=["10.244.0.0/16"])


def test_module_fails_naming_the_field(tmp_path):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "good", "kamaji.core.tenant_spec": {"spec": TWO_LINES}, "register": "good"},
        {"name": "bad", "kamaji.core.tenant_spec": {"spec": dict(TWO_LINES, pod_cidr="10.96.0.0/12")}}]}]
    res = run_playbook(play, tmp_path)
    assert res.task("good")["changed"] is False
    assert res.task("good")["spec"]["derived"]["namespace"] == "tenant-acme"
    assert res.rc != 0
    assert res.task("bad")["msg"].startswith("tenant acme: tenant.pod_cidr: 10.96.0.0/12 overlaps service_cidr")


def test_module_fails_on_the_issue_typo_in_a_hosts_tenant_dict(tmp_path):
    """The tenant_spec module on the `tenant` dict of a host, as its EXAMPLES show."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"acme": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "tenant": {"kubernetes_verison": versions.KUBERNETES_OLDER[0], "endpoint": {"address": "192.0.2.10", "port": 31443}}}}}}))
    play = [{"hosts": "acme", "gather_facts": False, "tasks": [
        {"name": "spec", "kamaji.core.tenant_spec": {
            "spec": "{{ tenant | default({}) | combine({'name': tenant_name | default(inventory_hostname)}) }}"}}]}]
    res = run_playbook(play, tmp_path, inventory=str(inventory))
    assert res.rc != 0
    failed = res.task("spec", host="acme")
    assert failed["msg"].startswith("tenant acme: tenant.kubernetes_verison: unknown field; "
                                    "did you mean kubernetes_version?"), failed["msg"]
    assert failed["field"] == "tenant.kubernetes_verison"


@pytest.mark.parametrize("name", ["kube-system", "kube-public", "kube-node-lease", "default", "kube-acme"])
def test_module_refuses_names_read_as_kubernetes_own(tmp_path, name):
    """Through the tenant_spec module, with the tenant named after its inventory host."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "tenant": {"endpoint": {"address": "192.0.2.10", "port": 31443}}}}}}))
    play = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "spec", "kamaji.core.tenant_spec": {
            "spec": "{{ tenant | default({}) | combine({'name': tenant_name | default(inventory_hostname)}) }}"}}]}]
    res = run_playbook(play, tmp_path, inventory=str(inventory))
    assert res.rc != 0
    failed = res.task("spec", host=name)
    assert failed["msg"].startswith("tenant %s: name: %r is reserved (" % (name, name)), failed["msg"]
    assert failed["msg"].endswith("choose another tenant name (the inventory host name, or the tenant_name "
                                  "host variable)"), failed["msg"]
    assert failed["field"] == "name"


def test_a_tenant_marked_absent_keeps_its_name_and_guard_and_nothing_else_is_checked():
    # an old release, no endpoint: a tenant being deleted is not held to the rules of one being made
    spec = normalize({"name": "acme", "state": "absent", "confirm_delete": "acme", "kubernetes_version": "v1.20.0"})
    assert spec == {"name": "acme", "state": "absent", "confirm_delete": "acme", "datastore": "etcd",
                    "derived": {"namespace": "tenant-acme", "etcd_prefix": "/acme/", "etcd_user": "acme",
                                "apiserver_etcd_prefix": "/acme"}}
    # unknown keys are still typos
    with pytest.raises(SpecError, match=r"^tenant.confim_delete: unknown field; did you mean confirm_delete\?"):
        normalize({"name": "acme", "state": "absent", "confim_delete": "acme"})


@pytest.mark.parametrize(("raw", "message"), [
    ({"state": "deleted"}, "tenant.state: 'deleted' must be present or absent"),
    ({"state": "present", "confirm_delete": "acme"}, "tenant.confirm_delete: only read with tenant.state: absent"),
    ({"confirm_delete": "acme"}, "tenant.confirm_delete: only read with tenant.state: absent"),
])
def test_lifecycle_fields_are_checked(raw, message):
    with pytest.raises(SpecError) as err:
        normalize(dict(TWO_LINES, **raw))
    assert str(err.value).startswith(message), err.value


def test_a_present_spec_carries_no_lifecycle_field():
    assert normalize(dict(TWO_LINES, state="present")) == normalize(TWO_LINES)
