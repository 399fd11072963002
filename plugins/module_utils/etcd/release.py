# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The etcd release a member runs, and whether ``etcd_version`` may move it (the version step
of an upgrade).

What a member runs is read on the member, without credentials and whether etcd runs or not:
the installed binary's ``etcd --version``, unless the member owes a restart. Its restart-owed
marker (``RESTART_OWED`` in the role's configuration directory) is written when its binary,
settings or certificates change and removed once it restarted healthy; it names the release
the member ran when it was written, which the member still runs until that restart. A roll
that stopped half-way thus restarts the members it had not reached on the next run, and the
version step is checked against what they really run.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

# the marker's file name, in etcd_config_dir
RESTART_OWED = "restart-owed"
# the first line of `etcd --version`: "etcd Version: 3.7.3"
_VERSION_LINE = re.compile(r"^etcd Version:\s*v?(\d+\.\d+\.\d+)\s*$", re.MULTILINE)


def installed(version_output: str | None) -> str | None:
    """``etcd --version``'s output -> ``v3.7.3``; None when it names no release (not installed)."""
    match = _VERSION_LINE.search(version_output or "")
    return "v" + match.group(1) if match else None


def running(version_output: str | None, restart_owed: str | None) -> str | None:
    """The release the member runs: the one its restart-owed marker names (``restart_owed``, the
    marker's content, None when there is none), else the installed one; None when not installed."""
    recorded = (restart_owed or "").strip()
    return recorded if skew.parse(recorded) else installed(version_output)


def step(wanted: str, version_output: str | None, restart_owed: str | None) -> dict[str, Any]:
    """The version step of one member: what it runs (``running``, "" when not installed), whether
    it owes a restart, what moves (``move``: "" when nothing does, else ``etcd <running> -> <wanted>``)
    and ``error`` ("" when ``wanted`` may follow, else one line naming etcd_version and the fix)."""
    now = running(version_output, restart_owed)
    error = skew.etcd_step_error(now, wanted) or ""
    moves = bool(now) and not error and now != wanted
    return {"running": now or "", "restart_owed": restart_owed is not None, "error": error,
            "move": "etcd %s -> %s" % (now, wanted) if moves else ""}
