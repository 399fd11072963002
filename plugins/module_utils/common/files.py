# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Files: sha256 of a file, and writes that never leave a half-written file behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 1024 * 1024


def sha256_file(path: str) -> str:
    """Hex sha256 of a file's content."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            sha.update(block)
    return sha.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: str, data: bytes | str, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename.

    The file gets ``mode`` before any byte is written, so a key is never readable by others.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_file(path, mode) as f:
        f.write(raw)


@contextlib.contextmanager
def atomic_file(path: str, mode: int = 0o600) -> Iterator[BinaryIO]:
    """``atomic_write`` for content written as a stream (archives): yields the temporary file,
    renamed onto ``path`` when the block ends, removed when it raises."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_private(path: str, text: str) -> None:
    """Create or truncate ``path`` with mode 0600 (scratch files holding keys)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
