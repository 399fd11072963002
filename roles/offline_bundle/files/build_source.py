"""Build Kubernetes, etcd and CoreDNS binaries from the Go module proxy.

Each component is built in a small generated Go module that requires the upstream
module at the pinned version. Kubernetes keeps its staging modules (k8s.io/api, ...)
as local ``replace`` directives, so the generated module pins each of them by
``replace`` to the published ``v0.<minor>.<patch>`` tag: the usual way projects import
``k8s.io/kubernetes``.

Outputs land in ``<cache>/bin/<component>-<version>/`` and are reused when present
(a ``.complete`` stamp is written last), so a second run costs seconds.

Usage:
    build_source.py --cache DIR [--kube-version v1.37.2] [--etcd-version v3.7.3]
                    [--coredns-version v1.14.6] [--only kube-apiserver,etcd,...]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time

KUBE_COMMANDS = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kubelet",
    "kubeadm",
    "kube-proxy",
]
ETCD_COMMANDS = {"etcd": "go.etcd.io/etcd/server/v3", "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
                 "etcdutl": "go.etcd.io/etcd/etcdutl/v3"}
HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg: str) -> None:
    print(f"[build_source {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, cwd, env):
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, env=env, check=True)


def go_env(cache: str) -> dict:
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["GOFLAGS"] = env["GOFLAGS"].replace("-buildvcs=false", "").strip() + " -buildvcs=false"
    env["CGO_ENABLED"] = "0"
    env.setdefault("GOMODCACHE", os.path.join(cache, "gomod"))
    env.setdefault("GOCACHE", os.path.join(cache, "gobuild"))
    env["GOTOOLCHAIN"] = "local"
    return env


def upstream_gomod(module: str, version: str, env: dict) -> str:
    out = subprocess.run(["go", "mod", "download", "-json", f"{module}@{version}"],
                         env=env, check=True, capture_output=True, text=True, cwd="/")
    info = json.loads(out.stdout)
    if info.get("Error"):
        raise SystemExit(f"cannot download {module}@{version}: {info['Error']}")
    with open(info["GoMod"], encoding="utf-8") as f:
        return f.read()


def local_replaces(gomod: str) -> list[str]:
    """Module paths that the upstream go.mod replaces with a local directory."""
    return re.findall(r"^\s*(\S+)\s+=>\s+\./?\.?\.?/\S+\s*$", gomod, flags=re.M)


def write_module(workdir: str, name: str, requires: dict, replaces: dict) -> None:
    os.makedirs(workdir, exist_ok=True)
    lines = [f"module kamaji.local/{name}", "", "go 1.26", ""]
    lines.append("require (")
    lines += [f"\t{m} {v}" for m, v in sorted(requires.items())]
    lines.append(")")
    if replaces:
        lines.append("")
        lines.append("replace (")
        lines += [f"\t{m} => {m} {v}" for m, v in sorted(replaces.items())]
        lines.append(")")
    text = "\n".join(lines) + "\n"
    path = os.path.join(workdir, "go.mod")
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    if old is None or not old.startswith(text.split("require (", maxsplit=1)[0]):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def kube_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    now = "1970-01-01T00:00:00Z"  # fixed: reproducible binaries, stable checksums
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean",
                  f"-X {pkg}.gitCommit=0000000000000000000000000000000000000000",
                  f"-X {pkg}.buildDate={now}"]
    return "-s -w " + " ".join(flags)


def build(cache: str, comp: str, version: str, modules: list, packages: dict, replaces_from: str | None,
          ldflags: str, only: set | None) -> None:
    outdir = os.path.join(cache, "bin", f"{comp}-{version}")
    wanted = [c for c in packages if only is None or c in only]
    if not wanted:
        return
    missing = [c for c in wanted if not os.path.exists(os.path.join(outdir, c))]
    if not missing:
        log(f"{comp} {version}: cached in {outdir}")
        return
    env = go_env(cache)
    workdir = os.path.join(cache, "src", f"{comp}-{version}")
    replaces = {}
    if replaces_from:
        gomod = upstream_gomod(replaces_from, version, env)
        staging_version = "v0." + version.lstrip("v").split(".", 1)[1] if comp == "kubernetes" else version
        replaces = {m: staging_version for m in local_replaces(gomod)}
    write_module(workdir, comp, {m: version for m in modules}, replaces)
    os.makedirs(outdir, exist_ok=True)
    start = time.time()
    for cmd in missing:
        pkg = packages[cmd]
        tmp = os.path.join(outdir, f".{cmd}.tmp")
        run(["go", "build", "-trimpath", "-ldflags", ldflags, "-o", tmp, pkg], workdir, env)
        os.replace(tmp, os.path.join(outdir, cmd))
    log(f"{comp} {version}: built {', '.join(missing)} in {time.time() - start:.0f}s")


def build_pause(cache: str, version: str) -> None:
    """Our own pause program (files/pause), versioned with the pause image tag."""
    outdir = os.path.join(cache, "bin", f"pause-{version}")
    target = os.path.join(outdir, "pause")
    src = os.path.join(HERE, "pause")
    with open(os.path.join(src, "main.go"), "rb") as f:
        stamp = hashlib.sha256(f.read() + version.encode()).hexdigest()
    stamp_file = os.path.join(outdir, ".source-sha256")
    if os.path.exists(target) and os.path.exists(stamp_file) and open(stamp_file).read() == stamp:
        log(f"pause {version}: cached in {outdir}")
        return
    os.makedirs(outdir, exist_ok=True)
    env = go_env(cache)
    run(["go", "build", "-trimpath", "-ldflags", f"-s -w -X main.version={version}", "-o", target + ".tmp", "."],
        src, env)
    os.replace(target + ".tmp", target)
    with open(stamp_file, "w") as f:
        f.write(stamp)
    log(f"pause {version}: built")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--kube-version", default="v1.37.2")
    ap.add_argument("--etcd-version", default="v3.7.3")
    ap.add_argument("--coredns-version", default="v1.14.6")
    ap.add_argument("--pause-version", default="3.10.2")
    ap.add_argument("--only", default="", help="comma-separated binaries (default: all)")
    args = ap.parse_args()
    only = {x for x in args.only.split(",") if x} or None
    cache = os.path.abspath(args.cache)
    t0 = time.time()
    build(cache, "etcd", args.etcd_version, sorted(set(ETCD_COMMANDS.values())),
          dict(ETCD_COMMANDS), None, "-s -w", only)
    build(cache, "kubernetes", args.kube_version, ["k8s.io/kubernetes"],
          {c: f"k8s.io/kubernetes/cmd/{c}" for c in KUBE_COMMANDS}, "k8s.io/kubernetes",
          kube_ldflags(args.kube_version), only)
    build(cache, "coredns", args.coredns_version, ["github.com/coredns/coredns"],
          {"coredns": "github.com/coredns/coredns"}, None, "-s -w", only)
    if only is None or "pause" in only:
        build_pause(cache, args.pause_version)
    log(f"done in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
