"""Errors of the NLP package."""

from __future__ import annotations

from engine.errors import EngineError, InvalidInput


class NlpDataError(InvalidInput):
    """A taxonomy, cue or catalogue file that cannot be used; the message names file and entry."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        from engine.nlp.resources import line_of  # reads the file again, only to point at the line

        line = None if where.startswith("line ") else line_of(path, where)
        at = f"line {line}: {where}" if line else where
        super().__init__(
            f"{path}: {at}: {problem}. Fix that entry (see the file's _doc) and restart.",
            fields=[{"file": path, "entry": where, "line": line, "problem": problem}],
        )
        self.path = path
        self.where = where
        self.line = line


class NlpModelError(EngineError):
    """The configured spaCy package or the sentiment model cannot be loaded."""

    status = 500
