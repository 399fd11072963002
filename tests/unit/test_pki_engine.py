"""The one validity policy and the one keep-or-reissue engine (module_utils.pki.policy, pki.engine),
and that both certificate sets use them."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.pki import engine, etcd_set, policy, tenant_set
from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

NOW = pki.utcnow()


def tenant(etcd_ca, **over):
    return tenant_set.reconcile(dict({"name": "acme", "endpoint": {"address": "192.0.2.10"}}, **over), {}, etcd_ca)


def etcd(_etcd_ca, **over):
    return etcd_set.reconcile(dict({"members": [{"name": "etcd-0", "addresses": ["192.0.2.1"]}]}, **over), {})


def test_defaults():
    p = policy.validity({})
    assert (p.key_algorithm, p.ca_days, p.leaf_days, p.renew_days) == ("ecdsa-p256", 3650, 365, 30)
    assert p.renew_before == datetime.timedelta(days=30)
    assert policy.validity({"renewal_window_days": 0, "leaf_validity_days": 1}).renew_days == 0


@pytest.mark.parametrize("over, message", [
    ({"key_algorithm": "dsa"}, "key_algorithm: must be one of ecdsa-p256, rsa-2048, rsa-3072, rsa-4096"),
    ({"ca_validity_days": 0}, "ca_validity_days / leaf_validity_days: must be at least 1"),
    ({"leaf_validity_days": -1}, "ca_validity_days / leaf_validity_days: must be at least 1"),
    ({"renewal_window_days": 365}, "renewal_window_days: must be between 0 and leaf_validity_days - 1 (364)"),
    ({"renewal_window_days": -1}, "renewal_window_days: must be between 0 and leaf_validity_days - 1 (364)"),
    ({"leaf_validity_days": 10, "renewal_window_days": 10},
     "renewal_window_days: must be between 0 and leaf_validity_days - 1 (9)"),
    ({"leaf_validity_days": "ten"}, "leaf_validity_days: 'ten' is not a number of days"),
])
@pytest.mark.parametrize("reconcile", [tenant, etcd], ids=["tenant_set", "etcd_set"])
def test_both_sets_apply_the_one_validity_check(etcd_ca, reconcile, over, message):
    with pytest.raises(pki.PKIError) as err:
        policy.validity(over)
    assert str(err.value).startswith(message)
    with pytest.raises(pki.PKIError) as err:
        reconcile(etcd_ca, **over)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("cert_pem, key_pem, problem", [
    (None, "", None),
    ("x", None, "key missing"),
    ("", "x", "certificate missing"),
    ("x", "x", "certificate cannot be parsed"),
    (3, "x", "not PEM text"),
])
def test_read_pair(cert_pem, key_pem, problem):
    if problem is None:
        assert engine.read_pair(cert_pem, key_pem) is None
    else:
        with pytest.raises(engine.Unreadable, match="^" + problem):
            engine.read_pair(cert_pem, key_pem)


def _ca(days=3650, now=None):
    key = pki.generate_key("ecdsa-p256")
    return engine.new_pair(pki.issue_ca("test-ca", key, days, now), key)


def test_choose_ca_first_usable_copy_wins_and_a_new_ca_only_when_nobody_holds_one():
    good, other = _ca(), _ca()
    copies = {"a": ("garbage", good.key_pem), "b": (good.cert_pem, good.key_pem), "c": (other.cert_pem, other.key_pem)}
    choice = engine.choose_ca(copies, "test-ca", policy.Policy(), NOW, label="x", fix="fix it")
    assert choice.source == "b" and choice.pair.cert_pem == good.cert_pem and choice.reason is None
    choice = engine.choose_ca({"a": (None, None), "b": ("", "")}, "test-ca", policy.Policy(), NOW, label="x",
                              fix="fix it", missing_reason="nobody has one")
    assert choice.source is None and choice.reason == "nobody has one"
    assert pki.name_parts(choice.pair.cert.subject)[0] == "test-ca"


def test_choose_ca_fails_when_copies_exist_and_none_is_usable():
    good, expired = _ca(), _ca(days=1, now=NOW - datetime.timedelta(days=2))
    copies = {"a": ("garbage", good.key_pem), "b": (good.cert_pem, expired.key_pem),
              "c": (expired.cert_pem, expired.key_pem), "d": (None, None)}
    with pytest.raises(pki.PKIError) as err:
        engine.choose_ca(copies, "test-ca", policy.Policy(), NOW, label="x", fix="fix it")
    assert str(err.value) == (
        "x: no usable copy of the CA (a: unreadable (certificate cannot be parsed); b: the CA key does not match "
        "the CA certificate; c: the CA certificate expired on %s); fix it" % pki.iso(expired.cert.not_valid_after_utc))
    rotated = engine.choose_ca(copies, "test-ca", policy.Policy(), NOW, label="x", fix="fix it", rotate=True)
    assert rotated.reason == "rotated on request" and rotated.before is not None


def test_engine_leaf_keeps_reissues_and_records():
    ca = _ca()
    eng = engine.Engine(policy.Policy(), NOW)
    spec = pki.LeafSpec("someone")
    first = eng.leaf("x", (None, None), spec, ca)
    assert eng.changed == {"x": "missing"} and eng.before == {"x": None}
    assert eng.after["x"]["subject"] == "CN=someone"
    eng = engine.Engine(policy.Policy(), NOW)
    kept = eng.leaf("x", (first.cert_pem, first.key_pem), spec, ca)
    assert (kept.cert_pem, kept.key_pem) == (first.cert_pem, first.key_pem) and eng.changed == {}
    renamed = eng.leaf("x", (first.cert_pem, first.key_pem), pki.LeafSpec("someone-else"), ca)
    assert eng.changed == {"x": "subject changed"}
    assert renamed.key_pem == first.key_pem  # the matching key of the same algorithm is kept, byte for byte
    rsa = engine.Engine(policy.Policy(key_algorithm="rsa-2048"), NOW)
    moved = rsa.leaf("x", (first.cert_pem, first.key_pem), spec, ca)
    assert rsa.changed == {"x": "key algorithm changed"} and pki.key_algorithm_of(moved.key) == "rsa-2048"
