# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tenant_certificates
short_description: The tenants' certificates from their Secrets in the admin cluster
version_added: 0.1.0
description:
  - From the tenants' Secrets as C(kubernetes.core.k8s_info) read them (label C(kamaji.core/tenant)), per tenant
    the certificates of its PKI Secret (file name to base64 PEM); keys and kubeconfigs are left out, so the
    result can be passed on and shown (the C(kamaji.core.fleet_status) module takes it).
options:
  _input:
    description: The Secrets (the C(resources) of C(kubernetes.core.k8s_info)).
    type: list
    elements: dict
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: The fleet, one row per tenant
  kamaji.core.fleet_status:
    tenants: "{{ tenants }}"
    certificates: "{{ secrets.resources | kamaji.core.tenant_certificates }}"
"""

RETURN = r"""
_value:
  description: Tenant name to {file name ending in C(.crt) to its base64 PEM}.
  type: dict
"""

from collections.abc import Callable
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.tenant import status


def tenant_certificates(secrets: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return status.certificates(secrets or [])


class FilterModule:
    def filters(self) -> dict[str, Callable[..., dict[str, dict[str, str]]]]:
        return {"tenant_certificates": tenant_certificates}
