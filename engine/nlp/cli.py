"""The work behind ``sift enrich``: JSON lines (or plain text lines) in, enrichments out.

Streaming: lines are parsed lazily and fed to ``enrich_many`` in bounded
chunks, so memory stays flat for any number of lines. A bad line is
reported on ``err`` by its 1-based line number and skipped; the rest are
still processed, and the output keeps input order. Error messages never
quote the line (it may hold personal data).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from engine.config import get_settings
from engine.nlp import enrich_many


class _BadLine(Exception):
    pass


def _looks_like_json(line: str) -> bool:
    """A JSON object line: opens with '{"' or is wrapped in braces. "{New Post} ..." is a tweet, not bad JSON."""
    return line.startswith('{"') or (line.startswith("{") and line.endswith("}"))


def _parse(line: str, max_chars: int) -> tuple[str, dict[str, Any] | None]:
    stripped = line.strip()
    if not stripped:
        raise _BadLine("empty line")
    if _looks_like_json(stripped):
        try:
            item = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise _BadLine(f"invalid JSON ({exc.msg}, column {exc.colno})") from exc
        text, author = item.get("text"), item.get("author")
        if not isinstance(text, str) or not text.strip():
            raise _BadLine('"text" must be a non-empty string')
        if author is not None and not isinstance(author, dict):
            raise _BadLine('"author" must be an object or null')
    else:
        text, author = stripped, None
    if len(text) > max_chars:
        raise _BadLine(f"text has {len(text)} characters, more than the limit of {max_chars}")
    return text, author


def enrich_stream(lines: Iterable[str], out: TextIO, err: TextIO) -> tuple[int, int]:
    """Write one enrichment JSON line per good input line; return (ok, bad)."""
    max_chars = get_settings().max_text_chars
    bad = 0

    def good_items() -> Iterator[tuple[str, dict[str, Any] | None]]:
        nonlocal bad
        for number, line in enumerate(lines, start=1):
            try:
                yield _parse(line, max_chars)
            except _BadLine as exc:
                bad += 1
                err.write(f"line {number}: {exc}\n")

    ok = 0
    for enrichment in enrich_many(good_items()):
        out.write(json.dumps(enrichment, ensure_ascii=False) + "\n")
        ok += 1
    return ok, bad
