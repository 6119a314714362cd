"""What every kind of connector shares: the listening query, one run's context (HTTP with
rate limits honoured, and :meth:`Run.save`, which accepts mentions and moves a stream's cursor in
one transaction), and the errors a run ends with."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import lxml.html
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.config import get_settings
from engine.connectors import metrics
from engine.connectors.models import Connector, ConnectorCursor
from engine.db import unit_of_work, utcnow
from engine.errors import InvalidInput
from engine.signals import service as signals
from engine.signals.service import NewSignal

QUERY_FIELDS = ("terms", "handles", "hashtags", "exclusions")
MAX_QUERY_ITEMS, MAX_QUERY_CHARS = 100, 200


class RunEnded(Exception):
    """A run stopped early; ``reason`` is short and names no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SourceError(RunEnded):
    """The network answered with an error, or could not be reached: retried with backoff."""


class RateLimited(RunEnded):
    """The network said to slow down (429, or its rate-limit headers ran out): the next run waits
    ``wait`` seconds (its Retry-After or reset), at least the backoff."""

    def __init__(self, reason: str, wait: float) -> None:
        super().__init__(reason)
        self.wait = wait


class LeaseLost(RunEnded):
    """Another process holds the connector now: this run writes nothing more."""


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = [re.escape(w.casefold()) for w in words if w]
    if not alternatives:
        return None
    return re.compile(r"(?<![\w@#])(?:" + "|".join(sorted(alternatives, key=len, reverse=True)) + r")(?!\w)")


@dataclass(frozen=True)
class Query:
    """What to listen for: brand ``terms``, ``handles`` (an account, with or without ``@``; on
    Bluesky also a DID), ``hashtags`` (without ``#``) and ``exclusions`` (a post with any is
    dropped). Words match whole, ignoring case."""

    terms: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Query:
        return cls(**{k: tuple(doc.get(k) or ()) for k in QUERY_FIELDS})

    @property
    def empty(self) -> bool:
        return not (self.terms or self.handles or self.hashtags)

    def excluded(self, text: str) -> bool:
        pattern = _pattern(self.exclusions)
        return bool(pattern and pattern.search(text.casefold()))

    def wanted(self, text: str, *, tags: Iterable[str] = (), mentioned: Iterable[str] = ()) -> bool:
        """Whether ``text`` (or the post's own ``tags`` and ``mentioned`` accounts) names a term,
        a handle or a hashtag, and no exclusion."""
        if self.excluded(text):
            return False
        folded = text.casefold()
        handles = {h.casefold().lstrip("@") for h in self.handles}
        if handles & {m.casefold().lstrip("@") for m in mentioned}:
            return True
        hashtags = {h.casefold().lstrip("#") for h in self.hashtags}
        if hashtags & {t.casefold().lstrip("#") for t in tags}:
            return True
        for words in (self.terms, [f"@{h}" for h in handles], [f"#{h}" for h in hashtags]):
            pattern = _pattern(words)
            if pattern and pattern.search(folded):
                return True
        return False


def check_query(doc: Any) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    """The query as stored (hashtags without ``#``, duplicates dropped) and its field errors."""
    problems: list[dict[str, str]] = []
    if not isinstance(doc, dict):
        return {}, [{"field": "query", "message": "must be an object of " + ", ".join(QUERY_FIELDS)}]
    clean: dict[str, list[str]] = {}
    for key in doc:
        if key not in QUERY_FIELDS:
            problems.append({"field": f"query.{key}", "message": "unknown; use " + ", ".join(QUERY_FIELDS)})
    for key in QUERY_FIELDS:
        items = doc.get(key) or []
        if not isinstance(items, list) or len(items) > MAX_QUERY_ITEMS:
            problems.append(
                {"field": f"query.{key}", "message": f"must be a list of at most {MAX_QUERY_ITEMS}"}
            )
            continue
        kept: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip() or len(item) > MAX_QUERY_CHARS:
                problems.append(
                    {
                        "field": f"query.{key}.{i}",
                        "message": f"must be text of 1 to {MAX_QUERY_CHARS} characters",
                    }
                )
                continue
            value = item.strip().lstrip("#") if key == "hashtags" else item.strip()
            if value and value not in kept:
                kept.append(value)
        clean[key] = kept
    return clean, problems


def check_url(
    value: Any, name: str, problems: list[dict[str, str]], *, schemes: tuple[str, ...] = ("http", "https")
) -> str | None:
    if not isinstance(value, str) or len(value) > 2000:
        problems.append({"field": name, "message": "must be a URL of at most 2000 characters"})
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        problems.append({"field": name, "message": f"must be an absolute {' or '.join(schemes)} URL"})
        return None
    if parts.username or parts.password:
        problems.append({"field": name, "message": "must not carry a user or password (use credentials)"})
        return None
    return value.rstrip("/")


def refuse(problems: list[dict[str, str]]) -> None:
    if problems:
        raise InvalidInput("The connector's settings are not valid; see fields.", fields=problems)


# --- one run ---------------------------------------------------------------------------------


def _seconds_until(value: str) -> float | None:
    """A Retry-After or rate-limit reset: seconds (Reddit: "42"; Retry-After: "120"), an HTTP
    date, or an ISO 8601 time (Mastodon's X-RateLimit-Reset)."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when: datetime | None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        when = parse_time(value)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def text_of_html(fragment: str) -> str:
    """The text of an HTML fragment (a status's content, a feed entry's summary), with line breaks
    for <br> and paragraph ends and whitespace folded within lines."""
    if not fragment or "<" not in fragment:
        return " ".join(fragment.split()) if fragment else ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml raises several types for broken markup; take the text as it is
        return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())
    for el in root.iter("br", "p", "div", "li"):
        el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


@dataclass
class Run:
    """One claimed run of one connector (built by engine/connectors/service.py)."""

    connector_id: str
    name: str
    kind: str
    token: str
    query: Query
    options: dict[str, Any]
    credentials: dict[str, Any]
    cursors: dict[str, dict[str, Any]]
    client: httpx.Client
    stream_seconds: float
    deadline: float = 0.0  # time.monotonic() when a stream should let go
    pause: float = 0.0  # seconds the source asked to wait before the next run (its limits ran out)
    taken: int = 0
    repeats: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + self.stream_seconds

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def signal(self, **fields: Any) -> NewSignal:
        """A mention as the inbox takes it: the source is the connector's kind, its metadata names
        the connector (replies go back through it), the text is cut to ``max_text_chars``."""
        meta = {"connector_id": self.connector_id, "connector": self.name, **fields.pop("metadata", {})}
        text = str(fields.pop("text"))[: get_settings().max_text_chars]
        return NewSignal(source=self.kind, text=text, metadata=meta, **fields)

    # --- HTTP ------------------------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        host = urlsplit(url).hostname or "?"
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as err:
            raise SourceError(f"{host}: timed out") from err
        except httpx.HTTPError as err:
            raise SourceError(f"{host}: {type(err).__name__}: could not connect or read") from err
        self.check(response, host)
        return response

    def check(self, response: httpx.Response, host: str) -> None:
        """Raises for a 429 or an error status; notes a rate-limit budget that ran out."""
        self.note_limits(response.headers)
        if response.status_code == 429:
            wait = self.retry_after(response.headers)
            raise RateLimited(f"HTTP 429 from {host}: rate limited, waiting {wait:.0f} s", wait)
        if response.status_code >= 400:
            raise SourceError(f"HTTP {response.status_code} from {host}")

    def note_limits(self, headers: httpx.Headers | dict[str, str]) -> None:
        """X-Ratelimit-Remaining below one (Reddit; Mastodon's X-RateLimit-*): wait for the reset."""
        remaining = headers.get("x-ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            left = float(remaining)
        except ValueError:
            return
        if left < 1:
            wait = _seconds_until(reset)
            if wait is not None:
                self.pause = max(self.pause, wait)

    def retry_after(self, headers: httpx.Headers | dict[str, str]) -> float:
        for name in ("retry-after", "x-ratelimit-reset"):
            value = headers.get(name)
            if value is not None and (wait := _seconds_until(value)) is not None:
                return wait
        return get_settings().connector_retry_base_seconds

    def paused(self) -> None:
        """Between pages: stop when the source's budget ran out (nothing of the pass is saved)."""
        if self.pause > 0:
            raise RateLimited(f"rate-limit budget used up, waiting {self.pause:.0f} s", self.pause)

    # --- saving ----------------------------------------------------------------------------

    def save(self, stream: str, cursor: dict[str, Any], mentions: Sequence[NewSignal] = ()) -> int:
        """Accepts ``mentions`` and moves ``stream``'s cursor in one transaction, fenced by the
        run's lease; returns how many were new to the inbox."""
        with self._lock, unit_of_work() as session:
            results = signals.accept(session, list(mentions)) if mentions else []
            new = sum(1 for r in results if not r.duplicate)
            repeats = len(results) - new
            self._fence(session, new, repeats)
            row = session.get(ConnectorCursor, (self.connector_id, stream))
            if row is None:
                session.add(
                    ConnectorCursor(
                        connector_id=self.connector_id, stream=stream, value=cursor, updated_at=utcnow()
                    )
                )
            else:
                row.value, row.updated_at = dict(cursor), utcnow()
        self.cursors[stream] = dict(cursor)
        self.taken += new
        self.repeats += repeats
        metrics.observe_mentions(self.kind, new, repeats)
        return new

    def _fence(self, session: Session, new: int, repeats: int) -> None:
        now = utcnow()
        result = session.execute(
            update(Connector)
            .where(
                Connector.id == self.connector_id,
                Connector.lease_token == self.token,
                Connector.lease_expires_at > now,
            )
            .values(
                caught_up_at=now,
                mentions=Connector.mentions + new,
                repeats=Connector.repeats + repeats,
            )
            .execution_options(synchronize_session=False)
        )
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            raise LeaseLost("the connector's lease passed to another run")
