#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: oci_image
short_description: Assemble an OCI image archive from local files, without a registry
version_added: 0.1.0
description:
  - Packs files (typically static binaries) and optional base layers into an OCI image
    layout stored as one tar file, named with a full image reference so that
    C(ctr -n k8s.io images import) and C(podman load) register it under that name.
  - The archive is deterministic; it is rewritten only when its manifest digest changes.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_full
options:
  reference:
    description: Full image reference, for example C(registry.k8s.io/kube-apiserver:v1.37.2).
    type: str
    required: true
  dest:
    description: Path of the archive to write.
    type: path
    required: true
  files:
    description: Files of the top layer.
    type: list
    elements: dict
    default: []
    suboptions:
      src:
        description: Local file to copy; leave out when O(files[].content) is given.
        type: path
      content:
        description: Literal content of the file.
        type: str
      dest:
        description: Absolute path inside the image.
        type: str
        required: true
      mode:
        description: File mode, octal string.
        type: str
        default: '0755'
  base_layers:
    description: Paths of layer tar files placed below the top layer.
    type: list
    elements: path
    default: []
  base_rootfs:
    description:
      - A directory holding a root file system (for example made by debootstrap) packed
        as the bottom layer. Device nodes are left out.
    type: path
  entrypoint:
    description: Entrypoint of the image.
    type: list
    elements: str
  cmd:
    description: Default arguments.
    type: list
    elements: str
  env:
    description: Environment, C(NAME=value) items; default a standard PATH.
    type: list
    elements: str
  architecture:
    description: Image architecture.
    type: str
    default: amd64
"""

EXAMPLES = r"""
- name: kube-apiserver image from the binary built from source
  kamaji.core.oci_image:
    reference: registry.k8s.io/kube-apiserver:v1.37.2
    dest: /srv/bundle/images/kube-apiserver.tar
    files:
      - src: /srv/bundle/bin/kube-apiserver
        dest: /usr/local/bin/kube-apiserver
    entrypoint: [/usr/local/bin/kube-apiserver]
"""

RETURN = r"""
digest:
  description: Manifest digest of the image.
  returned: always
  type: str
  sample: sha256:0f6d...
reference:
  description: The image reference stored in the archive.
  returned: always
  type: str
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.bundle import oci


def main():
    module = AnsibleModule(
        argument_spec=dict(
            reference=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            files=dict(type="list", elements="dict", default=[], options=dict(
                src=dict(type="path"), content=dict(type="str"), dest=dict(type="str", required=True),
                mode=dict(type="str", default="0755"),
            )),
            base_layers=dict(type="list", elements="path", default=[]),
            base_rootfs=dict(type="path"),
            entrypoint=dict(type="list", elements="str"),
            cmd=dict(type="list", elements="str"),
            env=dict(type="list", elements="str"),
            architecture=dict(type="str", default="amd64"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["files"] and not p["base_layers"] and not p["base_rootfs"]:
        module.fail_json(msg="files: give at least one file, base layer or base root file system")
    if p["base_rootfs"] and not os.path.isdir(p["base_rootfs"]):
        module.fail_json(msg="base_rootfs: %s is not a directory" % p["base_rootfs"])
    for i, layer in enumerate(p["base_layers"]):
        if not os.path.isfile(layer):
            module.fail_json(msg="base_layers[%d]: %s is not a file" % (i, layer))
    try:
        files = oci.normalize_files(p["files"])
    except oci.OCIError as exc:
        module.fail_json(msg=str(exc))
    dest_dir = os.path.dirname(p["dest"]) or "."
    if not os.path.isdir(dest_dir):
        module.fail_json(msg="dest: directory %s does not exist" % dest_dir)

    old_digest, old_ref = oci.archive_manifest_digest(p["dest"]) if os.path.exists(p["dest"]) else (None, None)
    temps = []

    def layers(to_disk):
        """Layer descriptors; without ``to_disk`` the streams are only hashed, never written."""
        out = [oci.layer_from_file(path) for path in p["base_layers"]]
        writers = []
        if p["base_rootfs"]:
            writers.append(lambda f: oci.write_tree_layer(p["base_rootfs"], f))
        if files:
            writers.append(lambda f: oci.write_layer(files, f))
        produced = []
        for write in writers:
            if to_disk:
                fd, path = tempfile.mkstemp(dir=dest_dir, prefix=".layer-")
                temps.append(path)
                with os.fdopen(fd, "wb") as f:
                    digest, size = write(f)
            else:
                path = None
                digest, size = write(oci.NullSink())
            produced.append({"path": path, "digest": digest, "size": size})
        # the root file system is the bottom layer, the files the top one
        return (produced[:1] if p["base_rootfs"] else []) + out + (produced[-1:] if files else [])

    def describe(descs):
        return oci.build_image(p["reference"], descs, p["entrypoint"], p["cmd"], p["env"],
                               architecture=p["architecture"])

    try:
        digest = describe(layers(False))[2]
        changed = digest != old_digest or old_ref != p["reference"]
        if changed and not module.check_mode:
            blobs, index, digest = describe(layers(True))
            oci.write_archive(p["dest"], blobs, index)
    finally:
        for path in temps:
            os.unlink(path)
    result = dict(changed=changed, digest=digest, reference=p["reference"])
    if module._diff:
        result["diff"] = {"before": {"digest": old_digest, "reference": old_ref},
                          "after": {"digest": digest, "reference": p["reference"]}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
