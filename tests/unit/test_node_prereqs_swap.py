"""node_prereqs' swap step without hardware facts: /proc/swaps read in one call on a machine,
nothing read or run in a container (its swap is its host's)."""
from __future__ import annotations

from harness.runner import run_playbook


def _play(virtualization):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "facts", "ansible.builtin.set_fact": {"ansible_facts": {
            "virtualization_role": "guest", "virtualization_type": virtualization}}},
        {"name": "swap", "ansible.builtin.include_role": {"name": "kamaji.core.node_prereqs", "tasks_from": "swap"}}]}]


def test_a_machine_reads_its_swap_areas_a_container_does_not(tmp_path):
    with open("/proc/swaps", encoding="utf-8") as f:
        active = len(f.read().splitlines()) > 1
    vm = run_playbook(_play("kvm"), tmp_path, check=True)
    assert vm.rc == 0, vm.failed_tasks()
    assert "swaps" in vm.task("Active swap areas (/proc/swaps; no hardware facts are gathered for this)")["files"]
    if not active:  # (with swap active, check mode skips the command anyway: it cannot preview it)
        assert vm.task("Swap is off")["false_condition"].endswith("| length > 1"), vm.task("Swap is off")
    box = run_playbook(_play("podman"), tmp_path, check=True)
    assert box.rc == 0, box.failed_tasks()
    assert box.task("Active swap areas (/proc/swaps; no hardware facts are gathered for this)")["skipped"]
