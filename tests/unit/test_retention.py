"""One retention rule for the dated files (etcd snapshots, tenant backups): the newest ``keep``
stay, another stem's files are never touched, 0 keeps them all."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.filter.beyond_newest import beyond_newest as beyond_newest_filter
from ansible_collections.kamaji.core.plugins.module_utils.common import retention

NAMES = ["/b/snapshot-20261201T000000Z.db", "/b/snapshot-20261203T000000Z.db", "/b/snapshot-20261202T000000Z.db",
         "/b/before-upgrade-20261130T000000Z.db", "/b/snapshot-old-20261101T000000Z.db", "/b/snapshot-x.db",
         "/b/snapshot-20261204T000000Z.db.part"]


def test_the_oldest_beyond_keep_of_this_stem_only():
    assert retention.beyond_newest(NAMES, "snapshot", ".db", 1) == [
        "/b/snapshot-20261201T000000Z.db", "/b/snapshot-20261202T000000Z.db"]
    assert retention.beyond_newest(NAMES, "before-upgrade", ".db", 1) == []
    assert retention.dated(NAMES, "snapshot-old", ".db") == ["/b/snapshot-old-20261101T000000Z.db"]


def test_keep_zero_keeps_all_and_more_than_there_are_removes_none():
    assert retention.beyond_newest(NAMES, "snapshot", ".db", 0) == []
    assert retention.beyond_newest(NAMES, "snapshot", ".db", 9) == []


@pytest.mark.parametrize("keep", [-1, True, "2", 1.5])
def test_a_keep_that_is_not_a_whole_number_is_refused(keep):
    with pytest.raises(ValueError, match="keep: "):
        retention.beyond_newest(NAMES, "snapshot", ".db", keep)


def test_the_filter_applies_the_same_rule():
    assert beyond_newest_filter(NAMES, "snapshot", ".db", 2) == ["/b/snapshot-20261201T000000Z.db"]
