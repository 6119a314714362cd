"""A diagram written again by a modeler (bpmn-js) compares unchanged with the file it opened:
indentation, namespace declarations, the expressions' xsi:type and attributes at their default
are how a file is written, not what it says."""

from __future__ import annotations

import re
from pathlib import Path

from engine.processes import diff

SHIPPED = Path(__file__).resolve().parents[2] / "processes"


def _rewritten(xml: bytes) -> bytes:
    text = xml.decode()
    text = re.sub(r"\n\s+<", "\n<", text)  # indentation gone
    text = text.replace(' testBefore="false"', "")  # a default dropped
    text = text.replace(
        "<bpmn:timeDuration>",
        '<bpmn:timeDuration xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="bpmn:tFormalExpression">',
    )
    text = text.replace(' isInterrupting="false"', ' isInterrupting="false" cancelActivity="true"')
    assert text.encode() != xml
    return text.encode()


def test_a_rewritten_diagram_is_unchanged():
    xml = (SHIPPED / "reactive_case.bpmn").read_bytes()
    found = diff.diff(xml, _rewritten(xml))
    assert found["unchanged"] is True, found


def test_what_a_file_says_still_counts():
    xml = (SHIPPED / "reactive_case.bpmn").read_bytes()
    changed = _rewritten(xml).replace(b'testBefore="true"', b"", 1).replace(b">quiet_period<", b">PT1H<", 1)
    found = diff.diff(xml, changed)
    assert not found["unchanged"]
    assert "quiet_period_over" in {c["id"] for c in found["changed"]} or found["timers_changed"]
