"""Run real ansible-playbook against kamaji.core and read its JSON results."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import yaml

from harness.paths import REPO


class PlayResult:
    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    @property
    def stats(self):
        return self.data.get("stats", {}) if self.data else {}

    def changed(self, host="localhost"):
        return self.stats.get(host, {}).get("changed")

    def failures(self, host="localhost"):
        s = self.stats.get(host, {})
        return s.get("failures", 0) + s.get("unreachable", 0)

    def failed_tasks(self):
        """Compact "task | host | message" lines of every failed task, for assertion messages."""
        out = []
        for play in self.data.get("plays", []):
            for task in play["tasks"]:
                for host, r in task["hosts"].items():
                    if r.get("failed") or r.get("unreachable"):
                        out.append("%s | %s | %s" % (task["task"]["name"], host, str(r.get("msg"))[:2000]))
                        if r.get("stderr"):  # a command's own words say more than "non-zero return code"
                            out.append("    stderr: %s" % r["stderr"][-2000:])
                        for item in r.get("results") or []:
                            if isinstance(item, dict) and item.get("failed"):
                                out.append("    item %s: %s" % (str(item.get("item"))[:200], str(item.get("msg"))[:1500]))
        return "\n".join(out) or self.stdout[-3000:] + self.stderr[-2000:]

    def task(self, name, host="localhost"):
        for play in self.data.get("plays", []):
            for task in play["tasks"]:
                if task["task"]["name"] == name or task["task"]["name"].endswith(" : " + name):
                    return task["hosts"].get(host)
        raise KeyError(name)


def _log_run(path, playbook, wall, result):
    """One run's wall time and slowest tasks appended to ``path`` (the e2e tier sets
    KAMAJI_RUN_LOG): where each scenario spends its time, for the tier's time budget."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::")[-1]
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"== {wall:7.1f} s  rc={result.rc}  {os.path.basename(str(playbook))}  ({test})\n")
        f.write(textwrap.indent(profile(result, top=12), "   "))


def profile(result, top=25):
    """The slowest tasks of a run (wall time of each task over all its hosts), as text lines:
    where a run spends its time (issue #19's no-op cost), written beside the tier's results."""
    rows = []
    for play in result.data.get("plays", []):
        for task in play["tasks"]:
            duration = task["task"].get("duration")
            if duration and duration.get("end"):
                rows.append((seconds(duration), len(task["hosts"]), task["task"]["name"]))
    total = sum(r[0] for r in rows)
    lines = [f"{len(rows)} tasks, {total:.1f} s in tasks"]
    lines += [f"{s:7.2f} s  {n:3d} hosts  {name}" for s, n, name in sorted(rows, reverse=True)[:top]]
    return "\n".join(lines) + "\n"


def seconds(start, end=None):
    """Seconds between two JSON-callback timestamps, or of one ``duration`` dict."""
    from datetime import datetime

    if end is None:
        start, end = start["start"], start["end"]
    return (datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z"))).total_seconds()


def run_playbook(playbook, tmp_path, extra_vars=None, check=False, diff=False, inventory=None,
                 env=None, args=()):
    """``playbook`` is a list of plays (Python data) or a path to a playbook file."""
    if isinstance(playbook, (list, dict)):
        path = tmp_path / "play.yml"
        path.write_text(yaml.safe_dump(playbook, sort_keys=False))
        playbook = str(path)
    cmd = ["ansible-playbook", playbook, "-i", inventory or "localhost,"]
    if inventory is None:
        cmd += ["-c", "local"]
    if extra_vars:
        vars_file = tmp_path / "extra_vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ["-e", "@" + str(vars_file)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    cmd += list(args)
    run_env = dict(os.environ)
    run_env.update({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
                    "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
                    "ANSIBLE_PYTHON_INTERPRETER": sys.executable})
    run_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=REPO, check=False)
    wall = time.monotonic() - start
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        data = {}
    result = PlayResult(proc, data)
    if data and os.environ.get("KAMAJI_RUN_LOG"):
        _log_run(os.environ["KAMAJI_RUN_LOG"], playbook, wall, result)
    if not data:
        raise AssertionError("ansible-playbook printed no JSON (rc=%s):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], textwrap.shorten(proc.stderr, 3000)))
    return result


def run_inventory(cwd, *sources, env=None):
    """``ansible-inventory --list`` of the inventory ``sources`` (each required to parse), run
    in ``cwd`` with the repository's ansible.cfg and no ``K8S_AUTH_*`` variable of this
    process (``env`` sets those a test wants)."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("K8S_AUTH_")}
    run_env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true",
                   **(env or {}))
    cmd = ["ansible-inventory", "--list"]
    for source in sources:
        cmd += ["-i", str(source)]
    return subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=str(cwd), timeout=120, check=False)
