"""Version policy: tenants of the older supported minors run on these machines.

Tenants on each older supported minor (its newest patch, built from source like v1.37) are applied
by the role, started from their Deployment exactly like test_tenant_control_plane does,
waited for and bootstrapped by the role, and answer with their own server version, against
the same shared etcd and admin cluster as the v1.37 tenants."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from harness.procs import binary, free_port
from harness.runner import run_playbook
from test_tenant_control_plane import PLAYBOOK, TenantProcesses, _changed, _inventory

from ansible_collections.kamaji.core.plugins.module_utils import versions

OLDER = {"minor-%d" % versions.minor(v): v for v in versions.KUBERNETES_OLDER}
# the fixture admin cluster is marked as this site's, as the admin_cluster role marks it
pytestmark = pytest.mark.usefixtures("site_marker")


@pytest.fixture(scope="module")
def older(etcd_cluster, kube_control_plane, site_marker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("older")
    ports = {name: free_port() for name in OLDER}
    hosts = {name: {"tenant": {"endpoint": {"address": "192.0.2.10", "port": ports[name]}, "service_type": "ClusterIP",
                               "kubernetes_version": version, "replicas": 1},
                    "tenant_control_plane_api_url": f"https://127.0.0.1:{ports[name]}"}
             for name, version in OLDER.items()}
    inventory = _inventory(tmp, etcd_cluster, kube_control_plane, hosts, tenant_control_plane_kubeconfig_dir=str(tmp))
    applied = run_playbook(PLAYBOOK, tmp, {"tenant_control_plane_wait": False}, inventory=inventory)
    assert applied.rc == 0, applied.failed_tasks()
    procs = {n: TenantProcesses(kube_control_plane, n, str(tmp / f"proc-{n}")).start() for n in OLDER}
    try:
        ready = run_playbook(PLAYBOOK, tmp, inventory=inventory)
        again = run_playbook(PLAYBOOK, tmp, inventory=inventory)
        confs = {}
        for name, port in ports.items():
            conf = yaml.safe_load((tmp / f"{name}.kubeconfig").read_text())
            conf["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
            (tmp / f"{name}-local.kubeconfig").write_text(yaml.safe_dump(conf))
            confs[name] = str(tmp / f"{name}-local.kubeconfig")
        yield {"ready": ready, "again": again, "kubeconfigs": confs}
    finally:
        for p in procs.values():
            p.stop()


def test_older_minors_serve_with_their_own_version(older):
    assert older["ready"].rc == 0, older["ready"].failed_tasks()
    for name, version in OLDER.items():
        out = subprocess.run([binary("kubectl"), "--kubeconfig", older["kubeconfigs"][name], "version", "-o", "json"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        assert json.loads(out)["serverVersion"]["gitVersion"] == version
        nodes_ok = subprocess.run([binary("kubectl"), "--kubeconfig", older["kubeconfigs"][name], "-n", "kube-public",
                                   "get", "configmap", "cluster-info"], capture_output=True, text=True, timeout=60,
                                  check=False)
        assert nodes_ok.returncode == 0, nodes_ok.stderr


def test_older_minors_second_run_changes_nothing(older):
    assert older["again"].rc == 0, older["again"].failed_tasks()
    assert _changed(older["again"]) == {}
