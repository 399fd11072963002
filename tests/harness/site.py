"""The site marker (kube-system/kamaji-site) on a fixture admin cluster, written the way the
admin_cluster role writes it: through that role's site_marker entry point."""
from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterator

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


@contextlib.contextmanager
def fixture_site(workdir: str) -> Iterator[tuple]:
    """A 3-member TLS etcd with auth and the admin control plane (kube-apiserver, controller-
    manager, scheduler) under ``workdir``, the admin cluster marked as this site's; yields
    (etcd, kube, etcd_pki_dir) where etcd_pki_dir holds ca.crt/ca.key/root.crt/root.key as the
    tenants play reads them; stops both after. For the benchmarks in tools/bench."""
    from harness.etcd_cluster import EtcdCluster
    from harness.kube_control_plane import KubeControlPlane

    etcd = EtcdCluster(os.path.join(workdir, "etcd")).start()
    kube = None
    try:
        kube = KubeControlPlane(os.path.join(workdir, "admin"), etcd).start()
        pki = etcd.credentials_dir(os.path.join(workdir, "etcd-pki"))
        mark_site(kube.kubeconfig, pki, os.path.join(workdir, "site"))
        yield etcd, kube, pki
    finally:
        if kube is not None:
            kube.stop()
        etcd.stop()
