"""One source of versions: every version literal of our components in the collection, the
Makefile, the inventories, the tests, the tools and the docs is a value of
plugins/module_utils/versions.py, and Python code in plugins/ (and the Makefile) writes none
at all: it imports them. A failure names file:line and what it found.

What counts as a version literal (see PATTERNS): Kubernetes v1.3x.y (with or without the v),
etcd v3.x.y, the etcd image tag 3.x.y-0, CoreDNS v1.1x.y, the pause tag (a 3.x[.y] on a line
that mentions pause), containerd v2.x.y, runc v1.x.y (one digit minor) and the CNI plugins
v1.x.y on a line that mentions containerd, runc or cni, or below such a line (up to 3 lines: a
module option's default), and lists of supported minors. Distribution package versions (Debian's
runc 1.1.5) have no "v" and are not ours. A literal that two kinds match at the same place (the CNI
plugins' v1.10.0 is also CoreDNS-shaped) agrees when one of them allows it.
"""
from __future__ import annotations

import ast
import glob
import os
import re
import subprocess
import sys

import pytest
import yaml
from harness.paths import REPO

from ansible_collections.kamaji.core.plugins.module_utils import versions

# Where versions are written down. YAML cannot import: role defaults and argument specs keep
# their literals, and this test holds them to versions.py.
SCANNED = [
    "roles/*/defaults/**/*.yml", "roles/*/vars/**/*.yml", "roles/*/meta/argument_specs.yml",
    "plugins/**/*.py", "Makefile", "inventories/**/*.yml", "molecule/**/*.yml",
    "tests/**/*.py", "tests/**/*.yml", "tools/**/*.py", "docs/**/*.md", "README.md",
]
# Not scanned: versions.py itself (the source), and this file (it plants drifts on purpose).
NOT_SCANNED = {"plugins/module_utils/versions.py", "tests/unit/test_versions.py"}

_B = r"(?<![\w.-])"  # not part of a longer token (an address, another version, a word)
_E = r"(?![\w.]*\d)"  # nor followed by more of one
PATTERNS = {
    "Kubernetes": re.compile(_B + r"v?1\.3\d\.\d+" + _E),
    "etcd": re.compile(_B + r"v3\.\d+\.\d+" + _E),
    "etcd image tag": re.compile(_B + r"3\.\d+\.\d+-0\b"),
    "CoreDNS": re.compile(_B + r"v1\.1\d\.\d+" + _E),
    "pause": re.compile(_B + r"3\.\d+(?:\.\d+)?(?!-\d)" + _E),
    "containerd": re.compile(_B + r"v2\.\d+\.\d+" + _E),
    "runc": re.compile(_B + r"v1\.\d\.\d+" + _E),
    "CNI plugins": re.compile(_B + r"v1\.\d+\.\d+" + _E),
}
# kinds only looked for where this word (any case) is on the line or on one of the lines above it
CONTEXT = {"pause": ("pause", 0), "containerd": ("containerd", 3), "runc": ("runc", 3), "CNI plugins": ("cni", 3)}
ALLOWED = {
    "Kubernetes": set(versions.KUBERNETES_ALL) | {v.lstrip("v") for v in versions.KUBERNETES_ALL},
    "etcd": {versions.ETCD, versions.ETCD_OLDER},
    "etcd image tag": {versions.ETCD_IMAGE_TAG, versions.ETCD_OLDER_IMAGE_TAG},
    "CoreDNS": {versions.COREDNS},
    "pause": {versions.PAUSE},
    "containerd": {versions.CONTAINERD, versions.CONTAINERD_OLDER},
    "runc": {versions.RUNC},
    "CNI plugins": {versions.CNI_PLUGINS},
}
MINORS = list(versions.SUPPORTED_MINORS)

# Deliberate other versions: (file, literal) -> why. Keep each one explained.
ALLOW_LIST = {
    # tenant spec tests: a version whose minor is not supported, to test the refusal
    ("tests/unit/test_tenant_spec.py", "v1.30.0"): "unsupported minor, refused",
    # kubeadm v1.37 pins its own etcd image tag for a local etcd; the docs say we override it
    ("docs/offline-bundle.md", "3.7.0-0"): "kubeadm's own etcd pin, which the bundle replaces",
    # the pause stamp test: another version must rebuild pause
    ("tests/unit/test_source_build.py", "3.9"): "another pause version, to test the stamp",
    # containerd 1.x is refused: the recipes build containerd 2.x
    ("tests/unit/test_source_build.py", "v1.7.28"): "containerd 1.x, refused",
    # the etcd version step's refusals, written out: a release of the previous and of the next minor
    ("docs/upgrades.md", "v3.6.9"): "an etcd release of the previous minor, in an example refusal",
    ("docs/upgrades.md", "v3.8.0"): "an etcd release two minors above it, in an example refusal",
    # the skip refusals, written out: a release two minors above the current one
    ("docs/upgrades.md", "v1.39.0"): "a Kubernetes release two minors up, in an example skip refusal",
    ("plugins/modules/fleet_status.py", "v1.38.0"): "a tenant release two minors up, in the refused sample",
}

# PENDING: Python code literals of a wing still being rewritten (each entry is (file, what)):
# reported, not failed, and the test fails once an entry is no longer needed. Empty since the
# tenant wing imports its defaults from versions.py (issue #13).
PENDING_TENANT_WING: set[tuple[str, str]] = set()


def files(root):
    out = set()
    for pattern in SCANNED:
        out.update(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, pattern), recursive=True))
    return sorted(p for p in out if p not in NOT_SCANNED and not p.startswith(".build"))


def matches(text):
    """(line, kind, literal, column) of every version literal in ``text``."""
    lines = text.lower().splitlines()
    for n, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            if kind in CONTEXT:
                word, above = CONTEXT[kind]
                if not any(word in seen for seen in lines[max(0, n - 1 - above):n]):
                    continue
            for match in pattern.finditer(line):
                yield n, kind, match.group(0), match.start()


def literals(text):
    """(line, kind, literal) of every version literal in ``text``."""
    for n, kind, literal, _col in matches(text):
        yield n, kind, literal


def drifts(text):
    """(line, kind, literal) of the literals no kind matching them there allows."""
    found = list(matches(text))
    allowed = {(n, col, literal) for n, kind, literal, col in found if literal in ALLOWED[kind]}
    return [(n, kind, literal) for n, kind, literal, col in found if (n, col, literal) not in allowed]


def _doc_lines(tree):
    """Lines of docstrings and of DOCUMENTATION/EXAMPLES/RETURN: prose, where literals only have to agree."""
    lines = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("DOCUMENTATION", "EXAMPLES", "RETURN")
                                                for t in node.targets):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def _minor_lists(tree):
    """Lines of list/tuple literals that look like supported minors: two or more ints of 30..49."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) >= 2 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool)
                and 30 <= e.value < 50 for e in node.elts):
            yield node.lineno


def code_literals(path, text):
    """Python code in plugins/ imports versions: (line, what) of every version written in code."""
    tree = ast.parse(text, path)
    docs = _doc_lines(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.lineno not in docs:
            for _n, kind, literal in literals(node.value):
                yield node.lineno, kind, literal
    for line in _minor_lists(tree):
        yield line, "supported minors", "literal list"


def _yaml_minors(data, where):
    """Every supported-minors list in YAML data: a *supported_minors key's value, or its default."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.endswith("supported_minors"):
                found = value.get("default") if isinstance(value, dict) else value
                if found is not None:
                    yield where, found
            yield from _yaml_minors(value, where)
    elif isinstance(data, list):
        for item in data:
            yield from _yaml_minors(item, where)


def minors_lists(path, text):
    """(where, value) of the supported-minors lists of a YAML file or of a module's DOCUMENTATION."""
    if path.endswith(".yml"):
        yield from _yaml_minors(yaml.safe_load(text), path)
    elif path.startswith("plugins/modules/"):
        for node in ast.parse(text, path).body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION"
                                                    for t in node.targets):
                yield from _yaml_minors(yaml.safe_load(node.value.value), path + " DOCUMENTATION")


def scan(root, allow=(), pending=()):
    """Every disagreement under ``root``, as 'file:line: message' lines."""
    problems = []
    for rel in files(root):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        strict = rel == "Makefile"
        for n, kind, literal in (literals(text) if strict else drifts(text)):
            if strict:
                problems.append("%s:%d: %s version %s written in the Makefile; it takes versions from versions.py"
                                % (rel, n, kind, literal))
            elif (rel, literal) not in allow:
                problems.append("%s:%d: %s version %s is not in versions.py (%s)"
                                % (rel, n, kind, literal, ", ".join(sorted(ALLOWED[kind]))))
        if rel.startswith("plugins/") and rel.endswith(".py"):
            for n, kind, literal in code_literals(rel, text):
                if (rel, kind) not in pending:
                    problems.append("%s:%d: %s %s written in Python code; import it from module_utils/versions.py"
                                    % (rel, n, kind, literal))
        if rel.endswith(".yml") or rel.startswith("plugins/modules/"):
            for where, value in minors_lists(rel, text):
                if value != MINORS:
                    problems.append("%s: supported minors %s, versions.py says %s" % (where, value, MINORS))
    return problems


def test_every_version_literal_agrees_with_versions_py():
    problems = scan(REPO, ALLOW_LIST, PENDING_TENANT_WING)
    assert not problems, "versions drifted from plugins/module_utils/versions.py:\n" + "\n".join(problems)


def test_the_scan_covers_what_it_should():
    scanned = set(files(REPO))
    for expected in ("Makefile", "roles/offline_bundle/defaults/main.yml", "roles/admin_cluster/meta/argument_specs.yml",
                     "roles/containerd/defaults/main.yml", "roles/tenant_control_plane/defaults/main.yml",
                     "plugins/modules/source_build.py", "tests/harness/procs.py", "tools/build_source.py",
                     "docs/version-policy.md", "inventories/sample/group_vars/all.yml"):
        assert expected in scanned, expected
    # and it finds the literals that are there: the role defaults of each component
    found = {(rel, kind) for rel in scanned if rel.startswith("roles/")
             for _n, kind, _lit in literals(open(os.path.join(REPO, rel), encoding="utf-8").read())}
    for rel, kind in [("roles/offline_bundle/defaults/main.yml", "Kubernetes"), ("roles/etcd/defaults/main.yml", "etcd"),
                      ("roles/admin_cluster/defaults/main.yml", "etcd image tag"),
                      ("roles/containerd/defaults/main.yml", "pause"),
                      ("roles/tenant_control_plane/defaults/main.yml", "CoreDNS")]:
        assert (rel, kind) in found, (rel, kind)


def test_allow_and_pending_lists_are_still_needed():
    """An entry nobody needs any more is removed, so the lists stay honest."""
    problems = scan(REPO)
    for rel, literal in ALLOW_LIST:
        assert any(p.startswith(rel + ":") and " %s " % literal in p for p in problems), \
            "ALLOW_LIST entry not needed any more: %s %s" % (rel, literal)
    for rel, kind in PENDING_TENANT_WING:
        assert any(p.startswith(rel + ":") and "%s " % kind in p and "Python code" in p for p in problems), \
            "PENDING_TENANT_WING entry not needed any more (remove it): %s %s" % (rel, kind)


@pytest.fixture
def planted(tmp_path):
    """A small tree with one drift of each kind, and agreeing literals around them."""
    older, newer = versions.KUBERNETES_OLDER[0], versions.KUBERNETES
    minor = versions.minor(newer)
    drift_kube = "v1.%d.%d" % (minor, int(newer.rsplit(".", 1)[1]) + 9)
    tree = {
        "roles/r/defaults/main.yml": "---\nr_kube_version: %s\nr_older: %s\nr_kube: %s\n" % (newer, older, drift_kube),
        "roles/r/meta/argument_specs.yml": yaml.safe_dump({"argument_specs": {"main": {"options": {
            "r_supported_minors": {"type": "list", "default": MINORS[:-1]},
            "r_coredns_version": {"type": "str", "default": "v1.19.0"}}}}}),
        "roles/c/defaults/main.yml": "c_sandbox: registry.k8s.io/pause:3.99\nc_etcd_tag: 3.1.2-0\n",
        "plugins/modules/m.py": 'DOCUMENTATION = """\noptions:\n  v:\n    default: %s\n"""\n'
                                'SPEC = dict(v=dict(default="%s"), minors=dict(default=%r))\n'
                                % (versions.ETCD, versions.ETCD, MINORS),
        "Makefile": "KUBE_VERSION ?= %s\n" % newer,
        "tests/unit/test_x.py": 'OLD = "v3.0.1"\n',
        "docs/x.md": "Kubernetes %s and etcd %s\n" % (newer, versions.ETCD),
    }
    for rel, text in tree.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path, drift_kube


def test_a_planted_drift_is_caught_naming_file_and_line(planted):
    root, drift_kube = planted
    problems = scan(str(root))
    text = "\n".join(problems)
    assert "roles/r/defaults/main.yml:4: Kubernetes version %s is not in versions.py" % drift_kube in text
    assert "roles/r/meta/argument_specs.yml: supported minors %s, versions.py says %s" % (MINORS[:-1], MINORS) in text
    assert "roles/r/meta/argument_specs.yml:" in text and "CoreDNS version v1.19.0 is not in versions.py" in text
    assert "roles/c/defaults/main.yml:1: pause version 3.99 is not in versions.py" in text
    assert "roles/c/defaults/main.yml:2: etcd image tag version 3.1.2-0 is not in versions.py" in text
    assert "plugins/modules/m.py:6: etcd %s written in Python code" % versions.ETCD in text
    assert "plugins/modules/m.py:6: supported minors literal list written in Python code" in text
    assert "Makefile:1: Kubernetes version %s written in the Makefile" % versions.KUBERNETES in text
    assert "tests/unit/test_x.py:1: etcd version v3.0.1 is not in versions.py" in text
    # what agrees is not reported: the current versions in YAML, in DOCUMENTATION, in docs
    assert not [p for p in problems if p.startswith(("docs/", "roles/r/defaults/main.yml:2", "plugins/modules/m.py:4"))]
    assert len(problems) == 9, text


def test_container_runtime_versions_are_checked_on_their_lines(tmp_path):
    """containerd, runc and the CNI plugins: a drift is caught on a line that names the component
    (or up to 3 lines below it); the CNI plugins' version is CoreDNS-shaped and agrees there."""
    cni_drift = "v1.%d.0" % (int(versions.CNI_PLUGINS.split(".")[1]) + 1)
    defaults = tmp_path / "roles" / "rt" / "defaults" / "main.yml"
    defaults.parent.mkdir(parents=True)
    gap = "\n" * 4  # the context of a line reaches 3 lines down
    defaults.write_text(gap.join([
        "---\nrt_containerd_version: %s\nrt_runc_version: %s  # Debian's runc 1.1.5 is not ours\n"
        "rt_cni_plugins_version: %s\n" % (versions.CONTAINERD, versions.RUNC, versions.CNI_PLUGINS),
        "rt_containerd_old: v2.0.1\n", "rt_runc_old: v1.2.9\n", "rt_cni_plugins_old: %s\n" % cni_drift,
        "rt_other: v2.0.1 and v1.2.9 are not versions of ours here\n"]))
    problems = scan(str(tmp_path))
    assert problems == [
        "roles/rt/defaults/main.yml:9: containerd version v2.0.1 is not in versions.py (%s, %s)"
        % (versions.CONTAINERD_OLDER, versions.CONTAINERD),
        "roles/rt/defaults/main.yml:14: runc version v1.2.9 is not in versions.py (%s)" % versions.RUNC,
        "roles/rt/defaults/main.yml:19: CoreDNS version %s is not in versions.py (%s)" % (cni_drift, versions.COREDNS),
        "roles/rt/defaults/main.yml:19: CNI plugins version %s is not in versions.py (%s)"
        % (cni_drift, versions.CNI_PLUGINS),
    ], "\n".join(problems)


def test_allow_list_and_pending_silence_only_their_entry(planted):
    root, _drift = planted
    problems = scan(str(root), allow={("tests/unit/test_x.py", "v3.0.1")},
                    pending={("plugins/modules/m.py", "supported minors")})
    assert not [p for p in problems if p.startswith("tests/unit/test_x.py")]
    assert [p for p in problems if p.startswith("plugins/modules/m.py")] == [
        "plugins/modules/m.py:6: etcd %s written in Python code; import it from module_utils/versions.py" % versions.ETCD]


def test_makefile_gets_its_versions_from_versions_py():
    """`tools/versions.py make` is what the Makefile includes; every name it uses is there."""
    with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as f:
        makefile = f.read()
    assert "include $(BUILD)/versions.mk" in makefile and "tools/versions.py make" in makefile
    out = subprocess.run([sys.executable, os.path.join(REPO, "tools", "versions.py"), "make"],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assigned = dict(line.split(" ?= ", 1) for line in lines)
    assert assigned["KUBE_VERSION"] == versions.KUBERNETES and assigned["PAUSE_VERSION"] == versions.PAUSE
    assert assigned["OLDER_KUBE_VERSIONS"].split() == list(versions.KUBERNETES_OLDER)
    for name in ("KUBE_VERSION", "OLDER_KUBE_VERSIONS", "ETCD_VERSION", "COREDNS_VERSION", "PAUSE_VERSION"):
        assert "$(%s)" % name in makefile, name
