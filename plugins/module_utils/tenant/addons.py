# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The tenant cluster's addons: kube-proxy (DaemonSet) and CoreDNS (Deployment, Service kube-dns).

Each is toggled by the spec's ``addons``; their images come from the role's image
repository (the offline bundle loads them there), kube-proxy at the tenant's Kubernetes
version, CoreDNS at ``versions.COREDNS`` unless the role says otherwise.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.common import objects as k8s
from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import Settings, Spec

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

NAMESPACE = "kube-system"
# kubeadm's group of nodes joining with a bootstrap token
BOOTSTRAPPERS = "system:bootstrappers:kubeadm:default-node-token"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _dump(data: dict[str, Any]) -> str:
    return str(yaml.safe_dump(data, sort_keys=True))


def kube_proxy_objects(spec: Spec, repo: str, options: Settings) -> list[Obj]:
    kubeconfig = _dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "default", "cluster": {
            "certificate-authority": SERVICE_ACCOUNT_DIR + "/ca.crt",
            "server": spec["derived"]["server"]}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "namespace": "default", "user": "default"}}],
        "current-context": "default",
        "users": [{"name": "default", "user": {"tokenFile": SERVICE_ACCOUNT_DIR + "/token"}}],
    })
    config = _dump({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"},
        "clusterCIDR": spec["pod_cidr"], "mode": options.get("proxy_mode") or "iptables",
        # the lab's nodes (and many VMs) cannot change conntrack sysctls
        "conntrack": {"maxPerCore": 0},
    })
    labels = {"k8s-app": "kube-proxy"}
    ns = NAMESPACE
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-proxy", "namespace": ns}},
        {"apiVersion": k8s.RBAC_API + "/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubeadm:node-proxier"},
         "roleRef": {"apiGroup": k8s.RBAC_API, "kind": "ClusterRole", "name": "system:node-proxier"},
         "subjects": [{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": ns}]},
        k8s.config_map("kube-proxy", ns, {"kubeconfig.conf": kubeconfig, "config.conf": config},
                       labels={"app": "kube-proxy"}),
        k8s.role("kube-proxy", ns, [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kube-proxy"],
                                     "verbs": ["get"]}]),
        k8s.role_binding("kube-proxy", ns, "kube-proxy", [k8s.group(BOOTSTRAPPERS)]),
        {"apiVersion": "apps/v1", "kind": "DaemonSet",
         "metadata": {"name": "kube-proxy", "namespace": ns, "labels": labels},
         "spec": {"selector": {"matchLabels": labels},
                  "updateStrategy": {"type": "RollingUpdate"},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "serviceAccountName": "kube-proxy", "hostNetwork": True,
                      "priorityClassName": "system-node-critical",
                      "nodeSelector": {"kubernetes.io/os": "linux"},
                      "tolerations": [{"operator": "Exists"}],
                      "containers": [{
                          "name": "kube-proxy",
                          "image": "%s/kube-proxy:%s" % (repo, spec["kubernetes_version"]),
                          "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                      "--hostname-override=$(NODE_NAME)"],
                          "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                          "securityContext": {"privileged": True},
                          "volumeMounts": [
                              {"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"},
                              {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                              {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True}],
                      }],
                      "volumes": [
                          {"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                          {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                          {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}],
                  }}}},
    ]


def corefile(cluster_domain: str) -> str:
    return (
        ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
        "    kubernetes %s in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n"
        "       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n"
        "    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n" % cluster_domain)


def coredns_objects(spec: Spec, repo: str, options: Settings) -> list[Obj]:
    ns = NAMESPACE
    labels = {"k8s-app": "kube-dns"}
    version = options.get("coredns_version") or versions.COREDNS
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": ns}},
        {"apiVersion": k8s.RBAC_API + "/v1", "kind": "ClusterRole", "metadata": {"name": "system:coredns"},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]},
        {"apiVersion": k8s.RBAC_API + "/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": k8s.RBAC_API, "kind": "ClusterRole", "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": ns}]},
        k8s.config_map("coredns", ns, {"Corefile": corefile(spec["cluster_domain"])}),
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "coredns", "namespace": ns, "labels": labels},
         "spec": {"replicas": int(options.get("coredns_replicas", 1)),
                  "selector": {"matchLabels": labels},
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                      "dnsPolicy": "Default",
                      "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                      {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                      "containers": [{
                          "name": "coredns", "image": "%s/coredns/coredns:%s" % (repo, version),
                          "args": ["-conf", "/etc/coredns/Corefile"],
                          "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                          "resources": {"requests": {"cpu": "50m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
                          "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                              "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
                          "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "initialDelaySeconds": 60,
                                            "timeoutSeconds": 5, "failureThreshold": 5},
                          "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}},
                          "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
                      }],
                      "volumes": [{"name": "config-volume", "configMap": {"name": "coredns"}}],
                  }}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": ns, "labels": dict(labels, **{"kubernetes.io/name": "CoreDNS"})},
         "spec": {"clusterIP": spec["dns_service_ip"], "selector": labels,
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                            {"name": "metrics", "port": 9153, "protocol": "TCP"}]}},
    ]
