"""Make ``ansible_collections.kamaji.core`` importable the way Ansible does it.

Nothing happens on import: callers (tests/conftest.py, tools/) call ``install()``.
"""
from __future__ import annotations

import os

from harness.paths import COLLECTIONS_LINK, REPO

_INSTALLED = False


def install() -> None:
    """Link the checkout as kamaji.core under .build/collections and install Ansible's finder (once)."""
    global _INSTALLED
    if _INSTALLED:
        return
    link = os.path.join(COLLECTIONS_LINK, "ansible_collections", "kamaji", "core")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    paths = [COLLECTIONS_LINK] + [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") if p]
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=paths)._install()
    _INSTALLED = True
