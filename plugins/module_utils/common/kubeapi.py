# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""A Kubernetes API connection for controller-side readers (the inventory plugin).

Two ways in, never mixed: a kubeconfig file (and context), or the variables AWX's Kubernetes
credential injects: ``K8S_AUTH_HOST`` with ``K8S_AUTH_API_KEY`` (a bearer token) or
``K8S_AUTH_CERT_FILE`` and ``K8S_AUTH_KEY_FILE`` (a client certificate), ``K8S_AUTH_SSL_CA_CERT``
and ``K8S_AUTH_VERIFY_SSL``. ``connection`` checks the options (each error names the option,
its variable and the fix); ``list_objects`` reads through the ``kubernetes`` client, and
every failure comes back as ``KubeError`` saying what to check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.common.deps import Dependency

KUBERNETES = Dependency("kubernetes")  # its package imports client and config
URLLIB3 = Dependency("urllib3")  # the client's transport: its connection errors
# option -> the environment variable that sets it (kubernetes.core's names, which AWX injects)
ENV = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
}
HOST_OPTIONS = ("host", "api_key", "ca_cert", "client_cert", "client_key")
TIMEOUT = 30  # seconds, per request


class KubeError(Exception):
    """A connection that cannot be made or a read that failed; the message says what to check."""


def named(option: str) -> str:
    """``host (K8S_AUTH_HOST)``: an option as a user may have set it."""
    return "%s (%s)" % (option, ENV[option]) if option in ENV else option


@dataclass(frozen=True)
class Connection:
    """Where and how to reach the API server (``connection``'s result)."""

    kubeconfig: str | None = None
    context: str | None = None
    host: str | None = None
    api_key: str | None = field(default=None, repr=False)
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    validate_certs: bool = True

    def describe(self) -> str:
        """Where the connection leads, for messages (never the token)."""
        if self.host:
            return "host %s" % self.host
        return "kubeconfig %s%s" % (self.kubeconfig, " (context %s)" % self.context if self.context else "")


def _file(options: Mapping[str, Any], option: str) -> str | None:
    value = options.get(option)
    if not value:
        return None
    path = os.path.expanduser(str(value))
    if not os.path.isfile(path):
        raise KubeError("%s: %s is not a file" % (named(option), value))
    return path


def connection(options: Mapping[str, Any], default_kubeconfig: str | None = None) -> Connection:
    """The connection the options ask for. ``kubeconfig`` (with ``context``) and the ``host``
    options are two ways in: setting both is refused, naming what was set. With neither,
    ``default_kubeconfig``."""
    given = [o for o in HOST_OPTIONS if options.get(o)]
    validate = options.get("validate_certs")
    validate = True if validate is None else bool(validate)
    if options.get("kubeconfig"):
        if given:
            raise KubeError("%s and %s are both set: connect one way, either the kubeconfig file or the host "
                            "with its credentials (AWX's Kubernetes credential sets the K8S_AUTH_ variables); "
                            "unset one" % (named("kubeconfig"), ", ".join(named(o) for o in given)))
        return Connection(kubeconfig=_file(options, "kubeconfig"), context=options.get("context") or None,
                          validate_certs=validate)
    if not options.get("host"):
        if given:
            raise KubeError("%s set without %s: set the API server's URL too, or use a kubeconfig instead"
                            % (", ".join(named(o) for o in given), named("host")))
        if not default_kubeconfig or not os.path.isfile(os.path.expanduser(default_kubeconfig)):
            raise KubeError(
                "no admin cluster to read: %s is not set and the default %s is not a file; set %s to the admin "
                "cluster's kubeconfig, or %s with %s (or %s and %s), as AWX's Kubernetes credential does"
                % (named("kubeconfig"), default_kubeconfig, named("kubeconfig"), named("host"), named("api_key"),
                   named("client_cert"), named("client_key")))
        return Connection(kubeconfig=os.path.expanduser(default_kubeconfig), context=options.get("context") or None,
                          validate_certs=validate)
    cert, key = _file(options, "client_cert"), _file(options, "client_key")
    if bool(cert) != bool(key):
        missing = "client_key" if cert else "client_cert"
        raise KubeError("%s: required with %s (a client certificate needs its key)"
                        % (named(missing), named("client_key" if missing == "client_cert" else "client_cert")))
    if not options.get("api_key") and not cert:
        raise KubeError("%s: no credentials for it: set %s (a bearer token) or %s and %s (a client certificate)"
                        % (named("host"), named("api_key"), named("client_cert"), named("client_key")))
    if not str(options["host"]).startswith("https://"):
        raise KubeError("%s: %r must be an https:// URL of the admin cluster's API server"
                        % (named("host"), options["host"]))
    return Connection(host=str(options["host"]).rstrip("/"), api_key=options.get("api_key") or None,
                      ca_cert=_file(options, "ca_cert"), client_cert=cert, client_key=key, validate_certs=validate)


def explain(status: int, reason: str, conn: Connection) -> str:
    """What an HTTP error from the API server means for the reader, and the fix."""
    if status == 401:
        return ("%s refused the credentials (401 %s): the token or certificate is not valid there; check %s"
                % (conn.describe(), reason, "the kubeconfig's user" if conn.kubeconfig else
                   "%s or %s/%s" % (named("api_key"), named("client_cert"), named("client_key"))))
    if status == 403:
        return ("%s: the credentials may not list ConfigMaps in all namespaces (403 %s); bind them to a "
                "ClusterRole allowing get and list on configmaps" % (conn.describe(), reason))
    if status == 0:  # the client's own failures, TLS first
        return ("%s: %s; check %s and %s" % (conn.describe(), reason.strip().replace("\n", ": "),
                                             named("ca_cert") if conn.host else "the kubeconfig's cluster CA",
                                             named("validate_certs")))
    return "%s: the API server answered %d %s" % (conn.describe(), status, reason)


def api_client(conn: Connection) -> Any:
    """A ``kubernetes`` ApiClient for ``conn`` (the library must be there: ``KUBERNETES.ok``);
    KubeError when the kubeconfig cannot be used."""
    k8s = KUBERNETES.module
    if conn.kubeconfig:
        try:
            client = k8s.config.new_client_from_config(config_file=conn.kubeconfig, context=conn.context,
                                                       persist_config=False)
        except (k8s.config.ConfigException, ValueError, KeyError, OSError) as exc:
            raise KubeError("%s: %s is not a usable kubeconfig (%s); check %s and %s"
                            % (named("kubeconfig"), conn.kubeconfig, exc, named("kubeconfig"), named("context")))
        if not conn.validate_certs:
            client.configuration.verify_ssl = False
        return client
    config = k8s.client.Configuration()
    config.host = conn.host
    config.verify_ssl = conn.validate_certs
    config.ssl_ca_cert = conn.ca_cert
    config.cert_file = conn.client_cert
    config.key_file = conn.client_key
    if conn.api_key:
        config.api_key = {"authorization": conn.api_key}
        config.api_key_prefix = {"authorization": "Bearer"}
    return k8s.client.ApiClient(configuration=config)


def list_objects(conn: Connection, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The ``items`` of a list call (``path``: e.g. ``/api/v1/configmaps``), as plain dicts;
    KubeError saying what failed and what to check."""
    k8s = KUBERNETES.module
    client = api_client(conn)
    where = client.configuration.host
    try:
        response = client.call_api(path, "GET", query_params=list((params or {}).items()),
                                   header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
                                   _preload_content=False, _request_timeout=TIMEOUT)
        body = json.loads(response[0].data)
    except k8s.client.exceptions.ApiException as exc:
        raise KubeError(explain(int(exc.status or 0), str(exc.reason or ""), conn))
    except ValueError as exc:
        raise KubeError("%s: the answer to GET %s is not JSON (%s)" % (where, path, exc))
    except (URLLIB3.module.exceptions.HTTPError, OSError) as exc:  # refused, timed out, no such name
        cause = getattr(exc, "reason", None) or exc  # urllib3 wraps the last failure of its retries
        if isinstance(cause, URLLIB3.module.exceptions.SSLError):
            raise KubeError(explain(0, "%s: %s" % (type(cause).__name__, cause), conn))
        raise KubeError("%s: cannot reach %s (%s: %s); check that it is the admin cluster's API server and "
                        "that it answers from here" % (conn.describe(), where, type(cause).__name__, cause))
    finally:
        client.close()
    return list(body.get("items") or [])
