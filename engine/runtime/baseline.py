"""The bare SpiffWorkflow baseline the ingest benchmark divides by.

Nothing of Sift's runtime is used here: SpiffWorkflow's own parser, its default script engine and
its serializer, the way a minimal integration would run a case. The benchmark reports Sift's
rate as a ratio of this one measured in the same run on the same machine.
"""

from __future__ import annotations

import json
import time

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG


def bare_spiff_rate(xml: bytes, n: int, data: dict | None = None) -> float:
    """Instances/second: start to the first wait state (the start seeded with ``data``, as Sift
    seeds its cases), then serialize without the spec to JSON."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True)))
    key = parser.get_process_ids()[0]
    spec, subprocess_specs = parser.get_spec(key), parser.get_subprocess_specs(key)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    started = time.perf_counter()
    for _ in range(n):
        workflow = BpmnWorkflow(spec, subprocess_specs)
        if data:
            workflow.task_tree.data.update(data)
        workflow.do_engine_steps()
        state = serializer.to_dict(workflow)
        del state["spec"], state["subprocess_specs"]
        json.dumps(state)
    return n / (time.perf_counter() - started)
