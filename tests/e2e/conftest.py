"""The lab for end-to-end tests: node containers brought up once per session, over SSH."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from harness.disk import disk_short, lab_storage
from harness.procs import REPO

LAB = [sys.executable, os.path.join(REPO, "tools", "lab", "lab.py")]
# KAMAJI_E2E_KEEP=1: leave the last lab standing after the tier, to look at it (a developer's
# switch; CI never sets it, and the next tier run starts from fresh nodes anyway)
KEEP = os.environ.get("KAMAJI_E2E_KEEP") == "1"
# Every playbook run of the tier: its wall time and slowest tasks, in one file beside the tier's
# results (where the tier's time goes: CONTRIBUTING.md's budget). A fresh file per tier run.
RUN_LOG = os.path.join(REPO, ".build", "e2e-runs.txt")
os.makedirs(os.path.dirname(RUN_LOG), exist_ok=True)
with open(RUN_LOG, "w", encoding="utf-8"):
    pass
os.environ["KAMAJI_RUN_LOG"] = RUN_LOG


# The lab of the tier: the sample inventory's layout (test_site.py deploys it; test_lab_nodes.py
# checks the bare nodes first, so the lab boots once for both).
SIZES = {"etcd": 3, "admin_control_plane": 3, "admin_workers": 2, "tenant_workers": 2}
SIZE_ARGS = [f"--{group.replace('_', '-')}={n}" for group, n in SIZES.items()]


@pytest.fixture(scope="session")
def lab():
    # The tier starts from fresh nodes: a lab left by an interrupted run (or by `make lab`) may
    # carry a deployed site, which would make every "first run" test a re-run.
    subprocess.run([*LAB, "destroy"], capture_output=True, text=True, check=False)
    short = disk_short(lab_storage())
    if short:
        pytest.fail(short, pytrace=False)
    up = subprocess.run([*LAB, "up", *SIZE_ARGS], capture_output=True, text=True, check=False)
    if up.returncode != 0:
        pytest.fail(f"the lab did not come up:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}", pytrace=False)
    yield os.path.join(REPO, "inventories", "lab", "hosts.yml")
    if not KEEP:
        subprocess.run([*LAB, "destroy"], capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory):
    """The offline bundle the lab installs from (tests/harness/bundles.py's ``site``: this release
    and the previous minor's; warm: seconds)."""
    return _bundle("site", tmp_path_factory)


@pytest.fixture(scope="session")
def old_runtime_bundle(bundle_dir, tmp_path_factory):
    """The bundle of the previous releases the site is deployed at (``site-older``: the same
    Kubernetes releases, the previous etcd and containerd). The upgrade scenario then points the
    inventory at ``bundle_dir``, which moves them."""
    return _bundle("site-older", tmp_path_factory)


def _bundle(name, tmp_path_factory):
    from harness import bundles

    try:
        return bundles.build(name, tmp_path_factory.mktemp("bundle-" + name))
    except bundles.BundleError as e:
        pytest.fail(str(e), pytrace=False)


def lab_up(**sizes):
    """(Re)size the lab; returns the inventory path."""
    args = [f"--{group.replace('_', '-')}={n}" for group, n in sizes.items()]
    up = subprocess.run([*LAB, "up", *args], capture_output=True, text=True, check=False)
    if up.returncode != 0:
        pytest.fail(f"lab up {args} failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}", pytrace=False)
    return os.path.join(REPO, "inventories", "lab", "hosts.yml")


def wait_booted(node, timeout=180):
    """systemd's state in a lab node just (re)started, waiting (bounded) for its bus to exist and
    its boot to finish: 'running' or 'degraded' once booted, else the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        probe = subprocess.run(["podman", "exec", node, "systemctl", "is-system-running", "--wait"],
                               capture_output=True, text=True, check=False, timeout=timeout)
        state = probe.stdout.strip()
        if state in ("running", "degraded") or time.monotonic() > deadline:
            return state or probe.stderr.strip()
        time.sleep(1)
