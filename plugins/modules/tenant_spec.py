#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tenant_spec
short_description: Validate a tenant spec and fill its defaults
version_added: 0.1.0
description:
  - Checks one tenant's spec (the C(tenant) variable of a C(tenants) host, one dict) and
    returns it complete, with defaults and derived values (namespace, etcd prefix and user,
    API URL, Service IPs). A name and an endpoint are enough; everything else has a default.
  - Fails before anything changes, with a message that starts with the faulty field as the
    inventory spells it (C(tenant.endpoint.port)). An unknown or misspelled key, at any
    level, fails naming the key and the nearest known one (for C(kubernetes_verison) the
    message is C(tenant.kubernetes_verison) then C(unknown field; did you mean kubernetes_version?)).
  - Pure computation on the controller; never changes anything.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
options:
  spec:
    description:
      - The tenant spec, that is the tenant host's C(tenant) dict plus C(name) (the inventory host
        name, or the C(tenant_name) host variable).
      - Fields are C(kubernetes_version), C(replicas), C(service_type), C(endpoint)
        (C(address), C(port)), C(extra_sans), C(service_cidr), C(pod_cidr),
        C(dns_service_ip), C(cluster_domain), C(admission_plugins), C(extra_args) and
        C(resources) per component (C(apiserver), C(controller_manager), C(scheduler)),
        C(addons) (C(coredns), C(kube_proxy)) and C(write_freeze). See docs/tenant-spec.md.
    type: dict
    required: true
  supported_minors:
    description: Kubernetes minor versions accepted (1.<minor>).
    type: list
    elements: int
    default: [36, 37]
  admin_networks:
    description: Networks of the admin cluster that tenant CIDRs must not overlap.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
# host_vars/acme.yml of the tenants group:
#   tenant: {endpoint: {address: 192.0.2.10, port: 31443}, replicas: 3}
- name: The complete spec of this tenant
  kamaji.core.tenant_spec:
    spec: "{{ tenant | default({}) | combine({'name': tenant_name | default(inventory_hostname)}) }}"
  register: tenant_spec

- name: A spec written inline
  kamaji.core.tenant_spec:
    spec:
      name: acme
      endpoint: {address: 192.0.2.10, port: 31443}
      addons: {kube_proxy: false}
"""

RETURN = r"""
spec:
  description: The complete spec, defaults filled, with C(derived) values.
  returned: always
  type: dict
  sample:
    name: acme
    kubernetes_version: v1.37.2
    replicas: 2
    service_type: NodePort
    endpoint: {address: 192.0.2.10, port: 31443}
    dns_service_ip: 10.96.0.10
    derived: {namespace: tenant-acme, etcd_prefix: /acme/, server: "https://192.0.2.10:31443"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import SpecError, normalize


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            spec=dict(type="dict", required=True),
            supported_minors=dict(type="list", elements="int", default=list(versions.SUPPORTED_MINORS)),
            admin_networks=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        spec = normalize(module.params["spec"], tuple(module.params["supported_minors"]), module.params["admin_networks"])
    except SpecError as exc:
        module.fail_json(msg="tenant %s: %s" % (module.params["spec"].get("name", "?"), exc), field=str(exc).split(":", maxsplit=1)[0])
    module.exit_json(changed=False, spec=spec)


if __name__ == "__main__":
    main()
