"""Describe stored definitions for diffs: which elements, what each says (a digest), forms, timers."""

from __future__ import annotations

import copy
import hashlib

from lxml import etree

from engine.runtime.parser import _kind, _read_forms, _timers, is_executable, read_definition_xml
from engine.runtime.safexml import BPMN_NS, local_name

_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")


def describe_definition(data: bytes) -> dict:
    """What a stored (already valid) file contains, for diffs: its flow elements with a digest of
    their content, forms by task and timers by event; DMN: rules, inputs and outputs."""
    root = read_definition_xml(data)
    if _kind(root) == "dmn":
        from engine.runtime.dmn import describe_dmn

        return describe_dmn(root)
    process = next(p for p in root.findall(f"{{{BPMN_NS}}}process") if is_executable(p))
    forms, _ = _read_forms(process)
    elements = {}
    for el in process.iter():
        parent = el.getparent()
        inside = parent is not None and local_name(parent) in _CONTAINERS
        if inside and isinstance(el.tag, str) and el.get("id") and local_name(el) != "laneSet":
            elements[el.get("id")] = {"type": local_name(el), "name": el.get("name"), "digest": digest(el)}
    timers = {event.get("id"): expression for event, _tag, expression in _timers(process)}
    return {"kind": "bpmn", "elements": elements, "forms": forms, "timers": timers}


_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
#: attributes at the value BPMN gives them when absent (a modeler may write or drop them)
_DEFAULTS = {
    "testBefore": "false",
    "isForCompensation": "false",
    "triggeredByEvent": "false",
    "cancelActivity": "true",
    "isInterrupting": "true",
    "parallelMultiple": "false",
    "isSequential": "false",
    "startQuantity": "1",
    "completionQuantity": "1",
}


def digest(element: etree._Element) -> str:
    """A hash of what an element says, ignoring its links (flows carry those) and nested elements,
    and how the file was written: indentation, where namespaces are declared, and the
    ``xsi:type="tFormalExpression"`` a modeler writes on expressions (their type anyway) and
    attributes written at their default, so a
    diagram saved again by bpmn-js compares equal to the file it opened."""
    clone = copy.deepcopy(element)
    for child in list(clone):
        if not isinstance(child.tag, str):
            continue
        nested = local_name(element) in _CONTAINERS[1:] and child.get("id")
        if local_name(child) in ("incoming", "outgoing") or nested:
            clone.remove(child)
    for node in clone.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
        if not isinstance(node.tag, str):
            continue
        if node.get(_XSI_TYPE, "").endswith("tFormalExpression"):
            del node.attrib[_XSI_TYPE]
        for name, default in _DEFAULTS.items():
            if node.get(name) == default:
                del node.attrib[name]
    clone.tail = None
    return hashlib.sha256(etree.tostring(clone, method="c14n", exclusive=True)).hexdigest()[:16]
