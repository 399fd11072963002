# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""A tenant's record in the admin cluster: the spec the tenants play applied, read back later.

The tenants play writes, beside the tenant's other objects, ConfigMap ``kamaji-tenant-spec``
in the tenant's namespace (labelled like them): the tenant's name and its validated spec with
every default filled, in the inventory's form (``tenant.spec.inventory_form``: the host's
``tenant`` dict, its Kubernetes version and ``state`` included), as JSON. A reader (the
``kamaji.core.tenants`` inventory plugin) needs no other object. The spec holds no secret:
keys and kubeconfigs live in the tenant's Secrets, never here.

``record_object`` encodes, ``spec_from_record`` decodes; nothing else spells the format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common import objects
from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.tenant import admin_objects, names
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec
from ansible_collections.kamaji.core.plugins.module_utils.tenant.spec import Spec
from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

NAME = "kamaji-tenant-spec"  # the ConfigMap, in the tenant's namespace
FORMAT = "1"  # data["format"]: a reader refuses a format it does not know
SPEC_KEY = "spec.json"


class RecordError(Exception):
    """A record that cannot be read back; the message names its namespace."""


def record_object(spec: Spec) -> Obj:
    """The ConfigMap recording the normalized ``spec`` of a tenant that stays."""
    data = {
        "format": FORMAT,
        "name": spec["name"],
        # sorted and indented: the same spec is the same text (a no-op run sends nothing),
        # and `kubectl get` shows it readably
        SPEC_KEY: json.dumps(tenant_spec.inventory_form(spec), sort_keys=True, indent=2),
    }
    return objects.config_map(NAME, spec["derived"]["namespace"], data, admin_objects.labels(spec))


def _where(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace") or "(no namespace)", meta.get("name") or NAME)


def spec_from_record(obj: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(tenant name, its ``tenant`` dict) from a record as read from the admin cluster;
    RecordError naming the record (namespace/name) and what is wrong.

    The record is checked as far as an inventory needs: its format, the tenant's name (and
    that the namespace is that tenant's), every key of the spec, its Kubernetes version and
    state. The tenants play validates the rest whenever it applies the spec."""
    where = _where(obj)
    data = obj.get("data") or {}
    if data.get("format") != FORMAT:
        raise RecordError("%s: record format %r is not one this collection reads (%s); re-run the tenants play "
                          "with this collection to write it again" % (where, data.get("format"), FORMAT))
    try:
        name = names.validate_name(data.get("name"), "name", RecordError)
    except RecordError as exc:
        raise RecordError("%s: %s" % (where, exc))
    namespace = (obj.get("metadata") or {}).get("namespace")
    if namespace is not None and namespace != names.namespace(name):
        raise RecordError("%s: records tenant %s, whose namespace is %s; a record is only read in its "
                          "tenant's namespace" % (where, name, names.namespace(name)))
    try:
        tenant = json.loads(data.get(SPEC_KEY) or "")
    except ValueError as exc:
        raise RecordError("%s: %s is not JSON (%s)" % (where, SPEC_KEY, exc))
    if not isinstance(tenant, dict):
        raise RecordError("%s: %s must hold a mapping of tenant fields" % (where, SPEC_KEY))
    return name, _checked(tenant, where)


def _checked(tenant: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        if "name" in tenant:
            raise tenant_spec.SpecError("%s: not a field of the spec (the record's name names the tenant)"
                                        % tenant_spec.field("name"))
        tenant_spec.check_all_keys(tenant)
        version = tenant.get("kubernetes_version")
        if skew.parse(version) is None:
            raise tenant_spec.SpecError("%s: %r is not a Kubernetes version"
                                        % (tenant_spec.field("kubernetes_version"), version))
        if tenant.get("state") not in tenant_spec.STATES:
            raise tenant_spec.SpecError("%s: %r must be one of %s" % (
                tenant_spec.field("state"), tenant.get("state"), ", ".join(tenant_spec.STATES)))
    except tenant_spec.SpecError as exc:
        raise RecordError("%s: %s: %s" % (where, SPEC_KEY, exc))
    return tenant
