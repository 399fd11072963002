#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: read_files
short_description: Read several text files of a node in one call
version_added: 0.1.0
description:
  - Returns the content of each file of O(dir) named in O(names) (certificates, keys, kubeconfigs),
    in one call per node where C(ansible.builtin.slurp) needs one per file.
  - A file that does not exist is left out of the result when O(missing_ok=true), and fails the
    task naming it otherwise. Nothing is changed on the node.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.DIFF_NONE
options:
  dir:
    description: The directory of the files.
    type: path
    required: true
  names:
    description: File names in O(dir).
    type: list
    elements: str
    required: true
  missing_ok:
    description: Leave a missing file out of the result instead of failing.
    type: bool
    default: false
notes:
  - The contents may be secret (keys), so set C(no_log) on the task.
"""

EXAMPLES = r"""
- name: The certificates this member holds (the missing ones are issued next)
  kamaji.core.read_files:
    dir: /etc/kamaji/etcd/pki
    names: [ca.crt, ca.key, server.crt, server.key]
    missing_ok: true
  register: held
  no_log: true
"""

RETURN = r"""
files:
  description: File name to its content (text), for every file of O(names) that exists.
  returned: always
  type: dict
  sample: {ca.crt: "-----BEGIN CERTIFICATE-----\n..."}
"""

import os

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            names=dict(type="list", elements="str", required=True),
            missing_ok=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    files = {}
    for name in module.params["names"]:
        path = os.path.join(module.params["dir"], name)
        try:
            with open(path, encoding="utf-8") as f:
                files[name] = f.read()
        except FileNotFoundError:
            if not module.params["missing_ok"]:
                module.fail_json(msg="%s: no such file on this node" % path)
        except (OSError, UnicodeDecodeError) as exc:
            module.fail_json(msg="%s: cannot be read (%s)" % (path, getattr(exc, "strerror", None) or exc))
    module.exit_json(changed=False, files=files)


if __name__ == "__main__":
    main()
