"""Which case a process step runs for, so service operations act on it.

Engine steps run inside the caller's transaction; while they run,
:func:`acting_for` makes the session, the case and the actor available to the
registered operations (``engine/cases/operations.py``), which change the case
through the same service functions the API uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engine.errors import ProcessError


@dataclass(frozen=True)
class StepContext:
    session: Session
    case: Any  # engine.cases.models.Case (may not be flushed yet)
    actor: str


_current: ContextVar[StepContext | None] = ContextVar("sift_step_context", default=None)


@contextmanager
def acting_for(session: Session, case: Any, actor: str) -> Iterator[None]:
    token = _current.set(StepContext(session, case, actor))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> StepContext:
    found = _current.get()
    if found is None:
        raise ProcessError("This operation acts on a case and can only run inside a case's process.")
    return found
