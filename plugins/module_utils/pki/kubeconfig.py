# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Render and parse single-cluster kubeconfig files with embedded credentials."""

from __future__ import annotations

import base64
import json
from typing import Any

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False


class KubeconfigError(Exception):
    pass


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def render_kubeconfig(cluster: str, server: str, ca_pem: str, user: str, client_cert_pem: str,
                      client_key_pem: str) -> str:
    """A kubeconfig as YAML text, byte-stable for the same inputs."""
    context = "%s@%s" % (user, cluster)
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: %(cluster)s\n"
        "  cluster:\n"
        "    certificate-authority-data: %(ca)s\n"
        "    server: %(server)s\n"
        "contexts:\n"
        "- name: %(context)s\n"
        "  context:\n"
        "    cluster: %(cluster)s\n"
        "    user: %(user)s\n"
        "current-context: %(context)s\n"
        "preferences: {}\n"
        "users:\n"
        "- name: %(user)s\n"
        "  user:\n"
        "    client-certificate-data: %(cert)s\n"
        "    client-key-data: %(key)s\n"
    ) % {
        "cluster": json.dumps(cluster),
        "server": json.dumps(server),
        "ca": _b64(ca_pem),
        "context": json.dumps(context),
        "user": json.dumps(user),
        "cert": _b64(client_cert_pem),
        "key": _b64(client_key_pem),
    }


def parse_kubeconfig(text: str) -> dict[str, str]:
    """Pull server, CA and client credentials of the current context."""
    try:
        doc: Any = yaml.safe_load(text) if HAS_YAML else json.loads(text)
    except Exception as exc:
        raise KubeconfigError("not YAML: %s" % exc.__class__.__name__)
    if not isinstance(doc, dict):
        raise KubeconfigError("not a kubeconfig mapping")
    try:
        ctx_name = doc.get("current-context")
        ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
        user = next(u for u in doc["users"] if u["name"] == ctx["user"])
        return {
            "server": str(cluster["server"]),
            "ca": base64.b64decode(cluster["certificate-authority-data"]).decode("ascii"),
            "user": str(user["name"]),
            "client_cert": base64.b64decode(user["user"]["client-certificate-data"]).decode("ascii"),
            "client_key": base64.b64decode(user["user"]["client-key-data"]).decode("ascii"),
        }
    except (KeyError, StopIteration, TypeError, ValueError, AttributeError) as exc:
        raise KubeconfigError("missing or invalid field (%s)" % exc.__class__.__name__)
