"""The template syntax of canned replies, checked and filled by hand.

A body is plain text with placeholders ``{{name}}`` or ``{{name|fallback}}``: ``name`` is one of
:data:`VARIABLES` and ``fallback`` is literal text used when the variable has no value. ``{{``
always opens a placeholder (a body cannot hold a literal ``{{``); a lone ``}}`` is text.

Filling is one left-to-right scan that copies text and looks each name up in a dictionary of
strings: no attribute access, no expressions, no formatting mini-language, and a value is never
scanned again, so a customer called ``{{case.id}}`` stays ``{{case.id}}``. That is why this is a
few lines by hand rather than ``str.format`` (which reaches attributes and indexes of its
arguments) or Jinja (a language whose sandbox is one more thing to keep closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidInput

# name -> (what it is, may a caller supply it at respond time)
VARIABLES: dict[str, tuple[str, bool]] = {
    "customer.name": ("the customer's display name (their name on the channel, else their handle)", True),
    "customer.handle": ("the author handle of the customer's latest message in the case, e.g. @jane", False),
    "case.id": ("the case's id", False),
    "case.topic": ("the case's topic, e.g. delivery (none until routing or triage sets one)", False),
    "order_id": ("the newest order number the NLP found in the case's messages, or one given", True),
    "agent.name": ("the name of the key completing the task", False),
}
SUPPLIED = frozenset(name for name, (_, supplied) in VARIABLES.items() if supplied)

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]{0,63})\s*(?:\|([^{}|]{0,200}))?\}\}")
MAX_VALUE = 200


class MalformedTemplate(InvalidInput):
    def __init__(self, position: int) -> None:
        super().__init__(
            f"The body has a '{{{{' at character {position} that does not open a placeholder "
            "{{name}} or {{name|fallback}}; fix or remove it ('{{' always opens a variable).",
            fields=[{"field": "body", "message": f"malformed placeholder at character {position}"}],
        )


class UnknownVariable(InvalidInput):
    def __init__(self, name: str, field: str = "body") -> None:
        known = ", ".join(VARIABLES)
        super().__init__(
            f"Unknown variable {name!r}; a canned reply may use: {known}.",
            fields=[{"field": field, "message": f"unknown variable {name}"}],
        )


class MissingVariable(InvalidInput):
    def __init__(self, name: str) -> None:
        hint = (
            f'pass it in "variables" ({{"{name}": "…"}})'
            if name in SUPPLIED
            else "this case has none; use a fallback in the template ({{" + name + "|…}})"
        )
        super().__init__(
            f"The canned reply needs {name!r}, which has no value for this case: {hint}.",
            fields=[{"field": f"variables.{name}", "message": "no value and no fallback"}],
        )


@dataclass(frozen=True)
class Placeholder:
    start: int
    end: int
    name: str
    fallback: str | None


def placeholders(body: str) -> list[Placeholder]:
    """Every placeholder of ``body`` in order; raises on a malformed one or an unknown name."""
    found: list[Placeholder] = []
    at = body.find("{{")
    while at != -1:
        match = _PLACEHOLDER.match(body, at)
        if match is None:
            raise MalformedTemplate(at)
        name, fallback = match.group(1), match.group(2)
        if name not in VARIABLES:
            raise UnknownVariable(name)
        found.append(Placeholder(at, match.end(), name, None if fallback is None else fallback.strip()))
        at = body.find("{{", match.end())
    return found


def variables_of(body: str) -> list[str]:
    """The variables ``body`` uses, each once, in order of first use."""
    return list(dict.fromkeys(p.name for p in placeholders(body)))


def render(body: str, values: dict[str, str | None]) -> str:
    """``body`` with each placeholder replaced by its value, else its fallback; a variable with
    neither is a :class:`MissingVariable`."""
    parts: list[str] = []
    at = 0
    for p in placeholders(body):
        value = values.get(p.name)
        if value is None or not value.strip():
            if p.fallback is None:
                raise MissingVariable(p.name)
            value = p.fallback
        parts += [body[at : p.start], clean(value)]
        at = p.end
    parts.append(body[at:])
    return "".join(parts)


def clean(value: str) -> str:
    """A value as it goes into a reply: one line, whitespace folded, at most MAX_VALUE characters."""
    return " ".join(value.split())[:MAX_VALUE]
