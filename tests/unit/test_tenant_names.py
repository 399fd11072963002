"""The tenant name rule: names operators read as Kubernetes' own (or etcd's administrator) are
refused like any other bad name, naming the field, the reason and the fix."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.common.net import InvalidValue
from ansible_collections.kamaji.core.plugins.module_utils.tenant import names

FIX = "choose another tenant name (the inventory host name, or the tenant_name host variable)"


@pytest.mark.parametrize("name, why", [
    ("root", "etcd's administrator"),
    ("default", "Kubernetes' default namespace"),
    ("kube-system", "a Kubernetes system namespace"),
    ("kube-public", "a Kubernetes system namespace"),
    ("kube-node-lease", "a Kubernetes system namespace"),
    ("kube-anything", "Kubernetes keeps names starting with 'kube-' for its own namespaces"),
])
def test_reserved_names_are_refused_naming_field_reason_and_fix(name, why):
    with pytest.raises(InvalidValue) as err:
        names.validate_name(name, "tenant_name")
    assert str(err.value) == "tenant_name: %r is reserved (%s); %s" % (name, why, FIX)


@pytest.mark.parametrize("name", ["acme", "kube", "kubeflow", "kubex-1", "my-kube-system", "defaults", "system"])
def test_names_near_the_reserved_ones_are_fine(name):
    assert names.validate_name(name) == name
    assert names.reserved(name) == ""


def test_the_error_class_is_the_callers():
    class SpecError(ValueError):
        pass

    with pytest.raises(SpecError, match="^name: 'kube-system' is reserved"):
        names.validate_name("kube-system", error=SpecError)


def test_every_reserved_name_is_otherwise_a_valid_label():
    # refused for what it means, not for its shape: the shape rule alone would let it through
    for name in names.RESERVED:
        assert len(name) <= names.NAME_MAX and name == name.lower()
        with pytest.raises(InvalidValue, match="is reserved"):
            names.validate_name(name)
