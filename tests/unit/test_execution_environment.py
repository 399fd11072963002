# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""What an execution environment learns from the collection: ``ansible-builder introspect`` reads
meta/execution-environment.yml and the files it names, as it does when it builds an EE image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import yaml
from harness.paths import REPO


def _introspect(tmp_path):
    tree = tmp_path / "ansible_collections" / "kamaji"
    tree.mkdir(parents=True)
    (tree / "core").symlink_to(REPO)
    builder = shutil.which("ansible-builder", path=os.path.dirname(sys.executable))
    assert builder, "ansible-builder is missing from the venv (requirements-dev.txt)"
    out = subprocess.run([builder, "introspect", str(tmp_path)], check=True, capture_output=True, text=True).stdout
    return yaml.safe_load(out[out.index("---"):])


def _names(lines):
    return {line.split("#")[0].strip() for line in lines}


def test_an_ee_gets_the_etcd_client_libraries_without_an_old_protobuf(tmp_path):
    deps = _introspect(tmp_path)
    python = _names(deps["python"])
    assert {"etcd3>=0.12,<0.13", "grpcio>=1.27", "kubernetes>=29", "cryptography>=41"} <= python
    protobuf = [req for req in python if req.startswith("protobuf")]
    # an EE that holds other collections gets a current protobuf: the range must let it in
    assert protobuf == ["protobuf>=3.20,<7"]
    assert "openssh-client [platform:dpkg]" in _names(deps["system"])


def test_the_ee_files_ship_in_the_collection_tarball():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as fh:
        ignored = set(yaml.safe_load(fh)["build_ignore"])
    with open(os.path.join(REPO, "meta", "execution-environment.yml"), encoding="utf-8") as fh:
        named = yaml.safe_load(fh)["dependencies"]
    for path in named.values():
        assert os.path.isfile(os.path.join(REPO, path)), path
        assert path not in ignored, path
