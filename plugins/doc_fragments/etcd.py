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
      - If not set, the environment variable E(KAMAJI_ETCD_ENDPOINTS) is used
        (comma-separated URLs).
    type: list
    elements: str
    required: true
  ca_cert:
    description:
      - The etcd CA certificate that signed the members' server certificates, either the
        path of a PEM file or the PEM content itself (a value holding C(-----BEGIN) is
        taken as content).
      - If not set, the environment variable E(KAMAJI_ETCD_CA_CERT) is used (a path or PEM content).
    type: str
    required: true
  client_cert:
    description:
      - The client certificate, as a PEM file path or PEM content. With client-cert auth its
        common name is the etcd user; user, role and auth management need the C(root) user's
        certificate.
      - If not set, the environment variable E(KAMAJI_ETCD_CLIENT_CERT) is used (a path or PEM content).
    type: str
    required: true
  client_key:
    description:
      - The client certificate's private key, as a PEM file path or PEM content. Inline
        content lets a play pass the key it read (for example with M(ansible.builtin.slurp))
        without writing it to a file on the controller.
      - If not set, the environment variable E(KAMAJI_ETCD_CLIENT_KEY) is used (a path or PEM content).
      - Never logged.
    type: str
    required: true
  timeout:
    description:
      - Seconds to wait for each etcd request.
      - If not set, the environment variable E(KAMAJI_ETCD_TIMEOUT) is used, else V(5.0).
    type: float
    default: 5.0
attributes:
  action_group:
    description:
      - Use C(group/kamaji.core.etcd) in C(module_defaults) to set the connection options once
        for every etcd module of a play, block or task.
    support: full
    membership:
      - kamaji.core.etcd
requirements:
  - etcd3 == 0.12 (its schema only; any protobuf from 3.20 on)
  - grpcio
"""
