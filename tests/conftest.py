"""Shared pytest setup: import kamaji.core the way Ansible does."""
from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, ".build")
COLLECTIONS_LINK = os.path.join(BUILD, "collections")


def _install_collection_loader():
    link = os.path.join(COLLECTIONS_LINK, "ansible_collections", "kamaji", "core")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    paths = [COLLECTIONS_LINK] + [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(":") if p]
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=paths)._install()


_install_collection_loader()
sys.path.insert(0, os.path.join(REPO, "tests"))
pytest_plugins = ["fixtures.plugin"]
