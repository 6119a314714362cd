"""Errors the engine raises on purpose.

Each carries an HTTP-ish status and a message that says what happened and
what to do about it. The API renders every one as
``{"error": <class name>, "detail": <message>}``; nothing else maps to 4xx.
Messages never contain mention text, task data or keys.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base of every error a client is meant to see."""

    status: int = 400
    #: The SpiffWorkflow task a process error happened at (set by the script engine), if any.
    task_id: str | None = None

    def __init__(self, detail: str, *, fields: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields

    @property
    def code(self) -> str:
        return type(self).__name__


class NotFound(EngineError):
    status = 404

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"No {what} with id {ident!r}; check the id (list endpoints show valid ones).")


class Conflict(EngineError):
    status = 409


class InvalidInput(EngineError):
    """Input that parsed but cannot be acted on; ``fields`` names each problem."""

    status = 422


class Forbidden(EngineError):
    status = 403


class Unauthorized(EngineError):
    status = 401


class PayloadTooLarge(EngineError):
    status = 413


class ProcessError(EngineError):
    """A process instance could not advance (script refused, stalled, broken model)."""

    status = 422
