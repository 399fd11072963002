#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: oci_pull
short_description: Pull an image from a registry into an OCI archive
version_added: 0.1.0
description:
  - Fetches one image for one platform from an OCI distribution registry (manifest lists
    and OCI indexes are resolved to the platform) and writes it as an OCI archive that
    C(ctr -n k8s.io images import) loads, keeping the upstream image name.
  - Every blob is verified against its sha256 digest; a mismatch fails naming the blob.
  - Idempotent, the archive is rewritten only when the registry's manifest digest for
    the platform differs from the one recorded in the archive.
  - Anonymous pulls, with bearer tokens when the registry asks for one.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
options:
  reference:
    description: Image to pull, C(registry/repository:tag) (or C(@sha256:...)).
    type: str
    required: true
  dest:
    description: Archive to write.
    type: path
    required: true
  name:
    description: Image name recorded in the archive; default O(reference).
    type: str
  architecture:
    description: Platform architecture (os is C(linux)).
    type: str
    default: amd64
  mirrors:
    description:
      - "Registry host to base URL, for example C({registry.k8s.io: https://mirror.example.com}).
        The image keeps its upstream name."
    type: dict
    default: {}
  validate_certs:
    description: Verify the registry's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: CA bundle for the registry's certificate.
    type: path
"""

EXAMPLES = r"""
- name: Pull kube-apiserver through the site's mirror
  kamaji.core.oci_pull:
    reference: registry.k8s.io/kube-apiserver:v1.37.2
    dest: /srv/bundle/images/kube-apiserver.tar
    mirrors:
      registry.k8s.io: https://registry-mirror.example.com
"""

RETURN = r"""
digest:
  description: Manifest digest of the image for the platform.
  returned: always
  type: str
  sample: sha256:0f3b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.bundle import registry


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            reference=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            name=dict(type="str"),
            architecture=dict(type="str", default="amd64"),
            mirrors=dict(type="dict", default={}),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        changed, digest = registry.pull(p["reference"], p["dest"], p["architecture"], p["mirrors"], p["name"],
                                        p["validate_certs"], p["ca_path"], module.check_mode)
    except registry.RegistryError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="dest: cannot write %s (%s)" % (p["dest"], exc))
    module.exit_json(changed=changed, digest=digest)


if __name__ == "__main__":
    main()
