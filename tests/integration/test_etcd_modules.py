"""kamaji.core etcd modules against the real 3-member TLS etcd fixture."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from harness.procs import binary
from harness.runner import run_playbook


def task(etcd_cluster, module, args, creds=None):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", f"kamaji.core.{module}": dict(etcd_cluster.connection(creds), **args), "register": "r"}]}]


def lifecycle(etcd_cluster, tmp_path, module, args):
    """check mode reports a change, the real run makes it, the re-run changes nothing."""
    play = task(etcd_cluster, module, args)
    checked = run_playbook(play, tmp_path, check=True, diff=True)
    assert checked.rc == 0, checked.stdout[-2000:]
    assert checked.task("t")["changed"] is True
    real = run_playbook(play, tmp_path, diff=True)
    assert real.rc == 0 and real.task("t")["changed"] is True, real.stdout[-2000:]
    again = run_playbook(play, tmp_path, check=False)
    assert again.rc == 0 and again.task("t")["changed"] is False, again.stdout[-2000:]
    return checked.task("t"), real.task("t"), again.task("t")


def test_etcd_role_states(etcd_cluster, tmp_path):
    perms = [{"key": "/shared/", "prefix": True, "type": "read"}]
    checked, real, _unused = lifecycle(etcd_cluster, tmp_path, "etcd_role", {"name": "reader", "permissions": perms})
    assert checked["diff"]["before"] is None
    assert real["permissions"] == [{"key": "/shared/", "prefix": True, "range_end": "/shared0", "type": "read"}]
    assert "[/shared/, /shared0) (prefix /shared/)" in etcd_cluster.etcdctl("role", "get", "reader").stdout
    # check mode made nothing: the role appeared with the real run only (asserted by lifecycle's changed flags)
    # exact=false only adds
    lifecycle(etcd_cluster, tmp_path, "etcd_role",
              {"name": "reader", "exact": False, "permissions": [{"key": "/other", "type": "readwrite"}]})
    out = etcd_cluster.etcdctl("role", "get", "reader").stdout
    assert "/shared/" in out and "/other" in out
    # exact=true converges to exactly the list (revokes /other)
    lifecycle(etcd_cluster, tmp_path, "etcd_role", {"name": "reader", "permissions": perms})
    assert "/other" not in etcd_cluster.etcdctl("role", "get", "reader").stdout
    lifecycle(etcd_cluster, tmp_path, "etcd_role", {"name": "reader", "state": "absent"})
    assert etcd_cluster.etcdctl("role", "get", "reader", check=False).returncode != 0


def test_etcd_user_states(etcd_cluster, tmp_path):
    etcd_cluster.etcdctl("role", "add", "r1")
    etcd_cluster.etcdctl("role", "add", "r2")
    _unused, real, _unused = lifecycle(etcd_cluster, tmp_path, "etcd_user", {"name": "alice", "roles": ["r1"]})
    assert real["roles"] == ["r1"]
    lifecycle(etcd_cluster, tmp_path, "etcd_user", {"name": "alice", "roles": ["r2"], "exact": False})
    assert "r1" in etcd_cluster.etcdctl("user", "get", "alice").stdout
    lifecycle(etcd_cluster, tmp_path, "etcd_user", {"name": "alice", "roles": ["r2"]})
    assert "r1" not in etcd_cluster.etcdctl("user", "get", "alice").stdout
    lifecycle(etcd_cluster, tmp_path, "etcd_user", {"name": "alice", "state": "absent"})
    assert etcd_cluster.etcdctl("user", "get", "alice", check=False).returncode != 0


def test_etcd_auth_states(etcd_cluster, tmp_path):
    # the fixture enabled auth already: enabled is a no-op, disabled then enabled both change
    play = task(etcd_cluster, "etcd_auth", {"state": "enabled"})
    assert run_playbook(play, tmp_path).task("t")["changed"] is False
    try:
        lifecycle(etcd_cluster, tmp_path, "etcd_auth", {"state": "disabled"})
        assert "Authentication Status: false" in etcd_cluster.etcdctl("auth", "status").stdout
    finally:
        lifecycle(etcd_cluster, tmp_path, "etcd_auth", {"state": "enabled"})
    assert "Authentication Status: true" in etcd_cluster.etcdctl("auth", "status").stdout


def test_etcd_tenant_present_and_absent(etcd_cluster, tmp_path):
    checked, real, again = lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"name": "lifecycle"})
    assert real["prefix"] == "/lifecycle/" and real["keys"] == 0
    assert checked["diff"]["after"]["role"]["permissions"][0]["range_end"] == "/lifecycle0"
    role = etcd_cluster.etcdctl("role", "get", "lifecycle").stdout
    assert "[/lifecycle/, /lifecycle0)" in role
    etcd_cluster.etcdctl("put", "/lifecycle/a", "12345")
    assert run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "lifecycle"}), tmp_path).task("t")["keys"] == 1
    gone = lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"name": "lifecycle", "state": "absent", "purge": True})
    assert gone[1]["keys"] == 1 and gone[1]["bytes"] == len("/lifecycle/a") + 5
    assert etcd_cluster.etcdctl("get", "--prefix", "/lifecycle/", "--keys-only").stdout.strip() == ""
    assert etcd_cluster.etcdctl("user", "get", "lifecycle", check=False).returncode != 0


def test_a_write_frozen_tenant_reads_its_prefix_and_writes_nothing(etcd_cluster, tmp_path):
    """permission: read write-freezes the tenant at the datastore; readwrite lifts it; both idempotent."""
    lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"name": "frozen"})
    mine = etcd_cluster.pki.client("frozen")
    etcd_cluster.etcdctl("put", "/frozen/k", "before", creds=mine)
    checked, real, _again = lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"name": "frozen", "permission": "read"})
    assert checked["diff"]["before"]["role"]["permissions"][0]["type"] == "readwrite"
    assert real["diff"]["after"]["role"]["permissions"] == [
        {"key": "/frozen/", "prefix": True, "range_end": "/frozen0", "type": "read"}]
    assert etcd_cluster.etcdctl("get", "/frozen/k", "--print-value-only", creds=mine).stdout.strip() == "before"
    for args in (("put", "/frozen/k", "during"), ("del", "/frozen/k"), ("put", "/frozen/new", "x")):
        out = etcd_cluster.etcdctl(*args, creds=mine, check=False)
        assert out.returncode != 0 and "permission denied" in out.stderr, (args, out.stdout, out.stderr)
    info = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.etcd_info": etcd_cluster.connection()}]}], tmp_path).task("t")
    assert info["tenants"]["frozen"]["permission"] == "read"
    lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"name": "frozen", "permission": "readwrite"})
    etcd_cluster.etcdctl("put", "/frozen/k", "after", creds=mine)
    assert etcd_cluster.etcdctl("get", "/frozen/k", "--print-value-only", creds=mine).stdout.strip() == "after"
    lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"name": "frozen", "state": "absent", "purge": True})


def test_a_tenant_over_its_quota_is_write_frozen_and_thawed_under_it(etcd_cluster, tmp_path):
    """quota_bytes measures the prefix: over it the role reads only (whatever permission says), under it
    permission applies again; the other tenant of the call is unaffected."""
    items = [{"name": "quota-a"}, {"name": "quota-b"}]
    assert run_playbook(task(etcd_cluster, "etcd_tenant", {"tenants": items}), tmp_path).rc == 0
    mine = etcd_cluster.pki.client("quota-a")
    etcd_cluster.etcdctl("put", "/quota-a/big", "x" * 2000, creds=mine)
    size = len("/quota-a/big") + 2000

    def run(quota):
        res = run_playbook(task(etcd_cluster, "etcd_tenant", {"tenants": [
            {"name": "quota-a", "quota_bytes": quota}, {"name": "quota-b"}]}), tmp_path)
        assert res.rc == 0, res.stdout[-2000:]
        return res.task("t")["tenant_results"]

    over = run(size - 1)
    assert over["quota-a"]["over_quota"] is True and over["quota-a"]["permission"] == "read"
    assert over["quota-a"]["bytes"] == size and over["quota-a"]["changed"] is True
    assert over["quota-b"]["permission"] == "readwrite" and "over_quota" not in over["quota-b"]
    refused = etcd_cluster.etcdctl("put", "/quota-a/more", "x", creds=mine, check=False)
    assert refused.returncode != 0 and "permission denied" in refused.stderr
    assert run(size - 1)["quota-a"]["changed"] is False
    under = run(size)
    assert under["quota-a"]["over_quota"] is False and under["quota-a"]["permission"] == "readwrite"
    etcd_cluster.etcdctl("put", "/quota-a/more", "x", creds=mine)
    assert run_playbook(task(etcd_cluster, "etcd_tenant", {"tenants": [
        dict(i, state="absent", purge=True) for i in items]}), tmp_path).rc == 0


def test_what_each_key_seals_is_read_from_the_tenants_values(etcd_cluster, tmp_path):
    """sealed_with lists the Secrets and ConfigMaps its key does not seal (by kind, namespace and
    name); with count_keys it counts what each key seals under the whole prefix (read only)."""
    assert run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "sealing"}), tmp_path).rc == 0
    values = {"/sealing/secrets/default/new": "k8s:enc:secretbox:v1:key-2:x",
              "/sealing/secrets/default/old": "k8s:enc:secretbox:v1:key-1:x",
              "/sealing/secrets/kube-system/clear": "k8s-plain-value",
              "/sealing/configmaps/default/cm": "k8s:enc:secretbox:v1:key-1:x",
              "/sealing/widgets.example.com/default/w": "k8s:enc:secretbox:v1:key-1:x"}
    for key, value in values.items():
        etcd_cluster.etcdctl("put", key, value)
    before = etcd_cluster.etcdctl("get", "/sealing/", "--prefix", "-w", "json").stdout
    res = run_playbook(task(etcd_cluster, "etcd_tenant", {"tenants": [{"name": "sealing", "sealed_with": {
        "key": "key-2", "resources": ["secrets", "configmaps", "widgets.example.com"], "count_keys": True}}]}), tmp_path)
    assert res.rc == 0, res.stdout[-2000:]
    mine = res.task("t")["tenant_results"]["sealing"]
    assert mine["changed"] is False
    assert mine["unsealed"] == [{"kind": "ConfigMap", "namespace": "default", "name": "cm"},
                                {"kind": "Secret", "namespace": "default", "name": "old"},
                                {"kind": "Secret", "namespace": "kube-system", "name": "clear"}]
    assert mine["sealing_keys"] == {"key-1": 3, "key-2": 1}
    # without count_keys, no count (it reads every value of the prefix)
    res = run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "sealing", "sealed_with": {
        "key": "key-1", "resources": ["secrets"]}}), tmp_path)
    assert "sealing_keys" not in res.task("t") and len(res.task("t")["unsealed"]) == 2
    assert json.loads(etcd_cluster.etcdctl("get", "/sealing/", "--prefix", "-w", "json").stdout)["kvs"] == \
        json.loads(before)["kvs"]
    assert run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "sealing", "state": "absent", "purge": True}),
                        tmp_path).rc == 0


@pytest.fixture(scope="module")
def two_tenants(etcd_cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tenants")
    for name in ("blue", "blue2"):
        res = run_playbook(task(etcd_cluster, "etcd_tenant", {"name": name}), tmp)
        assert res.rc == 0, res.stdout[-2000:]
    creds = {name: etcd_cluster.pki.client(name) for name in ("blue", "blue2")}
    for name in ("blue", "blue2"):
        for i in range(5):
            etcd_cluster.etcdctl("put", f"/{name}/k{i}", f"{name}-value-{i}", creds=creds[name])
    etcd_cluster.etcdctl("put", "/outside", "root-only")
    return creds


@pytest.mark.parametrize("me, other", [("blue", "blue2"), ("blue2", "blue")])
def test_tenants_cannot_touch_each_other(etcd_cluster, two_tenants, me, other):
    mine = two_tenants[me]
    denied = [
        ("get", f"/{other}/k0"),
        ("get", "--prefix", f"/{other}/"),
        ("put", f"/{other}/k0", "stolen"),
        ("del", f"/{other}/k0"),
        ("del", "--prefix", f"/{other}/"),
        ("get", "/outside"),
        ("put", "/outside", "x"),
        ("get", "--prefix", "/"),
        ("user", "add", "intruder", "--no-password"),
        ("role", "add", "intruder"),
        ("role", "grant-permission", me, "readwrite", "/", "--prefix"),
        ("user", "list"),
    ]
    for args in denied:
        out = etcd_cluster.etcdctl(*args, creds=mine, check=False)
        assert out.returncode != 0 and "permission denied" in out.stderr, (me, args, out.stdout, out.stderr)
    # its own prefix works: read, list, write, delete
    assert etcd_cluster.etcdctl("get", f"/{me}/k0", "--print-value-only", creds=mine).stdout.strip() == f"{me}-value-0"
    etcd_cluster.etcdctl("put", f"/{me}/scratch", "x", creds=mine)
    etcd_cluster.etcdctl("del", f"/{me}/scratch", creds=mine)


def test_purging_one_tenant_leaves_the_other_byte_for_byte(etcd_cluster, two_tenants, tmp_path):
    def dump(prefix):
        out = etcd_cluster.etcdctl("get", "--prefix", prefix, "-w", "json").stdout
        return [(kv["key"], kv["value"], kv["mod_revision"]) for kv in json.loads(out).get("kvs", [])]

    before = dump("/blue2/")
    assert len(before) == 5
    res = run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "blue", "state": "absent", "purge": True}), tmp_path)
    assert res.rc == 0 and res.task("t")["keys"] == 5
    assert dump("/blue/") == []
    assert dump("/blue2/") == before
    assert etcd_cluster.etcdctl("get", "/outside", "--print-value-only").stdout.strip() == "root-only"


def test_tenant_creation_and_info_with_one_member_down(etcd_cluster, tmp_path):
    etcd_cluster.stop_member(0)
    try:
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "t", "kamaji.core.etcd_tenant": dict(
                etcd_cluster.connection(), endpoints=etcd_cluster.endpoints, name="degraded"), "register": "r"},
            {"name": "info", "kamaji.core.etcd_info": dict(etcd_cluster.connection(), endpoints=etcd_cluster.endpoints)},
        ]}]
        res = run_playbook(play, tmp_path)
        assert res.rc == 0, res.stdout[-3000:]
        assert res.task("t")["changed"] is True
        assert etcd_cluster.endpoints[0] in res.task("t")["unreachable_endpoints"]
        info = res.task("info")
        assert info["unhealthy_members"] == ["etcd-0"]
        assert info["leader"] in ("etcd-1", "etcd-2")
        assert "degraded" in info["tenants"] and info["auth_enabled"] is True
    finally:
        etcd_cluster.start_member(0)


def test_etcd_info_reports_cluster(etcd_cluster, tmp_path):
    assert run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "reported"}), tmp_path).rc == 0
    etcd_cluster.etcdctl("put", "/reported/a", "bc")
    res = run_playbook(task(etcd_cluster, "etcd_info", {}), tmp_path, check=True)
    info = res.task("t")
    assert info["changed"] is False
    assert sorted(m["name"] for m in info["members"]) == ["etcd-0", "etcd-1", "etcd-2"]
    assert all(e["healthy"] and e["db_size"] > 0 for e in info["endpoints"])
    assert info["unhealthy_members"] == [] and info["alarms"] == []
    assert "root" in info["users"] and "reported" in info["roles"]
    assert info["tenants"]["reported"] == {"prefix": "/reported/", "permission": "readwrite", "keys": 1,
                                           "bytes": len("/reported/a") + 2}


@pytest.mark.parametrize("args, expect", [
    ({"name": "Bad_Name"}, "name: 'Bad_Name' is not a valid name"),
    ({"name": "root"}, "name: 'root' is reserved"),
    ({"name": "x", "prefix": "/x"}, "prefix: '/x' must start and end with '/'"),
    ({"name": "x", "prefix": "/"}, "prefix: '/' must start and end with '/'"),
    ({"tenants": [{"name": "x", "permission": "write"}]}, "tenants[0].permission: 'write' must be one of readwrite, read"),
    ({"tenants": [{"name": "x", "quota_bytes": 0}]}, "tenants[0].quota_bytes: 0 must be a positive number of bytes"),
    ({"tenants": [{"name": "x", "sealed_with": {"key": "key-1", "resources": ["secrets"], "count_keys": "yes"}}]},
     "tenants[0].sealed_with.count_keys: 'yes' must be true or false"),
])
def test_etcd_tenant_rejects_bad_input(etcd_cluster, tmp_path, args, expect):
    res = run_playbook(task(etcd_cluster, "etcd_tenant", args), tmp_path)
    assert res.rc != 0
    assert res.task("t")["msg"].startswith(expect)


def test_clear_errors_for_unreachable_and_unauthorized(etcd_cluster, tmp_path):
    unreachable = dict(etcd_cluster.connection(), endpoints=["https://127.0.0.1:1"], timeout=2)
    dead = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.etcd_info": unreachable}]}], tmp_path)
    assert dead.rc != 0 and "no etcd endpoint answered" in dead.task("t")["msg"]
    tenant = etcd_cluster.pki.client("blue2")  # a tenant's own certificate
    denied = run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "sneaky"}, creds=tenant), tmp_path)
    assert denied.rc != 0 and "permission denied" in denied.task("t")["msg"]
    stranger = etcd_cluster.pki.client("nobody")  # CN is no etcd user at all
    unknown = run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "sneaky"}, creds=stranger), tmp_path)
    assert unknown.rc != 0 and "common name must be an etcd user" in unknown.task("t")["msg"]
    missing = run_playbook(task(etcd_cluster, "etcd_role", {"name": "x"}, creds=dict(tenant, client_key="/nonexistent")),
                           tmp_path)
    assert missing.rc != 0 and missing.task("t")["msg"].startswith("client_key: cannot read")


def test_etcd_tenant_bulk_form(etcd_cluster, tmp_path):
    tenants = [{"name": "bulk-a"}, {"name": "bulk-b"}, {"name": "bulk-c", "prefix": "/custom-c/"}]
    checked, real, again = lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"tenants": tenants})
    assert set(real["tenant_results"]) == {"bulk-a", "bulk-b", "bulk-c"}
    assert all(r["changed"] for r in real["tenant_results"].values())
    assert not any(r["changed"] for r in again["tenant_results"].values())
    assert "[/custom-c/, /custom-c0)" in etcd_cluster.etcdctl("role", "get", "bulk-c").stdout
    # removal in bulk, with a per-item state
    items = [{"name": "bulk-a", "state": "absent"}, {"name": "bulk-b"}]
    gone = run_playbook(task(etcd_cluster, "etcd_tenant", {"tenants": items}), tmp_path)
    assert gone.rc == 0
    assert gone.task("t")["tenant_results"]["bulk-a"]["changed"] is True
    assert gone.task("t")["tenant_results"]["bulk-b"]["changed"] is False
    assert etcd_cluster.etcdctl("user", "get", "bulk-a", check=False).returncode != 0


def test_etcd_tenant_bulk_rejects_a_bad_item_before_any_change(etcd_cluster, tmp_path):
    res = run_playbook(task(etcd_cluster, "etcd_tenant", {"tenants": [{"name": "bulk-ok"}, {"name": "Bad!"}]}), tmp_path)
    assert res.rc != 0
    assert res.task("t")["msg"].startswith("tenants[1].name: 'Bad!' is not a valid name")
    assert etcd_cluster.etcdctl("user", "get", "bulk-ok", check=False).returncode != 0


def test_many_tenants_in_parallel_forks(etcd_cluster, tmp_path):
    """Concurrent auth changes make etcd answer 'revision of auth store is old'; the
    modules retry it, so parallel tenant hosts all succeed."""
    inventory = tmp_path / "hosts.json"
    hosts = {f"par-{i:02d}": None for i in range(24)}
    inventory.write_text(json.dumps({"tenants": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}))
    play = [{"hosts": "tenants", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.etcd_tenant": dict(etcd_cluster.connection(), name="{{ inventory_hostname }}")}]}]
    res = run_playbook(play, tmp_path, inventory=str(inventory), args=["-f", "12"])
    assert res.rc == 0, [h.get("msg") for h in res.data["plays"][0]["tasks"][0]["hosts"].values() if h.get("failed")]
    assert sum(s["changed"] for s in res.stats.values()) == 24


def test_prefix_export_import_and_move(etcd_cluster, tmp_path):
    src = etcd_cluster.pki.client("root")
    for i in range(30):
        etcd_cluster.etcdctl("put", f"/movable/k{i:02d}", f"value-{i}" * 20, creds=src)
    dump = tmp_path / "movable.jsonl"
    exported = lifecycle(etcd_cluster, tmp_path, "etcd_prefix", {"prefix": "/movable/", "path": str(dump)})
    assert exported[1]["keys"] == 30 and oct(dump.stat().st_mode & 0o777) == "0o600"
    # into another prefix (a renamed tenant): check, real, re-run
    moved = lifecycle(etcd_cluster, tmp_path, "etcd_prefix",
                      {"state": "imported", "prefix": "/moved/", "path": str(dump)})
    assert moved[1]["written"] == 30
    src_vals = etcd_cluster.etcdctl("get", "--prefix", "/movable/", "--print-value-only").stdout
    dst_vals = etcd_cluster.etcdctl("get", "--prefix", "/moved/", "--print-value-only").stdout
    assert src_vals == dst_vals
    # replace removes keys that are not in the export
    etcd_cluster.etcdctl("put", "/moved/zz-extra", "x")
    res = run_playbook(task(etcd_cluster, "etcd_prefix", {"state": "imported", "prefix": "/moved/", "path": str(dump),
                                                          "replace": True}), tmp_path)
    assert res.rc == 0 and res.task("t")["deleted"] == 1
    assert etcd_cluster.etcdctl("get", "/moved/zz-extra").stdout.strip() == ""
    # a damaged file names the line
    dump.write_text(dump.read_text().replace('"v": "', '"v": "!!', 1))
    bad = run_playbook(task(etcd_cluster, "etcd_prefix", {"state": "imported", "path": str(dump)}), tmp_path)
    assert bad.rc != 0 and "line 2 is damaged" in bad.task("t")["msg"]


def test_snapshot_and_defragment(etcd_cluster, tmp_path):
    snap = tmp_path / "etcd.db"
    res = run_playbook(task(etcd_cluster, "etcd_maintenance", {"action": "snapshot", "path": str(snap)}), tmp_path)
    assert res.rc == 0, res.stdout[-2000:]
    assert res.task("t")["size"] == snap.stat().st_size > 0
    status = subprocess.run([binary("etcdutl"), "snapshot", "status", str(snap), "-w", "json"],
                            capture_output=True, text=True, check=True)
    assert json.loads(status.stdout)["totalKey"] > 0
    skip = run_playbook(task(etcd_cluster, "etcd_maintenance", {"action": "defragment", "min_free_ratio": 1.0}),
                        tmp_path)
    assert skip.rc == 0 and skip.task("t")["changed"] is False and len(skip.task("t")["skipped_endpoints"]) == 3
    defrag = run_playbook(task(etcd_cluster, "etcd_maintenance", {"action": "defragment"}), tmp_path)
    assert defrag.rc == 0, defrag.stdout[-2000:]
    assert [d["endpoint"] for d in defrag.task("t")["defragmented"]] == etcd_cluster.endpoints


def _inline(creds):
    """The fixture's credential files read into strings (PEM content, not paths)."""
    return {option: open(path, encoding="ascii").read() for option, path in creds.items()}


def test_inline_pem_credentials(etcd_cluster, tmp_path):
    """ca_cert/client_cert/client_key given as PEM content behave like the files they came from."""
    inline = _inline(etcd_cluster.root)
    assert all(v.startswith("-----BEGIN") for v in inline.values())
    lifecycle(etcd_cluster, tmp_path, "etcd_tenant", {"name": "inline-pem"})
    conn = dict(etcd_cluster.connection(), **inline)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.etcd_tenant": dict(conn, name="inline-pem2"), "register": "r"}]}]
    res = run_playbook(play, tmp_path, args=["-v"])
    assert res.rc == 0, res.stdout[-2000:]
    assert res.task("t")["changed"] is True and res.task("t")["prefix"] == "/inline-pem2/"
    assert "inline-pem2" in etcd_cluster.etcdctl("user", "list").stdout
    # the key is never printed, not even in the module's invocation
    assert inline["client_key"].strip().splitlines()[1] not in res.stdout
    # a tenant's own certificate, inline, is refused user management like its file
    tenant = _inline(etcd_cluster.pki.client("inline-pem2"))
    denied = run_playbook(task(etcd_cluster, "etcd_tenant", {"name": "sneaky"}, creds=tenant), tmp_path)
    assert denied.rc != 0 and "permission denied" in denied.task("t")["msg"]


def test_connection_from_the_environment_and_module_defaults(etcd_cluster, tmp_path):
    """KAMAJI_ETCD_* fill unset options (paths or inline PEM); module_defaults on the
    kamaji.core.etcd action group set them once for a block."""
    inline = _inline(etcd_cluster.root)
    env = {"KAMAJI_ETCD_ENDPOINTS": ",".join(etcd_cluster.live_endpoints()),
           "KAMAJI_ETCD_CA_CERT": etcd_cluster.root["ca_cert"],  # a path
           "KAMAJI_ETCD_CLIENT_CERT": inline["client_cert"],  # PEM content
           "KAMAJI_ETCD_CLIENT_KEY": inline["client_key"],
           "KAMAJI_ETCD_TIMEOUT": "4"}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.etcd_tenant": {"name": "from-env"}, "register": "r"}]}]
    res = run_playbook(play, tmp_path, env=env)
    assert res.rc == 0, res.stdout[-2000:]
    assert res.task("t")["changed"] is True
    assert "from-env" in etcd_cluster.etcdctl("role", "list").stdout
    # a wrong environment value is reported against its option
    bad = run_playbook(play, tmp_path, env=dict(env, KAMAJI_ETCD_CA_CERT="/nonexistent/ca.crt"))
    assert bad.rc != 0 and bad.task("t")["msg"].startswith("ca_cert: cannot read /nonexistent/ca.crt")

    defaults = [{"hosts": "localhost", "gather_facts": False, "vars": {"etcd_conn": dict(
        etcd_cluster.connection(), **inline)}, "tasks": [
        {"name": "block", "module_defaults": {"group/kamaji.core.etcd": "{{ etcd_conn }}"}, "block": [
            {"name": "t", "kamaji.core.etcd_role": {"name": "from-defaults"}},
            {"name": "info", "kamaji.core.etcd_info": {"tenants": ["from-env"]}},
        ]}]}]
    res = run_playbook(defaults, tmp_path)
    assert res.rc == 0, res.stdout[-2000:]
    assert res.task("t")["changed"] is True
    assert res.task("info")["tenants"]["from-env"]["prefix"] == "/from-env/"
