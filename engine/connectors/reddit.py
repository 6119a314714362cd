"""Reddit: a search for the query's terms and the newest posts of configured subreddits, read
as JSON listings (newest first, paged with ``after``), and replies as comments.

A pass over a listing pages back from the newest post until it reaches what the stream's cursor
covers (posts older than its newest, or one it took already), then saves every new post and the
cursor together: a pass cut short (an error, a 429, a budget used up) saves nothing, and the
next run does the whole pass again, so nothing is lost and nothing offered twice. Reddit's
``X-Ratelimit-Remaining`` and ``X-Ratelimit-Reset`` are honoured: when the budget is used up the
pass stops before the next page and the connector waits for the reset.

Without credentials the public listings are read (``base_url``); with an app's ``client_id``
and ``client_secret`` and the account's ``username`` and ``password`` (a script app) Sift takes
an OAuth token, reads through ``oauth_url`` and can reply (``/api/comment``). A comment is posted
at least once: Reddit has no idempotency key, so a reply handed over again after a crash between
Reddit's answer and Sift's commit could post twice (the lease makes that window small).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import quote

import httpx

from engine.connectors.base import Run, SourceError, check_url, parse_time
from engine.connectors.replying import ReplyTo, attempt, cache_key, sent
from engine.delivery.http import Sent
from engine.signals.service import NewSignal

CREDENTIALS = ("client_id", "client_secret", "username", "password")
POLLS = True
PAGE = 100
MAX_PAGES = 10
SEEN_KEPT = 500
DEFAULTS = {
    "base_url": "https://www.reddit.com",
    "oauth_url": "https://oauth.reddit.com",
    "auth_url": "https://www.reddit.com",
    "user_agent": "sift-listening/1.0",
}


def check(
    options: dict[str, Any],
    query: dict[str, Any],
    credentials: dict[str, Any] | None,
    problems: list[dict[str, str]],
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key in ("base_url", "oauth_url", "auth_url"):
        clean[key] = check_url(options.get(key, DEFAULTS[key]), f"options.{key}", problems)
    agent = options.get("user_agent", DEFAULTS["user_agent"])
    if not isinstance(agent, str) or not 1 <= len(agent) <= 200:
        problems.append({"field": "options.user_agent", "message": "must be text of 1 to 200 characters"})
    clean["user_agent"] = agent
    subs = options.get("subreddits", [])
    if (
        not isinstance(subs, list)
        or len(subs) > 50
        or not all(
            isinstance(s, str) and s.strip().removeprefix("r/").replace("_", "").isalnum() for s in subs
        )
    ):
        problems.append({"field": "options.subreddits", "message": "must list at most 50 subreddit names"})
        subs = []
    clean["subreddits"] = [s.strip().removeprefix("r/") for s in subs]
    search = options.get("search", True)
    if not isinstance(search, bool):
        problems.append({"field": "options.search", "message": "must be true or false"})
    clean["search"] = search
    interval = options.get("interval_seconds")
    if interval is not None:
        if not isinstance(interval, (int, float)) or interval < 10:
            problems.append(
                {"field": "options.interval_seconds", "message": "must be a number of at least 10"}
            )
        clean["interval_seconds"] = interval
    for key in options:
        if key not in clean:
            problems.append({"field": f"options.{key}", "message": "unknown for reddit"})
    if search and not query.get("terms"):
        problems.append(
            {"field": "query.terms", "message": "a search needs terms (or set options.search to false)"}
        )
    if not clean["subreddits"] and not search:
        problems.append({"field": "options.subreddits", "message": "name a subreddit, or search"})
    if credentials and set(CREDENTIALS) - set(credentials):
        problems.append({"field": "credentials", "message": "give all of " + ", ".join(CREDENTIALS)})
    return clean


_tokens: dict[str, tuple[str, float]] = {}  # cache key -> (bearer token, monotonic expiry)
_tokens_lock = threading.Lock()


def _token(
    client: httpx.Client, connector_id: str, options: dict[str, Any], creds: dict[str, Any]
) -> tuple[httpx.Response | None, str | Sent]:
    with _tokens_lock:
        held = _tokens.get(cache_key(connector_id, creds))
        if held and held[1] > time.monotonic():
            return None, held[0]
    r, failed = attempt(
        client,
        "POST",
        options["auth_url"] + "/api/v1/access_token",
        data={"grant_type": "password", "username": creds["username"], "password": creds["password"]},
        auth=(creds["client_id"], creds["client_secret"]),
        headers={"User-Agent": options["user_agent"]},
    )
    if failed is not None or r is None:
        return r, Sent(
            False,
            failed.status_code if failed else None,
            f"access_token: {failed.error if failed else 'no answer'}",
            0.0,
        )
    answer = r.json()
    token = answer.get("access_token")
    if not token:
        return r, Sent(False, r.status_code, "access_token: no token in the answer", 0.0)
    with _tokens_lock:
        _tokens[cache_key(connector_id, creds)] = (
            token,
            time.monotonic() + max(60.0, float(answer.get("expires_in", 3600)) - 60.0),
        )
    return r, token


def _headers(r: Run) -> tuple[str, dict[str, str]]:
    headers = {"User-Agent": r.options["user_agent"]}
    if not r.credentials:
        return r.options["base_url"], headers
    response, token = _token(r.client, r.connector_id, r.options, r.credentials)
    if isinstance(token, Sent):
        if response is not None and response.status_code == 429:
            r.check(response, "reddit")
        raise SourceError(token.error or "could not get a token")
    return r.options["oauth_url"], {**headers, "Authorization": f"bearer {token}"}


def post_signal(r: Run, post: dict[str, Any], via: str) -> NewSignal | None:
    name = post.get("name")
    text = "\n\n".join(
        t for t in (post.get("title") or "", post.get("selftext") or post.get("body") or "") if t
    )
    if not name or not text:
        return None
    author = str(post.get("author") or "")
    permalink = post.get("permalink")
    return r.signal(
        external_id=str(name),
        text=text,
        author={"handle": f"u/{author}", "name": author} if author and author != "[deleted]" else {},
        url=f"https://www.reddit.com{permalink}" if permalink else post.get("url"),
        posted_at=parse_time(post.get("created_utc")),
        in_reply_to=post.get("parent_id")
        if str(post.get("parent_id") or "").startswith(("t1_", "t3_"))
        else None,
        metadata={"fullname": name, "subreddit": post.get("subreddit"), "via": via},
    )


def _pass(r: Run, key: str, path: str, params: dict[str, Any]) -> None:
    cursor = dict(r.cursors.get(key) or {})
    newest, seen = cursor.get("created"), list(cursor.get("seen") or [])
    known = set(seen)
    base, headers = _headers(r)
    fresh: list[dict[str, Any]] = []
    after: str | None = None
    for page_no in range(MAX_PAGES):
        if page_no:
            r.paused()
        query = {**params, "limit": PAGE, "raw_json": 1}
        if after:
            query["after"] = after
        listing = r.request("GET", base + path, params=query, headers=headers).json()
        data = (listing or {}).get("data") or {}
        reached = False
        for child in data.get("children") or []:
            post = child.get("data") or {}
            created = float(post.get("created_utc") or 0)
            if post.get("name") in known or (newest is not None and created < newest):
                reached = True
                break
            fresh.append(post)
        after = data.get("after")
        if reached or not after or newest is None:
            break  # a first run takes the newest page only
    mentions = []
    for post in reversed(fresh):
        seen.append(post["name"])
        newest = max(newest or 0.0, float(post.get("created_utc") or 0))
        mention = post_signal(r, post, key)
        if mention is not None and not r.query.excluded(mention.text):
            mentions.append(mention)
    out: dict[str, Any] = {"seen": seen[-SEEN_KEPT:]}
    if newest is not None:
        out["created"] = newest
    r.save(key, out, mentions)


def search_query(terms: tuple[str, ...]) -> str:
    return " OR ".join(f'"{t}"' if " " in t else t for t in terms)


def run(r: Run) -> None:
    if r.options.get("search", True) and r.query.terms:
        _pass(r, "search", "/search.json", {"q": search_query(r.query.terms), "sort": "new", "type": "link"})
    for sub in r.options.get("subreddits", []):
        r.paused()
        _pass(r, f"r/{sub}", f"/r/{quote(sub)}/new.json", {})


def reply(to: ReplyTo) -> Sent:
    if not to.credentials:
        return Sent(False, None, "the connector has no credentials to comment with", 0.0)
    _, token = _token(to.client, to.connector_id, to.options, to.credentials)
    if isinstance(token, Sent):
        return token
    r, failed = attempt(
        to.client,
        "POST",
        to.options["oauth_url"] + "/api/comment",
        data={
            "thing_id": to.mention.get("fullname") or to.mention_id,
            "text": to.reply.text,
            "api_type": "json",
        },
        headers={"User-Agent": to.options["user_agent"], "Authorization": f"bearer {token}"},
    )
    if failed is not None or r is None:
        return failed or Sent(False, None, "no answer", 0.0)
    answer = (r.json() or {}).get("json") or {}
    if answer.get("errors"):
        first = answer["errors"][0]
        return Sent(
            False, r.status_code, f"reddit refused the comment: {first[0] if first else 'error'}", 0.0
        )
    things = (answer.get("data") or {}).get("things") or [{}]
    return sent(r, (things[0].get("data") or {}).get("name"))
