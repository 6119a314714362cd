"""Mastodon: a hashtag stream per configured hashtag and, with an access token, the account's
mentions, on one instance.

A run subscribes to each stream first (the streaming API's server-sent events), then catches up
through the REST timeline from its cursor (``min_id`` paging, oldest first), then reads the
stream until the window ends: a status posted while Sift was down comes in by the catch-up, one
posted during the catch-up waits in the subscribed stream, and the inbox takes a post seen both
ways once. The cursor of a stream is the newest id it has taken (a status id for a hashtag, a
notification id for mentions). With ``"stream": false`` runs only poll the timelines.

The external id of a status is ``<instance host>/<status id>`` (ids are per instance); a reply
is posted as a status ``in_reply_to_id`` the mention, addressed to its author, with the reply's
id as ``Idempotency-Key`` so a reply handed over again after a crash is posted once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from engine.connectors.base import Run, SourceError, check_url, parse_time, text_of_html
from engine.connectors.replying import ReplyTo, attempt, sent
from engine.delivery.http import Sent
from engine.signals.service import NewSignal

CREDENTIALS = ("access_token",)
POLLS = False
PAGE = 40
MAX_PAGES = 25  # a catch-up pass takes at most this many pages; the next run goes on from there
MENTIONS = "mentions"


def check(
    options: dict[str, Any],
    query: dict[str, Any],
    credentials: dict[str, Any] | None,
    problems: list[dict[str, str]],
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    clean["instance"] = check_url(options.get("instance"), "options.instance", problems)
    if options.get("streaming_url") is not None:
        clean["streaming_url"] = check_url(options["streaming_url"], "options.streaming_url", problems)
    stream = options.get("stream", True)
    if not isinstance(stream, bool):
        problems.append({"field": "options.stream", "message": "must be true or false"})
    clean["stream"] = stream
    visibility = options.get("reply_visibility", "public")
    if visibility not in ("public", "unlisted", "private", "direct"):
        problems.append(
            {"field": "options.reply_visibility", "message": "must be public, unlisted, private or direct"}
        )
    clean["reply_visibility"] = visibility
    for key in options:
        if key not in ("instance", "streaming_url", "stream", "reply_visibility"):
            problems.append({"field": f"options.{key}", "message": "unknown for mastodon"})
    if not query.get("hashtags") and not (credentials or {}).get("access_token"):
        problems.append(
            {
                "field": "query.hashtags",
                "message": "name a hashtag, or give credentials.access_token to hear mentions",
            }
        )
    return clean


def _host(instance: str) -> str:
    return urlsplit(instance).netloc


def status_signal(run: Run, status: dict[str, Any], via: str) -> NewSignal | None:
    """A status as a mention; None for a boost (the booster did not write it) or an empty status."""
    if status.get("reblog"):
        return None
    host = _host(run.options["instance"])
    account = status.get("account") or {}
    acct = str(account.get("acct") or account.get("username") or "")
    handle = f"@{acct}" if "@" in acct else f"@{acct}@{host}"
    text = "\n".join(
        t for t in (status.get("spoiler_text") or "", text_of_html(status.get("content") or "")) if t
    )
    if not text or not status.get("id"):
        return None
    parent = status.get("in_reply_to_id")
    return run.signal(
        external_id=f"{host}/{status['id']}",
        text=text,
        author={
            "handle": handle,
            "name": account.get("display_name") or acct,
            "followers": int(account.get("followers_count") or 0),
            "id": str(account.get("id") or ""),
            "url": account.get("url"),
        },
        url=status.get("url") or status.get("uri"),
        posted_at=parse_time(status.get("created_at")),
        in_reply_to=f"{host}/{parent}" if parent else None,
        metadata={
            "status_id": str(status["id"]),
            "acct": acct,
            "via": via,
            "visibility": status.get("visibility"),
        },
    )


def _newer(a: str, b: str | None) -> bool:
    if b is None:
        return True
    if a.isdigit() and b.isdigit():
        return int(a) > int(b)
    return (len(a), a) > (len(b), b)


class _Stream:
    """One timeline: its REST path, its streaming path, and how to read its items."""

    def __init__(
        self, run: Run, key: str, rest: str, params: dict[str, Any], streaming: str, event: str
    ) -> None:
        self.run, self.key, self.rest, self.params, self.streaming, self.event = (
            run,
            key,
            rest,
            params,
            streaming,
            event,
        )
        self.headers = (
            {"Authorization": f"Bearer {run.credentials['access_token']}"}
            if run.credentials.get("access_token")
            else {}
        )

    @property
    def cursor(self) -> str | None:
        return self.run.cursors.get(self.key, {}).get("id")

    def status_of(self, item: dict[str, Any]) -> dict[str, Any] | None:
        if self.event == "notification":
            return item.get("status") if item.get("type") == "mention" else None
        return item

    def take(self, items: list[dict[str, Any]]) -> None:
        """Saves ``items`` (any order) with the newest id as the cursor."""
        newest = self.cursor
        mentions: list[NewSignal] = []
        for item in sorted(items, key=lambda i: (len(str(i["id"])), str(i["id"]))):
            ident = str(item["id"])
            if _newer(ident, newest):
                newest = ident
            status = self.status_of(item)
            if status is None:
                continue
            mention = status_signal(self.run, status, self.key)
            if mention is not None and not self.run.query.excluded(mention.text):
                mentions.append(mention)
        self.run.save(self.key, {"id": newest} if newest else {}, mentions)

    def catch_up(self) -> None:
        base = self.run.options["instance"]
        cursor = self.cursor
        for _ in range(MAX_PAGES):
            params = {**self.params, "limit": PAGE}
            if cursor:
                params["min_id"] = cursor
            r = self.run.request("GET", base + self.rest, params=params, headers=self.headers)
            page = r.json()
            if not isinstance(page, list):
                raise SourceError(f"{_host(base)}: {self.rest} did not answer a list")
            if not page:
                self.run.save(self.key, {"id": cursor} if cursor else {})
                return
            self.take(page)
            cursor = self.cursor
            if not cursor or len(page) < PAGE:
                return
            self.run.paused()

    def listen(self) -> None:
        if not self.run.options.get("stream", True):
            self.catch_up()
            return
        base = self.run.options.get("streaming_url") or self.run.options["instance"]
        host = _host(base)
        timeout = httpx.Timeout(self.run.client.timeout.connect, read=self.run.remaining() + 1.0)
        try:
            with self.run.client.stream(
                "GET", base + self.streaming, headers=self.headers, timeout=timeout
            ) as r:
                self.run.check(r, host)
                self.catch_up()  # subscribed first: what is posted meanwhile waits in the stream
                for event, data in sse_events(r.iter_lines(), self.run.remaining):
                    if event == self.event:
                        item = json.loads(data)
                        if isinstance(item, dict) and item.get("id"):
                            self.take([item])
                    if self.run.remaining() <= 0:
                        break
        except httpx.ReadTimeout:
            pass  # the window ended with the stream quiet
        except httpx.HTTPError as err:
            raise SourceError(f"{host}: stream {type(err).__name__}") from err
        self.run.save(self.key, {"id": self.cursor} if self.cursor else {})


def sse_events(lines: Iterator[str], remaining: Callable[[], float]) -> Iterator[tuple[str, str]]:
    """Server-sent events as (event, data); comments (``:thump``, the heartbeat) are skipped."""
    event, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            pass
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
        if remaining() <= 0:
            return


def streams(run: Run) -> list[_Stream]:
    found = [
        _Stream(
            run,
            f"tag:{tag}",
            f"/api/v1/timelines/tag/{quote(tag)}",
            {},
            f"/api/v1/streaming/hashtag?tag={quote(tag)}",
            "update",
        )
        for tag in run.query.hashtags
    ]
    if run.credentials.get("access_token"):
        found.append(
            _Stream(
                run,
                MENTIONS,
                "/api/v1/notifications",
                {"types[]": "mention"},
                "/api/v1/streaming/user/notification",
                "notification",
            )
        )
    return found


def run(r: Run) -> None:
    found = streams(r)
    with ThreadPoolExecutor(max(1, len(found)), thread_name_prefix="sift-mastodon") as pool:
        for future in [pool.submit(s.listen) for s in found]:
            future.result()


def reply(to: ReplyTo) -> Sent:
    token = to.credentials.get("access_token")
    if not token:
        return Sent(False, None, "the connector has no access_token to post with", 0.0)
    acct = to.mention.get("acct") or ""
    text = to.reply.text
    if acct and f"@{acct}".casefold() not in text.casefold():
        text = f"@{acct} {text}"
    body = {
        "status": text,
        "in_reply_to_id": to.mention.get("status_id"),
        "visibility": to.options.get("reply_visibility", "public"),
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": to.reply.id}
    r, failed = attempt(
        to.client, "POST", to.options["instance"] + "/api/v1/statuses", json=body, headers=headers
    )
    if failed is not None or r is None:
        return failed or Sent(False, None, "no answer", 0.0)
    status_id = r.json().get("id") if r.content else None
    return sent(r, f"{_host(to.options['instance'])}/{status_id}" if status_id else None)
