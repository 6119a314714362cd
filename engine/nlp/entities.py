"""Pattern entities: order, tracking and flight numbers, money, phone and e-mail (PII).

Regular expressions over the raw text (one C-level scan each) rather than
token patterns: phone numbers and references span several tokens and
punctuation. Overlaps go to the earlier kind in ``_KINDS`` (e-mail first).

Every scan is linear in the text: whitespace after a keyword is matched
possessively (``\\s*+``: three ``\\s*`` in a row tried every split of a run of
spaces, minutes for "order" and a few thousand spaces), e-mail addresses are
found from their ``@`` (``_email_spans``), and overlaps are checked by
binary search among the spans already taken.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

PII_LABELS = frozenset({"EMAIL", "PHONE"})

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    r"(?<![\w@#/.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,5}\)[\s.-]?|\d{2,5}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?![\w/])"
    r"|(?<![\w@#/.])(?:\+\d{10,13}|0\d{9,10})(?![\w/])"
)
_TRACKING = re.compile(
    r"(?i:tracking\s*+(?:no\.?|number|num|#|id|code)?\s*+[:#]?\s*+)(?-i:([A-Z0-9]{8,30}))\b|\b(1Z[0-9A-Z]{16})\b"
)
_ORDER = re.compile(
    r"(?i:\b(?:order|ord|ref|reference|booking|confirmation|case|ticket|invoice)\s*+"
    r"(?:no\.?|number|num|nr|id|#)?\s*+[:#]?\s*+)#?([A-Za-z0-9][A-Za-z0-9-]{3,})\b"
    r"|(?<![\w@$])#?([A-Z]{1,3}-?\d{5,})\b"
)
_FLIGHT = re.compile(
    r"(?i:\bflight\s*+(?:no\.?|number|#)?\s*+)(?-i:([A-Z][A-Z0-9]\s?\d{1,4}))\b"
    r"|\b((?:AA|UA|DL|BA|LH|AF|KL|EK|QF|WN|B6|AS|NK|F9|FR|U2|VS|AC|QR|SQ|CX|TK|EI|IB|EY)\s?\d{2,4})\b"
)
_MONEY = re.compile(
    r"[$€£¥]\s?\d[\d,]*(?:\.\d{1,2})?(?:\s?(?:k|m|bn|million|billion)\b)?"
    r"|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|usd|eur|euros?|pounds|gbp|quid|bucks)\b",
    re.IGNORECASE,
)
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", _EMAIL),
    ("PHONE", _PHONE),
    ("TRACKING_NUMBER", _TRACKING),
    ("FLIGHT_NUMBER", _FLIGHT),
    ("ORDER_ID", _ORDER),
    ("MONEY", _MONEY),
)


def _groups(match: re.Match[str]) -> tuple[int, int]:
    """The span of the first group that matched, else of the whole match."""
    for i in range(1, (match.re.groups or 0) + 1):
        if match.group(i) is not None:
            return match.span(i)
    return match.span()


def _valid(label: str, text: str) -> bool:
    if label == "PHONE":
        return sum(map(str.isdigit, text)) >= 9
    if label == "ORDER_ID":
        return any(map(str.isdigit, text))
    return True


_DIGITS = re.compile(r"\d+")
_EMAIL_HINT = re.compile(r"@[\w-]+\.[\w-]")
_ORDER_WORDS = ("order", "ord", "ref", "booking", "confirmation", "case", "ticket", "invoice")
_MONEY_SIGNS = ("$", "\u20ac", "\u00a3", "\u00a5")
_MONEY_WORDS = ("dollar", "usd", "eur", "pound", "gbp", "quid", "buck")
_AIRLINES: tuple[str, ...]
_AIRLINES = ("AA", "UA", "DL", "BA", "LH", "AF", "KL", "EK", "QF", "WN", "B6", "AS", "NK", "F9", "FR", "U2")
_AIRLINES += ("VS", "AC", "QR", "SQ", "CX", "TK", "EI", "IB", "EY")


_AIRLINE_HINT = re.compile("|".join(_AIRLINES))  # one scan instead of 25 substring tests
_BY_LABEL = dict(_KINDS)


def _kinds(text: str, lower: str | None = None) -> list[tuple[str, re.Pattern[str]]]:
    """The kinds that can occur in ``text``, judged by cheap tests, in ``_KINDS`` order.

    Each regex costs several microseconds per tweet even when it finds
    nothing; these tests are necessary conditions of each pattern (e.g. a
    phone number has at least nine digits, in runs of three or more). One
    narrowing: a tracking number with no digit at all is not looked for.
    Word tests run on ``lower`` (``text.lower()``, passed when the caller has it).
    """
    wanted = []
    if "@" in text and _EMAIL_HINT.search(text):
        wanted.append("EMAIL")
    runs = _DIGITS.findall(text)
    if runs:
        longest = max(map(len, runs))
        if lower is None:
            lower = text.lower()
        if longest >= 3 and sum(map(len, runs)) >= 9:
            wanted.append("PHONE")
        if "tracking" in lower or "1z" in lower:
            wanted.append("TRACKING_NUMBER")
        if "flight" in lower or _AIRLINE_HINT.search(text):
            wanted.append("FLIGHT_NUMBER")
        if longest >= 5 or any(w in lower for w in _ORDER_WORDS):
            wanted.append("ORDER_ID")
        if any(c in text for c in _MONEY_SIGNS) or any(w in lower for w in _MONEY_WORDS):
            wanted.append("MONEY")
    return [(label, _BY_LABEL[label]) for label in wanted]


_AT_DOMAIN = re.compile(r"@[\w-]+(?:\.[\w-]+)+")
_LOCAL_PART = re.compile(r"[\w.+-]+")


def _email_spans(text: str) -> Iterator[tuple[int, int]]:
    """The spans ``_EMAIL.finditer`` finds, found from each ``@`` instead of from every position.

    ``_EMAIL`` tried at every character of a long run of word characters
    scans the run to its end each time. The local part of a match is the
    run of ``[\\w.+-]`` just before an ``@`` that has a domain, cut where
    the previous match ended: that is where ``finditer`` would start it.
    """
    local_starts = None
    previous = 0
    for at in _AT_DOMAIN.finditer(text):
        start = at.start()
        if start <= previous or not _LOCAL_PART.match(text, start - 1):
            continue
        if local_starts is None:  # the start of the local-part run that ends at each position
            local_starts = {m.end(): m.start() for m in _LOCAL_PART.finditer(text)}
        begin = max(local_starts[start], previous)
        yield begin, at.end()
        previous = at.end()


def _spans(label: str, regex: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """The spans of ``label`` in ``text`` that pass ``_valid``, in text order."""
    if regex is _EMAIL:
        return list(_email_spans(text))
    if regex.groups:
        spans = [_groups(match) for match in regex.finditer(text)]
    else:  # one C call per match
        spans = [match.span() for match in regex.finditer(text)]
    if label in ("PHONE", "ORDER_ID"):
        return [(start, end) for start, end in spans if _valid(label, text[start:end])]
    return spans


def find(text: str, lower: str | None = None) -> Iterator[tuple[str, int, int]]:
    """(label, start, end) of each pattern entity, non-overlapping, in text order.

    ``lower`` is ``text.lower()`` when the caller has it already. A span
    overlapping one of an earlier kind is dropped; spans of one kind never
    overlap each other (they come from one ``finditer``).
    """
    starts: list[int] = []  # the spans taken so far, in text order; they do not overlap,
    ends: list[int] = []  # so their ends are in order too
    found = []
    for label, regex in _kinds(text, lower):
        new = _spans(label, regex, text)
        if starts:
            new = [span for span in new if _free(span, starts, ends)]
        found.extend([(start, label, end) for start, end in new])
        if new:
            taken = sorted([*zip(starts, ends, strict=True), *new])
            starts, ends = [s for s, _ in taken], [e for _, e in taken]
    for start, label, end in sorted(found):
        yield label, start, end


def _free(span: tuple[int, int], starts: list[int], ends: list[int]) -> bool:
    """Whether ``span`` overlaps none of the taken spans (in text order, not overlapping each other)."""
    first_after = bisect_right(ends, span[0])  # the first taken span ending after the span's start
    return first_after == len(starts) or starts[first_after] >= span[1]


def redact(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by ``[EMAIL]`` / ``[PHONE]``."""
    parts, at = [], 0
    for start, end in _email_spans(text):
        parts += [text[at:start], "[EMAIL]"]
        at = end
    text = "".join([*parts, text[at:]])
    return _PHONE.sub(lambda m: "[PHONE]" if _valid("PHONE", m.group()) else m.group(), text)
