"""The kamaji.core.tenants inventory plugin without an admin cluster: its connection rules
(module_utils.common.kubeapi) and what ansible-inventory says when it cannot connect.
Reading a real admin cluster: tests/integration/test_tenants_inventory.py."""
from __future__ import annotations

import socket

import pytest
from harness.runner import run_inventory

from ansible_collections.kamaji.core.plugins.module_utils.common import kubeapi


@pytest.fixture
def files(tmp_path):
    out = {}
    for name in ("admin.conf", "ca.crt", "client.crt", "client.key"):
        out[name] = str(tmp_path / name)
        (tmp_path / name).write_text("x\n")
    return out


def test_a_kubeconfig_and_its_context(files):
    conn = kubeapi.connection({"kubeconfig": files["admin.conf"], "context": "site-a"})
    assert (conn.kubeconfig, conn.context, conn.host, conn.validate_certs) == (files["admin.conf"], "site-a", None, True)
    assert conn.describe() == "kubeconfig %s (context site-a)" % files["admin.conf"]


def test_the_default_kubeconfig_only_without_host(files):
    conn = kubeapi.connection({"context": None}, default_kubeconfig=files["admin.conf"])
    assert conn.kubeconfig == files["admin.conf"]
    with pytest.raises(kubeapi.KubeError) as err:
        kubeapi.connection({}, default_kubeconfig="/nonexistent/kamaji-admin.conf")
    assert str(err.value).startswith(
        "no admin cluster to read: kubeconfig (K8S_AUTH_KUBECONFIG) is not set and the default "
        "/nonexistent/kamaji-admin.conf is not a file; set kubeconfig (K8S_AUTH_KUBECONFIG) to the admin cluster's "
        "kubeconfig, or host (K8S_AUTH_HOST) with api_key (K8S_AUTH_API_KEY)"), str(err.value)


def test_the_awx_variables_token_or_client_certificate(files):
    token = kubeapi.connection({"host": "https://10.0.0.1:6443/", "api_key": "s3cret", "ca_cert": files["ca.crt"],
                                "validate_certs": False}, default_kubeconfig=files["admin.conf"])
    assert (token.host, token.api_key, token.ca_cert, token.kubeconfig) == (
        "https://10.0.0.1:6443", "s3cret", files["ca.crt"], None)
    assert token.validate_certs is False
    assert "s3cret" not in repr(token) and "s3cret" not in token.describe()
    cert = kubeapi.connection({"host": "https://10.0.0.1:6443", "client_cert": files["client.crt"],
                               "client_key": files["client.key"]})
    assert (cert.client_cert, cert.client_key, cert.api_key, cert.validate_certs) == (
        files["client.crt"], files["client.key"], None, True)


@pytest.mark.parametrize(("options", "message"), [
    ({"kubeconfig": "ADMIN", "host": "https://h:6443", "api_key": "t"},
     "kubeconfig (K8S_AUTH_KUBECONFIG) and host (K8S_AUTH_HOST), api_key (K8S_AUTH_API_KEY) are both set: connect "
     "one way"),
    ({"kubeconfig": "ADMIN", "ca_cert": "CA"}, "kubeconfig (K8S_AUTH_KUBECONFIG) and ca_cert (K8S_AUTH_SSL_CA_CERT) are "
     "both set"),
    ({"kubeconfig": "/nonexistent/admin.conf"}, "kubeconfig (K8S_AUTH_KUBECONFIG): /nonexistent/admin.conf is not a file"),
    ({"api_key": "t"}, "api_key (K8S_AUTH_API_KEY) set without host (K8S_AUTH_HOST)"),
    ({"host": "https://h:6443"}, "host (K8S_AUTH_HOST): no credentials for it: set api_key (K8S_AUTH_API_KEY) (a bearer "
     "token) or client_cert (K8S_AUTH_CERT_FILE) and client_key (K8S_AUTH_KEY_FILE) (a client certificate)"),
    ({"host": "https://h:6443", "client_cert": "CERT"}, "client_key (K8S_AUTH_KEY_FILE): required with client_cert "
     "(K8S_AUTH_CERT_FILE)"),
    ({"host": "https://h:6443", "api_key": "t", "ca_cert": "/nonexistent/ca.crt"},
     "ca_cert (K8S_AUTH_SSL_CA_CERT): /nonexistent/ca.crt is not a file"),
    ({"host": "h:6443", "api_key": "t"}, "host (K8S_AUTH_HOST): 'h:6443' must be an https:// URL"),
])
def test_a_connection_that_cannot_work_is_refused_naming_the_option(files, options, message):
    names = {"ADMIN": files["admin.conf"], "CA": files["ca.crt"], "CERT": files["client.crt"]}
    options = {k: names.get(v, v) for k, v in options.items()}
    with pytest.raises(kubeapi.KubeError) as err:
        kubeapi.connection(options, default_kubeconfig=files["admin.conf"])
    assert str(err.value).startswith(message), str(err.value)


def test_http_errors_say_what_to_fix():
    token = kubeapi.Connection(host="https://h:6443", api_key="t")
    assert kubeapi.explain(401, "Unauthorized", token) == (
        "host https://h:6443 refused the credentials (401 Unauthorized): the token or certificate is not valid there; "
        "check api_key (K8S_AUTH_API_KEY) or client_cert (K8S_AUTH_CERT_FILE)/client_key (K8S_AUTH_KEY_FILE)")
    assert kubeapi.explain(403, "Forbidden", token).endswith(
        "may not list ConfigMaps in all namespaces (403 Forbidden); bind them to a ClusterRole allowing get and list "
        "on configmaps")
    assert kubeapi.explain(0, "SSLError\ncertificate verify failed", token) == (
        "host https://h:6443: SSLError: certificate verify failed; check ca_cert (K8S_AUTH_SSL_CA_CERT) and "
        "validate_certs (K8S_AUTH_VERIFY_SSL)")


# ------------------------------------------------------------------ the plugin through ansible-inventory

def _inventory(tmp_path, config, env=None, name="tenants.kamaji.yml"):
    path = tmp_path / name
    path.write_text(config)
    return run_inventory(tmp_path, path, env={"HOME": str(tmp_path), **(env or {})})


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_plugin_fails_naming_the_option_and_the_fix(tmp_path):
    missing = _inventory(tmp_path, "plugin: kamaji.core.tenants\n")
    assert missing.returncode != 0
    flat = " ".join(missing.stderr.split())
    assert ("no admin cluster to read: kubeconfig (K8S_AUTH_KUBECONFIG) is not set and the default "
            "~/.kube/kamaji-admin.conf is not a file") in flat, missing.stderr
    both = _inventory(tmp_path, "plugin: kamaji.core.tenants\nkubeconfig: %s\n" % (tmp_path / "tenants.kamaji.yml"),
                      env={"K8S_AUTH_HOST": "https://127.0.0.1:1", "K8S_AUTH_API_KEY": "t"})
    assert both.returncode != 0
    assert "kubeconfig (K8S_AUTH_KUBECONFIG) and host (K8S_AUTH_HOST), api_key (K8S_AUTH_API_KEY) are both set" in \
        " ".join(both.stderr.split()), both.stderr
    assert " t " not in both.stderr  # the token is never shown


def test_the_plugin_says_when_the_admin_cluster_does_not_answer(tmp_path):
    port = _closed_port()
    res = _inventory(tmp_path, "plugin: kamaji.core.tenants\n",
                     env={"K8S_AUTH_HOST": "https://127.0.0.1:%d" % port, "K8S_AUTH_API_KEY": "t"})
    assert res.returncode != 0
    flat = " ".join(res.stderr.split())
    assert "host https://127.0.0.1:%d: cannot reach https://127.0.0.1:%d" % (port, port) in flat, res.stderr


def test_the_plugin_only_takes_its_own_file_names(tmp_path):
    res = _inventory(tmp_path, "plugin: kamaji.core.tenants\n", name="tenants.yml")
    assert res.returncode != 0
    assert "could not be verified by inventory plugin 'kamaji.core.tenants'" in " ".join(res.stderr.split()), res.stderr
