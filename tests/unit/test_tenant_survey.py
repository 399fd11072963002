"""A new tenant from a survey's answers (module_utils/tenant/survey.py, tenant_spec's answers)."""
from __future__ import annotations

import pytest

from ansible_collections.kamaji.core.plugins.module_utils import versions
from ansible_collections.kamaji.core.plugins.module_utils.tenant import survey

OLDER = "v1.%d.0" % versions.SUPPORTED_MINORS[0]


def test_answers_become_the_hosts_tenant_dict_with_numbers_and_zero_kept():
    name, tenant, spec = survey.normalized({"name": " hooli ", "kubernetes_version": OLDER, "replicas": "0",
                                            "endpoint_address": "192.0.2.40", "endpoint_port": "31460"})
    assert name == "hooli"
    assert tenant == {"kubernetes_version": OLDER, "replicas": 0,
                      "endpoint": {"address": "192.0.2.40", "port": 31460}}
    assert spec["replicas"] == 0 and spec["endpoint"]["port"] == 31460


def test_empty_answers_leave_their_fields_to_the_defaults():
    _name, tenant, spec = survey.normalized({"name": "hooli", "kubernetes_version": "", "replicas": None,
                                             "endpoint_address": "192.0.2.40", "endpoint_port": 31460})
    assert tenant == {"endpoint": {"address": "192.0.2.40", "port": 31460}}
    assert spec["kubernetes_version"] == versions.KUBERNETES and spec["replicas"] == 2


@pytest.mark.parametrize(("answers", "message"), [
    ({"name": "Bad_Name"}, "kamaji_new_tenant_name (tenant.name): 'Bad_Name' must be a DNS-1123 label"),
    ({"name": "x", "endpoint_address": "192.0.2.40", "endpoint_port": "x"},
     "kamaji_new_tenant_endpoint_port (tenant.endpoint.port): 'x' is not a TCP port (1-65535). Nothing was changed."),
    ({"name": "x", "endpoint_address": "192.0.2.40", "endpoint_port": 31460, "replicas": "two"},
     "kamaji_new_tenant_replicas (tenant.replicas): "),
    ({"name": "x", "endpoint_port": 31460}, "kamaji_new_tenant_endpoint_address (tenant.endpoint.address): "),
])
def test_a_refused_answer_names_its_variable_and_field(answers, message):
    with pytest.raises(survey.SurveyError) as e:
        survey.normalized(answers)
    assert str(e.value).startswith(message) and str(e.value).endswith("Nothing was changed."), str(e.value)
    assert e.value.field == message.split("(")[1].split(")")[0]


def test_an_answer_that_is_no_question_is_refused():
    with pytest.raises(survey.SurveyError, match=r"^port: not a survey answer \(known: kamaji_new_tenant_name, "):
        survey.normalized({"name": "x", "port": 1})


def test_every_answer_is_a_field_of_the_spec():
    from ansible_collections.kamaji.core.plugins.module_utils.tenant import spec

    for answer, path in survey.ANSWERS.items():
        assert survey.answer_of(spec.field(*path)) == answer
    assert survey.answer_of("name") == "name"
    assert survey.answer_of("tenant.service_cidr") is None


def test_the_module_takes_the_answers_as_the_play_passes_them(tmp_path):
    """tenant_spec's answers, from job variables as the tenants play templates them (an unset
    answer none, a number typed with -e a string)."""
    from harness.runner import run_playbook

    answers = {a: "{{ kamaji_new_tenant_%s | default(none) }}" % a for a in survey.ANSWERS}
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "good", "kamaji.core.tenant_spec": {"answers": answers}, "register": "good",
         "vars": {"kamaji_new_tenant_name": "hooli", "kamaji_new_tenant_replicas": "0",
                  "kamaji_new_tenant_endpoint_address": "192.0.2.40", "kamaji_new_tenant_endpoint_port": 31460}},
        {"name": "bad", "kamaji.core.tenant_spec": {"answers": answers},
         "vars": {"kamaji_new_tenant_name": "hooli", "kamaji_new_tenant_endpoint_address": "192.0.2.40",
                  "kamaji_new_tenant_endpoint_port": "x"}}]}]
    res = run_playbook(play, tmp_path)
    good = res.task("good")
    assert good["changed"] is False and good["name"] == "hooli", good
    assert good["tenant"] == {"replicas": 0, "endpoint": {"address": "192.0.2.40", "port": 31460}}
    bad = res.task("bad")
    assert res.rc != 0 and bad["field"] == "tenant.endpoint.port", bad
    assert bad["msg"].startswith("kamaji_new_tenant_endpoint_port (tenant.endpoint.port): 'x' is not a TCP port")
