"""Shared unit fixtures: an etcd CA, and one tenant built through the real pipeline functions."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki
from ansible_collections.kamaji.core.plugins.module_utils.tenant import admin_objects, plan
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

# Batch-wide settings of the renderers, as the role would pass them.
SETTINGS = {"etcd_endpoints": ["https://192.0.2.21:2379", "https://192.0.2.22:2379"],
            "image_repository": "registry.example"}
TWO_LINES = {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}


@pytest.fixture(scope="session")
def settings():
    """The renderers' batch-wide settings (tenant.spec.Settings) the tenants are built with."""
    return dict(SETTINGS)


@pytest.fixture(scope="session")
def etcd_ca():
    key = pki.generate_key("ecdsa-p256")
    return {"cert": pki.cert_to_pem(pki.issue_ca("etcd-ca", key, 3650)), "key": pki.key_to_pem(key)}


@pytest.fixture(scope="session")
def build_tenant(etcd_ca):
    """``build(existing=None, **spec fields)`` -> (spec, material, {(kind, name): admin object})."""

    def build(existing=None, **over):
        spec = tenant_spec.normalize(dict(TWO_LINES, **over))
        material = plan.reconcile_material(spec, existing or {}, etcd_ca)[0]
        objects = admin_objects.admin_objects(spec, material, etcd_ca["cert"], SETTINGS)
        return spec, material, {(o["kind"], o["metadata"]["name"]): o for o in objects}

    return build
