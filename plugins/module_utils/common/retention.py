# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Retention of files named ``<stem>-<UTC time><suffix>``: the tenant backups
(``acme-20261206T071500Z.tenant-backup.tar``) and the etcd snapshots
(``before-upgrade-20261206T071500Z.db``). Their names sort by time, so the newest are the
last in name order; one rule says which of them a retention of ``keep`` removes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

TIME_FORMAT = "%Y%m%dT%H%M%SZ"
TIME_PATTERN = "[0-9]{8}T[0-9]{6}Z"


def dated(names: Iterable[str], stem: str, suffix: str) -> list[str]:
    """The names (or paths: their file names are matched) of ``stem``'s files, oldest first.
    Another stem that starts with this one (``snapshot-old-<time>.db`` for ``snapshot``) is not
    matched."""
    pattern = re.compile("^" + re.escape(stem) + "-" + TIME_PATTERN + re.escape(suffix) + "$")
    return sorted((n for n in names if pattern.match(os.path.basename(n))), key=os.path.basename)


def beyond_newest(names: Iterable[str], stem: str, suffix: str, keep: int) -> list[str]:
    """The files of ``stem`` beyond the ``keep`` newest, oldest first; ``keep`` 0 keeps them all."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise ValueError("keep: %r is not a whole number of 0 or more (0 keeps them all)" % (keep,))
    mine = dated(names, stem, suffix)
    return mine[:-keep] if keep > 0 else []
