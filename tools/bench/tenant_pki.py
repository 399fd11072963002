"""Benchmark: the full certificate set of one tenant with kamaji.core.tenant_pki.

Each sample runs the module as its own Python process, exactly as Ansible executes it
on the controller (interpreter start-up, imports, key generation, signing, JSON out),
with no existing material, so every item is generated. Prints the median and spread of
N runs per key algorithm.

    python tools/bench/tenant_pki.py [--runs 20]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    from ansible_collections.kamaji.core.plugins.module_utils.pki import x509 as pki

    key = pki.generate_key("ecdsa-p256")
    etcd_ca = {"cert": pki.cert_to_pem(pki.issue_ca("etcd-ca", key, 3650)), "key": pki.key_to_pem(key)}
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, ".build", "collections"))
    print(f"tenant_pki, full set for one tenant, {args.runs} runs each, module as its own process")
    print(f"{'algorithm':<12} {'median s':>9} {'min s':>7} {'max s':>7}")
    for algorithm in ("ecdsa-p256", "rsa-2048"):
        module_args = {"ANSIBLE_MODULE_ARGS": {
            "name": "bench", "endpoint": {"address": "192.0.2.10", "port": 6443}, "key_algorithm": algorithm,
            "etcd_ca": etcd_ca, "_ansible_check_mode": False}}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(module_args, f)
        samples = []
        for _run in range(args.runs):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "ansible_collections.kamaji.core.plugins.modules.tenant_pki",
                                  f.name], env=env, capture_output=True, text=True, check=False)
            samples.append(time.perf_counter() - start)
            result = json.loads(out.stdout)
            if result.get("failed") or len(result["changed_items"]) != 11:
                print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
                return 1
        os.unlink(f.name)
        print(f"{algorithm:<12} {statistics.median(samples):>9.3f} {min(samples):>7.3f} {max(samples):>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
