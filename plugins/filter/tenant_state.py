# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tenant_state
short_description: The lifecycle state of a tenant of the inventory
version_added: 0.3.0
description:
  - Finds the host of the C(tenants) group whose tenant is named by the input (the host's
    C(tenant_name), else its inventory name) and returns its spec's C(state), C(present) (the
    default) or C(absent) (the tenants play deletes it; its workers leave it). Returns an empty
    string when no tenant has that name.
options:
  _input:
    description: The tenant's name (a tenant worker's C(kamaji_tenant)).
    type: str
    required: true
  hostvars:
    description: The C(hostvars) mapping.
    type: dict
    required: true
  tenant_hosts:
    description: The hosts of the C(tenants) group.
    type: list
    elements: str
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: Is this worker's tenant being deleted
  ansible.builtin.debug:
    msg: "{{ kamaji_tenant | kamaji.core.tenant_state(hostvars, groups['tenants']) == 'absent' }}"
"""

RETURN = r"""
_value:
  description: C(present) or C(absent), or an empty string when the tenant is not in the inventory.
  type: str
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec


def tenant_state(name: str, hostvars: Mapping[str, Any], tenant_hosts: Iterable[str]) -> str:
    raw = tenant_spec.in_inventory(name, hostvars, tenant_hosts)
    return "" if raw is None else tenant_spec.state(raw)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., str]]:
        return {"tenant_state": tenant_state}
