#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tenant_pki
short_description: Certificates, keys and kubeconfigs of one tenant control plane
version_added: 0.1.0
description:
  - Computes the full certificate set that kubeadm would create for a control plane, for
    one tenant of the managed Kubernetes service, and keeps it stable across runs.
  - The module is pure computation on the controller. It takes the material it returned
    last time (for example read back from the tenant's Secrets in the admin cluster) as
    O(existing) and returns it byte-for-byte unchanged when it is still valid.
  - A leaf certificate or kubeconfig is re-issued when it is missing or unreadable, inside
    the renewal window, its key does not match, its subject, SANs or usages changed, its
    key algorithm changed, its server URL, CA or user changed, or it is not signed by the
    current CA. CAs are replaced only with O(rotate_ca=true); then every leaf and kubeconfig
    is re-issued too.
  - An existing CA that is unreadable, incomplete, expired or whose key does not match fails
    the run naming the item (restore the pair, or set O(rotate_ca=true)); so does an
    unreadable service-account key. Neither is ever replaced silently.
  - The result carries private keys. Always set C(no_log) on the task.
author:
  - kamaji.core maintainers (@kamaji-core)
requirements:
  - cryptography >= 42.0
  - PyYAML
extends_documentation_fragment:
  - kamaji.core.attributes
options:
  name:
    description:
      - Tenant name, a DNS-1123 label of at most 40 characters, not C(root). It names the
        cluster in every kubeconfig.
    type: str
    required: true
  endpoint:
    description: Where workers and users reach the tenant API server.
    type: dict
    required: true
    suboptions:
      address:
        description: IP address or DNS name; always one of the serving certificate's SANs.
        type: str
        required: true
      port:
        description: TCP port of the endpoint.
        type: int
        default: 6443
  apiserver_bind_port:
    description:
      - Port kube-apiserver listens on inside its pod; the controller-manager and scheduler
        kubeconfigs reach it at C(https://127.0.0.1:<port>).
    type: int
    default: 6443
  extra_sans:
    description: Additional DNS names (wildcards like C(*.apps.example.com) allowed) or IP addresses for the API serving certificate.
    type: list
    elements: str
    default: []
  service_cidrs:
    description: Service networks of the tenant; the first address of each is a SAN.
    type: list
    elements: str
    default: [10.96.0.0/16]
  cluster_domain:
    description: Cluster DNS domain, for the C(kubernetes.default.svc.<domain>) SAN.
    type: str
    default: cluster.local
  key_algorithm:
    description: Algorithm of newly generated keys.
    type: str
    choices: [ecdsa-p256, rsa-2048, rsa-3072, rsa-4096]
    default: ecdsa-p256
  ca_validity_days:
    description: Lifetime of newly created CAs.
    type: int
    default: 3650
  leaf_validity_days:
    description: Lifetime of newly issued leaf certificates (never beyond their CA).
    type: int
    default: 365
  renewal_window_days:
    description: A leaf expiring within this many days is re-issued.
    type: int
    default: 30
  existing:
    description:
      - The material returned by an earlier run (the RV(pki) result), or any subset of it.
      - Items are C(ca), C(front-proxy-ca), C(apiserver), C(apiserver-kubelet-client),
        C(front-proxy-client), C(apiserver-etcd-client) (each a dict with C(cert) and
        C(key) in PEM), C(sa) (C(key), C(pub)) and the kubeconfigs C(admin.conf),
        C(super-admin.conf), C(controller-manager.conf), C(scheduler.conf) (YAML text).
      - This option is not marked C(no_log) on purpose (Ansible would mask returned
        material equal to it). Set C(no_log) on the task, as with the result.
    type: dict
    default: {}
  etcd_ca:
    description:
      - The etcd cluster's CA; signs the C(apiserver-etcd-client) certificate whose common
        name is O(etcd_user).
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
  etcd_user:
    description: etcd user of the tenant; defaults to O(name).
    type: str
  rotate_ca:
    description:
      - Replace the cluster CA and the front-proxy CA, and re-issue everything they sign.
      - Existing workers trust the old CA; plan a rolling re-join.
    type: bool
    default: false
attributes:
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff shows parsed certificate facts (subject, issuer, SANs, expiry), never keys.
notes:
  - The discovery hash for C(kubeadm join) is also available as the filter
    M(kamaji.core.ca_cert_hash).
"""

EXAMPLES = r"""
- name: Compute the PKI of tenant acme, reusing what is stored
  kamaji.core.tenant_pki:
    name: acme
    endpoint:
      address: 192.0.2.10
      port: 31443
    extra_sans: [acme.k8s.example.com]
    service_cidrs: [10.96.0.0/16]
    existing: "{{ acme_pki_from_secrets | default({}) }}"
    etcd_ca:
      cert: "{{ etcd_ca_cert }}"
      key: "{{ etcd_ca_key }}"
  register: acme_pki
  no_log: true

- name: Show what was (re-)issued, without any key material
  ansible.builtin.debug:
    var: acme_pki.changed_items
"""

RETURN = r"""
pki:
  description:
    - The complete set, in the same shape as O(existing). Contains private keys.
  returned: always
  type: dict
changed_items:
  description: Items created or re-issued, with the reason.
  returned: always
  type: dict
  sample: {"apiserver": "SANs changed", "admin.conf": "inside renewal window (expires 2026-12-01T10:00:00+00:00)"}
certificates:
  description: Parsed facts of every certificate (subject, issuer, SANs, not_after, serial).
  returned: always
  type: dict
ca_cert_hash:
  description: The C(--discovery-token-ca-cert-hash) value for C(kubeadm join).
  returned: always
  type: str
  sample: sha256:4c9c3b2e4a9c1e0b2f0d9c1f1b7a8e7d6c5b4a39281706f5e4d3c2b1a0918273
server:
  description: The API URL written into the admin kubeconfigs.
  returned: always
  type: str
  sample: https://192.0.2.10:31443
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.common import deps
from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    endpoint=dict(type="dict", required=True, options=dict(
        address=dict(type="str", required=True),
        port=dict(type="int", default=6443),
    )),
    apiserver_bind_port=dict(type="int", default=6443),
    extra_sans=dict(type="list", elements="str", default=[]),
    service_cidrs=dict(type="list", elements="str", default=["10.96.0.0/16"]),
    cluster_domain=dict(type="str", default="cluster.local"),
    key_algorithm=dict(type="str", default="ecdsa-p256", choices=list(pki.KEY_ALGORITHMS)),
    ca_validity_days=dict(type="int", default=3650),
    leaf_validity_days=dict(type="int", default=365),
    renewal_window_days=dict(type="int", default=30),
    # not no_log: Ansible would mask every returned item equal to an input value,
    # so valid material passed back in would come out as a placeholder.
    existing=dict(type="dict", default={}),
    etcd_ca=dict(type="dict", required=True, no_log=True, options=dict(
        cert=dict(type="str", required=True),
        key=dict(type="str", required=True, no_log=True),
    )),
    etcd_user=dict(type="str"),
    rotate_ca=dict(type="bool", default=False),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    deps.require(module, pki.CRYPTOGRAPHY)
    try:
        material, changed, diff = tenant_set.reconcile(module.params, module.params["existing"], module.params["etcd_ca"])
        certificates = tenant_set.facts(material)
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=bool(changed), changed_items=changed, certificates=certificates,
                  ca_cert_hash=material["ca_cert_hash"], server=tenant_set.Spec(module.params).server, pki=material)
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
