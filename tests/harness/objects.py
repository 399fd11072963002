"""Objects as the Kubernetes API returns them, for tests that feed the planners what a read gives."""
from __future__ import annotations


def as_read(objects):
    """Objects by kind, as ``k8s_info`` or the ``kubernetes.core.k8s`` lookup return them: the
    server's metadata added (uid, resourceVersion), no ``kind`` in the items of a list."""
    out = {}
    for o in objects:
        item = {k: v for k, v in o.items() if k != "kind"}
        item["metadata"] = dict(o["metadata"], uid="u-" + o["metadata"]["name"], resourceVersion="1")
        out.setdefault(o["kind"], []).append(item)
    return out
