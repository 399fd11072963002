"""The live fleet as inventory (module_utils.tenant.inventory): records -> hosts, groups, variables."""
from __future__ import annotations

import json

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import inventory, record
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

NEWEST, OLDER = versions.KUBERNETES, versions.KUBERNETES_OLDER[0]
V_NEW = "kamaji_version_v1_%d" % versions.minor(NEWEST)
V_OLD = "kamaji_version_v1_%d" % versions.minor(OLDER)


def _record(name, port, **over):
    spec = tenant_spec.normalize(dict({"name": name, "endpoint": {"address": "192.0.2.10", "port": port}}, **over))
    obj = record.record_object(spec)
    obj["metadata"]["uid"] = "u-" + name  # as read: the API adds fields
    return obj


def _tenant(obj):
    return record.spec_from_record(obj)[1]


RECORDS = [_record("globex", 31444, kubernetes_version=OLDER), _record("acme", 31443),
           _record("initech", 31445, replicas=0)]


def test_alone_the_admin_cluster_is_the_fleet():
    out = inventory.fleet(RECORDS, None)
    assert out.warnings == []
    assert list(out.hosts) == ["acme", "globex", "initech"]
    assert out.groups == {"tenants": ["acme", "globex", "initech"], V_NEW: ["acme", "initech"], V_OLD: ["globex"],
                          "kamaji_state_present": ["acme", "globex", "initech"]}
    acme = out.hosts["acme"]
    assert acme["tenant"] == _tenant(RECORDS[1]) == acme["kamaji_tenant_recorded"]
    assert acme["tenant"] is not acme["kamaji_tenant_recorded"]  # two variables, never one shared object
    assert acme["kamaji_tenant_orphaned"] is False and acme["ansible_connection"] == "local"
    # exactly the inventory's form: the tenants play would normalize it to the applied spec
    assert tenant_spec.normalize(dict(acme["tenant"], name="acme"))["endpoint"] == {"address": "192.0.2.10", "port": 31443}
    assert out.hosts["globex"]["tenant"]["kubernetes_version"] == OLDER
    assert out.hosts["initech"]["tenant"]["replicas"] == 0


def test_after_a_static_inventory_the_tenants_it_does_not_name_are_orphaned():
    static = inventory.inventory_tenants({"acme": {"tenant": {"replicas": 3}}, "old-globex": {"tenant_name": "globex"}})
    assert static == {"acme": "acme", "globex": "old-globex"}
    out = inventory.fleet(RECORDS, static, taken=["acme", "old-globex", "etcd-0"])
    assert out.warnings == []
    # the inventory's tenants: the record beside, never over, their own `tenant` dict; groups by the record
    assert out.hosts["acme"] == {"kamaji_tenant_recorded": _tenant(RECORDS[1]), "kamaji_tenant_orphaned": False}
    assert out.hosts["old-globex"] == {"kamaji_tenant_recorded": _tenant(RECORDS[0]), "kamaji_tenant_orphaned": False}
    # initech: in the admin cluster only; in `orphaned`, never in `tenants`
    assert out.hosts["initech"]["kamaji_tenant_orphaned"] is True
    assert out.hosts["initech"]["tenant"] == _tenant(RECORDS[2])
    assert out.hosts["initech"]["ansible_connection"] == "local"
    assert out.groups == {"orphaned": ["initech"], V_NEW: ["acme", "initech"], V_OLD: ["old-globex"],
                          "kamaji_state_present": ["acme", "old-globex", "initech"]}
    assert "tenants" not in out.groups


def test_an_empty_static_tenants_group_orphans_every_tenant():
    out = inventory.fleet(RECORDS, {})
    assert out.groups["orphaned"] == ["acme", "globex", "initech"] and "tenants" not in out.groups


def test_an_orphan_whose_name_is_another_host_is_left_out_with_a_warning():
    out = inventory.fleet(RECORDS, {"acme": "acme", "globex": "globex"}, taken=["acme", "globex", "initech"])
    assert "initech" not in out.hosts and "orphaned" not in out.groups
    assert out.warnings == [
        "tenant initech (namespace tenant-initech) is in the admin cluster, not in the tenants group, and its name is "
        "already an inventory host outside tenants; not added (rename that host, or add the tenant to tenants)"]


def test_a_bad_record_is_skipped_with_a_warning_naming_its_namespace():
    broken = _record("hooli", 31446)
    broken["data"]["spec.json"] = json.dumps({"kubernetes_version": NEWEST, "state": "present", "replicaz": 1})
    stray = _record("pied", 31447)
    stray["metadata"]["namespace"] = "tenant-acme"
    out = inventory.fleet([*RECORDS, broken, stray], None)
    assert list(out.hosts) == ["acme", "globex", "initech"]
    assert out.warnings == [
        "tenant record tenant-hooli/kamaji-tenant-spec: spec.json: tenant.replicaz: unknown field; did you mean "
        "replicas? known fields: " + ", ".join(sorted(tenant_spec.FIELDS)) + "; skipped",
        "tenant record tenant-acme/kamaji-tenant-spec: records tenant pied, whose namespace is tenant-pied; a record "
        "is only read in its tenant's namespace; skipped"]


def test_groups_follow_the_recorded_version_and_state():
    assert inventory.groups_of({"kubernetes_version": OLDER, "state": "present"}) == [V_OLD, "kamaji_state_present"]
    assert inventory.groups_of({"kubernetes_version": NEWEST, "state": "absent"}) == [V_NEW, "kamaji_state_absent"]
