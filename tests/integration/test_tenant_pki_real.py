"""tenant_pki material drives a real kube-apiserver against the shared TLS etcd."""
from __future__ import annotations

import json

import pytest
from harness.kube_control_plane import KubeControlPlane

from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd
from ansible_collections.kamaji.core.plugins.module_utils.etcd import ops as etcd_ops

TENANT = "pkitenant"


@pytest.fixture(scope="module")
def tenant_cp(etcd_cluster, tmp_path_factory):
    client = etcd.Client(etcd_cluster.endpoints, **etcd_cluster.root)
    etcd_ops.ensure_tenant(client, TENANT)
    client.close()
    cp = KubeControlPlane(str(tmp_path_factory.mktemp(TENANT)), etcd_cluster, name=TENANT,
                          etcd_creds_user=TENANT).start()
    yield cp
    cp.stop()


def test_admin_kubeconfig_works_after_cluster_admins_binding(tenant_cp):
    admin = tenant_cp.paths["admin.conf"]
    # as kubeadm does: super-admin binds kubeadm:cluster-admins before admin.conf is used
    tenant_cp.kubectl("create", "clusterrolebinding", "kubeadm:cluster-admins", "--clusterrole=cluster-admin",
                      "--group=kubeadm:cluster-admins")
    out = tenant_cp.kubectl("get", "ns", "-o", "name", kubeconfig=admin)
    assert "namespace/default" in out.stdout


@pytest.mark.parametrize("conf, user", [
    ("controller-manager.conf", "system:kube-controller-manager"),
    ("scheduler.conf", "system:kube-scheduler"),
    ("admin.conf", "kubernetes-admin"),
    ("super-admin.conf", "kubernetes-super-admin"),
])
def test_auth_whoami(tenant_cp, conf, user):
    out = json.loads(tenant_cp.kubectl("auth", "whoami", "-o", "json", kubeconfig=tenant_cp.paths[conf]).stdout)
    assert out["status"]["userInfo"]["username"] == user


def test_apiserver_stores_only_under_the_tenant_prefix(tenant_cp, etcd_cluster):
    tenant_cp.kubectl("create", "configmap", "marker", "-n", "default", "--from-literal=a=b")
    keys = etcd_cluster.etcdctl("get", "--prefix", f"/{TENANT}/", "--keys-only").stdout.split()
    assert f"/{TENANT}/configmaps/default/marker" in keys


def test_etcd_client_cert_reaches_only_the_tenant_prefix(tenant_cp, etcd_cluster):
    creds = {"ca_cert": tenant_cp.paths["etcd-ca.crt"], "client_cert": tenant_cp.paths["apiserver-etcd-client.crt"],
             "client_key": tenant_cp.paths["apiserver-etcd-client.key"]}
    etcd_cluster.etcdctl("put", f"/{TENANT}/probe", "ok", creds=creds)
    assert etcd_cluster.etcdctl("get", f"/{TENANT}/probe", "--print-value-only", creds=creds).stdout.strip() == "ok"
    for args in (("get", "/registry/x"), ("put", f"/{TENANT}x/k", "v"), ("get", "--prefix", "/")):
        out = etcd_cluster.etcdctl(*args, creds=creds, check=False)
        assert out.returncode != 0 and "permission denied" in out.stderr, args
