"""The local lab: bare Debian node containers (systemd, sshd, python3) reached over SSH.

    python tools/lab/lab.py image      # build the node image (cached by content)
    python tools/lab/lab.py up         # image + network + nodes + SSH key + inventory
    python tools/lab/lab.py destroy    # remove every container, network and volume of the lab

Nodes run privileged with systemd as PID 1 on an --internal podman network, so lab
traffic stays on this machine. The image is built locally with debootstrap and
`podman import` (no registry). The inventory lands in inventories/lab/hosts.yml.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests"))
CACHE = os.environ.get("KAMAJI_CACHE", os.path.expanduser("~/.cache/kamaji-core"))
LAB_DIR = os.path.join(CACHE, "lab")
LABEL = "io.kamaji.lab=1"
NETWORK = os.environ.get("KAMAJI_LAB_NETWORK", "kamaji-lab")
SUITE = "bookworm"
MIRROR = os.environ.get("KAMAJI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# A node is as bare as a fresh Debian cloud VM: systemd, sshd, python3 (with python3-apt, as
# unattended-upgrades brings it there), sudo and Debian's "important" packages a node touches
# (iproute2, kmod, procps, nftables). Nothing Kubernetes-related: containerd, runc, the CNI
# plugins and the kubelet come from the roles; tests/e2e/test_lab_nodes.py checks it.
# haproxy runs only in the load balancer node of an HA admin control plane (disabled elsewhere).
PACKAGES = sorted([
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt", "sudo", "iproute2", "iputils-ping",
    "procps", "ca-certificates", "kmod", "nftables", "haproxy",
])
# What the roles install and the image must not have (checked by the e2e tier before the site runs).
NOT_IN_IMAGE = ("containerd", "runc", "containernetworking-plugins", "kubelet", "kubeadm", "kubectl", "iptables",
                "conntrack", "socat", "ethtool")
# Changes to the customisation below must change this number (it is part of the image key).
CUSTOMISATION = 5
# Run at boot in every lab node, before containerd and the kubelet. A node container sees
# cgroup v1 hierarchies mounted at its own subtree (name=systemd a second time, at the host's
# root, on top; a few others only at the host's root), while /proc/self/cgroup names full host
# paths: runc and the kubelet then look for cgroups that do not exist. Un-stack the host-root
# mount, re-root the shared ones (and the cgroup2 "unified" one of systemd's hybrid mode),
# and bind every hierarchy onto its own path so those full
# paths resolve inside the node (kind prepares its nodes the same way). An --internal network has no default route; ClusterIPs need one.
NODE_PREP = r"""#!/bin/sh
set -eu
own=$(awk '$5 == "/sys/fs/cgroup/memory" { print $4; exit }' /proc/self/mountinfo)
if [ -n "$own" ] && [ "$own" != "/" ]; then
    if awk '$5 == "/sys/fs/cgroup/systemd" && $4 == "/"' /proc/self/mountinfo | grep -q .; then
        umount /sys/fs/cgroup/systemd/release_agent 2>/dev/null || true
        umount -l /sys/fs/cgroup/systemd
    fi
    # hierarchies mounted at the host's root are shared by every node (a kubelet would see the
    # other nodes' pods as orphans): move this node into its own path there and mount that. The
    # same for systemd's cgroup2 "unified" hierarchy of hybrid mode: runc (1.2 and later) adds
    # an exec'd process to the container's path there too
    for mp in $(awk '$4 == "/" && $5 ~ "^/sys/fs/cgroup/." && / - cgroup2? / { print $5 }' /proc/self/mountinfo | sort -u); do
        mkdir -p "$mp$own"
        for pid in $(cat "$mp/cgroup.procs"); do echo "$pid" > "$mp$own/cgroup.procs" 2>/dev/null || true; done
        mount --bind "$mp$own" "$mp"
    done
    for mp in $(awk -v own="$own" '$4 == own && $5 ~ "^/sys/fs/cgroup/" { print $5 }' /proc/self/mountinfo | sort -u); do
        if ! awk -v m="$mp$own" '$5 == m' /proc/self/mountinfo | grep -q .; then
            mkdir -p "$mp$own"
            mount --bind "$mp" "$mp$own"
        fi
    done
fi
ip route show default | grep -q . || ip route add default dev eth0
"""
NODE_PREP_UNIT = """[Unit]
Description=Lab node preparation (cgroup v1 paths, default route)
DefaultDependencies=no
After=local-fs.target
Before=containerd.service kubelet.service network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/kamaji-lab-node-prep

[Install]
WantedBy=multi-user.target
"""
DEFAULT_NODES = {"etcd": 3, "admin_control_plane": 1, "admin_workers": 1, "tenant_workers": 2}
# With more than one admin control-plane node the lab adds what a platform team brings for
# HA: a TCP load balancer in front of the kube-apiservers (haproxy in a node container, not
# managed by Ansible), whose address is the admin cluster's shared endpoint.
LB = "lab-admin-lb"
LB_CONFIG = """global
    log stdout format raw local0 notice
defaults
    mode tcp
    log global
    # a connection to a server that has just gone away is retried on another one
    timeout connect 1s
    retries 2
    option redispatch 1
    timeout client 1h
    timeout server 1h
frontend admin-api
    bind :6443
    default_backend admin-control-plane
backend admin-control-plane
    # a kube-apiserver leaves the rotation when its /readyz fails twice (1 s apart)
    option httpchk GET /readyz
    http-check expect status 200
    balance roundrobin
{servers}
"""
INVENTORY = os.path.join(REPO, "inventories", "lab", "hosts.yml")
ADMIN_KUBECONFIG = os.path.join(LAB_DIR, "admin.conf")


def log(msg: str) -> None:
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*argv, check=True, capture=False, **kw):
    return subprocess.run(list(argv), check=check, text=True, capture_output=capture, **kw)


def image_tag() -> str:
    key = json.dumps({"suite": SUITE, "packages": PACKAGES, "custom": CUSTOMISATION}, sort_keys=True)
    return "localhost/kamaji-node:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _customise(rootfs: str) -> None:
    """Lab node tweaks: host keys made at first boot, root login by key only."""
    for name in os.listdir(os.path.join(rootfs, "etc", "ssh")):
        if name.startswith("ssh_host_"):
            os.unlink(os.path.join(rootfs, "etc", "ssh", name))
    dropin = os.path.join(rootfs, "etc", "systemd", "system", "ssh.service.d")
    os.makedirs(dropin, exist_ok=True)
    with open(os.path.join(dropin, "hostkeys.conf"), "w", encoding="utf-8") as f:
        f.write("[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n")
    with open(os.path.join(rootfs, "etc", "ssh", "sshd_config.d", "kamaji-lab.conf"), "w", encoding="utf-8") as f:
        f.write("PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n")
    # haproxy only runs in the lab's load balancer of an HA admin control plane: do not start
    # Debian's default one
    for unit in ("haproxy.service",):
        wants = os.path.join(rootfs, "etc", "systemd", "system", "multi-user.target.wants", unit)
        if os.path.lexists(wants):
            os.unlink(wants)
    os.makedirs(os.path.join(rootfs, "root", ".ssh"), mode=0o700, exist_ok=True)
    prep = os.path.join(rootfs, "usr", "local", "sbin", "kamaji-lab-node-prep")
    os.makedirs(os.path.dirname(prep), exist_ok=True)
    with open(prep, "w", encoding="utf-8") as f:
        f.write(NODE_PREP)
    os.chmod(prep, 0o755)
    with open(os.path.join(rootfs, "etc", "systemd", "system", "kamaji-lab-node-prep.service"), "w", encoding="utf-8") as f:
        f.write(NODE_PREP_UNIT)
    link = os.path.join(rootfs, "etc", "systemd", "system", "multi-user.target.wants", "kamaji-lab-node-prep.service")
    if not os.path.lexists(link):
        os.symlink("/etc/systemd/system/kamaji-lab-node-prep.service", link)


def build_image() -> str:
    tag = image_tag()
    if sh("podman", "image", "exists", tag, check=False).returncode == 0:
        log(f"node image {tag}: cached")
        return tag
    os.makedirs(LAB_DIR, exist_ok=True)
    rootfs = os.path.join(LAB_DIR, "node-rootfs-" + tag.rsplit(":", 1)[1])
    if not os.path.isdir(rootfs):
        partial = rootfs + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        start = time.time()
        log(f"debootstrap {SUITE} ({len(PACKAGES)} packages) into {partial}")
        sh("debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, partial, MIRROR,
           stdout=subprocess.DEVNULL)
        os.rename(partial, rootfs)
        log(f"debootstrap done in {time.time() - start:.0f}s")
    _customise(rootfs)
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
    sh("podman", "import", "--change", 'CMD ["/sbin/init"]', "--change", "STOPSIGNAL=SIGRTMIN+3", "-", tag,
       stdin=tar.stdout, stdout=subprocess.DEVNULL)
    if tar.wait() != 0:
        raise SystemExit("tar of the node root file system failed")
    log(f"node image {tag}: imported")
    return tag


def ssh_key() -> str:
    key = os.path.join(LAB_DIR, "id_ed25519")
    if not os.path.exists(key):
        os.makedirs(LAB_DIR, exist_ok=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kamaji-lab", "-f", key)
    return key


def limits() -> list[str]:
    """ulimits runc can set here: at most the hard limits (root lacks CAP_SYS_RESOURCE), and
    nproc at most kernel.pid_max (measured: 32768 works, 32800 fails with 'error setting
    rlimit type 6')."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    with open("/proc/sys/kernel/pid_max", encoding="ascii") as f:
        nproc = min(nproc, int(f.read()))
    return [f"--ulimit=nofile={nofile}:{nofile}", f"--ulimit=nproc={nproc}:{nproc}"]


def node_names(sizes: dict) -> dict:
    prefix = {"etcd": "etcd", "admin_control_plane": "admin-cp", "admin_workers": "admin-worker",
              "tenant_workers": "tenant-worker"}
    return {group: [f"lab-{prefix[group]}-{i}" for i in range(n)] for group, n in sizes.items()}


# Fixed addresses in the lab network, like real machines have: a node keeps its address when
# it restarts (podman would otherwise give it the next free one, and the etcd member URLs,
# certificate SANs, kubelet InternalIPs and the inventory would all point elsewhere).
HOST_OFFSETS = {"etcd": 10, "admin_control_plane": 40, "admin_workers": 70, "tenant_workers": 100}
GROUP_MAX = 30
LB_OFFSET = 5


def _net():
    """The collection's address rules (common/net), imported the way Ansible does."""
    from harness import loader

    loader.install()
    from ansible_collections.kamaji.core.plugins.module_utils.common import net

    return net


def network_subnet():
    out = sh("podman", "network", "inspect", NETWORK, "--format", "{{range .Subnets}}{{.Subnet}} {{end}}",
             capture=True).stdout.split()
    net = _net()
    nets = [n for n in (net.network(s, f"podman network {NETWORK}") for s in out) if n.version == 4]
    if not nets or nets[0].num_addresses < 256:
        raise SystemExit(f"podman network {NETWORK}: needs an IPv4 subnet of at least /24, has {out}")
    return nets[0]


def node_address(subnet, group: str | None, index: int) -> str:
    offset = LB_OFFSET if group is None else HOST_OFFSETS[group] + index
    return str(subnet.network_address + offset)


def host_limits() -> None:
    """Every node's systemd, containerd and kubelet take inotify instances from the same
    host user (root): the default 128 runs out with a few kubelets ("inotify_init: too many
    open files"). Raise it like kind asks its users to; never lower it."""
    path = "/proc/sys/fs/inotify/max_user_instances"
    with open(path, encoding="ascii") as f:
        current = int(f.read())
    if current < 1024:
        with open(path, "w", encoding="ascii") as f:
            f.write("1024")
        log(f"fs.inotify.max_user_instances: {current} -> 1024")


def up(sizes: dict, wait: float = 90) -> dict:
    host_limits()
    tag = build_image()
    key = ssh_key()
    if sh("podman", "network", "exists", NETWORK, check=False).returncode != 0:
        sh("podman", "network", "create", "--internal", "--label", LABEL, NETWORK, stdout=subprocess.DEVNULL)
    groups = node_names(sizes)
    too_many = {g: len(n) for g, n in groups.items() if len(n) > GROUP_MAX}
    if too_many:
        raise SystemExit(f"lab sizes: at most {GROUP_MAX} nodes per group, asked for {too_many}")
    subnet = network_subnet()
    address = {n: node_address(subnet, g, i) for g, names in groups.items() for i, n in enumerate(names)}
    address[LB] = node_address(subnet, None, 0)
    ha = len(groups.get("admin_control_plane", [])) > 1
    _remove_surplus(groups, [LB] if ha else [])
    created = []
    for name in [n for names in groups.values() for n in names] + ([LB] if ha else []):
        if sh("podman", "container", "exists", name, check=False).returncode == 0:
            reason = _unusable(name, address[name])
            if not reason:
                sh("podman", "start", name, stdout=subprocess.DEVNULL)
                continue
            _remove(name, volumes=True)
            log(f"{name}: {reason}; replaced by a fresh node")
        created.append(name)
        sh("podman", "run", "-d", "--name", name, "--hostname", name, "--label", LABEL,
           "--network", NETWORK, "--ip", address[name],
           "--privileged", "--systemd=always", *limits(),
           "-v", f"{key}.pub:/root/.ssh/authorized_keys:ro,Z",
           "-v", f"{name}-var:/var/lib/containerd", tag, stdout=subprocess.DEVNULL)
    hosts = {name: address[name] for names in groups.values() for name in names}
    if ha:
        hosts[LB] = address[LB]
    deadline = time.monotonic() + wait
    pending = set(hosts)
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            probe = sh("ssh", *ssh_options(key), f"root@{hosts[name]}", "true", check=False, capture=True)
            if probe.returncode == 0:
                pending.discard(name)
        if pending:
            time.sleep(1)
    if pending:
        raise SystemExit(f"lab nodes not reachable over SSH after {wait:.0f}s: {', '.join(sorted(pending))}")
    endpoint = load_balancer(key, hosts, groups["admin_control_plane"]) if ha else None
    write_inventory(groups, hosts, key, endpoint)
    log(f"lab up: {len(hosts)} nodes ({len(created)} created), inventory {INVENTORY}")
    return hosts


def load_balancer(key: str, hosts: dict, control_plane: list) -> str:
    """Configure and (re)start haproxy in the lab's load balancer; returns the endpoint."""
    line = "    server {0} {1}:6443 check check-ssl verify none inter 1s fall 2 rise 2"
    servers = "\n".join(line.format(n, hosts[n]) for n in control_plane)
    config = LB_CONFIG.format(servers=servers)
    ssh = ["ssh", *ssh_options(key), f"root@{hosts[LB]}"]
    current = sh(*ssh, "cat /etc/haproxy/haproxy.cfg", check=False, capture=True).stdout
    if current != config or sh(*ssh, "systemctl is-active -q haproxy", check=False).returncode != 0:
        sh(*ssh, "cat > /etc/haproxy/haproxy.cfg && systemctl enable -q haproxy && systemctl restart haproxy",
           input=config)
        log(f"load balancer {LB}: {hosts[LB]}:6443 -> {', '.join(control_plane)}")
    return f"{hosts[LB]}:6443"


def _remove(*names: str, volumes: bool = False) -> None:
    """Remove containers (and with volumes=True their `<name>-var` volumes), orphaned ones too:
    for those a plain `rm -f` fails once ("could not be stopped ... state improper") and only
    moves them to "stopping"; a `stop` first settles them."""
    sh("podman", "stop", "-t", "5", *names, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh("podman", "rm", "-f", "-t", "0", *names, stdout=subprocess.DEVNULL)
    if volumes:
        sh("podman", "volume", "rm", "-f", *[f"{n}-var" for n in names], check=False,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _unusable(name: str, address: str) -> str:
    """Why an existing node cannot be started again as it is ("" if it can), from one inspect.

    - made without its fixed address (by an older lab.py);
    - orphaned: podman records it running but its processes are gone. That happens when the
      session that ran podman is killed with everything in it (conmon included), without a
      host reboot: podman never learns of the exit, `podman start` refuses ("container state
      improper") and `podman exec` fails. A container that exited normally (host reboot,
      `podman stop`) is fine: `podman start` boots it.
    """
    out = sh("podman", "container", "inspect", name, "--format",
             "{{.State.Status}} {{.State.Pid}} {{json .Config.CreateCommand}}", capture=True).stdout
    status, pid, create = out.split(" ", 2)
    argv = json.loads(create) or []
    if next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--ip"), "") != address:
        return f"made without its fixed address {address}"
    if status not in ("running", "stopping", "paused"):
        return ""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as f:
            # a zombie counts as gone: with conmon dead, its reaper may be an init that never reaps
            alive = f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        alive = False
    return "" if alive else "podman records it running but its processes are gone"


def _remove_surplus(groups: dict, extra: list) -> None:
    """Sizes are the truth: lab nodes beyond them (from an earlier, larger `up`) are removed."""
    wanted = {n for names in groups.values() for n in names} | set(extra)
    running = sh("podman", "ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}", capture=True).stdout.split()
    surplus = sorted(set(running) - wanted)
    if surplus:
        _remove(*surplus, volumes=True)
        log(f"removed surplus nodes: {', '.join(surplus)}")


def ssh_options(key: str) -> list[str]:
    return ["-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=3", "-o", "BatchMode=yes"]


def write_inventory(groups: dict, hosts: dict, key: str, endpoint: str | None = None) -> None:
    os.makedirs(os.path.dirname(INVENTORY), exist_ok=True)
    children = {group: {"hosts": {n: {"ansible_host": hosts[n]} for n in names}} for group, names in groups.items()}
    # one tenant per tenant worker, reached through the first admin worker's NodePorts
    workers = groups.get("admin_workers") or groups.get("admin_control_plane") or []
    tenants = {}
    for i, worker in enumerate(groups.get("tenant_workers", [])):
        name = f"tenant-{chr(ord('a') + i)}"
        tenants[name] = {"tenant": {"endpoint": {"address": hosts[workers[0]], "port": 31443 + i}}} if workers else {}
        children["tenant_workers"]["hosts"][worker]["kamaji_tenant"] = name
    children["tenants"] = {"hosts": tenants, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "tenant_control_plane_admin_kubeconfig": ADMIN_KUBECONFIG}}
    inventory = {"all": {
        "vars": {"ansible_user": "root", "ansible_ssh_private_key_file": key,
                 "ansible_ssh_common_args": " ".join(ssh_options(key)[2:]),
                 "ansible_python_interpreter": "/usr/bin/python3",
                 "admin_cluster_kubeconfig": ADMIN_KUBECONFIG,
                 # tenant admin kubeconfigs: written by the tenants play, read by the tenant workers
                 "tenant_control_plane_kubeconfig_dir": os.path.join(LAB_DIR, "tenants")},
        "children": children,
    }}
    if endpoint:
        inventory["all"]["vars"]["admin_cluster_control_plane_endpoint"] = endpoint
    with open(INVENTORY, "w", encoding="utf-8") as f:
        f.write("# Written by tools/lab/lab.py; the lab's own inventory (not for real machines).\n")
        json.dump(inventory, f, indent=2)
        f.write("\n")


def destroy() -> None:
    names = sh("podman", "ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}", capture=True).stdout.split()
    if names:
        _remove(*names)
    volumes = [v for v in sh("podman", "volume", "ls", "--format", "{{.Name}}", capture=True).stdout.split()
               if v.startswith("lab-") and v.endswith("-var")]
    if volumes:
        sh("podman", "volume", "rm", "-f", *volumes, stdout=subprocess.DEVNULL)
    if sh("podman", "network", "exists", NETWORK, check=False).returncode == 0:
        sh("podman", "network", "rm", "-f", NETWORK, stdout=subprocess.DEVNULL)
    if os.path.exists(INVENTORY):
        os.unlink(INVENTORY)
    # kubeconfigs of the destroyed clusters (the SSH key stays: it is not tied to the nodes)
    shutil.rmtree(os.path.join(LAB_DIR, "tenants"), ignore_errors=True)
    if os.path.exists(ADMIN_KUBECONFIG):
        os.unlink(ADMIN_KUBECONFIG)
    log(f"lab destroyed ({len(names)} containers, {len(volumes)} volumes)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["image", "up", "destroy"])
    for group, n in DEFAULT_NODES.items():
        ap.add_argument(f"--{group.replace('_', '-')}", type=int, default=n, dest=group)
    args = ap.parse_args()
    if args.command == "image":
        build_image()
    elif args.command == "up":
        up({g: getattr(args, g) for g in DEFAULT_NODES})
    else:
        destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
