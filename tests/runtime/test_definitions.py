"""parse_definition over the corpus: every broken file reports the right problem and element."""

import pytest

from engine.runtime import DefinitionInvalid, UnsafeXml, compile_process, parse_definition, service
from engine.runtime.services import unregister

from .conftest import data_file, process_file


def problems_of(name: str) -> list:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(data_file(name), name)
    assert caught.value.status == 422
    assert caught.value.fields == [p.as_field() for p in caught.value.problems]
    return caught.value.problems


def test_shipped_reactive_case_parses_with_forms_and_summary():
    parsed = parse_definition(process_file("reactive_case.bpmn"), "reactive_case.bpmn")
    assert (parsed.key, parsed.kind, parsed.name) == ("reactive_case", "bpmn", "Reactive case")
    assert set(parsed.forms) == {"triage", "respond", "resolve"}
    triage = parsed.forms["triage"]
    assert triage["properties"]["action"]["enum"] == ["respond", "dismiss"]
    assert triage["required"] == ["action"]
    assert parsed.forms["respond"]["properties"]["reply"]["minLength"] == 1
    assert "answered" in parsed.forms["resolve"]["properties"]["resolution_code"]["enum"]
    elements = parsed.summary["elements"]
    assert elements["triage_decision"] == {"type": "exclusiveGateway", "name": "Respond?"}
    named = [
        e
        for e in elements.values()
        if e["type"] not in ("sequenceFlow", "documentation") and not e["type"].endswith("EventDefinition")
    ]
    assert all(e["name"] for e in named), "every node of the shipped process has a human name"


def test_shipped_reactive_case_renders_in_a_modeler():
    xml = process_file("reactive_case.bpmn")
    for element in (b"BPMNDiagram", b"BPMNShape", b"BPMNEdge", b"dc:Bounds", b"di:waypoint"):
        assert element in xml


def test_shipped_routing_table_parses():
    parsed = parse_definition(process_file("routing.dmn"), "routing.dmn")
    assert (parsed.key, parsed.kind) == ("routing", "dmn")
    assert parsed.summary["hit_policy"] == "FIRST"
    assert parsed.summary["outputs"] == ["action", "priority", "queue", "sla_policy", "process_key"]


def test_modeler_export_with_diagram_and_documentation_is_valid():
    parsed = parse_definition(data_file("modeler_export.bpmn"), "modeler_export.bpmn")
    assert parsed.key == "Process_review_escalation"
    assert parsed.summary["timers"] == {"Event_0sla": '"PT4H"'}
    assert "Activity_1review" in parsed.forms


def test_malformed_xml_reports_line_and_column():
    [problem] = problems_of("malformed.bpmn")
    assert problem.line == 5 and problem.column is not None
    assert "not well-formed" in problem.message


def test_no_executable_process():
    [problem] = problems_of("no_executable.bpmn")
    assert "isExecutable" in problem.message


def test_flow_to_missing_element_names_the_flow():
    [problem] = problems_of("missing_target.bpmn")
    assert problem.element_id == "f_dangling"
    assert "'nowhere'" in problem.message


def test_bad_form_schema_reports_every_schema_error():
    found = problems_of("bad_form.bpmn")
    assert {p.element_id for p in found} == {"triage"}
    assert len(found) == 2
    assert all("JSON Schema" in p.message for p in found)


@pytest.mark.parametrize("form", ["true", "false", "[]", '"object"'])
def test_a_form_that_is_not_a_schema_object_is_reported(form):
    # a boolean schema used to pass: `false` then let any data complete the task (an empty form
    # means no form), and GET /tasks failed serving a form that is not an object
    xml = data_file("bad_form.bpmn").replace(
        b'{"type": "objekt", "properties": {"a": {"type": 5}}}', form.encode()
    )
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(xml, "form.bpmn")
    [problem] = caught.value.problems
    assert problem.element_id == "triage"
    assert "must be a JSON Schema object" in problem.message


def test_a_bare_iso_timer_is_read_as_its_literal_and_warned_about_at_its_event():
    parsed = parse_definition(data_file("bare_timer.bpmn"), "bare_timer.bpmn")
    [warning] = [w for w in parsed.warnings if "written bare" in w.message]
    assert warning.element_id == "sla_timer" and "quote it" in warning.message


def test_script_syntax_error():
    [problem] = problems_of("script_syntax.bpmn")
    assert problem.element_id == "broken_script"
    assert "syntax error" in problem.message


def test_script_importing_os_is_refused_at_parse_time():
    [problem] = problems_of("script_import.bpmn")
    assert problem.element_id == "sneaky_script"
    assert "import" in problem.message


def test_unknown_service_operator():
    [problem] = problems_of("unknown_service.bpmn")
    assert problem.element_id == "notify"
    assert "no_such_operator" in problem.message


def test_registered_service_operator_is_accepted():
    service("tests.echo")(lambda **kw: kw)
    try:
        assert parse_definition(data_file("service_task.bpmn")).key == "p"
    finally:
        unregister("tests.echo")


def test_all_problems_are_reported_at_once():
    found = {p.element_id: p.message for p in problems_of("many_problems.bpmn")}
    assert set(found) == {"triage", "enrich", "sla_timer", "f_b"}
    assert "exclusive gateway 'choose'" in found["f_b"]


@pytest.mark.parametrize("name", ["xxe.bpmn", "billion_laughs.bpmn"])
def test_entity_tricks_are_unsafe_xml(name):
    with pytest.raises(UnsafeXml) as caught:
        parse_definition(data_file(name), name)
    assert caught.value.status == 400


def test_entities_are_refused_even_when_only_declared_inside():
    sneaky = b'<?xml version="1.0"?>\n<!DOCTYPE x SYSTEM "http://example.com/x.dtd"><x/>'
    with pytest.raises(UnsafeXml):
        parse_definition(sneaky)


def test_dmn_with_unsupported_hit_policy_and_bad_output():
    found = {p.element_id: p.message for p in problems_of("bad_hit_policy.dmn")}
    assert "ANY" in found["pick_table"]
    assert "does not compile" in found["r1_o"]


def test_a_file_that_is_neither_bpmn_nor_dmn():
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(b"<html/>")
    assert "neither BPMN nor DMN" in caught.value.problems[0].message


CORRELATED = b"""<?xml version="1.0" encoding="US-ASCII"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="letter" name="Letter"/>
  <bpmn:correlationProperty id="lover_name" name="Name">
    <bpmn:correlationPropertyRetrievalExpression messageRef="letter">
      <bpmn:formalExpression>lover.name</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:process id="letters" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="write" name="Write"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="write"/>
    <bpmn:sequenceFlow id="f2" sourceRef="write" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_spiffworkflows_correlation_expressions_and_an_ascii_declaration_are_accepted():
    assert parse_definition(CORRELATED).key == "letters"
    other = CORRELATED.replace(b"<bpmn:formalExpression>lover.name</bpmn:formalExpression>", b"<bpmn:bogus/>")
    with pytest.raises(DefinitionInvalid):
        parse_definition(other)  # only SpiffWorkflow's form is tolerated, not any element
    latin = CORRELATED.replace(b"US-ASCII", b"ISO-8859-1").replace(
        b'name="Write"', 'name="Écrire"'.encode("latin-1")
    )
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(latin)
    assert "outside ASCII" in caught.value.problems[0].message


NESTED_CALL = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="outer"%s>
    <bpmn:startEvent id="s"/>
    <bpmn:subProcess id="inner">
      <bpmn:startEvent id="is"/>
      <bpmn:callActivity id="ask" name="Ask" calledElement="not_yet_here"/>
      <bpmn:endEvent id="ie"/>
      <bpmn:sequenceFlow id="i1" sourceRef="is" targetRef="ask"/>
      <bpmn:sequenceFlow id="i2" sourceRef="ask" targetRef="ie"/>
    </bpmn:subProcess>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="inner"/>
    <bpmn:sequenceFlow id="f2" sourceRef="inner" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_process_without_is_executable_is_executable_as_camunda_reads_it():
    assert parse_definition(NESTED_CALL % b"").key == "outer"
    assert parse_definition(NESTED_CALL % b' isExecutable="true"').key == "outer"
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(NESTED_CALL % b' isExecutable="false"')
    assert "isExecutable" in caught.value.problems[0].message


def test_a_call_to_a_process_not_deployed_yet_is_a_warning_and_cannot_run():
    from engine.runtime.instances import compile_process

    parsed = parse_definition(NESTED_CALL % b"", resolve=lambda key: None)  # nested in a subprocess
    assert parsed.missing_calls == ["not_yet_here"] and parsed.calls == ["not_yet_here"]
    [warning] = [w for w in parsed.warnings if "not_yet_here" in w.message]
    assert warning.element_id == "ask" and "deploy it before" in warning.message
    with pytest.raises(DefinitionInvalid) as caught:
        compile_process(NESTED_CALL % b"")
    assert "'not_yet_here' is not deployed" in caught.value.problems[0].message


TIMED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="timed" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="work" name="Work"/>
    <bpmn:boundaryEvent id="every" cancelActivity="false" attachedToRef="work">
      <bpmn:timerEventDefinition id="every_def"><bpmn:%s>%s</bpmn:%s></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="e"/>
    <bpmn:endEvent id="reminded"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="e"/>
    <bpmn:sequenceFlow id="f3" sourceRef="every" targetRef="reminded"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _timer_problems(tag: bytes, expression: bytes) -> list[str]:
    try:
        parse_definition(TIMED % (tag, expression, tag))
    except DefinitionInvalid as err:
        return [p.message for p in err.problems]
    return []


def test_a_legacy_count_and_timedelta_cycle_is_refused_with_the_iso_cycle_to_write():
    [message] = _timer_problems(b"timeCycle", b"(3, timedelta(hours=2))")
    assert "(count, duration) pair" in message and '"R3/PT2H"' in message
    assert _timer_problems(b"timeCycle", b'"R3/PT2H"') == []
    [message] = _timer_problems(b"timeCycle", b"42")
    assert 'e.g. "R3/PT4H"' in message  # a cycle's example is a cycle, not a duration
    [message] = _timer_problems(b"timeDate", b"42")
    assert "ISO 8601 date string" in message and "2026-12-01" in message


def test_timedelta_in_a_timer_reads_as_pythons_timedelta():
    assert _timer_problems(b"timeDuration", b"timedelta(2)") == []
    parsed = parse_definition(TIMED % (b"timeDuration", b"timedelta(hours=1, minutes=30)", b"timeDuration"))
    assert parsed.summary["timers"] == {"every": "timedelta(hours=1, minutes=30)"}


def test_reading_an_attribute_in_an_expression_says_to_index_the_dictionary():
    [message] = _timer_problems(b"timeDuration", b"sla.duration")
    assert "sla['duration']" in message and "dictionaries" in message


JUEL_CONDITION = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="scored" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:exclusiveGateway id="g" default="low"/>
    <bpmn:endEvent id="e1"/>
    <bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
    <bpmn:sequenceFlow id="high" sourceRef="g" targetRef="e1">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${score &gt; 5 &amp;&amp; vip}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="low" sourceRef="g" targetRef="e2"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _only_problem(data: bytes):
    """The one problem a file is refused with."""
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(data)
    [problem] = caught.value.problems
    return problem


def test_a_camunda_juel_condition_says_to_write_python_instead():
    problem = _only_problem(JUEL_CONDITION)
    assert problem.element_id == "high"
    assert "Camunda (JUEL) expression" in problem.message and "'score > 5 and vip'" in problem.message
    assert "drop the ${ }" in problem.message
    assert parse_definition(
        JUEL_CONDITION.replace(b"${score &gt; 5 &amp;&amp; vip}", b"score &gt; 5 and vip")
    )


def test_a_hash_juel_condition_is_shown_as_the_python_it_means():
    negated = JUEL_CONDITION.replace(b"${score &gt; 5 &amp;&amp; vip}", b"#{!vip || score eq null}")
    problem = _only_problem(negated)
    assert "drop the #{ }" in problem.message and "'not vip or score == None'" in problem.message
    assert "!=" in _foreign_python(b"#{score != 5}")


def _foreign_python(condition: bytes) -> str:
    return _only_problem(JUEL_CONDITION.replace(b"${score &gt; 5 &amp;&amp; vip}", condition)).message


def test_a_quartz_cron_timer_says_to_write_an_iso_cycle():
    [message] = _timer_problems(b"timeCycle", b"0 0/15 8-17 ? * MON-FRI")
    assert "cron expression" in message and '"R/PT5M"' in message
    [message] = _timer_problems(b"timeDuration", b"${reminderDelay}")
    assert "Camunda (JUEL) expression" in message and "'reminderDelay'" in message


DANGLING_MESSAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:message id="reply" name="Reply"/>
  <bpmn:process id="letters" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sendTask id="send" name="Send" messageRef="letter"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="send"/>
    <bpmn:sequenceFlow id="f2" sourceRef="send" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_message_ref_to_no_message_names_the_messages_instead_of_an_internal_error():
    problem = _only_problem(DANGLING_MESSAGE)
    assert problem.element_id == "send"
    assert "'letter' names no message" in problem.message and "reply" in problem.message
    assert "TypeError" not in problem.message
    assert parse_definition(DANGLING_MESSAGE.replace(b'messageRef="letter"', b'messageRef="reply"'))


CAMUNDA_8 = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="parcel" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:scriptTask id="weigh">
      <bpmn:extensionElements>
        <zeebe:script expression="=if grams &gt; 500 then &quot;heavy&quot; else &quot;light&quot;" resultVariable="size"/>
      </bpmn:extensionElements>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="g" default="light"/>
    <bpmn:serviceTask id="courier">
      <bpmn:extensionElements><zeebe:taskDefinition type="book-courier"/></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="e1"/>
    <bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="weigh"/>
    <bpmn:sequenceFlow id="f2" sourceRef="weigh" targetRef="g"/>
    <bpmn:sequenceFlow id="heavy" sourceRef="g" targetRef="courier">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=size = "heavy" and grams != 0</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="light" sourceRef="g" targetRef="e2"/>
    <bpmn:sequenceFlow id="f3" sourceRef="courier" targetRef="e1"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_camunda_8_diagram_is_refused_saying_what_to_write_for_each_feel_part():
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(CAMUNDA_8)
    messages = {p.element_id: p.message for p in caught.value.problems}
    assert set(messages) == {"weigh", "heavy", "courier"}
    assert "Camunda 8 FEEL expression" in messages["weigh"] and "size = ..." in messages["weigh"]
    assert "drop the leading =" in messages["heavy"]
    assert """'size == "heavy" and grams != 0'""" in messages["heavy"]
    assert "Camunda 8 job" in messages["courier"] and "'book-courier'" in messages["courier"]


def test_a_feel_timer_says_to_write_python():
    [message] = _timer_problems(b"timeDuration", b"=reminder")
    assert "Camunda 8 (FEEL) expression" in message and "'reminder'" in message


CAMUNDA_8_CALL = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="intake" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:callActivity id="vet">
      <bpmn:extensionElements><zeebe:calledElement processId="vetting"/></bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="vet"/>
    <bpmn:sequenceFlow id="f2" sourceRef="vet" targetRef="e"/>
  </bpmn:process>
  <bpmn:process id="vetting" isExecutable="true">
    <bpmn:startEvent id="vs"/>
    <bpmn:endEvent id="ve"/>
    <bpmn:sequenceFlow id="vf" sourceRef="vs" targetRef="ve"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_camunda_8_call_activity_says_to_write_called_element():
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(CAMUNDA_8_CALL)
    messages = {p.element_id: p.message for p in caught.value.problems}
    assert "zeebe:calledElement processId='vetting'" in messages["vet"]
    assert 'write calledElement="vetting"' in messages["vet"]
    fixed = CAMUNDA_8_CALL.replace(
        b'<bpmn:callActivity id="vet">', b'<bpmn:callActivity id="vet" calledElement="vetting">'
    )
    assert parse_definition(fixed)


GROOVY_SCRIPT = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="tally" isExecutable="true">
    <startEvent id="s"/>
    <scriptTask id="count" scriptFormat="groovy"><script>total = 1</script></scriptTask>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="count"/>
    <sequenceFlow id="f2" sourceRef="count" targetRef="e"/>
  </process>
</definitions>
"""


def test_a_script_in_another_language_is_refused_naming_it():
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(GROOVY_SCRIPT)
    [problem] = caught.value.problems
    assert problem.element_id == "count" and "scriptFormat 'groovy'" in problem.message
    assert parse_definition(GROOVY_SCRIPT.replace(b'scriptFormat="groovy"', b'scriptFormat="python"'))


UNKNOWN_CALL = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="greeting" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:scriptTask id="greet"><bpmn:script>def shout(text):
    return text.upper()
loud = shout(name)
polite = salutation_for(name)
count = len([w for w in loud.split()])</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="greet"/>
    <bpmn:sequenceFlow id="f2" sourceRef="greet" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_call_to_a_function_nobody_provides_is_warned_about_not_refused():
    definition = parse_definition(UNKNOWN_CALL)
    messages = [w.message for w in definition.warnings]
    assert messages == [
        "The script calls salutation_for(), which is neither a Sift helper nor defined in it; it will fail when it runs."
    ]


@pytest.mark.parametrize(
    ("tag", "bare"),
    [
        ("timeDuration", "PT4H"),
        ("timeDuration", "PT.1S"),
        ("timeDuration", "P1DT12H"),
        ("timeDate", "2026-12-01T09:00:00Z"),
        ("timeCycle", "R3/PT10M"),
    ],
)
def test_a_bare_iso_timer_as_camunda_writes_it_is_read_as_its_literal_with_a_warning(tag, bare):
    parsed = parse_definition(TIMED % (tag.encode(), bare.encode(), tag.encode()))
    [warning] = [w.message for w in parsed.warnings if "written bare" in w.message]
    assert f'literal "{bare}"' in warning
    assert parsed.summary["timers"] == {"every": f'"{bare}"'}, "described as the expression it is read as"


@pytest.mark.parametrize(
    ("tag", "text"),
    [
        ("timeDuration", "PT4X"),
        ("timeDuration", "4 hours"),
        ("timeDate", "2026-13-45"),
        ("timeCycle", "PT5M"),
    ],
)
def test_bare_text_that_is_no_iso_value_of_its_kind_is_still_an_expression_and_refused(tag, text):
    assert _timer_problems(tag.encode(), text.encode()), text


# Event subprocess starts SpiffWorkflow 3.2.0 would run otherwise than BPMN says.


def test_an_error_start_is_refused_as_it_would_run_when_each_case_opens():
    error_start = data_file("event_subprocess.bpmn").replace(
        b'<bpmn:messageEventDefinition id="nudged_def" messageRef="nudge"/>',
        b'<bpmn:errorEventDefinition id="nudged_def"/>',
    )
    problem = _only_problem(error_start)
    assert problem.element_id == "nudged"
    assert "cannot start on an error event" in problem.message
    assert "boundary event" in problem.message


def test_an_interrupting_event_subprocess_start_is_a_warning_that_it_does_not_interrupt():
    quiet = parse_definition(data_file("event_subprocess.bpmn"))
    assert not [w for w in quiet.warnings if "interrupting" in w.message]
    interrupting = parse_definition(
        data_file("event_subprocess.bpmn").replace(b' isInterrupting="false"', b"")
    )  # BPMN's default: interrupting
    [warning] = [w for w in interrupting.warnings if "interrupting" in w.message]
    assert warning.element_id == "nudged" and "the rest of the process, which goes on" in warning.message


AD_HOC = b"""<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:adHocSubProcess id="work">
      <bpmn:userTask id="note" name="Note"/>
      <bpmn:userTask id="other" name="Other"/>
      <bpmn:completionCondition>done</bpmn:completionCondition>
    </bpmn:adHocSubProcess>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_an_ad_hoc_subprocess_without_a_data_object_is_refused_as_spiffworkflow_fails_on_it():
    problem = _only_problem(AD_HOC)
    assert problem.element_id == "work" and "without a data object" in problem.message
    held = AD_HOC.replace(
        b'<bpmn:userTask id="note"', b'<bpmn:dataObject id="notes"/><bpmn:userTask id="note"'
    )
    assert parse_definition(held).key == "p"
    started = compile_process(held).start({"done": False})  # and it runs
    assert sorted(t.name for t in started.open_user_tasks()) == ["note", "other"]
