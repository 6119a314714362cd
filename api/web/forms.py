"""A user task's JSON Schema as form fields: enums as selects, booleans as checkboxes, numbers as
number inputs, long text (a reply, a note, a reason) as a text area. Conditional rules
(``if``/``then``) are not drawn: the server checks the whole schema on completion and its field
errors are shown beside the fields they name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LONG_TEXT = ("reply", "note", "reason", "comment", "summary", "message", "body")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str
    widget: str  # select | checkbox | textarea | input
    required: bool
    options: tuple[str, ...]
    value: Any


def fields(form: dict[str, Any], defaults: dict[str, Any]) -> list[Field]:
    """The form's top-level properties in their written order, with values from the task's data,
    else ``defaults`` (the case's own values), else the schema's default."""
    required = set(form.get("required") or ())
    out = []
    for name, prop in (form.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        kind = _type(prop)
        out.append(
            Field(
                name=name,
                label=str(prop.get("title") or name.replace("_", " ").capitalize()),
                type=kind,
                widget=_widget(name, prop, kind),
                required=name in required,
                options=tuple(str(v) for v in prop.get("enum") or ()),
                value=defaults.get(name, prop.get("default")),
            )
        )
    return out


def _type(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _widget(name: str, prop: dict[str, Any], kind: str) -> str:
    if prop.get("enum"):
        return "select"
    if kind == "boolean":
        return "checkbox"
    long = name in LONG_TEXT or int(prop.get("maxLength") or 0) > 200
    return "textarea" if kind == "string" and long else "input"
