"""Editable data files of the NLP pipeline: topic taxonomy, risk cues, catalogue.

Each loader checks the whole file and raises :class:`NlpDataError` naming the
file and the entry (and the line for JSON syntax errors), so a process owner
who edits a file learns what to fix before Sift starts with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.nlp.errors import NlpDataError

DATA_DIR = Path(__file__).parent / "data"
TOPICS_FILE = DATA_DIR / "topics.json"
CUES_FILE = DATA_DIR / "cues.json"
CATALOGUE_FILE = DATA_DIR / "catalogue.json"
VOCAB_FILE = Path(__file__).parent / "model" / "vocab.txt"
CATALOGUE_LABELS = ("BRAND", "PRODUCT", "COMPETITOR")
_ENTRY_KEYS = {"phrases", "hashtags", "patterns", "regex"}
_WILDCARD_OPS = {"*", "+", "{", "?"}


@dataclass(frozen=True)
class PhraseGroup:
    """One topic or cue: what to match for it."""

    name: str
    phrases: tuple[str, ...]
    hashtags: tuple[str, ...]
    patterns: tuple[list[dict[str, Any]], ...] = field(default=())
    regex: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class CatalogueEntry:
    label: str
    name: str
    aliases: tuple[str, ...]


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NlpDataError(str(path), "file", f"cannot be read ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NlpDataError(str(path), f"line {exc.lineno} column {exc.colno}", exc.msg) from exc


def _strings(path: str, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise NlpDataError(path, where, "must be a list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise NlpDataError(path, f"{where}[{i}]", f"must be a non-empty string, got {item!r}")
    return tuple(value)


def _patterns(path: str, where: str, value: Any) -> tuple[list[dict[str, Any]], ...]:
    if not isinstance(value, list):
        raise NlpDataError(path, where, "must be a list of token patterns")
    for i, pattern in enumerate(value):
        ok = isinstance(pattern, list) and pattern and all(isinstance(t, dict) and t for t in pattern)
        if not ok:
            raise NlpDataError(path, f"{where}[{i}]", "must be a non-empty list of token objects")
        if any(str(t.get("OP", ""))[:1] in _WILDCARD_OPS for t in pattern):
            raise NlpDataError(
                path,
                f"{where}[{i}]",
                "wildcard OP ('*', '+', '?', '{n,m}') is too slow per mention; use regex",
            )
    return tuple(value)


def _regexes(path: str, where: str, value: Any) -> tuple[str, ...]:
    """Regular expressions, checked to compile; they are matched case-insensitively over the text."""
    found = _strings(path, where, value)
    for i, text in enumerate(found):
        try:
            compiled = re.compile(text, re.IGNORECASE)
        except re.error as exc:
            raise NlpDataError(path, f"{where}[{i}]", f"is not a valid regular expression ({exc})") from exc
        if compiled.groupindex:
            raise NlpDataError(path, f"{where}[{i}]", "named groups are not allowed; use (?:...)")
        if compiled.match(""):
            raise NlpDataError(path, f"{where}[{i}]", "matches the empty string")
    return found


def _group(path: str, kind: str, name: str, body: Any) -> PhraseGroup:
    where = f"{kind} {name!r}"
    if not isinstance(body, dict):
        raise NlpDataError(path, where, "must be an object with phrases, hashtags, patterns, regex")
    unknown = set(body) - _ENTRY_KEYS
    if unknown:
        raise NlpDataError(path, where, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS)}")
    hashtags = _strings(path, f"{where} hashtags", body.get("hashtags", []))
    for i, tag in enumerate(hashtags):
        if not tag.startswith("#") or " " in tag:
            raise NlpDataError(
                path, f"{where} hashtags[{i}]", f"{tag!r} must start with '#' and have no space"
            )
    return PhraseGroup(
        name=name,
        phrases=_strings(path, f"{where} phrases", body.get("phrases", [])),
        hashtags=hashtags,
        patterns=_patterns(path, f"{where} patterns", body.get("patterns", [])),
        regex=_regexes(path, f"{where} regex", body.get("regex", [])),
    )


def load_groups(path: Path, key: str) -> list[PhraseGroup]:
    """Topics (``key="topics"``) or cues (``key="cues"``) from a JSON file."""
    data = _read_json(path)
    spath = str(path)
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise NlpDataError(spath, key, f"the file must be an object with a {key!r} object")
    kind = key.rstrip("s")
    groups = []
    for name, body in data[key].items():
        if not name or not name.replace("_", "").isalnum():
            raise NlpDataError(spath, f"{kind} {name!r}", "names use letters, digits and '_' only")
        groups.append(_group(spath, kind, name, body))
    return groups


def load_catalogue(path: Path = CATALOGUE_FILE) -> list[CatalogueEntry]:
    data = _read_json(path)
    spath = str(path)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise NlpDataError(spath, "entries", "the file must be an object with an 'entries' list")
    entries = []
    for i, item in enumerate(data["entries"]):
        where = f"entries[{i}]"
        if not isinstance(item, dict):
            raise NlpDataError(spath, where, "must be an object with label, name, aliases")
        where = f"entries[{i}] ({item.get('name', '?')!r})"
        if item.get("label") not in CATALOGUE_LABELS:
            raise NlpDataError(spath, where, f"label must be one of {list(CATALOGUE_LABELS)}")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise NlpDataError(spath, where, "name must be a non-empty string")
        aliases = _strings(spath, f"{where} aliases", item.get("aliases", [name]))
        entries.append(CatalogueEntry(label=item["label"], name=name, aliases=aliases))
    return entries
