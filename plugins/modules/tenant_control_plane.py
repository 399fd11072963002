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
    pods); Service C(kube-apiserver); PodDisruptionBudget; and last ConfigMap
    C(kamaji-tenant-spec), the tenant's record (its validated spec with every default filled,
    in the inventory's form, no secrets), which the P(kamaji.core.tenants#inventory) inventory
    plugin reads back.
  - Tenant cluster objects per tenant, for C(kubeadm join) (cluster-info, bootstrap token
    RBAC, CSR auto-approval and rotation, kubeadm-config, kubelet-config, the
    C(kubeadm:cluster-admins) binding) and, when enabled, CoreDNS and kube-proxy.
  - A tenant with an invalid spec is reported in RV(errors) (message starting with the
    field) and left out of RV(admin_objects_file); the call itself does not fail, so each
    tenant host can fail alone before anything changes.
  - A tenant whose spec says C(state=absent) is planned for deletion instead, in RV(deletions)
    and RV(etcd_deletions). Only when its C(confirm_delete) repeats its name, and only a tenant of
    this admin cluster (its namespace exists) or one this site began deleting
    (O(deleted_tenants)); otherwise it is reported in RV(errors). The module deletes nothing.
  - A tenant lives on the datastore its spec names (C(tenant.datastore), an etcd cluster of
    O(datastores); C(etcd) is O(etcd_endpoints) and O(etcd_ca)). A tenant whose record names
    another datastore than its spec is moving (RV(moves)); its objects, which switch it to the new
    datastore, are left out of RV(admin_objects_file) and written to its C(move_file), its record
    to its C(record_file), for the role to apply once the tenant's prefix is copied and verified,
    then once the old copy is purged.
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
    description:
      - Inventory host name to the tenant's spec, that is the host's C(tenant) variable (one dict,
        the fields of M(kamaji.core.tenant_spec)) plus C(name) (the host name or C(tenant_name)).
    type: dict
    required: true
  existing_objects:
    description:
      - Objects read from the admin cluster with label C(kamaji.core/tenant), by kind
        (Secret, Namespace, Deployment, Service, PodDisruptionBudget, ConfigMap; each a list, the
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
    description: Client URLs of the shared etcd, as the tenant kube-apiservers reach them (the datastore C(etcd)).
    type: list
    elements: str
    required: true
  datastores:
    description:
      - The other etcd clusters tenants may live on (C(tenant.datastore)), by name, each with
        C(endpoints) (client URLs as the tenant kube-apiservers reach them) and C(ca) (C(cert) and
        C(key), PEM; signs the certificates of the tenants on it). One named C(etcd) replaces
        O(etcd_endpoints) and O(etcd_ca).
    type: dict
    default: {}
    version_added: 0.2.0
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
    default: [36, 37]
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
  deleted_tenants:
    description:
      - Names of the tenants this site began deleting, to when (the C(data) of the admin
        cluster's C(kube-system/kamaji-deleted-tenants) ConfigMap, which the role writes before
        it deletes anything). A tenant marked absent whose namespace is gone is accepted only
        when named here, so that re-runs after a delete go on while a misspelt name fails.
    type: dict
    default: {}
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
"""

EXAMPLES = r"""
- name: Compute the objects of two tenants
  kamaji.core.tenant_control_plane:
    tenants:
      acme: {name: acme, endpoint: {address: 192.0.2.10, port: 31443}}
      globex: {name: globex, kubernetes_version: v1.36.3, replicas: 3, endpoint: {address: 192.0.2.10, port: 31444}}
    etcd_ca:
      cert: "{{ etcd_ca_cert }}"
      key: "{{ etcd_ca_key }}"
    etcd_endpoints: [https://192.0.2.21:2379, https://192.0.2.22:2379, https://192.0.2.23:2379]
    output_dir: /tmp/kamaji-tenants
  register: computed
  delegate_to: localhost
  no_log: true

# What the tenant_control_plane role does: every host of the tenants group holds its spec in
# its `tenant` variable (for example host_vars/acme.yml: `tenant: {endpoint: {address: 192.0.2.10, port: 31443}}`)
- name: Each tenant host's spec, named after the host
  ansible.builtin.set_fact:
    tenant_raw_spec: "{{ tenant | default({}) | combine({'name': tenant_name | default(inventory_hostname)}) }}"

- name: Compute every tenant's objects
  kamaji.core.tenant_control_plane:
    tenants: "{{ dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, 'tenant_raw_spec'))) }}"
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
      and C(super_admin_kubeconfig) (contain keys), C(server), C(ca_cert) and C(ca_cert_hash);
      C(sealing_key), the name of the encryption key that seals after this run's objects, and
      C(rotation), the stages of a key rotation still to apply after them (C(stage) promote or
      drop, C(keys) in order, C(file) holding the tenant's C(kamaji-pki) Secret and control-plane
      Deployment for that stage; contains keys), each rolled out before the next.
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
deletions:
  description:
    - Per inventory host of a tenant marked absent (and guarded), its C(name), C(namespace) and
      C(exists) (its namespace is still in the admin cluster).
  returned: always
  type: dict
etcd_by_datastore:
  description:
    - The entries of RV(etcd_tenants) and RV(etcd_deletions) by the datastore that holds each
      tenant (a moving tenant under its new one, a deleted tenant under the one its record names).
  returned: always
  type: dict
  version_added: 0.2.0
moves:
  description:
    - The tenants moving to another datastore, each with C(name), C(prefix), C(user), C(source) and
      C(target) (datastore names) and C(switched) (its control plane runs on the target already;
      the copy is done and must not run again). Their hosts in RV(tenants) carry C(move_file) and
      C(record_file).
  returned: always
  type: list
  elements: dict
  version_added: 0.2.0
etcd_deletions:
  description:
    - The tenants marked absent in the form of M(kamaji.core.etcd_tenant)'s
      O(kamaji.core.etcd_tenant#module:tenants), with C(state=absent) and C(purge=true).
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.common import files
from ansible_collections.kamaji.core.plugins.module_utils.common.deps import Dependency, require
from ansible_collections.kamaji.core.plugins.module_utils.pki.x509 import CRYPTOGRAPHY, KEY_ALGORITHMS
from ansible_collections.kamaji.core.plugins.module_utils.tenant import datastore, plan
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import DEFAULT_IMAGE_REPOSITORY

YAML = Dependency("yaml", "PyYAML")

ARGUMENT_SPEC = dict(
    tenants=dict(type="dict", required=True),
    existing_objects=dict(type="dict", default={}),
    etcd_ca=dict(type="dict", required=True, options=dict(
        cert=dict(type="str", required=True),
        key=dict(type="str", required=True, no_log=True),
    )),
    etcd_endpoints=dict(type="list", elements="str", required=True),
    datastores=dict(type="dict", default={}, no_log=True),
    image_repository=dict(type="str", default=DEFAULT_IMAGE_REPOSITORY),
    coredns_version=dict(type="str", default=versions.COREDNS),
    supported_minors=dict(type="list", elements="int", default=list(versions.SUPPORTED_MINORS)),
    admin_networks=dict(type="list", elements="str", default=[]),
    node_selector=dict(type="dict", default={}),
    tolerations=dict(type="list", elements="dict", default=[]),
    priority_class=dict(type="str"),
    cgroup_driver=dict(type="str", default="systemd", choices=["systemd", "cgroupfs"]),
    kubelet_config=dict(type="dict", default={}),
    proxy_mode=dict(type="str", default="iptables", choices=["iptables", "nftables"]),
    key_algorithm=dict(type="str", default=plan.DEFAULT_KEY_ALGORITHM, choices=list(KEY_ALGORITHMS)),
    renewal_window_days=dict(type="int", default=plan.DEFAULT_RENEWAL_WINDOW_DAYS),
    deleted_tenants=dict(type="dict", default={}),
    output_dir=dict(type="path"),
    play_check_mode=dict(type="bool", default=False),
)


def write_outputs(out_dir: str, batch: plan.Plan) -> dict:
    """Write the planned objects into the scratch directory; return paths and counts."""
    dump = YAML.module.safe_dump_all
    admin_file = os.path.join(out_dir, "admin-objects.yaml")
    files.write_private(admin_file, dump(batch.admin_objects, sort_keys=False))
    tenants = {}
    for host, planned in batch.tenants.items():
        tenant = dict(planned)
        tenant["bootstrap_file"] = os.path.join(out_dir, "%s-bootstrap.yaml" % host)
        files.write_private(tenant["bootstrap_file"], dump(tenant.pop("bootstrap_objects"), sort_keys=False))
        # the tenant CA, for the controller's /readyz wait through the endpoint
        tenant["ca_file"] = os.path.join(out_dir, "%s-ca.crt" % host)
        files.write_private(tenant["ca_file"], tenant["ca_cert"])
        stages = []
        for stage in tenant.pop("rotation"):
            path = os.path.join(out_dir, "%s-rotation-%s.yaml" % (host, stage["stage"]))
            files.write_private(path, dump(stage["objects"], sort_keys=False))
            stages.append({"stage": stage["stage"], "keys": stage["keys"], "file": path})
        tenant["rotation"] = stages
        if "move_objects" in tenant:  # a moving tenant: its switch, then its record
            tenant["move_file"] = os.path.join(out_dir, "%s-move.yaml" % host)
            files.write_private(tenant["move_file"], dump(tenant.pop("move_objects"), sort_keys=False))
            tenant["record_file"] = os.path.join(out_dir, "%s-record.yaml" % host)
            files.write_private(tenant["record_file"], dump([tenant.pop("record_object")], sort_keys=False))
        tenants[host] = tenant
    return {"output_dir": out_dir, "tenants": tenants, "errors": batch.errors, "etcd_tenants": batch.etcd_tenants,
            "admin_objects_file": admin_file, "admin_objects_count": len(batch.admin_objects),
            "unchanged_objects": batch.unchanged_objects, "new_namespaces": batch.new_namespaces,
            "deletions": batch.deletions, "etcd_deletions": batch.etcd_deletions, "moves": batch.moves,
            "etcd_by_datastore": batch.etcd_by_datastore}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    require(module, CRYPTOGRAPHY, YAML)
    p = module.params
    try:
        inputs = plan.Inputs.from_params(p, check_mode=module.check_mode or p["play_check_mode"])
    except datastore.MoveError as exc:
        module.fail_json(msg=str(exc))
    batch = plan.plan(inputs)
    out_dir = p["output_dir"] or tempfile.mkdtemp(prefix="kamaji-tenants-")
    try:
        result = write_outputs(out_dir, batch)
    except OSError as exc:
        # a directory made here becomes the caller's only when the module succeeds
        if not p["output_dir"]:
            shutil.rmtree(out_dir, ignore_errors=True)
        module.fail_json(msg="output_dir: cannot write %s (%s)" % (out_dir, exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
