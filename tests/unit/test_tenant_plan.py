"""The tenant pipeline for a batch (module_utils.tenant.plan): spec -> PKI -> objects, and its policy."""
from __future__ import annotations

import pytest
from cryptography import x509
from harness.objects import as_read

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.pki import tenant_set
from ansible_collections.kamaji.core.plugins.module_utils.tenant import encryption, plan
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

NEWEST, OLDER = versions.KUBERNETES, versions.KUBERNETES_OLDER[0]
# a release two minors back: no longer supported, held by no bundle
OLDEST = "v1.%d.4" % (versions.minor(versions.KUBERNETES) - 2)


def _spec(**over):
    return tenant_spec.normalize(dict({"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}, **over))


def _etcd(name, permission="readwrite"):
    """What the plan asks of etcd for a tenant of the defaults (its first key seals its Secrets)."""
    return {"name": name, "prefix": f"/{name}/", "user": name, "permission": permission, "quota_bytes": None,
            "sealed_with": {"key": "key-1", "resources": ["secrets"]}}


def _inputs(etcd_ca, settings, tenants, **over):
    return plan.Inputs(tenants=tenants, etcd_ca=etcd_ca, settings=settings, **over)


@pytest.mark.parametrize(("running", "wanted", "error"), [
    (None, NEWEST, None),
    (OLDER, NEWEST, None),
    (NEWEST, NEWEST, None),
    (OLDER, OLDER.rsplit(".", 1)[0] + ".1", None),
    (NEWEST, OLDER, f"tenant.kubernetes_version: {OLDER} would downgrade the running {NEWEST}"),
    (OLDEST, NEWEST, f"tenant.kubernetes_version: {NEWEST} skips a minor from the running {OLDEST}; upgrade one minor"),
])
def test_upgrades_move_one_minor_at_a_time(running, wanted, error):
    got = plan.version_step_error(running, wanted)
    assert (got is None) if error is None else got.startswith(error), got


def test_deployed_version_is_read_from_the_apiserver_image(build_tenant):
    _unused, _unused, objs = build_tenant(kubernetes_version=OLDER)
    deploy = objs[("Deployment", "kube-control-plane")]
    assert plan.deployed_version([deploy], "tenant-acme") == OLDER
    assert plan.deployed_version([deploy], "tenant-other") is None


def test_pki_params_carry_the_spec_into_the_certificates(etcd_ca):
    spec = _spec(extra_sans=["*.acme.example", "198.51.100.7"], service_cidr="10.112.0.0/16",
                 cluster_domain="acme.local")
    params = plan.pki_params(spec, "rsa-2048", 20)
    assert params["key_algorithm"] == "rsa-2048" and params["renewal_window_days"] == 20
    material = tenant_set.reconcile(params, {}, etcd_ca)[0]
    cert = x509.load_pem_x509_certificate(material["apiserver"]["cert"].encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = sans.get_values_for_type(x509.DNSName)
    ips = [str(a) for a in sans.get_values_for_type(x509.IPAddress)]
    assert "*.acme.example" in dns and "kubernetes.default.svc.acme.local" in dns
    assert {"192.0.2.10", "198.51.100.7", "10.112.0.1"} <= set(ips)
    etcd_client = x509.load_pem_x509_certificate(material["apiserver-etcd-client"]["cert"].encode())
    assert etcd_client.subject.rfc4514_string() == "CN=" + spec["derived"]["etcd_user"]
    assert "https://192.0.2.10:31443" in material["admin.conf"]


def test_a_batch_plans_valid_tenants_and_names_each_bad_one(etcd_ca, settings):
    tenants = {
        "acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}},
        "globex": {"name": "globex", "endpoint": {"address": "192.0.2.10", "port": 31444}, "replicas": 0},
        "typo": {"name": "typo", "kubernetes_verison": OLDER, "endpoint": {"address": "192.0.2.10", "port": 31445}},
        "twin": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31446}},
        "bad-port": {"name": "bad-port", "endpoint": {"address": "192.0.2.10", "port": 6443}},
    }
    out = plan.plan(_inputs(etcd_ca, settings, tenants))
    assert sorted(out.tenants) == ["acme", "globex"]
    assert out.errors["typo"].startswith("tenant.kubernetes_verison: unknown field; did you mean kubernetes_version?")
    assert out.errors["twin"] == "name: 'acme' is also the name of tenant host acme; tenant names must be unique"
    assert out.errors["bad-port"].startswith("tenant.endpoint.port: 6443 is outside the NodePort range")
    assert out.etcd_tenants == [_etcd("acme"), _etcd("globex")]
    assert out.new_namespaces == ["tenant-acme", "tenant-globex"]
    # per tenant: Namespace, 3 Secrets, Deployment, Service, PDB, and its record last
    assert len(out.admin_objects) == 16 and out.unchanged_objects == 0
    assert [(o["kind"], o["metadata"]["name"]) for o in out.admin_objects][7::8] == [
        ("ConfigMap", "kamaji-tenant-spec")] * 2
    assert {o["metadata"].get("namespace") for o in out.admin_objects} == {None, "tenant-acme", "tenant-globex"}
    acme = out.tenants["acme"]
    assert acme["new_namespace"] is True and acme["server"] == "https://192.0.2.10:31443"
    assert set(acme["changed_items"]) == {*tenant_set.ALL_ITEMS, encryption.CONFIG_ITEM}
    assert acme["bootstrap_objects"] and acme["ca_cert"].startswith("-----BEGIN CERTIFICATE-----")


def test_check_mode_leaves_out_objects_of_new_namespaces(etcd_ca, settings):
    tenants = {"acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}}
    out = plan.plan(_inputs(etcd_ca, settings, tenants, check_mode=True))
    assert out.admin_objects == [] and out.unchanged_objects == 0
    assert out.new_namespaces == ["tenant-acme"] and out.tenants["acme"]["new_namespace"] is True


def test_replanning_what_the_cluster_holds_sends_nothing_and_keeps_the_pki(etcd_ca, settings):
    tenants = {"acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}}
    first = plan.plan(_inputs(etcd_ca, settings, tenants))
    again = plan.plan(_inputs(etcd_ca, settings, tenants, existing=as_read(first.admin_objects)))
    assert again.errors == {}
    assert again.admin_objects == [] and again.unchanged_objects == len(first.admin_objects)
    assert again.new_namespaces == [] and again.tenants["acme"]["new_namespace"] is False
    assert again.tenants["acme"]["changed_items"] == {}
    assert again.tenants["acme"]["ca_cert"] == first.tenants["acme"]["ca_cert"]


def test_a_write_frozen_tenant_gets_a_read_only_etcd_role_and_keeps_its_control_plane(etcd_ca, settings):
    tenants = {"acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}}
    first = plan.plan(_inputs(etcd_ca, settings, tenants))
    frozen = plan.plan(_inputs(etcd_ca, settings, {"acme": dict(tenants["acme"], write_freeze=True)},
                               existing=as_read(first.admin_objects)))
    assert frozen.errors == {}
    assert frozen.etcd_tenants == [_etcd("acme", "read")]
    # only the tenant's record says so in the admin cluster: the pods do not restart
    assert [(o["kind"], o["metadata"]["name"]) for o in frozen.admin_objects] == [("ConfigMap", "kamaji-tenant-spec")]
    # a frozen tenant does not move to another release (its API server would write)
    moving_spec = dict(tenants["acme"], write_freeze=True, kubernetes_version=versions.KUBERNETES[:-1] + "9")
    moving = plan.plan(_inputs(etcd_ca, settings, {"acme": moving_spec}, existing=as_read(first.admin_objects)))
    assert moving.errors == {"acme": (
        f"tenant.kubernetes_version: {versions.KUBERNETES[:-1]}9 would move a write-frozen tenant from "
        f"{versions.KUBERNETES}; a control plane that moves writes to its datastore (its API server's own objects, "
        f"the addons): set tenant.write_freeze: false for the upgrade, or keep {versions.KUBERNETES}")}


def test_a_running_tenant_never_moves_down_and_the_others_go_on(etcd_ca, settings):
    running = {"acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}}
    first = plan.plan(_inputs(etcd_ca, settings, running))
    tenants = {"acme": dict(running["acme"], kubernetes_version=OLDER),
               "globex": {"name": "globex", "endpoint": {"address": "192.0.2.10", "port": 31444}}}
    out = plan.plan(_inputs(etcd_ca, settings, tenants, existing=as_read(first.admin_objects)))
    assert out.errors["acme"].startswith(f"tenant.kubernetes_version: {OLDER} would downgrade the running {NEWEST}")
    assert list(out.tenants) == ["globex"]
    assert not [o for o in out.admin_objects if o["metadata"].get("namespace") == "tenant-acme"]


def test_unreadable_secret_data_fails_that_tenant_naming_pki(etcd_ca, settings):
    tenants = {"acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}}
    existing = {"Secret": [{"metadata": {"name": "kamaji-pki", "namespace": "tenant-acme"}, "data": {"ca.crt": "%%"}}]}
    out = plan.plan(_inputs(etcd_ca, settings, tenants, existing=existing))
    assert out.errors["acme"].startswith("pki: Secret kamaji-pki: key ca.crt is not base64")


def test_inputs_from_module_params_take_the_defaults():
    inputs = plan.Inputs.from_params({"tenants": {}, "etcd_ca": {"cert": "c", "key": "k"},
                                      "etcd_endpoints": ["https://e:2379"], "priority_class": None,
                                      "renewal_window_days": 0})
    assert inputs.settings == {"etcd_endpoints": ["https://e:2379"]}
    assert inputs.supported_minors == versions.SUPPORTED_MINORS
    assert inputs.key_algorithm == "ecdsa-p256" and inputs.renewal_window_days == 0


def _absent(name, guard=None):
    return {"name": name, "state": "absent", **({"confirm_delete": guard} if guard is not None else {})}


def test_a_tenant_marked_absent_is_planned_for_deletion_only_with_its_guard(etcd_ca, settings):
    running = {"acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}},
               "globex": {"name": "globex", "endpoint": {"address": "192.0.2.10", "port": 31444}}}
    existing = as_read(plan.plan(_inputs(etcd_ca, settings, running)).admin_objects)
    out = plan.plan(_inputs(etcd_ca, settings, {"acme": _absent("acme", "acme"), "globex": running["globex"]},
                            existing=existing))
    assert out.errors == {}
    assert out.deletions == {"acme": {"name": "acme", "namespace": "tenant-acme", "exists": True, "datastore": "etcd"}}
    assert out.etcd_deletions == [{"name": "acme", "prefix": "/acme/", "user": "acme", "state": "absent", "purge": True}]
    # nothing of the deleted tenant is applied; the other tenant is planned as ever (unchanged)
    assert list(out.tenants) == ["globex"] and out.admin_objects == []
    assert out.etcd_tenants == [_etcd("globex")]
    for guard, shown in ((None, "not set"), ("globex", "'globex'"), ("ACME", "'ACME'")):
        refused = plan.plan(_inputs(etcd_ca, settings, {"acme": _absent("acme", guard)}, existing=existing))
        assert refused.deletions == {} and refused.etcd_deletions == []
        assert refused.errors["acme"].startswith("tenant.confirm_delete: set it to 'acme' to delete tenant acme")
        assert ("it is %s; nothing has changed" % shown) in refused.errors["acme"]


def test_deleting_an_unknown_tenant_fails_and_a_deleted_one_goes_on(etcd_ca, settings):
    tenants = {"acme": _absent("acme", "acme")}
    unknown = plan.plan(_inputs(etcd_ca, settings, tenants))
    assert unknown.errors["acme"].startswith("tenant.state: absent, but there is no tenant acme to delete")
    # a site that began deleting it (the record is written first): a re-run goes on, idempotently
    resumed = plan.plan(_inputs(etcd_ca, settings, tenants, deleted={"acme": "2026-12-02T20:00:00Z"}))
    assert resumed.errors == {} and resumed.deletions["acme"]["exists"] is False
    assert [d["name"] for d in resumed.etcd_deletions] == ["acme"]


def test_a_deleted_name_is_still_unique_in_the_batch(etcd_ca, settings):
    tenants = {"acme": {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}},
               "old-acme": _absent("acme", "acme")}
    out = plan.plan(_inputs(etcd_ca, settings, tenants, deleted={"acme": "2026-12-02T20:00:00Z"}))
    assert out.errors["old-acme"] == "name: 'acme' is also the name of tenant host acme; tenant names must be unique"
    assert out.deletions == {}
