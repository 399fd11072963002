"""Where a tenant's data lives and its move between etcd clusters (module_utils.tenant.datastore,
as the batch plan uses it)."""
from __future__ import annotations

import base64
import json

import pytest
from cryptography import x509
from harness.objects import as_read

from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki
from ansible_collections.kamaji.core.plugins.module_utils.tenant import datastore, plan, record

WEST = ["https://192.0.2.31:2379", "https://192.0.2.32:2379", "https://192.0.2.33:2379"]
ACME = {"name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443}}


@pytest.fixture(scope="module")
def west_ca():
    key = pki.generate_key("ecdsa-p256")
    return {"cert": pki.cert_to_pem(pki.issue_ca("etcd-west-ca", key, 3650)), "key": pki.key_to_pem(key)}


def _inputs(etcd_ca, settings, west_ca, tenants, existing=None):
    stores = datastore.from_params({"west": {"endpoints": WEST, "ca": west_ca}}, settings["etcd_endpoints"], etcd_ca)
    return plan.Inputs(tenants=tenants, etcd_ca=etcd_ca, settings=settings, existing=existing or {}, datastores=stores)


def _running(etcd_ca, settings, west_ca, spec=None, old_record=False):
    """acme as the admin cluster holds it after a run with ``spec`` (its objects read back)."""
    out = plan.plan(_inputs(etcd_ca, settings, west_ca, {"acme": spec or ACME}))
    assert out.errors == {}, out.errors
    objects = list(out.admin_objects)
    if old_record:  # a record written before datastores existed names none
        rec = objects[-1]
        assert rec["kind"] == "ConfigMap" and rec["metadata"]["name"] == record.NAME
        data = json.loads(rec["data"][record.SPEC_KEY])
        data.pop("datastore")
        objects[-1] = dict(rec, data=dict(rec["data"], **{record.SPEC_KEY: json.dumps(data)}))
    return as_read(objects)


def _apiserver(deployment):
    (c,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "kube-apiserver"]
    return c["command"] + c.get("args", [])


def _etcd_client_issuer(secret_obj):
    pem = base64.b64decode(secret_obj["data"]["apiserver-etcd-client.crt"])
    return x509.load_pem_x509_certificate(pem).issuer.rfc4514_string()


def test_a_tenant_stays_on_the_datastore_its_record_names_and_records_it(etcd_ca, settings, west_ca):
    existing = _running(etcd_ca, settings, west_ca)
    out = plan.plan(_inputs(etcd_ca, settings, west_ca, {"acme": ACME}, existing))
    assert out.errors == {} and out.moves == [] and out.admin_objects == []
    assert json.loads(existing["ConfigMap"][0]["data"][record.SPEC_KEY])["datastore"] == "etcd"
    assert list(out.etcd_by_datastore) == ["etcd"]
    # a record from before datastores means the shared etcd: no move, no change
    old = _running(etcd_ca, settings, west_ca, old_record=True)
    out = plan.plan(_inputs(etcd_ca, settings, west_ca, {"acme": ACME}, old))
    assert out.errors == {} and out.moves == []


def test_a_new_tenant_on_another_datastore_runs_on_its_members_with_its_ca(etcd_ca, settings, west_ca):
    out = plan.plan(_inputs(etcd_ca, settings, west_ca, {"acme": dict(ACME, datastore="west")}))
    assert out.errors == {} and out.moves == []
    objs = {(o["kind"], o["metadata"]["name"]): o for o in out.admin_objects}
    assert f"--etcd-servers={','.join(WEST)}" in _apiserver(objs[("Deployment", "kube-control-plane")])
    assert "etcd-west-ca" in _etcd_client_issuer(objs[("Secret", "kamaji-pki")])
    assert [e["name"] for e in out.etcd_by_datastore["west"]] == ["acme"] and "etcd" not in out.etcd_by_datastore


def test_a_tenant_whose_spec_names_another_datastore_moves_its_objects_held_for_the_switch(etcd_ca, settings, west_ca):
    existing = _running(etcd_ca, settings, west_ca)
    out = plan.plan(_inputs(etcd_ca, settings, west_ca, {"acme": dict(ACME, datastore="west")}, existing))
    assert out.errors == {}
    assert out.moves == [{"name": "acme", "prefix": "/acme/", "user": "acme", "source": "etcd", "target": "west",
                          "switched": False}]
    # nothing of acme's goes out with the batch: the move applies it once the copy is verified
    assert out.admin_objects == []
    mine = out.tenants["acme"]
    objs = {(o["kind"], o["metadata"]["name"]): o for o in mine["move_objects"]}
    assert f"--etcd-servers={','.join(WEST)}" in _apiserver(objs[("Deployment", "kube-control-plane")])
    assert "etcd-west-ca" in _etcd_client_issuer(objs[("Secret", "kamaji-pki")])
    assert mine["changed_items"].get("apiserver-etcd-client"), mine["changed_items"]
    assert json.loads(mine["record_object"]["data"][record.SPEC_KEY])["datastore"] == "west"
    assert [e["name"] for e in out.etcd_by_datastore["west"]] == ["acme"]

    # once its control plane runs on west (a run stopped after the switch), it is never copied again
    switched = dict(existing, Deployment=as_read([objs[("Deployment", "kube-control-plane")]])["Deployment"])
    out = plan.plan(_inputs(etcd_ca, settings, west_ca, {"acme": dict(ACME, datastore="west")}, switched))
    assert out.moves[0]["switched"] is True


@pytest.mark.parametrize(("spec", "stores", "message"), [
    (dict(ACME, datastore="east"), None,
     "tenant.datastore: 'east' is no datastore of this site: make it an inventory group of etcd members (deployed by "
     "the etcd playbook with -e kamaji_etcd_group=east), or an entry of tenant_control_plane_datastores (known: "
     "etcd, west)"),
    (dict(ACME, datastore="etcd"), "gone",
     "tenant.datastore: etcd moves from datastore 'west', which this site no longer reaches"),
    (dict(ACME, datastore="west"), "shared",
     "tenant.datastore: etcd and west share the members https://192.0.2.21:2379: a move copies"),
    (dict(ACME, datastore="west", kubernetes_version="v1.37.2"), "older",
     "tenant.datastore: west and tenant.kubernetes_version: v1.37.2 in one run; move the tenant first"),
])
def test_a_move_the_site_cannot_make_is_refused_naming_the_field(etcd_ca, settings, west_ca, spec, stores, message):
    from ansible_collections.kamaji.core.plugins.module_utils import versions

    start = dict(ACME, kubernetes_version=versions.KUBERNETES_OLDER[0]) if stores == "older" else ACME
    existing = _running(etcd_ca, settings, west_ca, dict(start, datastore="west") if stores == "gone" else start)
    inputs = _inputs(etcd_ca, settings, west_ca, {"acme": spec}, existing)
    if stores == "gone":
        inputs = plan.Inputs(tenants=inputs.tenants, etcd_ca=etcd_ca, settings=settings, existing=existing,
                             datastores=datastore.from_params(None, settings["etcd_endpoints"], etcd_ca))
    if stores == "shared":
        inputs = plan.Inputs(tenants=inputs.tenants, etcd_ca=etcd_ca, settings=settings, existing=existing,
                             datastores=datastore.from_params(
                                 {"west": {"endpoints": [settings["etcd_endpoints"][0], WEST[0]], "ca": west_ca}},
                                 settings["etcd_endpoints"], etcd_ca))
    out = plan.plan(inputs)
    assert out.errors["acme"].startswith(message), out.errors
    assert out.admin_objects == [] and out.moves == []


def test_a_deleted_tenant_is_purged_from_the_datastore_its_record_names(etcd_ca, settings, west_ca):
    existing = _running(etcd_ca, settings, west_ca, dict(ACME, datastore="west"))
    existing["Namespace"] = [{"metadata": {"name": "tenant-acme"}}]
    out = plan.plan(_inputs(etcd_ca, settings, west_ca,
                            {"acme": {"name": "acme", "state": "absent", "confirm_delete": "acme"}}, existing))
    assert out.errors == {} and out.deletions["acme"]["datastore"] == "west"
    assert [(e["name"], e["state"]) for e in out.etcd_by_datastore["west"]] == [("acme", "absent")]


def test_the_datastores_a_batch_reaches_are_its_specs_and_its_records(etcd_ca, settings, west_ca):
    existing = _running(etcd_ca, settings, west_ca, dict(ACME, datastore="west"))
    assert datastore.names_in_use([ACME, {"datastore": "east"}], existing["ConfigMap"]) == ["east", "etcd", "west"]
    assert datastore.names_in_use([]) == ["etcd"]


@pytest.mark.parametrize("given", [{"endpoints": []}, {"endpoints": ["https://x:2379"]}, "x",
                                   {"endpoints": ["https://x:2379"], "ca": {"cert": "c"}}])
def test_a_datastore_without_members_or_ca_is_refused_naming_it(etcd_ca, given):
    with pytest.raises(datastore.MoveError, match=r"^datastores\.west: needs endpoints"):
        datastore.from_params({"west": given}, ["https://e:2379"], etcd_ca)


def test_the_controller_reaches_each_datastore_from_its_group_or_its_entry():
    from ansible_collections.kamaji.core.plugins.filter.tenant_datastores import tenant_datastores

    hostvars = {"acme": {"tenant": {"datastore": "etcd_west"}}, "globex": {"tenant": {"datastore": "east"}},
                "initech": {"tenant": {"datastore": "nowhere"}}, "hooli": {},
                "w0": {"ansible_host": "192.0.2.31"}, "w1": {"ansible_host": "2001:db8::32"}}
    groups = {"etcd_west": ["w0", "w1"], "etcd": ["e0"]}
    default = {"endpoints": ["https://192.0.2.21:2379"], "credentials_host": "e0", "pki_dir": "/etc/kamaji/etcd/pki"}
    configured = {"east": {"endpoints": ["https://192.0.2.41:2379"], "credentials_host": "e-east", "pki_dir": "/srv/pki"}}
    got = tenant_datastores(["acme", "globex", "initech", "hooli"], hostvars, groups, [], configured, default)
    assert got == {
        "etcd": default,
        "etcd_west": {"endpoints": ["https://192.0.2.31:2379", "https://[2001:db8::32]:2379"], "credentials_host": "w0",
                      "pki_dir": "/etc/kamaji/etcd/pki"},
        "east": configured["east"],
    }  # nowhere: neither a group nor an entry (the tenant is refused, naming tenant.datastore)
    files = {"ca.crt": "CA", "ca.key": "CAKEY", "root.crt": "ROOT", "root.key": "ROOTKEY"}
    read = [{"item": {"key": "etcd_west"}, "files": files}]
    west = tenant_datastores(["acme"], hostvars, groups, [], {}, default, read)["etcd_west"]
    assert west["ca"] == {"cert": "CA", "key": "CAKEY"}
    assert west["connection"] == {"endpoints": west["endpoints"], "ca_cert": "CA", "client_cert": "ROOT",
                                  "client_key": "ROOTKEY"}
