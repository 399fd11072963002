"""Benchmark: N tenants in the shared etcd with kamaji.core.etcd_tenant, then the no-op re-run.

Starts the project's real 3-member TLS etcd fixture (auth on), writes an inventory with
one host per tenant (ansible_connection=local, as the tenants group is), and runs one
etcd_tenant task per tenant through ansible-playbook, twice. Prints wall times and the
changed counts of both runs.

    python tools/bench/etcd_tenants.py [--tenants 100] [--forks 10]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--forks", type=int, default=10)
    ap.add_argument("--mode", choices=["bulk", "per-host"], default="bulk",
                    help="bulk: one run_once call for every tenant of the play, then each host checks its own "
                         "result; per-host: one etcd_tenant call per tenant host")
    args = ap.parse_args()
    from harness import loader

    loader.install()
    from harness.etcd_cluster import EtcdCluster

    with tempfile.TemporaryDirectory() as tmp:
        cluster = EtcdCluster(os.path.join(tmp, "etcd")).start()
        try:
            inventory = os.path.join(tmp, "hosts.yml")
            hosts = {f"tenant-{i:03d}": None for i in range(args.tenants)}
            with open(inventory, "w", encoding="utf-8") as f:
                json.dump({"tenants": {"hosts": hosts, "vars": {
                    "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                    "etcd": cluster.connection()}}}, f)
            playbook = os.path.join(tmp, "play.yml")
            conn = {"endpoints": "{{ etcd.endpoints }}", "ca_cert": "{{ etcd.ca_cert }}",
                    "client_cert": "{{ etcd.client_cert }}", "client_key": "{{ etcd.client_key }}"}
            if args.mode == "per-host":
                tasks = [{"name": "tenant in etcd", "kamaji.core.etcd_tenant": dict(conn, name="{{ inventory_hostname }}")}]
            else:
                tasks = [
                    {"name": "tenants in etcd", "run_once": True, "register": "bulk", "failed_when": False,
                     "kamaji.core.etcd_tenant": dict(conn, tenants="{{ ansible_play_hosts | map('community.general.dict_kv', "
                                                                   "'name') | list }}")},
                    {"name": "this tenant is in etcd", "ansible.builtin.assert": {
                        "that": ["bulk.tenant_results[inventory_hostname] is defined",
                                 "not (bulk.tenant_results[inventory_hostname].failed | default(false))"],
                        "quiet": True}},
                ]
            with open(playbook, "w", encoding="utf-8") as f:
                json.dump([{"hosts": "tenants", "gather_facts": False, "tasks": tasks}], f)
            env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
            print(f"etcd_tenant x {args.tenants} tenants, mode={args.mode}, forks={args.forks}, "
                  "3-member TLS etcd on loopback")
            for label in ("first run", "no-op re-run"):
                start = time.perf_counter()
                out = subprocess.run(["ansible-playbook", "-i", inventory, playbook, "-f", str(args.forks)],
                                     env=env, capture_output=True, text=True, check=False)
                took = time.perf_counter() - start
                stats = json.loads(out.stdout[out.stdout.index("{"):])["stats"]
                data = json.loads(out.stdout[out.stdout.index("{"):])
                if args.mode == "bulk":
                    bulk = data["plays"][0]["tasks"][0]["hosts"].popitem()[1]
                    if "tenant_results" not in bulk:
                        print(json.dumps(bulk)[:3000], file=sys.stderr)
                        return 1
                    changed = sum(r["changed"] for r in bulk["tenant_results"].values())
                else:
                    changed = sum(s["changed"] for s in stats.values())
                failed = sum(s["failures"] + s["unreachable"] for s in stats.values())
                print(f"  {label:<13} {took:6.1f} s   tenants changed={changed} failed={failed}")
                if failed:
                    data = json.loads(out.stdout[out.stdout.index("{"):])
                    for task in data["plays"][0]["tasks"]:
                        for host, res in task["hosts"].items():
                            if res.get("failed"):
                                print(f"  {host}: {res.get('msg')}", file=sys.stderr)
                    return 1
            roles = cluster.etcdctl("role", "list").stdout.split()
            print(f"  roles in etcd: {len([r for r in roles if r.startswith('tenant-')])}")
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
