#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tenant_control_plane
short_description: Compute the objects of many tenant control planes in one call
version_added: 0.1.0
description:
  - Pure computation on the controller for a batch of tenants (the C(tenants) group, one
    call with C(run_once)). For each tenant it validates the spec
    (M(kamaji.core.tenant_spec) rules), reconciles its PKI (M(kamaji.core.tenant_pki)
    rules) with what the admin cluster's Secrets hold, and renders the objects to apply.
  - Admin cluster objects per tenant, in namespace C(tenant-<name>) labelled
    C(kamaji.core/tenant=<name>); the Namespace; Secrets C(kamaji-pki),
    C(kamaji-kubeconfigs), C(kamaji-admin-kubeconfig); Deployment C(kube-control-plane)
    (kube-apiserver, kube-controller-manager, kube-scheduler; probes, resources,
    anti-affinity, a rolling update that never goes below the ready replicas, and the
    checksum of the mounted Secrets in the pod template so renewed certificates roll the
    pods); Service C(kube-apiserver); PodDisruptionBudget.
  - Tenant cluster objects per tenant, for C(kubeadm join) (cluster-info, bootstrap token
    RBAC, CSR auto-approval and rotation, kubeadm-config, kubelet-config, the
    C(kubeadm:cluster-admins) binding) and, when enabled, CoreDNS and kube-proxy.
  - A tenant with an invalid spec is reported in RV(errors) (message starting with the
    field) and left out of RV(admin_objects_file); the call itself does not fail, so each
    tenant host can fail alone before anything changes.
  - The result carries private keys (in Secrets and kubeconfigs). Always set C(no_log).
author:
  - kamaji.core maintainers (@kamaji-core)
requirements:
  - cryptography >= 3.4
  - PyYAML
extends_documentation_fragment:
  - kamaji.core.attributes
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Computation only; the module changes nothing (it writes scratch files into O(output_dir)).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  tenants:
    description: Inventory host name to raw tenant spec (the fields of M(kamaji.core.tenant_spec)).
    type: dict
    required: true
  existing_objects:
    description:
      - Objects read from the admin cluster with label C(kamaji.core/tenant), by kind
        (Secret, Namespace, Deployment, Service, PodDisruptionBudget; each a list, the
        C(resources) of M(kubernetes.core.k8s_info)). The PKI found in the Secrets is kept when valid;
        objects that already hold every wanted field are left out of C(admin-objects.yaml),
        so a no-op run sends nothing to the API server.
    type: dict
    default: {}
  etcd_ca:
    description: The etcd cluster's CA; signs each tenant's etcd client certificate.
    type: dict
    required: true
    suboptions:
      cert:
        description: CA certificate, PEM.
        type: str
        required: true
      key:
        description: CA private key, PEM.
        type: str
        required: true
  etcd_endpoints:
    description: Client URLs of the shared etcd, as the tenant kube-apiservers reach them.
    type: list
    elements: str
    required: true
  image_repository:
    description: Repository of the control-plane, kube-proxy and CoreDNS images.
    type: str
    default: registry.k8s.io
  coredns_version:
    description: CoreDNS image tag.
    type: str
    default: v1.14.6
  supported_minors:
    description: Kubernetes minors a tenant may run (v1.<minor>).
    type: list
    elements: int
    default: [35, 36, 37]
  admin_networks:
    description: Networks of the admin cluster that tenant CIDRs must not overlap.
    type: list
    elements: str
    default: []
  node_selector:
    description: Node selector of the control-plane pods (for example the admin workers).
    type: dict
    default: {}
  tolerations:
    description: Tolerations of the control-plane pods.
    type: list
    elements: dict
    default: []
  priority_class:
    description: Priority class of the control-plane pods.
    type: str
  cgroup_driver:
    description: Cgroup driver written into the tenant's kubelet-config.
    type: str
    choices: [systemd, cgroupfs]
    default: systemd
  kubelet_config:
    description:
      - KubeletConfiguration fields merged over the defaults of the tenant's kubelet-config
        (what C(kubeadm join) gives each worker), for example eviction thresholds or image GC.
    type: dict
    default: {}
  proxy_mode:
    description: kube-proxy mode in the tenant clusters.
    type: str
    choices: [iptables, nftables]
    default: iptables
  key_algorithm:
    description: Algorithm of newly generated keys.
    type: str
    choices: [ecdsa-p256, rsa-2048, rsa-3072, rsa-4096]
    default: ecdsa-p256
  renewal_window_days:
    description: A certificate expiring within this many days is re-issued (and the pods roll).
    type: int
    default: 30
  output_dir:
    description:
      - Scratch directory on the controller. The admin cluster objects of the batch go to
        C(admin-objects.yaml), each tenant's tenant cluster objects to C(<host>-bootstrap.yaml)
        and its CA certificate to C(<host>-ca.crt), all mode 0600. They are written in check
        mode too (they are computation results, not changes), so that the results stay small
        when a batch holds hundreds of tenants.
      - When omitted, the module creates a private temporary directory (mode 0700) and returns
        it as RV(output_dir); the caller removes it. It is removed again if the module fails.
    type: path
  play_check_mode:
    description:
      - The play runs in check mode (pass C(ansible_check_mode)). The task itself runs with
        C(check_mode=false) because its outputs are scratch files, not changes.
      - Objects inside a tenant namespace that does not exist yet are then left out of
        C(admin-objects.yaml) (they cannot be dry-run) and reported in RV(new_namespaces).
    type: bool
    default: false
  etcd_root:
    description:
      - The etcd root client certificate and key; when given, written with the etcd CA
        certificate into O(output_dir) as C(etcd-ca.crt), C(etcd-root.crt), C(etcd-root.key)
        for the etcd modules of the same play.
    type: dict
    suboptions:
      cert:
        description: Certificate, PEM.
        type: str
        required: true
      key:
        description: Private key, PEM.
        type: str
        required: true
"""

EXAMPLES = r"""
- name: Compute every tenant's objects
  kamaji.core.tenant_control_plane:
    tenants: "{{ dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, 'tenant'))) }}"
    existing_objects:
      Secret: "{{ tenant_secrets.resources }}"
    etcd_ca:
      cert: "{{ etcd_ca_cert }}"
      key: "{{ etcd_ca_key }}"
    etcd_endpoints: [https://192.0.2.21:2379, https://192.0.2.22:2379, https://192.0.2.23:2379]
  register: computed
  run_once: true
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
tenants:
  description:
    - Per inventory host of a valid tenant; C(spec) (normalized, with C(derived)),
      C(changed_items) (PKI items re-issued and why), C(bootstrap_file), C(ca_file), C(admin_kubeconfig)
      and C(super_admin_kubeconfig) (contain keys), C(server), C(ca_cert) and C(ca_cert_hash).
  returned: always
  type: dict
output_dir:
  description: The scratch directory (O(output_dir), or the one the module created).
  returned: always
  type: str
admin_objects_file:
  description: Path of C(admin-objects.yaml) in O(output_dir); every valid tenant's admin cluster objects in apply order.
  returned: always
  type: str
admin_objects_count:
  description: Number of objects in RV(admin_objects_file) (objects to create or update).
  returned: always
  type: int
unchanged_objects:
  description: Number of wanted admin cluster objects found unchanged (left out of RV(admin_objects_file)).
  returned: always
  type: int
new_namespaces:
  description: Tenant namespaces that do not exist yet in the admin cluster.
  returned: always
  type: list
  elements: str
etcd_tenants:
  description: The valid tenants in the form of M(kamaji.core.etcd_tenant)'s O(kamaji.core.etcd_tenant#module:tenants).
  returned: always
  type: list
  elements: dict
errors:
  description: Per inventory host of an invalid tenant, the message (it starts with the field).
  returned: always
  type: dict
"""

import os
import shutil
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

try:
    import yaml

    from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set as tenant_pki
    from ansible_collections.kamaji.core.plugins.module_utils.tenant import manifests as tenant_manifests
    from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

    IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    IMPORT_ERROR = traceback.format_exc()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tenants=dict(type="dict", required=True),
            existing_objects=dict(type="dict", default={}),
            etcd_ca=dict(type="dict", required=True, options=dict(
                cert=dict(type="str", required=True),
                key=dict(type="str", required=True, no_log=True),
            )),
            etcd_endpoints=dict(type="list", elements="str", required=True),
            image_repository=dict(type="str", default="registry.k8s.io"),
            coredns_version=dict(type="str", default="v1.14.6"),
            supported_minors=dict(type="list", elements="int", default=[35, 36, 37]),
            admin_networks=dict(type="list", elements="str", default=[]),
            node_selector=dict(type="dict", default={}),
            tolerations=dict(type="list", elements="dict", default=[]),
            priority_class=dict(type="str"),
            cgroup_driver=dict(type="str", default="systemd", choices=["systemd", "cgroupfs"]),
            kubelet_config=dict(type="dict", default={}),
            proxy_mode=dict(type="str", default="iptables", choices=["iptables", "nftables"]),
            key_algorithm=dict(type="str", default="ecdsa-p256", choices=list(pki.KEY_ALGORITHMS)),
            renewal_window_days=dict(type="int", default=30),
            output_dir=dict(type="path"),
            play_check_mode=dict(type="bool", default=False),
            etcd_root=dict(type="dict", options=dict(
                cert=dict(type="str", required=True),
                key=dict(type="str", required=True, no_log=True),
            )),
        ),
        supports_check_mode=True,
    )
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=str(pki.CRYPTOGRAPHY_IMPORT_ERROR))
    if IMPORT_ERROR:
        module.fail_json(msg="kamaji.core tenant_control_plane module_utils failed to import", exception=IMPORT_ERROR)
    p = module.params
    made, error = None, "internal error"
    try:
        if not p["output_dir"]:
            made = p["output_dir"] = tempfile.mkdtemp(prefix="kamaji-tenants-")
        result = compute(p)
        result.update(write_outputs(p, result, module.check_mode or p["play_check_mode"]))
        error = None
    except pki.PKIError as exc:
        error = str(exc)
    except OSError as exc:
        error = "output_dir: cannot write %s (%s)" % (p["output_dir"], exc)
    finally:
        # a directory made here becomes the caller's only when the module succeeds
        if made and error:
            shutil.rmtree(made, ignore_errors=True)
    if error:
        module.fail_json(msg=error)
    module.exit_json(changed=False, output_dir=p["output_dir"], **result)


def _write(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _dump_all(objects):
    return yaml.safe_dump_all(objects, sort_keys=False)


def write_outputs(p, result, check_mode):
    """Write the objects into the scratch directory; keep only paths and counts in the result."""
    out_dir = p["output_dir"]
    admin = result.pop("admin_objects")
    namespaces = [o["metadata"]["name"] for o in admin if o["kind"] == "Namespace"]
    existing = _existing(p)
    have_ns = [(o.get("metadata") or {}).get("name") for o in existing if o.get("kind") == "Namespace"]
    new = sorted(set(namespaces) - set(have_ns))
    if check_mode:
        admin = [o for o in admin if o["metadata"].get("namespace", o["metadata"]["name"]) not in new]
    admin, same = tenant_manifests.unchanged(admin, existing)
    admin_file = os.path.join(out_dir, "admin-objects.yaml")
    _write(admin_file, _dump_all(admin))
    for host, tenant in result["tenants"].items():
        tenant["bootstrap_file"] = os.path.join(out_dir, "%s-bootstrap.yaml" % host)
        _write(tenant["bootstrap_file"], _dump_all(tenant.pop("bootstrap_objects")))
        # the tenant CA, for the controller's /readyz wait through the endpoint
        tenant["ca_file"] = os.path.join(out_dir, "%s-ca.crt" % host)
        _write(tenant["ca_file"], tenant["ca_cert"])
        tenant["new_namespace"] = tenant["spec"]["derived"]["namespace"] in new
    if p.get("etcd_root"):
        _write(os.path.join(out_dir, "etcd-ca.crt"), p["etcd_ca"]["cert"])
        _write(os.path.join(out_dir, "etcd-root.crt"), p["etcd_root"]["cert"])
        _write(os.path.join(out_dir, "etcd-root.key"), p["etcd_root"]["key"])
    return {"admin_objects_file": admin_file, "admin_objects_count": len(admin), "unchanged_objects": same,
            "new_namespaces": new}


def _secrets_by_namespace(secrets):
    out = {}
    for s in secrets or []:
        meta = s.get("metadata") or {}
        out.setdefault(meta.get("namespace"), {})[meta.get("name")] = s.get("data") or {}
    return out


def _existing(p):
    """Objects read from the API, with their kind (list items come without it)."""
    out = []
    for kind, items in (p.get("existing_objects") or {}).items():
        for item in items or []:
            out.append(dict(item, kind=kind))
    return out


def deployed_version(objects, namespace):
    """Kubernetes version of the tenant's running control plane (its kube-apiserver image tag)."""
    for o in objects:
        meta = o.get("metadata") or {}
        if o.get("kind") == "Deployment" and meta.get("namespace") == namespace and meta.get("name") == "kube-control-plane":
            for c in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []:
                if c.get("name") == "kube-apiserver":
                    return c.get("image", "").rsplit(":", 1)[-1]
    return None


def version_step_error(running, wanted):
    """Upgrades move one minor at a time and never down (etcd data written by a newer API
    server may not be readable by an older one)."""
    if not running:
        return None
    try:
        have = int(running.split(".")[1])
        want = int(wanted.split(".")[1])
    except (IndexError, ValueError):
        return None
    if want < have:
        return ("kubernetes_version: %s would downgrade the running %s; tenant control planes never move "
                "down a minor" % (wanted, running))
    if want > have + 1:
        return ("kubernetes_version: %s skips a minor from the running %s; upgrade one minor at a time "
                "(first v1.%d)" % (wanted, running, have + 1))
    return None


def compute(p):
    options = {k: p.get(k) for k in ("image_repository", "coredns_version", "node_selector", "tolerations",
                                     "priority_class", "cgroup_driver", "kubelet_config", "proxy_mode",
                                     "etcd_endpoints")}
    existing_objects = _existing(p)
    by_ns = _secrets_by_namespace([o for o in existing_objects if o["kind"] == "Secret"])
    tenants, errors, admin = {}, {}, []
    names = {}
    for host in sorted(p["tenants"]):
        raw = dict(p["tenants"][host] or {})
        raw.setdefault("name", host)
        try:
            spec = tenant_spec.normalize(raw, tuple(p["supported_minors"]), p["admin_networks"])
        except tenant_spec.SpecError as exc:
            errors[host] = str(exc)
            continue
        if spec["name"] in names:
            errors[host] = "name: %r is also the name of tenant host %s; tenant names must be unique" % (
                spec["name"], names[spec["name"]])
            continue
        names[spec["name"]] = host
        running = deployed_version(existing_objects, spec["derived"]["namespace"])
        step = version_step_error(running, spec["kubernetes_version"])
        if step:
            errors[host] = step
            continue
        existing = tenant_manifests.material_from_secrets(by_ns.get(spec["derived"]["namespace"], {}))
        params = {
            "name": spec["name"],
            "endpoint": dict(spec["endpoint"]),
            "apiserver_bind_port": spec["endpoint"]["port"],
            "extra_sans": spec["extra_sans"],
            "service_cidrs": [spec["service_cidr"]],
            "cluster_domain": spec["cluster_domain"],
            "key_algorithm": p["key_algorithm"],
            "renewal_window_days": p["renewal_window_days"],
            "etcd_user": spec["derived"]["etcd_user"],
        }
        try:
            material, changed, _diff = tenant_pki.reconcile(params, existing, p["etcd_ca"])
        except pki.PKIError as exc:
            errors[host] = "pki: %s" % exc
            continue
        objects = tenant_manifests.admin_objects(spec, material, p["etcd_ca"]["cert"], options)
        admin.extend(objects)
        tenants[host] = {
            "spec": spec,
            "changed_items": changed,
            "bootstrap_objects": tenant_manifests.bootstrap_objects(spec, material, options),
            "admin_kubeconfig": material["admin.conf"],
            "super_admin_kubeconfig": material["super-admin.conf"],
            "server": spec["derived"]["server"],
            "ca_cert_hash": material["ca_cert_hash"],
            "ca_cert": material["ca"]["cert"],
        }
    etcd_tenants = [{"name": t["spec"]["name"], "prefix": t["spec"]["derived"]["etcd_prefix"],
                     "user": t["spec"]["derived"]["etcd_user"]} for t in tenants.values()]
    return {"tenants": tenants, "admin_objects": admin, "errors": errors, "etcd_tenants": etcd_tenants}


if __name__ == "__main__":
    main()
