"""Nothing in the collection waits for a person: AWX/Tower jobs, CI and fleet runs cannot
answer a prompt. A play with ``vars_prompt``, or a ``pause`` task with no ``seconds`` or
``minutes`` (it waits for Enter), fails this test, naming the file and the task."""
from __future__ import annotations

import os

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAUSE = {"pause", "ansible.builtin.pause", "ansible.legacy.pause"}
TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")


def _yaml_files():
    for top in ("playbooks", "roles"):
        for root, _dirs, files in os.walk(os.path.join(REPO, top)):
            if f"{os.sep}files" in root or f"{os.sep}templates" in root:
                continue
            for name in sorted(files):
                if name.endswith((".yml", ".yaml")):
                    yield os.path.join(root, name)


def _tasks(items):
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        yield item
        for key in TASK_LISTS:
            yield from _tasks(item.get(key))


def prompts(path):
    """Every prompt in one YAML file of plays or tasks, as 'file: what' lines."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    rel = os.path.relpath(path, REPO)
    found = []
    for item in doc if isinstance(doc, list) else []:
        if isinstance(item, dict) and "vars_prompt" in item:
            found.append(f"{rel}: play {item.get('name', '?')!r} has vars_prompt")
    for task in _tasks(doc):
        for module in PAUSE & set(task):
            args = task[module] if isinstance(task[module], dict) else {}
            if "seconds" not in args and "minutes" not in args:
                found.append(f"{rel}: task {task.get('name', '?')!r} pauses until someone presses Enter")
    return found


def test_no_play_or_task_prompts():
    found = [line for path in _yaml_files() for line in prompts(path)]
    assert found == [], "\n".join(found)


def test_the_check_finds_each_kind_of_prompt(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump([
        {"name": "asks", "hosts": "all", "vars_prompt": [{"name": "who"}], "tasks": [
            {"name": "waits", "ansible.builtin.pause": {"prompt": "go?"}},
            {"name": "in a block", "block": [{"name": "bare", "pause": None}]},
            {"name": "timed", "ansible.builtin.pause": {"seconds": 5}},
        ]},
    ]))
    rel = os.path.relpath(str(bad), REPO)
    assert prompts(str(bad)) == [
        f"{rel}: play 'asks' has vars_prompt",
        f"{rel}: task 'waits' pauses until someone presses Enter",
        f"{rel}: task 'bare' pauses until someone presses Enter",
    ]
