"""The AWX objects as code (awx/configure.yml): every awx.awx call takes only options the
installed awx.awx documents, with their choices; the job templates run the wrappers of
awx/project/, each importing an entry playbook of the collection; the tenants survey asks
exactly what the tenants play reads; the workflow asks for an approval before the upgrade;
the credential types' injectors reach AWX untemplated. No AWX server is reachable here: the
playbook is checked against awx.awx's argument documentation and by --syntax-check."""
from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml
from harness.runner import REPO

AWX = os.path.join(REPO, "awx")
CONFIGURE = os.path.join(AWX, "configure.yml")
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


class _Loader(yaml.SafeLoader):
    """YAML with Ansible's !unsafe tag kept visible (as _Unsafe)."""


class _Unsafe(str):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: _Unsafe(loader.construct_scalar(node)))


def _awx_collection():
    for root in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        path = os.path.join(root, "ansible_collections", "awx", "awx")
        if os.path.isdir(path):
            return path
    pytest.fail("awx.awx is not on ANSIBLE_COLLECTIONS_PATH (tools/install_collections.py installs it)")


def _doc(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r'DOCUMENTATION\s*=\s*[rR]?(\'\'\'|""")(.*?)\1', text, re.S)
    return yaml.safe_load(match.group(2))


@pytest.fixture(scope="module")
def play():
    with open(CONFIGURE, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)[0]


@pytest.fixture(scope="module")
def options():
    """awx.awx module name -> its documented options (its own and the auth fragment's)."""
    coll = _awx_collection()
    auth = _doc(os.path.join(coll, "plugins", "doc_fragments", "auth.py"))["options"]
    out = {}
    for name in os.listdir(os.path.join(coll, "plugins", "modules")):
        if name.endswith(".py") and name != "__init__.py":
            doc = _doc(os.path.join(coll, "plugins", "modules", name))
            out[name[:-3]] = {**doc["options"], **auth}
    return out


def _awx_tasks(play):
    for task in play["tasks"]:
        for key, args in task.items():
            if key.startswith("awx.awx."):
                yield task, key.removeprefix("awx.awx."), args


def _items(task):
    return task.get("loop") or [{}]


def test_every_awx_call_takes_only_documented_options_with_their_choices(play, options):
    calls = list(_awx_tasks(play))
    assert {m for _t, m, _a in calls} == {"credential_type", "execution_environment", "project", "inventory",
                                          "inventory_source", "job_template", "workflow_job_template",
                                          "workflow_job_template_node"}
    for task, module, args in calls:
        known = options[module]
        assert set(args) <= set(known), (task["name"], sorted(set(args) - set(known)))
        required = {k for k, v in known.items() if v.get("required")}
        assert required <= set(args), (task["name"], sorted(required - set(args)))
        for key, value in args.items():
            choices = known[key].get("choices")
            if choices and isinstance(value, str) and "{{" not in value:
                assert value in choices, (task["name"], key, value, choices)
        if module == "job_template":
            for item in _items(task):
                assert item.get("job_type", "run") in known["job_type"]["choices"], item["name"]
    # the organization is no option of a credential type: no defaults hand it one
    assert "module_defaults" not in play


def test_each_job_template_runs_a_wrapper_of_an_entry_playbook(play):
    (task,) = [t for t, m, _a in _awx_tasks(play) if m == "job_template"]
    names = set()
    for item in _items(task):
        names.add(item["name"])
        wrapper = os.path.join(AWX, "project", item["playbook"])
        with open(wrapper, encoding="utf-8") as f:
            (imported,) = yaml.safe_load(f)
        target = imported["ansible.builtin.import_playbook"]
        assert target == "kamaji.core." + item["playbook"].removesuffix(".yml"), (item["name"], target)
        assert os.path.isfile(os.path.join(REPO, "playbooks", item["playbook"])), item["playbook"]
    assert names == {"site", "tenants", "tenant workers", "upgrade check", "upgrade", "status", "tenant backup"}
    check = next(i for i in _items(task) if i["name"] == "upgrade check")
    assert check["job_type"] == "check" and check["playbook"] == "upgrade.yml"


def test_the_tenants_survey_asks_what_the_tenants_play_reads(play):
    (task,) = [t for t, m, _a in _awx_tasks(play) if m == "job_template"]
    (tenants,) = [i for i in _items(task) if i["name"] == "tenants"]
    questions = tenants["survey"]["spec"]
    for q in questions:
        assert {"question_name", "variable", "type", "required"} <= set(q), q
        assert q["type"] in SURVEY_TYPES, q
        assert q["required"] is False, q  # an empty name converges the tenants there are
    with open(os.path.join(REPO, "playbooks", "tenants.yml"), encoding="utf-8") as f:
        read = set(re.findall(r"\b(kamaji_new_tenant_[a-z_]+)\b", f.read()))
    assert {q["variable"] for q in questions} == read
    assert [i["name"] for i in _items(task) if "survey" in i] == ["tenants"]


def test_the_workflow_approves_before_it_upgrades(play):
    nodes = next(t for t, m, _a in _awx_tasks(play) if m == "workflow_job_template_node")
    by_id = {n["identifier"]: n for n in _items(nodes)}
    created = []
    for node in _items(nodes):  # a node's successors exist before it
        assert set(node.get("next", [])) <= set(created), node["identifier"]
        created.append(node["identifier"])
        assert ("template" in node) != ("approval" in node), node["identifier"]
    order, node = [], "status"
    while node:
        order.append(node)
        (node,) = by_id[node].get("next", [None])
    assert order == ["status", "preview", "approval", "upgrade", "status-after"]
    assert "upgrade check" in by_id["preview"]["template"] and "approval" in by_id["approval"]


def test_the_injectors_reach_awx_untemplated(play):
    types = [args for _t, m, args in _awx_tasks(play) if m == "credential_type"]
    assert len(types) == 2
    for args in types:
        injected = [*args["injectors"].get("file", {}).values(), *args["injectors"].get("extra_vars", {}).values()]
        assert injected and all(isinstance(v, _Unsafe) and "{{" in v for v in injected), injected
        fields = {f["id"] for f in args["inputs"]["fields"]}
        assert fields == set(args["inputs"]["required"])
        assert all(f.get("secret") for f in args["inputs"]["fields"])
    extra = {k for args in types for k in args["injectors"].get("extra_vars", {})}
    assert extra == {"admin_cluster_kubeconfig", "tenant_control_plane_backup_key"}


def test_the_playbook_passes_syntax_check():
    out = subprocess.run(["ansible-playbook", "--syntax-check", "-i", "localhost,", CONFIGURE], capture_output=True,
                         text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    for name in sorted(os.listdir(os.path.join(AWX, "project"))):
        if name.endswith(".yml"):
            out = subprocess.run(["ansible-playbook", "--syntax-check", "-i", "localhost,",
                                  os.path.join(AWX, "project", name)], capture_output=True, text=True, check=False,
                                 timeout=120)
            assert out.returncode == 0, (name, out.stdout + out.stderr)
