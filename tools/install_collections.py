"""Install the Ansible collections kamaji.core depends on, without a Galaxy server.

The collections come out of the ``ansible`` community package on PyPI (a wheel that
bundles them): the wheel is downloaded once with pip (hash-checked), and only the
collections listed here are extracted into ``<dest>/ansible_collections``. (This
checkout itself is linked as ``kamaji/core`` under ``.build/collections`` by the Makefile.)

Idempotent: a ``.complete`` stamp records what was installed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ANSIBLE_PACKAGE = "ansible==12.3.0"
COLLECTIONS = ["kubernetes/core", "containers/podman", "ansible/posix", "community/general", "awx/awx"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dest", required=True, help="collections path (the parent of ansible_collections)")
    ap.add_argument("--pip", default="pip")
    args = ap.parse_args()

    stamp = os.path.join(args.dest, ".complete")
    want = f"{ANSIBLE_PACKAGE} {' '.join(COLLECTIONS)}\n"
    if not (os.path.exists(stamp) and open(stamp, encoding="utf-8").read() == want):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([args.pip, "download", "--quiet", "--no-deps", "--only-binary=:all:",
                            "-d", tmp, ANSIBLE_PACKAGE], check=True)
            wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
            with zipfile.ZipFile(wheel) as zf:
                for coll in COLLECTIONS:
                    prefix = f"ansible_collections/{coll}/"
                    target = os.path.join(args.dest, prefix)
                    shutil.rmtree(target, ignore_errors=True)
                    members = [n for n in zf.namelist() if n.startswith(prefix)]
                    if not members:
                        print(f"{coll} is not in {ANSIBLE_PACKAGE}", file=sys.stderr)
                        return 1
                    zf.extractall(args.dest, members)
        with open(stamp, "w", encoding="utf-8") as f:
            f.write(want)
        print(f"installed {', '.join(COLLECTIONS)} from {ANSIBLE_PACKAGE} into {args.dest}")

    return 0


if __name__ == "__main__":
    sys.exit(main())
