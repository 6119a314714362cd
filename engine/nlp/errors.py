"""Errors of the NLP package."""

from __future__ import annotations

from engine.errors import EngineError, InvalidInput


class NlpDataError(InvalidInput):
    """A taxonomy, cue or catalogue file that cannot be used; the message names file and entry."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__(
            f"{path}: {where}: {problem}. Fix that entry (see the file's _doc) and restart.",
            fields=[{"file": path, "entry": where, "problem": problem}],
        )
        self.path = path
        self.where = where


class NlpModelError(EngineError):
    """The configured spaCy package or the sentiment model cannot be loaded."""

    status = 500
