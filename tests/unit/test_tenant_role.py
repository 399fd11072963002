"""The tenant_control_plane role's spec input, without an admin cluster: the spec is the host's
`tenant` dict; the former bare variables fail the role's first task, before anything is read
or changed; and the defaults of the role and of the tenant modules agree with `versions`."""
from __future__ import annotations

import os
import sys

import yaml
from harness.runner import REPO, run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec
from ansible_collections.kamaji.core.plugins.modules import tenant_control_plane
from ansible_collections.kamaji.core.plugins.modules import tenant_spec as tenant_spec_module

ROLE = os.path.join(REPO, "roles", "tenant_control_plane")
PLAYBOOK = os.path.join(REPO, "playbooks", "tenants.yml")
FIRST_TASK = "The tenant spec is this host's `tenant` dict (checked before anything is read or changed)"
PREVIEW = "Check mode - no admin cluster to create the tenant in yet"
E = {"address": "192.0.2.10", "port": 31443}


def _load(*path):
    with open(os.path.join(ROLE, *path), encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_the_roles_list_of_spec_fields_is_the_spec_modules():
    assert _load("vars", "main.yml")["_tenant_control_plane_spec_fields"] == list(tenant_spec.FIELDS)


def test_role_and_module_defaults_come_from_versions():
    defaults = _load("defaults", "main.yml")
    options = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert defaults["tenant_control_plane_coredns_version"] == versions.COREDNS
    assert options["tenant_control_plane_coredns_version"]["default"] == versions.COREDNS
    assert defaults["tenant_control_plane_supported_minors"] == list(versions.SUPPORTED_MINORS)
    assert options["tenant_control_plane_supported_minors"]["default"] == list(versions.SUPPORTED_MINORS)
    doc = yaml.safe_load(tenant_control_plane.DOCUMENTATION)["options"]
    for name, option in tenant_control_plane.ARGUMENT_SPEC.items():
        assert doc[name].get("default") == option.get("default"), name
    assert "etcd_root" not in doc
    spec_doc = yaml.safe_load(tenant_spec_module.DOCUMENTATION)["options"]
    assert spec_doc["supported_minors"]["default"] == list(versions.SUPPORTED_MINORS)


def _run(tmp_path, tenants):
    """The tenants playbook in check mode with no admin cluster: the first tasks only."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"tenants": {"hosts": tenants, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "tenant_control_plane_admin_kubeconfig": str(tmp_path / "no-admin-cluster.conf"),
        "tenant_control_plane_etcd_endpoints": ["https://192.0.2.21:2379"]}}}}}))
    return run_playbook(PLAYBOOK, tmp_path, inventory=str(inventory), check=True)


def test_old_bare_spec_variables_fail_naming_them_before_anything_else(tmp_path):
    res = _run(tmp_path, {
        "good": {"tenant": {"kubernetes_version": versions.KUBERNETES_OLDER[0], "endpoint": E}},
        "old": {"kubernetes_version": versions.KUBERNETES_OLDER[0], "endpoint": E},
        "typo": {"kubernetes_verison": versions.KUBERNETES_OLDER[0], "tenant": {"endpoint": E}},
        "whole": {"tenant_control_plane_spec": {"name": "whole", "endpoint": E}},
        "named": {"tenant": {"name": "other", "endpoint": E}},
    })
    assert res.rc != 0
    old = res.task(FIRST_TASK, host="old")
    assert old["failed"] and old["msg"].startswith(
        "tenant old: endpoint, kubernetes_version: host variables of the old tenant spec"), old["msg"]
    assert "move them under `tenant:`, e.g. tenant: {endpoint: ...}" in old["msg"], old["msg"]
    whole = res.task(FIRST_TASK, host="whole")
    assert whole["failed"] and whole["msg"].startswith(
        "tenant whole: tenant_control_plane_spec: host variable of the old tenant spec"), whole["msg"]
    named = res.task(FIRST_TASK, host="named")
    assert named["failed"] and named["msg"].startswith(
        "tenant named: tenant.name: the tenant is named by its inventory host"), named["msg"]
    # a well-formed host goes on (here to the check-mode preview, as there is no admin cluster)
    for host in ("good", "typo"):
        assert not res.task(FIRST_TASK, host=host).get("failed"), host
        assert res.task(PREVIEW, host=host)["changed"] is True, host
    for host in ("old", "whole", "named"):
        assert res.task(PREVIEW, host=host) is None, host


def test_a_tenant_that_is_not_a_dict_fails_the_role_argument_spec(tmp_path):
    res = _run(tmp_path, {"flat": {"tenant": "kubernetes_version=v1"}})
    assert res.rc != 0
    assert res.failures("flat") == 1
    assert "tenant" in res.failed_tasks() and "dict" in res.failed_tasks()


def test_the_compute_module_reports_the_issue_typo_per_host(tmp_path, etcd_ca):
    """tenant_control_plane on its own (no admin cluster needed): the typo is that host's error,
    the other tenant is computed, and the scratch files are private."""
    out = tmp_path / "out"
    out.mkdir()
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "compute", "kamaji.core.tenant_control_plane": {
            "tenants": {"acme": {"name": "acme", "endpoint": E},
                        "typo": {"name": "typo", "kubernetes_verison": versions.KUBERNETES_OLDER[0],
                                 "endpoint": dict(E, port=31444)}},
            "etcd_ca": etcd_ca, "etcd_endpoints": ["https://192.0.2.21:2379"], "output_dir": str(out)},
         "register": "computed"}]}]
    res = run_playbook(play, tmp_path)
    assert res.rc == 0, res.failed_tasks()
    computed = res.task("compute")
    assert computed["changed"] is False
    assert computed["errors"]["typo"].startswith(
        "tenant.kubernetes_verison: unknown field; did you mean kubernetes_version?")
    assert list(computed["tenants"]) == ["acme"] and computed["admin_objects_count"] == 8
    assert computed["etcd_tenants"] == [
        {"name": "acme", "prefix": "/acme/", "user": "acme", "permission": "readwrite", "quota_bytes": None,
         "sealed_with": {"key": "key-1", "resources": ["secrets"]}}]
    assert sorted(os.listdir(out)) == ["acme-bootstrap.yaml", "acme-ca.crt", "admin-objects.yaml"]
    for name in os.listdir(out):
        assert os.stat(out / name).st_mode & 0o777 == 0o600, name
    objects = list(yaml.safe_load_all((out / "admin-objects.yaml").read_text()))
    assert len(objects) == 8 and objects[-1]["metadata"]["name"] == "kamaji-tenant-spec"


def test_the_state_of_a_tenant_of_the_inventory():
    from ansible_collections.kamaji.core.plugins.filter.tenant_kubernetes_versions import tenant_kubernetes_versions
    from ansible_collections.kamaji.core.plugins.filter.tenant_state import tenant_state

    hostvars = {"acme": {"tenant": {"kubernetes_version": "v1.36.3"}},
                "t-old": {"tenant_name": "globex", "tenant": {"state": "absent", "confirm_delete": "globex",
                                                              "kubernetes_version": "v1.20.1"}}}
    assert tenant_state("acme", hostvars, hostvars) == "present"
    assert tenant_state("globex", hostvars, hostvars) == "absent"
    assert tenant_state("t-old", hostvars, hostvars) == ""
    # a tenant being deleted runs no release the bundle must hold
    assert tenant_kubernetes_versions(list(hostvars), hostvars) == ["v1.36.3"]
