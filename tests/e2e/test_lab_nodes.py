"""Lab nodes are real machines for Ansible: reached over SSH, systemd as PID 1, isolated network."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import SIZE_ARGS, SIZES, wait_booted
from harness.procs import REPO
from harness.runner import run_playbook


def test_every_node_answers_over_ssh_with_systemd(lab, tmp_path):
    play = [{"hosts": "all:!tenants", "gather_facts": True, "gather_subset": ["!all", "!min", "service_mgr", "distribution"],
             "tasks": [{"name": "facts", "ansible.builtin.set_fact": {
                 "mgr": "{{ ansible_service_mgr }}", "conn": "{{ ansible_connection }}",
                 "distro": "{{ ansible_distribution_release }}"}}]}]
    res = run_playbook(play, tmp_path, inventory=lab)
    assert res.rc == 0, res.stdout[-3000:]
    hosts = res.stats
    assert len(hosts) == sum(SIZES.values())
    for host in hosts:
        facts = res.task("facts", host=host)["ansible_facts"]
        assert facts == {"mgr": "systemd", "conn": "ssh", "distro": "bookworm"}, host


def test_lab_network_is_internal(lab):
    out = subprocess.run(["podman", "network", "inspect", "kamaji-lab"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)[0]["internal"] is True


def test_lab_up_again_changes_nothing(lab):
    before = subprocess.run(["podman", "ps", "--filter", "label=io.kamaji.lab=1", "--format", "{{.ID}}"],
                            capture_output=True, text=True, check=True).stdout.split()
    again = subprocess.run([sys.executable, f"{REPO}/tools/lab/lab.py", "up", *SIZE_ARGS], capture_output=True,
                           text=True, check=False)
    assert again.returncode == 0, again.stderr
    after = subprocess.run(["podman", "ps", "--filter", "label=io.kamaji.lab=1", "--format", "{{.ID}}"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert sorted(before) == sorted(after)


def test_a_node_whose_processes_died_under_podman_is_replaced_by_the_next_up(lab):
    """Killing conmon and the node's init together (as when the session running podman is killed)
    leaves podman recording the node as running; `up` must replace it, not wait on SSH in vain."""
    name = "lab-tenant-worker-1"
    pids = subprocess.run(["podman", "inspect", name, "--format", "{{.State.ConmonPid}} {{.State.Pid}}"],
                          capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["kill", "-9", *pids], check=True)
    status = subprocess.run(["podman", "inspect", name, "--format", "{{.State.Status}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert status == "running"  # what podman believes
    again = subprocess.run([sys.executable, f"{REPO}/tools/lab/lab.py", "up", *SIZE_ARGS], capture_output=True,
                           text=True, check=False, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f"{name}: podman records it running but its processes are gone" in again.stdout
    booted = wait_booted(name)
    assert booted in ("running", "degraded"), booted
