"""The tenants' records and the kamaji.core.tenants inventory plugin, on the fixture admin
kube-apiserver and the shared TLS etcd.

The tenants play applies two tenants, ``kept`` and ``stray``; then ``ansible-inventory`` reads
the admin cluster through the plugin, after a static inventory that names only ``kept``
(``stray`` is orphaned), alone (the admin cluster is the fleet, and its hosts drive the
tenants play again: nothing changes), and with the variables AWX's Kubernetes credential
injects (a ServiceAccount's token; a client certificate). Other test modules of the session
may have left tenants in the admin cluster: the assertions are about these two."""
from __future__ import annotations

import json
import sys

import pytest
import yaml
from harness.procs import free_port
from harness.runner import run_inventory, run_playbook
from test_tenant_control_plane import PLAYBOOK, _changed, _inventory

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

pytestmark = pytest.mark.usefixtures("site_marker")
KEPT, STRAY = "kept", "stray"
OLDER = versions.KUBERNETES_OLDER[0]
READER = "kamaji-inventory"  # the ServiceAccount the token variant reads with


def _recorded(name, tenant):
    """What the record of a tenant applied from ``tenant`` must hold: its spec normalized, in
    the inventory's form."""
    return tenant_spec.inventory_form(tenant_spec.normalize(dict(tenant, name=name)))


@pytest.fixture(scope="module")
def applied(etcd_cluster, kube_control_plane, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tenants-inventory")
    specs = {
        KEPT: {"endpoint": {"address": "192.0.2.10", "port": free_port()}, "service_type": "ClusterIP",
               "replicas": 1, "kubernetes_version": OLDER, "extra_sans": ["api.kept.example"]},
        STRAY: {"endpoint": {"address": "192.0.2.10", "port": free_port()}, "service_type": "ClusterIP",
                "replicas": 0},
    }
    inventory = _inventory(tmp, etcd_cluster, kube_control_plane, {n: {"tenant": s} for n, s in specs.items()})
    runs = {"apply": run_playbook(PLAYBOOK, tmp, {"tenant_control_plane_wait": False}, inventory=inventory)}
    assert runs["apply"].rc == 0, runs["apply"].failed_tasks()
    runs["again"] = run_playbook(PLAYBOOK, tmp, {"tenant_control_plane_wait": False}, inventory=inventory)
    # the static inventory of the site, which no longer names stray
    static = tmp / "static.yml"
    static.write_text(yaml.safe_dump({"all": {"children": {"tenants": {"hosts": {KEPT: {"tenant": specs[KEPT]}}}}}}))
    config = tmp / "tenants.kamaji.yml"
    config.write_text(yaml.safe_dump({"plugin": "kamaji.core.tenants", "kubeconfig": kube_control_plane.kubeconfig}))
    return {"specs": specs, "runs": runs, "dir": tmp, "static": str(static), "config": str(config),
            "inventory": inventory, "kubeconfig": kube_control_plane.kubeconfig}


def _list(tmp, *sources, env=None):
    """``ansible-inventory --list`` of the sources, every source required to parse."""
    proc = run_inventory(tmp, *sources, env=env)
    return proc, (json.loads(proc.stdout) if proc.returncode == 0 else None)


def _hostvars(data):
    return _plain(data["_meta"]["hostvars"])


def _plain(value):
    """``value`` without ansible-inventory's ``__ansible_unsafe`` markers: what the plugin reads from
    the cluster is never trusted as a template (a record cannot make the controller run a lookup)."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _hosts(data, group):
    return set((data.get(group) or {}).get("hosts") or [])


def test_the_play_records_each_tenant_and_a_rerun_sends_nothing(applied, kube_control_plane):
    again = applied["runs"]["again"]
    assert again.rc == 0, again.failed_tasks()
    assert _changed(again) == {}, again.stdout[-3000:]
    for name, spec in applied["specs"].items():
        obj = json.loads(kube_control_plane.kubectl("-n", f"tenant-{name}", "get", "configmap", "kamaji-tenant-spec",
                                                    "-o", "json").stdout)
        assert obj["metadata"]["labels"] == {"kamaji.core/tenant": name, "app.kubernetes.io/managed-by": "kamaji.core"}
        assert obj["data"]["name"] == name and obj["data"]["format"] == "1"
        assert json.loads(obj["data"]["spec.json"]) == _recorded(name, spec)


def test_after_a_static_inventory_the_tenant_it_does_not_name_is_orphaned(applied):
    proc, data = _list(applied["dir"], applied["static"], applied["config"])
    assert proc.returncode == 0, proc.stderr
    hostvars = _hostvars(data)
    # kept: the static inventory's tenant, its `tenant` dict as the inventory wrote it, the record beside
    assert KEPT in _hosts(data, "tenants")
    assert hostvars[KEPT]["tenant"] == applied["specs"][KEPT]
    assert hostvars[KEPT]["kamaji_tenant_recorded"] == _recorded(KEPT, applied["specs"][KEPT])
    assert hostvars[KEPT]["kamaji_tenant_orphaned"] is False
    # stray: in the admin cluster only, orphaned and never in `tenants`
    assert STRAY in _hosts(data, "orphaned") and STRAY not in _hosts(data, "tenants")
    assert hostvars[STRAY]["kamaji_tenant_orphaned"] is True
    assert hostvars[STRAY]["tenant"] == _recorded(STRAY, applied["specs"][STRAY])
    assert hostvars[STRAY]["tenant"]["replicas"] == 0 and hostvars[STRAY]["ansible_connection"] == "local"
    # read from the cluster, never trusted as a template
    assert data["_meta"]["hostvars"][STRAY]["tenant"]["service_cidr"] == {"__ansible_unsafe": "10.96.0.0/16"}
    # groups by what was applied
    assert KEPT in _hosts(data, "kamaji_version_v1_%d" % versions.minor(OLDER))
    assert STRAY in _hosts(data, "kamaji_version_v1_%d" % versions.minor(versions.KUBERNETES))
    assert {KEPT, STRAY} <= _hosts(data, "kamaji_state_present")


def test_a_tenant_named_by_tenant_name_in_host_vars_is_not_orphaned(applied):
    """Inventory sources are parsed before the vars plugins run: the plugin reads the static
    hosts' host_vars files itself (use_vars_plugins) to find their tenant_name."""
    site = applied["dir"] / "site"
    (site / "host_vars").mkdir(parents=True, exist_ok=True)
    (site / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"tenants": {"hosts": {
        KEPT: None, "old-stray": None}}}}}))
    (site / "host_vars" / "old-stray.yml").write_text(yaml.safe_dump({"tenant_name": STRAY, "tenant": {"replicas": 0}}))
    proc, data = _list(applied["dir"], site / "hosts.yml", applied["config"])
    assert proc.returncode == 0, proc.stderr
    assert not _hosts(data, "orphaned") & {KEPT, STRAY, "old-stray"} and STRAY not in data["_meta"]["hostvars"]
    hostvars = _hostvars(data)
    assert hostvars["old-stray"]["kamaji_tenant_recorded"] == _recorded(STRAY, applied["specs"][STRAY])
    assert hostvars["old-stray"]["kamaji_tenant_orphaned"] is False
    assert hostvars["old-stray"]["tenant"] == {"replicas": 0}  # the inventory's own, from host_vars
    # without reading host_vars, stray would look orphaned
    config = applied["dir"] / "novars.kamaji.yml"
    config.write_text(yaml.safe_dump({"plugin": "kamaji.core.tenants", "kubeconfig": applied["kubeconfig"],
                                      "use_vars_plugins": False}))
    proc, data = _list(applied["dir"], site / "hosts.yml", config)
    assert proc.returncode == 0, proc.stderr
    assert STRAY in _hosts(data, "orphaned")


def test_alone_the_plugin_lists_the_fleet_and_its_hosts_drive_the_tenants_play(applied, etcd_cluster, kube_control_plane):
    proc, data = _list(applied["dir"], applied["config"])
    assert proc.returncode == 0, proc.stderr
    assert {KEPT, STRAY} <= _hosts(data, "tenants") and not _hosts(data, "orphaned")
    hostvars = _hostvars(data)
    for name, spec in applied["specs"].items():
        assert hostvars[name]["tenant"] == _recorded(name, spec) == hostvars[name]["kamaji_tenant_recorded"]
    # the recorded specs, applied again through the plugin's hosts, are what the admin cluster holds
    creds = applied["dir"] / "creds.yml"
    creds.write_text(yaml.safe_dump({"all": {"vars": {"ansible_python_interpreter": sys.executable},
                                             "children": {"etcd_credentials": {"hosts": {"etcd-creds": {
                                                 "ansible_connection": "local"}}}}}}))
    role_vars = {"tenant_control_plane_admin_kubeconfig": kube_control_plane.kubeconfig,
                 "tenant_control_plane_etcd_endpoints": etcd_cluster.endpoints,
                 "tenant_control_plane_etcd_credentials_host": "etcd-creds",
                 "tenant_control_plane_etcd_pki_dir": str(applied["dir"] / "etcd-pki"),
                 "tenant_control_plane_wait": False}
    res = run_playbook(PLAYBOOK, applied["dir"], role_vars, inventory=str(creds),
                       args=["-i", applied["config"], "--limit", f"{KEPT},{STRAY}"],
                       env={"ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"})
    assert res.rc == 0, res.failed_tasks()
    assert set(res.stats) == {KEPT, STRAY}
    assert _changed(res) == {}, res.stdout[-3000:]


@pytest.fixture(scope="module")
def reader_token(kube_control_plane):
    """A ServiceAccount token allowed to get and list ConfigMaps (what AWX's credential carries)."""
    kube = kube_control_plane
    kube.kubectl("-n", "kube-system", "create", "serviceaccount", READER)
    kube.kubectl("create", "clusterrole", READER, "--verb=get,list", "--resource=configmaps")
    kube.kubectl("create", "clusterrolebinding", READER, f"--clusterrole={READER}",
                 f"--serviceaccount=kube-system:{READER}")
    kube.kubectl("-n", "kube-system", "create", "serviceaccount", READER + "-none")
    try:
        yield {"allowed": kube.kubectl("-n", "kube-system", "create", "token", READER).stdout.strip(),
               "none": kube.kubectl("-n", "kube-system", "create", "token", READER + "-none").stdout.strip()}
    finally:
        kube.kubectl("delete", "clusterrolebinding", READER, check=False)
        kube.kubectl("delete", "clusterrole", READER, check=False)
        kube.kubectl("-n", "kube-system", "delete", "serviceaccount", READER, READER + "-none", check=False)


def _other_ca(applied):
    """A CA that did not sign the API server's certificate (the etcd CA)."""
    return str(applied["dir"] / "etcd-pki" / "ca.crt")


def _bare_config(applied):
    path = applied["dir"] / "awx.kamaji.yml"
    path.write_text("plugin: kamaji.core.tenants\n")
    return path


def test_awx_variables_a_serviceaccount_token(applied, kube_control_plane, reader_token):
    env = {"K8S_AUTH_HOST": kube_control_plane.server, "K8S_AUTH_API_KEY": reader_token["allowed"],
           "K8S_AUTH_SSL_CA_CERT": kube_control_plane.paths["ca.crt"], "K8S_AUTH_VERIFY_SSL": "true"}
    proc, data = _list(applied["dir"], applied["static"], _bare_config(applied), env=env)
    assert proc.returncode == 0, proc.stderr
    assert STRAY in _hosts(data, "orphaned") and KEPT in _hosts(data, "tenants")
    assert _hostvars(data)[STRAY]["tenant"] == _recorded(STRAY, applied["specs"][STRAY])
    # a token without the permission: refused, naming the permission it needs
    proc, _data = _list(applied["dir"], _bare_config(applied), env=dict(env, K8S_AUTH_API_KEY=reader_token["none"]))
    flat = " ".join(proc.stderr.split())
    assert proc.returncode != 0
    assert (f"host {kube_control_plane.server}: the credentials may not list ConfigMaps in all namespaces (403 "
            "Forbidden); bind them to a ClusterRole allowing get and list on configmaps") in flat, proc.stderr
    assert reader_token["none"] not in proc.stderr
    # the wrong CA: the TLS failure, and where to look
    proc, _data = _list(applied["dir"], _bare_config(applied), env=dict(env, K8S_AUTH_SSL_CA_CERT=_other_ca(applied)))
    flat = " ".join(proc.stderr.split())
    assert proc.returncode != 0 and "certificate verify failed" in flat, proc.stderr
    assert "check ca_cert (K8S_AUTH_SSL_CA_CERT) and validate_certs (K8S_AUTH_VERIFY_SSL)" in flat, proc.stderr


def test_awx_variables_a_client_certificate(applied, kube_control_plane):
    cert, key = kube_control_plane._client_files()
    env = {"K8S_AUTH_HOST": kube_control_plane.server, "K8S_AUTH_CERT_FILE": cert, "K8S_AUTH_KEY_FILE": key,
           "K8S_AUTH_SSL_CA_CERT": kube_control_plane.paths["ca.crt"]}
    proc, data = _list(applied["dir"], applied["static"], _bare_config(applied), env=env)
    assert proc.returncode == 0, proc.stderr
    assert STRAY in _hosts(data, "orphaned") and KEPT in _hosts(data, "tenants")
    assert _hostvars(data)[KEPT]["kamaji_tenant_recorded"] == _recorded(KEPT, applied["specs"][KEPT])


def test_a_new_tenant_from_the_survey_variables_is_made_recorded_and_listed(applied, kube_control_plane):
    """The tenants job's survey (awx/configure.yml): the play run with kamaji_new_tenant_* on
    the site's inventory makes that tenant and records it, so the plugin lists it (orphaned
    after the static inventory, which does not name it); the same answers again change nothing.
    Bad answers fail before anything changes, naming the survey's variable."""
    name, port = "surveyed", 31777  # a NodePort (the survey's tenant takes the default service type)
    answers = {"kamaji_new_tenant_name": name, "kamaji_new_tenant_endpoint_address": "192.0.2.10",
               "kamaji_new_tenant_endpoint_port": port, "kamaji_new_tenant_replicas": 0,
               "kamaji_new_tenant_kubernetes_version": OLDER, "tenant_control_plane_wait": False}
    made = run_playbook(PLAYBOOK, applied["dir"], answers, inventory=applied["inventory"])
    assert made.rc == 0, made.failed_tasks()
    want = {"endpoint": {"address": "192.0.2.10", "port": port}, "replicas": 0, "kubernetes_version": OLDER}
    obj = json.loads(kube_control_plane.kubectl("-n", f"tenant-{name}", "get", "configmap", "kamaji-tenant-spec",
                                                "-o", "json").stdout)
    assert json.loads(obj["data"]["spec.json"]) == _recorded(name, want)
    again = run_playbook(PLAYBOOK, applied["dir"], answers, inventory=applied["inventory"])
    assert again.rc == 0 and _changed(again) == {}, _changed(again)
    proc, data = _list(applied["dir"], applied["static"], applied["config"])
    assert proc.returncode == 0, proc.stderr
    assert name in _hosts(data, "orphaned") and _hostvars(data)[name]["tenant"] == _recorded(name, want)
    # bad answers: refused in the first play, nothing changed
    for bad, message in (
            ({"kamaji_new_tenant_name": "Bad_Name"},
             "kamaji_new_tenant_name (tenant.name): 'Bad_Name' must be a DNS-1123 label"),
            ({"kamaji_new_tenant_name": "other", "kamaji_new_tenant_endpoint_address": "192.0.2.10",
              "kamaji_new_tenant_endpoint_port": "x"},
             "kamaji_new_tenant_endpoint_port (tenant.endpoint.port): 'x' is not a TCP port (1-65535)."),
            ({"kamaji_new_tenant_name": KEPT}, f"kamaji_new_tenant_name: {KEPT} is a host of the inventory already;")):
        res = run_playbook(PLAYBOOK, applied["dir"], bad, inventory=applied["inventory"])
        assert res.rc != 0 and _changed(res) == {}, bad
        msgs = [t["hosts"]["localhost"].get("msg", "") for play in res.data["plays"] for t in play["tasks"]
                if t["hosts"].get("localhost", {}).get("failed")]
        assert msgs and msgs[-1].startswith(message) and msgs[-1].endswith("Nothing was changed."), (bad, msgs)
        assert kube_control_plane.kubectl("get", "ns", "tenant-other", check=False).returncode != 0
