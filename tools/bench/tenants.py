"""Benchmark: N tenants with replicas 0 through the kamaji.core.tenants playbook, then the no-op re-run.

Starts the project's real fixtures (3-member TLS etcd with auth, admin kube-apiserver +
controller-manager + scheduler), writes an inventory with one host per tenant
(ansible_connection=local) and runs playbooks/tenants.yml twice. Each tenant gets its
etcd user and role, its PKI in Secrets, Namespace, Deployment (0 replicas), Service and
PodDisruptionBudget in the admin cluster. Prints wall times and changed counts.

    python tools/bench/tenants.py [--tenants 100] [--forks 10]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests"))


def _profile(data):
    from harness.runner import seconds

    rows = []
    for play in data["plays"]:
        for task in play["tasks"]:
            rows.append((seconds(task["task"]["duration"]), task["task"]["name"]))
    for took, name in sorted(rows, reverse=True)[:8]:
        print(f"      {took:6.1f} s  {name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--forks", type=int, default=10)
    ap.add_argument("--profile", action="store_true", help="print the slowest tasks of each run")
    args = ap.parse_args()
    from harness import loader

    loader.install()
    from harness.site import fixture_site

    with tempfile.TemporaryDirectory() as tmp, fixture_site(tmp) as (etcd, kube, pki):
        hosts = {f"t{i:03d}": {"tenant": {"replicas": 0, "endpoint": {"address": "192.0.2.10", "port": 30000 + i}}}
                 for i in range(args.tenants)}
        inventory = os.path.join(tmp, "hosts.json")
        with open(inventory, "w", encoding="utf-8") as f:
            json.dump({"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                               "children": {
                "etcd_credentials": {"hosts": {"etcd-creds": None}},
                "tenants": {"hosts": hosts, "vars": {
                    "tenant_control_plane_admin_kubeconfig": kube.kubeconfig,
                    "tenant_control_plane_etcd_endpoints": etcd.endpoints,
                    "tenant_control_plane_etcd_credentials_host": "etcd-creds",
                    "tenant_control_plane_etcd_pki_dir": pki}}}}}, f)
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
                   ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
        print(f"kamaji.core.tenants x {args.tenants} tenants (replicas 0), forks={args.forks}, "
              "fixture admin kube-apiserver + 3-member TLS etcd on loopback")
        for label in ("first run", "no-op re-run"):
            start = time.perf_counter()
            out = subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(REPO, "playbooks", "tenants.yml"),
                                  "-f", str(args.forks)], env=env, capture_output=True, text=True, check=False)
            took = time.perf_counter() - start
            try:
                stats = json.loads(out.stdout[out.stdout.index("{"):])["stats"]
            except ValueError:
                print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
                return 1
            if args.profile:
                _profile(json.loads(out.stdout[out.stdout.index("{"):]))
            changed = sum(s["changed"] for s in stats.values())
            failed = sum(s["failures"] + s["unreachable"] for s in stats.values())
            print(f"  {label:<13} {took:6.1f} s   changed={changed} failed={failed} rc={out.returncode}")
            if failed:
                print(out.stdout[-3000:], file=sys.stderr)
                return 1
        namespaces = kube.kubectl("get", "ns", "-l", "kamaji.core/tenant", "-o", "name").stdout.split()
        print(f"  tenant namespaces in the admin cluster: {len(namespaces)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
