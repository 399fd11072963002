# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Shared plumbing of the etcd modules: argument spec, connection, error reporting."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kamaji.core.plugins.module_utils.etcd import client as etcd


def etcd_module(argument_spec, **kwargs):
    spec = etcd.connection_argument_spec()
    spec.update(argument_spec)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
    if not etcd.HAS_ETCD3:
        module.fail_json(msg=missing_required_lib("etcd3 (and protobuf<4)"), exception=str(etcd.ETCD3_IMPORT_ERROR))
    return module


def connect(module):
    p = module.params
    try:
        return etcd.Client(p["endpoints"], p["ca_cert"], p["client_cert"], p["client_key"], p["timeout"])
    except etcd.EtcdError as exc:
        module.fail_json(msg=str(exc))


def run(module, fn):
    """Connect, call ``fn(client)`` and turn etcd errors into a clean failure."""
    client = connect(module)
    try:
        result = fn(client)
        result.setdefault("endpoint", client.endpoint)
        if client.down:
            result["unreachable_endpoints"] = client.down
        return result
    except etcd.EtcdError as exc:
        module.fail_json(msg=str(exc), endpoint=client.endpoint, unreachable_endpoints=client.down)
    finally:
        client.close()
