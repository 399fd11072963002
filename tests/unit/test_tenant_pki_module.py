"""tenant_pki through real ansible-playbook: check mode, run, re-run, diff, errors."""
from __future__ import annotations

from harness.runner import run_playbook


def play(existing_var="existing"):
    return [{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"name": "pki", "kamaji.core.tenant_pki": {
                "name": "acme", "endpoint": {"address": "192.0.2.10", "port": 31443},
                "existing": "{{ %s }}" % existing_var, "etcd_ca": "{{ etcd_ca }}"},
             "register": "out"},
            {"name": "hash", "ansible.builtin.set_fact": {"filter_hash": "{{ out.pki.ca.cert | kamaji.core.ca_cert_hash }}"}},
            {"name": "save", "ansible.builtin.copy": {"content": "{{ out.pki | to_json }}", "dest": "{{ out_file }}", "mode": "0600"},
             "no_log": True},
        ],
    }]


def test_check_mode_then_run_then_rerun(tmp_path, etcd_ca):
    out_file = tmp_path / "pki.json"
    ev = {"existing": {}, "etcd_ca": etcd_ca, "out_file": str(out_file)}
    checked = run_playbook(play(), tmp_path, ev, check=True, diff=True)
    assert checked.rc == 0, checked.stdout[-2000:]
    pki_task = checked.task("pki")
    assert pki_task["changed"] is True
    assert set(pki_task["changed_items"]) >= {"ca", "apiserver", "admin.conf"}
    # the diff and the list of changes carry facts, never key material
    diff_text = str(pki_task["diff"])
    assert "PRIVATE KEY" not in diff_text and "client-key-data" not in diff_text
    assert "CN=kube-apiserver" in diff_text

    first = run_playbook(play(), tmp_path, ev)
    assert first.rc == 0 and first.task("pki")["changed"] is True
    assert first.task("hash")["ansible_facts"]["filter_hash"] == first.task("pki")["ca_cert_hash"]
    import json
    material = json.loads(out_file.read_text())
    assert oct(out_file.stat().st_mode & 0o777) == "0o600"

    ev2 = dict(ev, existing=material)
    second = run_playbook(play(), tmp_path, ev2)
    assert second.rc == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert second.task("pki")["changed"] is False
    assert second.task("pki")["changed_items"] == {}
    assert json.loads(out_file.read_text()) == material
    assert second.changed() == 0


def test_no_key_material_reaches_the_log(tmp_path, etcd_ca):
    """With no_log on the task (as documented) nothing secret is printed, even at -vvv;
    the etcd CA key is masked by the module itself."""
    ev = {"existing": {}, "etcd_ca": etcd_ca, "out_file": str(tmp_path / "x.json")}
    quiet = play()
    quiet[0]["tasks"][0]["no_log"] = True
    res = run_playbook(quiet, tmp_path, ev, args=["-vvv"])
    assert res.rc == 0
    assert "PRIVATE KEY" not in res.stdout + res.stderr
    loud = run_playbook(play(), tmp_path, ev, args=["-vvv"])
    invocation = str(loud.task("pki")["invocation"])
    assert etcd_ca["key"] not in invocation and "PRIVATE KEY" not in invocation


def test_bad_input_fails_with_the_field(tmp_path, etcd_ca):
    ev = {"existing": {}, "etcd_ca": etcd_ca, "out_file": str(tmp_path / "x.json")}
    bad = play()
    bad[0]["tasks"][0]["kamaji.core.tenant_pki"]["service_cidrs"] = ["10.96.0.0/33"]
    res = run_playbook(bad, tmp_path, ev)
    assert res.rc != 0
    assert res.task("pki")["msg"].startswith("service_cidrs:")
    assert not (tmp_path / "x.json").exists()
