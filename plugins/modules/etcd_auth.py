#!/usr/bin/python
# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_auth
short_description: Enable or disable etcd authentication safely
version_added: 0.1.0
description:
  - Before enabling auth, makes sure the C(root) user exists (certificate only, no
    password) and holds etcd's built-in C(root) role, so the cluster stays manageable with
    the root client certificate.
author:
  - kamaji.core maintainers (@kamaji-core)
extends_documentation_fragment:
  - kamaji.core.attributes
  - kamaji.core.attributes.diff_full
  - kamaji.core.etcd
options:
  state:
    description: Wanted authentication state.
    type: str
    choices: [enabled, disabled]
    default: enabled
"""

EXAMPLES = r"""
- name: Auth on, root user and role first
  kamaji.core.etcd_auth:
    endpoints: "{{ etcd_endpoints }}"
    ca_cert: /etc/kamaji/etcd/ca.crt
    client_cert: /etc/kamaji/etcd/root.crt
    client_key: /etc/kamaji/etcd/root.key
"""

RETURN = r"""
enabled:
  description: Whether authentication is enabled after the call.
  returned: always
  type: bool
"""

from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.etcd import module as etcd_module
from ansible_collections.kamaji.core.plugins.module_utils.etcd.ops import ensure_auth
from ansible_collections.kamaji.core.plugins.module_utils.etcd.report import with_diff

ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    state=dict(type="str", default="enabled", choices=["enabled", "disabled"]),
)


def work(module: Any, client: Any) -> dict[str, Any]:
    changed, before, after = ensure_auth(client, module.params["state"], module.check_mode)
    return with_diff(dict(changed=changed, enabled=bool(after and after["enabled"])), module._diff, before, after)


def main() -> None:
    etcd_module.main(ARGUMENT_SPEC, work)


if __name__ == "__main__":
    main()
