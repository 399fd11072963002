"""The "already there" comparison of Kubernetes objects (module_utils.common.objects)."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.module_utils.common import objects


@pytest.mark.parametrize(("wanted", "have", "same"), [
    ({"a": 1}, {"a": 1, "b": 2}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": [1, 2]}, {"a": [1, 2, 3]}, False),
    ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]}, True),
    ({"a": True}, {"a": "true"}, False),
    ({"a": "1"}, {"a": 1}, True),
    ({"a": {"b": None}}, {"a": {}}, False),
])
def test_is_subset(wanted, have, same):
    assert objects.is_subset(wanted, have) is same


def test_unchanged_leaves_out_what_the_cluster_holds():
    cm = objects.config_map("a", "ns", {"k": "v"})
    other = objects.config_map("b", "ns", {"k": "v"})
    have = [dict(cm, metadata=dict(cm["metadata"], uid="1", resourceVersion="7"))]
    assert objects.unchanged([cm, other], have) == ([other], 1)
    changed = objects.config_map("a", "ns", {"k": "w"})
    assert objects.unchanged([changed], have) == ([changed], 0)


def test_with_kind_adds_the_kind_list_items_lack():
    got = objects.with_kind({"Secret": [{"metadata": {"name": "s"}}], "Namespace": None})
    assert got == [{"metadata": {"name": "s"}, "kind": "Secret"}]


def test_nodes_not_ready_names_the_missing_and_the_unready_nodes_once_in_order():
    from ansible_collections.kamaji.core.plugins.module_utils.common.objects import nodes_not_ready

    def node(name, status):
        return {"metadata": {"name": name}, "status": {"conditions": [
            {"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": status}]}}

    nodes = [node("a", "True"), node("b", "False"), node("c", "Unknown"), {"metadata": {"name": "d"}}]
    assert nodes_not_ready(nodes, ["a", "b", "c", "d", "e", "b"]) == ["b", "c", "d", "e"]
    assert nodes_not_ready(nodes, ["a"]) == []
    assert nodes_not_ready(None, ["a"]) == ["a"]
