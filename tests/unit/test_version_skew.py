"""upgrade.skew: the fleet's version-skew rules, and the filters the roles ask them through."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.filter.etcd_version_step import etcd_version_step
from ansible_collections.kamaji.core.plugins.filter.kubelet_skew import kubelet_skew
from ansible_collections.kamaji.core.plugins.filter.tenant_kubernetes_version import tenant_kubernetes_version
from ansible_collections.kamaji.core.plugins.filter.version_step import version_step
from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.etcd import release
from ansible_collections.kamaji.core.plugins.module_utils.upgrade import skew

NEWEST = versions.KUBERNETES
OLDER = versions.KUBERNETES_OLDER[0]


M = versions.minor(NEWEST)


def v(minor, patch=0):
    """A release of the newest minor plus ``minor`` (versions written out here would be drift)."""
    return "v1.%d.%d" % (M + minor, patch)


@pytest.mark.parametrize(("kubelet", "control_plane", "error"), [
    (v(0, 2), v(0, 2), None),
    (v(0, 9), v(0, 2), None),              # a newer patch of the same minor is within the policy
    (v(-1, 3), v(0, 2), None),
    (v(-3), v(0, 2), None),                # three minors behind: the oldest a kubelet may be
    (v(1), v(0, 2), f"kv: {v(1)} is newer than cpf {v(0, 2)}; a kubelet never runs a newer minor than its "
                    f"control plane: set it to v1.{M}.x or older, or upgrade the control plane first"),
    (v(-4, 9), v(0, 2), f"kv: {v(-4, 9)} is more than 3 minors behind cpf {v(0, 2)}; move the kubelet up "
                        f"(v1.{M - 3}.x at least) before the control plane"),
    (v(0, 2)[1:], v(0, 2), f"kv: '{v(0, 2)[1:]}' must look like v"),
    (v(0, 2), "latest", "cpf: 'latest' must look like v"),
])
def test_a_kubelet_never_runs_newer_than_its_control_plane(kubelet, control_plane, error):
    got = skew.kubelet_error("kv", kubelet, control_plane, "cpf")
    assert (got is None) if error is None else got.startswith(error), got
    assert kubelet_skew(kubelet, control_plane, "kv", "cpf") == (got or "")


@pytest.mark.parametrize(("running", "wanted", "error"), [
    (None, v(0, 2), None),
    (v(-1, 3), v(0, 2), None),
    (v(0, 2), v(0, 2), None),
    (v(0, 2), v(0, 9), None),
    (v(0, 2), v(0, 1), None),              # a patch down within the minor: the data format is the minor's
    (v(0, 2), v(-1, 3), f"f: {v(-1, 3)} would downgrade the running {v(0, 2)}; etcd members never move down a minor"),
    (v(-2, 4), v(0, 2), f"f: {v(0, 2)} skips a minor from the running {v(-2, 4)}; upgrade one minor at a time "
                        f"(first v1.{M - 1})"),
    (v(0, 2), "v2.0.0", f"f: v2.0.0 skips a minor from the running {v(0, 2)}"),
    (v(0, 2), v(1)[:-2], f"f: '{v(1)[:-2]}' must look like v"),
])
def test_a_version_moves_one_minor_at_a_time_and_never_down(running, wanted, error):
    got = skew.step_error("f", running, wanted, "etcd members")
    assert (got is None) if error is None else got.startswith(error), got
    assert version_step(wanted, running or "", "f", "etcd members") == (got or "")


def test_a_tenant_worker_finds_its_tenants_version_with_the_specs_default():
    hostvars = {"acme": {"tenant": {"kubernetes_version": OLDER}}, "globex": {"tenant": {}},
                "initech-host": {"tenant_name": "initech", "tenant": {"kubernetes_version": OLDER}}}
    hosts = list(hostvars)
    assert tenant_kubernetes_version("acme", hostvars, hosts) == OLDER
    assert tenant_kubernetes_version("globex", hostvars, hosts) == NEWEST
    assert tenant_kubernetes_version("initech", hostvars, hosts) == OLDER
    # named by tenant_name, not by its host any more; an unknown tenant: empty
    assert tenant_kubernetes_version("initech-host", hostvars, hosts) == ""
    assert tenant_kubernetes_version("nope", hostvars, hosts) == ""


# ---- etcd's version step: the release a member runs, read on the member, and etcd_version's move
E = versions.ETCD
EM = versions.minor(E)


def ev(minor, patch=0):
    """A release of etcd's minor plus ``minor``."""
    return "v3.%d.%d" % (EM + minor, patch)


def out(version):
    """What `etcd --version` prints."""
    return "etcd Version: %s\nGit SHA: 0123abcd\nGo Version: go1.25.1\nGo OS/Arch: linux/amd64\n" % version.lstrip("v")


@pytest.mark.parametrize(("running", "wanted", "error"), [
    (None, E, None),                        # not installed yet: nothing to check
    (ev(-1, 9), E, None),                   # +1 minor
    (ev(0, 1), ev(0, 5), None),             # a patch up
    (ev(0, 5), ev(0, 1), None),             # a patch down within the minor
    (ev(-2, 4), E, f"etcd_version: {E} skips a minor from the running {ev(-2, 4)}; upgrade one minor at a time "
                   f"(first v3.{EM - 1})"),
    (E, ev(-1, 9), f"etcd_version: {ev(-1, 9)} would downgrade the running {E}; etcd members never move down a minor: "
                   f"set it to v3.{EM}.x or newer"),
    (E, E[1:], f"etcd_version: '{E[1:]}' must look like {E} (v<major>.<minor>.<patch>)"),
])
def test_etcd_moves_one_minor_at_a_time_and_never_down(running, wanted, error):
    assert skew.etcd_step_error(running, wanted) == error


def test_the_etcd_version_output_names_the_installed_release():
    assert release.installed(out(ev(-1, 9))) == ev(-1, 9)
    # not installed: the command module skipped the read (its stdout says so), or nothing ran at all
    for nothing in ("", None, "skipped, since /usr/local/bin/etcd does not exist"):
        assert release.installed(nothing) is None


def test_a_member_owing_a_restart_runs_the_release_its_marker_names():
    # the roll replaced the binary (v3.x+1) but stopped before restarting this member
    assert release.running(out(E), ev(-1, 9) + "\n") == ev(-1, 9)
    # no marker, or one without a release (written by a run that could not read it): the binary's
    assert release.running(out(E), None) == E
    assert release.running(out(E), "\n") == E


@pytest.mark.parametrize(("output", "owed", "wanted", "step"), [
    (out(E), None, E, {"running": E, "restart_owed": False, "move": "", "error": ""}),
    ("", None, E, {"running": "", "restart_owed": False, "move": "", "error": ""}),
    (out(ev(-1, 9)), None, E, {"running": ev(-1, 9), "restart_owed": False, "move": f"etcd {ev(-1, 9)} -> {E}",
                               "error": ""}),
    # a stopped roll: the binary is the wanted one already, the member still runs the older release
    (out(E), ev(-1, 9) + "\n", E, {"running": ev(-1, 9), "restart_owed": True, "move": f"etcd {ev(-1, 9)} -> {E}",
                                   "error": ""}),
    # a settings change owed the restart: the release does not move
    (out(E), E + "\n", E, {"running": E, "restart_owed": True, "move": "", "error": ""}),
    # the stopped roll's members are refused a second step before they ran the first one
    (out(ev(0)), ev(-1, 9) + "\n", ev(1), {
        "running": ev(-1, 9), "restart_owed": True, "move": "",
        "error": f"etcd_version: {ev(1)} skips a minor from the running {ev(-1, 9)}; upgrade one minor at a time "
                 f"(first v3.{EM})"}),
])
def test_the_etcd_version_step_filter(output, owed, wanted, step):
    assert etcd_version_step(wanted, output, owed) == step
