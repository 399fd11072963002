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
      - Exactly one of O(spec) and O(answers).
    type: dict
  answers:
    description:
      - A new tenant from the answers of a survey (the tenants job template of awx/configure.yml),
        by answer C(name), C(kubernetes_version), C(replicas), C(endpoint_address) and
        C(endpoint_port) (the job variables C(kamaji_new_tenant_<answer>)).
      - An empty answer (or none) leaves its field to the default; digits typed on a command line
        count as a number, and 0 is a number like any other.
      - A refused answer fails naming its job variable and the field, such as
        C(kamaji_new_tenant_endpoint_port (tenant.endpoint.port)).
      - Exactly one of O(spec) and O(answers).
    type: dict
    version_added: 0.2.0
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

- name: A new tenant from a survey's answers (the host's tenant dict is returned as tenant)
  kamaji.core.tenant_spec:
    answers:
      name: "{{ kamaji_new_tenant_name | default(none) }}"
      endpoint_address: "{{ kamaji_new_tenant_endpoint_address | default(none) }}"
      endpoint_port: "{{ kamaji_new_tenant_endpoint_port | default(none) }}"
  register: new_tenant
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
name:
  description: The tenant's name (the inventory host of a new tenant from O(answers)).
  returned: success
  type: str
  sample: hooli
tenant:
  description: With O(answers), the new tenant host's C(tenant) dict (the answers given, as spec fields).
  returned: success, with answers
  type: dict
  sample: {endpoint: {address: 192.0.2.40, port: 31460}, replicas: 0}
field:
  description: The spec field a refused spec or answer names (C(tenant.endpoint.port)).
  returned: failure (none for an answer that is no question of the survey)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import survey
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import SpecError, normalize


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            spec=dict(type="dict"),
            answers=dict(type="dict"),
            supported_minors=dict(type="list", elements="int", default=list(versions.SUPPORTED_MINORS)),
            admin_networks=dict(type="list", elements="str", default=[]),
        ),
        required_one_of=[("spec", "answers")],
        mutually_exclusive=[("spec", "answers")],
        supports_check_mode=True,
    )
    minors, networks = tuple(module.params["supported_minors"]), module.params["admin_networks"]
    if module.params["answers"] is not None:
        try:
            name, tenant, spec = survey.normalized(module.params["answers"], minors, networks)
        except survey.SurveyError as exc:
            module.fail_json(msg=str(exc), field=exc.field)
        module.exit_json(changed=False, name=name, tenant=tenant, spec=spec)
    try:
        spec = normalize(module.params["spec"], minors, networks)
    except SpecError as exc:
        module.fail_json(msg="tenant %s: %s" % (module.params["spec"].get("name", "?"), exc), field=str(exc).split(":", maxsplit=1)[0])
    module.exit_json(changed=False, name=spec["name"], spec=spec)


if __name__ == "__main__":
    main()
