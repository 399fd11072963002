"""The site marker (kube-system/kamaji-site) on a fixture admin cluster, written the way the
admin_cluster role writes it: through that role's site_marker entry point."""
from __future__ import annotations

import os
import pathlib

from harness.runner import run_playbook

MARKER_TASK = "Site marker in the admin cluster (kube-system/kamaji-site, read by the tenants play)"


def mark_site(kubeconfig: str, etcd_pki_dir: str, workdir: str | os.PathLike) -> None:
    """Run kamaji.core.admin_cluster's site_marker tasks against ``kubeconfig``, recording the
    etcd CA in ``etcd_pki_dir``/ca.crt (read on the controller); raise when it fails."""
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "site marker", "ansible.builtin.include_role": {
            "name": "kamaji.core.admin_cluster", "tasks_from": "site_marker"}}],
        "vars": {"admin_cluster_kubeconfig": kubeconfig, "admin_cluster_etcd_ca_host": "localhost",
                 "admin_cluster_etcd_pki_dir": etcd_pki_dir}}]
    path = pathlib.Path(workdir)
    path.mkdir(parents=True, exist_ok=True)
    res = run_playbook(play, path)
    if res.rc != 0:
        raise RuntimeError("the site marker could not be written:\n" + res.failed_tasks())
