"""A node's kernel modules, sysctls, packages and swap: read in one pass (module_utils
node.settings on a directory tree standing for a node's /), and the node_prereqs role acting
only on what that read found."""
from __future__ import annotations

import os

from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils.node import settings

MODULES = ["overlay", "br_netfilter"]
SYSCTLS = {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}
STATUS = """Package: iproute2
Status: install ok installed
Version: 6.1.0-3

Package: nftables
Status: deinstall ok config-files
Version: 1.0.6-2
"""


def _write(root, path, text):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as f:
        f.write(text)


def _node(tmp_path, *, loadable=True, bridge=True, forward="0", swaps=""):
    root = str(tmp_path / "node")
    if loadable:
        os.makedirs(os.path.join(root, "lib/modules/6.1.0"))
    _write(root, "/proc/modules", "overlay 200704 0 - Live 0x0\n")
    _write(root, "/proc/sys/net/ipv4/ip_forward", forward + "\n")
    if bridge:
        _write(root, "/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n")
    _write(root, "/var/lib/dpkg/status", STATUS)
    _write(root, "/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n" + swaps)
    return root


def _state(root):
    return settings.read_state(root, "6.1.0", MODULES, SYSCTLS, [settings.MODULES_FILE, settings.SYSCTL_FILE])


def test_a_fresh_node_loads_the_missing_module_writes_both_files_and_sets_what_differs(tmp_path):
    state = _state(_node(tmp_path, bridge=False, swaps="/swapfile file 1024 0 -2\n"))
    assert state.loadable and state.loaded == {"overlay"}
    assert state.sysctls == {"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": None}
    assert state.swaps == ["/swapfile"]
    todo = settings.plan(state, MODULES, SYSCTLS, ["nftables", "iproute2"])
    assert todo.error == ""
    assert todo.load == ["br_netfilter"]
    assert todo.write == {settings.MODULES_FILE: "overlay\nbr_netfilter\n",
                          settings.SYSCTL_FILE: "net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\n"}
    assert todo.set_sysctls == SYSCTLS
    # dpkg lists nftables as removed: only its configuration files remain
    assert todo.missing_packages == ["nftables"]


def test_a_node_with_everything_in_place_has_nothing_to_do(tmp_path):
    root = _node(tmp_path, forward="1")
    os.makedirs(os.path.join(root, "sys/module/br_netfilter"))
    _write(root, settings.MODULES_FILE, settings.modules_text(MODULES))
    _write(root, settings.SYSCTL_FILE, settings.sysctl_text(SYSCTLS))
    todo = settings.plan(_state(root), MODULES, SYSCTLS, ["iproute2"])
    assert (todo.load, todo.write, todo.set_sysctls, todo.missing_packages, todo.error) == ([], {}, {}, [], "")


def test_without_loadable_modules_a_missing_feature_fails_naming_it(tmp_path):
    todo = settings.plan(_state(_node(tmp_path, loadable=False, bridge=False)), MODULES, SYSCTLS, [])
    assert "net.bridge.bridge-nf-call-iptables" in todo.error and "built into the kernel" in todo.error
    assert todo.write == {} and todo.load == []


def test_without_loadable_modules_nothing_is_persisted_but_the_sysctls(tmp_path):
    todo = settings.plan(_state(_node(tmp_path, loadable=False)), MODULES, SYSCTLS, [])
    assert todo.error == "" and todo.load == []
    assert list(todo.write) == [settings.SYSCTL_FILE]
    assert todo.set_sysctls == {"net.ipv4.ip_forward": "1"}


def _play(virtualization):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "facts", "ansible.builtin.set_fact": {"ansible_facts": {
            "virtualization_role": "guest", "virtualization_type": virtualization}}},
        {"name": "node", "ansible.builtin.include_role": {"name": "kamaji.core.node_prereqs"},
         "vars": {"node_prereqs_kernel_modules": [], "node_prereqs_sysctls": {}, "node_prereqs_packages": []}}]}]


def test_the_role_reads_the_node_in_one_call_and_turns_swap_off_only_on_a_machine(tmp_path):
    """Check mode on this machine: the one read reports its swap areas; a machine with swap
    would turn it off, a container never (its swap is its host's)."""
    with open("/proc/swaps", encoding="utf-8") as f:
        active = len(f.read().splitlines()) > 1
    name = "Kernel modules and sysctls of a Kubernetes node (its packages and swap read in the same call)"
    vm = run_playbook(_play("kvm"), tmp_path, check=True)
    assert vm.rc == 0, vm.failed_tasks()
    read = vm.task(name)
    assert read["changed"] is False and read["missing_packages"] == [] and "swaps" in read
    assert (len(read["swaps"]) > 0) == active
    if not active:
        assert vm.task("Swap is off (a container's swap is its host's, left alone)")["skipped"]
    box = run_playbook(_play("podman"), tmp_path, check=True)
    assert box.rc == 0, box.failed_tasks()
    assert box.task("Swap is off (a container's swap is its host's, left alone)")["skipped"]
