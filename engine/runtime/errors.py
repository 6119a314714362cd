"""Errors raised by the runtime; each says what happened and what to fix, never task data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import Conflict, EngineError, InvalidInput, ProcessError

if TYPE_CHECKING:
    from engine.runtime.parser import Problem


class DefinitionInvalid(InvalidInput):
    """A BPMN/DMN file that cannot be deployed; ``problems`` lists everything found, not just the first."""

    def __init__(self, problems: list[Problem], filename: str = "") -> None:
        where = f" in {filename}" if filename else ""
        count = len(problems)
        first = problems[0].message if problems else "unknown problem"
        detail = f"{count} problem(s){where}; first: {first} Fix them all and upload again."
        super().__init__(detail, fields=[p.as_field() for p in problems])
        self.problems = problems


class UnsafeXml(EngineError):
    """XML that uses DTDs, entities or external references; refused before anything reads it."""

    status = 400

    def __init__(self, what: str) -> None:
        super().__init__(
            f"Refused XML: {what}. Remove the DOCTYPE/entity declarations; "
            "BPMN and DMN files never need them."
        )


class ScriptRefused(ProcessError):
    """A script or expression tried something the sandbox does not allow; nothing was changed."""

    def __init__(self, element_id: str | None, what: str) -> None:
        where = f"element {element_id!r}" if element_id else "an expression"
        super().__init__(
            f"Script in {where} was refused: {what}. Scripts may only use plain data and the documented "
            "helpers; change the script and deploy a new version."
        )
        self.element_id = element_id
        self.what = what


class ScriptFailed(ProcessError):
    """A script or expression raised an ordinary error (missing variable, wrong type...)."""

    def __init__(self, element_id: str | None, error: str, line: int | None = None) -> None:
        where = f"element {element_id!r}" if element_id else "an expression"
        at = f" on line {line}" if line else ""
        super().__init__(
            f"Script in {where} failed{at} with {error}; fix the script or the task data it reads."
        )
        self.element_id = element_id


class ServiceFailed(ProcessError):
    """A service task named an unknown operator or its operator raised."""

    def __init__(self, element_id: str | None, operator: str, error: str) -> None:
        super().__init__(
            f"Service task {element_id!r} calling {operator!r} failed: {error}. "
            "Check the operator name and its parameters."
        )
        self.element_id = element_id
        self.operator = operator


class ProcessStalled(ProcessError):
    """The engine stopped with work left to do and nothing to wait for."""

    def __init__(self, key: str, element_ids: list[str]) -> None:
        names = ", ".join(sorted(set(element_ids))[:5]) or "none"
        super().__init__(
            f"Process {key!r} stopped advancing with tasks still ready ({names}) and nothing to wait for; "
            "this happens when a loop runs hundreds of iterations (the task tree exceeds SpiffWorkflow's "
            "depth limit). Model long conversations without unbounded loops (e.g. a message-driven "
            "subprocess or a new case)."
        )
        self.element_ids = element_ids


class TaskNotOpen(Conflict):
    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"Task {task_id} is not an open user task of this instance; "
            "reload the case to see its open tasks."
        )


class StateIncompatible(ProcessError):
    def __init__(self, found: str | None, expected: str) -> None:
        super().__init__(
            f"Instance state was written by serializer {found!r} but this engine reads {expected!r}; "
            "migrate the instance before loading it."
        )


class IncidentNotOpen(Conflict):
    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"Task {task_id} is not a failed task of this instance (it was retried or moved on); "
            "reload the incident to see its status."
        )


class MigrationRefused(Conflict):
    def __init__(self, key: str, element_ids: list[str]) -> None:
        names = ", ".join(element_ids[:10])
        super().__init__(
            f"The instance cannot move to this version of {key!r}: it has run or waits at elements "
            f"the version no longer has ({names}). Keep those element ids in the new version."
        )
        self.element_ids = element_ids
