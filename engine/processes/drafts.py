"""Work-in-progress drafts: a process owner's unfinished diagram of a key, kept whatever its
problems so nothing is lost, with the problems found at each save.

A draft is not a version: no version number, nothing to deploy or start. It becomes a version
only through the validated upload (``service.upload``), which can discard it in the same
transaction. One draft per key. A save may name the draft it replaces (``replaces``: its
sha256, or ``none`` for no draft), so two owners editing one key do not overwrite each other's
work unawares: a save that finds another draft is refused (``DraftChanged``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.errors import Conflict, EngineError, NotFound
from engine.processes import service as definitions
from engine.processes.models import ProcessDefinition, ProcessDraft


class DraftNotFound(NotFound):
    def __init__(self, key: str) -> None:
        EngineError.__init__(
            self,
            f"{key!r} has no work-in-progress draft; save one with PUT /api/v1/processes/{key}/draft "
            "(the modeler's Save draft).",
        )


NO_DRAFT = "none"  # ``replaces`` when the save expects no draft of the key


class DraftChanged(Conflict):
    def __init__(self, draft: ProcessDraft | None) -> None:
        if draft is None:
            found = "The draft this save would replace is gone (discarded or saved as a version)"
        else:
            found = (
                f"{draft.key!r} has another work-in-progress draft, saved by {draft.saved_by} at "
                f"{draft.saved_at:%Y-%m-%d %H:%M} UTC"
            )
        super().__init__(
            f"{found}; nothing was saved. Open the draft there is (or discard it), then save again, "
            "or save with replaces set to its sha256."
        )


def find(session: Session, key: str) -> ProcessDraft | None:
    return session.get(ProcessDraft, key)


def get(session: Session, key: str) -> ProcessDraft:
    definitions.get_definition(session, key)
    draft = find(session, key)
    if draft is None:
        raise DraftNotFound(key)
    return draft


def save(
    session: Session,
    key: str,
    data: bytes,
    *,
    filename: str = "",
    base_version: int | None = None,
    replaces: str | None = None,
    actor: str,
) -> ProcessDraft:
    """Stores ``data`` as ``key``'s draft, replacing the one before, with what validating it
    finds now (as ``POST /api/v1/processes:validate`` would, plus a file whose id or kind is not
    this key's). Refuses what is refused before parsing (DTDs and entities), and a save whose
    ``replaces`` is not the draft there is."""
    definition = session.get(ProcessDefinition, key, with_for_update=True)
    if definition is None:
        raise NotFound("process definition", key)
    draft = find(session, key)
    if replaces is not None and replaces != (draft.sha256 if draft else NO_DRAFT):
        raise DraftChanged(draft)
    if base_version is not None:
        definitions.get_version(session, key, base_version)
    found = definitions.check(session, data, filename)
    problems = found["problems"] or _belongs_elsewhere(definition, found)
    if draft is None:
        draft = ProcessDraft(key=key, created_at=utcnow())
        session.add(draft)
    draft.xml, draft.sha256, draft.base_version = data, hashlib.sha256(data).hexdigest(), base_version
    draft.valid, draft.problems, draft.warnings = not problems, problems, found["warnings"]
    draft.saved_by, draft.saved_at = actor, utcnow()
    session.flush()
    return draft


def _belongs_elsewhere(definition: ProcessDefinition, found: dict[str, Any]) -> list[dict[str, Any]]:
    """The problem of a valid file that would not be a version of this key."""
    what = "decision" if found["kind"] == "dmn" else "process"
    if found["kind"] != definition.kind:
        message = (
            f"This is a {found['kind'].upper()} file; {definition.key!r} is a {definition.kind.upper()} "
            "definition, so it cannot be a version of it."
        )
    elif found["key"] != definition.key:
        message = (
            f"The {what}'s id is {found['key']!r}: saved as a version it would be a version of "
            f"{found['key']!r}, not of {definition.key!r}. Give the {what} the id {definition.key!r}."
        )
    else:
        return []
    return [{"element_id": None, "element_name": None, "message": message, "line": None, "column": None}]


def discard(session: Session, key: str) -> None:
    session.delete(get(session, key))
    session.flush()


def discard_if_any(session: Session, key: str) -> bool:
    """Removes ``key``'s draft, if it has one (it was just saved as a version)."""
    draft = find(session, key)
    if draft is None:
        return False
    session.delete(draft)
    session.flush()
    return True
