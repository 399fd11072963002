# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  endpoints:
    description:
      - Client URLs of the etcd members (C(https://host:2379)). They are tried in order;
        the first one that answers serves the call, so one stopped member does not stop it.
    type: list
    elements: str
    required: true
  ca_cert:
    description: Path of the etcd CA certificate (PEM) that signed the members' server certificates.
    type: path
    required: true
  client_cert:
    description:
      - Path of the client certificate (PEM). With client-cert auth its common name is the
        etcd user; user, role and auth management need the C(root) user's certificate.
    type: path
    required: true
  client_key:
    description: Path of the client certificate's private key (PEM).
    type: path
    required: true
  timeout:
    description: Seconds to wait for each etcd request.
    type: float
    default: 5.0
requirements:
  - etcd3 == 0.12 (with protobuf < 4)
  - grpcio
"""
