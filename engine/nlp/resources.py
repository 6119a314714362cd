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


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
_WHERE_PART = re.compile(r"(\w+)\[(\d+)\]|^(topic|cue) '([^']*)'|(\w+)$")


def value_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The 1-based line where each value of a JSON document starts, by its path of keys and indices."""
    lines: dict[tuple[str | int, ...], int] = {}
    frames: list[list[Any]] = []  # [is_object, current key or index, expecting a key]
    line, seen = 1, 0
    for token in _JSON_TOKEN.finditer(text):
        line += text.count("\n", seen, token.start())
        seen = token.start()
        value = token.group()
        top = frames[-1] if frames else None
        if value in ",:":
            if value == "," and top:
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
            continue
        if value in "}]":
            frames.pop()
            continue
        if top and top[0] and top[2]:
            top[1], top[2] = json.loads(value), False
            continue
        lines.setdefault(tuple(frame[1] for frame in frames), line)
        if value in "{[":
            frames.append([value == "{", 0 if value == "[" else None, value == "{"])
    return lines


def line_of(path: str, where: str) -> int | None:
    """The line of ``path`` that an error's ``where`` ("topic 'delivery' regex[2]", "entries[4] ('Acme') aliases")
    points at, or None when the file cannot be read or the place not found."""
    keys: list[str | int] = []
    for match in _WHERE_PART.finditer(where):
        field, index, kind, name, bare = match.groups()
        if kind:
            keys += [f"{kind}s", name]
        elif field:
            keys += [field, int(index)]
        elif bare:
            keys.append(bare)
    try:
        lines = value_lines(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    while keys:  # the most precise place the file has: an item, else its list, else its entry
        if tuple(keys) in lines:
            return lines[tuple(keys)]
        keys.pop()
    return None


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


try:  # CPython's own regex parser (3.11+); private, so without it patterns are simply used as written
    from re import _constants as sre  # type: ignore[attr-defined]  # typeshed has no re._constants
    from re import _parser  # type: ignore[attr-defined]  # nor re._parser (only the old sre_parse)
except ImportError:  # pragma: no cover - other Pythons
    sre = _parser = None

_ZERO_WIDTH = (sre.AT, sre.ASSERT, sre.ASSERT_NOT) if sre else ()
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) if sre else ()
_CATEGORIES = (
    {}
    if sre is None
    else {
        sre.CATEGORY_DIGIT: r"\d",
        sre.CATEGORY_NOT_DIGIT: r"\D",
        sre.CATEGORY_SPACE: r"\s",
        sre.CATEGORY_NOT_SPACE: r"\S",
        sre.CATEGORY_WORD: r"\w",
        sre.CATEGORY_NOT_WORD: r"\W",
    }
)


def with_first_char_guard(pattern: str) -> str:
    """``pattern`` behind a lookahead for the characters any of its matches can start with.

    Python's ``re`` tries every position of the text against every
    alternative; a pattern that starts with ``\\b`` or a lookbehind gets no
    help from its own first-character scan. The lookahead fails at most
    positions in one test, so the combined cue regex costs a third as much.
    It accepts every character a match can start with (zero-width
    assertions skipped), so the matches and groups are the same, with or
    without ``re.IGNORECASE``. Returned unchanged when that set cannot be
    told (a negated class, a back-reference, a part that can match the
    empty string, an inline ``(?i:...)``...). The pattern is read with the
    ``re`` module's own parser (``re._parser``, CPython 3.11 and later).
    """
    if _parser is None:
        return pattern
    try:
        found = _starts(_parser.parse(pattern).data)
    except Exception:  # the private parser changed shape: fall back to the pattern as written
        return pattern
    if found is None or found[1]:
        return pattern
    chars = _class_text(found[0])
    return pattern if chars is None else f"(?=[{chars}])(?:{pattern})"


def last_char_class(pattern: str) -> re.Pattern[str] | None:
    """A one-character class holding every character a non-empty match of ``pattern`` can end with.

    Zero-width assertions after the last character are skipped, as
    ``with_first_char_guard`` skips them before the first. None when that
    set cannot be told (the same cases as there, and a pattern compiled
    with a global ``(?i)``).
    """
    if _parser is None:
        return None
    try:
        parsed = _parser.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return None
        found = _starts(parsed.data, last=True)
        chars = None if found is None or found[1] else _class_text(found[0])
        return None if chars is None else re.compile(f"[{chars}]")
    except Exception:  # the private parser changed shape: callers treat every character as possible
        return None


def _class_text(items: list) -> str | None:
    """The inside of a character class (``[...]``) for parsed class items; None for one it cannot write."""
    parts = []
    for op, av in items:
        if op is sre.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op is sre.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is sre.CATEGORY and av in _CATEGORIES:
            parts.append(_CATEGORIES[av])
        else:
            return None
    return "".join(parts)


def compile_guarded(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile`` of ``pattern`` behind its first-character guard: the same matches, faster."""
    return re.compile(with_first_char_guard(pattern), flags)


def _starts(items: list, last: bool = False) -> tuple[list, bool] | None:
    """(class items a match of the parsed ``items`` can start with, whether it can match empty); None if unknown.

    With ``last``, the items it can end with: the same walk from the end.
    """
    found: list = []
    for op, av in reversed(list(items)) if last else items:
        if op in _ZERO_WIDTH:
            continue
        if op is sre.LITERAL:
            return [*found, (op, av)], False
        if op is sre.IN:
            if any(item is sre.NEGATE for item, _ in av):
                return None
            return [*found, *av], False
        if op is sre.BRANCH:
            parts = [_starts(branch, last) for branch in av[1]]
        elif op is sre.SUBPATTERN:
            if av[1] & re.IGNORECASE:  # "(?i:...)": its first characters are wider than the class written
                return None
            parts = [_starts(av[3], last)]
        elif op is sre.ATOMIC_GROUP:
            parts = [_starts(av, last)]
        elif op in _REPEATS:
            body = _starts(av[2], last)
            parts = [body if body is None or av[0] else (body[0], True)]
        else:
            return None
        known = [part for part in parts if part is not None]
        if len(known) < len(parts):
            return None
        for part_items, _ in known:
            found += part_items
        if not any(empty for _, empty in known):
            return found, False
    return found, True


@dataclass(frozen=True)
class Branch:
    """What ``regex_branches`` tells of one top-level alternative of a pattern."""

    anchored_at_start: bool  # begins with ``^``
    max_width: int  # the longest text it can match
    char_run_at_end: bool  # ``c+$`` or ``cc+$`` for one literal character: its tails two long match too


def regex_branches(pattern: str) -> list[Branch] | None:
    """The top-level alternatives of ``pattern``, read with ``re``'s own parser; None when that cannot be done."""
    if _parser is None:
        return None
    try:
        items = list(_parser.parse(pattern).data)
        if len(items) == 1 and items[0][0] is sre.BRANCH:
            parts = [list(branch) for branch in items[0][1][1]]
        else:
            parts = [items]
        return [_branch(part) for part in parts]
    except Exception:  # the private parser changed shape: callers use the pattern as written
        return None


def _branch(items: list) -> Branch:
    width = _parser.SubPattern(_parser.State(), items).getwidth()[1]
    run = False
    if len(items) >= 2 and items[-1] == (sre.AT, sre.AT_END) and items[-2][0] is sre.MAX_REPEAT:
        low, high, body = items[-2][1]
        literals = items[:-2]
        if high is sre.MAXREPEAT and len(body) == 1 and body[0][0] is sre.LITERAL:
            run = all(item == body[0] for item in literals) and len(literals) + low <= 2
    return Branch(items[:1] == [(sre.AT, sre.AT_BEGINNING)], int(width), run)


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
