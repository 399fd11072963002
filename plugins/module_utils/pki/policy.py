# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""The validity and renewal rules every PKI set follows: one check, one set of messages."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils.pki.x509 import KEY_ALGORITHMS, PKIError

DEFAULT_KEY_ALGORITHM = "ecdsa-p256"
DEFAULT_CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 365
DEFAULT_RENEWAL_DAYS = 30


@dataclass(frozen=True)
class Policy:
    """Algorithm of new keys, lifetimes, and how early a leaf is renewed."""

    key_algorithm: str = DEFAULT_KEY_ALGORITHM
    ca_days: int = DEFAULT_CA_DAYS
    leaf_days: int = DEFAULT_LEAF_DAYS
    renew_days: int = DEFAULT_RENEWAL_DAYS

    @property
    def renew_before(self) -> datetime.timedelta:
        return datetime.timedelta(days=self.renew_days)


def _days(params: Mapping[str, Any], field: str, default: int) -> int:
    value = params.get(field)
    if value is None:
        return default
    if isinstance(value, bool):
        raise PKIError("%s: %r is not a number of days" % (field, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PKIError("%s: %r is not a number of days" % (field, value))


def validity(params: Mapping[str, Any]) -> Policy:
    """The policy from the options ``key_algorithm``, ``ca_validity_days``, ``leaf_validity_days``
    and ``renewal_window_days`` (None means the default); errors name the option."""
    algorithm = params.get("key_algorithm") or DEFAULT_KEY_ALGORITHM
    if algorithm not in KEY_ALGORITHMS:
        raise PKIError("key_algorithm: must be one of %s" % ", ".join(KEY_ALGORITHMS))
    ca_days = _days(params, "ca_validity_days", DEFAULT_CA_DAYS)
    leaf_days = _days(params, "leaf_validity_days", DEFAULT_LEAF_DAYS)
    renew_days = _days(params, "renewal_window_days", DEFAULT_RENEWAL_DAYS)
    if leaf_days < 1 or ca_days < 1:
        raise PKIError("ca_validity_days / leaf_validity_days: must be at least 1")
    if renew_days < 0 or renew_days >= leaf_days:
        raise PKIError("renewal_window_days: must be between 0 and leaf_validity_days - 1 (%d), otherwise "
                       "every run re-issues every certificate" % (leaf_days - 1))
    return Policy(algorithm, ca_days, leaf_days, renew_days)
