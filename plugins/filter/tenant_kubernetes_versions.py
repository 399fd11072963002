# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tenant_kubernetes_versions
short_description: The Kubernetes releases the tenants of the inventory run, with the spec's default
version_added: 0.2.0
description:
  - Returns the distinct C(tenant.kubernetes_version) values of the input hosts (hosts of the
    C(tenants) group), a spec without one counting as the version it defaults to; sorted.
  - Tenants marked C(state=absent) run no release (they are being deleted) and are left out.
options:
  _input:
    description: Hosts of the C(tenants) group.
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) mapping.
    type: dict
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: Every release the tenants run
  ansible.builtin.debug:
    msg: "{{ groups['tenants'] | kamaji.core.tenant_kubernetes_versions(hostvars) }}"
"""

RETURN = r"""
_value:
  description: The releases, each once, sorted.
  type: list
  elements: str
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec


def tenant_kubernetes_versions(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> list[str]:
    specs = [hostvars[host].get("tenant") or {} for host in hosts]
    return sorted({tenant_spec.kubernetes_version(raw) for raw in specs if tenant_spec.state(raw) != "absent"})


class FilterModule:
    def filters(self) -> dict[str, Callable[..., list[str]]]:
        return {"tenant_kubernetes_versions": tenant_kubernetes_versions}
