"""The admin cluster's certificate renewal, through the real plays of the admin_cluster playbook
(the parallel read, then one node at a time) on localhost: a stand-in kubeadm per node (its
certificates' days left in a state file; `certs renew all` sets them to 364 and renews
admin.conf), the static pod manifests in a scratch directory, and a stand-in admin API over
TLS whose control-plane pods start when their manifest was last stamped (as the kubelet
restarts a static pod whose manifest changed)."""
from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import sys
import threading

import pytest
import yaml
from harness.paths import REPO
from harness.runner import run_playbook

COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
OLD = "2020-01-01T00:00:00Z"
STAMP = "kamaji.core/certs-renewed"
CHECK_PLAY = "Admin cluster - whose kubeadm certificates are renewed (one read each, in parallel)"
RENEW_PLAY = "Admin cluster - kubeadm certificate renewal, one control-plane node at a time"

KUBEADM = r'''#!{python}
import json, sys
state, calls, conf = {state!r}, {calls!r}, {conf!r}
args = sys.argv[1:]
with open(calls, "a") as f:
    f.write({node!r} + " " + " ".join(args) + "\n")
days = int(open(state).read())
if args[:2] == ["certs", "check-expiration"]:
    certs = [("admin.conf", days * 86400 + 3600), ("apiserver", days * 86400 + 5),
             ("front-proxy-client", days * 86400 + 7200), ("external", 2 * 86400)]
    print(json.dumps({{"kind": "CertificateExpirationInfo", "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
                      "certificates": [{{"name": n, "expirationDate": "in-%d-days" % (t // 86400), "residualTime": t,
                                        "externallyManaged": n == "external", "caName": "ca", "missing": False}}
                                       for n, t in certs], "certificateAuthorities": []}}))
elif args == ["certs", "renew", "all"]:
    open(state, "w").write("364")
    text = open(conf).read()
    open(conf, "w").write(text.replace("token: old", "token: renewed"))
    print("Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, "
          "kube-scheduler and etcd, so that they can use the new certificates.")
else:
    sys.exit("unexpected: %s" % args)
'''


def _manifest(component):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": component, "namespace": "kube-system", "creationTimestamp": None,
                         "labels": {"component": component, "tier": "control-plane"},
                         "annotations": {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint":
                                         "10.89.0.10:6443"} if component == "kube-apiserver" else {}},
            "spec": {"hostNetwork": True, "containers": [{
                "name": component, "command": [component, "--bind-address=127.0.0.1", "--v=0"],
                "image": f"registry.k8s.io/{component}:" + ("3.7.3-0" if component == "etcd" else "v1.37.2"),
                "resources": {"requests": {"cpu": "250m"}}}]}}


class _API(http.server.BaseHTTPRequestHandler):
    manifests = ""
    nodes = ("cp-0", "cp-1")

    def log_message(self, *args):
        pass

    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _pods(self):
        items = []
        for node, name in ((n, m) for n in self.nodes for m in sorted(os.listdir(self.manifests))):
            if name.startswith(".") or not name.endswith(".yaml"):
                continue
            with open(os.path.join(self.manifests, name)) as f:
                pod = yaml.safe_load(f)
            started = (pod["metadata"].get("annotations") or {}).get(STAMP, OLD)
            pod["metadata"]["name"] += "-" + node
            pod["spec"]["nodeName"] = node
            pod["status"] = {"conditions": [{"type": "Ready", "status": "True"}],
                             "containerStatuses": [{"name": c["name"], "ready": True,
                                                    "state": {"running": {"startedAt": started}}}
                                                   for c in pod["spec"]["containers"]]}
            items.append(pod)
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/version":
            self._send({"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
        elif path == "/api":
            self._send({"kind": "APIVersions", "versions": ["v1"],
                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        elif path == "/apis":
            self._send({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif path == "/api/v1":
            self._send({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                 "verbs": ["get", "list", "watch"]}]})
        elif path == "/api/v1/namespaces/kube-system/pods":
            self._send(self._pods())
        else:
            self.send_error(404)


@pytest.fixture
def site(tmp_path):
    """The scratch node: its kubeadm directory, a stand-in kubeadm per node, the admin API."""
    etc = tmp_path / "etc"
    (etc / "manifests").mkdir(parents=True)
    for c in COMPONENTS:
        (etc / "manifests" / f"{c}.yaml").write_text(yaml.safe_dump(_manifest(c)))
    key, crt = tmp_path / "api.key", tmp_path / "api.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    handler = type("API", (_API,), {"manifests": str(etc / "manifests")})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(crt), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = "127.0.0.1:%d" % server.server_address[1]
    conf = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "admin",
                           "clusters": [{"name": "c", "cluster": {"server": "https://" + endpoint,
                                                                  "insecure-skip-tls-verify": True}}],
                           "users": [{"name": "u", "user": {"token": "old"}}],
                           "contexts": [{"name": "admin", "context": {"cluster": "c", "user": "u"}}]})
    (etc / "admin.conf").write_text(conf)
    controller = tmp_path / "controller" / "kamaji-admin.conf"
    controller.parent.mkdir()
    controller.write_text(conf)
    calls = tmp_path / "calls"
    calls.write_text("")
    paths = {}
    for node, days in (("cp-0", 30), ("cp-1", 200)):
        bindir = tmp_path / node
        bindir.mkdir()
        (bindir / "state").write_text(str(days))
        tool = bindir / "kubeadm"
        tool.write_text(KUBEADM.format(python=sys.executable, state=str(bindir / "state"), calls=str(calls),
                                       conf=str(etc / "admin.conf"), node=node))
        tool.chmod(0o755)
        paths[node] = str(bindir)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"admin_control_plane": {"hosts": {
        node: {"ansible_connection": "local", "kubeadm_dir": d} for node, d in paths.items()}}}))
    with open(os.path.join(REPO, "playbooks", "admin_cluster.yml")) as f:
        plays = {p["name"]: p for p in yaml.safe_load(f) if "name" in p}
    # the playbook's own two plays, each node finding its stand-in kubeadm first on its PATH
    play = [dict(plays[name], environment={"PATH": "{{ kubeadm_dir }}:" + os.environ["PATH"]})
            for name in (CHECK_PLAY, RENEW_PLAY)]
    extra = {"_admin_cluster_etc": str(etc), "admin_cluster_kubeconfig": str(controller),
             "admin_cluster_control_plane_endpoint": endpoint, "admin_cluster_ready_timeout": 10}
    yield {"etc": etc, "play": play, "extra": extra, "inventory": str(inventory), "calls": calls,
           "controller": controller, "tmp": tmp_path}
    server.shutdown()


def _run(site, check=False, **extra):
    return run_playbook(site["play"], site["tmp"], extra_vars=dict(site["extra"], **extra), check=check,
                        inventory=site["inventory"])


def _renewals(site):
    return [line for line in site["calls"].read_text().splitlines() if "renew" in line.split()]


def _manifests(site):
    return {c: (site["etc"] / "manifests" / f"{c}.yaml").read_text() for c in COMPONENTS}


def test_check_mode_says_which_node_would_renew_and_changes_nothing(site):
    before = _manifests(site)
    res = _run(site, check=True)
    assert res.rc == 0, res.failed_tasks()
    assert res.task("Check mode - this node would renew its kubeadm certificates", host="cp-0")["msg"] == (
        "cp-0 would renew its kubeadm certificates (first to expire: apiserver in 30 days)")
    assert res.task("Check mode - this node would renew its kubeadm certificates", host="cp-1").get("skipped")
    assert _renewals(site) == [] and _manifests(site) == before
    assert "token: old" in site["controller"].read_text() and "token: old" in (site["etc"] / "admin.conf").read_text()
    assert res.changed("cp-1") == 0


def test_the_node_under_the_threshold_renews_restarts_its_pods_and_a_rerun_does_nothing(site):
    res = _run(site)
    assert res.rc == 0, res.failed_tasks()
    assert _renewals(site) == ["cp-0 certs renew all"]
    stamped = {c: yaml.safe_load(text) for c, text in _manifests(site).items()}
    stamps = {c: m["metadata"]["annotations"].get(STAMP) for c, m in stamped.items()}
    assert len(set(stamps.values())) == 1 and None not in stamps.values(), stamps
    # the rest of each manifest is kubeadm's, unchanged
    for c, m in stamped.items():
        del m["metadata"]["annotations"][STAMP]
        assert m == _manifest(c)
    # the renewed admin.conf of the first node replaces the controller's
    assert "token: renewed" in site["controller"].read_text()
    assert res.task("Renewed", host="cp-0")["msg"] == (
        "cp-0 renewed its kubeadm certificates; the first to expire now: apiserver on in-364-days (in 364 days)")
    assert res.changed("cp-0") >= 3 and res.changed("cp-1") == 0

    again = _run(site)
    assert again.rc == 0, again.failed_tasks()
    assert again.changed("cp-0") == 0 and again.changed("cp-1") == 0
    assert _renewals(site) == ["cp-0 certs renew all"]


def test_renew_days_0_turns_it_off_and_a_higher_threshold_renews_both(site):
    res = _run(site, admin_cluster_certs_renew_days=0)
    assert res.rc == 0, res.failed_tasks()
    assert site["calls"].read_text() == "" and res.changed("cp-0") == 0
    res = _run(site, admin_cluster_certs_renew_days=365)
    assert res.rc == 0, res.failed_tasks()
    assert _renewals(site) == ["cp-0 certs renew all", "cp-1 certs renew all"]


def test_a_control_plane_that_does_not_come_back_stops_the_renewal_naming_what_it_lacks(site):
    (site["etc"] / "manifests" / "etcd.yaml").unlink()
    res = _run(site, admin_cluster_ready_timeout=1, admin_cluster_certs_renew_days=365)
    assert res.rc != 0
    msg = res.task("The control-plane pods of this node that have not settled", host="cp-0")["msg"]
    assert msg.startswith("cp-0: after 1 s its control plane has not settled: etcd-cp-0: missing")
    assert "admin_cluster_ready_timeout" in msg and "\n" not in msg
    assert _renewals(site) == ["cp-0 certs renew all"]  # cp-1 waits
