"""DMN decision tables, evaluated by the bounded expression evaluator (expressions.py).

SpiffWorkflow's DMN engine needs a BPMN task to evaluate against, supports no FIRST hit policy
and does not report which rule fired; Sift routes every signal through a table and must answer
"why did this open a P1?", so tables are read with lxml and evaluated here.

Cell semantics (Python expressions, evaluated with the context's keys as variables):

- input expression: any expression, e.g. ``intent`` or ``influence``;
- input entry: empty or ``-`` matches anything; an entry starting with a comparison
  (``>= 0.7``, ``< 3``, ``!= "spam"``, ``in ("a", "b")``, ``not in (...)``) is applied to the input;
  an entry containing ``?`` is a boolean expression with ``?`` standing for the input
  (``0.3 <= ? < 0.7``); anything else is a value (or a comma-separated list of values)
  the input must equal (``"complaint"``, ``"question", "praise"``);
- output entry: an expression for the value; empty means None.

Hit policies: FIRST and UNIQUE (first matching rule wins; UNIQUE is not checked for overlap)
and COLLECT (a list of every matching rule's outputs).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.runtime import expressions, scripts
from engine.runtime.errors import DefinitionInvalid, ScriptFailed, ScriptRefused
from engine.runtime.parser import ParsedDefinition, Problem, _problem, read_definition_xml
from engine.runtime.safexml import local_name

HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
#: typeRef values Sift understands, and the Python types a literal cell of that type may hold.
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "boolean": (bool,),
    "date": (str,),
    "datetime": (str,),
    "time": (str,),
    "duration": (str,),
    "any": (object,),
}
_COMPARISON = re.compile(r"^\s*(<=|>=|<|>|==|!=|not\s+in\s|in\s)")
_PLACEHOLDER = re.compile(r"\?(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*$)")
INPUT_NAME = "dmn_input"
_BOUND = (INPUT_NAME,)  # input entries read the input's value as a bound name, not from the context


@dataclass(frozen=True)
class DecisionResult:
    outputs: dict
    matched: bool
    rule_id: str | None = None
    rule_index: int | None = None
    rule_description: str | None = None
    matches: list[dict] = field(default_factory=list)  # COLLECT: every matching rule's outputs


@dataclass
class _Rule:
    id: str | None
    index: int
    description: str | None
    tests: list[Any]  # compiled test per input, None = any
    outputs: list[Any]  # compiled output expression, None = null


@dataclass
class _Table:
    key: str
    name: str | None
    hit_policy: str
    inputs: list[tuple[str, Any]]  # (input id, compiled expression)
    output_names: list[str]
    rules: list[_Rule]


def entry_expression(text: str) -> str | None:
    """The boolean expression (over ``dmn_input``) an input entry stands for; None = matches all."""
    text = (text or "").strip()
    if text in ("", "-"):
        return None
    if _COMPARISON.match(text):
        return f"{INPUT_NAME} {text}"
    if _PLACEHOLDER.search(text):
        return _PLACEHOLDER.sub(INPUT_NAME, text)
    return f"{INPUT_NAME} in ({text},)"


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if local_name(c) == name]


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    node = next((c for c in element if local_name(c) == "text"), None)
    return (node.text or "").strip() if node is not None else ""


def _compile(
    element: etree._Element,
    source: str | None,
    what: str,
    problems: list[Problem],
    bound: tuple[str, ...] = (),
) -> Any:
    if source is None or source == "":
        return None
    try:
        return expressions.compile_expression(source, bound)
    except scripts.Refusal as refusal:
        problems.append(_problem(element, f"The {what} {source[:80]!r} does not compile: {refusal.what}"))
    except (RecursionError, MemoryError, ValueError) as err:
        problems.append(
            _problem(element, f"The {what} is nested too deeply to compile ({type(err).__name__}).")
        )
    return None


def _type_of(node: etree._Element, problems: list[Problem]) -> tuple[str, tuple[type, ...]]:
    """The declared typeRef of an input or output ('any' when absent); unknown names are problems."""
    holder = next((c for c in node if local_name(c) == "inputExpression"), node)
    name = (holder.get("typeRef") or "any").strip()
    allowed = TYPES.get(name.lower())
    if allowed is None:
        problems.append(_problem(node, f"Unknown typeRef {name!r}; use one of {', '.join(TYPES)}."))
        return name, (object,)
    return name, allowed


def _check_literal(
    element: etree._Element, text: str, type_: tuple[str, tuple[type, ...]], problems: list[Problem]
) -> None:
    """A cell that is a literal (or a list of literals) must hold the column's type."""
    name, allowed = type_
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return  # an expression, checked when it runs
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        wrong = item is not None and not isinstance(item, allowed)
        if wrong or (bool not in allowed and isinstance(item, bool) and object not in allowed):
            problems.append(
                _problem(element, f"The value {text.strip()[:80]!r} is not of the column's type {name}.")
            )
            return


def _read_table(root: etree._Element) -> tuple[_Table | None, list[Problem]]:
    decisions = [d for d in root if local_name(d) == "decision"]
    tables = [(d, t) for d in decisions for t in d if local_name(t) == "decisionTable"]
    if not tables:
        return None, [
            Problem(None, None, "The DMN file has no decision with a decision table.", root.sourceline)
        ]
    decision, table = tables[0]
    problems: list[Problem] = []
    hit_policy = table.get("hitPolicy", "UNIQUE")
    if hit_policy not in HIT_POLICIES:
        msg = f"Hit policy {hit_policy} is not supported; use one of {', '.join(HIT_POLICIES)}."
        problems.append(_problem(table if table.get("id") else decision, msg))
    inputs = []
    input_types = []
    for node in _children(table, "input"):
        expression = _text(next((c for c in node if local_name(c) == "inputExpression"), None))
        if not expression:
            problems.append(_problem(node, "The input has no expression; name the context key it reads."))
        inputs.append((node.get("id"), _compile(node, expression, "input expression", problems)))
        input_types.append(_type_of(node, problems))
    output_nodes = _children(table, "output")
    outputs = [o.get("name") or o.get("id") for o in output_nodes]
    problems += _output_name_problems(output_nodes, outputs)
    types = (input_types, [_type_of(o, problems) for o in output_nodes])
    rules = [_read_rule(rule, i, types, problems) for i, rule in enumerate(_children(table, "rule"))]
    if not rules:
        problems.append(_problem(table if table.get("id") else decision, "The table has no rules."))
    return _Table(decision.get("id"), decision.get("name"), hit_policy, inputs, outputs, rules), problems


def _output_name_problems(nodes: list[etree._Element], names: list[str | None]) -> list[Problem]:
    problems = []
    if not nodes:
        return [Problem(None, None, "The table has no outputs; add at least one output column.")]
    for node, name in zip(nodes, names, strict=True):
        if not name:
            problems.append(
                _problem(node, "The output has no name; name it (routing reads outputs by name).")
            )
        elif names.count(name) > 1:
            problems.append(_problem(node, f"Two outputs are named {name!r}; output names must be unique."))
    return problems


_Types = tuple[list[tuple[str, tuple[type, ...]]], list[tuple[str, tuple[type, ...]]]]


def _read_rule(rule: etree._Element, index: int, types: _Types, problems: list[Problem]) -> _Rule:
    input_types, output_types = types
    entries = _children(rule, "inputEntry")
    out_entries = _children(rule, "outputEntry")
    if len(entries) != len(input_types):
        problems.append(
            _problem(rule, f"The rule has {len(entries)} input entries for {len(input_types)} inputs.")
        )
    if len(out_entries) != len(output_types):
        msg = f"The rule has {len(out_entries)} output entries for {len(output_types)} outputs."
        problems.append(_problem(rule, msg))
    tests = [_compile(e, entry_expression(_text(e)), "input entry", problems, _BOUND) for e in entries]
    for entry, type_ in zip(entries, input_types, strict=False):
        if (
            _text(entry) not in ("", "-")
            and entry_expression(_text(entry)) == f"{INPUT_NAME} in ({_text(entry)},)"
        ):
            _check_literal(entry, _text(entry), type_, problems)
    for entry, type_ in zip(out_entries, output_types, strict=False):
        if _text(entry):
            _check_literal(entry, _text(entry), type_, problems)
    outputs = [_compile(e, _text(e), "output entry", problems) for e in out_entries]
    node = next((c for c in rule if local_name(c) == "description"), None)
    description = (node.text or "").strip() or None if node is not None else None
    return _Rule(rule.get("id"), index, description, tests, outputs)


def validate_dmn(root: etree._Element) -> tuple[ParsedDefinition | None, list[Problem]]:
    table, problems = _read_table(root)
    if table is None:
        return None, problems
    summary = {
        "hit_policy": table.hit_policy,
        "outputs": table.output_names,
        "rules": [{"id": r.id, "description": r.description} for r in table.rules],
    }
    return ParsedDefinition(key=table.key, kind="dmn", name=table.name, summary=summary), problems


def describe_dmn(root: etree._Element) -> dict:
    """Rules (with a digest of their cells), hit policy, inputs and outputs of the first table."""
    from engine.runtime.describe import digest

    table = next(
        t for d in root if local_name(d) == "decision" for t in d if local_name(t) == "decisionTable"
    )
    rules = {
        rule.get("id") or f"rule {i + 1}": {
            "type": "rule",
            "name": _description(rule),
            "digest": digest(rule),
        }
        for i, rule in enumerate(_children(table, "rule"))
    }
    return {
        "kind": "dmn",
        "hit_policy": table.get("hitPolicy", "UNIQUE"),
        "inputs": [
            _text(next((c for c in i if local_name(c) == "inputExpression"), None))
            for i in _children(table, "input")
        ],
        "outputs": [o.get("name") or o.get("id") for o in _children(table, "output")],
        "elements": rules,
    }


def _description(rule: etree._Element) -> str | None:
    node = next((c for c in rule if local_name(c) == "description"), None)
    return (node.text or "").strip() or None if node is not None else None


class CompiledDecision:
    """A parsed decision table; evaluate it against a plain-data context."""

    def __init__(self, table: _Table) -> None:
        self._table = table
        self.key = table.key
        self.hit_policy = table.hit_policy

    def evaluate(self, context: dict) -> DecisionResult:
        run = expressions.Run.from_settings()  # one budget for the whole table
        inputs = [
            {INPUT_NAME: self._run(expr, context, input_id, run)} for input_id, expr in self._table.inputs
        ]
        matches = []
        for rule in self._table.rules:
            if self._matches(rule, inputs, context, run):
                matches.append(rule)
                if self.hit_policy != "COLLECT":
                    break
        if not matches:
            return DecisionResult(outputs={}, matched=False)
        first = matches[0]
        outputs = [self._outputs(rule, context, run) for rule in matches]
        return DecisionResult(
            outputs=outputs[0],
            matched=True,
            rule_id=first.id,
            rule_index=first.index,
            rule_description=first.description,
            matches=outputs if self.hit_policy == "COLLECT" else [],
        )

    def _matches(self, rule: _Rule, inputs: list[dict], context: dict, run: expressions.Run) -> bool:
        for test, bound in zip(rule.tests, inputs, strict=False):
            if test is not None and not self._run(test, context, rule.id, run, bound):
                return False
        return True

    def _outputs(self, rule: _Rule, context: dict, run: expressions.Run) -> dict:
        return {
            name: self._run(expr, context, rule.id, run) if expr is not None else None
            for name, expr in zip(self._table.output_names, rule.outputs, strict=False)
        }

    @staticmethod
    def _run(
        expr: expressions.Expression,
        context: dict,
        element_id: str | None,
        run: expressions.Run,
        bound: dict | None = None,
    ) -> Any:
        try:
            return expr.evaluate(context, bound, run)
        except scripts.Refusal as refusal:
            raise ScriptRefused(element_id, refusal.what) from None
        except Exception as err:
            detail = f"NameError ({err})" if isinstance(err, NameError) else type(err).__name__
            raise ScriptFailed(element_id, detail) from None


def compile_decision(xml: bytes) -> CompiledDecision:
    """Validate and compile a DMN decision table once; callers cache it by (key, version)."""
    table, problems = _read_table(read_definition_xml(xml))
    if problems or table is None:
        raise DefinitionInvalid(problems)
    return CompiledDecision(table)
