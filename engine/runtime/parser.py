"""Parse and validate uploaded BPMN/DMN definitions, reporting every problem at once.

BPMN task forms are JSON Schema (Draft 2020-12) stored in the definition itself::

    <bpmn:userTask id="triage" name="Triage">
      <bpmn:extensionElements>
        <sift:form xmlns:sift="https://sift-project.org/schema/bpmn">
          <![CDATA[{"type": "object", ...}]]>
        </sift:form>
      </bpmn:extensionElements>
    </bpmn:userTask>

SpiffWorkflow ignores the ``sift`` namespace; this module reads it with its own lxml pass.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.runtime import callables, expressions, schema, scripts
from engine.runtime.errors import DefinitionInvalid
from engine.runtime.safexml import BPMN_NS, NSMAP, SIFT_NS, SPIFF_NS, MalformedXml, local_name, parse_xml
from engine.runtime.services import registered_services


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition file, located as precisely as we can."""

    element_id: str | None
    element_name: str | None
    message: str
    line: int | None = None
    column: int | None = None

    def as_field(self) -> dict[str, Any]:
        return {
            "element_id": self.element_id,
            "element_name": self.element_name,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }


log = logging.getLogger("sift.runtime")

#: A key becomes part of URLs and database keys: an XML NCName of bounded length.
KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$")
MAX_NAME = 300
UNCHECKED = "Sift could not finish checking this file"


@dataclass
class ParsedDefinition:
    key: str
    kind: str
    name: str | None
    forms: dict[str, dict] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    #: Things that will not stop the file from running but may surprise its owner.
    warnings: list[Problem] = field(default_factory=list)
    #: Deployed processes the file's call activities call (not defined in the file itself).
    calls: list[str] = field(default_factory=list)
    #: Of ``calls``, the keys nothing deployed defines yet: the file is stored, and deploying it
    #: is refused until they are deployed (see ``missing_calls``).
    missing_calls: list[str] = field(default_factory=list)
    #: The key is a collaboration's: all its executable pools start together.
    collaboration: bool = False


def parse_definition(data: bytes, filename: str = "", resolve: Resolver | None = None) -> ParsedDefinition:
    """Validate a BPMN or DMN file (told apart by its root element); raise with ALL problems found.

    Raises UnsafeXml for DTDs/entities and DefinitionInvalid for everything else: whatever the
    bytes, nothing but those two leaves this function.
    """
    root = read_definition_xml(data, filename)
    try:
        parsed, problems = _validate(root, filename, resolve)
    except (RecursionError, MemoryError, Exception) as err:  # a hostile file must never be a 5xx
        log.exception("definition check failed on %s", filename or "upload")
        message = f"{UNCHECKED} ({type(err).__name__}); simplify the part that is nested or huge."
        parsed, problems = None, [Problem(None, None, message)]
    if problems or parsed is None:
        raise DefinitionInvalid(problems, filename)
    return parsed


def _validate(
    root: etree._Element, filename: str, resolve: Resolver | None = None
) -> tuple[ParsedDefinition | None, list[Problem]]:
    kind = _kind(root)
    if kind is None:
        return None, [
            Problem(None, None, "The root element is neither BPMN nor DMN definitions.", root.sourceline)
        ]
    problems = _schema_problems(root, kind)
    if kind == "dmn":
        from engine.runtime.dmn import validate_dmn

        parsed, found = validate_dmn(root)
    else:
        parsed, found, _ = validate_bpmn(root, filename, resolve)
    problems += found
    if parsed is not None:
        problems += _identity_problems(root, parsed) + _storable_problems(parsed)
    return parsed, problems


def _schema_problems(root: etree._Element, kind: str) -> list[Problem]:
    namespace = etree.QName(root).namespace or ""
    xsd = schema.BPMN_XSD if kind == "bpmn" else schema.DMN_XSDS.get(namespace)
    if xsd is None:
        known = ", ".join(schema.DMN_XSDS)
        return [
            Problem(
                None, None, f"Unsupported DMN namespace {namespace!r}; use one of {known}.", root.sourceline
            )
        ]
    found = schema.violations(root, xsd)
    return [
        _located(root, message, line) for message, line in found if not _spiff_dialect(root, message, line)
    ]


def _spiff_dialect(root: etree._Element, message: str, line: int | None) -> bool:
    """What modelers write and SpiffWorkflow reads that the XSD refuses, tolerated: a correlation
    property's retrieval expression as ``formalExpression`` (SpiffWorkflow's form, where the XSD
    has ``messagePath``), and an ``ioSpecification`` without its ``inputSet``/``outputSet``
    (Camunda Modeler and bpmn-js write ``<ioSpecification/>`` and data inputs without sets)."""
    if message.startswith("Element 'ioSpecification': Missing child element(s)."):
        return True
    if not message.startswith("Element 'formalExpression': This element is not expected."):
        return False
    return any(
        local_name(e) == "formalExpression"
        and e.sourceline == line
        and local_name(e.getparent()) == "correlationPropertyRetrievalExpression"
        for e in root.iter(f"{{{BPMN_NS}}}formalExpression")
    )


def _located(root: etree._Element, message: str, line: int | None) -> Problem:
    """Attach an XSD message to the element it names on its line, when that can be told."""
    named = re.match(r"Element '([^']+)'", message)
    for element in root.iter():
        if element.sourceline == line and named and local_name(element) == named.group(1):
            return Problem(element.get("id"), element.get("name"), f"Schema violation: {message}", line)
    return Problem(None, None, f"Schema violation: {message}", line)


def _identity_problems(root: etree._Element, parsed: ParsedDefinition) -> list[Problem]:
    element = next((e for e in root.iter() if isinstance(e.tag, str) and e.get("id") == parsed.key), root)
    problems = []
    if not KEY_PATTERN.match(parsed.key or ""):
        msg = (
            f"The id {parsed.key[:60]!r} cannot be a definition key: use letters, digits, '_', '.' or '-', "
            "starting with a letter or '_', at most 200 characters."
        )
        problems.append(Problem(None, None, msg, element.sourceline))
    if parsed.name and len(parsed.name) > MAX_NAME:
        problems.append(_problem(element, f"The name is longer than {MAX_NAME} characters; shorten it."))
    return problems


def _storable_problems(parsed: ParsedDefinition) -> list[Problem]:
    """Forms and the summary are stored as JSON: no NUL, no lone surrogates, finite numbers."""
    problems = []
    for task_id, form in parsed.forms.items():
        if not _storable(form):
            msg = (
                "The form contains a NUL character, an unpaired surrogate or a non-finite number; remove it."
            )
            problems.append(Problem(task_id, None, msg))
    if not problems and not _storable(parsed.summary):
        problems.append(Problem(None, None, "Names or expressions contain characters that cannot be stored."))
    return problems


def _storable(value: Any, depth: int = 0) -> bool:
    if depth > 200:
        return False
    if isinstance(value, str):
        return "\x00" not in value and _utf8(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_storable(k, depth + 1) and _storable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_storable(v, depth + 1) for v in value)
    return True


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_definition_xml(data: bytes, filename: str = "") -> etree._Element:
    """Safely parse ``data``; text that is not UTF-8 or malformed XML becomes DefinitionInvalid."""
    problem = schema.text_problem(data)
    if problem is not None:
        raise DefinitionInvalid([Problem(None, None, *problem)], filename)
    try:
        return parse_xml(data)
    except MalformedXml as err:
        raise DefinitionInvalid([Problem(None, None, err.message, err.line, err.column)], filename) from None


def _kind(root: etree._Element) -> str | None:
    if local_name(root) != "definitions":
        return None
    namespace = etree.QName(root).namespace or ""
    if namespace == BPMN_NS:
        return "bpmn"
    return "dmn" if "DMN" in namespace.upper() else None


def _problem(element: etree._Element, message: str) -> Problem:
    return Problem(element.get("id"), element.get("name"), message, element.sourceline)


# --- BPMN ---------------------------------------------------------------------------------------


#: Looks up the XML of the deployed version of a process key (None when it is not deployed).
Resolver = Callable[[str], bytes | None]


def validate_bpmn(
    root: etree._Element, filename: str = "", resolve: Resolver | None = None
) -> tuple[ParsedDefinition | None, list[Problem], Any]:
    """Return the parsed definition, the problems and the SpiffWorkflow parser (None if unusable).

    The file's entry, whose id is the key: its one executable process that no other process
    of the file calls; or, when several are called by none and the file's collaboration holds
    them all as pools, the collaboration (all its executable pools start together, and the
    message flows between them are delivered inside the instance). Call activities call a
    process of the same file or a deployed process (``resolve``); one that calls a process
    nothing deployed defines is a warning and a ``missing_calls`` key (the file may be uploaded
    before the process it calls, as Camunda and SpiffWorkflow allow; it deploys only after it).

    A process without ``isExecutable`` is executable, as Camunda 7 reads it; one marked
    ``isExecutable="false"`` is documentation (Camunda skips it, Zeebe refuses it)."""
    processes = root.findall(f"{{{BPMN_NS}}}process")
    executable = [p for p in processes if is_executable(p)]
    if not executable:
        return None, [_no_executable(root, processes)], None
    entry, starts, problems = _entry(root, processes, executable)
    running = _running(processes, starts)
    calls, called_roots, call_problems, missing = _external_calls(running, processes, resolve)
    problems += call_problems
    forms: dict[str, dict] = {}
    bare_timers: list[Problem] = []
    for process in running:
        problems += _check_flows(process)
        found, form_problems = _read_forms(process)
        forms.update(found)
        bare_timers += _quote_bare_timers(process)
        problems += form_problems + _check_scripts(process) + _check_timers(process)
        problems += _check_services(process) + _check_gateways(process) + _check_event_refs(root, process)
        problems += _check_start_events(process) + _check_ad_hoc(process)
    spiff_parser = None
    collaboration = local_name(entry) == "collaboration"
    if not problems:
        spiff_parser, spiff_problems = _spiff_parse(
            root, entry.get("id"), filename, called_roots, collaboration, require_calls=not missing
        )
        problems += spiff_problems
    summary: dict = {"elements": {}, "timers": {}, "forms": forms}
    warnings: list[Problem] = [warning for _key, warning in missing] + bare_timers
    for process in running:
        part = _summary(process, forms)
        summary["elements"].update(part["elements"])
        summary["timers"].update(part["timers"])
        warnings += _warnings(process, forms)
    if calls:
        summary["calls"] = calls
    name = entry.get("name") or (starts[0].get("name") if collaboration else None)
    parsed = ParsedDefinition(
        key=entry.get("id", ""),
        kind="bpmn",
        name=name,
        forms=forms,
        summary=summary,
        warnings=warnings,
        calls=calls,
        missing_calls=sorted({key for key, _warning in missing}),
        collaboration=collaboration,
    )
    return parsed, problems, spiff_parser


def _no_executable(root: etree._Element, processes: list[etree._Element]) -> Problem:
    """Why nothing in the file can run: only black-box pools, or only documentation processes."""
    if not processes:
        msg = (
            "The file has no process: its pools, if any, are black boxes (participants without a "
            "process); draw the process Sift should run inside a pool."
        )
        return Problem(None, None, msg, root.sourceline)
    ids = ", ".join(p.get("id") or "?" for p in processes)
    verb = "is" if len(processes) == 1 else "are all"
    msg = (
        f'No executable process: {ids} {verb} marked isExecutable="false" (documentation only); '
        'mark the process Sift should run isExecutable="true".'
    )
    return Problem(None, None, msg, root.sourceline)


def is_executable(process: etree._Element) -> bool:
    """Executable unless marked ``isExecutable="false"`` (absent: executable, as in Camunda 7)."""
    return process.get("isExecutable", "true").strip().lower() != "false"


def _called_in(process: etree._Element) -> set[str]:
    return {c.get("calledElement") or "" for c in process.iter(f"{{{BPMN_NS}}}callActivity")}


def _entry(
    root: etree._Element, processes: list[etree._Element], executable: list[etree._Element]
) -> tuple[etree._Element, list[etree._Element], list[Problem]]:
    """The element whose id is the key, the processes it starts, and any problem choosing it."""
    called = set().union(*(_called_in(p) for p in processes))
    candidates = [p for p in executable if p.get("id") not in called] or executable[:1]
    if len(candidates) == 1:
        return candidates[0], candidates, []
    collaboration = root.find(f"{{{BPMN_NS}}}collaboration")
    pools = {
        part.get("processRef")
        for part in (collaboration if collaboration is not None else [])
        if local_name(part) == "participant"
    }
    if (
        collaboration is not None
        and collaboration.get("id")
        and all(p.get("id") in pools for p in candidates)
    ):
        return collaboration, candidates, []
    ids = ", ".join(p.get("id", "?") for p in candidates)
    msg = (
        f"More than one executable process that no other calls ({ids}), and no collaboration holds them all "
        "as pools; keep one entry process (the others called by it), or draw them as pools of one collaboration."
    )
    return candidates[0], candidates, [Problem(None, None, msg)]


def _running(processes: list[etree._Element], starts: list[etree._Element]) -> list[etree._Element]:
    """The processes of the file an instance may run: the entry's, and those they call in it."""
    by_id = {p.get("id"): p for p in processes}
    found: dict[str, etree._Element] = {}
    queue = list(starts)
    while queue:
        process = queue.pop()
        if process.get("id") in found:
            continue
        found[process.get("id") or ""] = process
        queue.extend(by_id[c] for c in sorted(_called_in(process)) if c in by_id)
    return list(found.values())


def _external_calls(
    running: list[etree._Element], processes: list[etree._Element], resolve: Resolver | None
) -> tuple[list[str], list[etree._Element], list[Problem], list[tuple[str, Problem]]]:
    """Keys called that the file does not define, the deployed files that define them (and
    what those call in turn), a problem per call activity that names no process, and a
    (key, warning) per call activity whose process nothing deployed defines yet."""
    here = {p.get("id") for p in processes}
    calls: list[str] = []
    problems: list[Problem] = []
    missing: list[tuple[str, Problem]] = []
    for process in running:
        for activity in process.iter(f"{{{BPMN_NS}}}callActivity"):
            key = activity.get("calledElement") or ""
            if key in here:
                continue
            if not key:
                problems.append(_problem(activity, _uncalled(activity)))
            elif resolve is None or resolve(key) is None:
                msg = (
                    f"The call activity calls process {key!r}, which is neither in this file nor deployed "
                    "yet; deploy it before deploying this file (an instance calls the version deployed "
                    "when it starts)."
                )
                missing.append((key, _problem(activity, msg)))
                if key not in calls:
                    calls.append(key)
            elif key not in calls:
                calls.append(key)
    roots: list[etree._Element] = []
    seen = set(here)
    queue = list(calls)
    while queue and resolve is not None:
        key = queue.pop(0)
        if key in seen:
            continue
        seen.add(key)
        data = resolve(key)
        if data is None:
            continue
        called_root = parse_xml(data)
        roots.append(called_root)
        for process in called_root.findall(f"{{{BPMN_NS}}}process"):
            seen.add(process.get("id"))
            queue.extend(sorted(_called_in(process) - seen))
    return sorted(calls), roots, problems, missing


def _flow_nodes(process: etree._Element) -> dict[str, etree._Element]:
    return {el.get("id"): el for el in process.iter() if isinstance(el.tag, str) and el.get("id")}


def _check_flows(process: etree._Element) -> list[Problem]:
    ids = _flow_nodes(process)
    problems = []
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end)
            if not ref or ref not in ids:
                msg = (
                    f"Sequence flow {end} points to {ref!r}, which is not an element of this process; "
                    "reconnect it."
                )
                problems.append(_problem(flow, msg))
    return problems


_META = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def _read_forms(process: etree._Element) -> tuple[dict[str, dict], list[Problem]]:
    forms: dict[str, dict] = {}
    problems: list[Problem] = []
    for task in process.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
        node = task.find(f"{{{BPMN_NS}}}extensionElements/{{{SIFT_NS}}}form")
        if node is None:
            continue
        try:
            schema = json.loads(node.text or "", parse_constant=_no_constant, parse_float=_finite)
        except json.JSONDecodeError as err:
            problems.append(_problem(task, f"The form is not valid JSON ({err.msg} at line {err.lineno})."))
            continue
        except (ValueError, RecursionError):
            problems.append(_problem(task, "The form is nested too deeply or holds a non-finite number."))
            continue
        if not isinstance(schema, dict):  # true/false are JSON Schemas too; a form is served as an object
            problems.append(_problem(task, 'The form must be a JSON Schema object, e.g. {"type": "object"}.'))
            continue
        errors = sorted(_META.iter_errors(schema), key=lambda e: [str(p) for p in e.path])
        for error in errors:
            where = "/".join(str(p) for p in error.path) or "(root)"
            problems.append(
                _problem(task, f"The form is not a valid JSON Schema at {where}: {error.message}.")
            )
        if not errors:
            forms[task.get("id")] = schema
    return forms, problems


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def _sources(process: etree._Element) -> list[tuple[etree._Element, str, str, str]]:
    """Every piece of script in the process: (owning element, source, compile mode, what it is)."""
    found: list[tuple[etree._Element, str, str, str]] = []
    for task in process.iter(f"{{{BPMN_NS}}}scriptTask"):
        script = task.find(f"{{{BPMN_NS}}}script")
        if script is not None and (script.text or "").strip():
            found.append((task, script.text, "exec", "script"))
    for tag, what in (("preScript", "pre-script"), ("postScript", "post-script")):
        for node in process.iter(f"{{{SPIFF_NS}}}{tag}"):
            if (node.text or "").strip():
                found.append((_owner(node), node.text, "exec", what))
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        cond = flow.find(f"{{{BPMN_NS}}}conditionExpression")
        if cond is not None and (cond.text or "").strip():
            found.append((flow, cond.text, "eval", "condition"))
    for tag in ("loopCardinality", "completionCondition", "condition"):
        for node in process.iter(f"{{{BPMN_NS}}}{tag}"):
            if (node.text or "").strip():
                found.append((_owner(node), node.text, "eval", tag))
    for node in process.iter(f"{{{SPIFF_NS}}}parameter"):
        if node.get("value"):
            found.append((_owner(node), node.get("value"), "eval", f"parameter {node.get('id')!r}"))
    for node in process.iter(f"{{{SPIFF_NS}}}messagePayload"):
        if (node.text or "").strip():
            found.append((_owner(node), node.text, "eval", "message payload"))
    return found


def _uncalled(activity: etree._Element) -> str:
    """The message for a call activity without calledElement, naming the Camunda 8 form if it has one."""
    zeebe = activity.find(f".//{{{ZEEBE_NS}}}calledElement")
    if zeebe is not None and zeebe.get("processId"):
        called = zeebe.get("processId")
        return (
            f"The call activity names its process the Camunda 8 way (zeebe:calledElement processId={called!r}), "
            f'which SpiffWorkflow does not read; write calledElement="{called}" on the call activity.'
        )
    return "The call activity names no process (calledElement)."


def _owner(node: etree._Element) -> etree._Element:
    parent = node.getparent()
    while parent is not None and not parent.get("id"):
        parent = parent.getparent()
    return parent if parent is not None else node


_JUEL = re.compile(r"^\s*(?P<open>[$#])\{(?P<inner>.*)\}\s*$", re.DOTALL)
_CRON = re.compile(r"^\s*[0-9*?/,LW#-]+(\s+[0-9A-Za-z*?/,LW#-]+){4,6}\s*$")
_FEEL = re.compile(r"^\s*=(?!=)(?P<inner>.*)$", re.DOTALL)
_FEEL_EQUALS = re.compile(r"(?<![<>!=])=(?!=)")
_JUEL_TO_PYTHON = (
    (re.compile(r"&&"), " and "),
    (re.compile(r"\|\|"), " or "),
    (re.compile(r"!(?!=)"), " not "),
    (re.compile(r"\beq\b"), "=="),
    (re.compile(r"\bne\b"), "!="),
    (re.compile(r"\bnull\b"), "None"),
    (re.compile(r"\btrue\b"), "True"),
    (re.compile(r"\bfalse\b"), "False"),
)


def _foreign_expression(source: str) -> str | None:
    """What a Camunda diagram writes where Sift reads Python: a JUEL ``${...}``/``#{...}`` expression
    (Camunda 7) or a FEEL ``=...`` expression (Camunda 8).

    The message shows the expression as the Python it most likely means (``&&`` as ``and``, ``!`` as
    ``not``, FEEL's ``=`` as ``==`` ...), so the fix is a copy away rather than a second guess.
    """
    found = _JUEL.match(source)
    if found is not None:
        python = found.group("inner")
        for pattern, replacement in _JUEL_TO_PYTHON:
            python = pattern.sub(replacement, python)
        python = " ".join(python.split())[:80]
        delimiters = f"{found.group('open')}{{ }}"
        return (
            f"is a Camunda (JUEL) expression, {source.strip()[:80]!r}; Sift evaluates Python over the "
            f"task data: drop the {delimiters} and write Python, e.g. {python!r}."
        )
    feel = _FEEL.match(source)
    if feel is not None:
        python = _FEEL_EQUALS.sub("==", feel.group("inner"))
        for pattern, replacement in _JUEL_TO_PYTHON[5:]:
            python = pattern.sub(replacement, python)
        python = " ".join(python.split())[:80]
        return (
            f"is a Camunda 8 (FEEL) expression, {source.strip()[:80]!r}; Sift evaluates Python over the "
            f"task data: drop the leading = and write Python, e.g. {python!r}."
        )
    return None


def _check_scripts(process: etree._Element) -> list[Problem]:
    problems = _foreign_scripts(process)
    foreign_tasks = {p.element_id for p in problems}
    for owner, source, mode, what in _sources(process):
        if mode == "exec" and owner.get("id") in foreign_tasks:
            continue
        foreign = _foreign_expression(source) if mode == "eval" else None
        if foreign:
            problems.append(_problem(owner, f"The {what} {foreign}"))
            continue
        try:
            reason = scripts.check_source(source) if mode == "exec" else expressions.check_expression(source)
        except (RecursionError, MemoryError, ValueError) as err:
            reason = f"it is too deeply nested or not compilable ({type(err).__name__})"
        if reason and "SyntaxError" in reason:
            problems.append(_problem(owner, f"The {what} has a syntax error: {reason}"))
        elif reason:
            problems.append(_problem(owner, f"The {what} is refused by the script sandbox: {reason}"))
    return problems


_FOREIGN_LANGUAGES = {
    "javascript",
    "js",
    "ecmascript",
    "groovy",
    "juel",
    "feel",
    "ruby",
    "jruby",
    "nashorn",
    "graal.js",
}


def _foreign_scripts(process: etree._Element) -> list[Problem]:
    """Scripts in a language Sift does not run: a scriptFormat naming JavaScript, Groovy... (Camunda 7,
    Flowable), or a Camunda 8 zeebe:script FEEL expression, which SpiffWorkflow skips without a word."""
    problems = []
    for task in process.iter(f"{{{BPMN_NS}}}scriptTask"):
        script = task.find(f"{{{BPMN_NS}}}script")
        language = (task.get("scriptFormat") or "").strip()
        if language.lower() in _FOREIGN_LANGUAGES:
            msg = (
                f"The script task is in scriptFormat {language!r}; Sift runs only Python scripts over the task "
                "data: rewrite the script in Python and drop the scriptFormat."
            )
            problems.append(_problem(task, msg))
            continue
        feel = task.find(f".//{{{ZEEBE_NS}}}script")
        if feel is None or (script is not None and (script.text or "").strip()):
            continue
        result = feel.get("resultVariable") or "result"
        msg = (
            f"The script task holds a Camunda 8 FEEL expression (zeebe:script {feel.get('expression', '')[:60]!r}), "
            f"which Sift does not run; write it as a Python script of the task, e.g. {result} = ..."
        )
        problems.append(_problem(task, msg))
    return problems


_TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")
_ISO_LOOKING = re.compile(r"^\s*(R\d*/|P\.?\d|PT\.?\d|\d{4}-\d\d-\d\d)")


def _timers(process: etree._Element) -> list[tuple[etree._Element, str, str]]:
    found = []
    for definition in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        for tag in _TIMER_TAGS:
            node = definition.find(f"{{{BPMN_NS}}}{tag}")
            if node is not None:
                found.append((_owner(definition), tag, (node.text or "").strip()))
    return found


_EVENT_REFS = {
    "messageRef": "message",
    "signalRef": "signal",
    "errorRef": "error",
    "escalationRef": "escalation",
}


def _check_event_refs(root: etree._Element, process: etree._Element) -> list[Problem]:
    """A messageRef (signalRef, errorRef, escalationRef) must name a top-level element of that
    kind: SpiffWorkflow 3.2 answers a dangling one with an internal TypeError."""
    problems = []
    for attribute, kind in _EVENT_REFS.items():
        known = {e.get("id") for e in root.findall(f"{{{BPMN_NS}}}{kind}")}
        for node in process.iter():
            ref = node.get(attribute) if isinstance(node.tag, str) else None
            if ref and ref not in known:
                listing = ", ".join(sorted(i for i in known if i)) or "none"
                msg = (
                    f"The {attribute} {ref!r} names no {kind} of this file (its {kind}s: {listing}); "
                    f'add <bpmn:{kind} id="{ref}"/> or pick an existing one.'
                )
                problems.append(_problem(_owner(node) if node.get("id") is None else node, msg))
    return problems


_BARE_ISO = {
    # durations as SpiffWorkflow reads them (a fraction with or without its leading digit)
    "timeDuration": re.compile(
        r"P(?=[\d.])(\d*\.?\d+Y)?(\d*\.?\d+M)?(\d*\.?\d+W)?(\d*\.?\d+D)?"
        r"(T(?=[\d.])(\d*\.?\d+H)?(\d*\.?\d+M)?(\d*\.?\d+S)?)?"
        r"|PT(?=[\d.])(\d*\.?\d+H)?(\d*\.?\d+M)?(\d*\.?\d+S)?"
    ),
    "timeDate": re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?"),
    "timeCycle": re.compile(r"R\d*/[-+:.\dA-Z/]+"),
}


def _quote_bare_timers(process: etree._Element) -> list[Problem]:
    """Camunda, Flowable and bpmn.io write a timer's ISO 8601 value bare (``PT4H``), where
    SpiffWorkflow reads a Python expression (``"PT4H"``). A bare value that is wholly a valid
    ISO 8601 value of its kind is read as that literal: the element's text is quoted in the
    tree SpiffWorkflow parses (the stored file is left as uploaded), with a warning that says so.
    Anything else stays an expression, checked as before."""
    warnings = []
    for definition in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        for tag in _TIMER_TAGS:
            node = definition.find(f"{{{BPMN_NS}}}{tag}")
            value = (node.text or "").strip() if node is not None else ""
            if node is None or not _BARE_ISO[tag].fullmatch(value) or _timer_value_problem(tag, value):
                continue
            node.text = json.dumps(value)
            msg = (
                f"The timer {tag} {value} is written bare, as Camunda writes it; Sift reads it as the "
                f"ISO 8601 literal {node.text} (quote it so SpiffWorkflow itself reads it the same)."
            )
            warnings.append(_problem(_owner(definition), msg))
    return warnings


def _check_timers(process: etree._Element) -> list[Problem]:
    problems = []
    for event, tag, expression in _timers(process):
        message = _timer_problem(tag, expression)
        if message:
            problems.append(_problem(event, message))
    return problems


def _timer_problem(tag: str, expression: str) -> str | None:
    """Evaluate a timer expression in the sandbox with no data; data-dependent ones pass."""
    if not expression:
        return f'The timer has an empty {tag}; give it a quoted ISO 8601 value such as "PT4H".'
    if _ISO_LOOKING.match(expression):
        return (
            f"The timer {tag} {expression!r} is a bare ISO 8601 value, but timer expressions are Python "
            f'expressions: quote it, e.g. "{expression}".'
        )
    foreign = _foreign_expression(expression)
    if foreign:
        return f"The timer {tag} {foreign}"
    if _CRON.match(expression):
        return (
            f"The timer {tag} {expression.strip()!r} is a cron expression (Camunda's Quartz form); "
            'SpiffWorkflow 3 and Sift read ISO 8601: write a quoted cycle such as "R/PT5M" (every 5 minutes).'
        )
    try:
        value = expressions.compile_expression(expression).evaluate({})
    except NameError:
        return None  # reads task data; checked when the timer is entered
    except scripts.Refusal as refusal:
        return f"The timer {tag} is refused by the script sandbox: {refusal.what}"
    except Exception as err:
        return f"The timer {tag} failed to evaluate ({type(err).__name__}); use a quoted ISO 8601 value."
    return _timer_value_problem(tag, value)


_TIMER_EXAMPLES = {"timeDuration": '"PT4H"', "timeDate": '"2026-12-01T09:00:00Z"', "timeCycle": '"R3/PT4H"'}


def _timer_value_problem(tag: str, value: Any) -> str | None:
    parse = {
        "timeDuration": TimerEventDefinition.parse_iso_duration,
        "timeDate": TimerEventDefinition.get_datetime,
        "timeCycle": TimerEventDefinition.parse_iso_recurring_interval,
    }[tag]
    try:
        if not isinstance(value, str):
            raise TypeError
        parse(value)
    except Exception:
        if tag == "timeCycle" and isinstance(value, tuple) and len(value) == 2:
            count, every = value
            return (
                "The timer timeCycle evaluates to a (count, duration) pair, the form older SpiffWorkflow "
                f'versions read; SpiffWorkflow 3 reads an ISO 8601 cycle: write "R{count}/{every}".'
            )
        kind = tag[4:].lower()
        return f"The timer {tag} does not evaluate to an ISO 8601 {kind} string; e.g. {_TIMER_EXAMPLES[tag]}."
    return None


CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
_FOREIGN_CALLS = ("class", "delegateExpression", "expression", "type", "topic")


# The start events SpiffWorkflow 3.2.0 reads (its StartEventParser): it drops any other event
# definition and runs the start as a plain one, so an error event subprocess would run as soon
# as every case opens.
_STARTS_ON = ("message", "signal", "timer", "conditional")


def _start_kinds(start: etree._Element) -> list[str]:
    return [
        local_name(child).removesuffix("EventDefinition")
        for child in start
        if local_name(child).endswith("EventDefinition")
    ]


def _check_start_events(process: etree._Element) -> list[Problem]:
    found = []
    for start in process.iter(f"{{{BPMN_NS}}}startEvent"):
        unread = [kind for kind in _start_kinds(start) if kind not in _STARTS_ON]
        if unread:
            kind = unread[0]
            article = "an" if kind[0] in "aeiou" else "a"
            msg = (
                f"SpiffWorkflow cannot start on {article} {kind} event: it would run this start at once "
                "(an event subprocess as soon as each case opens). Catch the "
                f"{kind} with a boundary event on the task or subprocess that throws it."
            )
            found.append(_problem(start, msg))
    return found


def _check_ad_hoc(process: etree._Element) -> list[Problem]:
    """SpiffWorkflow 3.2.0's ad-hoc paths pop ``data_objects`` from each active task's data,
    which is only there when the subprocess holds a data object: without one it raises
    KeyError as soon as it starts."""
    found = []
    for ad_hoc in process.iter(f"{{{BPMN_NS}}}adHocSubProcess"):
        if ad_hoc.find(f"{{{BPMN_NS}}}dataObject") is None:
            msg = (
                "SpiffWorkflow fails as soon as an ad-hoc subprocess without a data object starts; "
                "add a data object to it, or model the optional work as an embedded subprocess."
            )
            found.append(_problem(ad_hoc, msg))
    return found


def _interrupting_event_starts(process: etree._Element) -> list[Problem]:
    """BPMN's event subprocess starts interrupt unless marked otherwise; SpiffWorkflow 3.2.0
    never reads ``isInterrupting``: the subprocess runs and the rest of the process goes on."""
    found = []
    for subprocess in process.iter(f"{{{BPMN_NS}}}subProcess"):
        if subprocess.get("triggeredByEvent") != "true":
            continue
        for start in subprocess.findall(f"{{{BPMN_NS}}}startEvent"):
            kinds = _start_kinds(start)
            if start.get("isInterrupting", "true") != "false" and kinds and kinds[0] in _STARTS_ON:
                msg = (
                    "The start is interrupting, but SpiffWorkflow runs its event subprocess beside "
                    "the rest of the process, which goes on; mark it non-interrupting, or model the "
                    "interruption with an interrupting boundary event."
                )
                found.append(_problem(start, msg))
    return found


def _check_services(process: etree._Element) -> list[Problem]:
    known = registered_services()
    problems = _foreign_services(process)
    for node in process.iter(f"{{{SPIFF_NS}}}serviceTaskOperator"):
        name = node.get("id")
        if name not in known:
            listing = ", ".join(sorted(known)) or "none registered"
            msg = f"The service operator {name!r} is not registered (known: {listing}); fix the name."
            problems.append(_problem(_owner(node), msg))
    return problems


def _foreign_services(process: etree._Element) -> list[Problem]:
    """Camunda-style calls (Java classes, external topics...) and tasks that call nothing Sift knows."""
    problems = []
    tags = [f"{{{BPMN_NS}}}{t}" for t in ("serviceTask", "sendTask", "businessRuleTask")]
    for task in process.iter(*tags):
        foreign = [a for a in _FOREIGN_CALLS if task.get(f"{{{CAMUNDA_NS}}}{a}")]
        job = task.find(f".//{{{ZEEBE_NS}}}taskDefinition")
        if job is not None:
            msg = (
                f"The task is a Camunda 8 job (zeebe:taskDefinition type {job.get('type')!r}) for an external "
                "worker; Sift only calls operators registered with it: name one with "
                "spiffworkflow:serviceTaskOperator."
            )
            problems.append(_problem(task, msg))
        elif foreign:
            msg = (
                f"The task calls an undeclared service (camunda:{foreign[0]}); Sift only calls operators "
                "registered with it, named by spiffworkflow:serviceTaskOperator."
            )
            problems.append(_problem(task, msg))
        elif local_name(task) == "businessRuleTask":
            msg = "Business rule tasks are not run by Sift; routing decisions are made by the routing table."
            problems.append(_problem(task, msg))
        elif local_name(task) == "serviceTask" and task.find(f".//{{{SPIFF_NS}}}serviceTaskOperator") is None:
            msg = "The service task names no operator; add spiffworkflow:serviceTaskOperator with a registered id."
            problems.append(_problem(task, msg))
    return problems


def _check_gateways(process: etree._Element) -> list[Problem]:
    flows = list(process.iter(f"{{{BPMN_NS}}}sequenceFlow"))
    problems = _empty_conditions(flows)
    gateways = process.iter(f"{{{BPMN_NS}}}exclusiveGateway", f"{{{BPMN_NS}}}inclusiveGateway")
    for gateway in gateways:
        outgoing = [f for f in flows if f.get("sourceRef") == gateway.get("id")]
        default = gateway.get("default")
        if default and default not in {f.get("id") for f in outgoing}:
            msg = f"The gateway's default flow {default!r} does not leave this gateway; pick one of its own flows."
            problems.append(_problem(gateway, msg))
        if len(outgoing) < 2:
            continue
        for flow in outgoing:
            if flow.get("id") == gateway.get("default"):
                continue
            if flow.find(f"{{{BPMN_NS}}}conditionExpression") is None:
                msg = (
                    f"Flow leaving exclusive gateway {gateway.get('id')!r} has no condition and is not the "
                    "gateway's default; add a condition or make it the default flow."
                )
                problems.append(_problem(flow, msg))
    return problems


def _empty_conditions(flows: list[etree._Element]) -> list[Problem]:
    problems = []
    for flow in flows:
        cond = flow.find(f"{{{BPMN_NS}}}conditionExpression")
        if cond is not None and not (cond.text or "").strip():
            msg = "The flow has an empty condition; write a Python expression or remove the condition."
            problems.append(_problem(flow, msg))
    return problems


_KNOWN_CALLS = (
    frozenset(scripts.BASE_GLOBALS)
    | frozenset(scripts.BASE_GLOBALS["__builtins__"])
    | frozenset(callables.FUNCTIONS)
    | {"print"}
)


def _unknown_calls(source: str, mode: str) -> list[str]:
    """Functions a script or expression calls by bare name that neither Sift provides nor the script
    defines: task data is JSON, so no value of it can be called, and the call fails when it runs."""
    try:
        tree = ast.parse(source.strip(), mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    called = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    return sorted({name for name in called if name not in _KNOWN_CALLS and name not in defined})


def _warnings(process: etree._Element, forms: dict[str, dict]) -> list[Problem]:
    """What runs but may not be what the owner meant."""
    found = []
    for owner, source, mode, what in _sources(process):
        for name in _unknown_calls(source, mode):
            msg = (
                f"The {what} calls {name}(), which is neither a Sift helper nor defined in it; "
                "it will fail when it runs."
            )
            found.append(_problem(owner, msg))
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        camunda_form = (
            task.get(f"{{{CAMUNDA_NS}}}formKey") or task.find(f".//{{{CAMUNDA_NS}}}formData") is not None
        )
        if camunda_form or task.find(f".//{{{ZEEBE_NS}}}formDefinition") is not None:
            found.append(_problem(task, "Camunda forms are ignored; Sift forms are sift:form JSON Schema."))
        elif task.get("id") not in forms:
            found.append(_problem(task, "The user task has no form; it is completed with no data."))
    found += _interrupting_event_starts(process)
    flows = list(process.iter(f"{{{BPMN_NS}}}sequenceFlow"))
    for gateway in process.iter(f"{{{BPMN_NS}}}exclusiveGateway"):
        outgoing = [f for f in flows if f.get("sourceRef") == gateway.get("id")]
        if len(outgoing) > 1 and not gateway.get("default"):
            msg = "The gateway has no default flow; a case whose data matches no condition stops here with an error."
            found.append(_problem(gateway, msg))
    return found


def _spiff_parse(
    root: etree._Element,
    key: str | None,
    filename: str,
    called: list[etree._Element] | None = None,
    collaboration: bool = False,
    *,
    require_calls: bool = True,
) -> tuple[Any, list[Problem]]:
    parser = SpiffBpmnParser(validator=None)
    try:
        parser.add_bpmn_xml(root, filename or None)
        for other in called or []:
            parser.add_bpmn_xml(other)
        specs(parser, key, collaboration=collaboration, require_calls=require_calls)
    except ValidationException as err:
        line = err.line_number if isinstance(err.line_number, int) else None
        message = f"{err.args[0] if err.args else 'invalid model'}"
        return None, [Problem(err.id or None, err.name or None, message, line)]
    except Exception as err:
        return None, [
            Problem(None, None, f"SpiffWorkflow could not parse the process ({type(err).__name__}).")
        ]
    return parser, []


def specs(
    parser: Any, key: str | None, *, collaboration: bool, require_calls: bool = True
) -> tuple[Any, dict[str, Any]]:
    """The entry's spec and those of the processes it calls (all pools, for a collaboration);
    ``require_calls`` false leaves a called process that is not there out (validation only:
    for a collaboration it then checks each executable pool and returns no collaboration spec,
    as SpiffWorkflow's ``get_collaboration`` always requires every called process)."""
    if collaboration and require_calls:
        return parser.get_collaboration(key)
    if collaboration:
        found: dict[str, Any] = {}
        for pool in parser.collaborations[key]:
            process_parser = parser.get_process_parser(pool)
            if process_parser is not None and process_parser.process_executable:
                found[pool] = parser.get_spec(pool)
                found.update(_present_subprocess_specs(parser, pool))
        return None, found
    if require_calls:
        return parser.get_spec(key), parser.get_subprocess_specs(key)
    return parser.get_spec(key), _present_subprocess_specs(parser, key)


def _present_subprocess_specs(parser: Any, key: str | None) -> dict[str, Any]:
    """``get_subprocess_specs`` that leaves out called processes which are not there, at any
    depth (SpiffWorkflow's own ``require_call_activity_specs=False`` applies to the top level
    only: a call inside an embedded subprocess still raises)."""
    found: dict[str, Any] = {}
    todo = [key]
    while todo:
        spec = parser.get_spec(todo.pop(), required=False)
        for task_spec in spec.task_specs.values() if spec is not None else ():
            name = str(getattr(task_spec, "spec", ""))
            if isinstance(task_spec, SubWorkflowTask) and name not in found:
                found[name] = parser.get_spec(name, required=False)
                todo.append(name)
    return {name: spec for name, spec in found.items() if spec is not None}


def _summary(process: etree._Element, forms: dict[str, dict]) -> dict:
    elements = {}
    for el in process.iter():
        if isinstance(el.tag, str) and el.get("id") and etree.QName(el).namespace == BPMN_NS:
            elements[el.get("id")] = {"type": local_name(el), "name": el.get("name")}
    timers = {event.get("id"): expression for event, _tag, expression in _timers(process)}
    return {"elements": elements, "timers": timers, "forms": forms}


__all__ = [
    "NSMAP",
    "ParsedDefinition",
    "Problem",
    "parse_definition",
    "validate_bpmn",
]
