"""A tenant's record in the admin cluster (module_utils.tenant.record): the applied spec, read back."""
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.common import objects
from ansible_collections.kamaji.core.plugins.module_utils.tenant import record
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

FULL = {"name": "globex", "kubernetes_version": "v1.36.3", "replicas": 3, "service_type": "ClusterIP",
        "endpoint": {"address": "API.Globex.example", "port": 6443}, "extra_sans": ["198.51.100.7"],
        "service_cidr": "10.112.0.0/16", "pod_cidr": "10.128.0.0/14", "cluster_domain": "Globex.Local",
        "admission_plugins": ["NodeRestriction"], "extra_args": {"apiserver": {"audit-log-maxage": 7}},
        "resources": {"apiserver": {"limits": {"memory": "1Gi"}}}, "addons": {"kube_proxy": False}}


def _spec(**over):
    return tenant_spec.normalize(dict({"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}, **over))


def _as_read(obj):
    """The record as the API server returns it: metadata and fields it adds, no kind in a list."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u-1", resourceVersion="7", creationTimestamp="2026-12-03T10:00:00Z")
    return out


@pytest.mark.parametrize("raw", [{"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}, FULL])
def test_the_record_gives_back_the_spec_in_the_inventory_form(raw):
    spec = tenant_spec.normalize(raw)
    name, tenant = record.spec_from_record(_as_read(record.record_object(spec)))
    assert name == raw["name"]
    assert "name" not in tenant and "derived" not in tenant and tenant["state"] == "present"
    assert set(tenant) == set(tenant_spec.FIELDS) - {"confirm_delete"}
    # every default filled: the record alone is the whole spec, and normalizing it gives the spec again
    assert tenant_spec.normalize(dict(tenant, name=name)) == spec
    assert tenant["kubernetes_version"] == spec["kubernetes_version"]


def test_the_record_is_a_configmap_in_the_tenant_namespace_labelled_like_its_objects(build_tenant):
    spec, material, objs = build_tenant()
    obj = record.record_object(spec)
    assert (obj["apiVersion"], obj["kind"]) == ("v1", "ConfigMap")
    assert obj["metadata"]["name"] == "kamaji-tenant-spec" and obj["metadata"]["namespace"] == "tenant-acme"
    assert obj["metadata"]["labels"] == objs[("Namespace", "tenant-acme")]["metadata"]["labels"]
    assert sorted(obj["data"]) == ["format", "name", "spec.json"]
    assert obj["data"]["format"] == "1" and obj["data"]["name"] == "acme"
    recorded = json.loads(obj["data"]["spec.json"])
    assert recorded["kubernetes_version"] == spec["kubernetes_version"] and recorded["state"] == "present"


def test_the_record_holds_no_secret(build_tenant):
    spec, material, _objs = build_tenant(extra_sans=["api.acme.example"])
    text = json.dumps(record.record_object(spec))
    assert "PRIVATE KEY" not in text and "CERTIFICATE" not in text
    for item in ("ca", "apiserver", "sa"):
        key_body = material[item]["key"].splitlines()[1]
        assert key_body not in text, item
    assert "token" not in text.lower() and "client-key-data" not in text


def test_the_same_spec_is_the_same_record_so_a_rerun_sends_nothing():
    first = record.record_object(_spec(extra_args={"scheduler": {"v": 2}, "apiserver": {"a-flag": "x"}}))
    again = record.record_object(_spec(extra_args={"apiserver": {"a-flag": "x"}, "scheduler": {"v": 2}}))
    assert first == again
    assert objects.unchanged([again], [_as_read(first)]) == ([], 1)
    # a changed spec is a changed record
    other = record.record_object(_spec(replicas=0))
    assert objects.unchanged([other], [_as_read(first)]) == ([other], 0)


def _record(**data):
    obj = record.record_object(_spec())
    obj["data"].update(data)
    return obj


@pytest.mark.parametrize(("data", "namespace", "message"), [
    ({"format": "2"}, None, "tenant-acme/kamaji-tenant-spec: record format '2' is not one this collection reads"),
    ({"format": None}, None, "tenant-acme/kamaji-tenant-spec: record format None"),
    ({"name": "Acme"}, None, "tenant-acme/kamaji-tenant-spec: name: 'Acme' must be a DNS-1123 label"),
    ({"name": "globex"}, None, "tenant-acme/kamaji-tenant-spec: records tenant globex, whose namespace is tenant-globex"),
    ({}, "tenant-globex", "tenant-globex/kamaji-tenant-spec: records tenant acme, whose namespace is tenant-acme"),
    ({"spec.json": "{not json"}, None, "tenant-acme/kamaji-tenant-spec: spec.json is not JSON"),
    ({"spec.json": "[1, 2]"}, None, "tenant-acme/kamaji-tenant-spec: spec.json must hold a mapping"),
    ({"spec.json": json.dumps({"kubernetes_version": "v1.37.2", "state": "present", "replica": 2})}, None,
     "tenant-acme/kamaji-tenant-spec: spec.json: tenant.replica: unknown field; did you mean replicas?"),
    ({"spec.json": json.dumps({"kubernetes_version": "1.37", "state": "present"})}, None,
     "tenant-acme/kamaji-tenant-spec: spec.json: tenant.kubernetes_version: '1.37' is not a Kubernetes version"),
    ({"spec.json": json.dumps({"kubernetes_version": "v1.37.2", "state": "gone"})}, None,
     "tenant-acme/kamaji-tenant-spec: spec.json: tenant.state: 'gone' must be one of present, absent"),
    ({"spec.json": json.dumps({"kubernetes_version": "v1.37.2", "state": "present", "name": "x"})}, None,
     "tenant-acme/kamaji-tenant-spec: spec.json: tenant.name: not a field of the spec"),
])
def test_a_bad_record_is_refused_naming_its_namespace(data, namespace, message):
    obj = _record(**data)
    if namespace:
        obj["metadata"]["namespace"] = namespace
    with pytest.raises(record.RecordError) as err:
        record.spec_from_record(obj)
    assert str(err.value).startswith(message), str(err.value)


def test_a_record_without_data_is_refused():
    with pytest.raises(record.RecordError, match=r"^tenant-x/kamaji-tenant-spec: record format None"):
        record.spec_from_record({"metadata": {"name": "kamaji-tenant-spec", "namespace": "tenant-x"}})
