"""One admin kubeconfig path: the admin_cluster role writes it, the tenants play reads it.

Left at defaults, the tenants play must read the file the admin cluster play wrote, never
~/.kube/config (or K8S_AUTH_KUBECONFIG), which may point at any cluster."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml
from harness.runner import REPO, run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "tenants.yml")
PREVIEW = "Check mode - no admin cluster to create the tenant in yet"
SAMPLE = os.path.join(REPO, "inventories", "sample")


def _defaults(role):
    with open(os.path.join(REPO, "roles", role, "defaults", "main.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_the_tenant_default_is_the_admin_cluster_default():
    written = _defaults("admin_cluster")["admin_cluster_kubeconfig"]
    read = _defaults("tenant_control_plane")["tenant_control_plane_admin_kubeconfig"]
    inner = re.fullmatch(r"\{\{ (.+) \}\}", written)
    assert inner, written
    # admin_cluster_kubeconfig where the tenant host sees it, else the very same default
    assert read == "{{ admin_cluster_kubeconfig | default(%s) }}" % inner.group(1), (written, read)
    assert "kube/config" not in read and "K8S_AUTH_KUBECONFIG" not in read


def test_both_defaults_render_to_one_path(tmp_path):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "admin", "ansible.builtin.include_vars": {
            "file": os.path.join(REPO, "roles", "admin_cluster", "defaults", "main.yml"), "name": "admin"}},
        {"name": "written", "ansible.builtin.debug": {"msg": "{{ admin.admin_cluster_kubeconfig }}"}},
        {"name": "tenant", "ansible.builtin.include_vars": {
            "file": os.path.join(REPO, "roles", "tenant_control_plane", "defaults", "main.yml"), "name": "tenant"}},
        # a tenant host does not run the admin_cluster role: its defaults are not there
        {"name": "read", "ansible.builtin.debug": {"msg": "{{ tenant.tenant_control_plane_admin_kubeconfig }}"}},
    ]}]
    res = run_playbook(play, tmp_path, env={"HOME": str(tmp_path), "K8S_AUTH_KUBECONFIG": "/elsewhere.conf"})
    assert res.rc == 0, res.failed_tasks()
    expected = f"{tmp_path}/.kube/kamaji-admin.conf"
    assert res.task("written")["msg"] == expected
    assert res.task("read")["msg"] == expected


def _tenants_check(tmp_path, all_vars):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"vars": all_vars, "children": {"tenants": {"hosts": {
        "acme": {"tenant": {"endpoint": {"address": "192.0.2.10", "port": 31443}}}}, "vars": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "tenant_control_plane_etcd_endpoints": ["https://192.0.2.21:2379"]}}}}}))
    res = run_playbook(PLAYBOOK, tmp_path, inventory=str(inventory), check=True,
                       env={"HOME": str(tmp_path), "K8S_AUTH_KUBECONFIG": "/elsewhere.conf"})
    assert res.rc == 0, res.failed_tasks()
    return res.task(PREVIEW, host="acme")["msg"]


def test_the_tenants_play_reads_the_admin_cluster_default_path(tmp_path):
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\n")  # some other cluster
    msg = _tenants_check(tmp_path, {})
    assert f"({tmp_path}/.kube/kamaji-admin.conf is not there yet)" in msg, msg


def test_the_tenants_play_follows_admin_cluster_kubeconfig_set_for_all(tmp_path):
    msg = _tenants_check(tmp_path, {"admin_cluster_kubeconfig": str(tmp_path / "site-admin.conf")})
    assert f"({tmp_path}/site-admin.conf is not there yet)" in msg, msg


def test_the_sample_inventory_names_the_admin_kubeconfig_once():
    out = subprocess.run(["ansible-inventory", "-i", os.path.join(SAMPLE, "hosts.yml"), "--list"],
                         capture_output=True, text=True, check=True, cwd=REPO)
    data = yaml.safe_load(out.stdout)
    hostvars = data["_meta"]["hostvars"]
    tenants = data["tenants"]["hosts"]
    assert tenants
    paths = {hostvars[h].get("admin_cluster_kubeconfig") for h in hostvars}
    assert len(paths) == 1 and None not in paths, paths
    for h in tenants:
        # no group overrides the tenants' reading path: it follows admin_cluster_kubeconfig
        assert "tenant_control_plane_admin_kubeconfig" not in hostvars[h], h
