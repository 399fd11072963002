# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""A tenant's PKI material in the admin cluster's Secrets, and read back from them.

Three Secrets in the tenant namespace: ``kamaji-pki`` (certificates, CA keys, the
service-account key pair, the etcd CA certificate, the encryption configuration with the
tenant's keys (``tenant.encrypt_resources``); mounted by the control plane),
``kamaji-kubeconfigs`` (controller-manager, scheduler; mounted) and
``kamaji-admin-kubeconfig`` (admin, super-admin; never mounted). The items are the tenant
PKI set's own (``pki.tenant_set``); ``material_from_secrets`` gives its ``existing``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common.objects import Obj
from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set
from ansible_collections.kamaji.core.plugins.module_utils.tenant import encryption

# Material of the tenant PKI set: {item: {"cert", "key"} | {"key", "pub"} | kubeconfig text}.
Material = dict[str, Any]

SECRET_PKI = "kamaji-pki"
SECRET_KUBECONFIGS = "kamaji-kubeconfigs"
SECRET_ADMIN = "kamaji-admin-kubeconfig"
# kubeconfigs by Secret: the control plane mounts the first, people use the second
MOUNTED_KUBECONFIGS = ("controller-manager.conf", "scheduler.conf")
ADMIN_KUBECONFIGS = ("admin.conf", "super-admin.conf")
ETCD_CA_KEY = "etcd-ca.crt"


class SecretError(ValueError):
    """A Secret read from the admin cluster does not hold what kamaji.core wrote."""


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(value: str, secret: str, key: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, TypeError) as exc:
        raise SecretError("Secret %s: key %s is not base64-encoded UTF-8 text (%s)" % (secret, key, exc))


def secret_data(material: Material, etcd_ca_pem: str) -> dict[str, dict[str, str]]:
    """The three Secrets' data (plain text) from tenant PKI material."""
    pki: dict[str, str] = {}
    for item in tenant_set.CERT_ITEMS:
        pki[item + ".crt"] = material[item]["cert"]
        # CA keys sign node client certs (controller-manager) and are needed to re-issue
        pki[item + ".key"] = material[item]["key"]
    pki["sa.key"] = material["sa"]["key"]
    pki["sa.pub"] = material["sa"]["pub"]
    pki[ETCD_CA_KEY] = etcd_ca_pem
    if material.get(encryption.CONFIG_ITEM):
        pki[encryption.CONFIG_ITEM] = material[encryption.CONFIG_ITEM]
    kubeconfigs = {k: material[k] for k in MOUNTED_KUBECONFIGS}
    admin = {k: material[k] for k in ADMIN_KUBECONFIGS}
    return {SECRET_PKI: pki, SECRET_KUBECONFIGS: kubeconfigs, SECRET_ADMIN: admin}


def secret_objects(data: Mapping[str, Mapping[str, str]], namespace: str, labels: Mapping[str, str]) -> list[Obj]:
    """The Secrets holding ``data`` (``secret_data``), base64-encoded as the API wants."""
    return [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
             "data": {k: b64(v) for k, v in sorted(values.items())}}
            for name, values in data.items()]


def mounted_checksum(data: Mapping[str, Mapping[str, str]]) -> str:
    """sha256 of the Secrets the control plane mounts: renewed material changes it (and rolls the pods)."""
    mounted = {name: data[name] for name in (SECRET_PKI, SECRET_KUBECONFIGS)}
    return hashlib.sha256(json.dumps(mounted, sort_keys=True).encode("utf-8")).hexdigest()


def material_from_secrets(secrets: Mapping[str, Mapping[str, str] | None]) -> Material:
    """Tenant PKI ``existing`` material from Secrets as returned by the API ({name: data (base64)})."""
    pki = {k: _unb64(v, SECRET_PKI, k) for k, v in (secrets.get(SECRET_PKI) or {}).items()}
    out: Material = {}
    for item in tenant_set.CERT_ITEMS:
        if pki.get(item + ".crt") and pki.get(item + ".key"):
            out[item] = {"cert": pki[item + ".crt"], "key": pki[item + ".key"]}
    if pki.get("sa.key"):
        out["sa"] = {"key": pki["sa.key"], "pub": pki.get("sa.pub", "")}
    if pki.get(encryption.CONFIG_ITEM):
        out[encryption.CONFIG_ITEM] = pki[encryption.CONFIG_ITEM]
    for name in (SECRET_KUBECONFIGS, SECRET_ADMIN):
        for k, v in (secrets.get(name) or {}).items():
            out[k] = _unb64(v, name, k)
    return out


def secrets_by_namespace(secrets: list[Obj]) -> dict[str, dict[str, dict[str, str]]]:
    """Secrets read from the API as {namespace: {name: data}}."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for s in secrets:
        meta = s.get("metadata") or {}
        out.setdefault(str(meta.get("namespace") or ""), {})[str(meta.get("name") or "")] = s.get("data") or {}
    return out
