#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fleet_status
short_description: One row per tenant, what the inventory wants beside what runs
version_added: 0.1.0
description:
  - Builds the fleet's status from what the C(kamaji.core.status) playbook read, per tenant its
    Kubernetes version (wanted and running), control-plane replicas ready, endpoint, days until
    its first certificate expires, its etcd keys and bytes, and its workers Ready/total, with a
    state naming what is wrong (C(ok) otherwise).
  - A tenant found in the admin cluster that the inventory does not name is listed as orphaned.
  - Returns the rows (for C(set_stats) and tools) and the same as an aligned text table (for a job log).
    Reads nothing itself and changes nothing.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.DIFF_NONE
options:
  tenants:
    description:
      - The inventory's tenants, each with C(name), C(version), C(endpoint) (C(address:port)) and C(nodes) (its
        Nodes as its own API listed them), or C(error) (why they could not be read).
      - C(state) C(absent) marks a tenant the inventory deletes; its row says C(deleted) once nothing of it is left.
    type: list
    elements: dict
    required: true
  deployments:
    description: The tenants' control-plane Deployments as read from the admin cluster (label C(kamaji.core/tenant)).
    type: list
    elements: dict
    default: []
  certificates:
    description:
      - Per tenant name, the certificates of its PKI Secret (file name to base64 PEM, as the
        C(kamaji.core.tenant_certificates) filter picks them from the Secrets); they give the expiry.
    type: dict
    default: {}
  etcd_tenants:
    description: Per tenant name, C(keys) and C(bytes) under its prefix (the C(tenants) of M(kamaji.core.etcd_info)).
    type: dict
    default: {}
requirements:
  - cryptography
"""

EXAMPLES = r"""
- name: The fleet as a table
  kamaji.core.fleet_status:
    tenants:
      - {name: acme, version: v1.37.2, endpoint: "192.0.2.41:31443", nodes: "{{ acme_nodes.resources }}"}
    deployments: "{{ deployments.resources }}"
    certificates: "{{ secrets.resources | kamaji.core.tenant_certificates }}"
    etcd_tenants: "{{ etcd.tenants }}"
  register: fleet
  no_log: true

- name: Show it
  ansible.builtin.debug:
    msg: "{{ fleet.table }}"
"""

RETURN = r"""
rows:
  description:
    - One dict per tenant (name, version, running, replicas, endpoint, cert_days, etcd_keys, etcd_bytes, workers,
      state, serving).
    - C(serving) is true when a deployed tenant of the inventory has every replica ready and its API answered,
      false when not, null for a tenant not deployed, marked absent or orphaned.
  returned: always
  type: list
  elements: dict
table:
  description: The rows as aligned text lines, a header first.
  returned: always
  type: list
  elements: str
  sample:
    - "tenant  version  running  replicas  endpoint           certs (days)  etcd keys  etcd bytes  workers  state"
    - "acme    v1.37.2  v1.37.2  2/2       192.0.2.41:31443   364           412        1093421     1/1      ok"
problems:
  description: Tenant name to its state, for every tenant whose state is not C(ok).
  returned: always
  type: dict
not_serving:
  description:
    - Tenant name to its state, for every deployed tenant of the inventory that does not serve now
      (a control-plane replica not ready, or its API did not answer). An upgrade starts only when
      it is empty.
  returned: always
  type: dict
moving:
  description: Tenant name to C(running -> wanted), for every deployed tenant whose control plane runs
    another release than the inventory's.
  returned: always
  type: dict
  sample: {acme: v1.36.3 -> v1.37.2}
refused:
  description:
    - Tenant name to the reason and the fix, for every tenant of C(moving) whose move skips a minor or
      goes down. An upgrade starts only when it is empty.
  returned: always
  type: dict
  sample: {acme: "tenant.kubernetes_version: v1.38.0 skips a minor from the running v1.36.3; upgrade one minor at a time (first v1.37)"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.common import deps
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509
from ansible_collections.kamaji.core.plugins.module_utils.tenant import status


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            tenants=dict(type="list", elements="dict", required=True),
            deployments=dict(type="list", elements="dict", default=[]),
            certificates=dict(type="dict", default={}),
            etcd_tenants=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    deps.require(module, x509.CRYPTOGRAPHY)
    p = module.params
    rows = status.rows(p["tenants"], p["deployments"], p["certificates"], p["etcd_tenants"])
    module.exit_json(changed=False, rows=rows, table=status.table(rows),
                     problems={r["name"]: r["state"] for r in rows if r["state"] != "ok"}, **status.gates(rows))


if __name__ == "__main__":
    main()
