# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Encryption at rest of one tenant: its kube-apiserver's EncryptionConfiguration.

Each tenant has keys of its own, kept in its ``kamaji-pki`` Secret in the admin cluster as the
file the API server reads (``CONFIG_ITEM``, mounted beside its certificates). The resources the
spec lists (``tenant.encrypt_resources``, ``secrets`` always among them) are written to etcd
sealed with the first key (``secretbox``: XSalsa20-Poly1305, a 32-byte key); the others and
``identity`` only read, so data written before encryption (or under an older key) still reads
back. A key is made once and kept: the configuration is rebuilt from the keys it holds, so the
same spec gives the same text and a no-op run sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable
from typing import Any

CONFIG_ITEM = "encryption-config.yaml"
PROVIDER = "secretbox"
KEY_BYTES = 32
DEFAULT_RESOURCES = ("secrets",)
# what etcd holds for a value sealed by this configuration: the provider's prefix, then the key's name
STORED_PREFIX = "k8s:enc:%s:v1:" % PROVIDER
# a resource as the API server's EncryptionConfiguration names it: plural, or plural.group
RESOURCE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
KEY_NAME_RE = re.compile(r"^key-([0-9]+)$")
FIX = ("restore the tenant's kamaji-pki Secret from a backup: without its keys, what it encrypted in etcd "
       "cannot be read back")


class EncryptionError(ValueError):
    """A stored configuration that does not hold what kamaji.core wrote."""


def check_resources(value: object, field: str) -> list[str]:
    """The resources to encrypt, as the spec lists them: names, ``secrets`` among them, no repeats."""
    if not isinstance(value, list) or not value:
        raise ValueError("%s: %r must be a list of resources (plural names such as secrets, or "
                         "plural.group), secrets among them" % (field, value))
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not RESOURCE_RE.match(item):
            raise ValueError("%s: %r is not a resource name (plural, or plural.group)" % (field, item))
        if item in out:
            raise ValueError("%s: %s is listed twice" % (field, item))
        out.append(item)
    if "secrets" not in out:
        raise ValueError("%s: secrets must be among them (a tenant's Secrets are always encrypted)" % field)
    return out


def new_key(number: int) -> dict[str, str]:
    return {"name": "key-%d" % number, "secret": base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")}


def keys_of(text: str) -> list[dict[str, str]]:
    """The keys of a configuration this module rendered, first (the one that seals) first."""
    try:
        config = json.loads(text)
        keys = config["resources"][0]["providers"][0][PROVIDER]["keys"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise EncryptionError("%s: not the configuration kamaji.core writes (%s); %s" % (CONFIG_ITEM, exc, FIX))
    if not isinstance(keys, list) or not keys:
        raise EncryptionError("%s: holds no key; %s" % (CONFIG_ITEM, FIX))
    out = []
    for key in keys:
        name = str(key.get("name") or "") if isinstance(key, dict) else ""
        secret = str(key.get("secret") or "") if isinstance(key, dict) else ""
        try:
            size = len(base64.b64decode(secret, validate=True))
        except (binascii.Error, ValueError):
            size = 0
        if not KEY_NAME_RE.match(name) or size != KEY_BYTES:
            raise EncryptionError("%s: key %r is not a %d-byte %s key; %s" % (CONFIG_ITEM, name, KEY_BYTES, PROVIDER, FIX))
        out.append({"name": name, "secret": secret})
    return out


def render(resources: Iterable[str], keys: list[dict[str, str]]) -> str:
    """The EncryptionConfiguration (JSON, which the API server reads as YAML too)."""
    config: dict[str, Any] = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{
            "resources": sorted(resources),
            # the first provider seals; identity reads what was written before encryption
            "providers": [{PROVIDER: {"keys": keys}}, {"identity": {}}],
        }],
    }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def reconcile(existing: str | None, resources: Iterable[str]) -> tuple[str, str | None]:
    """(configuration, why it changed or None): the stored one kept, a first key made when there is none."""
    resources = list(resources)
    if not existing:
        return render(resources, [new_key(1)]), "missing"
    text = render(resources, keys_of(existing))
    return text, (None if text == existing else "encrypted resources changed")


def primary_key(text: str) -> str:
    """The name of the key that seals new writes."""
    return keys_of(text)[0]["name"]


def sealed_with(value: bytes, key_name: str) -> bool:
    """A value read raw from etcd is sealed by this configuration's key ``key_name``."""
    return value.startswith((STORED_PREFIX + key_name + ":").encode("ascii"))


# the encrypted resources whose objects a run seals again: those of the core group, whose etcd
# keys are <resource>/<namespace>/<name> below the tenant's prefix (kind: what a write names)
CORE_KINDS = {"secrets": "Secret", "configmaps": "ConfigMap"}


def etcd_paths(resources: Iterable[str]) -> dict[str, str]:
    """The key path below a tenant's prefix of each resource whose objects a run seals again
    (``CORE_KINDS``); the others are sealed when next written."""
    return {resource: resource + "/" for resource in resources if resource in CORE_KINDS}


def unsealed(kvs: Iterable[tuple[bytes, bytes]], prefix: bytes, key_name: str) -> list[dict[str, str]]:
    """The objects whose value (read raw from etcd, keys below ``prefix``) ``key_name`` does not
    seal: kind, namespace and name, for writing them again through the tenant's API."""
    out = []
    for key, value in kvs:
        if sealed_with(value, key_name):
            continue
        resource, namespace, name = key[len(prefix):].decode("utf-8", "replace").split("/", 2)
        out.append({"kind": CORE_KINDS[resource], "namespace": namespace, "name": name})
    return sorted(out, key=lambda o: (o["kind"], o["namespace"], o["name"]))
