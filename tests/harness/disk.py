"""Whether this machine's disk can hold the e2e lab (checked before the tier boots it)."""
from __future__ import annotations

import shutil

# The lab's nodes share this machine's disk: while the tier runs they take about 28 GB (each
# node imports the bundle's images), and the sample's admin kubelets evict below 5 % free, so
# every node would be tainted disk-pressure on a disk with less than this before the tier.
LAB_DISK_GB = 30
EVICTION_PERCENT = 5


def disk_short(path, total=None, free=None):
    """What the lab lacks on the disk of ``path`` (a sentence), or None when it fits."""
    usage = shutil.disk_usage(path)
    total = usage.total if total is None else total
    free = usage.free if free is None else free
    need = LAB_DISK_GB * 2**30 + total * EVICTION_PERCENT // 100
    if free >= need:
        return None
    return (f"{path}: {free / 2**30:.0f} GB free, the e2e lab needs {need / 2**30:.0f} GB (its nodes take about "
            f"{LAB_DISK_GB} GB, and the sample's kubelets evict below {EVICTION_PERCENT} % of this "
            f"{total / 2**30:.0f} GB disk): free some space (an old cache under ~/.cache/kamaji-core, "
            f"`podman system prune`) and run the tier again")
