"""The collection builds, installs into a clean path, and every plugin's docs render."""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py")))
PLAYBOOKS = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(REPO, "playbooks", "*.yml")))


FILTERS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "plugins", "filter", "*.py"))
                 if not os.path.basename(p).startswith("_"))
INVENTORIES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "plugins", "inventory", "*.py"))
                     if not os.path.basename(p).startswith("_"))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "roles", "*")))
# where a role, playbook or plugin can name another collection's module, filter, lookup or test
USES = ("roles", "playbooks", "plugins", "meta")
FQCN = re.compile(r"\b([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*\b")
OWN = {"ansible.builtin", "ansible.legacy", "kamaji.core"}


def _dev_collections():
    """ns.name -> directory of every collection the development environment has (the cache
    tools/install_collections.py fills), leaving out this checkout's own link."""
    found = {}
    for root in filter(None, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)):
        for manifest in glob.glob(os.path.join(root, "ansible_collections", "*", "*", "MANIFEST.json")):
            path = os.path.dirname(manifest)
            if os.path.realpath(path) != os.path.realpath(REPO):
                ns, name = path.split(os.sep)[-2:]
                found.setdefault(f"{ns}.{name}", path)
    return found


def _version(path):
    with open(os.path.join(path, "MANIFEST.json"), encoding="utf-8") as f:
        return json.load(f)["collection_info"]["version"]


def clean_env(dest):
    """Only the clean collections path: no development path, no repository ansible.cfg."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    cfg = os.path.join(str(dest), "ansible.cfg")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write("[defaults]\n")
    env.update(ANSIBLE_CONFIG=cfg, ANSIBLE_COLLECTIONS_PATH=str(dest), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp), REPO],
                   check=True, capture_output=True)
    tarball = next(tmp.glob("kamaji-core-*.tar.gz"))
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    return tarball, manifest["collection_info"]["dependencies"]


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """The tarball installed with its declared dependencies, and nothing else, into a clean path.

    No Galaxy server is reachable: each declared dependency is installed from the development
    cache's copy, by the same resolver (``--offline``), which refuses a version outside the
    declared range."""
    tarball, dependencies = built
    tmp = tmp_path_factory.mktemp("pkg")
    dest = tmp / "collections"
    dest.mkdir()
    env = clean_env(dest)
    available = _dev_collections()
    missing = sorted(set(dependencies) - set(available))
    assert not missing, f"declared dependencies not in the development collections path: {missing}"
    out = subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(dest),
                          str(tarball)] + [available[d] for d in sorted(dependencies)],
                         capture_output=True, text=True, env=env, cwd=str(tmp), check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    installed_names = {"%s.%s" % tuple(p.split(os.sep)[-3:-1])
                       for p in glob.glob(str(dest / "ansible_collections" / "*" / "*" / "MANIFEST.json"))}
    assert installed_names == {"kamaji.core"} | set(dependencies), installed_names
    return tarball, dest, env


def test_tarball_leaves_out_dev_and_generated_files(built):
    tarball = built[0]
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
        license_text = tar.extractfile("LICENSE").read().decode()
    names = [m.name for m in members]
    assert "MANIFEST.json" in names and "plugins/modules/tenant_pki.py" in names
    assert "inventories/sample/hosts.yml" in names and "docs/tenant-spec.md" in names
    for dev in ("tests/", "tools/", ".ci/", ".build/", ".git/", "molecule/", ".ansible/", ".ruff_cache/",
                ".pytest_cache/", ".mypy_cache/", "Makefile", "requirements-dev.txt", "pyproject.toml",
                "ansible.cfg", ".gitignore", ".ansible-lint", "CONTRIBUTING.md"):
        assert not any(n == dev.rstrip("/") or n.startswith(dev) for n in names), dev
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n.split("/")]
    # no link at all: the .build link back to the root made a loop once installed
    assert not [m.name for m in members if m.issym() or m.islnk()]
    # the plain Apache-2.0 text every file header points to
    assert license_text.lstrip().startswith("Apache License\n") and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text and "Copyright [yyyy] [name of copyright owner]" in license_text


def test_galaxy_metadata_has_no_placeholder():
    import yaml

    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as f:
        galaxy = yaml.safe_load(f)
    for key in ("repository", "documentation", "homepage", "issues"):
        value = galaxy.get(key)
        assert value is None or ("example" not in value and "invalid" not in value), (key, value)
    assert galaxy["license"] == ["Apache-2.0"]


def _used_collections():
    used = {}
    for top in USES:
        for path in glob.glob(os.path.join(REPO, top, "**", "*"), recursive=True):
            if not path.endswith((".yml", ".yaml", ".py", ".j2")) or os.sep + "module_utils" + os.sep in path:
                continue
            with open(path, encoding="utf-8") as f:
                for match in FQCN.finditer(f.read()):
                    used.setdefault("%s.%s" % match.groups(), set()).add(os.path.relpath(path, REPO))
    return used


def test_every_collection_called_is_declared_with_its_tested_version_as_lower_bound(built):
    """What roles, playbooks and plugins call (modules, and also filters and lookups, which
    --syntax-check does not resolve) is what galaxy.yml declares, each from the version we test."""
    dependencies = built[1]
    available = _dev_collections()
    # a token a.b.c is a collection's plugin when a.b is a collection (os.path.join is not)
    used = {name: where for name, where in _used_collections().items()
            if name not in OWN and (name in available or name in dependencies)}
    assert set(used) == set(dependencies), (
        "called but not declared: %s; declared but not called: %s"
        % ({n: sorted(w) for n, w in used.items() if n not in dependencies}, sorted(set(dependencies) - set(used))))
    for name, spec in dependencies.items():
        lower = re.search(r">=\s*([0-9][^,\s]*)", spec)
        assert lower, (name, spec)
        assert lower.group(1) == _version(available[name]), (
            f"{name}: declared {spec}, tested with {_version(available[name])}")
        assert re.search(r"<\s*[0-9]", spec), f"{name}: {spec} has no upper bound (the next major is untested)"


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


def _plugin_docs(env, kind, names):
    """ansible-doc's JSON of the collection's plugins ``names`` of this ``kind``; each rendered
    with a short description and examples."""
    assert names
    out = subprocess.run(["ansible-doc", "-t", kind, "-j"] + [f"kamaji.core.{n}" for n in names], env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    docs = json.loads(out.stdout)
    # ansible-doc leaves out a name it cannot document: every plugin must be there
    assert set(docs) == {f"kamaji.core.{n}" for n in names}, (sorted(docs), out.stderr)
    for name, doc in docs.items():
        assert doc["doc"]["short_description"] and doc["examples"], name
    return docs


def test_filter_docs_render(installed):
    for name, doc in _plugin_docs(installed[2], "filter", FILTERS).items():
        assert doc["return"], name


def test_inventory_docs_render(installed):
    docs = _plugin_docs(installed[2], "inventory", INVENTORIES)
    # AWX's Kubernetes credential sets these variables: the options read them
    options = docs["kamaji.core.tenants"]["doc"]["options"]
    for option, variable in (("host", "K8S_AUTH_HOST"), ("api_key", "K8S_AUTH_API_KEY"),
                             ("ca_cert", "K8S_AUTH_SSL_CA_CERT"), ("validate_certs", "K8S_AUTH_VERIFY_SSL")):
        assert {"name": variable} in options[option]["env"], option


def test_role_docs_render(installed):
    _unused, _dest, env = installed
    assert ROLES
    out = subprocess.run(["ansible-doc", "-t", "role", "-j"] + [f"kamaji.core.{r}" for r in ROLES], env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    docs = json.loads(out.stdout)
    assert set(docs) == {f"kamaji.core.{r}" for r in ROLES}, (sorted(docs), out.stderr)
    for name, doc in docs.items():
        assert doc["entry_points"]["main"]["short_description"], name


def _syntax_check(playbook, env, cwd):
    return subprocess.run(["ansible-playbook", playbook, "--syntax-check", "-i", "localhost,"],
                          env=env, capture_output=True, text=True, cwd=str(cwd), check=False)


def test_playbooks_run_by_fqcn(installed):
    """Only the clean path: the tarball and its declared dependencies."""
    _unused, dest, env = installed
    assert PLAYBOOKS, "the collection ships playbooks"
    for pb in PLAYBOOKS:
        out = _syntax_check(f"kamaji.core.{pb}", env, dest.parent)
        assert out.returncode == 0, (pb, out.stdout, out.stderr)


def test_the_check_fails_when_a_used_collection_is_missing(installed, tmp_path):
    """The proof the test above means something: the same path without kubernetes.core (the
    admin_cluster role's k8s module) fails the site playbook's syntax check naming the module."""
    _unused, dest, _env = installed
    partial = tmp_path / "collections"
    for manifest in glob.glob(str(dest / "ansible_collections" / "*" / "*" / "MANIFEST.json")):
        ns, name = manifest.split(os.sep)[-3:-1]
        if (ns, name) != ("kubernetes", "core"):
            (partial / "ansible_collections" / ns).mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.dirname(manifest), partial / "ansible_collections" / ns / name)
    out = _syntax_check("kamaji.core.site", clean_env(partial), tmp_path)
    assert out.returncode != 0
    assert "kubernetes.core.k8s" in out.stdout + out.stderr, out.stdout + out.stderr


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
