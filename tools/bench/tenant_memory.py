"""Benchmark: the memory of one idle tenant control plane, knob by knob.

Starts the project's real fixtures (3-member TLS etcd with auth, admin kube-apiserver +
controller-manager + scheduler), creates one tenant (replicas 1) through playbooks/tenants.yml,
then runs its control plane as processes from exactly what the role applied (its Deployment's
commands, arguments and environment, its Secrets' files; tests/harness/tenant_processes.py),
once per variant. Each variant adds environment variables and flags to what the role
rendered; the control plane must reach /readyz, gets some objects (ConfigMaps, a Secret), then
idles, and the resident memory (VmRSS) of each process is sampled; the last sample's figures
are printed, with the time from start to /readyz: VmRSS (what Kamaji's figure and ours
measured so far) and RssAnon, the memory the process holds alone (RssFile, its binary's pages,
is shared by every tenant running the same image on a node), and the CPU the three used while
idle (millicores, averaged over the idle time).

    python tools/bench/tenant_memory.py [--idle 60] [--variants baseline,gogc50,...] [--size small]

Without a kubelet there are no nodes, pods of the tenant or CoreDNS here: an idle tenant on the
lab (a worker joined) holds a few more objects and watches; compare variants with each other.
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

ALL = ("apiserver", "controller-manager", "scheduler")
# name -> (environment per component or "*", extra flags per component)
VARIANTS: dict[str, tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]] = {
    "baseline": ({}, {}),
    "gogc50": ({"*": {"GOGC": "50"}}, {}),
    "gogc25": ({"*": {"GOGC": "25"}}, {}),
    "memlimit": ({"apiserver": {"GOMEMLIMIT": "120MiB"}, "controller-manager": {"GOMEMLIMIT": "50MiB"},
                  "scheduler": {"GOMEMLIMIT": "25MiB"}}, {}),
    "memlimit-tight": ({"apiserver": {"GOMEMLIMIT": "80MiB"}, "controller-manager": {"GOMEMLIMIT": "30MiB"},
                        "scheduler": {"GOMEMLIMIT": "15MiB"}}, {}),
    "gomaxprocs1": ({"*": {"GOMAXPROCS": "1"}}, {}),
    "no-watch-cache": ({}, {"apiserver": {"watch-cache": "false"}}),
    "no-apf": ({}, {"apiserver": {"enable-priority-and-fairness": "false"}}),
    "no-profiling": ({}, {"apiserver": {"profiling": "false"}, "controller-manager": {"profiling": "false"},
                          "scheduler": {"profiling": "false"}}),
}


def _rss_mib(pid: int) -> dict[str, float]:
    """VmRSS and its parts: RssAnon (this process's own memory: heap, stacks) and RssFile (pages
    of its binary and files, shared by every process that maps the same file: on a node, every
    tenant's container of one image)."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _sep, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0]) / 1024
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _apply(procs, env: dict[str, dict[str, str]], flags: dict[str, dict[str, str]]) -> None:
    for component, proc in procs.components().items():
        extra_env = dict(env.get("*", {}), **env.get(component, {}))
        if extra_env:
            proc.env = dict(proc.env or os.environ, **extra_env)
        for flag, value in flags.get(component, {}).items():
            proc.argv = [a for a in proc.argv if not a.startswith(f"--{flag}=")] + [f"--{flag}={value}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle", type=int, default=60, help="seconds the tenant idles before the last sample")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
    ap.add_argument("--size", default="", help="tenant.size of the tenant (the role's profile), default none set")
    ap.add_argument("--objects", type=int, default=50, help="ConfigMaps created before idling")
    ap.add_argument("--heap-top", type=int, default=0, metavar="N",
                    help="print the N largest in-use heap sites of the apiserver (its /debug/pprof/heap, go tool pprof)")
    args = ap.parse_args()
    from harness import loader

    loader.install()
    from harness.procs import binary, free_port
    from harness.site import fixture_site
    from harness.tenant_processes import TenantProcesses

    with tempfile.TemporaryDirectory() as tmp, fixture_site(tmp) as (etcd, kube, pki):
        port = free_port()
        tenant = {"replicas": 1, "service_type": "ClusterIP", "endpoint": {"address": "192.0.2.10", "port": port}}
        if args.size:
            tenant["size"] = args.size
        inventory = os.path.join(tmp, "hosts.json")
        host = {"tenant": tenant, "tenant_control_plane_api_url": f"https://127.0.0.1:{port}"}
        group_vars = {"tenant_control_plane_admin_kubeconfig": kube.kubeconfig,
                      "tenant_control_plane_etcd_endpoints": etcd.endpoints,
                      "tenant_control_plane_etcd_credentials_host": "etcd-creds",
                      "tenant_control_plane_etcd_pki_dir": pki,
                      "tenant_control_plane_kubeconfig_dir": tmp,
                      "tenant_control_plane_wait": False}
        children = {"etcd_credentials": {"hosts": {"etcd-creds": None}},
                    "tenants": {"hosts": {"mem": host}, "vars": group_vars}}
        with open(inventory, "w", encoding="utf-8") as f:
            json.dump({"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                               "children": children}}, f)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
        out = subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(REPO, "playbooks", "tenants.yml")],
                             env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stdout[-4000:], out.stderr[-2000:], file=sys.stderr)
            return 1
        with open(os.path.join(tmp, "mem.kubeconfig"), encoding="utf-8") as f:
            conf = f.read().replace("https://192.0.2.10:%d" % port, "https://127.0.0.1:%d" % port)
        kubeconfig = os.path.join(tmp, "mem-local.kubeconfig")
        with open(kubeconfig, "w", encoding="utf-8") as f:
            f.write(conf)

        def kubectl(*argv, check=True):
            return subprocess.run([binary("kubectl"), "--kubeconfig", kubeconfig, *argv], capture_output=True,
                                  text=True, check=check, timeout=60)

        print(f"one tenant (replicas 1{', size ' + args.size if args.size else ''}), its control plane as "
              f"processes; {args.objects} ConfigMaps, idle {args.idle} s; VmRSS in MiB")
        print(f"  {'variant':<16} {'readyz':>7}   VmRSS: {'apiserver':>9} {'ctrl-mgr':>9} {'scheduler':>9} "
              f"{'total':>6}   RssAnon: {'apiserver':>9} {'ctrl-mgr':>9} {'scheduler':>9} {'total':>6}   idle CPU")
        # the tenant's bootstrap (its admin's RBAC, kubeadm's join objects) needs it serving: once, here
        procs = TenantProcesses(kube, "mem", os.path.join(tmp, "proc-bootstrap")).start()
        try:
            out = subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(REPO, "playbooks", "tenants.yml"),
                                  "-e", '{"tenant_control_plane_wait": true, "tenant_control_plane_wait_rollout": false}'],
                                 env=env, capture_output=True, text=True, check=False)
        finally:
            procs.stop()
        if out.returncode != 0:
            print(out.stdout[-4000:], out.stderr[-2000:], file=sys.stderr)
            return 1
        heap_tops: dict[str, str] = {}
        for i, name in enumerate(args.variants.split(",")):
            env_k, flags = VARIANTS[name]
            procs = TenantProcesses(kube, "mem", os.path.join(tmp, f"proc-{i}"))
            _apply(procs, env_k, flags)
            start = time.monotonic()
            procs.start()
            try:
                deadline = start + 240
                while kubectl("get", "--raw", "/readyz", check=False).stdout.strip() != "ok":
                    if time.monotonic() > deadline:
                        print(f"  {name:<16} not ready within 240 s", file=sys.stderr)
                        return 1
                    time.sleep(0.5)
                ready = time.monotonic() - start
                for n in range(args.objects):
                    kubectl("create", "configmap", f"v{i}-{n:03d}", "--from-literal=k=" + "x" * 512)
                cpu_before = sum(_cpu_seconds(pid) for pid in procs.pids().values())
                time.sleep(args.idle)
                rss = {c: _rss_mib(pid) for c, pid in procs.pids().items()}
                idle_m = 1000 * (sum(_cpu_seconds(pid) for pid in procs.pids().values()) - cpu_before) / args.idle
                if args.heap_top:
                    heap = os.path.join(tmp, f"heap-{name}.pb.gz")
                    with open(heap, "wb") as f:
                        subprocess.run([binary("kubectl"), "--kubeconfig", kubeconfig, "get", "--raw",
                                        "/debug/pprof/heap"], stdout=f, check=True, timeout=60)
                    top = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=inuse_space",
                                          f"-nodecount={args.heap_top}", procs.procs[0].argv[0], heap],
                                         capture_output=True, text=True, check=False)
                    heap_tops[name] = top.stdout or top.stderr
            finally:
                procs.stop()
            cells = []
            for part in ("VmRSS", "RssAnon"):
                row = [rss.get(c, {}).get(part, 0.0) for c in ALL]
                cells.append(" ".join(f"{v:9.0f}" for v in row) + f" {sum(row):6.0f}")
            print(f"  {name:<16} {ready:6.1f}s          {cells[0]}            {cells[1]}   {idle_m:5.0f} m", flush=True)
        for name, top in heap_tops.items():
            print(f"\n== the apiserver's heap in use, {name}\n{top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
