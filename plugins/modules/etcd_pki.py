#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_pki
short_description: Certificates and keys of a multi-tenant etcd cluster
version_added: 0.1.0
description:
  - Computes the certificate set of an etcd cluster in one call for all members; the CA,
    per member a server and a peer certificate with the member's names and addresses as
    SANs, and per member a client certificate of the etcd C(root) user.
  - Pure computation on the controller, like M(kamaji.core.tenant_pki). The role reads
    what every member holds and passes it as O(existing); valid material comes back
    byte-for-byte, so writing the result back changes nothing on a re-run.
  - The CA is O(ca) when given, else the first valid CA a member holds (so a replaced
    member receives the cluster's CA, and a member's missing, unreadable or foreign copy is
    rewritten). A new CA is created only when no member holds any CA material; when members
    hold CA files but none is a readable, matching, unexpired pair the module fails naming
    the members and files (restore the pair or pass it as O(ca)), because a silently
    replaced CA would break every client that trusts it.
  - A leaf is re-issued only when missing or unreadable, inside the renewal window, its key
    does not match, its subject, SANs or usages changed, its key algorithm changed, or the CA
    that signs it changed. Its key is kept when it still matches and the algorithm is unchanged.
  - The result carries private keys. Always set C(no_log) on the task.
author:
  - kamaji.core maintainers (@kamaji-core)
requirements:
  - cryptography >= 42.0
extends_documentation_fragment:
  - kamaji.core.attributes
options:
  members:
    description: Every member of the cluster.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Member name; the common name of its server and peer certificates.
        type: str
        required: true
      addresses:
        description: IP addresses and DNS names clients and peers use to reach the member.
        type: list
        elements: str
        required: true
  existing:
    description:
      - "What the members hold today, C({member: {file name: PEM}}) with the file names
        C(ca.crt), C(ca.key), C(server.crt), C(server.key), C(peer.crt), C(peer.key),
        C(root.crt), C(root.key); any subset. Missing members or files are generated."
      - Not marked C(no_log) on purpose (Ansible would mask returned material equal to it).
        Set C(no_log) on the task, as with the result.
    type: dict
    default: {}
  ca:
    description:
      - A CA to use instead of the one the members hold (for example restored from a backup).
      - Not marked C(no_log) for the same reason as O(existing); set C(no_log) on the task.
    type: dict
    suboptions:
      cert:
        description: CA certificate, PEM.
        type: str
      key:
        description: CA private key, PEM.
        type: str
  root_user:
    description: etcd user named by the client certificates (common name).
    type: str
    default: root
  ca_common_name:
    description: Common name of a newly created CA.
    type: str
    default: etcd-ca
  key_algorithm:
    description: Algorithm of newly generated keys.
    type: str
    choices: [ecdsa-p256, rsa-2048, rsa-3072, rsa-4096]
    default: ecdsa-p256
  ca_validity_days:
    description: Lifetime of a newly created CA.
    type: int
    default: 3650
  leaf_validity_days:
    description: Lifetime of newly issued certificates (never beyond the CA).
    type: int
    default: 365
  renewal_window_days:
    description: A certificate expiring within this many days is re-issued.
    type: int
    default: 30
attributes:
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff shows parsed certificate facts (subject, issuer, SANs, expiry), never keys.
"""

EXAMPLES = r"""
- name: Compute the etcd PKI from what the members hold
  kamaji.core.etcd_pki:
    members:
      - name: etcd-0
        addresses: [192.0.2.10, etcd-0.example.com]
      - name: etcd-1
        addresses: [192.0.2.11]
    existing: "{{ pki_read_from_members }}"
  register: etcd_pki
  no_log: true
  delegate_to: localhost
  run_once: true

- name: What was (re-)issued, without key material
  ansible.builtin.debug:
    var: etcd_pki.changed_items
"""

RETURN = r"""
pki:
  description:
    - "C({ca: {cert, key}, members: {name: {file name: PEM}}}), every file of every member,
      in the shape of O(existing). Contains private keys."
  returned: always
  type: dict
changed_items:
  description: Per member, the items to write and why.
  returned: always
  type: dict
  sample: {"etcd-3": {"ca": "missing", "server": "missing"}, "etcd-0": {"server": "SANs changed",
           "peer": "unreadable (certificate cannot be parsed)"}}
certificates:
  description: Parsed facts of every certificate (subject, issuer, SANs, not_after, serial).
  returned: always
  type: dict
ca_cert:
  description: The cluster CA certificate (public), for clients and for publishing.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.common import deps
from ansible_collections.kamaji.core.plugins.module_utils.pki import etcd_set
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

ARGUMENT_SPEC = dict(
    members=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        addresses=dict(type="list", elements="str", required=True),
    )),
    existing=dict(type="dict", default={}),
    # not no_log, like existing: Ansible would mask the returned CA equal to it
    ca=dict(type="dict", options=dict(
        cert=dict(type="str"),
        key=dict(type="str", no_log=False),
    )),
    root_user=dict(type="str", default="root"),
    ca_common_name=dict(type="str", default="etcd-ca"),
    key_algorithm=dict(type="str", default="ecdsa-p256", choices=list(pki.KEY_ALGORITHMS)),
    ca_validity_days=dict(type="int", default=3650),
    leaf_validity_days=dict(type="int", default=365),
    renewal_window_days=dict(type="int", default=30),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    deps.require(module, pki.CRYPTOGRAPHY)
    try:
        material, changed, diff = etcd_set.reconcile(module.params, module.params["existing"], module.params["ca"])
        certificates = etcd_set.facts(material)
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=bool(changed), changed_items=changed, certificates=certificates, pki=material,
                  ca_cert=material["ca"]["cert"])
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
