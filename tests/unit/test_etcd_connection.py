"""Connection options of the etcd modules: paths or inline PEM, environment fallbacks,
and the maintenance logic over a fake client."""
from __future__ import annotations

import os

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd
from ansible_collections.kamaji.core.plugins.module_utils.etcd import maintenance, module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError

CA = "-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def pem_files(tmp_path):
    (tmp_path / "ca.crt").write_text(CA)
    (tmp_path / "root.key").write_text(KEY)
    return tmp_path


def test_inline_and_path_give_the_same_bytes(pem_files):
    from_path = etcd.read_material(str(pem_files / "ca.crt"), "ca_cert")
    assert from_path == CA.encode()
    assert etcd.read_material(CA, "ca_cert") == from_path
    assert etcd.read_material(CA.encode(), "ca_cert") == from_path
    # YAML block scalars may drop the final newline or add blank lines
    assert etcd.read_material("\n" + CA.rstrip("\n"), "ca_cert") == from_path


def test_path_expands_user_and_variables(pem_files, monkeypatch):
    monkeypatch.setenv("HOME", str(pem_files))
    monkeypatch.setenv("KAMAJI_TEST_DIR", str(pem_files))
    assert etcd.read_material("~/root.key", "client_key") == KEY.encode()
    assert etcd.read_material("$KAMAJI_TEST_DIR/root.key", "client_key") == KEY.encode()


def test_inline_detection():
    assert etcd.is_inline(CA) and etcd.is_inline(CA.encode())
    assert not etcd.is_inline("/etc/kamaji/etcd/ca.crt")


@pytest.mark.parametrize("value, expect", [
    ("/nonexistent/root.key", r"^client_key: cannot read /nonexistent/root.key \("),
    ("", "^client_key: give the path of a PEM file or the PEM content itself"),
    (None, "^client_key: give the path"),
    ("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n", "^client_key: the inline PEM content has a -----BEGIN line but no"),
])
def test_bad_material_names_the_field_and_never_the_content(value, expect):
    with pytest.raises(EtcdError, match=expect) as err:
        etcd.read_material(value, "client_key")
    assert "c2VjcmV0" not in str(err.value)


def _validate(params, monkeypatch, env):
    for name in etcd.ENV.values():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ArgumentSpecValidator(module.argument_spec({})).validate(params)


def test_environment_fallbacks(monkeypatch, pem_files):
    result = _validate({}, monkeypatch, {
        "KAMAJI_ETCD_ENDPOINTS": "https://10.0.0.1:2379,https://10.0.0.2:2379",
        "KAMAJI_ETCD_CA_CERT": CA,
        "KAMAJI_ETCD_CLIENT_CERT": str(pem_files / "ca.crt"),
        "KAMAJI_ETCD_CLIENT_KEY": KEY,
        "KAMAJI_ETCD_TIMEOUT": "2.5",
    })
    assert result.error_messages == []
    p = result.validated_parameters
    assert p["endpoints"] == ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
    assert p["timeout"] == 2.5
    assert p["ca_cert"] == CA and p["client_key"] == KEY
    # the key is masked wherever Ansible prints, also when it came from the environment
    assert KEY in result._no_log_values
    assert etcd.read_material(p["client_cert"], "client_cert") == CA.encode()


def test_options_win_over_the_environment(monkeypatch):
    result = _validate({"endpoints": ["https://a:2379"], "ca_cert": "/x/ca.crt", "client_cert": "/x/c.crt",
                        "client_key": "/x/c.key"}, monkeypatch,
                       {"KAMAJI_ETCD_ENDPOINTS": "https://b:2379", "KAMAJI_ETCD_CA_CERT": CA})
    assert result.error_messages == []
    assert result.validated_parameters["endpoints"] == ["https://a:2379"]
    assert result.validated_parameters["ca_cert"] == "/x/ca.crt"
    assert result.validated_parameters["timeout"] == etcd.DEFAULT_TIMEOUT


def test_missing_connection_is_reported(monkeypatch):
    result = _validate({}, monkeypatch, {})
    assert "missing required arguments" in " ".join(result.error_messages)


def test_client_key_is_no_log():
    spec = etcd.connection_argument_spec()
    assert spec["client_key"]["no_log"] is True
    assert all(spec[o].get("fallback") for o in etcd.ENV)


@pytest.mark.parametrize("url, target", [
    ("https://127.0.0.1:2379", "127.0.0.1:2379"),
    ("https://[2001:db8::1]:2379/", "[2001:db8::1]:2379"),
    ("etcd-0.example.test:2379", "etcd-0.example.test:2379"),
])
def test_endpoint_target(url, target):
    assert etcd.Endpoint(url).target == target


@pytest.mark.parametrize("url", ["https://host", "https://bad host:2379", "https://h:99999"])
def test_bad_endpoint(url):
    with pytest.raises(EtcdError, match="^endpoints: "):
        etcd.Endpoint(url)


def test_client_passes_inline_material_to_grpc(monkeypatch, pem_files):
    """Inline PEM reaches grpc's TLS credentials as bytes; no file is written for it."""
    seen = {}
    real = etcd.grpc.ssl_channel_credentials

    def credentials(root_certificates=None, private_key=None, certificate_chain=None):
        seen.update(ca=root_certificates, key=private_key, cert=certificate_chain)
        return real(root_certificates, None, None)

    monkeypatch.setattr(etcd.grpc, "ssl_channel_credentials", credentials)
    before = set(os.listdir(pem_files))
    # the material is no real certificate: gRPC refuses it and the message says what is wrong with it
    with pytest.raises(EtcdError, match="^the TLS connection to etcd failed: ca_cert: inline PEM: holds no PEM "
                                        "certificate") as err:
        etcd.Client(["https://127.0.0.1:1"], CA, str(pem_files / "ca.crt"), KEY, timeout=0.2)
    assert "c2VjcmV0" not in str(err.value)
    assert seen == {"ca": CA.encode(), "key": KEY.encode(), "cert": CA.encode()}
    assert set(os.listdir(pem_files)) == before


class FakeClient:
    def __init__(self, statuses, after_size=10):
        self.statuses = statuses
        self.after_size = after_size
        self.defragmented = []

    def endpoint_status(self):
        return [dict(s, db_size=self.after_size) if s["endpoint"] in self.defragmented else dict(s)
                for s in self.statuses]

    def defragment(self, endpoint):
        self.defragmented.append(endpoint)

    def snapshot(self, f):
        f.write(b"snap" * 1000)


def _status(endpoint, size=100, in_use=40, healthy=True):
    return {"endpoint": endpoint, "healthy": healthy, "db_size": size, "db_size_in_use": in_use}


def test_defragment_one_at_a_time_skipping_compact_members():
    fake = FakeClient([_status("a"), _status("b", in_use=95), _status("c")])
    out = maintenance.defragment(fake, min_free_ratio=0.3)
    assert fake.defragmented == ["a", "c"]
    assert out["changed"] is True
    assert out["defragmented"] == [{"endpoint": "a", "db_size_before": 100, "db_size_after": 10},
                                   {"endpoint": "c", "db_size_before": 100, "db_size_after": 10}]
    assert out["skipped_endpoints"] == [{"endpoint": "b", "reason": "free ratio 0.05 below 0.30"}]


def test_defragment_check_mode_and_unhealthy_member():
    fake = FakeClient([_status("a"), _status("b")])
    assert maintenance.defragment(fake, check=True)["defragmented"] == [
        {"endpoint": "a", "db_size_before": 100}, {"endpoint": "b", "db_size_before": 100}]
    assert fake.defragmented == []
    sick = FakeClient([_status("a"), dict(_status("b", healthy=False), error="timed out")])
    with pytest.raises(EtcdError, match="^defragment: b is not healthy \\(timed out\\)"):
        maintenance.defragment(sick)
    assert sick.defragmented == []


def test_snapshot_is_private_and_atomic(tmp_path):
    dest = tmp_path / "etcd.db"
    assert maintenance.snapshot(FakeClient([]), str(dest), check=True) == {"changed": True}
    assert not dest.exists()
    out = maintenance.snapshot(FakeClient([]), str(dest))
    assert out["size"] == 4000 and len(out["sha256"]) == 64
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    assert os.listdir(tmp_path) == ["etcd.db"]

    class Broken(FakeClient):
        def snapshot(self, f):
            f.write(b"half")
            raise EtcdError("snapshot failed at x: timed out")

    with pytest.raises(EtcdError):
        maintenance.snapshot(Broken([]), str(dest))
    assert dest.read_bytes() == b"snap" * 1000 and os.listdir(tmp_path) == ["etcd.db"]
    with pytest.raises(EtcdError, match="^path: directory .* does not exist"):
        maintenance.snapshot(FakeClient([]), str(tmp_path / "missing" / "etcd.db"))
