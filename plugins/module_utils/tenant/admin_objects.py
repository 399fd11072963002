# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""A tenant control plane's objects in the admin cluster.

From a normalized spec (``tenant.spec``) and its PKI material (``pki.tenant_set``):
Namespace, the three Secrets (``tenant.secrets``), Deployment ``kube-control-plane``
(kube-apiserver, kube-controller-manager, kube-scheduler, with the flags that wire them to
the shared etcd and to their certificates), Service ``kube-apiserver`` and the
PodDisruptionBudget, in apply order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Union

from ansible_collections.kamaji.core.plugins.module_utils.common import net
from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.tenant import encryption, secrets
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import DEFAULT_IMAGE_REPOSITORY, Settings, Spec, go_runtime_env

# Paths inside the control-plane containers (the Secrets are mounted there).
PKI_DIR = "/etc/kubernetes/pki"
CONF_DIR = "/etc/kubernetes"
LABEL = "kamaji.core/tenant"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kamaji.core"}
COMPONENT = "control-plane"
DEPLOYMENT = "kube-control-plane"
SERVICE = "kube-apiserver"
CM_PORT = 10257
SCHEDULER_PORT = 10259
# Secret keys each container mounts (mode 0400); nothing else of kamaji-pki reaches it.
APISERVER_FILES = ("ca.crt", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt",
                   "apiserver-kubelet-client.key", "front-proxy-ca.crt", "front-proxy-client.crt",
                   "front-proxy-client.key", "apiserver-etcd-client.crt", "apiserver-etcd-client.key",
                   secrets.ETCD_CA_KEY, "sa.key", "sa.pub", encryption.CONFIG_ITEM)
CONTROLLER_MANAGER_FILES = ("ca.crt", "ca.key", "front-proxy-ca.crt", "sa.key")

FlagValue = Union[str, int, bool]  # noqa: UP007 - evaluated at import
Flags = dict[str, FlagValue]


def deployed_apiserver(objects: Iterable[Obj], namespace: str) -> Mapping[str, Any] | None:
    """The kube-apiserver container of the tenant's control-plane Deployment among ``objects``
    (as read from the admin cluster): None without that Deployment, {} when it has no such container."""
    for o in objects:
        meta = o.get("metadata") or {}
        if o.get("kind") == "Deployment" and meta.get("namespace") == namespace and meta.get("name") == DEPLOYMENT:
            containers = (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
            return next((c for c in containers if c.get("name") == "kube-apiserver"), {})
    return None


def labels(spec: Spec, component: str | None = None) -> dict[str, str]:
    out = {LABEL: spec["name"]}
    out.update(MANAGED_BY)
    if component:
        out["app.kubernetes.io/component"] = component
    return out


def selector(spec: Spec) -> dict[str, str]:
    """The control-plane pods of the tenant."""
    return {LABEL: spec["name"], "app.kubernetes.io/component": COMPONENT}


def args(flags: Mapping[str, object], extra: Mapping[str, object] | None) -> list[str]:
    """``--flag=value`` arguments, sorted; ``extra`` (the spec's extra_args) wins over ``flags``."""
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


def apiserver_flags(spec: Spec, etcd_endpoints: list[str]) -> Flags:
    port = spec["endpoint"]["port"]
    p = PKI_DIR
    flags: Flags = {
        "secure-port": port,
        "etcd-servers": ",".join(etcd_endpoints),
        "etcd-prefix": spec["derived"]["apiserver_etcd_prefix"],
        "etcd-cafile": p + "/" + secrets.ETCD_CA_KEY,
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
        # the tenant's own keys seal what spec encrypt_resources lists (Secrets always)
        "encryption-provider-config": p + "/" + encryption.CONFIG_ITEM,
        "authorization-mode": "Node,RBAC",
        "enable-bootstrap-token-auth": True,
        "allow-privileged": True,
        "cert-dir": "/tmp/kube-apiserver",
        # on SIGTERM keep serving while /readyz fails, so the Service drops this pod first
        "shutdown-delay-duration": "5s",
    }
    if net.ip(spec["endpoint"]["address"]) is not None:
        # the tenant's `kubernetes` Service points at the endpoint workers reach
        flags["advertise-address"] = spec["endpoint"]["address"]
    else:
        flags["endpoint-reconciler-type"] = "none"
    if spec["admission_plugins"]:
        flags["enable-admission-plugins"] = ",".join(spec["admission_plugins"])
    return flags


def controller_manager_flags(spec: Spec) -> Flags:
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


def scheduler_flags(spec: Spec) -> Flags:
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


def _resources(spec: Spec, component: str) -> dict[str, dict[str, str]]:
    res = spec["resources"].get(component) or {}
    return {k: dict(v) for k, v in res.items() if v}


def _env(spec: Spec, component: str) -> Obj:
    """The container's ``env``: the Go runtime's settings of its size profile (none: no ``env``,
    the Deployment as before profiles existed)."""
    env = go_runtime_env(spec, component)
    return {"env": [{"name": k, "value": v} for k, v in sorted(env.items())]} if env else {}


def _probe(path: str, port: int, initial: int = 10, period: int = 10, failures: int = 6) -> Obj:
    return {"httpGet": {"path": path, "port": port, "scheme": "HTTPS"}, "initialDelaySeconds": initial,
            "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def _pki_volume(items: tuple[str, ...]) -> Obj:
    return {"secretName": secrets.SECRET_PKI, "defaultMode": 0o400, "items": [{"key": k, "path": k} for k in items]}


def _kubeconfig_mount(name: str) -> Obj:
    return {"name": "kubeconfigs", "mountPath": CONF_DIR + "/" + name, "subPath": name, "readOnly": True}


def _containers(spec: Spec, options: Settings) -> list[Obj]:
    version = spec["kubernetes_version"]
    repo = options.get("image_repository") or DEFAULT_IMAGE_REPOSITORY
    port = spec["endpoint"]["port"]
    extra: dict[str, Any] = spec["extra_args"]
    return [
        {
            "name": "kube-apiserver",
            "image": "%s/kube-apiserver:%s" % (repo, version),
            "command": ["/usr/local/bin/kube-apiserver"],
            "args": args(apiserver_flags(spec, options["etcd_endpoints"]), extra.get("apiserver")),
            "ports": [{"name": "https", "containerPort": port, "protocol": "TCP"}],
            "livenessProbe": _probe("/livez", port, 10, 10, 8),
            "readinessProbe": _probe("/readyz", port, 2, 2, 3),
            "startupProbe": _probe("/livez", port, 1, 1, 120),
            "resources": _resources(spec, "apiserver"),
            **_env(spec, "apiserver"),
            "volumeMounts": [{"name": "apiserver-pki", "mountPath": PKI_DIR, "readOnly": True}],
        },
        {
            "name": "kube-controller-manager",
            "image": "%s/kube-controller-manager:%s" % (repo, version),
            "command": ["/usr/local/bin/kube-controller-manager"],
            "args": args(controller_manager_flags(spec), extra.get("controller_manager")),
            "livenessProbe": _probe("/healthz", CM_PORT, 10, 10, 8),
            "startupProbe": _probe("/healthz", CM_PORT, 1, 1, 120),
            "resources": _resources(spec, "controller_manager"),
            **_env(spec, "controller_manager"),
            "volumeMounts": [
                {"name": "controller-manager-pki", "mountPath": PKI_DIR, "readOnly": True},
                _kubeconfig_mount("controller-manager.conf"),
            ],
        },
        {
            "name": "kube-scheduler",
            "image": "%s/kube-scheduler:%s" % (repo, version),
            "command": ["/usr/local/bin/kube-scheduler"],
            "args": args(scheduler_flags(spec), extra.get("scheduler")),
            "livenessProbe": _probe("/healthz", SCHEDULER_PORT, 10, 10, 8),
            "startupProbe": _probe("/healthz", SCHEDULER_PORT, 1, 1, 120),
            "resources": _resources(spec, "scheduler"),
            **_env(spec, "scheduler"),
            "volumeMounts": [_kubeconfig_mount("scheduler.conf")],
        },
    ]


def deployment(spec: Spec, options: Settings, pki_checksum: str) -> Obj:
    pod_spec: Obj = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": _containers(spec, options),
        "volumes": [
            {"name": "apiserver-pki", "secret": _pki_volume(APISERVER_FILES)},
            {"name": "controller-manager-pki", "secret": _pki_volume(CONTROLLER_MANAGER_FILES)},
            {"name": "kubeconfigs", "secret": {"secretName": secrets.SECRET_KUBECONFIGS, "defaultMode": 0o400}},
        ],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100,
            "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": {LABEL: spec["name"]}}},
        }]}},
    }
    if options.get("node_selector"):
        pod_spec["nodeSelector"] = dict(options["node_selector"])
    if options.get("tolerations"):
        pod_spec["tolerations"] = list(options["tolerations"])
    if options.get("priority_class"):
        pod_spec["priorityClassName"] = options["priority_class"]
    pod_labels = labels(spec, COMPONENT)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": spec["derived"]["namespace"], "labels": pod_labels},
        "spec": {
            "replicas": spec["replicas"],
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector(spec)},
            # a new pod must be ready before an old one goes: never below the ready replicas
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": pod_labels,
                             "annotations": {"kamaji.core/pki-checksum": pki_checksum}},
                "spec": pod_spec,
            },
        },
    }


def service(spec: Spec) -> Obj:
    port = spec["endpoint"]["port"]
    svc: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": spec["derived"]["namespace"], "labels": labels(spec)},
        "spec": {
            "type": spec["service_type"],
            "selector": selector(spec),
            "ports": [{"name": "https", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }
    if spec["service_type"] == "NodePort":
        svc["spec"]["ports"][0]["nodePort"] = port
    elif spec["service_type"] == "ClusterIP" and net.ip(spec["endpoint"]["address"]) is not None:
        svc["spec"]["externalIPs"] = [spec["endpoint"]["address"]]
    return svc


def pdb(spec: Spec) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": DEPLOYMENT, "namespace": spec["derived"]["namespace"], "labels": labels(spec)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(spec)}},
    }


def namespace(spec: Spec) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": spec["derived"]["namespace"], "labels": labels(spec)}}


def admin_objects(spec: Spec, material: secrets.Material, etcd_ca_pem: str, options: Settings) -> list[Obj]:
    """Every object of the tenant in the admin cluster, in apply order."""
    data = secrets.secret_data(material, etcd_ca_pem)
    return [
        namespace(spec),
        *secrets.secret_objects(data, spec["derived"]["namespace"], labels(spec)),
        deployment(spec, options, secrets.mounted_checksum(data)),
        service(spec),
        pdb(spec),
    ]
