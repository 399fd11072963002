"""inventories/sample parses, every role variable in it passes its role's argument spec, every
tenant passes the tenant spec rules, and every tenant worker names an existing tenant."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "inventories", "sample")


@pytest.fixture(scope="module")
def inventory():
    out = subprocess.run(["ansible-inventory", "-i", os.path.join(SAMPLE, "hosts.yml"), "--list"],
                         capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout)


def _role_spec(role):
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as f:
        options = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    spec = {}
    for name, opt in options.items():
        spec[name] = {k: v for k, v in opt.items() if k in ("type", "elements", "choices")}
    return spec


def _hosts(inventory, group):
    return inventory[group]["hosts"]


def _validate(role, prefix, values):
    spec = _role_spec(role)
    given = {k: v for k, v in values.items() if k.startswith(prefix)}
    unknown = sorted(set(given) - set(spec))
    assert not unknown, f"{role}: unknown variables {unknown} (typo?)"
    result = ArgumentSpecValidator(spec).validate(given)
    assert not result.error_messages, result.error_messages
    return given


def test_groups_of_the_inventory_model(inventory):
    for group in ("etcd", "admin_control_plane", "admin_workers", "tenants", "tenant_workers"):
        assert _hosts(inventory, group), group
    assert len(_hosts(inventory, "etcd")) % 2 == 1, "an odd number of etcd members"


def test_etcd_variables_pass_the_role_argument_spec(inventory):
    for host in _hosts(inventory, "etcd"):
        given = _validate("etcd", "etcd_", inventory["_meta"]["hostvars"][host])
        assert given["etcd_install_source"] == "bundle"


def test_tenants_pass_the_role_spec_and_the_tenant_rules(inventory):
    names = set()
    for host in _hosts(inventory, "tenants"):
        hv = inventory["_meta"]["hostvars"][host]
        given = _validate("tenant_control_plane", "tenant_control_plane_", hv)
        # the spec is the one `tenant` dict; a spec field as a bare host variable would fail the role
        assert not set(hv) & set(tenant_spec.FIELDS), host
        assert "name" not in hv["tenant"], host
        raw = dict(hv["tenant"], name=hv.get("tenant_name", host))
        spec = tenant_spec.normalize(raw, admin_networks=given["tenant_control_plane_admin_networks"])
        names.add(spec["name"])
        assert hv["ansible_connection"] == "local"
    assert names == {"acme", "globex"}
    assert spec["replicas"] == 3, "globex's own values are read from its tenant dict"


def test_tenant_workers_name_their_tenant(inventory):
    tenants = set(_hosts(inventory, "tenants"))
    for host in _hosts(inventory, "tenant_workers"):
        assert inventory["_meta"]["hostvars"][host]["kamaji_tenant"] in tenants, host


def test_a_typo_is_caught():
    with pytest.raises(AssertionError, match="unknown variables"):
        _validate("etcd", "etcd_", {"etcd_quota_backend_byte": 1})
    with pytest.raises(AssertionError):
        _validate("etcd", "etcd_", {"etcd_install_source": "ftp"})


def test_tenant_workers_pass_the_role_spec_and_read_their_tenants_kubeconfig_from_the_admin_cluster(inventory):
    admin = {inventory["_meta"]["hostvars"][h].get("tenant_control_plane_admin_kubeconfig",
                                                   inventory["_meta"]["hostvars"][h]["admin_cluster_kubeconfig"])
             for h in _hosts(inventory, "tenants")}
    for host in _hosts(inventory, "tenant_workers"):
        hv = inventory["_meta"]["hostvars"][host]
        given = _validate("tenant_worker", "tenant_worker_", hv)
        # no file from the tenants play: the tenant's Secret, read with the admin cluster's kubeconfig
        assert not given.get("tenant_worker_kubeconfig_dir"), host
        assert {given.get("tenant_worker_admin_kubeconfig", hv.get("admin_cluster_kubeconfig"))} == admin, host


def test_admin_cluster_variables_pass_the_role_argument_specs(inventory):
    admin = _hosts(inventory, "admin_control_plane") + _hosts(inventory, "admin_workers")
    for host in admin:
        hv = inventory["_meta"]["hostvars"][host]
        given = _validate("admin_cluster", "admin_cluster_", hv)
        for role in ("containerd", "kube_packages", "node_prereqs"):
            _validate(role, role + "_", hv)
        assert hv["kamaji_bundle_dir"], host
    # HA: a shared endpoint, and an odd number of control-plane nodes (stacked etcd quorum)
    assert given["admin_cluster_control_plane_endpoint"]
    assert len(_hosts(inventory, "admin_control_plane")) % 2 == 1
