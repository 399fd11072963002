# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""What ``kubeadm join`` and the nodes need inside a tenant cluster.

The ``kubeadm:cluster-admins`` binding, ``cluster-info`` in kube-public (+ anonymous
read), bootstrap-token RBAC, CSR auto-approval and rotation, ``kubeadm-config`` and
``kubelet-config`` with their read RBAC; then the addons (``tenant.addons``) the spec
enables. Applied inside the tenant cluster with its super-admin identity.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import objects as k8s
from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.tenant import addons
from ansible_collections.kamaji.core.plugins.module_utils.tenant.secrets import Material, b64
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import DEFAULT_IMAGE_REPOSITORY, Settings, Spec

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

# kubeadm's layout on the tenant's worker nodes
NODE_PKI_DIR = "/etc/kubernetes/pki"
BOOTSTRAPPERS = addons.BOOTSTRAPPERS


def _dump(data: dict[str, Any]) -> str:
    return str(yaml.safe_dump(data, sort_keys=True))


def cluster_info_kubeconfig(spec: Spec, ca_pem: str) -> str:
    return _dump({
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "", "cluster": {"server": spec["derived"]["server"],
                                              "certificate-authority-data": b64(ca_pem)}}],
        "contexts": [], "users": [], "current-context": "",
    })


def kubeadm_cluster_configuration(spec: Spec) -> str:
    return _dump({
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": spec["kubernetes_version"],
        "clusterName": spec["name"],
        "controlPlaneEndpoint": "%s:%d" % (spec["endpoint"]["address"], spec["endpoint"]["port"]),
        "certificatesDir": NODE_PKI_DIR,
        "networking": {"dnsDomain": spec["cluster_domain"], "serviceSubnet": spec["service_cidr"],
                       "podSubnet": spec["pod_cidr"]},
        "etcd": {"external": {"endpoints": [], "caFile": "", "certFile": "", "keyFile": ""}},
    })


def kubelet_configuration(spec: Spec, options: Settings) -> str:
    cfg: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": NODE_PKI_DIR + "/ca.crt"}},
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": options.get("cgroup_driver") or "systemd",
        "clusterDNS": [spec["dns_service_ip"]],
        "clusterDomain": spec["cluster_domain"],
        "rotateCertificates": True,
        "serverTLSBootstrap": False,
        "staticPodPath": "/etc/kubernetes/manifests",
        # these machines run cgroup v1; recent kubelets refuse it unless told otherwise
        "failCgroupV1": False,
    }
    cfg.update(options.get("kubelet_config") or {})
    return _dump(cfg)


def _read_one(name: str, namespace: str, configmap: str, subjects: list[Obj]) -> list[Obj]:
    """A Role reading one ConfigMap, and its binding."""
    return [
        k8s.role(name, namespace, [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [configmap], "verbs": ["get"]}]),
        k8s.role_binding(name, namespace, name, subjects),
    ]


def bootstrap_objects(spec: Spec, material: Material, options: Settings) -> list[Obj]:
    """Objects inside the tenant cluster that make ``kubeadm join`` and nodes work."""
    ca_pem = material["ca"]["cert"]
    joining = [k8s.group(BOOTSTRAPPERS), k8s.group("system:nodes")]
    objects = [
        # kubeadm's admin.conf identity (group kubeadm:cluster-admins) becomes cluster-admin
        k8s.cluster_role_binding("kubeadm:cluster-admins", "cluster-admin", [k8s.group("kubeadm:cluster-admins")]),
        k8s.config_map("cluster-info", "kube-public", {"kubeconfig": cluster_info_kubeconfig(spec, ca_pem)}),
        *_read_one("kubeadm:bootstrap-signer-clusterinfo", "kube-public", "cluster-info",
                   [{"apiGroup": k8s.RBAC_API, "kind": "User", "name": "system:anonymous"}]),
        k8s.cluster_role_binding("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", [k8s.group(BOOTSTRAPPERS)]),
        k8s.cluster_role_binding("kubeadm:node-autoapprove-bootstrap",
                                 "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                                 [k8s.group(BOOTSTRAPPERS)]),
        k8s.cluster_role_binding("kubeadm:node-autoapprove-certificate-rotation",
                                 "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                                 [k8s.group("system:nodes")]),
        {"apiVersion": k8s.RBAC_API + "/v1", "kind": "ClusterRole", "metadata": {"name": "kubeadm:get-nodes"},
         "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
        k8s.cluster_role_binding("kubeadm:get-nodes", "kubeadm:get-nodes", [k8s.group(BOOTSTRAPPERS)]),
        k8s.config_map("kubeadm-config", "kube-system", {"ClusterConfiguration": kubeadm_cluster_configuration(spec)}),
        *_read_one("kubeadm:nodes-kubeadm-config", "kube-system", "kubeadm-config", joining),
        k8s.config_map("kubelet-config", "kube-system", {"kubelet": kubelet_configuration(spec, options)}),
        *_read_one("kubeadm:kubelet-config", "kube-system", "kubelet-config", joining),
    ]
    repo = options.get("image_repository") or DEFAULT_IMAGE_REPOSITORY
    if spec["addons"].get("kube_proxy", True):
        objects += addons.kube_proxy_objects(spec, repo, options)
    if spec["addons"].get("coredns", True):
        objects += addons.coredns_objects(spec, repo, options)
    return objects
