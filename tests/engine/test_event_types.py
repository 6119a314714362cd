"""Every event type the engine records is in the catalogue (engine/events/types.py), and the
contract (docs/api.md) lists every catalogued type: a webhook subscriber can know what comes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from engine.events.types import EVENT_TYPES, matches

ROOT = Path(__file__).resolve().parents[2]
DOTTED = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _recorded_literals() -> set[tuple[str, str]]:
    """(file, type) for every ``record(session, "<type>", …)`` call with a literal type, and for
    the literal values assigned to ``event``, ``event_type`` or a ``*_EVENTS`` table (the types a
    status change or a send's outcome records)."""
    found: set[tuple[str, str]] = set()
    for path in (ROOT / "engine").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "record"
            ):
                if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                    found.add((path.name, str(node.args[1].value)))
                elif len(node.args) >= 2 and isinstance(
                    node.args[1], ast.Call
                ):  # {…}.get(x, "a" if … else "b")
                    for sub in ast.walk(node.args[1]):
                        if (
                            isinstance(sub, ast.Constant)
                            and isinstance(sub.value, str)
                            and DOTTED.match(sub.value)
                        ):
                            found.add((path.name, sub.value))
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and (t.id.endswith("_EVENTS") or t.id in ("event", "event_type"))
                for t in node.targets
            ):
                for sub in ast.walk(node.value):
                    if (
                        isinstance(sub, ast.Constant)
                        and isinstance(sub.value, str)
                        and DOTTED.match(sub.value)
                    ):
                        found.add((path.name, sub.value))
    return found


def test_the_scan_finds_the_events_it_should():
    types = {t for _, t in _recorded_literals()}
    assert {
        "case.opened",
        "case.resolved",
        "case.reopened",
        "task.completed",
        "reply.queued",
        "webhook.disabled",
    } <= types


def test_every_recorded_event_type_is_in_the_catalogue():
    missing = sorted(f"{f}: {t}" for f, t in _recorded_literals() if t not in EVENT_TYPES)
    assert not missing, f"add these to engine/events/types.py and to docs/api.md: {missing}"


def test_the_contract_lists_every_catalogued_event_type_with_whether_it_is_delivered():
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("### Event types", 1)[1].split("\n## ", 1)[0]
    for event_type, (delivered, _) in EVENT_TYPES.items():
        assert f"`{event_type}`" in section, f"docs/api.md does not list {event_type}"
        marked = any(f"`{event_type}` ({mark})" in section for mark in ("timeline only", "audit only"))
        assert marked is not delivered, (
            f"{event_type}: delivered={delivered}, but the contract says otherwise"
        )


def test_patterns_match_exact_types_prefixes_and_everything():
    assert matches(["*"], "case.opened")
    assert matches(["case.*"], "case.opened") and not matches(["case.*"], "cases.opened")
    assert matches(["sla.breached"], "sla.breached") and not matches(["sla.breached"], "sla.warning")
