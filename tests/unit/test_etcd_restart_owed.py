"""The etcd role's owed restarts survive a stopped run: the role's own tasks files (version_check,
install) on localhost, with stand-in etcd binaries from a bundle. A member with data whose binary
changes gets a restart-owed marker naming the release it still runs; the next run, which finds
the binary unchanged, still restarts it and checks the version step against that release; check
mode writes nothing; a member without data owes nothing."""
from __future__ import annotations

import shutil

import pytest
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle

E = versions.ETCD
OLDER = "v3.%d.9" % (versions.minor(E) - 1)
ETCD_ROLE = {"name": "kamaji.core.etcd"}


def _etcd(path, version):
    """A stand-in etcd printing what `etcd --version` prints."""
    path.write_text("#!/bin/sh\necho 'etcd Version: %s'\necho 'Git SHA: 0123abcd'\n" % version.lstrip("v"))
    path.chmod(0o755)


@pytest.fixture
def member(tmp_path):
    """A member running etcd ``OLDER`` (with data unless a test removes it) and a bundle of ``E``."""
    b = tmp_path / "bundle"
    (b / "bin").mkdir(parents=True)
    _etcd(b / "bin" / "etcd", E)
    for name in ("etcdctl", "etcdutl"):
        (b / "bin" / name).write_text(name)
    bundle.write(str(b), {"etcd": E}, {}, {})
    for d in ("bin", "config", "data/member"):
        (tmp_path / d).mkdir(parents=True)
    _etcd(tmp_path / "bin" / "etcd", OLDER)
    return tmp_path


def _run(tmp_path, check=False):
    """version_check then install, as the role's main.yml runs them; -> (result, facts of the host)."""
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars": {"etcd_bin_dir": str(tmp_path / "bin"), "etcd_config_dir": str(tmp_path / "config"),
                      "etcd_data_dir": str(tmp_path / "data"), "etcd_bundle_dir": str(tmp_path / "bundle")},
             "tasks": [
                 {"name": "Version step", "ansible.builtin.include_role": dict(ETCD_ROLE, tasks_from="version_check")},
                 {"name": "Install", "ansible.builtin.include_role": dict(ETCD_ROLE, tasks_from="install")},
                 {"name": "Facts", "ansible.builtin.debug": {"msg": {
                     "move": "{{ etcd_upgrade_move }}", "needs_restart": "{{ _etcd_needs_restart }}",
                     "binaries_changed": "{{ _etcd_binaries_changed }}"}}}]}]
    res = run_playbook(play, tmp_path, check=check)
    assert res.rc == 0, res.failed_tasks()
    return res, res.task("Facts")["msg"]


def _marker(tmp_path):
    path = tmp_path / "config" / "restart-owed"
    return path.read_text() if path.exists() else None


def test_a_new_binary_owes_a_restart_until_it_happens_and_a_rerun_still_owes_it(member):
    res, facts = _run(member)
    assert facts == {"move": f"etcd {OLDER} -> {E}", "needs_restart": True, "binaries_changed": True}
    assert _marker(member) == OLDER + "\n"
    # the run stopped here (before restart.yml reached this member): the re-run finds the binary
    # installed, yet the member still runs OLDER, owes its restart, and would still move
    res, facts = _run(member)
    assert facts == {"move": f"etcd {OLDER} -> {E}", "needs_restart": True, "binaries_changed": False}
    assert _marker(member) == OLDER + "\n"
    assert res.changed() == 0


def test_check_mode_writes_no_marker(member):
    facts = _run(member, check=True)[1]
    assert facts == {"move": f"etcd {OLDER} -> {E}", "needs_restart": True, "binaries_changed": True}
    assert _marker(member) is None


def test_a_member_without_data_owes_no_restart(member):
    (member / "data" / "member").rmdir()
    (member / "config" / "restart-owed").write_text(OLDER + "\n")  # left from its former data
    facts = _run(member)[1]
    assert facts["needs_restart"] is False and facts["binaries_changed"] is True
    assert _marker(member) is None


def test_an_unchanged_member_owes_nothing(member):
    for name in ("etcd", "etcdctl", "etcdutl"):  # the bundle's binaries installed already
        shutil.copy2(member / "bundle" / "bin" / name, member / "bin" / name)
        (member / "bin" / name).chmod(0o755)
    res, facts = _run(member)
    assert facts == {"move": "", "needs_restart": False, "binaries_changed": False}
    assert _marker(member) is None and res.changed() == 0
