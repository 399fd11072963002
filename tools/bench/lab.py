"""Benchmark: the phases of `make lab` on this machine, the idempotent re-run, and one new
tenant from the start of its play to /readyz.

Warm caches are assumed (offline bundle and node image built; `make lab` or `make test`
did it). The lab is destroyed first, so the site runs on fresh nodes, then:

  1. offline bundle playbook (cached: verifies and links)
  2. tools/lab/lab.py up (fresh node containers)
  3. site.yml, first run: each play's wall time from the JSON callback
  4. site.yml again: wall time and changed count (must be 0)
  5. tenants.yml with one more tenant: time from the start of the play to the end of
     that tenant's /readyz wait (the tenant stays in the lab; `make lab-destroy` removes it)

    python tools/bench/lab.py     (prints a Markdown table for docs/lab.md)
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests"))
CACHE = os.environ.get("KAMAJI_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "kamaji-core"))
INVENTORY = os.path.join(REPO, "inventories", "lab", "hosts.yml")
LAB = [sys.executable, os.path.join(REPO, "tools", "lab", "lab.py")]


def timed(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    took = time.perf_counter() - start
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-4000:] + out.stderr[-4000:])
        raise SystemExit(f"failed ({out.returncode}): {' '.join(cmd)}")
    return took, out.stdout


def playbook(path, *extra):
    """Wall time and JSON-callback data of one playbook run over the lab inventory."""
    from harness.runner import run_playbook

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        res = run_playbook(os.path.join(REPO, "playbooks", path), pathlib.Path(tmp), inventory=INVENTORY, args=extra)
        took = time.perf_counter() - start
    if res.rc != 0:
        raise SystemExit(f"{path} failed (rc={res.rc}):\n{res.failed_tasks()}")
    return took, res.data


class Rows(list):
    """Table rows, printed as they come (a failure later keeps what was measured)."""

    def append(self, row):
        if not self:
            print("| phase (warm caches) | wall time |\n|---|---|")
        super().append(row)
        print(f"| {row[0]} | {row[1]:.0f} s |", flush=True)


def main() -> int:
    from harness import loader
    from harness.runner import seconds

    loader.install()
    from ansible_collections.kamaji.core.plugins.module_utils import versions

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kube-version", default=os.environ.get("KUBE_VERSION", versions.KUBERNETES))
    ap.add_argument("--etcd-version", default=os.environ.get("ETCD_VERSION", versions.ETCD))
    args = ap.parse_args()
    bundle = os.path.join(CACHE, "bundle", f"{args.kube_version}-etcd-{args.etcd_version}")
    rows = Rows()

    subprocess.run([*LAB, "destroy"], capture_output=True, check=True)
    took, _unused = playbook("offline_bundle.yml", "-e", "offline_bundle_source=source",
                             "-e", f"offline_bundle_cache_dir={CACHE}")
    rows.append(("offline bundle (cached)", took))
    took, _unused = timed([*LAB, "up"])
    rows.append(("lab up (fresh node containers)", took))

    took, data = playbook("site.yml", "-e", f"kamaji_bundle_dir={bundle}")
    rows.append(("site, first run on fresh nodes", took))
    for play in data["plays"]:
        rows.append(("  play: " + play["play"]["name"], seconds(play["play"]["duration"])))
    took, data = playbook("site.yml", "-e", f"kamaji_bundle_dir={bundle}")
    changed = sum(s["changed"] for s in data["stats"].values())
    rows.append((f"site, idempotent re-run (changed={changed})", took))

    import yaml

    with open(INVENTORY, encoding="utf-8") as f:
        inv = yaml.safe_load(f)
    tenants = inv["all"]["children"]["tenants"]["hosts"]
    first = next(iter(tenants.values()))["tenant"]["endpoint"]
    port = max(t["tenant"]["endpoint"]["port"] for t in tenants.values()) + 1
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as extra:
        json.dump({"tenants": {"hosts": {"tenant-bench": {"tenant": {
            "endpoint": {"address": first["address"], "port": port}, "replicas": 1}}}}}, extra)
    try:
        took, data = playbook("tenants.yml", "-i", extra.name, "-e", f"kamaji_bundle_dir={bundle}")
    finally:
        os.unlink(extra.name)
    play = data["plays"][0]
    wait = next(t for t in play["tasks"] if t["task"]["name"].endswith("Wait for /readyz (bounded)")
                and "tenant-bench" in t["hosts"])
    rows.append(("one new tenant: start of its play to /readyz",
                 seconds(play["play"]["duration"]["start"], wait["task"]["duration"]["end"])))
    rows.append(("one new tenant: whole tenants playbook", took))

    return 0


if __name__ == "__main__":
    sys.exit(main())
