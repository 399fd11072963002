"""The tenant_control_plane role against the fixture admin kube-apiserver and the shared TLS etcd.

No kubelet runs here (so the role's rollout gate is off: tenant_control_plane_wait_rollout):
after the role applied the objects, the test starts each tenant's
kube-apiserver, controller-manager and scheduler as processes with exactly the commands
and arguments of the applied Deployment and the files of the applied Secrets (paths,
ports and bind addresses mapped to this machine), then runs the role again, which waits
for /readyz and bootstraps the tenant cluster."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
import yaml
from harness.procs import binary, free_port
from harness.runner import REPO, run_playbook
from harness.tenant_processes import TenantProcesses, write_private

PLAYBOOK = os.path.join(REPO, "playbooks", "tenants.yml")
# The fixture admin cluster carries the site marker the admin_cluster role writes (the tenants
# play refuses an admin cluster without it); test_site_marker_* take it away or change the CA.
pytestmark = pytest.mark.usefixtures("site_marker")


def _inventory(tmp_path, etcd_cluster, kube, tenants, **extra):
    pki = etcd_cluster.credentials_dir(tmp_path / "etcd-pki")
    inv = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                   "children": {
        "etcd_credentials": {"hosts": {"etcd-creds": {}}},
        "tenants": {"hosts": tenants, "vars": dict({
            "tenant_control_plane_admin_kubeconfig": kube.kubeconfig,
            "tenant_control_plane_etcd_endpoints": etcd_cluster.endpoints,
            "tenant_control_plane_etcd_credentials_host": "etcd-creds",
            "tenant_control_plane_etcd_pki_dir": str(pki),
            "tenant_control_plane_wait_timeout": 60,
            # no kubelet runs the Deployment's pods here (the test runs their processes): no
            # rollout ever finishes; the e2e tier proves that gate on the lab
            "tenant_control_plane_wait_rollout": False,
        }, **extra)},
    }}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def _kubectl(kube, *args, check=True):
    return kube.kubectl(*args, check=check)


def _changed(res):
    return {h: s.get("changed", 0) for h, s in res.stats.items() if s.get("changed")}


@pytest.fixture(scope="module")
def tenants(etcd_cluster, kube_control_plane, site_marker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tenants")
    ports = {"blue": free_port(), "green": free_port()}
    hosts = {name: {"tenant": {"endpoint": {"address": "192.0.2.10", "port": port}, "service_type": "ClusterIP",
                               "replicas": 2},
                    "tenant_control_plane_api_url": f"https://127.0.0.1:{port}"}
             for name, port in ports.items()}
    inventory = _inventory(tmp, etcd_cluster, kube_control_plane, hosts,
                           tenant_control_plane_kubeconfig_dir=str(tmp))
    runs = {"check": run_playbook(PLAYBOOK, tmp, inventory=inventory, check=True)}
    after_check = {
        "namespaces": kube_control_plane.kubectl("get", "ns", "-o", "name").stdout.split(),
        "etcd_users": etcd_cluster.etcdctl("user", "list").stdout.split(),
    }
    runs["apply"] = run_playbook(PLAYBOOK, tmp, {"tenant_control_plane_wait": False}, inventory=inventory)
    assert runs["apply"].rc == 0, runs["apply"].failed_tasks()
    procs = {name: TenantProcesses(kube_control_plane, name, str(tmp / f"proc-{name}")).start() for name in ports}
    try:
        runs["ready"] = run_playbook(PLAYBOOK, tmp, inventory=inventory)
        assert runs["ready"].rc == 0, runs["ready"].failed_tasks()
        runs["again"] = run_playbook(PLAYBOOK, tmp, inventory=inventory)
        kubeconfigs = {}
        for name, port in ports.items():
            conf = yaml.safe_load((tmp / f"{name}.kubeconfig").read_text())
            conf["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
            path = tmp / f"{name}-local.kubeconfig"
            path.write_text(yaml.safe_dump(conf))
            kubeconfigs[name] = str(path)
        yield {"runs": runs, "after_check": after_check, "procs": procs, "kubeconfigs": kubeconfigs, "dir": tmp, "inventory": inventory}
    finally:
        for p in procs.values():
            p.stop()


def tkubectl(tenants, name, *args, check=True):
    return subprocess.run([binary("kubectl"), "--kubeconfig", tenants["kubeconfigs"][name], *args],
                          capture_output=True, text=True, check=check, timeout=60)


def test_check_mode_reports_changes_and_makes_none(tenants):
    res = tenants["runs"]["check"]
    assert res.rc == 0, res.failed_tasks()
    assert _changed(res), "check mode on new tenants reports what it would change"
    assert "namespace/tenant-blue" not in tenants["after_check"]["namespaces"]
    assert "blue" not in tenants["after_check"]["etcd_users"]


def test_objects_accepted_by_the_admin_api(tenants, kube_control_plane):
    for name in ("blue", "green"):
        ns = f"tenant-{name}"
        out = json.loads(kube_control_plane.kubectl("get", "ns", ns, "-o", "json").stdout)
        assert out["metadata"]["labels"]["kamaji.core/tenant"] == name
        kinds = kube_control_plane.kubectl("-n", ns, "get", "deploy,svc,pdb,secret", "-o", "name").stdout.split()
        assert {"deployment.apps/kube-control-plane", "service/kube-apiserver",
                "poddisruptionbudget.policy/kube-control-plane", "secret/kamaji-pki", "secret/kamaji-kubeconfigs",
                "secret/kamaji-admin-kubeconfig"} <= set(kinds)
        deploy = tenants["procs"][name].deployment
        assert deploy["spec"]["replicas"] == 2
        assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
        assert len(deploy["spec"]["template"]["metadata"]["annotations"]["kamaji.core/pki-checksum"]) == 64
        api = deploy["spec"]["template"]["spec"]["containers"][0]
        assert f"--etcd-prefix=/{name}" in api["args"] and "--etcd-compaction-interval=0" in api["args"]
        assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert api["livenessProbe"]["httpGet"]["path"] == "/livez"


def test_tenant_api_works_and_is_bootstrapped(tenants):
    for name in ("blue", "green"):
        assert "kube-system" in tkubectl(tenants, name, "get", "ns").stdout
        assert tkubectl(tenants, name, "-n", "kube-public", "get", "configmap", "cluster-info").returncode == 0
        assert tkubectl(tenants, name, "-n", "kube-system", "get", "configmap", "kubeadm-config",
                        "kubelet-config", "kube-proxy", "coredns").returncode == 0
        crbs = tkubectl(tenants, name, "get", "clusterrolebinding", "-o", "name").stdout
        for crb in ("kubeadm:cluster-admins", "kubeadm:kubelet-bootstrap", "kubeadm:node-autoapprove-bootstrap",
                    "kubeadm:node-autoapprove-certificate-rotation"):
            assert f"clusterrolebinding.rbac.authorization.k8s.io/{crb}" in crbs
        who = tkubectl(tenants, name, "auth", "whoami", "-o", "json").stdout
        assert "kubeadm:cluster-admins" in who
        assert tkubectl(tenants, name, "auth", "can-i", "create", "nodes").stdout.strip() == "yes"


def test_tenants_are_isolated_in_the_api_and_in_etcd(tenants, etcd_cluster):
    tkubectl(tenants, "blue", "create", "configmap", "only-blue", "--from-literal=k=v")
    assert tkubectl(tenants, "green", "get", "configmap", "only-blue", check=False).returncode != 0
    keys = etcd_cluster.etcdctl("get", "", "--prefix", "--keys-only").stdout.split()
    blue_keys = [k for k in keys if "only-blue" in k]
    assert blue_keys == ["/blue/configmaps/default/only-blue"]
    # every key of a tenant lives under its prefix: the namespaces of each tenant
    assert "/blue/namespaces/kube-system" in keys and "/green/namespaces/kube-system" in keys
    assert not [k for k in keys if k.startswith("/namespaces/") or k.startswith("/registry/configmaps/default/only")]


def test_secrets_are_sealed_in_etcd_with_the_tenants_own_key(tenants, etcd_cluster, kube_control_plane):
    """Read raw from etcd, every Secret of a tenant is ciphertext under its own key; through the API
    it reads back as written."""
    plain = "a-value-nobody-may-read-from-etcd"
    keys = {}
    for name in ("blue", "green"):
        tkubectl(tenants, name, "create", "secret", "generic", "sealed", f"--from-literal=k={plain}")
        out = json.loads(etcd_cluster.etcdctl("get", f"/{name}/secrets/", "--prefix", "-w", "json").stdout)
        keys[name] = {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]) for kv in out["kvs"]}
        assert f"/{name}/secrets/default/sealed" in keys[name]
    for values in keys.values():
        for key, value in values.items():
            assert value.startswith(b"k8s:enc:secretbox:v1:key-1:"), (key, value[:40])
    assert plain.encode() not in keys["blue"]["/blue/secrets/default/sealed"]
    read = tkubectl(tenants, "blue", "get", "secret", "sealed", "-o", "jsonpath={.data.k}").stdout
    assert base64.b64decode(read).decode() == plain
    # each tenant has its own key
    configs = {name: json.loads(base64.b64decode(json.loads(kube_control_plane.kubectl(
        "-n", f"tenant-{name}", "get", "secret", "kamaji-pki", "-o", "json").stdout)["data"]["encryption-config.yaml"]))
        for name in ("blue", "green")}
    blue_key, green_key = (c["resources"][0]["providers"][0]["secretbox"]["keys"][0]["secret"] for c in configs.values())
    assert blue_key != green_key


def _restart_apiserver(tenants, name, drop=()):
    """Blue's kube-apiserver restarted (without the flags ``drop`` names), then ready again."""
    api = next(p for p in tenants["procs"][name].procs if p.name.endswith("kube-apiserver"))
    api.stop()
    if drop:
        api.original_argv = getattr(api, "original_argv", api.argv)
        api.argv = [a for a in api.original_argv if not a.startswith(drop)]
    elif hasattr(api, "original_argv"):
        api.argv = api.original_argv
    api.start()
    deadline = time.monotonic() + 240  # a loaded machine (the e2e tier beside) starts it slowly
    while time.monotonic() < deadline:
        if tkubectl(tenants, name, "get", "--raw", "/readyz", check=False).stdout.strip() == "ok":
            return
        time.sleep(2)
    raise AssertionError(f"{name}'s API server did not become ready again within 240 s")


def test_secrets_written_before_encryption_are_sealed_by_the_next_run(tenants, etcd_cluster):
    """A Secret written while blue's API server ran without encryption (as under an earlier
    collection) is in the clear in etcd; a run while blue is write-frozen leaves it; the run that
    thaws blue finds it there and writes it again through the API: sealed with blue's key, same
    value; the run after changes nothing."""
    # an API server without the configuration cannot read sealed data: blue starts from none
    tkubectl(tenants, "blue", "delete", "secrets", "--all", "--all-namespaces")
    _restart_apiserver(tenants, "blue", drop=("--encryption-provider-config",))
    try:
        tkubectl(tenants, "blue", "create", "secret", "generic", "legacy", "--from-literal=k=written-in-the-clear")
    finally:
        _restart_apiserver(tenants, "blue")
    key = "/blue/secrets/default/legacy"

    def raw():
        out = json.loads(etcd_cluster.etcdctl("get", key, "-w", "json").stdout)
        return base64.b64decode(out["kvs"][0]["value"])

    assert b"written-in-the-clear" in raw()
    # write-frozen, blue cannot write it again: it waits for the run that thaws blue
    with open(tenants["inventory"], encoding="utf-8") as f:
        inv = yaml.safe_load(f)
    inv["all"]["children"]["tenants"]["hosts"]["blue"]["tenant"]["write_freeze"] = True
    frozen_inventory = tenants["dir"] / "frozen-unsealed.yml"
    frozen_inventory.write_text(yaml.safe_dump(inv))
    frozen = run_playbook(PLAYBOOK, tenants["dir"], inventory=str(frozen_inventory))
    assert frozen.rc == 0, frozen.failed_tasks()
    assert b"written-in-the-clear" in raw()
    res = run_playbook(PLAYBOOK, tenants["dir"], inventory=tenants["inventory"])
    assert res.rc == 0, res.failed_tasks()
    reseal = "Objects written before their encryption are sealed with the tenant's key (each written again)"
    assert res.task(reseal, host="blue")["changed"] is True
    assert res.task(reseal, host="green").get("changed") is not True
    assert raw().startswith(b"k8s:enc:secretbox:v1:key-1:") and b"written-in-the-clear" not in raw()
    read = tkubectl(tenants, "blue", "get", "secret", "legacy", "-o", "jsonpath={.data.k}").stdout
    assert base64.b64decode(read).decode() == "written-in-the-clear"
    again = run_playbook(PLAYBOOK, tenants["dir"], inventory=tenants["inventory"])
    assert again.rc == 0 and _changed(again) == {}, again.stdout[-3000:]


def test_second_run_changes_nothing(tenants):
    again = tenants["runs"]["again"]
    assert again.rc == 0, again.failed_tasks()
    assert _changed(again) == {}, again.stdout[-3000:]


def test_a_workers_job_reads_its_tenants_kubeconfig_from_the_admin_cluster(tenants, kube_control_plane, tmp_path):
    """The tenant_worker role's kubeconfig source (a workers job in a fresh AWX container has no
    file from the tenants job): each worker's tenant kubeconfig is read from the admin cluster
    into a private scratch file, the one the tenants play wrote, and the scratch is removed; an
    unknown tenant fails naming kamaji_tenant."""
    play = [{"hosts": "workers", "gather_facts": False, "tasks": [
        {"name": "read", "ansible.builtin.include_role": {"name": "kamaji.core.tenant_worker",
                                                          "tasks_from": "kubeconfig"}},
        {"name": "what was read", "ansible.builtin.set_fact": {
            "read_text": "{{ lookup('ansible.builtin.file', _tenant_worker_conf_path) }}",
            "read_path": "{{ _tenant_worker_conf_path }}", "read_mode": "{{ (_tenant_worker_conf_path is file) }}"}},
        {"name": "done", "ansible.builtin.include_role": {"name": "kamaji.core.tenant_worker",
                                                          "tasks_from": "kubeconfig_done"}}]}]
    inv = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                            "admin_cluster_kubeconfig": kube_control_plane.kubeconfig},
                   "children": {"workers": {"hosts": {"blue-w0": {"kamaji_tenant": "blue"},
                                                      "green-w0": {"kamaji_tenant": "green"}}}}}}
    inventory = tmp_path / "workers.yml"
    inventory.write_text(yaml.safe_dump(inv))
    res = run_playbook(play, tmp_path, inventory=str(inventory))
    assert res.rc == 0, res.failed_tasks()
    for host, name in (("blue-w0", "blue"), ("green-w0", "green")):
        facts = res.task("what was read", host=host)["ansible_facts"]
        written = yaml.safe_load((tenants["dir"] / f"{name}.kubeconfig").read_text())
        assert yaml.safe_load(facts["read_text"]) == written, host
        assert not os.path.exists(facts["read_path"]), facts["read_path"]  # the scratch is gone
    assert _changed(res) == {}

    inv["all"]["children"]["workers"]["hosts"] = {"lost-w0": {"kamaji_tenant": "no-such-tenant"}}
    inventory.write_text(yaml.safe_dump(inv))
    lost = run_playbook(play, tmp_path, inventory=str(inventory))
    assert lost.rc != 0
    msg = lost.task("The tenant has an admin kubeconfig (the tenants play made the tenant)", host="lost-w0")["msg"]
    assert msg.startswith("lost-w0: tenant no-such-tenant (kamaji_tenant) has no admin kubeconfig in the admin cluster "), msg

    # the admin cluster's kubeconfig missing, or not one the admin cluster accepts: named, nothing shown of it
    for admin, field in ((str(tmp_path / "nowhere.conf"), "is not a file on the controller"),
                         (str(tmp_path / "workers.yml"), "could not be read from the admin cluster")):
        inv["all"]["vars"]["admin_cluster_kubeconfig"] = admin
        inventory.write_text(yaml.safe_dump(inv))
        refused = run_playbook(play, tmp_path, inventory=str(inventory))
        assert refused.rc != 0
        msg = refused.task("The admin cluster could not be read", host="lost-w0")["msg"]
        assert msg.startswith("tenant_worker_admin_kubeconfig: ") and field in msg and admin in msg, msg


def test_a_write_frozen_tenant_serves_reads_refuses_writes_and_thaws(tenants, etcd_cluster):
    """tenant.write_freeze: true makes blue read-only at the datastore (its etcd role reads its prefix);
    its API keeps serving reads, every write fails naming etcd's refusal; green is untouched; false lifts it."""
    with open(tenants["inventory"], encoding="utf-8") as f:
        inv = yaml.safe_load(f)
    inv["all"]["children"]["tenants"]["hosts"]["blue"]["tenant"]["write_freeze"] = True
    frozen_inventory = tenants["dir"] / "frozen.yml"
    frozen_inventory.write_text(yaml.safe_dump(inv))
    try:
        frozen = run_playbook(PLAYBOOK, tenants["dir"], inventory=str(frozen_inventory))
        assert frozen.rc == 0, frozen.failed_tasks()
        read, write = etcd_cluster.etcdctl("role", "get", "blue").stdout.split("KV Write:")
        assert "[/blue/, /blue0)" in read and "/blue" not in write, (read, write)
        assert tkubectl(tenants, "blue", "get", "--raw", "/readyz").stdout.strip() == "ok"
        assert "only-blue" in tkubectl(tenants, "blue", "get", "configmap", "-o", "name").stdout
        refused = tkubectl(tenants, "blue", "create", "configmap", "while-frozen", "--from-literal=k=v", check=False)
        assert refused.returncode != 0 and "etcdserver: permission denied" in refused.stderr, refused.stderr
        tkubectl(tenants, "green", "create", "configmap", "green-while-blue-frozen", "--from-literal=k=v")
        again = run_playbook(PLAYBOOK, tenants["dir"], inventory=str(frozen_inventory))
        assert again.rc == 0 and _changed(again) == {}, again.stdout[-3000:]
    finally:
        thawed = run_playbook(PLAYBOOK, tenants["dir"], inventory=tenants["inventory"])
    assert thawed.rc == 0, thawed.failed_tasks()
    assert "[/blue/, /blue0)" in etcd_cluster.etcdctl("role", "get", "blue").stdout.split("KV Write:")[1]
    tkubectl(tenants, "blue", "create", "configmap", "after-thaw", "--from-literal=k=v")


def _pki_secret(kube, name):
    obj = json.loads(kube.kubectl("-n", f"tenant-{name}", "get", "secret", "kamaji-pki", "-o", "json").stdout)
    return obj["metadata"]["resourceVersion"], base64.b64decode(obj["data"]["encryption-config.yaml"]).decode()


def test_a_key_rotation_is_previewed_and_refused_for_a_write_frozen_tenant(tenants, kube_control_plane, etcd_cluster):
    """tenant.encryption_key_generation: 2 on blue: check mode names the rotation's stages and
    changes nothing; on green, write-frozen, the run refuses it before any change, naming the field
    (a rotation writes again what the old key sealed). The rotation itself, rolled out stage by
    stage by the admin cluster's kubelets, is the e2e tier's."""
    with open(tenants["inventory"], encoding="utf-8") as f:
        inv = yaml.safe_load(f)
    hosts = inv["all"]["children"]["tenants"]["hosts"]
    hosts["blue"]["tenant"]["encryption_key_generation"] = 2
    hosts["green"]["tenant"].update(encryption_key_generation=2, write_freeze=True)
    rotating = tenants["dir"] / "rotating.yml"
    rotating.write_text(yaml.safe_dump(inv))
    before = {name: _pki_secret(kube_control_plane, name) for name in ("blue", "green")}
    roles = {name: etcd_cluster.etcdctl("role", "get", name).stdout for name in ("blue", "green")}
    preview = run_playbook(PLAYBOOK, tenants["dir"], inventory=str(rotating), check=True)
    assert preview.rc != 0  # green's refusal
    would = preview.task("Check mode - this tenant's key would be rotated", host="blue")
    assert would["changed"] is True
    assert would["msg"].startswith("tenant blue would rotate its encryption key to key-2: stages promote, drop, "), would
    refused = run_playbook(PLAYBOOK, tenants["dir"], inventory=str(rotating), args=("--limit", "green"))
    assert refused.rc != 0
    msg = refused.task("The tenant spec is valid (nothing has changed yet)", host="green")["msg"]
    assert msg == ("tenant green: tenant.encryption_key_generation: 2 rotates the key of a write-frozen tenant; a "
                   "rotation writes again what the old key sealed: set tenant.write_freeze: false for it, or leave "
                   "tenant.encryption_key_generation out"), msg
    assert _changed(refused) == {}
    assert {name: _pki_secret(kube_control_plane, name) for name in ("blue", "green")} == before
    assert {name: etcd_cluster.etcdctl("role", "get", name).stdout for name in ("blue", "green")} == roles
    assert [k["name"] for k in json.loads(before["blue"][1])["resources"][0]["providers"][0]["secretbox"]["keys"]] \
        == ["key-1"]


QUOTA_TASK = "Tenants over their storage quota are write-frozen (tenant.storage_quota)"


def _run_once(res, name):
    """The result of a run_once task (reported on the first host of its play)."""
    return next(iter(next(t for p in res.data["plays"] for t in p["tasks"]
                          if t["task"]["name"].split(" : ", 1)[-1] == name)["hosts"].values()))


def _prefix_bytes(etcd_cluster, name):
    out = json.loads(etcd_cluster.etcdctl("get", f"/{name}/", "--prefix", "-w", "json").stdout)
    return sum(len(base64.b64decode(kv["key"])) + len(base64.b64decode(kv.get("value", ""))) for kv in out["kvs"])


def test_a_tenant_over_its_storage_quota_is_write_frozen_until_under_it(tenants, etcd_cluster):
    """tenant.storage_quota: under it, blue writes; a 600 kB ConfigMap takes it over, and the next run
    write-freezes it (named in the run's output), green untouched; a raised quota lifts it."""
    with open(tenants["inventory"], encoding="utf-8") as f:
        inv = yaml.safe_load(f)
    blue = inv["all"]["children"]["tenants"]["hosts"]["blue"]["tenant"]
    path = tenants["dir"] / "quota.yml"

    def run(quota):
        blue["storage_quota"] = quota
        path.write_text(yaml.safe_dump(inv))
        res = run_playbook(PLAYBOOK, tenants["dir"], inventory=str(path))
        assert res.rc == 0, res.failed_tasks()
        return res

    try:
        under = run(_prefix_bytes(etcd_cluster, "blue") + 300 * 1024)
        assert _run_once(under, QUOTA_TASK).get("skipped"), _run_once(under, QUOTA_TASK)
        big = tenants["dir"] / "big.txt"
        big.write_text("x" * 600 * 1024)
        tkubectl(tenants, "blue", "create", "configmap", "big", f"--from-file=big={big}")
        over = run(blue["storage_quota"])
        msg = _run_once(over, QUOTA_TASK)["msg"]
        assert msg.startswith("blue: over tenant.storage_quota, so write-frozen"), msg
        refused = tkubectl(tenants, "blue", "create", "configmap", "one-more", "--from-literal=k=v", check=False)
        assert refused.returncode != 0 and "etcdserver: permission denied" in refused.stderr, refused.stderr
        assert tkubectl(tenants, "blue", "get", "--raw", "/readyz").stdout.strip() == "ok"
        tkubectl(tenants, "green", "create", "configmap", "green-while-blue-over", "--from-literal=k=v")
        lifted = run(blue["storage_quota"] + 1024 * 1024)
        assert _run_once(lifted, QUOTA_TASK).get("skipped"), _run_once(lifted, QUOTA_TASK)
        tkubectl(tenants, "blue", "delete", "configmap", "big")
    finally:
        thawed = run_playbook(PLAYBOOK, tenants["dir"], inventory=tenants["inventory"])
    assert thawed.rc == 0, thawed.failed_tasks()
    tkubectl(tenants, "blue", "create", "configmap", "after-quota", "--from-literal=k=v")


E = {"address": "192.0.2.10", "port": 31000}
BAD = {
    "bad-name": {"tenant_name": "Bad_Name", "tenant": {"endpoint": E}},
    "bad-version": {"tenant_name": "t1", "tenant": {"kubernetes_version": "v1.20.0", "endpoint": E}},
    "bad-replicas": {"tenant_name": "t2", "tenant": {"replicas": -1, "endpoint": E}},
    "bad-cidr": {"tenant_name": "t3", "tenant": {"service_cidr": "10.96.0.1/16", "endpoint": E}},
    "overlap": {"tenant_name": "t4", "tenant": {"pod_cidr": "10.96.0.0/12", "endpoint": E}},
    "no-endpoint": {"tenant_name": "t5"},
    "bad-port": {"tenant_name": "t6", "tenant": {"endpoint": {"address": "192.0.2.10", "port": 6443}}},
    "bad-service-type": {"tenant_name": "t7", "tenant": {"service_type": "Ingress", "endpoint": E}},
    "bad-dns-ip": {"tenant_name": "t8", "tenant": {"dns_service_ip": "10.0.0.10", "endpoint": E}},
    "managed-flag": {"tenant_name": "t9", "tenant": {"extra_args": {"apiserver": {"etcd-prefix": "/other"}},
                                                     "endpoint": E}},
    "bad-addon": {"tenant_name": "t10", "tenant": {"addons": {"dashboard": True}, "endpoint": E}},
    "typo": {"tenant_name": "t11", "tenant": {"kubernetes_verison": "v1.36.3", "endpoint": E}},
}
FIELDS = {"bad-name": "name", "bad-version": "tenant.kubernetes_version", "bad-replicas": "tenant.replicas",
          "bad-cidr": "tenant.service_cidr", "overlap": "tenant.pod_cidr", "no-endpoint": "tenant.endpoint.address",
          "bad-port": "tenant.endpoint.port", "bad-service-type": "tenant.service_type",
          "bad-dns-ip": "tenant.dns_service_ip", "managed-flag": "tenant.extra_args.apiserver.etcd-prefix",
          "bad-addon": "tenant.addons.dashboard",
          "typo": "tenant.kubernetes_verison: unknown field; did you mean kubernetes_version?"}


def test_invalid_specs_fail_before_any_change_naming_the_field(etcd_cluster, kube_control_plane, tmp_path):
    inventory = _inventory(tmp_path, etcd_cluster, kube_control_plane, BAD)
    before = etcd_cluster.etcdctl("user", "list").stdout
    res = run_playbook(PLAYBOOK, tmp_path, inventory=inventory)
    assert res.rc != 0
    for host, field in FIELDS.items():
        msg = res.task("The tenant spec is valid (nothing has changed yet)", host=host)["msg"]
        assert msg.startswith(f"tenant {host}: {field}"), msg
    assert etcd_cluster.etcdctl("user", "list").stdout == before
    namespaces = kube_control_plane.kubectl("get", "ns", "-o", "name").stdout
    assert not [n for n in namespaces.split() if n.startswith("namespace/tenant-t")]


def test_missing_admin_kubeconfig_fails_naming_the_variable(etcd_cluster, kube_control_plane, tmp_path):
    missing = str(tmp_path / "no-such-admin.conf")
    tenant = {"tenant-k": {"tenant": {"endpoint": {"address": "127.0.0.1", "port": free_port()}}}}
    inventory = _inventory(tmp_path, etcd_cluster, kube_control_plane, tenant,
                           tenant_control_plane_admin_kubeconfig=missing)
    before = etcd_cluster.etcdctl("user", "list").stdout
    res = run_playbook(PLAYBOOK, tmp_path, inventory=inventory)
    assert res.rc != 0
    msg = res.task("The admin cluster's kubeconfig is a file on the controller", host="tenant-k")["msg"]
    assert msg.startswith(f"tenant_control_plane_admin_kubeconfig: {missing} is not a file"), msg
    assert etcd_cluster.etcdctl("user", "list").stdout == before
    assert "tenant-tenant-k" not in kube_control_plane.kubectl("get", "ns", "-o", "name").stdout


MARKER_CHECK = "The admin cluster is the one this site deployed (its kamaji-site marker records this site's etcd CA)"


def _nothing_changed(res, etcd_cluster, kube, users_before, tenant):
    assert res.rc != 0
    assert not _changed(res), _changed(res)
    assert etcd_cluster.etcdctl("user", "list").stdout == users_before
    assert f"tenant-{tenant}" not in kube.kubectl("get", "ns", "-o", "name").stdout


def test_site_marker_missing_refuses_the_admin_cluster_before_any_change(etcd_cluster, kube_control_plane, tmp_path):
    """An admin cluster the site did not deploy (no kube-system/kamaji-site) is refused in one
    line naming the variable and the fix; tenant_control_plane_require_site_marker: false lets it be."""
    from harness.site import mark_site

    tenant = {"tenant-m": {"tenant": {"endpoint": {"address": "192.0.2.10", "port": free_port()}, "service_type": "ClusterIP"}}}
    inventory = _inventory(tmp_path, etcd_cluster, kube_control_plane, tenant)
    before = etcd_cluster.etcdctl("user", "list").stdout
    kube_control_plane.kubectl("delete", "configmap", "-n", "kube-system", "kamaji-site")
    try:
        res = run_playbook(PLAYBOOK, tmp_path, inventory=inventory)
        msg = res.task(MARKER_CHECK, host="tenant-m")["msg"]
        assert msg == (f"tenant_control_plane_admin_kubeconfig: {kube_control_plane.kubeconfig} points at an admin "
                       "cluster this site did not deploy: it has no kube-system/kamaji-site marker (the admin_cluster "
                       "role writes it); set it to this site's admin kubeconfig (admin_cluster_kubeconfig), run the "
                       "admin_cluster play on that cluster to mark it, or set tenant_control_plane_require_site_marker: "
                       "false"), msg
        _nothing_changed(res, etcd_cluster, kube_control_plane, before, "tenant-m")
        # told otherwise, the play goes on (check mode: it previews the tenant, changes nothing)
        off = _inventory(tmp_path, etcd_cluster, kube_control_plane, tenant, tenant_control_plane_require_site_marker=False)
        told = run_playbook(PLAYBOOK, tmp_path, inventory=off, check=True)
        assert told.rc == 0, told.failed_tasks()
        assert told.task(MARKER_CHECK, host="tenant-m").get("failed") is not True
    finally:
        mark_site(kube_control_plane.kubeconfig, os.path.dirname(etcd_cluster.pki.ca_file), tmp_path / "remark")
    assert etcd_cluster.etcdctl("user", "list").stdout == before


def test_site_marker_of_another_site_refuses_the_admin_cluster(etcd_cluster, kube_control_plane, tmp_path):
    """The marker records the etcd CA of the site that deployed the admin cluster: a site with
    another etcd CA is refused, naming both hashes."""
    from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

    tenant = {"tenant-o": {"tenant": {"endpoint": {"address": "192.0.2.10", "port": free_port()}, "service_type": "ClusterIP"}}}
    inventory = _inventory(tmp_path, etcd_cluster, kube_control_plane, tenant)
    key = pki.generate_key("ecdsa-p256")
    other = pki.cert_to_pem(pki.issue_ca("other-site-etcd-ca", key, 30))
    write_private(tmp_path / "etcd-pki" / "ca.crt", other)
    write_private(tmp_path / "etcd-pki" / "ca.key", pki.key_to_pem(key))
    before = etcd_cluster.etcdctl("user", "list").stdout
    res = run_playbook(PLAYBOOK, tmp_path, inventory=inventory)
    msg = res.task(MARKER_CHECK, host="tenant-o")["msg"]
    ours = pki.ca_cert_hash(open(etcd_cluster.pki.ca_file, encoding="utf-8").read())
    assert msg.startswith(f"tenant_control_plane_admin_kubeconfig: {kube_control_plane.kubeconfig} points at the "
                          f"admin cluster of another site: its kube-system/kamaji-site marker records the etcd CA {ours}, "
                          f"this site's etcd CA is {pki.ca_cert_hash(other)}; set it to"), msg
    assert "\n" not in msg
    _nothing_changed(res, etcd_cluster, kube_control_plane, before, "tenant-o")
