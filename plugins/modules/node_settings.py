#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: node_settings
short_description: Kernel modules and sysctls of a Kubernetes node, with its packages and swap read, in one call
version_added: 0.3.0
description:
  - Reads, in one call per node, what a Kubernetes node needs of its kernel and base system, and
    applies what differs.
  - B(Kernel modules.) Where the kernel can load modules (C(/lib/modules/<release>) exists), loads
    each of O(modules) not loaded yet (C(modprobe)) and lists them in C(/etc/modules-load.d/kamaji.conf)
    so they load at boot. Without loadable modules (a container, a kernel without modules), every
    sysctl of O(sysctls) must exist already (its feature built in); the task fails naming the ones
    missing.
  - B(Sysctls.) Writes O(sysctls) to C(/etc/sysctl.d/90-kamaji.conf) (one C(key=value) per line) and
    sets, now, each one whose current value differs.
  - B(Packages and swap) are only read. RV(missing_packages) lists the packages of O(packages)
    that dpkg does not have installed, RV(swaps) the active swap areas. The role installs or
    turns off what these name.
  - A node with everything in place reads a few small files and writes nothing.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.DIFF_FULL
options:
  modules:
    description: Kernel modules the node needs (e.g. V(overlay), V(br_netfilter)).
    type: list
    elements: str
    default: []
  sysctls:
    description: Sysctl name to value (e.g. V(net.ipv4.ip_forward=1)).
    type: dict
    default: {}
  packages:
    description: Debian packages whose presence is reported (not installed by this module).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Kernel modules and sysctls of a Kubernetes node
  kamaji.core.node_settings:
    modules: [overlay, br_netfilter]
    sysctls:
      net.ipv4.ip_forward: "1"
      net.bridge.bridge-nf-call-iptables: "1"
    packages: [nftables, iproute2]
  register: node

- name: Missing packages
  ansible.builtin.apt:
    name: "{{ node.missing_packages }}"
  when: node.missing_packages | length > 0
"""

RETURN = r"""
loadable:
  description: Whether this kernel can load modules.
  returned: always
  type: bool
loaded:
  description: Modules loaded (or, in check mode, that would be) by this call.
  returned: always
  type: list
  elements: str
sysctls_set:
  description: Sysctls whose value was (or would be) set now, with their new value.
  returned: always
  type: dict
files_written:
  description: Files whose content was (or would be) written.
  returned: always
  type: list
  elements: str
missing_packages:
  description: Packages of O(packages) that are not installed.
  returned: always
  type: list
  elements: str
swaps:
  description: Active swap areas (devices or files).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.common.files import atomic_write
from ansible_collections.kamaji.core.plugins.module_utils.node import settings


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            modules=dict(type="list", elements="str", default=[]),
            sysctls=dict(type="dict", default={}),
            packages=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    modules = module.params["modules"]
    sysctls = {k: str(v) for k, v in module.params["sysctls"].items()}
    release = os.uname().release
    files = [settings.MODULES_FILE, settings.SYSCTL_FILE]
    state = settings.read_state("/", release, modules, sysctls, files)
    todo = settings.plan(state, modules, sysctls, module.params["packages"])
    if todo.error:
        module.fail_json(msg=todo.error)
    if not module.check_mode:
        for name in todo.load:
            rc, _out, err = module.run_command(["modprobe", name])
            if rc != 0:
                module.fail_json(msg="modprobe %s failed: %s" % (name, err.strip()))
        for path, text in todo.write.items():
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            atomic_write(path, text, 0o644)
        if todo.load:
            # the keys of a module just loaded (br_netfilter's) exist now
            state = settings.read_state("/", release, modules, sysctls, files)
            todo.set_sysctls = {k: v for k, v in sysctls.items() if state.sysctls.get(k) != v}
        for name, value in todo.set_sysctls.items():
            path = settings.sysctl_path(name)
            if state.sysctls.get(name) is None:
                module.fail_json(msg="sysctl %s: the kernel has no %s (is its module loaded? modules: %s)"
                                 % (name, path, ", ".join(modules) or "none"))
            try:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(value)
            except OSError as exc:
                module.fail_json(msg="sysctl %s=%s: cannot be set (%s)" % (name, value, exc.strerror))
    changed = bool(todo.load or todo.write or todo.set_sysctls)
    result = dict(changed=changed, loadable=state.loadable, loaded=todo.load, sysctls_set=todo.set_sysctls,
                  files_written=sorted(todo.write), missing_packages=todo.missing_packages, swaps=state.swaps)
    if module._diff and changed:
        result["diff"] = {
            "before": "".join("%s=%s\n" % (k, state.sysctls.get(k)) for k in todo.set_sysctls)
            + "".join("module %s: not loaded\n" % m for m in todo.load),
            "after": "".join("%s=%s\n" % kv for kv in todo.set_sysctls.items())
            + "".join("module %s: loaded\n" % m for m in todo.load),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
