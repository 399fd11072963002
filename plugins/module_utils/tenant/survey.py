# Copyright: kamaji.core contributors
# Apache License 2.0 (see LICENSE)
"""A new tenant from a job's answers (the tenants job template's survey, awx/configure.yml).

Each question sets one variable ``kamaji_new_tenant_<answer>``; ``ANSWERS`` maps the answer to
its field of the spec. ``spec_from_answers`` turns the answers into the raw spec a tenant host
carries (what a typed or empty answer means is decided here: an empty answer leaves the field
to its default, 0 is a number like any other, digits typed on the command line count as a
number), and ``SurveyError`` names the variable and the field when the spec refuses an answer,
so the operator knows which question to answer again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec as tenant_spec

PREFIX = "kamaji_new_tenant_"
# answer -> its path in the spec (name is the tenant host's, not a field of ``tenant``)
ANSWERS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "kubernetes_version": ("kubernetes_version",),
    "replicas": ("replicas",),
    "endpoint_address": ("endpoint", "address"),
    "endpoint_port": ("endpoint", "port"),
}
NUMBERS = ("replicas", "endpoint_port")
DIGITS_RE = re.compile(r"^[0-9]+$")
DONE = "Nothing was changed."


class SurveyError(Exception):
    """An answer the spec refuses; the message starts with the survey's variable and the field
    (``field``: the spec field, as the inventory spells it)."""

    def __init__(self, msg: str, field: str | None = None) -> None:
        super().__init__(msg)
        self.field = field


def variable(answer: str) -> str:
    """The job variable a survey question sets: ``endpoint_port`` -> ``kamaji_new_tenant_endpoint_port``."""
    return PREFIX + answer


def _given(value: object) -> object:
    """An answer as the spec reads it: None when left empty, digits as a number, text trimmed."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        return int(value) if DIGITS_RE.match(value) else value
    return value


def spec_from_answers(answers: Mapping[str, object]) -> dict[str, Any]:
    """The raw spec (``name`` included) of the answers; unknown answers refused."""
    unknown = sorted(set(answers) - set(ANSWERS), key=str)
    if unknown:
        raise SurveyError("%s: not a survey answer (known: %s)" % (
            ", ".join(map(str, unknown)), ", ".join(variable(a) for a in ANSWERS)))
    raw: dict[str, Any] = {}
    for answer, path in ANSWERS.items():
        value = _given(answers.get(answer))
        if answer not in NUMBERS and value is not None:
            value = str(value)
        if value is None and path[0] != "endpoint":
            continue  # its default
        parent = raw
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
        parent[path[-1]] = value
    raw.setdefault("name", "")
    return raw


def answer_of(field: str) -> str | None:
    """The answer behind a spec field of the error (``tenant.endpoint.port`` -> ``endpoint_port``)."""
    path = tuple(field.split(".")[1:]) if field.startswith(tenant_spec.ROOT + ".") else (field,)
    return next((a for a, p in ANSWERS.items() if p == path), None)


def normalized(answers: Mapping[str, object], supported_minors: Iterable[int] = versions.SUPPORTED_MINORS,
               admin_networks: Iterable[str] = ()) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(name, the host's ``tenant`` dict, the normalized spec) of the answers; SurveyError naming
    the variable (and the field) of the answer the spec refuses."""
    raw = spec_from_answers(answers)
    try:
        spec = tenant_spec.normalize(raw, supported_minors, admin_networks)
    except tenant_spec.SpecError as exc:
        field, _sep, why = str(exc).partition(": ")
        answer = answer_of(field)
        shown = tenant_spec.field("name") if field == "name" else field
        where = "%s (%s)" % (variable(answer), shown) if answer else shown
        raise SurveyError("%s: %s. %s" % (where, why.rstrip("."), DONE), shown)
    tenant = {k: v for k, v in raw.items() if k != "name"}
    return spec["name"], tenant, spec
