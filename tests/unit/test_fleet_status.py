"""The fleet status rows and table, from the objects the admin cluster holds for real tenants
(built by the same code the tenants play applies), and fleet_status through ansible-playbook."""
from __future__ import annotations

import copy
import datetime

from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import status


def _node(name, ready=True):
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": str(ready)}]}}


def _running(objs, ready):
    deploy = copy.deepcopy(objs[("Deployment", "kube-control-plane")])
    deploy["status"] = {"readyReplicas": ready}
    return deploy


def test_rows_say_what_runs_beside_what_the_inventory_wants(build_tenant):
    spec, _material, objs = build_tenant()
    name = spec["name"]
    secrets = [o for (kind, _n), o in objs.items() if kind == "Secret"]
    deploy = _running(objs, ready=spec["replicas"])
    now = datetime.datetime.now(datetime.UTC)
    inventory = [{"name": name, "version": spec["kubernetes_version"], "endpoint": "192.0.2.10:31443",
                  "nodes": [_node("w-0"), _node("w-1", ready=False)]},
                 {"name": "later", "version": versions.KUBERNETES, "endpoint": "192.0.2.10:31444", "nodes": None,
                  "error": "no admin kubeconfig Secret"}]
    usage = {name: {"keys": 12, "bytes": 3456}, "gone": {"keys": 3, "bytes": 9}}
    rows = status.rows(inventory, [deploy], status.certificates(secrets), usage, now=now)
    by = {r["name"]: r for r in rows}
    assert sorted(by) == sorted([name, "later", "gone"])
    row = by[name]
    assert row["running"] == spec["kubernetes_version"] and row["replicas"] == "%d/%d" % (spec["replicas"], spec["replicas"])
    assert 360 <= row["cert_days"] <= 366, row["cert_days"]
    assert (row["etcd_keys"], row["etcd_bytes"], row["workers"]) == (12, 3456, "1/2")
    assert row["state"] == "workers not Ready: w-1"
    assert by["later"]["state"] == "not deployed yet"
    assert by["gone"]["state"] == "orphaned (in the admin cluster, not in the inventory)"
    lines = status.table(rows)
    assert lines[0].split()[:3] == ["tenant", "version", "running"]
    assert len(lines) == 4 and all("KEY" not in line for line in lines)


def test_a_tenant_running_another_release_or_short_of_replicas_is_named(build_tenant):
    spec, _material, objs = build_tenant(kubernetes_version=versions.KUBERNETES_OLDER[0])
    inventory = [{"name": spec["name"], "version": versions.KUBERNETES, "endpoint": "e", "nodes": []}]
    row = status.rows(inventory, [_running(objs, ready=1)], {}, {})[0]
    assert row["state"] == (f"replicas not ready; runs {versions.KUBERNETES_OLDER[0]}, the inventory wants "
                            f"{versions.KUBERNETES}")
    assert row["cert_days"] is None and row["workers"] == "0/0"
    assert status.table([row])[1].split()[5] == "-"  # no PKI Secret read: no expiry


def test_a_write_frozen_tenant_says_so_and_still_serves(build_tenant):
    spec, _material, objs = build_tenant()
    inventory = [{"name": spec["name"], "version": spec["kubernetes_version"], "endpoint": "e", "nodes": []}]
    usage = {spec["name"]: {"keys": 12, "bytes": 3456, "permission": "read"}}
    row = status.rows(inventory, [_running(objs, ready=spec["replicas"])], {}, usage)[0]
    assert row["state"] == "write-frozen (etcd: read only)"
    assert row["serving"] is True  # reads serve: an upgrade gate does not count it out
    usage[spec["name"]]["permission"] = "readwrite"
    assert status.rows(inventory, [_running(objs, ready=spec["replicas"])], {}, usage)[0]["state"] == "ok"


def test_admin_kubeconfig_comes_from_the_tenants_secret(build_tenant):
    spec, material, objs = build_tenant()
    secrets = [o for (kind, _n), o in objs.items() if kind == "Secret"]
    assert status.admin_kubeconfig(secrets, spec["name"]) == material["admin.conf"]
    assert status.admin_kubeconfig(secrets, "other") == ""


def test_fleet_status_module_returns_rows_table_and_problems_never_secrets(build_tenant, tmp_path):
    spec, _material, objs = build_tenant()
    secrets = [o for (kind, _n), o in objs.items() if kind == "Secret"]
    args = {"tenants": [{"name": spec["name"], "version": spec["kubernetes_version"], "endpoint": "e", "nodes": []}],
            "deployments": [_running(objs, ready=spec["replicas"])], "certificates": status.certificates(secrets)}
    res = run_playbook([{"hosts": "localhost", "gather_facts": False,
                         "tasks": [{"name": "t", "kamaji.core.fleet_status": args}]}], tmp_path)
    assert res.rc == 0, res.failed_tasks()
    t = res.task("t")
    assert t["rows"][0]["state"] == "ok" and t["problems"] == {}
    assert t["rows"][0]["name"] == spec["name"] and "*" not in "".join(t["table"])  # nothing masked by no_log
    assert all(k.endswith(".crt") for certs in status.certificates(secrets).values() for k in certs)


def test_a_tenant_marked_absent_reads_deleted_once_nothing_of_it_is_left(build_tenant):
    spec, _material, objs = build_tenant()
    name = spec["name"]
    marked = [{"name": name, "version": spec["kubernetes_version"], "endpoint": "e", "state": "absent", "nodes": None,
               "error": "no admin kubeconfig Secret"}]
    still = status.rows(marked, [_running(objs, ready=1)], {}, {name: {"keys": 40, "bytes": 900}})[0]
    assert still["state"] == "marked absent, not deleted yet (the tenants play deletes it)"
    for usage in ({}, {name: {"keys": 0, "bytes": 0}}):
        assert status.rows(marked, [], {}, usage)[0]["state"] == "deleted"


def test_the_upgrade_gates_name_the_tenants_that_do_not_serve_and_those_that_move(build_tenant):
    """Serving: every replica ready and the API answered; a tenant not deployed yet, marked absent or
    orphaned is neither serving nor failing the gate."""
    spec, _material, objs = build_tenant(kubernetes_version=versions.KUBERNETES_OLDER[0])
    name = spec["name"]
    deploy = _running(objs, ready=spec["replicas"])
    older, newer = versions.KUBERNETES_OLDER[0], versions.KUBERNETES

    def gates(ready=spec["replicas"], nodes=(), error=None, version=newer, state="present"):
        inv = [{"name": name, "version": version, "endpoint": "e", "state": state,
                "nodes": None if error else list(nodes), "error": error},
               {"name": "later", "version": newer, "endpoint": "e", "nodes": None, "error": "no admin kubeconfig Secret"}]
        return status.gates(status.rows(inv, [_running(objs, ready=ready)], {}, {}))

    assert gates() == {"not_serving": {}, "moving": {name: f"{older} -> {newer}"}, "refused": {}}
    assert gates(version=older) == {"not_serving": {}, "moving": {}, "refused": {}}
    # workers not Ready are a row's problem, not a control plane that does not serve
    assert gates(version=older, nodes=[_node("w-0", ready=False)])["not_serving"] == {}
    assert gates(ready=1, version=older)["not_serving"] == {name: "replicas not ready"}
    assert gates(version=older, error="connection refused")["not_serving"] == {name: "API: connection refused"}
    assert gates(state="absent", ready=0) == {"not_serving": {}, "moving": {}, "refused": {}}
    assert status.gates(status.rows([], [deploy], {}, {})) == {"not_serving": {}, "moving": {}, "refused": {}}  # orphaned
    # a move that skips a minor or goes down is refused, naming the field, the releases and the fix
    skip = "v1.%d.0" % (versions.minor(older) + 2)
    assert gates(version=skip)["refused"] == {name: (
        f"tenant.kubernetes_version: {skip} skips a minor from the running {older}; upgrade one minor at a time "
        f"(first v1.{versions.minor(older) + 1})")}
    down = "v1.%d.0" % (versions.minor(older) - 1)
    assert gates(version=down)["refused"] == {name: (
        f"tenant.kubernetes_version: {down} would downgrade the running {older}; tenant control planes never move "
        f"down a minor: set it to v1.{versions.minor(older)}.x or newer")}
    assert gates(version=older[:-1] + "9")["refused"] == {}  # a patch release of the same minor
