# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tenant_admin_kubeconfig
short_description: A tenant's admin kubeconfig from its Secrets in the admin cluster
version_added: 0.1.0
description:
  - From the tenants' Secrets as C(kubernetes.core.k8s_info) read them (label C(kamaji.core/tenant)), the
    admin kubeconfig of one tenant, as a dict (what C(kubeconfig) of the kubernetes.core modules takes);
    an empty dict when that tenant has none. No kubeconfig file on the controller is needed.
options:
  _input:
    description: The Secrets (the C(resources) of C(kubernetes.core.k8s_info)).
    type: list
    elements: dict
    required: true
  name:
    description: The tenant's name.
    type: str
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: The tenant's Nodes through its own API
  kubernetes.core.k8s_info:
    kind: Node
    kubeconfig: "{{ secrets.resources | kamaji.core.tenant_admin_kubeconfig('acme') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The kubeconfig, parsed; empty when the tenant has no admin kubeconfig Secret.
  type: dict
"""

from collections.abc import Callable
from typing import Any

import yaml

from ansible_collections.kamaji.core.plugins.module_utils.tenant import status


def tenant_admin_kubeconfig(secrets: list[dict[str, Any]], name: str) -> dict[str, Any]:
    text = status.admin_kubeconfig(secrets or [], str(name))
    return yaml.safe_load(text) if text else {}


class FilterModule:
    def filters(self) -> dict[str, Callable[..., dict[str, Any]]]:
        return {"tenant_admin_kubeconfig": tenant_admin_kubeconfig}
