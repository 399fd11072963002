#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: install_files
short_description: Install several files on a node in one step, compared by sha256
version_added: 0.1.0
description:
  - Installs files from the controller (an offline bundle's binaries, rendered content such as
    certificates) on the managed node, each compared with the node's copy by sha256.
  - The expected sha256 of a bundle file comes from the bundle's C(manifest.json) (no file is
    hashed on the controller); the node hashes its own copies once, and only the files that
    differ are transferred. A re-run where nothing differs is one module call per node.
  - A transferred file is checked against its expected sha256 before it is moved into place
    (atomically); a mismatch fails naming the file and nothing is replaced.
  - Mode, owner and group are set on every listed file, changed or not.
  - The action plugin of the same name does the comparison and the transfers; this module is
    what runs on the node.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.DIFF_FULL
options:
  files:
    description: The files to install.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description:
          - Absolute path on the node. Missing parent directories are created (mode 0755).
          - With O(files[].names) or O(files[].contents), the directory the files go to.
        type: path
        required: true
      src:
        description:
          - Where the content comes from, on the controller. Relative to O(bundle_dir) when that is set
            (e.g. V(bin/kubelet)). Exactly one of O(files[].src), O(files[].content) and O(files[].contents).
          - With O(files[].names), a directory.
        type: str
      names:
        description: File names in the directory O(files[].src), each installed under the same name in O(files[].dest).
        type: list
        elements: str
      content:
        description: The file's content, as text (e.g. a PEM certificate).
        type: str
      contents:
        description: File name to content, each file written in the directory O(files[].dest).
        type: dict
      mode:
        description: Mode of the installed file (octal string, e.g. V('0755')).
        type: raw
      owner:
        description: Owner of the installed file.
        type: str
      group:
        description: Group of the installed file.
        type: str
      sha256:
        description: The expected sha256 (set by the action plugin; an explicit value is checked too).
        type: str
  mode:
    description: Mode of every file whose item sets none.
    type: raw
  owner:
    description: Owner of every file whose item sets none.
    type: str
  group:
    description: Group of every file whose item sets none.
    type: str
  directories:
    description:
      - Directories created (mode 0755, with their parents) where missing, in the same call, e.g. a
        configuration directory that holds no file of O(files) yet.
    type: list
    elements: path
    default: []
  bundle_dir:
    description:
      - The offline bundle directory on the controller; O(files[].src) paths are relative to it and
        their sha256 is read from its C(manifest.json). A file the manifest does not list fails,
        naming it.
    type: path
notes:
  - Content values are never returned; use C(no_log) on tasks whose content is secret all the same.
attributes:
  diff_mode:
    details: The diff lists each file that changes (or would change) with its old and new sha256.
"""

EXAMPLES = r"""
- name: Install etcd, etcdctl and etcdutl from the offline bundle
  kamaji.core.install_files:
    bundle_dir: /srv/kamaji/bundle/v1.37.2-etcd-v3.7.3
    files:
      - {src: bin/etcd, dest: /usr/local/bin/etcd, mode: "0755"}
      - {src: bin/etcdctl, dest: /usr/local/bin/etcdctl, mode: "0755"}

- name: Install the CNI plugins and runc, mode 0755
  kamaji.core.install_files:
    bundle_dir: /srv/kamaji/bundle/v1.37.2-etcd-v3.7.3
    mode: "0755"
    files:
      - {src: cni, names: [bridge, host-local, loopback], dest: /opt/cni/bin}
      - {src: bin/runc, dest: /usr/local/sbin/runc}

- name: Write a member's keys (0600)
  kamaji.core.install_files:
    owner: etcd
    files:
      - {dest: /etc/kamaji/etcd/pki, contents: "{{ member_keys }}", mode: "0600"}
  no_log: true
"""

RETURN = r"""
files:
  description: Each destination and what happened to it (V(created), V(updated), V(attributes), V(unchanged)).
  returned: always
  type: dict
  sample: {/usr/local/bin/etcd: updated, /usr/local/bin/etcdctl: unchanged}
changed_files:
  description: Destinations whose content was (or, in check mode, would be) written.
  returned: always
  type: list
  elements: str
  sample: [/usr/local/bin/etcd]
directories_made:
  description: Directories of O(directories) that were (or, in check mode, would be) created.
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/certs.d]
needed:
  description: Destinations whose content differs and was not given (the action plugin transfers these).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.bundle import install


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", required=True, options=dict(
                dest=dict(type="path", required=True),
                src=dict(type="str"),
                names=dict(type="list", elements="str"),
                content=dict(type="str", no_log=True),
                contents=dict(type="dict", no_log=True),
                mode=dict(type="raw"),
                owner=dict(type="str"),
                group=dict(type="str"),
                sha256=dict(type="str"),
            )),
            directories=dict(type="list", elements="path", default=[]),
            bundle_dir=dict(type="path"),
            mode=dict(type="raw"),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    files = module.params["files"]
    for item in files:
        if not item.get("sha256"):
            module.fail_json(msg="files: %s has no sha256 (this module runs through its action plugin, "
                                 "kamaji.core.install_files)" % item["dest"])
    made = [d for d in module.params["directories"] if not os.path.isdir(d)]
    if not module.check_mode:
        for directory in made:
            try:
                os.makedirs(directory, mode=0o755, exist_ok=True)
                os.chmod(directory, 0o755)  # whatever the umask
            except OSError as exc:
                module.fail_json(msg="%s: the directory cannot be created (%s)" % (directory, exc.strerror))
    states, needed, written, diffs = {}, [], [], []
    for item in files:
        dest = item["dest"]
        try:
            state, old = install.compare(dest, item["sha256"])
        except OSError as exc:
            module.fail_json(msg="%s: cannot be read on the node (%s)" % (dest, exc.strerror))
        if state != "unchanged":
            if not module.check_mode:
                if not item.get("src"):
                    needed.append(dest)
                    continue
                try:
                    install.place(item["src"], dest, item["sha256"])
                except install.InstallError as exc:
                    module.fail_json(msg=str(exc))
            written.append(dest)
            diffs.append((dest, old, item["sha256"]))
        if os.path.exists(dest):
            attrs = module.set_owner_if_different(dest, item.get("owner"), False)
            attrs = module.set_group_if_different(dest, item.get("group"), attrs)
            attrs = module.set_mode_if_different(dest, item.get("mode"), attrs)
            if state == "unchanged" and attrs:
                state = "attributes"
        states[dest] = state
    changed = bool(made) or any(state != "unchanged" for state in states.values())
    result = {"changed": changed, "files": states, "needed": needed, "changed_files": written,
              "directories_made": made}
    if module._diff and diffs:
        result["diff"] = {"before": "".join("%s: %s\n" % (d, o or "absent") for d, o, _n in diffs),
                          "after": "".join("%s: %s\n" % (d, n) for d, _o, n in diffs)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
