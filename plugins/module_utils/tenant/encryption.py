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

Key rotation (``tenant.encryption_key_generation``: the number N of the key ``key-N`` that seals)
goes in stages, each rolled out to every replica before the next: the new key is added after the
others (every replica can read it before any writes with it), then it moves first (it seals), then
what the old keys sealed is written again, then they are dropped. The stored configuration says how
far a rotation went, so a stopped run resumes where it stopped.
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


def key_number(name: str) -> int:
    match = KEY_NAME_RE.match(name)
    if not match:
        raise EncryptionError("%s: %r is not a key name (key-<number>)" % (CONFIG_ITEM, name))
    return int(match.group(1))


def check_generation(value: object, field: str) -> int | None:
    """The spec's key generation: none (keep the key that seals) or a positive whole number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("%s: %r must be a positive whole number (N names the key key-N that seals; raise it "
                         "by one to rotate the tenant's key)" % (field, value))
    return value


def reconcile(existing: str | None, resources: Iterable[str], generation: int | None = None,
              field: str = "encryption_key_generation") -> tuple[str, str | None]:
    """(configuration to apply now, why it changed or None): the stored one kept, a first key made
    when there is none; with a ``generation`` above every key held, its key is added after the
    others (the first stage of a rotation: ``rotation_stages`` names the rest). A generation below
    the key that seals, or below a key held, is refused (ValueError naming ``field``): keys only
    move forward, and a dropped key never comes back."""
    resources = list(resources)
    if not existing:
        return render(resources, [new_key(generation or 1)]), "missing"
    keys = keys_of(existing)
    why = None
    if generation is not None:
        numbers = [key_number(k["name"]) for k in keys]
        sealing = numbers[0]
        if generation < sealing:
            raise ValueError("%s: %d is below the key that seals now (key-%d); keys only move forward: set %d "
                             "(keep it) or %d (rotate)" % (field, generation, sealing, sealing, max(numbers) + 1))
        if generation not in numbers:
            if generation < max(numbers):
                raise ValueError("%s: %d is below key-%d, already held; a new key takes the next number: set %d"
                                 % (field, generation, max(numbers), max(numbers) + 1))
            keys = [*keys, new_key(generation)]
            why = "key-%d added (rotation: it is read first, then it seals)" % generation
    text = render(resources, keys)
    if why is None and text != existing:
        why = "encrypted resources changed"
    return text, why


def rotation_stages(text: str, resources: Iterable[str], generation: int | None) -> list[tuple[str, str]]:
    """What a rotation to key-``generation`` still has to apply after ``text`` (``reconcile``'s),
    in order: ("promote", the configuration where it seals) while it is not first, then ("drop",
    the configuration holding it alone) once what the others sealed is written again. None when
    there is no rotation (no generation, or its key alone)."""
    if generation is None:
        return []
    resources = list(resources)
    keys = keys_of(text)
    target = next((k for k in keys if k["name"] == "key-%d" % generation), None)
    if target is None or keys == [target]:
        return []
    stages = []
    if keys[0] is not target:
        stages.append(("promote", render(resources, [target, *(k for k in keys if k is not target)])))
    stages.append(("drop", render(resources, [target])))
    return stages


def primary_key(text: str) -> str:
    """The name of the key that seals new writes."""
    return keys_of(text)[0]["name"]


def sealed_with(value: bytes, key_name: str) -> bool:
    """A value read raw from etcd is sealed by this configuration's key ``key_name``."""
    return value.startswith((STORED_PREFIX + key_name + ":").encode("ascii"))


def sealing_keys(values: Iterable[bytes]) -> dict[str, int]:
    """How many values (read raw from etcd) each key of this provider seals: {key name: count}."""
    out: dict[str, int] = {}
    prefix = STORED_PREFIX.encode("ascii")
    for value in values:
        if value.startswith(prefix):
            name = value[len(prefix):].split(b":", 1)[0].decode("ascii", "replace")
            out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


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
