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
    dct = dict(state)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=ENGINE, deserializing=True)
    workflow.tasks = _CONVERTER.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
    workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
    _CONVERTER.set_default_attributes(workflow, dct)
    _CONVERTER.subprocesses_from_dict(dict(dct.get("subprocesses", {})), workflow)
    workflow.bpmn_events = _REGISTRY.restore(dct.get("bpmn_events", []))
    workflow.script_engine = ENGINE
    return workflow


def full_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The serializer's complete ``to_dict`` (with specs); for tests and the baseline."""
    return SERIALIZER.to_dict(workflow)
