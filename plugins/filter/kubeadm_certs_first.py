# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: kubeadm_certs_first
short_description: The first kubeadm-managed certificate of a node to expire
version_added: 0.3.0
description:
  - Given the registered result of C(kubeadm certs check-expiration -o json) on a control-plane
    node, returns the node's report row, C(node), C(certificate), C(expires) (kubeadm's date) and
    C(days) (whole days left, negative once expired) of the first kubeadm-managed certificate to
    expire (missing and externally managed certificates left out), or C(node) and C(error)
    (kubeadm's last line) when the node cannot tell.
  - With O(renew_days), the row also says C(renew), whether a run renews the node's
    certificates (fewer than O(renew_days) days left; 0 turns renewal off; never when the node
    cannot tell).
options:
  _input:
    description: The registered result of the command (C(rc), C(stdout), C(stderr_lines)).
    type: dict
    required: true
  node:
    description: The node's name, kept in the row.
    type: str
    required: true
  renew_days:
    description: The renewal threshold in days; when given, the row holds C(renew).
    type: int
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: The first of this node's kubeadm certificates to expire
  ansible.builtin.set_fact:
    admin_cluster_certs_first: "{{ _read | kamaji.core.kubeadm_certs_first(inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: The row (C(node), C(certificate), C(expires), C(days); or C(node), C(error); C(renew) with O(renew_days)).
  type: dict
"""

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.pki import kubeadm


def kubeadm_certs_first(read: Mapping[str, Any], node: str, renew_days: int | None = None) -> dict[str, Any]:
    row = kubeadm.certs_first(read, node)
    if renew_days is not None:
        row["renew"] = kubeadm.renewal_due(row, renew_days)
    return row


class FilterModule:
    def filters(self) -> dict[str, Callable[..., dict[str, Any]]]:
        return {"kubeadm_certs_first": kubeadm_certs_first}
