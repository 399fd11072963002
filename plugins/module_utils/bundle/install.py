# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Files installed on a node, compared by sha256: what the install_files module does there."""

from __future__ import annotations

import os
import shutil

from ansible_collections.kamaji.core.plugins.module_utils.common.files import atomic_file, sha256_file


class InstallError(Exception):
    pass


def compare(dest: str, sha256: str) -> tuple[str, str | None]:
    """(state, the node's sha256): ``created`` (no file yet), ``updated`` (other content) or
    ``unchanged``."""
    if not os.path.lexists(dest):
        return "created", None
    got = sha256_file(dest)
    return ("unchanged" if got == sha256 else "updated"), got


def place(src: str, dest: str, sha256: str) -> None:
    """Move the transferred ``src`` into place as ``dest`` (atomically, with the mode of the file
    it replaces, else 0600, until its attributes are set), after checking it has the expected
    content."""
    got = sha256_file(src)
    if got != sha256:
        raise InstallError("%s: the transferred file's sha256 is %s, not the expected %s (did the source change on "
                           "the controller during the run?); %s was not replaced" % (dest, got, sha256, dest))
    parent = os.path.dirname(dest)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    mode = os.stat(dest).st_mode & 0o7777 if os.path.isfile(dest) else 0o600
    with open(src, "rb") as f, atomic_file(dest, mode) as out:
        shutil.copyfileobj(f, out, 1024 * 1024)
