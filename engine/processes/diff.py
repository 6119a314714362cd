"""What a version changes against another: elements added, removed and changed; forms; timers.

Computed from the stored files (not from summaries stored at upload), so versions uploaded
before this module existed compare the same way.
"""

from __future__ import annotations

from typing import Any

from engine import runtime


def diff(old_xml: bytes | None, new_xml: bytes) -> dict[str, Any]:
    """Summary diff of ``new_xml`` against ``old_xml`` (None: everything is added)."""
    new = runtime.describe_definition(new_xml)
    old = runtime.describe_definition(old_xml) if old_xml is not None else {"elements": {}}
    before, after = old.get("elements", {}), new.get("elements", {})
    changes: dict[str, Any] = {
        "added": [_entry(i, after[i]) for i in after if i not in before],
        "removed": [_entry(i, before[i]) for i in before if i not in after],
        "changed": [
            {**_entry(i, after[i]), "what": _what(before[i], after[i])}
            for i in after
            if i in before and before[i] != after[i]
        ],
    }
    if new.get("kind") == "bpmn":
        changes["forms_changed"] = _keys_changed(old.get("forms", {}), new.get("forms", {}))
        changes["timers_changed"] = [
            {"id": i, "before": old.get("timers", {}).get(i), "after": new.get("timers", {}).get(i)}
            for i in _keys_changed(old.get("timers", {}), new.get("timers", {}))
        ]
    else:
        for part in ("hit_policy", "inputs", "outputs"):
            if old.get(part) != new.get(part):
                changes[f"{part}_changed"] = {"before": old.get(part), "after": new.get(part)}
    changes["unchanged"] = not any(v for k, v in changes.items() if k != "unchanged")
    return changes


def _entry(element_id: str, element: dict[str, Any]) -> dict[str, Any]:
    return {"id": element_id, "type": element.get("type"), "name": element.get("name")}


def _what(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    what = [part for part in ("type", "name") if before.get(part) != after.get(part)]
    if before.get("digest") != after.get("digest") and not what:
        what.append("content")
    return what


def _keys_changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
