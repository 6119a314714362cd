"""Instance state without the spec: SpiffWorkflow's versioned serializer, minus what every
instance of a version shares.

A dump is exactly ``BpmnWorkflowSerializer.to_dict(workflow)`` without ``spec`` and
``subprocess_specs`` (never computed: converting the spec is half the cost), plus
``serializer_version`` (SpiffWorkflow's format) and ``sift_state`` (ours). Restoring builds the
workflow around the compiled version's in-memory spec objects and re-attaches the restricted
script engine, which SpiffWorkflow would otherwise silently replace with an unrestricted one.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_VERSION
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.runtime.engine import ENGINE
from engine.runtime.errors import StateIncompatible

SIFT_STATE = 1
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG), version=SPIFF_VERSION)
_REGISTRY = SERIALIZER.registry
# The BpmnWorkflow converter (registered as a bound ``from_dict`` wrapped in a partial).
_CONVERTER = _REGISTRY.convert_from_dict[_REGISTRY.typenames[BpmnWorkflow]].args[0].__self__


def dump_workflow(workflow: BpmnWorkflow) -> dict[str, Any]:
    """JSON-able state of ``workflow`` without its specs."""
    state = super(type(_CONVERTER), _CONVERTER).to_dict(workflow)
    state["subprocesses"] = _CONVERTER.mapping_to_dict(workflow.subprocesses)
    state["bpmn_events"] = _REGISTRY.convert(workflow.bpmn_events)
    state["typename"] = _REGISTRY.typenames[BpmnWorkflow]
    state[SERIALIZER.VERSION_KEY] = SERIALIZER.VERSION
    state["sift_state"] = SIFT_STATE
    return state


def restore_workflow(state: dict[str, Any], spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """Rebuild a workflow from :func:`dump_workflow` output around already-parsed specs."""
    found = state.get(SERIALIZER.VERSION_KEY)
    if found != SERIALIZER.VERSION or state.get("sift_state") != SIFT_STATE:
        raise StateIncompatible(f"{found}/{state.get('sift_state')}", f"{SERIALIZER.VERSION}/{SIFT_STATE}")
    dct = _in_tree_order(state)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=ENGINE, deserializing=True)
    workflow.tasks = _CONVERTER.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
    workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
    _CONVERTER.set_default_attributes(workflow, dct)
    _CONVERTER.subprocesses_from_dict(dict(dct.get("subprocesses", {})), workflow)
    workflow.bpmn_events = _REGISTRY.restore(dct.get("bpmn_events", []))
    workflow.script_engine = ENGINE
    return workflow


def _in_tree_order(state: dict[str, Any]) -> dict[str, Any]:
    """The state with each workflow's tasks listed parents first.

    SpiffWorkflow 3.2.0 stores a task's data as a delta against its parent's and restores it by
    looking the parent up among the tasks restored so far: a task restored before its parent
    silently gets empty data. JSON keeps the insertion order (parents first), but PostgreSQL's
    JSONB orders keys by length and bytes, i.e. at random for task ids; measured here, a
    reactive case restored from such an order lost the data its scripts had set."""
    dct = dict(state)
    dct["tasks"] = _tasks_in_tree_order(dct["tasks"], dct["root"])
    subprocesses = dict(dct.get("subprocesses", {}))
    for key, sub in subprocesses.items():
        subprocesses[key] = {**sub, "tasks": _tasks_in_tree_order(sub["tasks"], sub["root"])}
    dct["subprocesses"] = subprocesses
    return dct


def _tasks_in_tree_order(tasks: dict[str, Any], root: str) -> dict[str, Any]:
    ordered: dict[str, Any] = {}
    queue = [root]
    while queue:
        task_id = queue.pop()
        task = tasks.get(task_id)
        if task is None or task_id in ordered:
            continue
        ordered[task_id] = task
        queue.extend(reversed(task.get("children", [])))
    for task_id, task in tasks.items():  # anything unreachable from the root keeps its place, last
        ordered.setdefault(task_id, task)
    return ordered


def full_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The serializer's complete ``to_dict`` (with specs); for tests and the baseline."""
    return SERIALIZER.to_dict(workflow)
