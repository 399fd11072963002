#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: source_build
short_description: Build Kubernetes, etcd, CoreDNS, pause and container runtime binaries from source, cached by version
version_added: 0.1.0
description:
  - Builds the binaries of the offline bundle from the Go module proxy on the host that runs
    the module (the controller, or a build host). Each upstream component is built in a small
    generated Go module that requires the upstream module at the given version; the pause
    program is built from its Go source in O(pause_source).
  - The container runtime (containerd 2.x with its runc shim and ctr, runc, and the CNI plugins
    bridge, host-local, loopback and portmap) is built only when named in O(only); the roles do
    not install it yet.
  - Binaries land in C(<cache_dir>/bin/<component>-<version>/) and are reused when present;
    only what is missing is built, and C(changed) is true only when something was built.
  - In check mode, reports what would be built (RV(built)) and builds nothing.
  - Needs C(go) (Go >= 1.26, the version the upstream modules ask for) on E(PATH); without it
    the module fails with a one-line message before building anything.
  - A cold build of a Kubernetes version takes minutes (about 10 on 2 cores); RV(log) returns
    one line per binary with its build time.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_none
options:
  cache_dir:
    description:
      - The cache. Binaries go to C(bin/<component>-<version>/) under it, generated modules
        to C(src/), and, unless E(GOMODCACHE) and E(GOCACHE) are set, Go's module and build
        caches to C(gomod/) and C(gobuild/).
    type: path
    required: true
  kubernetes_version:
    description: Kubernetes version (C(k8s.io/kubernetes) module version).
    type: str
    default: v1.37.2
  etcd_version:
    description: etcd version (C(go.etcd.io/etcd/*/v3) module version).
    type: str
    default: v3.7.3
  coredns_version:
    description: CoreDNS version (C(github.com/coredns/coredns) module version).
    type: str
    default: v1.14.6
  pause_version:
    description: Version the pause program is built as (the pause image tag).
    type: str
    default: "3.10.2"
  containerd_version:
    description: containerd version (C(github.com/containerd/containerd/v2) module version, 2.x).
    type: str
    default: v2.4.2
  runc_version:
    description: runc version (C(github.com/opencontainers/runc) module version).
    type: str
    default: v1.5.3
  cni_plugins_version:
    description: CNI plugins version (C(github.com/containernetworking/plugins) module version).
    type: str
    default: v1.10.0
  only:
    description:
      - Build only these binaries. When empty, every binary of etcd, Kubernetes, CoreDNS and
        pause; the container runtime's binaries (C(containerd), C(containerd-shim-runc-v2),
        C(ctr), C(runc), and the CNI plugins C(bridge), C(host-local), C(loopback), C(portmap))
        are built only when named here.
    type: list
    elements: str
    choices: [etcd, etcdctl, etcdutl, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet,
              kubeadm, kube-proxy, coredns, pause, containerd, containerd-shim-runc-v2, ctr, runc, bridge,
              host-local, loopback, portmap]
    default: []
  pause_source:
    description:
      - Directory holding the pause program's Go source (C(main.go), C(go.mod)), on the host
        that runs the module. Required unless O(only) leaves pause out; the offline_bundle
        role passes its C(files/pause).
      - pause is rebuilt when C(main.go) or O(pause_version) changes.
    type: path
notes:
  - The build runs with E(GOTOOLCHAIN=local) and E(CGO_ENABLED=0); the binaries are static and
    reproducible (fixed build date, C(-trimpath)).
  - Except runc, built with cgo (E(CGO_ENABLED=1)) and seccomp support, linked statically; it
    needs a C compiler, the static C library and libseccomp with pkg-config (Debian C(gcc),
    C(libc6-dev), C(libseccomp-dev), C(pkg-config)) on the host that builds. Its cache directory
    is C(runc-<version>+seccomp).
seealso:
  - module: kamaji.core.oci_image
  - module: kamaji.core.bundle_manifest
"""

EXAMPLES = r"""
- name: Build every binary of the project's versions
  kamaji.core.source_build:
    cache_dir: /var/cache/kamaji-core
    pause_source: "{{ role_path }}/files/pause"

- name: Only the etcd server and the control plane of an older Kubernetes
  kamaji.core.source_build:
    cache_dir: /var/cache/kamaji-core
    kubernetes_version: v1.36.3
    only: [etcd, kube-apiserver, kube-controller-manager, kube-scheduler]
  register: build

- name: Show where kube-apiserver is
  ansible.builtin.debug:
    msg: "{{ build.paths['kube-apiserver'] }}"
"""

RETURN = r"""
built:
  description: Binaries built by this run (in check mode, those that would be built), in build order.
  returned: always
  type: list
  elements: str
  sample: [kube-apiserver, kubectl]
paths:
  description: Path of every selected binary, present or built.
  returned: always
  type: dict
  sample: {"kube-apiserver": "/var/cache/kamaji-core/bin/kubernetes-v1.37.2/kube-apiserver"}
directories:
  description: Output directory of every selected component.
  returned: always
  type: dict
  sample: {"kubernetes": "/var/cache/kamaji-core/bin/kubernetes-v1.37.2"}
log:
  description: One line per binary built, with its build time and the time elapsed.
  returned: always
  type: list
  elements: str
  sample: ["kubernetes v1.37.2: built kubectl (1 of 1) in 95s, 97s elapsed"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.bundle import source_build as sb


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            cache_dir=dict(type="path", required=True),
            kubernetes_version=dict(type="str", default=versions.KUBERNETES),
            etcd_version=dict(type="str", default=versions.ETCD),
            coredns_version=dict(type="str", default=versions.COREDNS),
            pause_version=dict(type="str", default=versions.PAUSE),
            containerd_version=dict(type="str", default=versions.CONTAINERD),
            runc_version=dict(type="str", default=versions.RUNC),
            cni_plugins_version=dict(type="str", default=versions.CNI_PLUGINS),
            only=dict(type="list", elements="str", default=[], choices=list(sb.BINARIES)),
            pause_source=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    log: list[str] = []

    def progress(event: sb.Progress) -> None:
        if event.done:
            log.append(event.line())

    try:
        plan = sb.plan(p["cache_dir"], sb.Versions(p["kubernetes_version"], p["etcd_version"], p["coredns_version"],
                                                   p["pause_version"], p["containerd_version"], p["runc_version"],
                                                   p["cni_plugins_version"]), p["only"], p["pause_source"])
        built = plan.missing if module.check_mode else sb.build(plan, progress)
    except sb.SourceBuildError as exc:
        module.fail_json(msg=str(exc), log=log)
    except OSError as exc:
        module.fail_json(msg="cache_dir: %s (%s)" % (exc.strerror, exc.filename), log=log)
    module.exit_json(changed=bool(built), built=built, paths=plan.paths, directories=plan.directories, log=log)


if __name__ == "__main__":
    main()
