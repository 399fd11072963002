"""The admin cluster's certificate report (status playbook): the first kubeadm certificate to
expire on each control-plane node, from `kubeadm certs check-expiration -o json` (a stand-in
kubeadm prints what v1.37's prints), and a node that cannot tell."""
from __future__ import annotations

import json
import os

from harness.runner import run_playbook

OUTPUT = {"kind": "CertificateExpirationInfo", "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
          "certificates": [
              {"name": "admin.conf", "expirationDate": "2027-12-01T10:00:00Z", "residualTime": 364 * 86400 + 5,
               "externallyManaged": False, "caName": "ca", "missing": False},
              {"name": "apiserver", "expirationDate": "2027-11-30T10:00:00Z", "residualTime": 363 * 86400 + 5,
               "externallyManaged": False, "caName": "ca", "missing": False},
              {"name": "external", "expirationDate": "2026-12-05T10:00:00Z", "residualTime": 3 * 86400,
               "externallyManaged": True, "caName": "ca", "missing": False},
              {"name": "etcd-peer", "expirationDate": "0001-01-01T00:00:00Z", "residualTime": 0,
               "externallyManaged": False, "caName": "etcd-ca", "missing": True}],
          "certificateAuthorities": []}


def _kubeadm(path, text, rc=0):
    path.mkdir()
    tool = path / "kubeadm"
    tool.write_text(f"#!/bin/sh\ncat <<'EOF'\n{text}\nEOF\nexit {rc}\n" if rc == 0 else
                    f"#!/bin/sh\necho '{text}' >&2\nexit {rc}\n")
    tool.chmod(0o755)
    return str(path)


def test_the_first_certificate_to_expire_is_reported_per_node(tmp_path):
    good = _kubeadm(tmp_path / "good", json.dumps(OUTPUT))
    bad = _kubeadm(tmp_path / "bad", "error execution phase: no admin.conf", rc=1)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"admin_control_plane": {"hosts": {
        "cp-0": {"ansible_connection": "local", "ansible_env_path": good},
        "cp-1": {"ansible_connection": "local", "ansible_env_path": bad}}}}))
    play = [{"hosts": "admin_control_plane", "gather_facts": False,
             "environment": {"PATH": "{{ ansible_env_path }}:" + os.environ["PATH"]},
             "tasks": [{"name": "report", "ansible.builtin.include_role": {"name": "kamaji.core.admin_cluster",
                                                                           "tasks_from": "certs_report"}}]}]
    res = run_playbook(play, tmp_path, inventory=str(inventory))
    assert res.rc == 0, res.failed_tasks()
    assert res.task("Admin cluster certificates, the first to expire on each control-plane node", host="cp-0")["msg"] == [
        "cp-0: apiserver expires 2027-11-30T10:00:00Z (in 363 days)",
        "cp-1: cannot tell: error execution phase: no admin.conf"]
    assert res.changed("cp-0") == 0 and res.changed("cp-1") == 0
