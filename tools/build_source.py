"""Build Kubernetes, etcd, CoreDNS, pause and the container runtime from the Go module proxy into the cache.

A thin command line over plugins/module_utils/bundle/source_build.py, the code the
kamaji.core.source_build module runs: the Makefile (`make binaries`) and the test harness
(tests/harness/procs.py) use it. Binaries land in <cache>/bin/<component>-<version>/ and are
reused when present; a line per binary is printed as it builds.

The collection is imported the way Ansible imports it (tests/harness/loader.py: the checkout
linked as kamaji.core under .build/collections); nothing happens on import of this file.

Usage:
    tools/build_source.py --cache DIR [--kube-version V] [--etcd-version V] [--coredns-version V]
                          [--pause-version V] [--containerd-version V] [--runc-version V]
                          [--cni-plugins-version V] [--only kube-apiserver,etcd,...]

Without --only, the binaries of etcd, Kubernetes, CoreDNS and pause; the container runtime's
(containerd, containerd-shim-runc-v2, ctr, runc, bridge, host-local, loopback, portmap) only
when named in --only. Versions default to plugins/module_utils/versions.py. Exit status: 0 done, 1 build failed
(or go missing), 2 bad arguments.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAUSE_SOURCE = os.path.join(REPO, "roles", "offline_bundle", "files", "pause")


def log(msg: str) -> None:
    print("[build_source %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, os.path.join(REPO, "tests"))
    from harness import loader

    loader.install()
    from ansible_collections.kamaji.core.plugins.module_utils import versions
    from ansible_collections.kamaji.core.plugins.module_utils.bundle import source_build as sb

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--kube-version", default=versions.KUBERNETES)
    ap.add_argument("--etcd-version", default=versions.ETCD)
    ap.add_argument("--coredns-version", default=versions.COREDNS)
    ap.add_argument("--pause-version", default=versions.PAUSE)
    ap.add_argument("--containerd-version", default=versions.CONTAINERD)
    ap.add_argument("--runc-version", default=versions.RUNC)
    ap.add_argument("--cni-plugins-version", default=versions.CNI_PLUGINS)
    ap.add_argument("--pause-source", default=PAUSE_SOURCE, help="the pause program's Go source (default: the role's)")
    ap.add_argument("--only", default="", help="comma-separated binaries (default: %s): %s"
                    % (",".join(sb.DEFAULT_BINARIES), ",".join(sb.BINARIES)))
    args = ap.parse_args(argv)

    start = time.monotonic()
    try:
        plan = sb.plan(args.cache, sb.Versions(args.kube_version, args.etcd_version, args.coredns_version,
                                               args.pause_version, args.containerd_version, args.runc_version,
                                               args.cni_plugins_version), args.only, args.pause_source)
    except sb.SourceBuildError as exc:
        sys.stderr.write("build_source: %s\n" % exc)
        return 2
    for target in plan.targets:
        if not target.missing:
            log("%s %s: cached in %s" % (target.component, target.version, target.directory))
        else:
            log("%s %s: to build %s" % (target.component, target.version, ", ".join(target.missing)))
    try:
        sb.build(plan, lambda event: log(event.line()))
    except sb.SourceBuildError as exc:
        sys.stderr.write("build_source: %s\n" % exc)
        return 1
    log("done in %.0fs" % (time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
