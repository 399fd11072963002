# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The one tail every etcd module shares.

A module declares its own options and a ``work(module, client)`` function returning its
result; ``main`` does the rest: the connection options merged in (with their environment
fallbacks), the missing-library guard, the connection, etcd errors turned into a clean
``fail_json``, and ``exit_json``::

    def main():
        module.main(ARGUMENT_SPEC, work, required_if=[...])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kamaji.core.plugins.module_utils.common.deps import require
from ansible_collections.kamaji.core.plugins.module_utils.etcd.client import (
    ETCD3,
    GRPC,
    Client,
    connection_argument_spec,
)
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import EtcdError, connection_facts

Work = Callable[[AnsibleModule, Client], dict[str, Any]]
Validate = Callable[[AnsibleModule], None]


def argument_spec(options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The module's own options plus the connection options."""
    spec = connection_argument_spec()
    spec.update(options)
    return spec


def new_module(options: dict[str, dict[str, Any]], **kwargs: Any) -> AnsibleModule:
    """The AnsibleModule (check mode always supported), failed cleanly without etcd3/grpcio."""
    module = AnsibleModule(argument_spec=argument_spec(options), supports_check_mode=True, **kwargs)
    require(module, GRPC, ETCD3)
    return module


def _fail(module: AnsibleModule, **result: Any) -> NoReturn:
    module.fail_json(**result)
    raise AssertionError("fail_json returned")  # pragma: no cover


def connect(module: AnsibleModule) -> Client:
    p = module.params
    try:
        return Client(p["endpoints"], p["ca_cert"], p["client_cert"], p["client_key"], p["timeout"])
    except EtcdError as exc:
        _fail(module, msg=str(exc))


def run(module: AnsibleModule, work: Work) -> dict[str, Any]:
    """Connect, call ``work(module, client)``; etcd errors fail the module, naming the endpoint."""
    client = connect(module)
    try:
        return connection_facts(work(module, client), client.endpoint, client.down)
    except EtcdError as exc:
        _fail(module, msg=str(exc), endpoint=client.endpoint, unreachable_endpoints=client.down)
    finally:
        client.close()


def main(options: dict[str, dict[str, Any]], work: Work, validate: Validate | None = None,
         **module_kwargs: Any) -> None:
    """The whole life of an etcd module. ``validate(module)`` runs before connecting: it
    raises ``EtcdError`` for bad input, so nothing is contacted, let alone changed.
    A result holding ``failed`` (a bulk call with failed items) fails the module."""
    module = new_module(options, **module_kwargs)
    if validate is not None:
        try:
            validate(module)
        except EtcdError as exc:
            _fail(module, msg=str(exc))
    result = run(module, work)
    if result.get("failed"):
        _fail(module, **result)
    module.exit_json(**result)
