"""source_build: the plan (what is missing from the cache), the missing-go error, the build
orchestration against a fake `go`, and the module through real ansible-playbook. No real Go build."""
from __future__ import annotations

import os
import stat
import sys

import pytest
from harness.paths import REPO
from harness.runner import run_playbook

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.bundle import source_build as sb

PAUSE_SOURCE = os.path.join(REPO, "roles", "offline_bundle", "files", "pause")
# what a plan without only= builds: not the container runtime (built, not yet installed by the roles)
ALL = list(sb.DEFAULT_BINARIES)
RUNTIME = {"containerd": (versions.CONTAINERD, ["containerd", "containerd-shim-runc-v2", "ctr"]),
           "runc": (versions.RUNC, ["runc"]),
           "cni-plugins": (versions.CNI_PLUGINS, ["bridge", "host-local", "loopback", "portmap"])}
RUNTIME_ONLY = ",".join(b for _v, binaries in RUNTIME.values() for b in binaries)


def other(version):
    """Another version of the same shape: the next patch release."""
    head, patch = version.rsplit(".", 1)
    return "%s.%d" % (head, int(patch) + 1)


def _dir(cache, component, version):
    # runc's directory names its variant: a runc built without seccomp is another binary
    return cache / "bin" / (f"{component}-{version}" + ("+seccomp" if component == "runc" else ""))


def fill(cache, only=None, pause_source=PAUSE_SOURCE):
    """Pre-create every (selected) binary as an empty file, pause with its stamp: a warm cache."""
    p = sb.plan(str(cache), only=only, pause_source=pause_source)
    for path in p.paths.values():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()
    if "pause" in p.paths:
        (_dir(cache, "pause", versions.PAUSE) / sb.PAUSE_STAMP).write_text(sb.pause_stamp(pause_source, versions.PAUSE))
    return p


def test_empty_cache_misses_everything_in_build_order(tmp_path):
    p = sb.plan(str(tmp_path), pause_source=PAUSE_SOURCE)
    assert p.missing == ALL and p.changed
    assert not set(p.paths) & set(sb.RUNTIME_BINARIES), "the container runtime is built only when named"
    assert [t.component for t in p.targets] == ["etcd", "kubernetes", "coredns", "pause"]
    assert p.paths["kube-apiserver"] == str(_dir(tmp_path, "kubernetes", versions.KUBERNETES) / "kube-apiserver")
    assert p.directories["etcd"] == str(_dir(tmp_path, "etcd", versions.ETCD))
    assert not (tmp_path / "bin").exists(), "plan reads only"


def test_cached_binaries_are_not_planned(tmp_path):
    fill(tmp_path)
    assert sb.plan(str(tmp_path), pause_source=PAUSE_SOURCE).missing == []
    os.unlink(_dir(tmp_path, "etcd", versions.ETCD) / "etcdutl")
    os.unlink(_dir(tmp_path, "kubernetes", versions.KUBERNETES) / "kubelet")
    p = sb.plan(str(tmp_path), pause_source=PAUSE_SOURCE)
    assert p.missing == ["etcdutl", "kubelet"]
    # cache keyed by version: another Kubernetes version is missing whole
    other = sb.plan(str(tmp_path), sb.Versions(kubernetes=versions.KUBERNETES_OLDER[0]), pause_source=PAUSE_SOURCE)
    assert other.missing == ["etcdutl", *sb.KUBE_COMMANDS]


def test_only_selects_binaries(tmp_path):
    fill(tmp_path, only=["etcd"])
    p = sb.plan(str(tmp_path), only="etcd,kubectl,kube-apiserver")
    assert p.missing == ["kube-apiserver", "kubectl"]
    assert sorted(p.paths) == ["etcd", "kube-apiserver", "kubectl"]
    assert [t.component for t in p.targets] == ["etcd", "kubernetes"]
    assert sb.plan(str(tmp_path), only=["etcd"]).missing == []
    # empty: everything
    assert sb.plan(str(tmp_path), only="", pause_source=PAUSE_SOURCE).missing == [b for b in ALL if b != "etcd"]
    with pytest.raises(sb.SourceBuildError, match="only: unknown binaries kube-dns, nope; known: etcd, etcdctl"):
        sb.plan(str(tmp_path), only="nope,etcd,kube-dns")


def test_pause_is_current_only_with_its_stamp(tmp_path, tmp_path_factory):
    pause_dir = _dir(tmp_path, "pause", versions.PAUSE)
    pause_dir.mkdir(parents=True)
    (pause_dir / "pause").write_bytes(b"")
    assert sb.plan(str(tmp_path), only="pause", pause_source=PAUSE_SOURCE).missing == ["pause"], "no stamp"
    (pause_dir / sb.PAUSE_STAMP).write_text(sb.pause_stamp(PAUSE_SOURCE, versions.PAUSE))
    assert sb.plan(str(tmp_path), only="pause", pause_source=PAUSE_SOURCE).missing == []
    # the stamp is of the source and the version: a change of either rebuilds
    (pause_dir / sb.PAUSE_STAMP).write_text(sb.pause_stamp(PAUSE_SOURCE, "3.9"))
    assert sb.plan(str(tmp_path), only="pause", pause_source=PAUSE_SOURCE).missing == ["pause"]
    (pause_dir / sb.PAUSE_STAMP).write_text(sb.pause_stamp(PAUSE_SOURCE, versions.PAUSE))
    edited = tmp_path_factory.mktemp("pause-src")
    (edited / "main.go").write_text(open(os.path.join(PAUSE_SOURCE, "main.go")).read() + "\n// edited\n")
    assert sb.plan(str(tmp_path), only="pause", pause_source=str(edited)).missing == ["pause"]
    # the stamp without the binary is not enough
    (pause_dir / "pause").unlink()
    assert sb.plan(str(tmp_path), only="pause", pause_source=PAUSE_SOURCE).missing == ["pause"]


def test_pause_needs_its_source(tmp_path):
    with pytest.raises(sb.SourceBuildError, match="pause_source: the directory of the pause program's Go source"):
        sb.plan(str(tmp_path))
    with pytest.raises(sb.SourceBuildError, match=r"pause_source: cannot read .*/main.go"):
        sb.plan(str(tmp_path), only="pause", pause_source=str(tmp_path / "nope"))
    assert sb.plan(str(tmp_path), only="etcd").missing == ["etcd"]


@pytest.mark.parametrize("field,value", [("kubernetes", "1.37.2"), ("etcd", "v1.37.2"), ("coredns", "latest"),
                                         ("pause", "v3.10"), ("containerd", "v1.7.28"), ("runc", "1.5.3"),
                                         ("cni_plugins", "latest")])
def test_bad_versions_are_refused_naming_them(tmp_path, field, value):
    with pytest.raises(sb.SourceBuildError, match="%s version: '%s' is not a version" % (field, value)):
        sb.plan(str(tmp_path), sb.Versions(**{field: value}), pause_source=PAUSE_SOURCE)


def test_missing_go_is_one_clear_line(tmp_path):
    p = sb.plan(str(tmp_path), only="etcd")
    with pytest.raises(sb.GoNotFound) as exc:
        sb.build(p, env={"PATH": str(tmp_path / "empty")})
    assert str(exc.value) == ("go: not found on PATH; install Go >= 1.26 (the Go toolchain) "
                              "or use offline_bundle_source: download")
    assert not (tmp_path / "bin").exists()


def test_nothing_missing_needs_no_go(tmp_path):
    fill(tmp_path, only=["etcd", "kubectl"])
    assert sb.build(sb.plan(str(tmp_path), only="etcd,kubectl"), env={"PATH": str(tmp_path / "empty")}) == []


FAKE_GO = """#!/bin/sh
# a stand-in for go: `env GOVERSION`, `mod download -json`, `build ... -o OUT PKG`
case "$1" in
  env) echo "${FAKE_GOVERSION:-go1.26.0}" ;;
  mod) printf '{"GoMod": "%s"}\\n' "$FAKE_GOMOD" ;;
  build)
    [ -n "$FAKE_GO_LOG" ] && echo "CGO_ENABLED=$CGO_ENABLED $*" >> "$FAKE_GO_LOG"
    while [ $# -gt 1 ]; do [ "$1" = -o ] && out="$2"; shift; done
    [ "$1" = "$FAKE_GO_FAIL" ] && { echo "compile error in $1" >&2; exit 2; }
    echo "built $1 in $(pwd)" > "$out" ;;
esac
"""


@pytest.fixture
def fake_go(tmp_path):
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    go = bindir / "go"
    go.write_text(FAKE_GO)
    go.chmod(go.stat().st_mode | stat.S_IEXEC)
    # pkg-config that finds every library unless FAKE_NO_LIBS is set
    pkg_config = bindir / "pkg-config"
    pkg_config.write_text('#!/bin/sh\n[ -z "$FAKE_NO_LIBS" ]\n')
    pkg_config.chmod(pkg_config.stat().st_mode | stat.S_IEXEC)
    gomod = tmp_path / "upstream.mod"
    gomod.write_text("module k8s.io/kubernetes\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n"
                     "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n)\n")
    return {"PATH": f"{bindir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin", "FAKE_GOMOD": str(gomod),
            "GOCACHE": str(tmp_path / "gocache"), "GOMODCACHE": str(tmp_path / "gomod")}


def test_build_reports_progress_and_writes_into_the_cache(tmp_path, fake_go):
    cache = tmp_path / "cache"
    fill(cache, only=["etcd", "etcdctl"])
    p = sb.plan(str(cache), only="etcd,etcdctl,kube-apiserver,kubectl,pause", pause_source=PAUSE_SOURCE)
    events = []
    built = sb.build(p, events.append, env=fake_go)
    assert built == ["kube-apiserver", "kubectl", "pause"]
    assert [(e.binary, e.n, e.m, e.state) for e in events] == [
        ("kube-apiserver", 1, 3, "start"), ("kube-apiserver", 1, 3, "done"), ("kubectl", 2, 3, "start"),
        ("kubectl", 2, 3, "done"), ("pause", 3, 3, "start"), ("pause", 3, 3, "done")]
    assert events[1].line().startswith(f"kubernetes {versions.KUBERNETES}: built kube-apiserver (1 of 3) in ")
    kube = _dir(cache, "kubernetes", versions.KUBERNETES)
    assert (kube / "kubectl").read_text().startswith("built k8s.io/kubernetes/cmd/kubectl")
    assert not [n for n in os.listdir(kube) if n.startswith(".")], "no temporary left"
    # the generated module pins the staging modules to the published v0.<minor>.<patch>
    gomod = (cache / "src" / f"kubernetes-{versions.KUBERNETES}" / "go.mod").read_text()
    staging = "v0." + versions.KUBERNETES.split(".", 1)[1]
    assert f"\tk8s.io/kubernetes {versions.KUBERNETES}\n" in gomod
    assert f"\tk8s.io/api => k8s.io/api {staging}\n" in gomod and "client-go => k8s.io/client-go" in gomod
    # pause is built in its source directory, and stamped
    assert (_dir(cache, "pause", versions.PAUSE) / "pause").read_text() == f"built . in {PAUSE_SOURCE}\n"
    assert sb.plan(str(cache), only="etcd,etcdctl,kube-apiserver,kubectl,pause", pause_source=PAUSE_SOURCE).missing == []


def test_a_failed_build_names_the_command_and_leaves_nothing(tmp_path, fake_go):
    p = sb.plan(str(tmp_path), only="etcd,etcdctl")
    with pytest.raises(sb.SourceBuildError, match=r"go build .* go.etcd.io/etcd/etcdctl/v3 failed \(exit 2\)"
                                                  r"[^\n]*:\ncompile error in go.etcd.io/etcd/etcdctl/v3"):
        sb.build(p, env=dict(fake_go, FAKE_GO_FAIL="go.etcd.io/etcd/etcdctl/v3"))
    assert sorted(os.listdir(_dir(tmp_path, "etcd", versions.ETCD))) == ["etcd"]


def test_an_old_go_is_refused(tmp_path, fake_go):
    with pytest.raises(sb.GoNotFound, match=r"is go1\.24\.3, older than 1\.26; install Go >= 1\.26"):
        sb.build(sb.plan(str(tmp_path), only="etcd"), env=dict(fake_go, FAKE_GOVERSION="go1.24.3"))


def test_heartbeat_while_a_binary_builds(tmp_path, fake_go, monkeypatch):
    slow = tmp_path / "fakebin" / "go"
    slow.write_text(FAKE_GO.replace("  build)\n", "  build)\n    sleep 0.5\n"))
    monkeypatch.setattr(sb, "HEARTBEAT", 0.2)
    events = []
    sb.build(sb.plan(str(tmp_path), only="etcd"), events.append, env=fake_go)
    states = [e.state for e in events]
    assert states[0] == "start" and states[-1] == "done" and "running" in states
    running = next(e for e in events if e.state == "running")
    assert running.line().startswith(f"etcd {versions.ETCD}: still building etcd (1 of 1), ")


def test_runtime_plan_with_only(tmp_path):
    p = sb.plan(str(tmp_path), only=RUNTIME_ONLY)
    assert [t.component for t in p.targets] == ["containerd", "runc", "cni-plugins"]
    assert p.missing == list(sb.RUNTIME_BINARIES) == RUNTIME_ONLY.split(",")
    for component, (version, binaries) in RUNTIME.items():
        assert p.directories[component] == str(_dir(tmp_path, component, version))
        for b in binaries:
            assert p.paths[b] == str(_dir(tmp_path, component, version) / b)
    # one of them, and a cached one is not planned
    fill(tmp_path, only=["runc"])
    assert sb.plan(str(tmp_path), only="runc,bridge").missing == ["bridge"]
    assert sb.plan(str(tmp_path), sb.Versions(runc=other(versions.RUNC)), only="runc").missing == ["runc"]


def test_runtime_recipes_packages_tags_and_ldflags():
    v = sb.Versions()
    recipes = {r.component: r for r in sb.recipes(v)}
    containerd, runc, cni = recipes["containerd"], recipes["runc"], recipes["cni-plugins"]
    assert containerd.packages == {c: "github.com/containerd/containerd/v2/cmd/" + c
                                   for c in ("containerd", "containerd-shim-runc-v2", "ctr")}
    assert containerd.modules == ("github.com/containerd/containerd/v2",) and not containerd.cgo
    assert "-X github.com/containerd/containerd/v2/version.Version=%s" % versions.CONTAINERD in containerd.ldflags
    assert containerd.build_tags("containerd") == "urfave_cli_no_docs"
    assert containerd.build_tags("containerd-shim-runc-v2") == "urfave_cli_no_docs,no_grpc"
    assert runc.packages == {"runc": "github.com/opencontainers/runc"} and runc.cgo
    assert "seccomp" in runc.build_tags("runc").split(",") and "-extldflags -static" in runc.ldflags
    assert runc.libraries == (sb.LIBSECCOMP,) and runc.directory_name == f"runc-{versions.RUNC}+seccomp"
    assert cni.packages == {"bridge": "github.com/containernetworking/plugins/plugins/main/bridge",
                            "host-local": "github.com/containernetworking/plugins/plugins/ipam/host-local",
                            "loopback": "github.com/containernetworking/plugins/plugins/main/loopback",
                            "portmap": "github.com/containernetworking/plugins/plugins/meta/portmap"}
    assert cni.ldflags.endswith("-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=%s"
                                % versions.CNI_PLUGINS)
    assert not any(r.default for r in (containerd, runc, cni)) and not any(r.cgo for r in recipes.values() if r != runc)
    assert [r.component for r in sb.recipes(v) if r.default] == list(sb.DEFAULT_COMPONENTS)
    assert [r.component for r in sb.recipes(v)] == list(sb.COMPONENTS)
    # another version is stamped as that version
    bumped = other(versions.CONTAINERD)
    recipe = {r.component: r for r in sb.recipes(sb.Versions(containerd=bumped))}["containerd"]
    assert "version.Version=%s " % bumped in recipe.ldflags


def test_runtime_build_runs_runc_with_cgo_and_the_rest_without(tmp_path, fake_go):
    log = tmp_path / "go.log"
    cache = tmp_path / "cache"
    built = sb.build(sb.plan(str(cache), only=RUNTIME_ONLY), env=dict(fake_go, FAKE_GO_LOG=str(log)))
    assert built == list(sb.RUNTIME_BINARIES)
    calls = {line.split()[-1]: line for line in log.read_text().splitlines()}
    runc = calls["github.com/opencontainers/runc"]
    assert runc.startswith("CGO_ENABLED=1 build -trimpath -tags urfave_cli_no_docs,seccomp,netgo,osusergo -ldflags ")
    for pkg, line in calls.items():
        if pkg != "github.com/opencontainers/runc":
            assert line.startswith("CGO_ENABLED=0 "), line
    shim = calls["github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"]
    assert " -tags urfave_cli_no_docs,no_grpc " in shim and "version.Version=%s" % versions.CONTAINERD in shim
    assert "buildversion.BuildVersion=%s" % versions.CNI_PLUGINS in calls[
        "github.com/containernetworking/plugins/plugins/main/bridge"]
    # each component in its own generated module, requiring the upstream module at its version
    gomod = (cache / "src" / f"runc-{versions.RUNC}" / "go.mod").read_text()
    assert f"\tgithub.com/opencontainers/runc {versions.RUNC}\n" in gomod and "replace" not in gomod
    assert (_dir(cache, "cni-plugins", versions.CNI_PLUGINS) / "portmap").read_text().startswith(
        "built github.com/containernetworking/plugins/plugins/meta/portmap")


def test_runc_without_a_c_compiler_is_one_line_before_any_build(tmp_path, fake_go):
    p = sb.plan(str(tmp_path), only="bridge,runc")
    nocc = dict(fake_go, PATH="%s:%s" % (tmp_path / "fakebin", tmp_path / "empty"))
    with pytest.raises(sb.SourceBuildError) as exc:
        sb.build(p, env=nocc)
    assert str(exc.value) == sb.CC_MISSING and "apt-get install gcc libc6-dev" in str(exc.value)
    assert not (tmp_path / "bin").exists(), "nothing built"
    # without runc no compiler is needed
    assert sb.build(sb.plan(str(tmp_path), only="bridge"), env=nocc) == ["bridge"]


def test_runc_without_libseccomp_is_one_line_before_any_build(tmp_path, fake_go):
    with pytest.raises(sb.SourceBuildError) as exc:
        sb.build(sb.plan(str(tmp_path), only="loopback,runc"), env=dict(fake_go, FAKE_NO_LIBS="1"))
    assert str(exc.value) == sb.LIBSECCOMP_MISSING and "apt-get install libseccomp-dev pkg-config" in str(exc.value)
    assert not (tmp_path / "bin").exists(), "nothing built"


def test_cli_prints_a_line_per_component(tmp_path):
    import subprocess

    fill(tmp_path)
    out = subprocess.run([sys.executable, os.path.join(REPO, "tools", "build_source.py"), "--cache", str(tmp_path)],
                         capture_output=True, text=True, check=True, env=dict(os.environ, PATH="/usr/bin:/bin")).stdout
    for component, version in (("etcd", versions.ETCD), ("kubernetes", versions.KUBERNETES),
                               ("coredns", versions.COREDNS), ("pause", versions.PAUSE)):
        assert f"{component} {version}: cached in {_dir(tmp_path, component, version)}" in out
    bad = subprocess.run([sys.executable, os.path.join(REPO, "tools", "build_source.py"), "--cache", str(tmp_path),
                          "--only", "kubectl", "--kube-version", "v1.0.1"], capture_output=True, text=True, check=False,
                         env=dict(os.environ, PATH="/usr/bin:/bin"))
    assert bad.returncode == 1 and bad.stderr.strip().endswith(sb.GO_MISSING)


# --- the module -------------------------------------------------------------


def module_play(cache, **args):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.source_build": dict({"cache_dir": str(cache), "pause_source": PAUSE_SOURCE}, **args)}]}]


def test_module_check_mode_builds_nothing(tmp_path):
    cache = tmp_path / "cache"
    fill(cache)
    checked = run_playbook(module_play(cache), tmp_path, check=True)
    assert checked.rc == 0, checked.failed_tasks()
    t = checked.task("t")
    assert t["changed"] is False and t["built"] == []
    assert t["paths"]["etcd"] == str(_dir(cache, "etcd", versions.ETCD) / "etcd")
    assert t["directories"]["pause"] == str(_dir(cache, "pause", versions.PAUSE))
    os.unlink(_dir(cache, "kubernetes", versions.KUBERNETES) / "kubeadm")
    checked = run_playbook(module_play(cache), tmp_path, check=True)
    assert checked.task("t")["changed"] is True and checked.task("t")["built"] == ["kubeadm"]
    assert not (_dir(cache, "kubernetes", versions.KUBERNETES) / "kubeadm").exists()
    # only= and another version: what would be built for it
    older = versions.KUBERNETES_OLDER[0]
    checked = run_playbook(module_play(cache, kubernetes_version=older, only=["kube-apiserver", "etcd"]), tmp_path,
                           check=True)
    assert checked.task("t")["built"] == ["kube-apiserver"]
    assert checked.task("t")["paths"] == {"etcd": str(_dir(cache, "etcd", versions.ETCD) / "etcd"),
                                          "kube-apiserver": str(_dir(cache, "kubernetes", older) / "kube-apiserver")}


def test_module_check_mode_runtime(tmp_path):
    cache = tmp_path / "cache"
    bumped = other(versions.CONTAINERD)
    checked = run_playbook(module_play(cache, only=["containerd", "runc", "bridge"], containerd_version=bumped),
                           tmp_path, check=True)
    assert checked.rc == 0, checked.failed_tasks()
    t = checked.task("t")
    assert t["changed"] is True and t["built"] == ["containerd", "runc", "bridge"]
    assert t["directories"] == {"containerd": str(_dir(cache, "containerd", bumped)),
                                "runc": str(_dir(cache, "runc", versions.RUNC)),
                                "cni-plugins": str(_dir(cache, "cni-plugins", versions.CNI_PLUGINS))}
    bad = run_playbook(module_play(cache, only=["runc"], runc_version="1.5"), tmp_path, check=True)
    assert bad.rc != 0 and bad.task("t")["msg"].startswith("runc version: '1.5' is not a version")


def test_module_run_rerun_and_errors(tmp_path, fake_go):
    cache = tmp_path / "cache"
    fill(cache)
    os.unlink(_dir(cache, "coredns", versions.COREDNS) / "coredns")
    ran = run_playbook(module_play(cache), tmp_path, env=fake_go)
    assert ran.rc == 0, ran.failed_tasks()
    assert ran.task("t")["changed"] is True and ran.task("t")["built"] == ["coredns"]
    assert ran.task("t")["log"][0].startswith(f"coredns {versions.COREDNS}: built coredns (1 of 1) in ")
    again = run_playbook(module_play(cache), tmp_path, env=fake_go)
    assert again.task("t")["changed"] is False and again.task("t")["built"] == []
    # no go: one line, nothing changed
    os.unlink(_dir(cache, "coredns", versions.COREDNS) / "coredns")
    nogo = run_playbook(module_play(cache), tmp_path, env={"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"})
    assert nogo.rc != 0 and nogo.task("t")["msg"] == sb.GO_MISSING
    # bad input names the option
    bad = run_playbook(module_play(cache, only=["kube-dns"]), tmp_path)
    assert bad.rc != 0 and "only" in bad.task("t")["msg"] and "kube-dns" in bad.task("t")["msg"]
    bad = run_playbook(module_play(cache, etcd_version="3.7"), tmp_path, check=True)
    assert bad.rc != 0 and bad.task("t")["msg"].startswith("etcd version: '3.7' is not a version")
    bad = run_playbook([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "t", "kamaji.core.source_build": {"cache_dir": str(cache)}}]}], tmp_path, check=True)
    assert bad.rc != 0 and bad.task("t")["msg"].startswith("pause_source: ")
