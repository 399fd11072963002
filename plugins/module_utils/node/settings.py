# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""What a Kubernetes node needs of its kernel and base system, read and applied in one pass.

Every function takes ``root`` (``/`` on a node) so tests run them on a directory tree. Reads
come first (``read_state``); ``plan`` compares them with what is wanted; the module applies
the plan. A no-op run reads a few small files and writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MODULES_FILE = "/etc/modules-load.d/kamaji.conf"
SYSCTL_FILE = "/etc/sysctl.d/90-kamaji.conf"


def at(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def read_text(root: str, path: str) -> str | None:
    try:
        with open(at(root, path), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def sysctl_path(name: str) -> str:
    """``net.ipv4.ip_forward`` -> ``/proc/sys/net/ipv4/ip_forward``."""
    return "/proc/sys/" + name.replace(".", "/")


def sysctl_text(sysctls: Mapping[str, str]) -> str:
    return "".join("%s=%s\n" % (k, v) for k, v in sysctls.items())


def modules_text(modules: Iterable[str]) -> str:
    return "".join("%s\n" % m for m in modules)


def installed_packages(status: str | None) -> set[str]:
    """Package names dpkg's status file marks ``install ok installed``."""
    names: set[str] = set()
    for stanza in (status or "").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
        if fields.get("Status") == "install ok installed" and "Package" in fields:
            names.add(fields["Package"])
    return names


@dataclass
class State:
    loadable: bool
    loaded: set[str]
    sysctls: dict[str, str | None]
    files: dict[str, str | None]
    installed: set[str]
    swaps: list[str]


def read_state(root: str, release: str, modules: Iterable[str], sysctls: Iterable[str],
               files: Iterable[str]) -> State:
    """The node as it is: can it load modules (``/lib/modules/<release>``), which of ``modules``
    are in the kernel (``/proc/modules``, or ``/sys/module/<name>`` for built-in ones), the
    current value of each sysctl (None when the kernel has no such key), the content of our
    files, the installed packages and the active swap areas."""
    proc_modules = read_text(root, "/proc/modules") or ""
    listed = {line.split()[0] for line in proc_modules.splitlines() if line.strip()}
    loaded = {m for m in modules if m in listed or os.path.isdir(at(root, "/sys/module/" + m))}
    values = {}
    for name in sysctls:
        text = read_text(root, sysctl_path(name))
        values[name] = None if text is None else " ".join(text.split())
    swaps = (read_text(root, "/proc/swaps") or "").splitlines()[1:]
    return State(
        loadable=os.path.isdir(at(root, "/lib/modules/" + release)),
        loaded=loaded,
        sysctls=values,
        files={path: read_text(root, path) for path in files},
        installed=installed_packages(read_text(root, "/var/lib/dpkg/status")),
        swaps=[line.split()[0] for line in swaps if line.strip()],
    )


@dataclass
class Plan:
    load: list[str] = field(default_factory=list)
    write: dict[str, str] = field(default_factory=dict)
    set_sysctls: dict[str, str] = field(default_factory=dict)
    missing_packages: list[str] = field(default_factory=list)
    error: str = ""


def plan(state: State, modules: list[str], sysctls: Mapping[str, str], packages: Iterable[str]) -> Plan:
    """What changes: the modules to load, the files to write, the sysctls whose value differs,
    the packages to install. Without loadable modules the modules are not persisted, and a
    sysctl the kernel does not have is an error (its feature must be built in). An empty list
    or mapping writes no file."""
    out = Plan(missing_packages=[p for p in packages if p not in state.installed])
    if state.loadable:
        out.load = [m for m in modules if m not in state.loaded]
        if modules and state.files.get(MODULES_FILE) != modules_text(modules):
            out.write[MODULES_FILE] = modules_text(modules)
    absent = [k for k, v in state.sysctls.items() if v is None]
    if absent and not state.loadable:
        out.error = ("no loadable kernel modules (no /lib/modules for this kernel) and the kernel has no %s: "
                     "%s must be built into the kernel" % (", ".join(absent), ", ".join(modules) or "their features"))
        return out
    if sysctls and state.files.get(SYSCTL_FILE) != sysctl_text(sysctls):
        out.write[SYSCTL_FILE] = sysctl_text(sysctls)
    out.set_sysctls = {k: str(v) for k, v in sysctls.items() if state.sysctls.get(k) != str(v)}
    return out
