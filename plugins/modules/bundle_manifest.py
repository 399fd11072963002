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
  - With O(state=verified) and O(require) or O(require_images), checks only what a role needs
    from the bundle, before it installs anything. Every required file and image archive must be
    listed, present and match its sha256.
  - With O(state=verified), the directory must exist and hold a manifest whose versions match
    O(versions). Every failure is one line naming O(variable), the component and the fix
    (build or rebuild the bundle with the C(kamaji.core.offline_bundle) playbook).
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
    description:
      - Component versions recorded in the manifest (O(state=present)).
      - With O(state=verified), the versions the bundle must hold (empty values are not checked).
    type: dict
    default: {}
  require:
    description:
      - With O(state=verified), files (relative to O(path), e.g. V(bin/kubelet)) that must be in
        the manifest, present and intact; only these (and the archives of O(require_images)) are hashed.
    type: list
    elements: str
    default: []
  require_images:
    description:
      - With O(state=verified), image references that must be in the manifest's image index,
        their archives present and intact.
    type: list
    elements: str
    default: []
  variable:
    description:
      - The variable that holds O(path), named in the messages of O(state=verified)
        (e.g. V(kube_packages_bundle_dir)).
    type: str
    default: path
  images:
    description: Image reference to archive path (relative to O(path)) (O(state=present)).
    type: dict
    default: {}
  packages:
    description: Versions of components taken from distribution packages (O(state=present)).
    type: dict
    default: {}
  kubernetes:
    description:
      - Every Kubernetes version the bundle holds, to the directory (relative to O(path)) of its
        node binaries (O(state=present)); the primary version (C(versions.kubernetes)) is in C(bin).
      - With O(state=verified), C(versions.kubernetes) may be any of these versions.
    type: dict
    default: {}
  kubernetes_versions:
    description:
      - With O(state=verified), Kubernetes versions the bundle must hold (besides C(versions.kubernetes)),
        for example every version the nodes of a play run.
    type: list
    elements: str
    default: []
  kubernetes_binaries:
    description:
      - With O(state=verified), node binaries (C(kubelet), C(kubeadm), C(kubectl)) of each Kubernetes
        version asked for (C(versions.kubernetes) and O(kubernetes_versions)) that the bundle must hold,
        intact; their paths are returned as RV(kubernetes_files).
    type: list
    elements: str
    default: []
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

- name: The bundle holds what this role installs (one line naming what is missing and the fix)
  kamaji.core.bundle_manifest:
    path: "{{ kube_packages_bundle_dir }}"
    state: verified
    variable: kube_packages_bundle_dir
    versions:
      kubernetes: v1.37.2
    require: [bin/kubelet, bin/kubeadm, bin/kubectl]
    require_images: [registry.k8s.io/pause:3.10.2]

- name: The bundle holds the node binaries of an older release too (their paths are returned)
  kamaji.core.bundle_manifest:
    path: "{{ kube_packages_bundle_dir }}"
    state: verified
    variable: kube_packages_bundle_dir
    kubernetes_versions: [v1.37.2, v1.36.3]
    kubernetes_binaries: [kubelet, kubeadm, kubectl]
  register: kube_bundle   # kube_bundle.kubernetes_files['v1.36.3'].kubelet
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
kubernetes_files:
  description:
    - With O(state=verified), each Kubernetes version asked for, to each of O(kubernetes_binaries) and its path
      relative to O(path).
  returned: when verified
  type: dict
  sample: {v1.36.3: {kubelet: kubernetes/v1.36.3/bin/kubelet}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.bundle import manifest as bundle


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", default="present", choices=["present", "verified"]),
            versions=dict(type="dict", default={}),
            images=dict(type="dict", default={}),
            packages=dict(type="dict", default={}),
            kubernetes=dict(type="dict", default={}),
            kubernetes_versions=dict(type="list", elements="str", default=[]),
            kubernetes_binaries=dict(type="list", elements="str", default=[]),
            require=dict(type="list", elements="str", default=[]),
            require_images=dict(type="list", elements="str", default=[]),
            variable=dict(type="str", default="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["state"] == "verified":
            manifest = bundle.check(p["path"], p["variable"], p["require"], p["require_images"], p["versions"],
                                    p["kubernetes_binaries"], p["kubernetes_versions"])
            # nothing named: every file of the manifest is checked
            named = p["require"] or p["require_images"] or p["kubernetes_binaries"]
            problems = [] if named else bundle.verify(p["path"], manifest)
            if problems:
                module.fail_json(msg="offline bundle %s is corrupted: %s" % (p["path"], "; ".join(problems)),
                                 problems=problems, manifest=manifest)
            asked = [v for v in [p["versions"].get("kubernetes") or ""] + p["kubernetes_versions"] if v]
            files = {v: bundle.kubernetes_files(manifest, v, p["kubernetes_binaries"]) for v in asked}
            module.exit_json(changed=False, manifest=manifest, problems=[], kubernetes_files=files)
        changed, before, after = bundle.write(p["path"], p["versions"], p["images"], p["packages"], module.check_mode,
                                              p["kubernetes"])
    except bundle.BundleError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="path: cannot write the manifest in %s (%s)" % (p["path"], exc))
    result = dict(changed=changed, manifest=after)
    if module._diff and changed:
        result["diff"] = bundle.diff(before, after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
