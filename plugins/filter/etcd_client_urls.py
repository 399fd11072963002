# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: etcd_client_urls
short_description: Client URLs of etcd members from inventory hosts
version_added: 0.1.0
description:
  - Maps inventory host names to C(https://<address>:<port>), where the address is the
    host's O(address_var) when given and set, else its C(ansible_host) when set, else its name.
    IPv6 addresses are bracketed.
options:
  _input:
    description: Inventory host names (for example C(groups['etcd'])).
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) mapping.
    type: dict
    required: true
  port:
    description: Client port.
    type: int
    default: 2379
  address_var:
    description: A host variable that names the address to use before C(ansible_host)
      (for example C(admin_cluster_advertise_address)).
    type: str
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: Endpoints of the etcd group
  ansible.builtin.debug:
    msg: "{{ groups['etcd'] | kamaji.core.etcd_client_urls(hostvars, 2379) }}"
"""

RETURN = r"""
_value:
  description: One URL per host, in inventory order.
  type: list
  elements: str
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import net


def etcd_client_urls(hosts: Iterable[str], hostvars: Mapping[str, Any], port: int = 2379,
                     address_var: str | None = None) -> list[str]:
    return net.host_urls(hosts, hostvars, port, address_var)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., list[str]]]:
        return {"etcd_client_urls": etcd_client_urls}
