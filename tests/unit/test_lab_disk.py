"""The e2e tier refuses, in one line, a disk that cannot hold its lab (instead of 25 errors
after its site found every node tainted disk-pressure)."""
from __future__ import annotations

from harness.disk import disk_short

GB = 2**30


def test_a_disk_that_cannot_hold_the_lab_is_named_with_what_it_lacks():
    # the cold run beside the warm cache: 32 GB free of 252 GB
    msg = disk_short("/", total=252 * GB, free=32 * GB)
    assert msg.startswith("/: 32 GB free, the e2e lab needs 43 GB (its nodes take about 30 GB, and the sample's "
                          "kubelets evict below 5 % of this 252 GB disk): free some space"), msg
    assert disk_short("/", total=252 * GB, free=58 * GB) is None
    assert disk_short("/", total=100 * GB, free=35 * GB) is None
