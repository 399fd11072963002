"""A tenant's encryption at rest (module_utils.tenant.encryption): its own key, kept across runs,
mounted beside its certificates and named by its API server's flag."""
from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.tenant import encryption, plan
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec
from ansible_collections.kamaji.core.plugins.module_utils.tenant.admin_objects import PKI_DIR


def test_a_first_key_is_made_then_kept_byte_for_byte():
    text, why = encryption.reconcile(None, ["secrets"])
    assert why == "missing"
    config = json.loads(text)
    assert config["kind"] == "EncryptionConfiguration" and config["apiVersion"] == "apiserver.config.k8s.io/v1"
    (entry,) = config["resources"]
    assert entry["resources"] == ["secrets"]
    sealing, identity = entry["providers"]
    assert identity == {"identity": {}}
    (key,) = sealing["secretbox"]["keys"]
    assert key["name"] == "key-1" and len(base64.b64decode(key["secret"])) == 32
    assert encryption.reconcile(text, ["secrets"]) == (text, None)
    # another tenant (or another first run) gets another key
    assert encryption.keys_of(encryption.reconcile(None, ["secrets"])[0]) != encryption.keys_of(text)


def test_more_resources_keep_the_key():
    text = encryption.reconcile(None, ["secrets"])[0]
    more, why = encryption.reconcile(text, ["secrets", "configmaps"])
    assert why == "encrypted resources changed"
    assert encryption.keys_of(more) == encryption.keys_of(text)
    assert json.loads(more)["resources"][0]["resources"] == ["configmaps", "secrets"]


@pytest.mark.parametrize("stored", [
    "not json",
    json.dumps({"resources": []}),
    json.dumps({"resources": [{"providers": [{"secretbox": {"keys": []}}]}]}),
    json.dumps({"resources": [{"providers": [{"secretbox": {"keys": [{"name": "key-1", "secret": "c2hvcnQ="}]}}]}]}),
])
def test_an_unreadable_stored_configuration_fails_and_is_never_replaced(stored):
    """A new key in place of a lost one would leave every sealed value unreadable: refuse, name the fix."""
    with pytest.raises(encryption.EncryptionError, match=r"^encryption-config.yaml: .*restore the tenant's kamaji-pki"):
        encryption.reconcile(stored, ["secrets"])


@pytest.mark.parametrize(("value", "message"), [
    ([], "tenant.encrypt_resources: [] must be a list of resources"),
    (["configmaps"], "tenant.encrypt_resources: secrets must be among them"),
    (["secrets", "secrets"], "tenant.encrypt_resources: secrets is listed twice"),
    (["secrets", "Config Maps"], "tenant.encrypt_resources: 'Config Maps' is not a resource name"),
    ("secrets", "tenant.encrypt_resources: 'secrets' must be a list of resources"),
])
def test_the_spec_names_a_bad_resource_list(value, message):
    with pytest.raises(tenant_spec.SpecError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        tenant_spec.normalize({"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443},
                               "encrypt_resources": value})


def test_the_api_server_reads_the_configuration_from_its_pki_secret(build_tenant):
    spec, material, objs = build_tenant(encrypt_resources=["secrets", "configmaps"])
    assert spec["encrypt_resources"] == ["secrets", "configmaps"]
    stored = base64.b64decode(objs[("Secret", "kamaji-pki")]["data"][encryption.CONFIG_ITEM]).decode()
    assert stored == material[encryption.CONFIG_ITEM]
    assert json.loads(stored)["resources"][0]["resources"] == ["configmaps", "secrets"]
    pod = objs[("Deployment", "kube-control-plane")]["spec"]["template"]["spec"]
    api = next(c for c in pod["containers"] if c["name"] == "kube-apiserver")
    assert f"--encryption-provider-config={PKI_DIR}/{encryption.CONFIG_ITEM}" in api["args"]
    mounted = next(v for v in pod["volumes"] if v["name"] == "apiserver-pki")["secret"]["items"]
    assert {"key": encryption.CONFIG_ITEM, "path": encryption.CONFIG_ITEM} in mounted
    # only the API server reads the keys
    others = [v for v in pod["volumes"] if v["name"] != "apiserver-pki" and "secret" in v]
    assert all(encryption.CONFIG_ITEM not in str(v) for v in others)


def test_the_flag_is_the_collections_own():
    with pytest.raises(tenant_spec.SpecError, match="^tenant.extra_args.apiserver.encryption-provider-config: set by"):
        tenant_spec.normalize({"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443},
                               "extra_args": {"apiserver": {"encryption-provider-config": "/x"}}})


def test_replanning_keeps_the_key(build_tenant, etcd_ca):
    spec, material, _objs = build_tenant()
    again, changed = plan.reconcile_material(spec, material, etcd_ca)
    assert again[encryption.CONFIG_ITEM] == material[encryption.CONFIG_ITEM]
    assert changed == {}


def test_sealed_values_are_told_by_their_prefix_and_key():
    assert encryption.sealed_with(b"k8s:enc:secretbox:v1:key-1:\x00\x01", "key-1")
    assert not encryption.sealed_with(b"k8s:enc:secretbox:v1:key-2:\x00", "key-1")
    assert not encryption.sealed_with(b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret", "key-1")
    assert encryption.primary_key(encryption.reconcile(None, ["secrets"])[0]) == "key-1"


def test_what_a_key_does_not_seal_is_listed_by_kind_namespace_and_name():
    kvs = [(b"/acme/secrets/default/new", b"k8s:enc:secretbox:v1:key-1:..."),
           (b"/acme/secrets/default/old", b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret"),
           (b"/acme/secrets/kube-system/rotated", b"k8s:enc:secretbox:v1:key-0:...")]
    assert encryption.unsealed(kvs, b"/acme/", "key-1") == [
        {"kind": "Secret", "namespace": "default", "name": "old"},
        {"kind": "Secret", "namespace": "kube-system", "name": "rotated"}]
    assert encryption.etcd_paths(["secrets", "configmaps", "widgets.example.com"]) == {
        "secrets": "secrets/", "configmaps": "configmaps/"}


def _names(text):
    return [k["name"] for k in encryption.keys_of(text)]


def test_a_rotation_adds_the_new_key_last_then_promotes_it_then_drops_the_others():
    """Each stage is what every replica runs before the next: the new key read first (added last),
    then sealing (first), then alone; the stored text says how far a rotation went."""
    one = encryption.reconcile(None, ["secrets"])[0]
    assert encryption.rotation_stages(one, ["secrets"], None) == []
    assert encryption.rotation_stages(one, ["secrets"], 1) == []
    added, why = encryption.reconcile(one, ["secrets"], 2)
    assert why.startswith("key-2 added") and _names(added) == ["key-1", "key-2"]
    assert encryption.keys_of(added)[0] == encryption.keys_of(one)[0]
    (promote, promoted), (drop, dropped) = encryption.rotation_stages(added, ["secrets"], 2)
    assert (promote, _names(promoted)) == ("promote", ["key-2", "key-1"])
    assert (drop, _names(dropped)) == ("drop", ["key-2"])
    assert encryption.keys_of(dropped)[0] == encryption.keys_of(added)[1]
    # resumed from each stored stage: the same key, nothing made anew
    assert encryption.reconcile(added, ["secrets"], 2) == (added, None)
    assert encryption.reconcile(promoted, ["secrets"], 2) == (promoted, None)
    assert [s for s, _t in encryption.rotation_stages(promoted, ["secrets"], 2)] == ["drop"]
    assert encryption.reconcile(dropped, ["secrets"], 2) == (dropped, None)
    assert encryption.rotation_stages(dropped, ["secrets"], 2) == []
    # left out of the spec afterwards: the key that seals is kept
    assert encryption.reconcile(dropped, ["secrets"]) == (dropped, None)
    # a new tenant starts at the generation named
    assert _names(encryption.reconcile(None, ["secrets"], 3)[0]) == ["key-3"]


@pytest.mark.parametrize(("stored", "generation", "message"), [
    (["key-2"], 1, "tenant.encryption_key_generation: 1 is below the key that seals now (key-2); keys only move "
                   "forward: set 2 (keep it) or 3 (rotate)"),
    (["key-1", "key-3"], 2, "tenant.encryption_key_generation: 2 is below key-3, already held; a new key takes "
                            "the next number: set 4"),
])
def test_a_generation_below_the_keys_held_is_refused(stored, generation, message):
    text = encryption.render(["secrets"], [dict(encryption.new_key(1), name=n) for n in stored])
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        encryption.reconcile(text, ["secrets"], generation, "tenant.encryption_key_generation")


def test_values_are_counted_by_the_key_that_seals_them():
    assert encryption.sealing_keys([b"k8s:enc:secretbox:v1:key-2:\x00", b"k8s:enc:secretbox:v1:key-1:..",
                                    b"k8s:enc:secretbox:v1:key-2:..", b"k8s\x00\n\x0c plain", b"{}"]) == {
        "key-1": 1, "key-2": 2}


def test_the_plan_carries_each_stage_as_the_pki_secret_and_the_deployment(build_tenant, etcd_ca, settings):
    spec, material, objs = build_tenant()
    rotating = tenant_spec.normalize({"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443},
                                      "encryption_key_generation": 2})
    again, changed = plan.reconcile_material(rotating, material, etcd_ca)
    assert changed[encryption.CONFIG_ITEM].startswith("key-2 added")
    stages = plan.rotation(rotating, again, etcd_ca["cert"], settings)
    assert [(s["stage"], s["keys"]) for s in stages] == [("promote", ["key-2", "key-1"]), ("drop", ["key-2"])]
    checksums = set()
    for stage in stages:
        assert [(o["kind"], o["metadata"]["name"]) for o in stage["objects"]] == [
            ("Secret", "kamaji-pki"), ("Deployment", "kube-control-plane")]
        secret, deployment = stage["objects"]
        stored = base64.b64decode(secret["data"][encryption.CONFIG_ITEM]).decode()
        assert _names(stored) == stage["keys"]
        checksums.add(deployment["spec"]["template"]["metadata"]["annotations"]["kamaji.core/pki-checksum"])
    # each stage rolls the replicas (its own checksum)
    assert len(checksums) == 2
    assert plan.rotation(spec, material, etcd_ca["cert"], settings) == []
