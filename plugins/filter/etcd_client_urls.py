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
    host's C(ansible_host) when set, else its name. IPv6 addresses are bracketed.
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

import ipaddress


def _host(name, hostvars):
    address = str((hostvars.get(name) or {}).get("ansible_host") or name)
    try:
        if ipaddress.ip_address(address).version == 6:
            return "[%s]" % address
    except ValueError:
        pass
    return address


def etcd_client_urls(hosts, hostvars, port=2379):
    return ["https://%s:%d" % (_host(h, hostvars), int(port)) for h in hosts]


class FilterModule:
    def filters(self):
        return {"etcd_client_urls": etcd_client_urls}
