"""The collection builds, installs into a clean path, and every plugin's docs render."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py")))
PLAYBOOKS = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(REPO, "playbooks", "*.yml")))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pkg")
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp), REPO],
                   check=True, capture_output=True)
    tarball = next(tmp.glob("kamaji-core-*.tar.gz"))
    dest = tmp / "collections"
    # a clean collections path: nothing else configured, so the checkout itself is not seen
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(dest),
                    str(tarball)], check=True, capture_output=True, env=env)
    assert (dest / "ansible_collections" / "kamaji" / "core" / "MANIFEST.json").exists()
    return tarball, dest, env


def test_tarball_leaves_out_dev_files(installed):
    tarball = installed[0]
    names = tarfile.open(tarball).getnames()
    assert "MANIFEST.json" in names and "plugins/modules/tenant_pki.py" in names
    for dev in ("tests/", "tools/", ".ci/", "Makefile", "requirements-dev.txt"):
        assert not any(n == dev.rstrip("/") or n.startswith(dev) for n in names), dev


def test_ansible_doc_lists_every_module(installed):
    _unused, _dest, env = installed
    out = subprocess.run(["ansible-doc", "-l", "kamaji.core", "-j"], env=env, check=True, capture_output=True, text=True)
    listed = set(json.loads(out.stdout))
    assert {f"kamaji.core.{m}" for m in MODULES} <= listed
    assert len(MODULES) >= 1


@pytest.mark.parametrize("module", MODULES)
def test_module_docs_render(installed, module):
    _unused, _dest, env = installed
    out = subprocess.run(["ansible-doc", f"kamaji.core.{module}"], env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "EXAMPLES" in out.stdout and "RETURN VALUES" in out.stdout


def test_filter_docs_render(installed):
    _unused, _dest, env = installed
    out = subprocess.run(["ansible-doc", "-t", "filter", "kamaji.core.ca_cert_hash"], env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_playbooks_run_by_fqcn(installed):
    _unused, dest, env = installed
    assert PLAYBOOKS, "the collection ships playbooks"
    env = dict(env, ANSIBLE_COLLECTIONS_PATH=str(dest) + ":" + os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""))
    for pb in PLAYBOOKS:
        out = subprocess.run(["ansible-playbook", f"kamaji.core.{pb}", "--syntax-check", "-i", "localhost,"],
                             env=env, capture_output=True, text=True, check=False)
        assert out.returncode == 0, (pb, out.stdout, out.stderr)


def test_every_sanity_ignore_carries_a_reason():
    for path in glob.glob(os.path.join(REPO, "tests", "sanity", "ignore-*.txt")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    assert " # " in line and line.split(" # ", 1)[1].strip(), (path, line)


def test_role_argument_specs_cover_every_default():
    import yaml

    for role in glob.glob(os.path.join(REPO, "roles", "*")):
        name = os.path.basename(role)
        defaults_file = os.path.join(role, "defaults", "main.yml")
        with open(os.path.join(role, "meta", "argument_specs.yml"), encoding="utf-8") as f:
            specs = yaml.safe_load(f)["argument_specs"]
        documented = {opt for entry in specs.values() for opt in entry.get("options", {})}
        if os.path.exists(defaults_file):
            with open(defaults_file, encoding="utf-8") as f:
                defaults = yaml.safe_load(f) or {}
            for var in defaults:
                assert var.startswith(name + "_"), f"{name}: default {var} is not prefixed with the role name"
                assert var in documented, f"{name}: default {var} is missing from meta/argument_specs.yml"
