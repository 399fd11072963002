"""The offline bundles the test tiers install from, defined once.

- ``site``: this release and the previous minor's (the e2e lab installs from it, the sample's
  acme runs the previous minor; the integration tier's offline-bundle tests read it);
- ``site-older``: the same Kubernetes releases with the previous etcd and containerd releases
  (the e2e site is deployed with it, then the upgrade moves it to ``site``).

Each is built by the offline_bundle playbook into the cache, keyed by its releases (warm: one
no-op run of the playbook). ``python tests/harness/bundles.py`` builds them all, one after
the other: ``make test`` runs it before the integration and e2e tiers run side by side, so
that no two builds of one component race in the cache. What it built is recorded in
``.build/test-bundles.json`` by the playbook variables that made it: a tier that finds its
bundle there (and the bundle's manifest) does not run the playbook again.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: the harness and the collection importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from harness import loader

    loader.install()

from ansible_collections.kamaji.core.plugins.module_utils import versions
from harness.paths import BUILD, CACHE, REPO
from harness.runner import run_playbook

PLAYBOOK = os.path.join(REPO, "playbooks", "offline_bundle.yml")
NAMES = ("site", "site-older")
# the older Kubernetes releases the e2e bundles hold too
OLDER_RELEASES = [versions.KUBERNETES_OLDER[0]]
RECORD = os.path.join(BUILD, "test-bundles.json")


class BundleError(Exception):
    """The playbook failed; the message holds the end of its output."""


def playbook_vars(name: str) -> dict:
    """The offline_bundle playbook's variables for bundle ``name`` (its directory left to the
    role's default, keyed by the releases, except for ``site-older``: see :func:`build`)."""
    if name == "site":
        return {"offline_bundle_source": "source", "offline_bundle_cache_dir": CACHE,
                "offline_bundle_kube_older_versions": OLDER_RELEASES}
    if name == "site-older":
        return {**playbook_vars("site"), "offline_bundle_etcd_version": versions.ETCD_OLDER,
                "offline_bundle_containerd_version": versions.CONTAINERD_OLDER}
    raise ValueError(f"no test bundle {name!r}; one of {', '.join(NAMES)}")


def _record() -> dict[str, str]:
    try:
        with open(RECORD, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def build(name: str, tmp: Path, fresh: bool = False) -> str:
    """Build (or find) bundle ``name``; returns its directory. ``fresh``: run the playbook even
    when the record knows the bundle (it then checks the bundle and rebuilds what differs)."""
    ev = playbook_vars(name)
    if name == "site-older":
        # beside the site bundle, named by what differs (the role's default key names only
        # Kubernetes and etcd)
        site = build("site", tmp)  # (recorded by now when fresh)
        ev["offline_bundle_dir"] = (site.rstrip("/").replace(f"-etcd-{versions.ETCD}", f"-etcd-{versions.ETCD_OLDER}")
                                    + "-containerd-" + versions.CONTAINERD_OLDER)
    key = json.dumps(ev, sort_keys=True)
    known = _record().get(key)
    if known and not fresh and os.path.exists(os.path.join(known, "manifest.json")):
        return known
    work = tmp / name
    work.mkdir(parents=True, exist_ok=True)
    res = run_playbook(PLAYBOOK, work, ev)
    if res.rc != 0:
        raise BundleError(f"the offline bundle {name!r} could not be built:\n{res.failed_tasks() or res.stdout[-3000:]}")
    path = res.task("Write manifest.json")["invocation"]["module_args"]["path"]
    record = _record()
    record[key] = path
    os.makedirs(BUILD, exist_ok=True)
    with open(RECORD + ".tmp", "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    os.replace(RECORD + ".tmp", RECORD)
    return path


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kamaji-bundles-") as tmp:
        for name in NAMES:
            start = time.monotonic()
            print(f"bundles: {name} ...", flush=True)
            try:
                path = build(name, Path(tmp), fresh=True)
            except BundleError as e:
                print(f"bundles: FAILED: {e}", flush=True)
                return 1
            print(f"bundles: {name} at {path} in {time.monotonic() - start:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
