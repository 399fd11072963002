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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.bundle import oci


def main() -> None:
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
    try:
        changed, before, after = oci.assemble(p["reference"], p["dest"], p["files"], p["base_layers"], p["base_rootfs"],
                                              p["entrypoint"], p["cmd"], p["env"], p["architecture"], module.check_mode)
    except oci.OCIError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="dest: cannot write %s (%s)" % (p["dest"], exc))
    result = dict(changed=changed, digest=after["digest"], reference=p["reference"])
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
