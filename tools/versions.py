"""Print kamaji.core's component versions (plugins/module_utils/versions.py) for the Makefile.

    python3 tools/versions.py make           # KUBE_VERSION ?= v1.37.2 ... (the Makefile includes this)
    python3 tools/versions.py KUBE_VERSION   # one value

Loads the versions module by its path: it needs no Ansible and no collection loader.
"""
from __future__ import annotations

import importlib.util
import os
import sys

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins", "module_utils", "versions.py")


def load():
    spec = importlib.util.spec_from_file_location("kamaji_versions", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    values = load().ALL
    if argv[1:] == ["make"]:
        for name, value in values.items():
            print(f"{name} ?= {value}")
        return 0
    if len(argv) == 2 and argv[1] in values:
        print(values[argv[1]])
        return 0
    sys.stderr.write("usage: versions.py make | %s\n" % " | ".join(values))
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
