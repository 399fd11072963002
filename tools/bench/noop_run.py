"""Benchmark: where a run that changes nothing spends its time (issue #19's standing cost).

Runs a playbook (site.yml by default) against an inventory that is already deployed, with the
JSON callback, and prints its wall time, its changed count and the time of each task summed by
role and by task (the wall time of a task over all its hosts).

    python tools/bench/noop_run.py -i <inventory> [-e @vars.json] [--playbook playbooks/site.yml]
        [--top 40] [--runs 1]

Use it on a deployed lab (`make lab`, or the e2e tier's site kept with KAMAJI_E2E_KEEP=1).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests"))


def run(playbook, inventory, extra):
    from harness.runner import seconds

    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    cmd = ["ansible-playbook", playbook, "-i", inventory, *[a for e in extra for a in ("-e", e)]]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    took = time.perf_counter() - start
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    changed = sum(s.get("changed", 0) for s in data["stats"].values())
    tasks = []
    for play in data["plays"]:
        for task in play["tasks"]:
            duration = task["task"].get("duration")
            if duration and duration.get("end"):
                tasks.append((seconds(duration), len(task["hosts"]), task["task"]["name"]))
    return proc.returncode, took, changed, tasks


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-i", "--inventory", required=True)
    ap.add_argument("-e", "--extra", action="append", default=[])
    ap.add_argument("--playbook", default=os.path.join(REPO, "playbooks", "site.yml"))
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    for n in range(args.runs):
        rc, took, changed, tasks = run(args.playbook, args.inventory, args.extra)
        print(f"run {n + 1}: rc={rc} wall {took:.1f} s, changed={changed}, {len(tasks)} tasks, "
              f"{sum(t[0] for t in tasks):.1f} s in tasks")
    by_role = collections.Counter()
    count = collections.Counter()
    for s, _n, name in tasks:
        role = name.split(" : ", 1)[0] if " : " in name else "(play)"
        by_role[role] += s
        count[role] += 1
    print("\nby role (last run):")
    for role, s in by_role.most_common():
        print(f"{s:7.1f} s  {count[role]:4d} tasks  {role}")
    print(f"\nslowest {args.top} tasks (last run):")
    for s, n, name in sorted(tasks, reverse=True)[:args.top]:
        print(f"{s:7.2f} s  {n:3d} hosts  {name}")


if __name__ == "__main__":
    main()
