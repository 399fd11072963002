"""Reference parsing, mirrors, token challenges and platform selection of module_utils.registry."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.bundle import registry

K, C, P = versions.KUBERNETES, versions.COREDNS, versions.PAUSE


@pytest.mark.parametrize(("ref", "parsed"), [
    ("registry.k8s.io/kube-apiserver:" + K, ("registry.k8s.io", "kube-apiserver", K)),
    ("registry.k8s.io/coredns/coredns:" + C, ("registry.k8s.io", "coredns/coredns", C)),
    ("127.0.0.1:5000/pause:" + P, ("127.0.0.1:5000", "pause", P)),
    ("localhost/pause", ("localhost", "pause", "latest")),
    ("busybox", ("docker.io", "library/busybox", "latest")),
    ("library/busybox:1.36", ("docker.io", "library/busybox", "1.36")),
    ("registry.k8s.io/pause@sha256:" + "a" * 64, ("registry.k8s.io", "pause", "sha256:" + "a" * 64)),
])
def test_parse_reference(ref, parsed):
    assert registry.parse_reference(ref) == parsed


@pytest.mark.parametrize("ref", ["", "Registry.k8s.io/UPPER:tag", "registry.k8s.io/pause:", "a b"])
def test_bad_reference_names_the_field(ref):
    with pytest.raises(registry.RegistryError, match="^reference: "):
        registry.parse_reference(ref)


def test_mirrors_and_defaults():
    assert registry.base_url("registry.k8s.io") == "https://registry.k8s.io"
    assert registry.base_url("docker.io") == "https://registry-1.docker.io"
    assert registry.base_url("registry.k8s.io", {"registry.k8s.io": "http://127.0.0.1:5000/"}) == "http://127.0.0.1:5000"


def test_bearer_challenge():
    header = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:pause:pull"'
    assert registry.parse_challenge(header) == {"realm": "https://auth.example/token", "service": "registry.example",
                                                "scope": "repository:pause:pull"}
    assert registry.parse_challenge('Basic realm="x"') is None


def test_platform_selection():
    index = {"manifests": [{"digest": "a", "platform": {"os": "linux", "architecture": "arm64"}},
                           {"digest": "b", "platform": {"os": "linux", "architecture": "amd64"}}]}
    assert registry.select_platform(index, "amd64")["digest"] == "b"
    with pytest.raises(registry.RegistryError, match="^architecture: the image has no linux/ppc64le manifest"):
        registry.select_platform(index, "ppc64le")
