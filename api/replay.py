"""Reading a file of historical mentions for ``sift replay``: JSON lines or CSV, checked whole
before anything is sent, each problem named by line and field."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from api.signals.schemas import SignalIn

MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Mention:
    line: int
    body: dict[str, Any]
    at: datetime


def read(path: Path) -> tuple[list[Mention], list[Problem]]:
    """The file's mentions in event-time order (ties in file order), or the problems found."""
    text = path.read_text(encoding="utf-8-sig")
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" else _json_rows(text)
    mentions: list[Mention] = []
    problems: list[Problem] = []
    for line, row in rows:
        if isinstance(row, Problem):
            problems.append(row)
        else:
            found = _check(line, row)
            if isinstance(found, Mention):
                mentions.append(found)
            else:
                problems += found
        if len(problems) >= MAX_PROBLEMS:
            break
    mentions.sort(key=lambda m: (m.at, m.line))
    return mentions, problems


def _json_rows(text: str) -> list[tuple[int, dict[str, Any] | Problem]]:
    rows: list[tuple[int, dict[str, Any] | Problem]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as err:
            rows.append((number, Problem(number, "(line)", f"not JSON: {err.msg} at column {err.colno}")))
            continue
        if not isinstance(value, dict):
            rows.append((number, Problem(number, "(line)", "each line must be a JSON object")))
            continue
        rows.append((number, value))
    return rows


AUTHOR_COLUMNS = {"author_handle": "handle", "author_name": "name", "author_followers": "followers"}


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any] | Problem]]:
    reader = csv.DictReader(io.StringIO(text))
    rows: list[tuple[int, dict[str, Any] | Problem]] = []
    for record in reader:
        number = reader.line_num
        row: dict[str, Any] = {}
        author: dict[str, Any] = {}
        problem = None
        for column, value in record.items():
            if column is None:
                problem = Problem(number, "(line)", "more values than the header has columns")
                continue
            if value in (None, ""):
                continue
            if column == "author":
                try:
                    author = json.loads(value)
                except ValueError:
                    problem = Problem(number, "author", "must be a JSON object")
            elif column in AUTHOR_COLUMNS:
                author[AUTHOR_COLUMNS[column]] = (
                    int(value) if column == "author_followers" and value.isdigit() else value
                )
            elif column == "metadata":
                try:
                    row["metadata"] = json.loads(value)
                except ValueError:
                    problem = Problem(number, "metadata", "must be a JSON object")
            else:
                row[column] = value
        if author:
            row["author"] = author
        rows.append((number, problem or row))
    return rows


def _check(line: int, row: dict[str, Any]) -> Mention | list[Problem]:
    if not row.get("created_at"):
        return [Problem(line, "created_at", "a replayed mention needs its time (ISO 8601 with a zone)")]
    try:
        parsed = SignalIn.model_validate(row)
    except ValidationError as err:
        return [Problem(line, ".".join(str(p) for p in e["loc"]) or "(line)", e["msg"]) for e in err.errors()]
    assert parsed.created_at is not None
    return Mention(line, parsed.model_dump(mode="json", exclude_none=True), parsed.created_at)
