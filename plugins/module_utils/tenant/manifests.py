# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Objects of one tenant control plane, in the admin cluster and in the tenant cluster.

Pure functions from a normalized tenant spec (``tenant_spec.normalize``) and its PKI
material (``tenant_pki.reconcile``) to Kubernetes objects as plain dicts:

* ``admin_objects``: Namespace, the three Secrets, Deployment (kube-apiserver,
  kube-controller-manager, kube-scheduler), Service, PodDisruptionBudget;
* ``bootstrap_objects``: what ``kubeadm join`` and nodes need inside the tenant cluster
  (cluster-info, bootstrap-token RBAC, CSR auto-approval, kubeadm-config, kubelet-config,
  the kubeadm:cluster-admins binding) plus CoreDNS and kube-proxy when enabled;
* ``material_from_secrets``: the PKI material read back from the Secrets.
"""

from __future__ import annotations

import base64
import hashlib
import json

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

PKI_DIR = "/etc/kubernetes/pki"
CONF_DIR = "/etc/kubernetes"
LABEL = "kamaji.core/tenant"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kamaji.core"}
SECRET_PKI = "kamaji-pki"
SECRET_KUBECONFIGS = "kamaji-kubeconfigs"
SECRET_ADMIN = "kamaji-admin-kubeconfig"
CERT_FILES = ("ca", "front-proxy-ca", "apiserver", "apiserver-kubelet-client", "front-proxy-client",
              "apiserver-etcd-client")
CM_PORT = 10257
SCHEDULER_PORT = 10259


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(value):
    return base64.b64decode(value).decode("utf-8")


def secret_data(material, etcd_ca_pem):
    """The three Secrets' data (plain text) from tenant_pki material."""
    pki = {}
    for item in CERT_FILES:
        pki[item + ".crt"] = material[item]["cert"]
        # CA keys sign node client certs (controller-manager) and are needed to re-issue
        pki[item + ".key"] = material[item]["key"]
    pki["sa.key"] = material["sa"]["key"]
    pki["sa.pub"] = material["sa"]["pub"]
    pki["etcd-ca.crt"] = etcd_ca_pem
    kubeconfigs = {k: material[k] for k in ("controller-manager.conf", "scheduler.conf")}
    admin = {k: material[k] for k in ("admin.conf", "super-admin.conf")}
    return {SECRET_PKI: pki, SECRET_KUBECONFIGS: kubeconfigs, SECRET_ADMIN: admin}


def material_from_secrets(secrets):
    """tenant_pki ``existing`` material from Secrets as returned by the API ({name: data (base64)})."""
    pki = {k: _unb64(v) for k, v in ((secrets.get(SECRET_PKI) or {}).items())}
    out = {}
    for item in CERT_FILES:
        if pki.get(item + ".crt") and pki.get(item + ".key"):
            out[item] = {"cert": pki[item + ".crt"], "key": pki[item + ".key"]}
    if pki.get("sa.key"):
        out["sa"] = {"key": pki["sa.key"], "pub": pki.get("sa.pub", "")}
    for name in (SECRET_KUBECONFIGS, SECRET_ADMIN):
        for k, v in (secrets.get(name) or {}).items():
            out[k] = _unb64(v)
    return out


def checksum(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


def _labels(spec, component=None):
    labels = {LABEL: spec["name"]}
    labels.update(MANAGED_BY)
    if component:
        labels["app.kubernetes.io/component"] = component
    return labels


def _args(flags, extra):
    merged = dict(flags)
    for key, value in (extra or {}).items():
        merged[str(key).lstrip("-")] = value
    out = []
    for key in sorted(merged):
        value = merged[key]
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append("--%s=%s" % (key, value))
    return out


def _is_ip(address):
    import ipaddress

    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        return False


def apiserver_flags(spec, etcd_endpoints):
    port = spec["endpoint"]["port"]
    p = PKI_DIR
    flags = {
        "secure-port": port,
        "etcd-servers": ",".join(etcd_endpoints),
        "etcd-prefix": spec["derived"]["apiserver_etcd_prefix"],
        "etcd-cafile": p + "/etcd-ca.crt",
        "etcd-certfile": p + "/apiserver-etcd-client.crt",
        "etcd-keyfile": p + "/apiserver-etcd-client.key",
        # etcd compacts itself (tenants cannot compact under RBAC)
        "etcd-compaction-interval": "0",
        "client-ca-file": p + "/ca.crt",
        "tls-cert-file": p + "/apiserver.crt",
        "tls-private-key-file": p + "/apiserver.key",
        "kubelet-client-certificate": p + "/apiserver-kubelet-client.crt",
        "kubelet-client-key": p + "/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": p + "/front-proxy-client.crt",
        "proxy-client-key-file": p + "/front-proxy-client.key",
        "requestheader-client-ca-file": p + "/front-proxy-ca.crt",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "service-account-issuer": "https://kubernetes.default.svc." + spec["cluster_domain"],
        "service-account-key-file": p + "/sa.pub",
        "service-account-signing-key-file": p + "/sa.key",
        "service-cluster-ip-range": spec["service_cidr"],
        "authorization-mode": "Node,RBAC",
        "enable-bootstrap-token-auth": True,
        "allow-privileged": True,
        "cert-dir": "/tmp/kube-apiserver",
        # on SIGTERM keep serving while /readyz fails, so the Service drops this pod first
        "shutdown-delay-duration": "5s",
    }
    if _is_ip(spec["endpoint"]["address"]):
        # the tenant's `kubernetes` Service points at the endpoint workers reach
        flags["advertise-address"] = spec["endpoint"]["address"]
    else:
        flags["endpoint-reconciler-type"] = "none"
    if spec["admission_plugins"]:
        flags["enable-admission-plugins"] = ",".join(spec["admission_plugins"])
    return flags


def controller_manager_flags(spec):
    p = PKI_DIR
    conf = CONF_DIR + "/controller-manager.conf"
    return {
        "kubeconfig": conf,
        "authentication-kubeconfig": conf,
        "authorization-kubeconfig": conf,
        "bind-address": "0.0.0.0",
        "secure-port": CM_PORT,
        "leader-elect": True,
        "cluster-name": spec["name"],
        "service-account-private-key-file": p + "/sa.key",
        "root-ca-file": p + "/ca.crt",
        "cluster-signing-cert-file": p + "/ca.crt",
        "cluster-signing-key-file": p + "/ca.key",
        "requestheader-client-ca-file": p + "/front-proxy-ca.crt",
        "controllers": "*,bootstrapsigner,tokencleaner",
        "use-service-account-credentials": True,
        "allocate-node-cidrs": True,
        "cluster-cidr": spec["pod_cidr"],
        "service-cluster-ip-range": spec["service_cidr"],
        "cert-dir": "/tmp/kube-controller-manager",
    }


def scheduler_flags(spec):
    conf = CONF_DIR + "/scheduler.conf"
    return {
        "kubeconfig": conf,
        "authentication-kubeconfig": conf,
        "authorization-kubeconfig": conf,
        "bind-address": "0.0.0.0",
        "secure-port": SCHEDULER_PORT,
        "leader-elect": True,
        "cert-dir": "/tmp/kube-scheduler",
    }


def _resources(spec, component):
    res = spec["resources"].get(component) or {}
    return {k: dict(v) for k, v in res.items() if v}


def _probe(path, port, initial=10, period=10, failures=6):
    return {"httpGet": {"path": path, "port": port, "scheme": "HTTPS"}, "initialDelaySeconds": initial,
            "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def _pki_volume(items):
    return {"secretName": SECRET_PKI, "defaultMode": 0o400, "items": [{"key": k, "path": k} for k in items]}


def deployment(spec, options, pki_checksum):
    name = spec["name"]
    ns = spec["derived"]["namespace"]
    version = spec["kubernetes_version"]
    repo = options.get("image_repository") or "registry.k8s.io"
    port = spec["endpoint"]["port"]
    labels = _labels(spec, "control-plane")
    extra = spec["extra_args"]
    apiserver_files = ["ca.crt", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt",
                       "apiserver-kubelet-client.key", "front-proxy-ca.crt", "front-proxy-client.crt",
                       "front-proxy-client.key", "apiserver-etcd-client.crt", "apiserver-etcd-client.key",
                       "etcd-ca.crt", "sa.key", "sa.pub"]
    cm_files = ["ca.crt", "ca.key", "front-proxy-ca.crt", "sa.key"]
    containers = [
        {
            "name": "kube-apiserver",
            "image": "%s/kube-apiserver:%s" % (repo, version),
            "command": ["/usr/local/bin/kube-apiserver"],
            "args": _args(apiserver_flags(spec, options["etcd_endpoints"]), extra.get("apiserver")),
            "ports": [{"name": "https", "containerPort": port, "protocol": "TCP"}],
            "livenessProbe": _probe("/livez", port, 10, 10, 8),
            "readinessProbe": _probe("/readyz", port, 2, 2, 3),
            "startupProbe": _probe("/livez", port, 1, 1, 120),
            "resources": _resources(spec, "apiserver"),
            "volumeMounts": [{"name": "apiserver-pki", "mountPath": PKI_DIR, "readOnly": True}],
        },
        {
            "name": "kube-controller-manager",
            "image": "%s/kube-controller-manager:%s" % (repo, version),
            "command": ["/usr/local/bin/kube-controller-manager"],
            "args": _args(controller_manager_flags(spec), extra.get("controller_manager")),
            "livenessProbe": _probe("/healthz", CM_PORT, 10, 10, 8),
            "startupProbe": _probe("/healthz", CM_PORT, 1, 1, 120),
            "resources": _resources(spec, "controller_manager"),
            "volumeMounts": [
                {"name": "controller-manager-pki", "mountPath": PKI_DIR, "readOnly": True},
                {"name": "kubeconfigs", "mountPath": CONF_DIR + "/controller-manager.conf",
                 "subPath": "controller-manager.conf", "readOnly": True},
            ],
        },
        {
            "name": "kube-scheduler",
            "image": "%s/kube-scheduler:%s" % (repo, version),
            "command": ["/usr/local/bin/kube-scheduler"],
            "args": _args(scheduler_flags(spec), extra.get("scheduler")),
            "livenessProbe": _probe("/healthz", SCHEDULER_PORT, 10, 10, 8),
            "startupProbe": _probe("/healthz", SCHEDULER_PORT, 1, 1, 120),
            "resources": _resources(spec, "scheduler"),
            "volumeMounts": [{"name": "kubeconfigs", "mountPath": CONF_DIR + "/scheduler.conf",
                              "subPath": "scheduler.conf", "readOnly": True}],
        },
    ]
    pod_spec = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": containers,
        "volumes": [
            {"name": "apiserver-pki", "secret": _pki_volume(apiserver_files)},
            {"name": "controller-manager-pki", "secret": _pki_volume(cm_files)},
            {"name": "kubeconfigs", "secret": {"secretName": SECRET_KUBECONFIGS, "defaultMode": 0o400}},
        ],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": {LABEL: name}}},
        }]}},
    }
    if options.get("node_selector"):
        pod_spec["nodeSelector"] = dict(options["node_selector"])
    if options.get("tolerations"):
        pod_spec["tolerations"] = list(options["tolerations"])
    if options.get("priority_class"):
        pod_spec["priorityClassName"] = options["priority_class"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kube-control-plane", "namespace": ns, "labels": labels},
        "spec": {
            "replicas": spec["replicas"],
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": {LABEL: name, "app.kubernetes.io/component": "control-plane"}},
            # a new pod must be ready before an old one goes: never below the ready replicas
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels,
                             "annotations": {"kamaji.core/pki-checksum": pki_checksum}},
                "spec": pod_spec,
            },
        },
    }


def service(spec, options):
    port = spec["endpoint"]["port"]
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-apiserver", "namespace": spec["derived"]["namespace"], "labels": _labels(spec)},
        "spec": {
            "type": spec["service_type"],
            "selector": {LABEL: spec["name"], "app.kubernetes.io/component": "control-plane"},
            "ports": [{"name": "https", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }
    if spec["service_type"] == "NodePort":
        svc["spec"]["ports"][0]["nodePort"] = port
    elif spec["service_type"] == "ClusterIP" and _is_ip(spec["endpoint"]["address"]):
        svc["spec"]["externalIPs"] = [spec["endpoint"]["address"]]
    return svc


def pdb(spec):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "kube-control-plane", "namespace": spec["derived"]["namespace"], "labels": _labels(spec)},
        "spec": {"maxUnavailable": 1,
                 "selector": {"matchLabels": {LABEL: spec["name"], "app.kubernetes.io/component": "control-plane"}}},
    }


def admin_objects(spec, material, etcd_ca_pem, options):
    """Every object of the tenant in the admin cluster, in apply order."""
    ns = spec["derived"]["namespace"]
    data = secret_data(material, etcd_ca_pem)
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": _labels(spec)}}]
    for name, values in data.items():
        objects.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": name, "namespace": ns, "labels": _labels(spec)},
                        "data": {k: _b64(v) for k, v in sorted(values.items())}})
    mounted = {SECRET_PKI: data[SECRET_PKI], SECRET_KUBECONFIGS: data[SECRET_KUBECONFIGS]}
    objects.append(deployment(spec, options, checksum(mounted)))
    objects.append(service(spec, options))
    objects.append(pdb(spec))
    return objects


# ------------------------------------------------------------------ tenant cluster

def _cm(name, namespace, data, labels=None):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def _crb(name, role, subjects, kind="ClusterRole"):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects}


def _group(name):
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def _role(name, namespace, rules):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace}, "rules": rules}


def _rb(name, namespace, role, subjects):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}, "subjects": subjects}


BOOTSTRAPPERS = "system:bootstrappers:kubeadm:default-node-token"


def cluster_info_kubeconfig(spec, ca_pem):
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "", "cluster": {"server": spec["derived"]["server"],
                                              "certificate-authority-data": _b64(ca_pem)}}],
        "contexts": [], "users": [], "current-context": "",
    }, sort_keys=True)


def kubeadm_cluster_configuration(spec):
    return yaml.safe_dump({
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "kubernetesVersion": spec["kubernetes_version"],
        "clusterName": spec["name"],
        "controlPlaneEndpoint": "%s:%d" % (spec["endpoint"]["address"], spec["endpoint"]["port"]),
        "certificatesDir": PKI_DIR,
        "networking": {"dnsDomain": spec["cluster_domain"], "serviceSubnet": spec["service_cidr"],
                       "podSubnet": spec["pod_cidr"]},
        "etcd": {"external": {"endpoints": [], "caFile": "", "certFile": "", "keyFile": ""}},
    }, sort_keys=True)


def kubelet_configuration(spec, options):
    cfg = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": PKI_DIR + "/ca.crt"}},
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
    return yaml.safe_dump(cfg, sort_keys=True)


def bootstrap_objects(spec, material, options):
    """Objects inside the tenant cluster that make ``kubeadm join`` and nodes work."""
    ca_pem = material["ca"]["cert"]
    objects = [
        # kubeadm's admin.conf identity (group kubeadm:cluster-admins) becomes cluster-admin
        _crb("kubeadm:cluster-admins", "cluster-admin", [_group("kubeadm:cluster-admins")]),
        _cm("cluster-info", "kube-public", {"kubeconfig": cluster_info_kubeconfig(spec, ca_pem)}),
        _role("kubeadm:bootstrap-signer-clusterinfo", "kube-public", [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"], "verbs": ["get"]}]),
        _rb("kubeadm:bootstrap-signer-clusterinfo", "kube-public", "kubeadm:bootstrap-signer-clusterinfo",
            [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}]),
        _crb("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", [_group(BOOTSTRAPPERS)]),
        _crb("kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
             [_group(BOOTSTRAPPERS)]),
        _crb("kubeadm:node-autoapprove-certificate-rotation",
             "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [_group("system:nodes")]),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "kubeadm:get-nodes"},
         "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
        _crb("kubeadm:get-nodes", "kubeadm:get-nodes", [_group(BOOTSTRAPPERS)]),
        _cm("kubeadm-config", "kube-system", {"ClusterConfiguration": kubeadm_cluster_configuration(spec)}),
        _role("kubeadm:nodes-kubeadm-config", "kube-system", [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kubeadm-config"], "verbs": ["get"]}]),
        _rb("kubeadm:nodes-kubeadm-config", "kube-system", "kubeadm:nodes-kubeadm-config",
            [_group(BOOTSTRAPPERS), _group("system:nodes")]),
        _cm("kubelet-config", "kube-system", {"kubelet": kubelet_configuration(spec, options)}),
        _role("kubeadm:kubelet-config", "kube-system", [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kubelet-config"], "verbs": ["get"]}]),
        _rb("kubeadm:kubelet-config", "kube-system", "kubeadm:kubelet-config",
            [_group(BOOTSTRAPPERS), _group("system:nodes")]),
    ]
    repo = options.get("image_repository") or "registry.k8s.io"
    if spec["addons"].get("kube_proxy", True):
        objects += kube_proxy_objects(spec, ca_pem, repo, options)
    if spec["addons"].get("coredns", True):
        objects += coredns_objects(spec, repo, options)
    return objects


def kube_proxy_objects(spec, ca_pem, repo, options):
    ns = "kube-system"
    kubeconfig = yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "default", "cluster": {
            "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            "server": spec["derived"]["server"]}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "namespace": "default", "user": "default"}}],
        "current-context": "default",
        "users": [{"name": "default", "user": {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}],
    }, sort_keys=True)
    config = yaml.safe_dump({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"},
        "clusterCIDR": spec["pod_cidr"], "mode": options.get("proxy_mode") or "iptables",
        # the lab's nodes (and many VMs) cannot change conntrack sysctls
        "conntrack": {"maxPerCore": 0},
    }, sort_keys=True)
    labels = {"k8s-app": "kube-proxy"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-proxy", "namespace": ns}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubeadm:node-proxier"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node-proxier"},
         "subjects": [{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": ns}]},
        _cm("kube-proxy", ns, {"kubeconfig.conf": kubeconfig, "config.conf": config}, labels={"app": "kube-proxy"}),
        _role("kube-proxy", ns, [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["kube-proxy"],
                                  "verbs": ["get"]}]),
        _rb("kube-proxy", ns, "kube-proxy", [_group(BOOTSTRAPPERS)]),
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


def coredns_objects(spec, repo, options):
    ns = "kube-system"
    labels = {"k8s-app": "kube-dns"}
    corefile = (
        ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
        "    kubernetes %s in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n"
        "       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n"
        "    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n" % spec["cluster_domain"])
    version = options.get("coredns_version") or "v1.14.6"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": ns}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:coredns"},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": ns}]},
        _cm("coredns", ns, {"Corefile": corefile}),
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


def is_subset(wanted, have):
    """True when every field of ``wanted`` is in ``have`` with the same value (the API server
    adds defaults and status; lists must match item by item)."""
    if isinstance(wanted, dict):
        return isinstance(have, dict) and all(k in have and is_subset(v, have[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(have, list) and len(wanted) == len(have) and all(
            is_subset(wanted[i], have[i]) for i in range(len(wanted)))
    if isinstance(wanted, bool) or isinstance(have, bool):
        return wanted is have
    if isinstance(wanted, (int, float)) and isinstance(have, (int, float)):
        return wanted == have
    return str(wanted) == str(have) if wanted is not None else have is None


def object_key(obj):
    meta = obj.get("metadata") or {}
    return (obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def unchanged(objects, existing):
    """Split ``objects`` into (to_apply, unchanged_count) against the objects read from the API."""
    index = {object_key(o): o for o in existing or []}
    to_apply = []
    same = 0
    for obj in objects:
        have = index.get(object_key(obj))
        if have is not None and is_subset(obj, have):
            same += 1
        else:
            to_apply.append(obj)
    return to_apply, same
