"""The lab for end-to-end tests: node containers brought up once per session, over SSH."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fixtures.procs import REPO

LAB = [sys.executable, os.path.join(REPO, "tools", "lab", "lab.py")]


@pytest.fixture(scope="session")
def lab():
    up = subprocess.run([*LAB, "up"], capture_output=True, text=True, check=False)
    if up.returncode != 0:
        pytest.fail(f"the lab did not come up:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}", pytrace=False)
    yield os.path.join(REPO, "inventories", "lab", "hosts.yml")
    subprocess.run([*LAB, "destroy"], capture_output=True, text=True, check=False)
