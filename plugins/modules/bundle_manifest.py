#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bundle_manifest
short_description: Write or verify the manifest of an offline bundle
version_added: 0.1.0
description:
  - With O(state=present), writes C(manifest.json) in the bundle directory holding the
    versions, the image index and the sha256 and size of every file.
  - With O(state=verified), checks every file against the manifest and fails naming each
    missing or corrupted file. Nothing is changed.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
options:
  path:
    description: The bundle directory.
    type: path
    required: true
  state:
    description: Write the manifest, or verify the bundle against it.
    type: str
    choices: [present, verified]
    default: present
  versions:
    description: Component versions recorded in the manifest (O(state=present)).
    type: dict
    default: {}
  images:
    description: Image reference to archive path (relative to O(path)) (O(state=present)).
    type: dict
    default: {}
  packages:
    description: Versions of components taken from distribution packages (O(state=present)).
    type: dict
    default: {}
attributes:
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: partial
    details: Lists files added, removed or changed in the manifest.
"""

EXAMPLES = r"""
- name: Record the bundle
  kamaji.core.bundle_manifest:
    path: /srv/bundle
    versions:
      kubernetes: v1.37.2
      etcd: v3.7.3

- name: Refuse a corrupted bundle before installing anything from it
  kamaji.core.bundle_manifest:
    path: /srv/bundle
    state: verified
"""

RETURN = r"""
manifest:
  description: The manifest (written or read).
  returned: always
  type: dict
problems:
  description: With O(state=verified), every problem found, each naming its file.
  returned: when verified
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", default="present", choices=["present", "verified"]),
            versions=dict(type="dict", default={}),
            images=dict(type="dict", default={}),
            packages=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["state"] == "verified":
            manifest = bundle.read_manifest(p["path"])
            problems = bundle.verify(p["path"], manifest)
            if problems:
                module.fail_json(msg="offline bundle %s is corrupted: %s" % (p["path"], "; ".join(problems)),
                                 problems=problems, manifest=manifest)
            module.exit_json(changed=False, manifest=manifest, problems=[])
        for ref, rel in p["images"].items():
            if not os.path.isfile(os.path.join(p["path"], rel)):
                module.fail_json(msg="images: %s points to %s, which is not in the bundle" % (ref, rel))
        manifest = bundle.build_manifest(p["path"], p["versions"], p["images"], p["packages"])
    except bundle.BundleError as exc:
        module.fail_json(msg=str(exc))
    target = os.path.join(p["path"], bundle.MANIFEST)
    old = None
    if os.path.exists(target):
        try:
            old = bundle.read_manifest(p["path"])
        except bundle.BundleError:
            old = {}
    changed = old != manifest
    if changed and not module.check_mode:
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(bundle.render(manifest))
        os.replace(tmp, target)
    result = dict(changed=changed, manifest=manifest)
    if module._diff and changed:
        before = set((old or {}).get("files", {}))
        after = set(manifest["files"])
        modified = sorted(f for f in before & after if old["files"][f] != manifest["files"][f])
        result["diff"] = {"before": {"files": sorted(before - after) + modified,
                                     "versions": (old or {}).get("versions")},
                          "after": {"files": sorted(after - before) + modified, "versions": manifest["versions"]}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
