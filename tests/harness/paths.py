"""Where things are: the checkout, its build directory, the cache of heavy artifacts, versions."""
from __future__ import annotations

import os

HARNESS = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HARNESS)
REPO = os.path.dirname(TESTS)
BUILD = os.path.join(REPO, ".build")
COLLECTIONS_LINK = os.path.join(BUILD, "collections")
CACHE = os.environ.get("KAMAJI_CACHE", os.path.expanduser("~/.cache/kamaji-core"))
