"""Running processes: start, complete, state without spec, restore, stalls, services, messages."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import TaskState

from engine.runtime import (
    CompiledProcess,
    IncidentNotOpen,
    ProcessStalled,
    StateIncompatible,
    TaskNotOpen,
    compile_process,
    service,
)
from engine.runtime.engine import ENGINE
from engine.runtime.serializer import dump_workflow, full_dict
from engine.runtime.services import unregister

from .conftest import REACTIVE_SEED, data_file


def only_task(instance):
    [task] = instance.open_user_tasks()
    return task


def test_reactive_case_starts_at_triage_with_its_form(reactive):
    instance = reactive.start({"signal_id": "s1", "priority": "normal"})
    task = only_task(instance)
    assert (task.name, task.title) == ("triage", "Triage")
    assert task.form["required"] == ["action"]
    assert task.data == {**REACTIVE_SEED, "signal_id": "s1", "priority": "normal"}
    assert not instance.is_completed


def test_reactive_case_respond_path_completes(reactive):
    instance = reactive.start({"signal_id": "s1"})
    instance.complete_user_task(
        only_task(instance).id, {"action": "respond", "priority": "high"}, actor="csr-1"
    )
    assert only_task(instance).name == "respond"
    instance.complete_user_task(only_task(instance).id, {"reply": "We are on it", "then": "resolve"})
    assert only_task(instance).name == "resolve"
    instance.complete_user_task(only_task(instance).id, {"resolution_code": "answered"})
    assert instance.is_completed
    assert instance.open_user_tasks() == []
    assert instance.data["resolution_code"] == "answered"
    assert instance.data["priority"] == "high"


def test_reactive_case_dismiss_path_ends_at_dismissed(reactive):
    instance = reactive.start()
    instance.complete_user_task(
        only_task(instance).id, {"action": "dismiss", "dismiss_as": "spam", "reason": "a bot"}
    )
    assert instance.is_completed
    done = {t.task_spec.bpmn_id for t in instance.workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "dismissed" in done and "respond" not in done


def test_completing_a_task_that_is_not_open_is_a_conflict(reactive):
    instance = reactive.start()
    task = only_task(instance)
    instance.complete_user_task(task.id, {"action": "respond"})
    for bad in (task.id, "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(TaskNotOpen) as caught:
            instance.complete_user_task(bad, {})
        assert caught.value.status == 409


def test_dump_is_the_serializer_dict_without_specs_and_small(reactive):
    instance = reactive.start({"signal_id": "s1", "priority": "normal", "topic": "billing"})
    state = instance.dump()
    full = full_dict(instance.workflow)
    assert "spec" in full and "subprocess_specs" in full
    del full["spec"], full["subprocess_specs"]
    assert {k: v for k, v in state.items() if k not in ("serializer_version", "sift_state")} == full
    assert state["serializer_version"] and state["sift_state"] == 1
    size = len(json.dumps(state))
    assert size < 4096, f"reactive case at triage is {size} bytes of JSON"


def test_restore_round_trips_through_json(reactive):
    instance = reactive.start({"signal_id": "s1"})
    restored = reactive.restore(json.loads(json.dumps(instance.dump())))
    assert restored.open_user_tasks() == instance.open_user_tasks()
    restored.complete_user_task(only_task(restored).id, {"action": "dismiss"})
    assert restored.is_completed


def test_state_from_another_serializer_version_is_refused(reactive):
    state = reactive.start().dump()
    state["serializer_version"] = "0.9"
    with pytest.raises(StateIncompatible):
        reactive.restore(state)


def unvalidated(xml: bytes, script: str) -> CompiledProcess:
    """A compiled process that skipped validation (e.g. deployed before a rule existed)."""
    root = etree.fromstring(xml.replace(b"SCRIPT", script.encode()))
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(root)
    return CompiledProcess("p", parser.get_spec("p"), parser.get_subprocess_specs("p"), {})


def test_restored_instances_keep_the_restricted_engine():
    compiled = unvalidated(data_file("after_task_script.bpmn"), "import os\nwhere = os.getcwd()")
    state = json.loads(json.dumps(compiled.start({"n": 1}).dump()))
    restored = compiled.restore(state)
    assert restored.workflow.script_engine is ENGINE
    restored.complete_user_task(only_task(restored).id, {})
    (failure,) = restored.failures  # refused, and held at its element as an incident
    assert (failure.element_id, failure.error) == ("after_review", "ScriptRefused")
    assert "import" in failure.message
    assert [element for _, element, _ in restored.failed_tasks()] == ["after_review"]


@pytest.mark.parametrize(
    "script",
    ["x = 'a' * 10**9", "while True: pass", "x = type(1)", "x = '{0.__class__}'.format(1)"],
)
def test_runtime_refusal_in_a_script_task_names_the_element(script):
    compiled = unvalidated(data_file("hostile_runtime.bpmn"), script)
    instance = compiled.start()
    (failure,) = instance.failures
    assert (failure.element_id, failure.error) == ("hostile", "ScriptRefused")
    assert not instance.is_completed


def test_validation_refuses_what_the_runtime_would_refuse():
    from engine.runtime import DefinitionInvalid

    xml = data_file("hostile_runtime.bpmn").replace(b"SCRIPT", b"x = getattr(1, 'real')")
    with pytest.raises(DefinitionInvalid) as caught:
        compile_process(xml)
    assert caught.value.problems[0].element_id == "hostile"


def test_short_loop_completes():
    compiled = compile_process(data_file("loop.bpmn"))
    instance = compiled.start({"limit": 50})
    assert only_task(instance).name == "done"
    assert only_task(instance).data["counter"] == 50


def test_long_loop_stall_is_detected_not_ignored():
    compiled = compile_process(data_file("loop.bpmn"))
    with pytest.raises(ProcessStalled) as caught:
        compiled.start({"limit": 600})
    assert caught.value.status == 422
    assert "loop" in caught.value.detail
    assert caught.value.element_ids


def test_service_task_calls_registered_operator_and_stores_result():
    calls = []

    @service("tests.echo")
    def echo(handle, times):
        calls.append((handle, times))
        return {"handle": handle, "times": times}

    try:
        instance = compile_process(data_file("service_task.bpmn")).start({"handle": "@ana"})
        assert calls == [("@ana", 2)]
        assert only_task(instance).data["echoed"] == {"handle": "@ana", "times": 2}
    finally:
        unregister("tests.echo")


def test_service_errors_are_process_errors_not_name_errors():
    @service("tests.echo")
    def boom(**_):
        raise RuntimeError("secret detail")

    try:
        compiled = compile_process(data_file("service_task.bpmn"))
    finally:
        unregister("tests.echo")
    (failure,) = compiled.start({"handle": "@ana"}).failures
    assert failure.error == "ServiceFailed" and "no such operator" in failure.message
    service("tests.echo")(boom)
    try:
        (failure,) = compiled.start({"handle": "@ana"}).failures
        assert (failure.element_id, failure.error) == ("lookup", "ServiceFailed")
        assert "secret detail" not in failure.message
    finally:
        unregister("tests.echo")


def test_message_is_delivered_only_when_waited_for():
    compiled = compile_process(data_file("message_wait.bpmn"))
    instance = compiled.start()
    assert instance.send_message("customer_replied", {"text": "thanks"}) is False
    instance.complete_user_task(only_task(instance).id, {})
    assert instance.open_user_tasks() == []
    restored = compiled.restore(json.loads(json.dumps(instance.dump())))
    assert restored.send_message("other_message", {}) is False
    assert restored.send_message("customer_replied", {"text": "thanks"}) is True
    task = only_task(restored)
    assert task.name == "resolve"
    assert task.data["reply_message"] == {"text": "thanks"}


def test_waiting_timers_are_utc_and_survive_restore():
    compiled = compile_process(data_file("modeler_export.bpmn"))
    before = datetime.now(UTC)
    instance = compiled.start({"priority": "high"})
    assert only_task(instance).data["score"] == 30
    [(task_id, due)] = instance.waiting_timers()
    assert due.tzinfo is not None
    assert before + timedelta(hours=4) <= due <= datetime.now(UTC) + timedelta(hours=4)
    restored = compiled.restore(instance.dump())
    assert restored.waiting_timers() == [(task_id, due)]
    restored.refresh_timers()
    assert only_task(restored).name == "Activity_1review"


def test_a_bare_iso_timer_waits_its_duration_and_fires():
    compiled = compile_process(data_file("bare_timer.bpmn"))
    before = datetime.now(UTC)
    instance = compiled.start({})
    [(_task_id, due)] = instance.waiting_timers()
    assert before + timedelta(hours=4) <= due <= datetime.now(UTC) + timedelta(hours=4)


def test_hot_path_is_light(reactive):
    instance = reactive.start()
    n = 200
    started = time.perf_counter()
    for _ in range(n):
        instance = reactive.start({"signal_id": "s"})
    start_ms = (time.perf_counter() - started) * 1000 / n
    started = time.perf_counter()
    for _ in range(n):
        instance.dump()
    dump_ms = (time.perf_counter() - started) * 1000 / n
    # generous bounds for a shared 2-core machine; typical figures are ~0.3 ms and ~0.1 ms
    assert start_ms < 5 and dump_ms < 3


def test_bare_spiff_baseline_rate_is_measured():
    from engine.runtime.baseline import bare_spiff_rate

    from .conftest import process_file

    rate = bare_spiff_rate(process_file("reactive_case.bpmn"), 50, REACTIVE_SEED)
    assert rate > 10


def test_a_due_timer_fires_on_refresh():
    compiled = compile_process(data_file("modeler_export.bpmn"))
    state = compiled.start({"priority": "low"}).dump()
    [timer] = [t for t in state["tasks"].values() if t["internal_data"].get("event_value")]
    timer["internal_data"]["event_value"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    instance = compiled.restore(state)
    instance.refresh_timers()
    assert instance.waiting_timers() == []
    done = {t.task_spec.bpmn_id for t in instance.workflow.get_tasks(state=TaskState.COMPLETED)}
    assert "Event_0escend" in done
    assert only_task(instance).name == "Activity_1review", "a non-interrupting timer leaves the task open"


def test_compile_process_reports_bad_xml_as_engine_errors():
    from engine.runtime import DefinitionInvalid, UnsafeXml

    with pytest.raises(DefinitionInvalid):
        compile_process(data_file("malformed.bpmn"))
    with pytest.raises(UnsafeXml):
        compile_process(data_file("billion_laughs.bpmn"))


def _reordered(state):  # type: ignore[no-untyped-def]
    """The state with every mapping's keys in reverse order (PostgreSQL's JSONB reorders keys)."""
    if isinstance(state, dict):
        return {k: _reordered(v) for k, v in reversed(list(state.items()))}
    if isinstance(state, list):
        return [_reordered(v) for v in state]
    return state


def test_a_restore_keeps_task_data_whatever_the_order_of_the_stored_tasks(reactive):
    instance = reactive.start({"case_id": "c1"})
    instance.complete_user_task(only_task(instance).id, {"action": "respond", "priority": "high"})
    restored = reactive.restore(_reordered(json.loads(json.dumps(instance.dump()))))
    respond = only_task(restored)
    assert respond.data["priority"] == "high" and respond.data["then"] == "resolve"  # set by a script
    restored.complete_user_task(respond.id, {"reply": "On it"})  # its gateway reads "then"
    assert [t.name for t in restored.open_user_tasks()] == ["resolve"]


def test_three_hundred_turns_keep_the_task_tree_and_the_state_the_size_of_one_turn(reactive):
    instance = reactive.start({"case_id": "c1"})
    instance.complete_user_task(only_task(instance).id, {"action": "respond"})
    sizes = []
    for turn in range(300):
        instance.complete_user_task(only_task(instance).id, {"reply": f"reply {turn}", "then": "wait"})
        assert instance.send_message("customer_message", {"n": turn})
        instance = reactive.restore(json.loads(json.dumps(instance.dump())))
        sizes.append(len(json.dumps(instance.dump())))
    assert only_task(instance).name == "respond"
    depth = max(len(list(_ancestors(t))) for t in instance.workflow.tasks.values())
    assert depth < 20 and len(instance.workflow.subprocesses) == 1
    assert sizes[-1] - sizes[0] < 300 * 60, (sizes[0], sizes[-1])  # the loop's merged ids only


def _ancestors(task):  # type: ignore[no-untyped-def]
    while task.parent is not None:
        task = task.parent
        yield task


GATEWAY = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:exclusiveGateway id="big" name="Big?" default="small_flow"/>
    <bpmn:userTask id="large" name="Large"/>
    <bpmn:userTask id="small" name="Small"/>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="big"/>
    <bpmn:sequenceFlow id="large_flow" sourceRef="big" targetRef="large">
      <bpmn:conditionExpression>amount &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="small_flow" sourceRef="big" targetRef="small"/>
    <bpmn:sequenceFlow id="f4" sourceRef="large" targetRef="e1"/>
    <bpmn:sequenceFlow id="f5" sourceRef="small" targetRef="e2"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_failing_condition_is_held_through_a_json_round_trip_and_retried_with_data():
    compiled = compile_process(GATEWAY)
    instance = compiled.start({})
    (failure,) = instance.failures
    assert (failure.element_id, failure.error) == ("big", "ScriptFailed") and "amount" in failure.message
    assert instance.open_user_tasks() == [] and not instance.is_completed
    restored = compiled.restore(json.loads(json.dumps(instance.dump())))
    assert restored.element_states()["failed"] == ["big"]
    with pytest.raises(IncidentNotOpen):
        restored.retry("00000000-0000-0000-0000-000000000000")
    restored.retry(failure.task_id, {"amount": 500})
    assert restored.failures == [] and [t.name for t in restored.open_user_tasks()] == ["large"]
    assert restored.failed_tasks() == []


# An event subprocess under one compiled spec per worker process (several workers, restarts).


def _event_subprocess_tasks(instance):  # type: ignore[no-untyped-def]
    return [t for t in instance.workflow.get_tasks() if t.task_spec.name == "on_nudge"]


def test_a_case_started_after_another_caught_its_event_waits_for_its_own():
    compiled = compile_process(data_file("event_subprocess.bpmn"))
    first = compiled.start()
    assert first.send_message("nudge", {}) is True
    later = compiled.start()  # same spec objects: SpiffWorkflow 3.2.0 rewires them on a first catch
    assert _event_subprocess_tasks(later) == []
    later.complete_user_task(only_task(later).id, {})
    assert later.is_completed


def test_a_state_saved_in_one_worker_catches_its_event_in_a_fresh_one():
    worker_a = compile_process(data_file("event_subprocess.bpmn"))
    worker_a.start().send_message("nudge", {})
    state = json.loads(json.dumps(worker_a.start().dump()))
    worker_b = compile_process(data_file("event_subprocess.bpmn"))  # restarted: nothing caught yet
    restored = worker_b.restore(state)
    assert restored.send_message("nudge", {}) is True
    assert restored.failures == []
    [nudged] = _event_subprocess_tasks(restored)
    assert nudged.state == TaskState.COMPLETED and nudged.data["noted"] is True
    restored.complete_user_task(only_task(restored).id, {})
    assert restored.is_completed


def test_an_event_subprocess_a_case_began_without_its_event_is_cancelled_on_restore():
    """States saved before the wiring fix: SpiffWorkflow's own rewired spec began the event
    subprocess with the case; restored, it no longer blocks the end, and the event still works."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(data_file("event_subprocess.bpmn")))
    spec, subprocess_specs = parser.get_spec("p"), parser.get_subprocess_specs("p")
    caught = BpmnWorkflow(spec, subprocess_specs)
    caught.do_engine_steps()
    caught.catch(BpmnEvent(MessageEventDefinition("nudge"), payload={}))
    legacy = BpmnWorkflow(spec, subprocess_specs)
    legacy.do_engine_steps()
    [begun] = [t for t in legacy.get_tasks() if t.task_spec.name == "on_nudge"]
    assert begun.state == TaskState.STARTED and not begun.triggered  # what old states hold

    restored = compile_process(data_file("event_subprocess.bpmn")).restore(
        json.loads(json.dumps(dump_workflow(legacy)))
    )
    assert [t.state for t in _event_subprocess_tasks(restored)] == [TaskState.CANCELLED]
    assert restored.send_message("nudge", {}) is True
    assert sorted(t.state for t in _event_subprocess_tasks(restored)) == [
        TaskState.COMPLETED,
        TaskState.CANCELLED,
    ]
    restored.complete_user_task(only_task(restored).id, {})
    assert restored.is_completed


def test_an_ad_hoc_loop_started_by_one_instance_leaves_the_shared_spec_as_it_was():
    compiled = compile_process(data_file("ad_hoc.bpmn"))
    [ad_hoc] = compiled.subprocess_specs.values()
    before = [spec.name for spec in ad_hoc.start.outputs]
    first = compiled.start({"n": 0, "done": False})
    ran = [t for t in first.workflow.get_tasks(skip_subprocesses=False) if t.task_spec.name == "count"]
    assert ran and ran[0].state == TaskState.COMPLETED  # its condition held: add_path started it
    assert [spec.name for spec in ad_hoc.start.outputs] == before == ["note"]


def _ad_hoc(condition: str) -> bytes:
    return data_file("ad_hoc.bpmn").replace(
        b"<bpmn:completionCondition>done</bpmn:completionCondition>",
        f"<bpmn:completionCondition>{condition}</bpmn:completionCondition>".encode(),
    )


def test_an_ad_hoc_completion_condition_that_fails_at_the_start_is_an_incident_to_retry():
    instance = compile_process(data_file("ad_hoc.bpmn")).start({"n": 0})  # no "done" yet
    [failure] = instance.failures
    assert failure.element_id == "Start"
    assert "completion condition 'done'" in failure.message and "NameError" in failure.message
    [(task_id, _, _)] = instance.failed_tasks()
    instance.retry(task_id, {"done": False})
    assert instance.failed_tasks() == []
    instance.complete_user_task(only_task(instance).id, {"done": True})
    assert instance.is_completed


def test_an_ad_hoc_completion_condition_that_fails_after_a_task_holds_that_task():
    instance = compile_process(_ad_hoc("done and tries &gt; 1")).start({"n": 0, "done": False})
    instance.complete_user_task(only_task(instance).id, {"done": True})  # "tries" is not defined
    [failure] = instance.failures
    assert failure.element_id == "note" and "NameError" in failure.message
    [(task_id, _, _)] = instance.failed_tasks()
    instance.retry(task_id, {"tries": 2})  # the note's completion runs again, with "tries"
    assert instance.failed_tasks() == [] and instance.open_user_tasks() == []
    assert instance.is_completed


def test_a_retried_ad_hoc_completion_survives_a_reload():
    compiled = compile_process(_ad_hoc("done and tries &gt; 1"))
    instance = compiled.start({"n": 0, "done": False})
    instance.complete_user_task(only_task(instance).id, {"done": True})
    [(task_id, _, _)] = instance.failed_tasks()
    restored = compiled.restore(json.loads(json.dumps(dump_workflow(instance.workflow))))
    restored.retry(task_id, {"tries": 0})  # false now, and evaluated: nothing is held
    assert restored.failed_tasks() == []
    # with no task left to run, the ad-hoc subprocess ends as it does when a condition is false
    assert restored.is_completed
