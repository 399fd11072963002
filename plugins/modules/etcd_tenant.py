#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_tenant
short_description: One tenant's etcd user and role, confined to the tenant's key prefix
version_added: 0.1.0
description:
  - Makes the etcd role C(<role>) whose only permission is O(permission) (readwrite by
    default) on the key range of the tenant prefix (C(/<name>/) by default, trailing slash
    included, so that C(/acme/) never covers C(/acme2/)), and the user C(<user>) with exactly that role and no
    password. The tenant's kube-apiserver authenticates with a client certificate whose
    common name is the user, and uses C(--etcd-prefix=/<name>).
  - With O(state=absent) the user and role are removed; with O(purge=true) every key under
    the prefix is deleted first, and nothing outside it.
  - Needs the root client certificate.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_full
  - kamaji.core.etcd
options:
  name:
    description:
      - Tenant name (DNS-1123 label). C(root) is reserved.
      - Exactly one of O(name) and O(tenants) is required.
    type: str
  tenants:
    description:
      - Many tenants in one call over one connection (bulk form), for example once per
        play with C(run_once) for every host of the C(tenants) group. Each item takes
        the per-tenant options O(name) (required), O(state), O(prefix), O(user),
        O(role), O(purge), O(permission), O(quota_bytes) and O(sealed_with); missing ones default to the module-level
        values (O(quota_bytes) and O(sealed_with) have none, so a tenant without them has no quota
        and is not read).
      - Every tenant is attempted; the call fails if any tenant failed, and RV(tenant_results)
        holds the outcome of each, so every host can check its own.
    type: list
    elements: dict
  state:
    description: Whether the tenant's user and role exist.
    type: str
    choices: [present, absent]
    default: present
  prefix:
    description:
      - Key prefix of the tenant; must start and end with C(/). Default C(/<name>/).
    type: str
  user:
    description: etcd user name; default O(name).
    type: str
  role:
    description: etcd role name; default O(name).
    type: str
  purge:
    description: With O(state=absent), delete every key under the prefix.
    type: bool
    default: false
  permission:
    description:
      - What the tenant's role may do on its prefix. C(read) write-freezes the tenant at the
        datastore (its API server still reads; etcd refuses every write); C(readwrite) lifts it.
    type: str
    choices: [readwrite, read]
    default: readwrite
  quota_bytes:
    description:
      - A storage quota for the tenant's prefix, in bytes of keys and values. The prefix is
        measured first; over the quota the tenant is write-frozen (its role gets C(read), whatever
        O(permission) says) and RV(over_quota) is true. Under it again, O(permission) applies.
    type: int
  sealed_with:
    description:
      - Read the values of the tenant's objects of O(sealed_with.resources) (C(secrets) and
        C(configmaps); their keys are C(<prefix><resource>/<namespace>/<name>); other resources
        are not read) and report in RV(unsealed) those the encryption key named
        O(sealed_with.key) does not seal (written before encryption, or under an older key).
        Reads only; the key itself is not needed.
    type: dict
    suboptions:
      key:
        description: The name of the tenant's sealing key (its EncryptionConfiguration's first key).
        type: str
        required: true
      resources:
        description: The encrypted resources.
        type: list
        elements: str
        required: true
      count_keys:
        description:
          - Also read every value under the prefix and return in RV(sealing_keys) how many each
            key seals (a key rotation drops the old keys once they seal nothing).
        type: bool
        default: false
  measure:
    description:
      - Count keys and bytes under the prefix (a paged scan). Turn off to make large
        fleets' no-op runs cheaper.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Tenant acme in the shared etcd
  kamaji.core.etcd_tenant:
    name: acme
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key

- name: Every tenant of the play in one call; each host then checks its own result
  kamaji.core.etcd_tenant:
    tenants: "{{ ansible_play_hosts | map('extract', hostvars) | map(attribute='tenant_etcd') | list }}"
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key
  run_once: true
  register: etcd_tenants

- name: Credentials read from a member, passed inline (no key file on the controller)
  ansible.builtin.slurp:
    src: /etc/kamaji/etcd/pki/{{ item }}
  loop: [ca.crt, root.crt, root.key]
  register: root_pem
  delegate_to: etcd-0
  run_once: true
  no_log: true

- name: Tenants acme and globex, the connection set once for the etcd modules
  module_defaults:
    group/kamaji.core.etcd:
      endpoints: "{{ etcd_endpoints }}"
      ca_cert: "{{ root_pem.results[0].content | b64decode }}"
      client_cert: "{{ root_pem.results[1].content | b64decode }}"
      client_key: "{{ root_pem.results[2].content | b64decode }}"
  block:
    - name: Tenant acme
      kamaji.core.etcd_tenant:
        name: acme
    - name: Tenant globex
      kamaji.core.etcd_tenant:
        name: globex

- name: Delete tenant acme and all its data
  kamaji.core.etcd_tenant:
    name: acme
    state: absent
    purge: true
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key
"""

RETURN = r"""
tenant_results:
  description: Bulk form only, per tenant name, the single-tenant return values plus C(changed), or C(msg) when it failed.
  returned: with O(tenants)
  type: dict
prefix:
  description: The tenant's key prefix.
  returned: with O(name)
  type: str
  sample: /acme/
keys:
  description: Keys under the prefix (with O(purge=true), the keys deleted).
  returned: when measured or purged
  type: int
bytes:
  description: Bytes of keys and values under the prefix (with O(purge=true), deleted).
  returned: when measured or purged
  type: int
permission:
  description: What the tenant's role may do on its prefix after the call (C(readwrite) or C(read)).
  returned: with O(state=present)
  type: str
over_quota:
  description: The prefix holds more than O(quota_bytes) (the tenant is write-frozen).
  returned: with O(quota_bytes)
  type: bool
unsealed:
  description: The objects (C(kind), C(namespace), C(name)) whose value O(sealed_with.key) does not seal.
  returned: with O(sealed_with)
  type: list
  elements: dict
  sample: [{kind: Secret, namespace: default, name: db-password}]
sealing_keys:
  description: How many values under the prefix each encryption key seals, by key name.
  returned: with O(sealed_with.count_keys)
  type: dict
  sample: {key-1: 2, key-2: 40}
user:
  description: The etcd user name.
  returned: with O(name)
  type: str
role:
  description: The etcd role name.
  returned: with O(name)
  type: str
endpoint:
  description: The endpoint that served the call.
  returned: always
  type: str
unreachable_endpoints:
  description: Endpoints that did not answer, with the reason.
  returned: when some endpoint was down
  type: dict
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.names import TENANT_PERMISSIONS, check_permission, check_quota, tenant_names
from ansible_collections.kamaji.core.plugins.module_utils.etcd.ops import ensure_tenant
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError, with_diff

ITEM_KEYS = ("name", "state", "prefix", "user", "role", "purge", "measure", "permission", "quota_bytes",
             "sealed_with")
ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    name=dict(type="str"),
    tenants=dict(type="list", elements="dict"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    prefix=dict(type="str"),
    user=dict(type="str"),
    role=dict(type="str"),
    purge=dict(type="bool", default=False),
    measure=dict(type="bool", default=True),
    permission=dict(type="str", default="readwrite", choices=list(TENANT_PERMISSIONS)),
    quota_bytes=dict(type="int"),
    sealed_with=dict(type="dict", options=dict(key=dict(type="str", required=True, no_log=False),
                                               resources=dict(type="list", elements="str", required=True),
                                               count_keys=dict(type="bool", default=False))),
)


def _items(p: dict[str, Any]) -> list[dict[str, Any]]:
    if p["tenants"] is not None:
        return list(p["tenants"])
    return [{"name": p["name"], "prefix": p["prefix"], "user": p["user"], "role": p["role"],
             "quota_bytes": p["quota_bytes"], "sealed_with": p["sealed_with"]}]


def _sealed_with(value: Any) -> tuple[str, list[str], bool] | None:
    if not value:
        return None
    if not isinstance(value, dict) or not value.get("key") or not isinstance(value.get("resources"), list):
        raise EtcdError("sealed_with: %r must give key (a key name) and resources (a list)" % (value,))
    if not isinstance(value.get("count_keys", False), bool):
        raise EtcdError("sealed_with.count_keys: %r must be true or false" % (value["count_keys"],))
    return str(value["key"]), [str(r) for r in value["resources"]], bool(value.get("count_keys"))


def validate(module: Any) -> None:
    """Every item is checked before anything is contacted or changed."""
    bulk = module.params["tenants"] is not None
    for i, item in enumerate(_items(module.params)):
        field = "tenants[%d]" % i if bulk else None
        unknown = set(item) - set(ITEM_KEYS)
        if unknown:
            raise EtcdError("%s: unknown key(s) %s" % (field, ", ".join(sorted(unknown))))
        if item.get("state") not in (None, "present", "absent"):
            raise EtcdError("%s.state: must be present or absent" % field)
        if item.get("permission") is not None:
            check_permission(item["permission"], "%s.permission" % field if field else "permission")
        check_quota(item.get("quota_bytes"), "%s.quota_bytes" % field if field else "quota_bytes")
        try:
            _sealed_with(item.get("sealed_with"))
        except EtcdError as exc:
            raise EtcdError("%s%s" % ("%s." % field if field else "", exc))
        try:
            tenant_names(item.get("name"), item.get("prefix"), item.get("user"), item.get("role"))
        except EtcdError as exc:
            raise EtcdError("%s%s" % ("%s." % field if field else "", exc))


def _one(client: Any, item: dict[str, Any], defaults: dict[str, Any], check: bool, diff: bool) -> dict[str, Any]:
    p = dict(defaults, **{k: v for k, v in item.items() if v is not None})
    prefix, user, role = tenant_names(p["name"], p.get("prefix"), p.get("user"), p.get("role"))
    changed, before, after, stats = ensure_tenant(
        client, p["name"], p["state"], prefix, user, role, p["purge"], p["measure"], check, p["permission"],
        p.get("quota_bytes"), _sealed_with(p.get("sealed_with")))
    return with_diff(dict(changed=changed, user=user, role=role, **stats), diff, before, after)


def work(module: Any, client: Any) -> dict[str, Any]:
    p = module.params
    defaults = {k: p[k] for k in ("state", "purge", "measure", "permission")}
    items = _items(p)
    if p["tenants"] is None:
        return _one(client, items[0], defaults, module.check_mode, module._diff)
    results: dict[str, dict[str, Any]] = {}
    failed = []
    for item in items:
        try:
            results[item["name"]] = _one(client, item, defaults, module.check_mode, module._diff)
        except EtcdError as exc:
            results[item["name"]] = {"changed": False, "failed": True, "msg": str(exc)}
            failed.append(item["name"])
    out: dict[str, Any] = dict(changed=any(r["changed"] for r in results.values()), tenant_results=results)
    if failed:
        out.update(failed=True, msg="etcd_tenant failed for %s: %s" % (
            ", ".join(failed), "; ".join(results[n]["msg"] for n in failed)))
    return out


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work, validate, required_one_of=[("name", "tenants")],
                     mutually_exclusive=[("name", "tenants")])


if __name__ == "__main__":
    main()
