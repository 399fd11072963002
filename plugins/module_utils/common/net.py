# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""Network names, addresses and ports: the one rule set every wing validates with.

Every check raises ``InvalidValue`` (or the error class the caller passes) with a
message that starts with the field, so a domain error reads like its own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any, Union

# RFC 1123 host names: labels of letters, digits and '-', at most 63 characters each,
# 253 in all. Underscores are allowed where a caller says so (etcd member names and some
# internal DNS zones use them), a leading "*." where wildcard certificates are wanted.
_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_LABEL_UNDERSCORE = r"[a-z0-9](?:[-a-z0-9_]{0,61}[a-z0-9])?"
DNS1123_LABEL = re.compile(r"^%s$" % _LABEL)
MAX_DNS_NAME = 253

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]  # noqa: UP007 - evaluated at import
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007 - evaluated at import


class InvalidValue(ValueError):
    """A field holds a value no rule accepts; the message starts with the field."""


def _dns_re(wildcard: bool, underscore: bool) -> re.Pattern[str]:
    label = _LABEL_UNDERSCORE if underscore else _LABEL
    return re.compile(r"^%s%s(?:\.%s)*$" % (r"(?:\*\.)?" if wildcard else "", label, label))


_DNS = {(w, u): _dns_re(w, u) for w in (False, True) for u in (False, True)}


def ip(value: object) -> IPAddress | None:
    """The IP address ``value`` spells (IPv6 may be bracketed), else None."""
    try:
        return ipaddress.ip_address(str(value).strip().strip("[]"))
    except ValueError:
        return None


def is_dns_name(value: object, wildcard: bool = False, underscore: bool = False) -> bool:
    text = str(value).strip().lower()
    return 0 < len(text) <= MAX_DNS_NAME and bool(_DNS[(wildcard, underscore)].match(text))


def is_host(value: object, wildcard: bool = False, underscore: bool = False) -> bool:
    """True for an IP address or a DNS name."""
    return ip(value) is not None or is_dns_name(value, wildcard, underscore)


def host(value: object, field: str, wildcard: bool = False, underscore: bool = False,
         error: type[Exception] = InvalidValue) -> str:
    """``value`` as a host (IP address in its canonical form, DNS name in lower case)."""
    text = str(value if value is not None else "").strip()
    address = ip(text)
    if address is not None:
        return str(address)
    if is_dns_name(text, wildcard, underscore):
        return text.lower()
    raise error("%s: %r is neither an IP address nor a DNS name" % (field, text))


def dns_label(value: object, field: str, max_length: int = 63, error: type[Exception] = InvalidValue) -> str:
    """``value`` as a DNS-1123 label of at most ``max_length`` characters."""
    if not isinstance(value, str) or len(value) > max_length or not DNS1123_LABEL.match(value):
        raise error("%s: %r must be a DNS-1123 label of at most %d characters (lower-case letters, digits, "
                    "'-'; starting and ending alphanumeric)" % (field, value, max_length))
    return value


def port(value: object, field: str, low: int = 1, high: int = 65535, error: type[Exception] = InvalidValue) -> int:
    """``value`` as a TCP port in [low, high]; booleans and text are refused."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise error("%s: %r is not a TCP port (%d-%d)" % (field, value, low, high))
    return value


def network(value: object, field: str, error: type[Exception] = InvalidValue) -> IPNetwork:
    """``value`` as a network written with its network address and prefix."""
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        raise error("%s: %r is not a network address with prefix, e.g. 10.96.0.0/16 (%s)" % (field, value, exc))


def url_host(address: str) -> str:
    """``address`` as it stands in a URL: IPv6 in brackets."""
    parsed = ip(address)
    return "[%s]" % parsed if parsed is not None and parsed.version == 6 else address


def https_url(address: str, port_number: int) -> str:
    return "https://%s:%d" % (url_host(address), port_number)


def host_urls(hosts: Iterable[str], hostvars: Mapping[str, Any], port_number: int,
              address_var: str | None = None) -> list[str]:
    """``https://<address>:<port>`` of inventory hosts, in order: each host's ``address_var``,
    else its ``ansible_host``, else its name."""
    out = []
    for name in hosts:
        host_vars = hostvars.get(name) or {}
        address = (host_vars.get(address_var) if address_var else None) or host_vars.get("ansible_host") or name
        out.append("https://%s:%d" % (url_host(str(address)), int(port_number)))
    return out


def sort_key(address: IPAddress) -> tuple[int, int]:
    return address.version, int(address)


def split_names(names: object) -> tuple[list[str], list[IPAddress]]:
    """Split SAN-like strings into sorted, de-duplicated (DNS names, IP addresses)."""
    dns: set[str] = set()
    ips: set[IPAddress] = set()
    for name in names or ():  # type: ignore[attr-defined]
        if name is None or str(name).strip() == "":
            continue
        address = ip(name)
        if address is not None:
            ips.add(address)
        else:
            dns.add(str(name).strip().lower())
    return sorted(dns), sorted(ips, key=sort_key)
