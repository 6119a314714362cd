"""Modelers write ``<ioSpecification/>`` (and data inputs without an inputSet), which the BPMN
XSD refuses and SpiffWorkflow reads: Sift accepts such a file and runs it."""

from __future__ import annotations

import pytest

from engine import runtime

FILE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="with_io" isExecutable="true">
    <bpmn:ioSpecification%s
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="work"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>done = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize(
    "io",
    [b"/>", b'><bpmn:dataOutput id="out" name="out"/></bpmn:ioSpecification>'],
    ids=["empty", "no-sets"],
)
def test_an_io_specification_without_its_sets_is_accepted_and_runs(io):
    data = FILE % io
    parsed = runtime.parse_definition(data, "io.bpmn", resolve=lambda key: None)
    assert parsed.key == "with_io"
    instance = runtime.compile_process(data, {}).start({})
    assert instance.is_completed and instance.data["done"] is True


def test_other_schema_violations_are_still_refused():
    data = (FILE % b"/>").replace(b"<bpmn:script>", b"<bpmn:notAnElement/><bpmn:script>")
    with pytest.raises(runtime.DefinitionInvalid) as err:
        runtime.parse_definition(data, "io.bpmn", resolve=lambda key: None)
    assert "Schema violation" in err.value.fields[0]["message"]
