# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Optional Python libraries: import once, and fail a module cleanly when one is missing."""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from typing import Any


class Dependency:
    """An optional library: ``ok`` after import, else the traceback for the module's failure."""

    def __init__(self, name: str, pip_name: str | None = None, loader: Callable[[], Any] | None = None) -> None:
        """``loader``: what to call instead of importing ``name`` (its result is ``module``)."""
        self.name = name
        self.pip_name = pip_name or name
        self.module: Any = None  # the imported module, or the loader's result
        self.error: str | None = None
        try:
            self.module = loader() if loader else importlib.import_module(name)
        except Exception:  # any failure, not only ImportError: the module reports it cleanly
            self.error = traceback.format_exc()

    @property
    def ok(self) -> bool:
        return self.error is None


def require(module: Any, *dependencies: Dependency) -> None:
    """``fail_json`` with Ansible's missing-library message for the first missing dependency."""
    from ansible.module_utils.basic import missing_required_lib

    for dep in dependencies:
        if not dep.ok:
            module.fail_json(msg=missing_required_lib(dep.pip_name), exception=dep.error)
