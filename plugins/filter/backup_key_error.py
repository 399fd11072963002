# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: backup_key_error
short_description: What is wrong with a tenant backup key, naming the variable
version_added: 0.3.0
description:
  - Checks a backup key the way M(kamaji.core.tenant_backup) does (32 bytes, base64-encoded) and
    returns the message naming O(field), or an empty string when the key is good. A play checks
    it before it reads or changes anything.
options:
  _input:
    description: The key.
    type: str
    required: true
  field:
    description: The variable that holds it, for the message.
    type: str
    required: true
author:
  - kamaji.core maintainers (@kamaji-core)
"""

EXAMPLES = r"""
- name: The backup key is 32 bytes, base64-encoded
  ansible.builtin.assert:
    that: _error | length == 0
    fail_msg: "{{ _error }}"
  vars:
    _error: "{{ tenant_control_plane_backup_key | kamaji.core.backup_key_error('tenant_control_plane_backup_key') }}"
"""

RETURN = r"""
_value:
  description: The message, or an empty string.
  type: str
"""

from collections.abc import Callable

from ansible_collections.kamaji.core.plugins.module_utils.tenant import backup


def backup_key_error(value: object, field: str) -> str:
    try:
        backup.check_key(value, field)
    except backup.BackupError as exc:
        return str(exc)
    return ""


class FilterModule:
    def filters(self) -> dict[str, Callable[..., str]]:
        return {"backup_key_error": backup_key_error}
