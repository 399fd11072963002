# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Build Kubernetes, etcd, CoreDNS, our pause program and the container runtime (containerd,
runc, the CNI plugins) from source through the Go module proxy.

Each upstream component is built in a small generated Go module that requires the
upstream module at the pinned version. Kubernetes keeps its staging modules (k8s.io/api,
...) as local ``replace`` directives, so the generated module pins each of them by
``replace`` to the published ``v0.<minor>.<patch>`` tag: the usual way projects import
``k8s.io/kubernetes``. The pause program is ours (its Go source is a directory given by the
caller, ``roles/offline_bundle/files/pause`` in this collection).

The container runtime's binaries are built only when asked for by name (``only``; the
offline_bundle role names them, the test tiers mostly do not need them). runc is the one
binary built with cgo (its nsenter is C) and with seccomp (libseccomp, through pkg-config),
linked statically; it needs a C compiler and libseccomp's static library and headers.

Binaries land in ``<cache>/bin/<component>-<version>/`` and are reused when present (each
binary is renamed into place once complete; pause also keeps a stamp of its source), so a
second run costs nothing. The work is split in two:

- ``plan(...)`` looks at the cache and says what is missing: check mode, and ``changed``;
- ``build(plan, progress)`` builds what the plan says is missing, reporting each binary as
  it starts and ends (component, n of m, elapsed) so a long build shows it is alive.

Pure Python (no Ansible): the ``source_build`` module and ``tools/build_source.py`` share it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.common.files import atomic_write, sha256_bytes

# The upstream go.mod files of the supported releases say "go 1.26.0"; the build runs with
# GOTOOLCHAIN=local, so an older go cannot build them (it would refuse the go.mod).
GO_MINIMUM = (1, 26)
GO_MISSING = ("go: not found on PATH; install Go >= %d.%d (the Go toolchain) or use offline_bundle_source: download"
              % GO_MINIMUM)

KUBE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kubeadm",
                 "kube-proxy")
ETCD_COMMANDS = {"etcd": "go.etcd.io/etcd/server/v3", "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
                 "etcdutl": "go.etcd.io/etcd/etcdutl/v3"}
CONTAINERD_MODULE = "github.com/containerd/containerd/v2"
CONTAINERD_COMMANDS = {c: "%s/cmd/%s" % (CONTAINERD_MODULE, c) for c in ("containerd", "containerd-shim-runc-v2", "ctr")}
RUNC_MODULE = "github.com/opencontainers/runc"
CNI_MODULE = "github.com/containernetworking/plugins"
# the plugins the cni_bridge role's conflist uses
CNI_PLUGINS = {"bridge": CNI_MODULE + "/plugins/main/bridge", "host-local": CNI_MODULE + "/plugins/ipam/host-local",
               "loopback": CNI_MODULE + "/plugins/main/loopback", "portmap": CNI_MODULE + "/plugins/meta/portmap"}
COMPONENTS = ("etcd", "kubernetes", "coredns", "pause", "containerd", "runc", "cni-plugins")
# built when ``only`` is empty (the recipes with ``default``); the container runtime only when named
DEFAULT_COMPONENTS = ("etcd", "kubernetes", "coredns", "pause")
# every binary of the default components, in build order
DEFAULT_BINARIES = tuple(ETCD_COMMANDS) + KUBE_COMMANDS + ("coredns", "pause")
RUNTIME_BINARIES = tuple(CONTAINERD_COMMANDS) + ("runc",) + tuple(CNI_PLUGINS)
# every binary this builds, in build order
BINARIES = DEFAULT_BINARIES + RUNTIME_BINARIES
# the C compiler cgo builds (runc) need, and the library runc's seccomp support links
CC_MISSING = ("cc: no C compiler on PATH; runc is built with cgo: install gcc and libc6-dev "
              "(apt-get install gcc libc6-dev) or leave runc out of only")
LIBRARY_MISSING = ("{name}: pkg-config does not find {name}; {component} is built with {purpose}: install {package} "
                   "and pkg-config (apt-get install {package} pkg-config) or leave {component} out of only")
PAUSE_STAMP = ".source-sha256"
# seconds between two "still building" reports of one binary
HEARTBEAT = 60.0
# fixed build date: reproducible binaries, stable checksums
BUILD_DATE = "1970-01-01T00:00:00Z"


class SourceBuildError(Exception):
    pass


@dataclass(frozen=True)
class Library:
    """A C library a cgo build links, found through pkg-config."""

    name: str  # its pkg-config name
    package: str  # the Debian package that brings it
    purpose: str  # what the binary gets from it, for the message


LIBSECCOMP = Library("libseccomp", "libseccomp-dev", "seccomp support")
LIBSECCOMP_MISSING = LIBRARY_MISSING.format(name=LIBSECCOMP.name, component="runc", purpose=LIBSECCOMP.purpose,
                                            package=LIBSECCOMP.package)


class GoNotFound(SourceBuildError):
    pass


@dataclass(frozen=True)
class Recipe:
    """How one component is built."""

    component: str
    version: str
    packages: dict[str, str]  # binary -> Go package
    modules: tuple[str, ...] = ()  # upstream modules the generated module requires
    replaces_from: str | None = None  # upstream module whose local replaces are pinned
    ldflags: str = "-s -w"
    tags: tuple[str, ...] = ()  # build tags of every binary
    binary_tags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # more tags of one binary
    cgo: bool = False  # CGO_ENABLED=1 (a C compiler is needed)
    default: bool = True  # built when ``only`` is empty
    libraries: tuple[Library, ...] = ()  # C libraries a cgo build links
    variant: str = ""  # what the cache directory adds after the version (binaries of another recipe)

    @property
    def directory_name(self) -> str:
        return "%s-%s%s" % (self.component, self.version, ("+" + self.variant) if self.variant else "")

    def build_tags(self, binary: str) -> str:
        return ",".join(self.tags + self.binary_tags.get(binary, ()))


@dataclass
class Target:
    """One component of the plan: where its binaries live and which of them are missing."""

    recipe: Recipe
    directory: str
    wanted: list[str]
    missing: list[str]

    @property
    def component(self) -> str:
        return self.recipe.component

    @property
    def version(self) -> str:
        return self.recipe.version


@dataclass
class Plan:
    cache: str
    targets: list[Target]
    pause_source: str | None = None

    @property
    def missing(self) -> list[str]:
        """Binaries to build, in build order."""
        return [b for t in self.targets for b in t.missing]

    @property
    def changed(self) -> bool:
        return bool(self.missing)

    @property
    def paths(self) -> dict[str, str]:
        """Path of every wanted binary (present, or once built)."""
        return {b: os.path.join(t.directory, b) for t in self.targets for b in t.wanted}

    @property
    def directories(self) -> dict[str, str]:
        return {t.component: t.directory for t in self.targets}


@dataclass(frozen=True)
class Progress:
    """The ``n``th binary of ``m``: starting, still building (every ``HEARTBEAT`` seconds), or built."""

    component: str
    version: str
    binary: str
    n: int
    m: int
    elapsed: float  # seconds since build() started
    state: str = "start"  # start, running, done
    seconds: float = 0.0  # time spent on this binary so far

    @property
    def done(self) -> bool:
        return self.state == "done"

    def line(self) -> str:
        what = "%s %s: %%s %s (%d of %d)" % (self.component, self.version, self.binary, self.n, self.m)
        if self.state == "done":
            return what % "built" + " in %.0fs, %.0fs elapsed" % (self.seconds, self.elapsed)
        if self.state == "running":
            return what % "still building" + ", %.0fs so far, %.0fs elapsed" % (self.seconds, self.elapsed)
        return what % "building" + ", %.0fs elapsed" % self.elapsed


ProgressCallback = Callable[[Progress], None]


# what a version of each component looks like
VERSION_PATTERNS = {"kubernetes": r"^v1\.\d+\.\d+$", "etcd": r"^v3\.\d+\.\d+$", "coredns": r"^v1\.\d+\.\d+$",
                    "pause": r"^\d+\.\d+(\.\d+)?$", "containerd": r"^v2\.\d+\.\d+$", "runc": r"^v1\.\d+\.\d+$",
                    "cni_plugins": r"^v1\.\d+\.\d+$"}


@dataclass(frozen=True)
class Versions:
    """The versions to build; the project's (``versions.py``) unless told otherwise."""

    kubernetes: str = versions.KUBERNETES
    etcd: str = versions.ETCD
    coredns: str = versions.COREDNS
    pause: str = versions.PAUSE
    containerd: str = versions.CONTAINERD
    runc: str = versions.RUNC
    cni_plugins: str = versions.CNI_PLUGINS

    def validate(self) -> None:
        for name, pattern in VERSION_PATTERNS.items():
            value = getattr(self, name)
            if not isinstance(value, str) or not re.match(pattern, value):
                raise SourceBuildError("%s version: %r is not a version of the form %s"
                                       % (name, value, getattr(versions, name.upper())))


def kube_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += ["-X %s.gitVersion=%s" % (pkg, version), "-X %s.gitMajor=%s" % (pkg, major),
                  "-X %s.gitMinor=%s" % (pkg, minor), "-X %s.gitTreeState=clean" % pkg,
                  "-X %s.gitCommit=%s" % (pkg, "0" * 40), "-X %s.buildDate=%s" % (pkg, BUILD_DATE)]
    return "-s -w " + " ".join(flags)


def containerd_ldflags(version: str) -> str:
    """containerd's version package, as its Makefile stamps it (``containerd --version``)."""
    package = CONTAINERD_MODULE + "/version"
    return "-s -w -X %s.Version=%s -X %s.Package=%s" % (package, version, package, CONTAINERD_MODULE)


# runc: its Makefile's tags with seccomp (kubeadm's static pods and RuntimeDefault pods ask for
# a seccomp profile; a runc without it refuses them), without libpathrs (a Rust library;
# pathrs-lite, pure Go, is used instead); static like its release binaries (osusergo, netgo).
RUNC_TAGS = ("urfave_cli_no_docs", "seccomp", "netgo", "osusergo")
# runc embeds its VERSION file (``runc --version`` prints it); only the static link is added
RUNC_LDFLAGS = "-s -w -extldflags -static"


def recipes(v: Versions) -> list[Recipe]:
    """The components, in build order."""
    return [
        Recipe("etcd", v.etcd, dict(ETCD_COMMANDS), tuple(sorted(set(ETCD_COMMANDS.values())))),
        Recipe("kubernetes", v.kubernetes, {c: "k8s.io/kubernetes/cmd/%s" % c for c in KUBE_COMMANDS},
               ("k8s.io/kubernetes",), "k8s.io/kubernetes", kube_ldflags(v.kubernetes)),
        Recipe("coredns", v.coredns, {"coredns": "github.com/coredns/coredns"}, ("github.com/coredns/coredns",)),
        Recipe("pause", v.pause, {"pause": "."}, ldflags="-s -w -X main.version=%s" % v.pause),
        Recipe("containerd", v.containerd, dict(CONTAINERD_COMMANDS), (CONTAINERD_MODULE,),
               ldflags=containerd_ldflags(v.containerd), tags=("urfave_cli_no_docs",),
               binary_tags={"containerd-shim-runc-v2": ("no_grpc",)}, default=False),
        Recipe("runc", v.runc, {"runc": RUNC_MODULE}, (RUNC_MODULE,), ldflags=RUNC_LDFLAGS, tags=RUNC_TAGS, cgo=True,
               default=False, libraries=(LIBSECCOMP,), variant="seccomp"),
        Recipe("cni-plugins", v.cni_plugins, dict(CNI_PLUGINS), (CNI_MODULE,),
               ldflags="-s -w -X %s/pkg/utils/buildversion.BuildVersion=%s" % (CNI_MODULE, v.cni_plugins),
               default=False),
    ]


def parse_only(only: Iterable[str] | str | None) -> set[str] | None:
    """``"etcd,kubectl"`` or a list -> a set of known binary names; empty or None -> None (the
    default set: every binary of DEFAULT_COMPONENTS)."""
    if only is None:
        return None
    names = [x.strip() for x in (only.split(",") if isinstance(only, str) else only)]
    wanted = {x for x in names if x}
    unknown = sorted(wanted - set(BINARIES))
    if unknown:
        raise SourceBuildError("only: unknown binaries %s; known: %s" % (", ".join(unknown), ", ".join(BINARIES)))
    return wanted or None


def pause_stamp(source: str, version: str) -> str:
    """What the pause stamp records: the program's source and the version it is built as."""
    try:
        with open(os.path.join(source, "main.go"), "rb") as f:
            return sha256_bytes(f.read() + version.encode())
    except OSError as exc:
        raise SourceBuildError("pause_source: cannot read %s/main.go (%s)" % (source, exc.strerror))


def _pause_current(directory: str, stamp: str) -> bool:
    try:
        with open(os.path.join(directory, PAUSE_STAMP), encoding="utf-8") as f:
            return f.read() == stamp and os.path.exists(os.path.join(directory, "pause"))
    except OSError:
        return False


def plan(cache: str, v: Versions | None = None, only: Iterable[str] | str | None = None,
         pause_source: str | None = None) -> Plan:
    """Which binaries of ``v`` (the default set, or ``only`` these) are missing from ``cache``. Reads only."""
    v = v or Versions()
    v.validate()
    wanted_names = parse_only(only)
    cache = os.path.abspath(cache)
    targets = []
    for recipe in recipes(v):
        if wanted_names is None:
            wanted = list(recipe.packages) if recipe.default else []
        else:
            wanted = [b for b in recipe.packages if b in wanted_names]
        if not wanted:
            continue
        directory = os.path.join(cache, "bin", recipe.directory_name)
        if recipe.component == "pause":
            if not pause_source:
                raise SourceBuildError("pause_source: the directory of the pause program's Go source is required "
                                       "to build pause (roles/offline_bundle/files/pause in this collection)")
            missing = [] if _pause_current(directory, pause_stamp(pause_source, recipe.version)) else ["pause"]
        else:
            missing = [b for b in wanted if not os.path.exists(os.path.join(directory, b))]
        targets.append(Target(recipe, directory, wanted, missing))
    return Plan(cache, targets, os.path.abspath(pause_source) if pause_source else None)


# --- building -------------------------------------------------------------


def go_env(cache: str, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    flags = env.get("GOFLAGS", "-mod=mod").replace("-buildvcs=false", "").strip()
    env["GOFLAGS"] = (flags + " -buildvcs=false").strip()
    env["CGO_ENABLED"] = "0"
    env.setdefault("GOMODCACHE", os.path.join(cache, "gomod"))
    env.setdefault("GOCACHE", os.path.join(cache, "gobuild"))
    env["GOTOOLCHAIN"] = "local"
    return env


def find_go(env: dict[str, str]) -> str:
    """Path of ``go``, checked to be recent enough; GoNotFound with the one-line fix otherwise."""
    go = shutil.which("go", path=env.get("PATH", os.defpath))
    if not go:
        raise GoNotFound(GO_MISSING)
    try:
        out = subprocess.run([go, "env", "GOVERSION"], env=env, capture_output=True, text=True, check=True,
                             timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise GoNotFound("go: %s does not run (%s); install Go >= %d.%d or use offline_bundle_source: download"
                         % ((go, exc) + GO_MINIMUM))
    match = re.match(r"go(\d+)\.(\d+)", out)
    if match and (int(match.group(1)), int(match.group(2))) < GO_MINIMUM:
        raise GoNotFound("go: %s is %s, older than %d.%d; install Go >= %d.%d or use offline_bundle_source: download"
                         % ((go, out) + GO_MINIMUM + GO_MINIMUM))
    return go


def _run(argv: list[str], cwd: str, env: dict[str, str], tick: Callable[[], None] | None = None) -> str:
    """Run a go command, output captured, calling ``tick`` every HEARTBEAT seconds while it runs;
    failure names the command and shows its last lines."""
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        while True:
            try:
                out, err = proc.communicate(timeout=HEARTBEAT)
                break
            except subprocess.TimeoutExpired:
                if tick:
                    tick()
    if proc.returncode != 0:
        tail = "\n".join((out + err).strip().splitlines()[-25:])
        raise SourceBuildError("%s failed (exit %d) in %s:\n%s" % (" ".join(argv), proc.returncode, cwd, tail))
    return out


def local_replaces(gomod: str) -> list[str]:
    """Module paths that an upstream go.mod replaces with a local directory."""
    return re.findall(r"^\s*(\S+)\s+=>\s+\./?\.?\.?/\S+\s*$", gomod, flags=re.M)


def upstream_gomod(go: str, module: str, version: str, env: dict[str, str]) -> str:
    out = _run([go, "mod", "download", "-json", "%s@%s" % (module, version)], "/", env)
    info = json.loads(out)
    if info.get("Error"):
        raise SourceBuildError("cannot download %s@%s: %s" % (module, version, info["Error"]))
    with open(info["GoMod"], encoding="utf-8") as f:
        return f.read()


def module_text(name: str, requires: dict[str, str], replaces: dict[str, str]) -> str:
    lines = ["module kamaji.local/%s" % name, "", "go %d.%d" % GO_MINIMUM, "", "require ("]
    lines += ["\t%s %s" % (m, v) for m, v in sorted(requires.items())]
    lines.append(")")
    if replaces:
        lines += ["", "replace ("]
        lines += ["\t%s => %s %s" % (m, m, v) for m, v in sorted(replaces.items())]
        lines.append(")")
    return "\n".join(lines) + "\n"


def write_module(workdir: str, name: str, requires: dict[str, str], replaces: dict[str, str]) -> None:
    """The generated module's go.mod; kept when its head is unchanged (go adds indirect requires to it)."""
    os.makedirs(workdir, exist_ok=True)
    text = module_text(name, requires, replaces)
    path = os.path.join(workdir, "go.mod")
    try:
        with open(path, encoding="utf-8") as f:
            old: str | None = f.read()
    except FileNotFoundError:
        old = None
    if old is None or not old.startswith(text.split("require (", maxsplit=1)[0]):
        atomic_write(path, text, 0o644)


def _prepare(go: str, p: Plan, target: Target, env: dict[str, str]) -> str:
    """The directory to run ``go build`` in."""
    recipe = target.recipe
    if recipe.component == "pause":
        if p.pause_source is None:  # plan() refuses pause without it
            raise SourceBuildError("pause_source: required to build pause")
        return p.pause_source
    workdir = os.path.join(p.cache, "src", "%s-%s" % (recipe.component, recipe.version))
    replaces: dict[str, str] = {}
    if recipe.replaces_from:
        gomod = upstream_gomod(go, recipe.replaces_from, recipe.version, env)
        staging = "v0." + recipe.version.lstrip("v").split(".", 1)[1]
        replaces = {m: staging for m in local_replaces(gomod)}
    write_module(workdir, recipe.component, {m: recipe.version for m in recipe.modules}, replaces)
    return workdir


def find_cc(env: dict[str, str]) -> str:
    """The C compiler cgo uses (``CC``, else ``cc``/``gcc``); SourceBuildError with the fix otherwise."""
    path = env.get("PATH", os.defpath)
    for name in ([env["CC"]] if env.get("CC") else ["cc", "gcc"]):
        found = shutil.which(name.split()[0], path=path)
        if found:
            return found
    raise SourceBuildError(CC_MISSING)


def find_library(library: Library, component: str, env: dict[str, str]) -> None:
    """A C library ``component`` links (``pkg-config --exists``); SourceBuildError with the fix otherwise."""
    pkg_config = shutil.which("pkg-config", path=env.get("PATH", os.defpath))
    found = pkg_config and subprocess.run([pkg_config, "--exists", library.name], env=env, capture_output=True,
                                          check=False).returncode == 0
    if not found:
        raise SourceBuildError(LIBRARY_MISSING.format(name=library.name, component=component,
                                                      purpose=library.purpose, package=library.package))


def build_argv(go: str, recipe: Recipe, binary: str, output: str) -> list[str]:
    """The ``go build`` command of one binary."""
    argv = [go, "build", "-trimpath"]
    tags = recipe.build_tags(binary)
    if tags:
        argv += ["-tags", tags]
    return argv + ["-ldflags", recipe.ldflags, "-o", output, recipe.packages[binary]]


def _build_one(go: str, target: Target, binary: str, cwd: str, env: dict[str, str], started: Progress,
               progress: ProgressCallback | None) -> None:
    """``go build`` one binary to a temporary name, renamed into place when complete."""
    began = time.monotonic()

    def report(state: str) -> None:
        if progress:
            spent = time.monotonic() - began
            progress(replace(started, state=state, seconds=spent, elapsed=started.elapsed + spent))

    report("start")
    # per process: two builds of the same cache (a test beside `make binaries`) never share a temporary file
    tmp = os.path.join(target.directory, ".%s.%d.tmp" % (binary, os.getpid()))
    try:
        _run(build_argv(go, target.recipe, binary, tmp), cwd, env, lambda: report("running"))
        os.replace(tmp, os.path.join(target.directory, binary))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    report("done")


def build(p: Plan, progress: ProgressCallback | None = None, env: dict[str, str] | None = None) -> list[str]:
    """Build every binary the plan says is missing; returns them, in build order.

    Each binary is written to a temporary name and renamed into place when complete, so an
    interrupted build leaves nothing that a later plan would take for done.
    """
    todo = p.missing
    if not todo:
        return []
    env = go_env(p.cache, env)
    go = find_go(env)
    if any(t.recipe.cgo and t.missing for t in p.targets):
        find_cc(env)
    for target in p.targets:
        for library in target.recipe.libraries if target.missing else ():
            find_library(library, target.component, env)
    start = time.monotonic()
    built: list[str] = []
    for target in p.targets:
        if not target.missing:
            continue
        recipe = target.recipe
        recipe_env = dict(env, CGO_ENABLED="1") if recipe.cgo else env
        cwd = _prepare(go, p, target, recipe_env)
        os.makedirs(target.directory, exist_ok=True)
        for binary in target.missing:
            started = Progress(recipe.component, recipe.version, binary, len(built) + 1, len(todo),
                               time.monotonic() - start)
            _build_one(go, target, binary, cwd, recipe_env, started, progress)
            built.append(binary)
        if recipe.component == "pause":
            atomic_write(os.path.join(target.directory, PAUSE_STAMP), pause_stamp(cwd, recipe.version), 0o644)
    return built
