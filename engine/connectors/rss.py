"""RSS and Atom feeds (review sites, forums, status pages, news), polled with a conditional GET.

Each feed is a stream whose cursor keeps the feed's ``ETag`` and ``Last-Modified`` (sent back as
``If-None-Match`` and ``If-Modified-Since``: an unchanged feed answers 304 with no body) and the
ids of the entries already taken, so a feed that ignores conditional requests still offers each
entry once. feedparser parses the body (RSS 0.9x to 2.0, Atom, with their dates and HTML).

An entry's external id is its ``id``/``guid`` when that is a URL, URN or tag URI (global by
nature), else the feed's URL and the id (a bare ``42`` is only unique within its feed), else its
link; over 256 characters, a SHA-256 of it. Feeds take no replies.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from typing import Any

from engine.connectors.base import Run, SourceError, check_url, text_of_html
from engine.signals.service import NewSignal

CREDENTIALS: tuple[str, ...] = ()
POLLS = True
SEEN_KEPT = 1000
MAX_FEEDS = 50


def check(
    options: dict[str, Any],
    query: dict[str, Any],
    credentials: dict[str, Any] | None,
    problems: list[dict[str, str]],
) -> dict[str, Any]:
    feeds = options.get("feeds")
    clean: list[str] = []
    if not isinstance(feeds, list) or not 1 <= len(feeds) <= MAX_FEEDS:
        problems.append({"field": "options.feeds", "message": f"must list 1 to {MAX_FEEDS} feed URLs"})
    else:
        for i, url in enumerate(feeds):
            if isinstance(url, str) and len(url) > 280:
                problems.append({"field": f"options.feeds.{i}", "message": "must be at most 280 characters"})
            elif (ok := check_url(url, f"options.feeds.{i}", problems)) and ok not in clean:
                clean.append(ok)
    interval = options.get("interval_seconds")
    if interval is not None and (not isinstance(interval, (int, float)) or interval < 30):
        problems.append({"field": "options.interval_seconds", "message": "must be a number of at least 30"})
    for key in options:
        if key not in ("feeds", "interval_seconds"):
            problems.append({"field": f"options.{key}", "message": "unknown for rss"})
    if credentials:
        problems.append({"field": "credentials", "message": "feeds take no credentials"})
    out: dict[str, Any] = {"feeds": clean}
    if interval is not None:
        out["interval_seconds"] = interval
    return out


def _entry_id(feed: str, entry: Any) -> str | None:
    ident = entry.get("id") or entry.get("guid")
    if ident and (("://" in ident) or ident.startswith(("urn:", "tag:"))):
        key = str(ident)
    elif ident:
        key = f"{feed}#{ident}"
    elif entry.get("link"):
        key = str(entry["link"])
    elif entry.get("title"):
        key = f"{feed}#{hashlib.sha256(str(entry['title']).encode()).hexdigest()[:32]}"
    else:
        return None
    return key if len(key) <= 256 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _when(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None


def entry_signal(run: Run, feed_url: str, feed_title: str, entry: Any, ident: str) -> NewSignal | None:
    title = text_of_html(entry.get("title") or "")
    body = ""
    if entry.get("content"):
        body = text_of_html(entry["content"][0].get("value") or "")
    body = body or text_of_html(entry.get("summary") or "")
    text = "\n".join(t for t in (title, body) if t)
    if not text:
        return None
    author = entry.get("author") or ""
    return run.signal(
        external_id=ident,
        text=text,
        author={"handle": author, "name": author} if author else {},
        url=entry.get("link"),
        posted_at=_when(entry),
        metadata={"feed": feed_url, "feed_title": feed_title},
    )


def poll(r: Run, feed_url: str) -> None:
    key = f"feed:{feed_url}"
    cursor = dict(r.cursors.get(key) or {})
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if cursor.get("etag"):
        headers["If-None-Match"] = cursor["etag"]
    if cursor.get("modified"):
        headers["If-Modified-Since"] = cursor["modified"]
    response = r.request("GET", feed_url, headers=headers)
    if response.status_code == 304:
        r.save(key, cursor)
        return
    import feedparser  # only a process that runs an RSS connector loads it

    parsed = feedparser.parse(
        response.content, response_headers={"content-type": response.headers.get("content-type", "")}
    )
    if parsed.get("bozo") and not parsed.get("entries"):
        raise SourceError(f"{feed_url}: not a feed ({type(parsed.get('bozo_exception')).__name__})")
    seen: list[str] = list(cursor.get("seen") or [])
    known = set(seen)
    title = text_of_html(parsed.feed.get("title") or "")
    mentions = []
    for entry in reversed(parsed.entries):  # feeds list newest first
        ident = _entry_id(feed_url, entry)
        if ident is None or ident in known:
            continue
        known.add(ident)
        seen.append(ident)
        mention = entry_signal(r, feed_url, title, entry, ident)
        if mention is not None and not r.query.excluded(mention.text):
            mentions.append(mention)
    next_cursor: dict[str, Any] = {"seen": seen[-SEEN_KEPT:]}
    if response.headers.get("etag"):
        next_cursor["etag"] = response.headers["etag"]
    if response.headers.get("last-modified"):
        next_cursor["modified"] = response.headers["last-modified"]
    r.save(key, next_cursor, mentions)


def run(r: Run) -> None:
    for feed_url in r.options["feeds"]:
        poll(r, feed_url)
