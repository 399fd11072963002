# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Pull one image from an OCI distribution registry into an OCI archive (download mode).

Only what the offline bundle needs: anonymous (or bearer-token) pulls, manifest lists and
OCI indexes resolved to one platform, every blob verified against its digest, registry
mirrors (pull ``registry.k8s.io/pause:3.10.2`` from ``https://mirror.example`` and keep the
upstream name in the archive). The archive is the same OCI layout ``oci_image`` writes,
loadable with ``ctr -n k8s.io images import``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url

from ansible_collections.kamaji.core.plugins.module_utils.bundle import oci
from ansible_collections.kamaji.core.plugins.module_utils.common.files import sha256_bytes

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = oci.MANIFEST_MEDIA_TYPE
OCI_INDEX = oci.INDEX_MEDIA_TYPE
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
LISTS = (OCI_INDEX, DOCKER_LIST)
REFERENCE = re.compile(r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::\d+)?|localhost(?::\d+)?)/)?"
                       r"(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
                       r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


class RegistryError(Exception):
    pass


def parse_reference(ref: str | None) -> tuple[str, str, str]:
    """'registry.k8s.io/coredns/coredns:v1.14.6' -> ('registry.k8s.io', 'coredns/coredns', 'v1.14.6')."""
    match = REFERENCE.match(ref or "")
    if not match:
        raise RegistryError("reference: %r is not an image reference (registry/repository:tag)" % (ref,))
    registry, repository = match.group("registry"), match.group("repository")
    if registry and "." not in registry and ":" not in registry and registry != "localhost":
        # 'library/busybox' style: the first part was a path component, not a host
        repository = registry + "/" + repository
        registry = None
    registry = registry or "docker.io"
    if registry == "docker.io" and "/" not in repository:
        repository = "library/" + repository
    ref_part = match.group("digest") or match.group("tag") or "latest"
    return registry, repository, ref_part


def base_url(registry: str, mirrors: dict[str, str] | None = None) -> str:
    """The URL the registry is reached at: a mirror when one is configured for it."""
    mirrors = mirrors or {}
    if registry in mirrors:
        return mirrors[registry].rstrip("/")
    if registry == "docker.io":
        return "https://registry-1.docker.io"
    return "https://" + registry


def parse_challenge(header: str | None) -> dict[str, str] | None:
    """'Bearer realm="https://auth",service="reg",scope="repository:x:pull"' -> dict."""
    if not header or not header.lower().startswith("bearer "):
        return None
    return dict(re.findall(r'(\w+)="([^"]*)"', header[len("bearer "):]))


def select_platform(index: dict[str, Any], arch: str, os_name: str = "linux") -> dict[str, Any]:
    """The manifest descriptor of ``os_name/arch`` in a manifest list or OCI index."""
    for desc in index.get("manifests", []):
        platform = desc.get("platform") or {}
        if platform.get("architecture") == arch and platform.get("os") == os_name:
            return desc
    found = ["%s/%s" % ((d.get("platform") or {}).get("os"), (d.get("platform") or {}).get("architecture"))
             for d in index.get("manifests", [])]
    raise RegistryError("architecture: the image has no %s/%s manifest (it has %s)" % (os_name, arch, ", ".join(found)))


class Client:
    def __init__(self, url: str, validate_certs: bool = True, ca_path: str | None = None, timeout: int = 60) -> None:
        self.url = url
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.token: str | None = None

    def _open(self, method: str, path: str, headers: dict[str, str] | None = None, retry_auth: bool = True) -> Any:
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        try:
            return open_url(self.url + path, method=method, headers=headers, validate_certs=self.validate_certs,
                            ca_path=self.ca_path, timeout=self.timeout, follow_redirects="all")
        except HTTPError as exc:
            challenge = parse_challenge(exc.headers.get("WWW-Authenticate", "")) if exc.code == 401 else None
            if challenge and retry_auth and "realm" in challenge:
                self._login(challenge)
                return self._open(method, path, headers, retry_auth=False)
            raise RegistryError("%s %s%s: HTTP %s %s" % (method, self.url, path, exc.code, exc.reason))
        except URLError as exc:
            raise RegistryError("%s %s%s: %s" % (method, self.url, path, exc.reason))

    def _login(self, challenge: dict[str, str]) -> None:
        query = {k: v for k, v in challenge.items() if k in ("service", "scope")}
        url = challenge["realm"] + ("?" + urlencode(query) if query else "")
        try:
            resp = open_url(url, validate_certs=self.validate_certs, ca_path=self.ca_path, timeout=self.timeout)
            data = json.loads(resp.read())
        except (HTTPError, URLError, ValueError) as exc:
            raise RegistryError("token from %s: %s" % (challenge["realm"], exc))
        self.token = data.get("token") or data.get("access_token")
        if not self.token:
            raise RegistryError("token from %s: no token in the answer" % challenge["realm"])

    def manifest(self, repository: str, ref: str) -> tuple[bytes, str, str]:
        resp = self._open("GET", "/v2/%s/manifests/%s" % (repository, ref), {"Accept": ACCEPT})
        body = resp.read()
        media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        doc = json.loads(body)
        media_type = doc.get("mediaType") or media_type
        digest = "sha256:" + sha256_bytes(body)
        if ref.startswith("sha256:") and ref != digest:
            raise RegistryError("manifest %s@%s: content has digest %s" % (repository, ref, digest))
        return body, media_type, digest

    def blob(self, repository: str, digest: str, dest: str) -> int:
        resp = self._open("GET", "/v2/%s/blobs/%s" % (repository, digest))
        sha = hashlib.sha256()
        size = 0
        with open(dest, "wb") as f:
            while True:
                chunk = resp.read(oci.CHUNK)
                if not chunk:
                    break
                sha.update(chunk)
                size += len(chunk)
                f.write(chunk)
        got = "sha256:" + sha.hexdigest()
        if got != digest:
            raise RegistryError("blob %s of %s: downloaded content has digest %s (corrupted or tampered)"
                                % (digest, repository, got))
        return size


def resolve(client: Client, repository: str, ref: str, arch: str) -> tuple[bytes, str, str]:
    """(manifest bytes, media type, digest) of the image for ``arch``."""
    body, media_type, digest = client.manifest(repository, ref)
    if media_type in LISTS:
        desc = select_platform(json.loads(body), arch)
        body, media_type, digest = client.manifest(repository, desc["digest"])
    if media_type not in (OCI_MANIFEST, DOCKER_MANIFEST):
        raise RegistryError("%s:%s: unsupported manifest type %r" % (repository, ref, media_type))
    return body, media_type, digest


def pull(reference: str, dest: str, arch: str = "amd64", mirrors: dict[str, str] | None = None, name: str | None = None,
         validate_certs: bool = True, ca_path: str | None = None, check: bool = False) -> tuple[bool, str]:
    """Pull ``reference`` into the archive ``dest``; returns (changed, manifest digest).

    ``name`` is the image name recorded in the archive (default ``reference``)."""
    registry, repository, ref = parse_reference(reference)
    client = Client(base_url(registry, mirrors), validate_certs, ca_path)
    body, media_type, digest = resolve(client, repository, ref, arch)
    name = name or reference
    have_digest, have_name = oci.archive_manifest_digest(dest) if os.path.exists(dest) else (None, None)
    if have_digest == digest and have_name == name:
        return False, digest
    if check:
        return True, digest
    manifest = json.loads(body)
    directory = os.path.dirname(os.path.abspath(dest))
    with tempfile.TemporaryDirectory(dir=directory, prefix=".pull-") as tmp:
        blobs: oci.Blobs = {digest: body}
        for desc in [manifest["config"]] + manifest.get("layers", []):
            path = os.path.join(tmp, desc["digest"].split(":", 1)[1])
            if desc["digest"] in blobs:
                continue
            client.blob(repository, desc["digest"], path)
            blobs[desc["digest"]] = path
        tag = ref if not ref.startswith("sha256:") else "latest"
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
            "mediaType": media_type, "digest": digest, "size": len(body),
            "platform": {"architecture": arch, "os": "linux"},
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
        }]}
        oci.write_archive(dest, blobs, index)
    return True, digest
