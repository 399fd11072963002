# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: ca_cert_hash
short_description: kubeadm discovery hash of a CA certificate
version_added: 0.1.0
description:
  - Returns C(sha256:<hex>) of the DER SubjectPublicKeyInfo of a PEM CA certificate, the
    value C(kubeadm join --discovery-token-ca-cert-hash) expects.
options:
  _input:
    description: The CA certificate, PEM.
    type: str
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: Discovery hash of the tenant CA
  ansible.builtin.debug:
    msg: "{{ tenant_ca_pem | kamaji.core.ca_cert_hash }}"
"""

RETURN = r"""
_value:
  description: The hash, prefixed with C(sha256:).
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki


def ca_cert_hash(pem: str) -> str:
    if not pki.CRYPTOGRAPHY.ok:
        raise AnsibleFilterError("ca_cert_hash needs the cryptography Python library on the controller")
    try:
        return pki.ca_cert_hash(pem)
    except pki.PKIError as exc:
        raise AnsibleFilterError("ca_cert_hash: %s" % exc)


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"ca_cert_hash": ca_cert_hash}
