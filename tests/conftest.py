"""Shared pytest setup: the harness on the path, kamaji.core importable the way Ansible does it."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import loader

loader.install()
pytest_plugins = ["harness.plugin"]
