"""A tenant's PKI in the admin cluster's Secrets (module_utils.tenant.secrets)."""
from __future__ import annotations

import base64

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set
from ansible_collections.kamaji.core.plugins.module_utils.tenant import encryption, secrets

NAMES = ("kamaji-pki", "kamaji-kubeconfigs", "kamaji-admin-kubeconfig")


def test_material_read_back_from_secrets_is_kept(build_tenant, etcd_ca):
    _unused, material, objs = build_tenant()
    data = {name: objs[("Secret", name)]["data"] for name in NAMES}
    existing = secrets.material_from_secrets(data)
    again = build_tenant(existing=existing)[1]
    assert again == material
    assert base64.b64decode(data["kamaji-pki"]["etcd-ca.crt"]).decode() == etcd_ca["cert"]


def test_every_item_of_the_tenant_pki_set_is_stored(build_tenant):
    """The Secrets hold the PKI set's own items (no hand-copied list can miss one)."""
    _unused, material, objs = build_tenant()
    data = {name: objs[("Secret", name)]["data"] for name in NAMES}
    pki_keys = set(data["kamaji-pki"])
    for item in tenant_set.CERT_ITEMS:
        assert {item + ".crt", item + ".key"} <= pki_keys, item
    assert set(secrets.MOUNTED_KUBECONFIGS + secrets.ADMIN_KUBECONFIGS) == set(tenant_set.KUBECONFIG_ITEMS)
    assert set(secrets.material_from_secrets(data)) == {*tenant_set.ALL_ITEMS, encryption.CONFIG_ITEM}


def test_admin_kubeconfigs_are_not_in_the_mounted_secrets(build_tenant):
    _unused, _unused, objs = build_tenant()
    assert set(objs[("Secret", "kamaji-kubeconfigs")]["data"]) == {"controller-manager.conf", "scheduler.conf"}
    assert set(objs[("Secret", "kamaji-admin-kubeconfig")]["data"]) == {"admin.conf", "super-admin.conf"}
    volumes = objs[("Deployment", "kube-control-plane")]["spec"]["template"]["spec"]["volumes"]
    assert "kamaji-admin-kubeconfig" not in str(volumes)


def test_undecodable_secret_data_names_the_secret_and_key():
    with pytest.raises(secrets.SecretError, match=r"^Secret kamaji-pki: key ca.crt is not base64"):
        secrets.material_from_secrets({"kamaji-pki": {"ca.crt": "not base64!"}})
