"""Whether this machine's disk can hold the e2e lab (checked before the tier boots it)."""
from __future__ import annotations

import os
import shutil
import subprocess

import yaml

from harness.paths import REPO

# The lab's nodes share this machine's disk (podman's storage): while the tier runs they take
# about 28 GB (each node imports the bundle's images), and the sample's admin kubelets evict
# below their nodefs threshold, so every node would be tainted disk-pressure on a disk with
# less than this plus that threshold free before the tier.
LAB_DISK_GB = 30
SAMPLE_ADMIN_VARS = os.path.join(REPO, "inventories", "sample", "group_vars", "admin_cluster.yml")


def eviction_percent() -> int:
    """The sample admin kubelets' nodefs.available eviction threshold, in percent (the e2e
    tier deploys the sample as it is)."""
    with open(SAMPLE_ADMIN_VARS, encoding="utf-8") as f:
        hard = yaml.safe_load(f)["admin_cluster_kubelet_config"]["evictionHard"]
    return int(str(hard["nodefs.available"]).rstrip("%"))


def lab_storage() -> str:
    """Where the lab's node containers write: podman's storage (the root when podman cannot tell)."""
    out = subprocess.run(["podman", "info", "--format", "{{.Store.GraphRoot}}"], capture_output=True, text=True,
                         check=False, timeout=60).stdout.strip()
    return out if out and os.path.isdir(out) else "/"


def disk_short(path, total=None, free=None):
    """What the lab lacks on the disk of ``path`` (a sentence), or None when it fits."""
    usage = shutil.disk_usage(path)
    total = usage.total if total is None else total
    free = usage.free if free is None else free
    percent = eviction_percent()
    need = LAB_DISK_GB * 2**30 + total * percent // 100
    if free >= need:
        return None
    return (f"{path}: {free / 2**30:.0f} GB free, the e2e lab needs {need / 2**30:.0f} GB (its nodes take about "
            f"{LAB_DISK_GB} GB, and the sample's kubelets evict below {percent} % of this "
            f"{total / 2**30:.0f} GB disk): free some space (an old cache under ~/.cache/kamaji-core, "
            f"`podman system prune`) and run the tier again")
