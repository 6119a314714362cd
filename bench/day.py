"""A scripted day: mentions from customers worked by CSRs through the HTTP API, then accounted for.

Starts a real ``sift serve`` (API, signal worker, timer and delivery services) on a fresh SQLite
file (``--postgres``: a fresh PostgreSQL database) and a local receiver on 127.0.0.1 that takes
both the outbound replies (``SIFT_REPLY_ENDPOINT``) and the webhooks (a subscription to ``*``),
verifies every signature with its secret and refuses a stale timestamp or an id it has handled
already. Then, through the HTTP API only:

- customers post ``--mentions`` signals from ``--customers`` authors: one complaint each, which
  opens their case; follow-up replies (``in_reply_to`` their latest message in the case) posted
  when Sift's reply reaches them, some of them a "thanks" that only joins the case; replies posted
  before their parent; copies of a text (duplicates) and exact re-posts of a body; spam and noise;
- ``--csrs`` CSR keys with different capacities, members of the queues routing uses, loop: their
  own open tasks, else ``POST /api/v1/tasks:next``; they triage, respond (typed text, a canned
  reply, or a bulk reply to several cases), resolve, and sometimes wait for the customer (the
  quiet period then resolves the case). Two ways work reaches them, as a real team mixes them:
  the ``care`` queue (English complaints) pushes its cases round robin by capacity, and the
  ``multilingual`` queue (``--pull-share`` of the customers write in Spanish, French, German or
  Portuguese) is ``manual``: nobody gets its cases until they ask ``tasks:next``.

When everything has settled it reads back, from the API: every signal (its status, case and
duplicate), every case (status, timeline, replies) and the webhook deliveries, and checks
that every posted signal is accounted for (one case, attached, ignored or logged; none lost,
none doubled), that the pushed queue's assignment is within 10% of fair by capacity and every
case of the pulled queue was first claimed through ``tasks:next``, that every case's timeline is
complete, that every reply reached the receiver exactly once and that every webhook arrived with
a valid signature and none was refused. It prints the summary and exits 1 if a check failed.

    .venv/bin/python bench/day.py [--mentions 2000] [--customers 500] [--csrs 10] [--postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import hmac
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.events.types import delivered  # noqa: E402  (which event types go to webhooks)

PG_ADMIN_URL = os.environ.get("SIFT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
QUEUES = ("care", "multilingual", "sales", "escalations")
PULLED = ("multilingual",)  # manual queues: their cases wait for tasks:next; the others push
SOURCES = ("twitter", "instagram", "facebook", "reddit")
DEFAULT_CAPACITIES = (10, 10, 15, 15, 20, 20, 25, 25, 30, 30)
FAIRNESS = 0.10
TOLERANCE = 300  # seconds a signature's timestamp may be off

PRODUCTS = ("Acme Phone", "Acme Plus", "Acme Phone charger", "Acme app", "Acme Plus subscription")
PROBLEMS = (
    "never arrived", "stopped working after {n} days", "arrived broken", "was charged twice",
    "keeps crashing since the update", "still hasn't shipped", "is not charging", "got lost in delivery",
)  # fmt: skip
OPENINGS = (
    "@acme my {product} {problem} #fail",
    "@acme order A{order}: my {product} {problem}. {n} emails and no answer",
    "hey @acme, my {product} {problem}. not happy",
    "@acme your {product} {problem}, sort it out",
    "@acme ticket A{order} - the {product} {problem}, {n} days now",
)
FOLLOW_UPS = (
    "@acme still nothing, any update? this is the {n}th time I ask",
    "@acme that did not help, my {product} is still broken",
    "@acme no refund yet and nobody answers, terrible service",
)
IN_OTHER_LANGUAGES = (
    "@acme mi pedido A{order} nunca llegó y nadie contesta, {n} días esperando",
    "@acme mon colis A{order} n'est jamais arrivé et personne ne répond depuis {n} jours",
    "@acme meine Bestellung A{order} ist nie angekommen, seit {n} Tagen keine Antwort",
    "@acme o meu pedido A{order} nunca chegou e ninguém responde há {n} dias",
)
EARLY = "@acme also the tracking page says delivered but nothing arrived, {n} days"
THANKS = (
    "@acme thanks, that fixed it!",
    "@acme great, thank you so much for the help",
    "thanks @acme, all good now",
)
SPAM = (
    "FREE followers!!! click here http://bit.ly/x{n} to win an iPhone, DM me",
    "Win a free iPhone now!!! follow and retweet http://promo.example/{n}",
)
NOISE = (
    "had a coffee this morning, nice weather today #{n}",
    "watching the game tonight with friends, {n} of us",
    "new week, new goals. day {n}",
)
CANNED = (
    ("Delay apology", "Hi {{customer.name|there}}, sorry about {{order_id|your order}}. We are on it (ref {{case.id}}). ^{{agent.name}}"),
    ("Sent a DM", "Hi {{customer.handle|there}}, we have sent you a DM about case {{case.id}}."),
)  # fmt: skip


# --- the receiver --------------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the receiver got: replies by reply id, webhooks by delivery id, and every refusal."""

    reply_secret: str
    hook_secret: str
    replies: Counter[str] = field(default_factory=Counter)
    reply_cases: dict[str, str] = field(default_factory=dict)
    hooks: Counter[str] = field(default_factory=Counter)
    hook_events: set[str] = field(default_factory=set)
    refused: Counter[str] = field(default_factory=Counter)
    captured: tuple[dict[str, str], bytes] | None = None
    last_at: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock)
    on_reply: Any = None

    def verdict(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        webhook = path.startswith("/hooks")
        secret = self.hook_secret if webhook else self.reply_secret
        parts = dict(p.split("=", 1) for p in headers.get("sift-signature", "").split(",") if "=" in p)
        if not parts.get("t", "").isdigit():
            return self._refuse("unsigned")
        expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            return self._refuse("bad signature")
        if abs(time.time() - int(parts["t"])) > TOLERANCE:
            return self._refuse("stale timestamp")
        doc = json.loads(body)
        with self.lock:
            self.last_at = time.monotonic()
            seen = self.hooks if webhook else self.replies
            ident = headers.get("sift-delivery" if webhook else "sift-reply-id", "")
            if seen[ident]:
                seen[ident] += 1
                return self._refuse("replayed id")
            seen[ident] = 1
            if webhook:
                self.hook_events.add(doc["data"]["event_id"])
                self.captured = (headers, body)  # the newest, for the receiver's own replay check
                return 200, b"{}"
            self.reply_cases[ident] = doc["case_id"]
        if self.on_reply is not None:
            self.on_reply(doc)
        return 200, json.dumps({"external_id": f"out-{ident}"}).encode()

    def _refuse(self, why: str) -> tuple[int, bytes]:
        with self.lock:
            self.refused[why] += 1
        return {"unsigned": 400, "bad signature": 401, "stale timestamp": 408}.get(why, 409), b"{}"


def serve_inbox(inbox: Inbox, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, out = inbox.verdict(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- the plan of the day -------------------------------------------------------------------------


@dataclass
class Post:
    """One POST /signals the script makes; ``kind`` says what Sift must make of it."""

    kind: str  # opening | early | followup | thanks | copy | repost | spam | noise
    body: dict[str, Any]
    thread: int | None = None
    copy_of: str | None = None  # external id of the signal a copy or a re-post repeats


@dataclass
class Thread:
    n: int
    author: dict[str, Any]
    source: str
    opening: Post
    follow_ups: list[Post] = field(default_factory=list)  # posted one per reply Sift sends
    copy_follow_up: set[int] = field(default_factory=set)  # follow-ups posted twice (a duplicate)


def plan(
    mentions: int, customers: int, seed: int, run: str, *, pull_share: float = 0.0
) -> tuple[list[Thread], list[tuple[float, Post]]]:
    """The threads (one per customer; ``pull_share`` of them open in another language than
    English) and the posts scheduled at fixed offsets (seconds from the start, before
    ``spread``); follow-ups are posted when Sift's replies arrive."""
    if mentions < customers:
        raise SystemExit("--mentions must be at least --customers (each customer opens one case)")
    rng = random.Random(seed)
    ids = itertools.count()
    threads = []
    for n in range(customers):
        author = {
            "handle": f"@{run}_c{n}",
            "name": f"Customer {n}",
            "followers": int(rng.lognormvariate(5, 2)),
        }
        text = rng.choice(IN_OTHER_LANGUAGES if rng.random() < pull_share else OPENINGS).format(
            product=rng.choice(PRODUCTS),
            problem=rng.choice(PROBLEMS).format(n=rng.randint(2, 9)),
            order=rng.randint(10000, 99999),
            n=rng.randint(2, 9),
        )
        source = rng.choice(SOURCES)
        opening = Post("opening", _body(source, f"{run}-t{n}-0", text, author), thread=n)
        threads.append(Thread(n, author, source, opening))
    rest = mentions - customers
    counts = {k: round(rest * share) for k, share in (("early", 0.05), ("copy", 0.1), ("repost", 0.08))}
    counts.update(spam=round(rest * 0.12), noise=round(rest * 0.15))
    counts["followup"] = rest - sum(counts.values())
    for _ in range(counts["followup"]):
        t = rng.choice(threads)
        t.follow_ups.append(Post("followup", {}, thread=t.n))
    for t in threads:  # a "thanks" only ever ends a conversation: it reopens nothing
        if t.follow_ups and rng.random() < 0.35:
            t.follow_ups[-1].kind = "thanks"
    timed: list[tuple[float, Post]] = []
    for t in threads:
        timed.append((rng.random(), t.opening))
    early_threads = rng.sample(threads, min(counts["early"], len(threads)))
    for t in early_threads:  # the reply arrives before its parent: the opening is held back a little
        at = next(a for a, p in timed if p is t.opening)
        reply = _body(t.source, f"{run}-t{t.n}-early", EARLY.format(n=rng.randint(2, 9)), t.author)
        reply["in_reply_to"] = t.opening.body["external_id"]
        timed.append((at, Post("early", reply, thread=t.n)))
        timed[[p for _, p in timed].index(t.opening)] = (at + 0.02, t.opening)
    copies = counts["copy"]
    with_follow_ups = [t for t in threads if t.follow_ups]
    for i in range(copies):
        if i % 3 == 2 and with_follow_ups:  # a third of the copies repeat a follow-up
            t = rng.choice(with_follow_ups)
            k = rng.randrange(len(t.follow_ups))
            if k not in t.copy_follow_up:
                t.copy_follow_up.add(k)
                continue
        t = rng.choice(threads)
        at = next(a for a, p in timed if p is t.opening)
        body = dict(t.opening.body, external_id=f"{run}-t{t.n}-copy{next(ids)}")
        timed.append((at + 0.01, Post("copy", body, thread=t.n, copy_of=t.opening.body["external_id"])))
    for kind, texts in (("spam", SPAM), ("noise", NOISE)):
        for _ in range(counts[kind]):
            t = rng.choice(threads)
            body = _body(
                t.source, f"{run}-{kind}{next(ids)}", rng.choice(texts).format(n=next(ids)), t.author
            )
            timed.append((rng.random(), Post(kind, body, thread=t.n)))
    reposted = rng.sample([p for _, p in timed if p.kind in ("opening", "spam", "noise")], counts["repost"])
    for post in reposted:
        at = next(a for a, p in timed if p is post)
        timed.append(
            (at + 0.01, Post("repost", post.body, thread=post.thread, copy_of=post.body["external_id"]))
        )
    timed.sort(key=lambda x: x[0])
    return threads, timed


def _body(source: str, external_id: str, text: str, author: dict[str, Any]) -> dict[str, Any]:
    return {"source": source, "external_id": external_id, "text": text, "author": author}


# --- the customers' side -------------------------------------------------------------------------


class Customers:
    """Posts the scheduled signals and each thread's next follow-up when Sift's reply reaches it."""

    def __init__(self, client: httpx.Client, threads: list[Thread], run: str, rng: random.Random) -> None:
        self.client, self.threads, self.run_id, self.rng = client, threads, run, rng
        self.heap: list[tuple[float, int, Post]] = []
        self.seq = itertools.count()
        self.lock = threading.Lock()
        self.posted: list[tuple[Post, dict[str, Any]]] = []
        self.errors: list[str] = []
        self.next_follow_up: dict[int, int] = defaultdict(int)
        self.case_thread: dict[str, int] = {}
        self.replies_in: list[dict[str, Any]] = []
        self.last_doc: dict[int, dict[str, Any]] = {}  # the newest reply of Sift's each thread saw
        self.nudged = 0

    def schedule(self, at: float, post: Post) -> None:
        with self.lock:
            heapq.heappush(self.heap, (at, next(self.seq), post))

    def reply_arrived(self, doc: dict[str, Any]) -> None:
        """Called by the receiver (its own thread): handled in :meth:`run`."""
        with self.lock:
            self.replies_in.append(doc)

    def idle(self) -> bool:
        with self.lock:
            return not self.heap and not self.replies_in

    def unfinished(self) -> int:
        return sum(len(t.follow_ups) - self.next_follow_up[t.n] for t in self.threads)

    def unfinished_threads(self) -> list[str]:
        return [
            f"thread {t.n}: {self.next_follow_up[t.n]} of {len(t.follow_ups)} follow-ups posted"
            for t in self.threads
            if self.next_follow_up[t.n] < len(t.follow_ups)
        ]

    def nudge(self) -> None:
        """Threads whose case settled with follow-ups still planned (two messages the customer
        sent before Sift answered got one answer): each customer writes again, unprompted."""
        with self.lock:
            for n, doc in self.last_doc.items():
                if self.next_follow_up[n] < len(self.threads[n].follow_ups):
                    self.replies_in.append(doc)
                    self.nudged += 1

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self.lock:
                arrived, self.replies_in = self.replies_in, []
                due = self.heap[0][0] <= time.monotonic() if self.heap else False
                post = heapq.heappop(self.heap)[2] if due else None
            for doc in arrived:
                self._answer(doc)
            if post is not None:
                self._post(post)
            elif not arrived:
                time.sleep(0.01)

    def _answer(self, doc: dict[str, Any]) -> None:
        n = self._thread_of(doc["case_id"])
        if n is None:
            return
        t = self.threads[n]
        k = self.next_follow_up[n]
        if k >= len(t.follow_ups):
            return
        self.next_follow_up[n] = k + 1
        post = t.follow_ups[k]
        texts = THANKS if post.kind == "thanks" else FOLLOW_UPS
        text = self.rng.choice(texts).format(n=k + 2, product=self.rng.choice(PRODUCTS))
        post.body = _body(t.source, f"{self.run_id}-t{n}-{k + 1}", text, t.author)
        post.body["in_reply_to"] = doc["in_reply_to"]  # the customer's message Sift answered
        # a nudge, should the thread stall, replies to this follow-up
        self.last_doc[n] = {"case_id": doc["case_id"], "in_reply_to": post.body["external_id"]}
        at = time.monotonic() + self.rng.uniform(0.1, 1.0)
        self.schedule(at, post)
        if k in t.copy_follow_up:
            copy = dict(post.body, external_id=f"{post.body['external_id']}-copy")
            self.schedule(at + 0.05, Post("copy", copy, thread=n, copy_of=post.body["external_id"]))

    def _thread_of(self, case_id: str) -> int | None:
        if case_id not in self.case_thread:
            r = self.client.get("/api/v1/signals", params={"case_id": case_id, "limit": 200})
            for s in r.json()["items"]:
                ext = s["external_id"]
                if ext.startswith(f"{self.run_id}-t"):
                    self.case_thread[case_id] = int(ext[len(self.run_id) + 2 :].split("-")[0])
                    break
        return self.case_thread.get(case_id)

    def _post(self, post: Post) -> None:
        try:
            r = self.client.post("/api/v1/signals", json=post.body)
        except httpx.HTTPError as err:
            self.errors.append(f"POST {post.body['external_id']}: {type(err).__name__}")
            return
        if r.status_code not in (200, 202):
            self.errors.append(f"POST {post.body['external_id']}: {r.status_code} {r.text[:200]}")
            return
        self.posted.append((post, r.json()))


# --- the CSRs' side ------------------------------------------------------------------------------


@dataclass
class Tally:
    next_claimed: int = 0
    next_empty: Counter[str] = field(default_factory=Counter)
    completed: Counter[str] = field(default_factory=Counter)
    canned: int = 0
    bulk_calls: int = 0
    bulk_cases: int = 0
    conflicts: int = 0
    busy_retries: int = 0  # 503 DatabaseBusy answers, retried after their Retry-After
    errors: list[str] = field(default_factory=list)


class Csr:
    """One CSR: works their own open tasks, else asks ``tasks:next`` for more."""

    def __init__(
        self, client: httpx.Client, canned: list[str], rng: random.Random, wait_share: float
    ) -> None:
        self.client, self.canned, self.rng, self.wait_share = client, canned, rng, wait_share
        self.tally = Tally()

    def nudge(self) -> None:
        """Threads whose case settled with follow-ups still planned (two messages the customer
        sent before Sift answered got one answer): each customer writes again, unprompted."""
        with self.lock:
            for n, doc in self.last_doc.items():
                if self.next_follow_up[n] < len(self.threads[n].follow_ups):
                    self.replies_in.append(doc)
                    self.nudged += 1

    def run(self, stop: threading.Event) -> None:
        pause = 0.05
        while not stop.is_set():
            try:
                worked = self._round()
            except httpx.HTTPError as err:
                self.tally.errors.append(f"{type(err).__name__}: {err}")
                worked = False
            pause = 0.05 if worked else min(pause * 2, 1.0)
            if not worked:
                stop.wait(pause)

    def _round(self) -> bool:
        mine = self.client.get("/api/v1/tasks", params={"assignee": "me", "limit": 20}).json()["items"]
        respond = [t for t in mine if t["name"] == "respond"]
        if len(respond) >= 2 and self.rng.random() < 0.3:
            self._bulk(respond[:5])
            return True
        if mine:
            self._work(mine[0])
            return True
        r = self.client.post("/api/v1/tasks:next")
        if r.status_code == 204:
            self.tally.next_empty[r.headers.get("Sift-Next-Reason", "?")] += 1
            return False
        if r.status_code != 200:
            self.tally.errors.append(f"tasks:next {r.status_code} {r.text[:200]}")
            return False
        self.tally.next_claimed += 1
        self._work(r.json())
        return True

    def _work(self, task: dict[str, Any]) -> None:
        name = task["name"]
        data: dict[str, Any]
        if name == "triage":
            data = {"action": "respond"}
        elif name == "respond":
            data = {"then": "wait"} if self.rng.random() < self.wait_share else {}
            if self.rng.random() < 0.5:
                data["canned_reply_id"] = self.rng.choice(self.canned)
                self.tally.canned += 1
            else:
                data["reply"] = "Sorry for the trouble! We have looked into it and fixed it for you."
        elif name == "resolve":
            data = {"resolution_code": "answered"}
        else:
            self.tally.errors.append(f"unexpected task {name}")
            return
        r = self._post(f"/api/v1/tasks/{task['id']}/complete", {"data": data})
        self._count(r, name)

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POSTs; a 503 (the database busy: nothing was written) is retried after its
        Retry-After, as the contract asks of a client, at most three times."""
        for _ in range(3):
            r = self.client.post(path, json=body)
            if r.status_code != 503:
                return r
            self.tally.busy_retries += 1
            time.sleep(float(r.headers.get("Retry-After", "1")))
        return self.client.post(path, json=body)

    def _bulk(self, tasks: list[dict[str, Any]]) -> None:
        body = {"case_ids": [t["case_id"] for t in tasks], "canned_reply_id": self.canned[0]}
        r = self._post("/api/v1/cases:bulk-reply", body)
        self.tally.bulk_calls += 1
        if r.status_code != 200:
            self.tally.errors.append(f"bulk-reply {r.status_code} {r.text[:200]}")
            return
        for result in r.json()["results"]:
            if result["status"] == "ok":
                self.tally.completed["respond"] += 1
                self.tally.bulk_cases += 1
            elif result["error"] in ("TaskNotOpen", "NoRespondTask", "TaskHeld"):
                self.tally.conflicts += 1  # the customer wrote meanwhile, or another turn started
            else:
                self.tally.errors.append(f"bulk-reply {result['error']}: {result['detail']}")

    def _count(self, r: httpx.Response, name: str) -> None:
        if r.status_code == 200:
            self.tally.completed[name] += 1
        elif r.status_code == 409:
            self.tally.conflicts += 1  # a customer's message cancelled the task, or it moved on
        else:
            self.tally.errors.append(f"complete {name}: {r.status_code} {r.text[:200]}")


# --- reading back and checking -------------------------------------------------------------------


def all_signals(client: httpx.Client) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/signals", params=params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)


@dataclass
class CaseDoc:
    case: dict[str, Any]
    timeline: list[dict[str, Any]]
    replies: list[dict[str, Any]]

    @property
    def origin(self) -> str | None:
        """The signal that opened the case: the first attached without a ``via`` (reply, topic)."""
        first = next(
            (e for e in self.timeline if e["type"] == "signal.attached" and "via" not in e["data"]), None
        )
        return first["data"]["signal_id"] if first else None


def read_cases(client: httpx.Client, case_ids: set[str]) -> dict[str, CaseDoc]:
    docs = {}
    for case_id in sorted(case_ids):
        docs[case_id] = CaseDoc(
            client.get(f"/api/v1/cases/{case_id}").json(),
            client.get(f"/api/v1/cases/{case_id}/timeline").json()["items"],
            client.get("/api/v1/replies", params={"case_id": case_id, "limit": 500}).json()["items"],
        )
    return docs


def account(
    posted: list[tuple[Post, dict[str, Any]]], signals: list[dict[str, Any]], origin: set[str], out: Findings
) -> None:
    """Every posted signal's fate: settled, in its thread's one case, or ignored or logged as it should be."""
    by_ext = {s["external_id"]: s for s in signals}
    stored_twice = len(signals) - len(by_ext)
    lost: list[str] = []
    doubled: list[str] = []
    thread_cases: dict[int, set[str]] = defaultdict(set)
    for post, answer in posted:
        ext = post.body["external_id"]
        s = by_ext.get(ext)
        if s is None:
            lost.append(f"{ext}: posted, not stored")
            continue
        if post.kind == "repost":
            if not answer.get("duplicate") or answer["id"] != s["id"]:
                doubled.append(f"{ext}: a re-post was not recognised as the same signal")
            continue
        if s["status"] not in ("processed", "ignored"):
            lost.append(f"{ext} ({post.kind}): {s['status']} {s.get('error') or ''}")
            continue
        if post.kind in ("opening", "early", "followup", "thanks") and s["case_id"]:
            thread_cases[post.thread or 0].add(s["case_id"])
    for post, _ in posted:
        s = by_ext.get(post.body["external_id"])
        if s is None or post.kind == "repost" or s["status"] not in ("processed", "ignored"):
            continue
        ext, mine = s["external_id"], thread_cases.get(post.thread or 0, set())
        if post.kind in ("opening", "early", "followup", "thanks"):
            if s["status"] != "processed" or not s["case_id"]:
                lost.append(f"{ext} ({post.kind}): {s['status']} without a case")
        elif post.kind == "copy":
            first = by_ext.get(post.copy_of or "")
            if first is None or s["duplicate_of"] != first["id"]:
                doubled.append(f"{ext}: a copy not recorded as a duplicate of {post.copy_of}")
            elif s["case_id"] not in (None, first["case_id"]):
                doubled.append(f"{ext}: a copy in another case than its first")
        elif post.kind == "spam" and (s["status"] != "ignored" or s["case_id"]):
            lost.append(f"{ext}: spam {s['status']} in case {s['case_id']}")
        elif post.kind == "noise" and s["case_id"] not in (None, *mine):
            doubled.append(f"{ext}: noise in a case not its author's")
        if s["id"] in origin and post.kind != "opening":
            doubled.append(f"{ext} ({post.kind}): opened a case of its own")
    for n, found in thread_cases.items():
        if len(found) > 1:
            doubled.append(f"thread {n}: {len(found)} cases")
    if stored_twice:
        doubled.append(f"{stored_twice} external ids stored twice")
    fates = Counter(_fate(s, origin) for s in signals)
    out.lines.append(
        f"accounted for     {sum(fates.values())}: one case {fates['case']}, attached {fates['attached']}, "
        f"ignored {fates['ignored']}, logged {fates['logged']}, other {fates['other']} "
        f"| lost {len(lost)}, doubled {len(doubled)}"
    )
    out.check(not lost, f"{len(lost)} signals lost: " + "; ".join(lost[:5]))
    out.check(not doubled, f"{len(doubled)} signals doubled: " + "; ".join(doubled[:5]))
    out.check(fates["other"] == 0, f"{fates['other']} signals in no known state")
    strays = origin - {
        by_ext[p.body["external_id"]]["id"]
        for p, _ in posted
        if p.kind == "opening" and p.body["external_id"] in by_ext
    }
    out.check(not strays, f"{len(strays)} cases opened by something other than a customer's first complaint")


def _fate(s: dict[str, Any], origin: set[str]) -> str:
    if s["status"] == "ignored":
        return "ignored"
    if s["status"] != "processed":
        return "other"
    if not s["case_id"]:
        return "logged"
    return "case" if s["id"] in origin else "attached"


REQUIRED = ("case.opened", "task.completed", "reply.queued", "reply.sent", "case.resolved")


def check_cases(
    docs: dict[str, CaseDoc], signals: list[dict[str, Any]], inbox: Inbox, out: Findings
) -> dict[str, str]:
    """Every case resolved with a complete timeline, its replies received once; returns each
    case's first assignment or claim event."""
    signal_ids_of: dict[str, set[str]] = defaultdict(set)
    for s in signals:
        if s["case_id"]:
            signal_ids_of[s["case_id"]].add(s["id"])
    incomplete: list[str] = []
    firsts: dict[str, dict[str, Any]] = {}
    statuses: Counter[str] = Counter()
    queues: Counter[str] = Counter()
    reopened = no_reply = 0
    reply_ids: list[str] = []
    missed_events: list[str] = []
    for case_id, doc in docs.items():
        case, items, replies = doc.case, doc.timeline, doc.replies
        statuses[case["status"]] += 1
        queues[case["queue"]] += 1
        types = Counter(e["type"] for e in items)
        reopened += types["case.reopened"]
        no_reply += (case.get("resolution") or {}).get("code") == "no_reply"
        reply_ids += [r["id"] for r in replies]
        problems = [t for t in REQUIRED if not types[t]]
        first = next((e for e in items if e["type"] in ("case.assigned", "case.claimed")), None)
        if first is None:
            problems.append("no assignment")
        else:
            firsts[case_id] = first
        opened = next((e for e in items if e["type"] == "case.opened"), None)
        if opened is not None and not opened["data"].get("rule"):
            problems.append("case.opened without the routing rule")
        if not types["reply.queued"] == types["reply.sent"] == len(replies):
            problems.append(
                f"{types['reply.queued']} queued, {types['reply.sent']} sent, {len(replies)} replies"
            )
        if any(r["status"] != "sent" for r in replies):
            problems.append("a reply not sent")
        mentioned = {
            e["data"].get("signal_id") for e in items if e["type"] in ("signal.attached", "signal.duplicate")
        }
        if signal_ids_of[case_id] - mentioned:
            problems.append(f"{len(signal_ids_of[case_id] - mentioned)} of its signals not on the timeline")
        last = [e["type"] for e in items if e["type"] in ("case.resolved", "case.reopened")]
        if case["status"] != "resolved" or not last or last[-1] != "case.resolved":
            problems.append(f"status {case['status']}")
        if problems:
            incomplete.append(f"{case_id}: {', '.join(problems)}")
        missed_events += [
            e["type"] for e in items if delivered(e["type"]) and e["id"] not in inbox.hook_events
        ]
    out.lines.append(
        f"cases             {len(docs)} ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}); "
        f"reopened {reopened} times; {no_reply} resolved by the quiet period (no reply); "
        f"queues {dict(sorted(queues.items()))}"
    )
    out.lines.append(f"timelines         {len(docs) - len(incomplete)}/{len(docs)} complete")
    out.check(not incomplete, f"{len(incomplete)} cases incomplete: " + "; ".join(incomplete[:5]))
    received_once = sum(1 for r in reply_ids if inbox.replies[r] == 1)
    missing = [r for r in reply_ids if r not in inbox.replies]
    repeated = sum(1 for n in inbox.replies.values() if n > 1)
    unknown = set(inbox.replies) - set(reply_ids)
    out.lines.append(
        f"replies           {len(reply_ids)} queued and sent, {received_once} received exactly once "
        f"({len(missing)} missing, {repeated} repeated, {len(unknown)} not Sift's)"
    )
    out.check(received_once == len(reply_ids) and not unknown, "replies not received exactly once each")
    out.check(
        not missed_events,
        f"{len(missed_events)} delivered-type timeline events never reached the webhook: "
        f"{dict(Counter(missed_events))}",
    )
    return firsts


def check_assignment(
    firsts: dict[str, dict[str, Any]], docs: dict[str, CaseDoc], capacities: dict[str, int], out: Findings
) -> None:
    """The pushed queues' cases within 10% of fair by capacity (their first holder); every case
    of a pulled queue first claimed by a CSR through ``tasks:next``, never pushed."""
    pushed = {c: e["data"]["assignee"] for c, e in firsts.items() if docs[c].case["queue"] not in PULLED}
    check_fairness(pushed, capacities, out)
    pulled = {c: e for c, e in firsts.items() if docs[c].case["queue"] in PULLED}
    not_next = [
        c for c, e in pulled.items() if e["type"] != "case.claimed" or e["data"].get("via") != "tasks:next"
    ]
    by_csr = Counter(e["data"]["assignee"] for e in pulled.values())
    out.lines.append(
        f"pulled            {len(pulled)} cases of {', '.join(PULLED)} (manual): {len(pulled) - len(not_next)} "
        f"first claimed through tasks:next; by CSR {dict(sorted(by_csr.items()))}"
    )
    out.check(not not_next, f"{len(not_next)} cases of a manual queue not first claimed through tasks:next")
    strangers = set(by_csr) - set(capacities)
    out.check(not strangers, f"pulled cases first held by someone not a CSR: {sorted(strangers)}")


def check_fairness(holder: dict[str, str], capacities: dict[str, int], out: Findings) -> None:
    counts = Counter(holder.values())
    total, weight = sum(counts.values()), sum(capacities.values())
    parts, worst = [], 0.0
    for name, cap in sorted(capacities.items()):
        fair = total * cap / weight
        deviation = abs(counts[name] - fair) / fair if fair else 0.0
        worst = max(worst, deviation)
        parts.append(f"{name} cap {cap}: {counts[name]} (fair {fair:.1f})")
    out.lines.append(
        f"pushed            {total} cases, max deviation {worst:.1%} of fair by capacity (limit {FAIRNESS:.0%})"
    )
    out.lines += ["                  " + ", ".join(parts[i : i + 4]) for i in range(0, len(parts), 4)]
    out.check(worst <= FAIRNESS, f"assignment {worst:.1%} from fair by capacity")
    strangers = set(counts) - set(capacities)
    out.check(not strangers, f"cases first held by someone not a CSR: {sorted(strangers)}")


def check_webhooks(client: httpx.Client, hook_id: str, inbox: Inbox, url: str, out: Findings) -> None:
    pending = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", params={"status": "pending", "limit": 200})
    failed = client.get(f"/api/v1/webhooks/{hook_id}/deliveries", params={"status": "failed", "limit": 200})
    stuck = len(pending.json()["items"]) + len(failed.json()["items"])
    refused_by_sift, refusals = sum(inbox.refused.values()), dict(inbox.refused)
    replay = tamper = 0
    if inbox.captured is not None:  # the receiver's own check: a replay and a forgery are refused
        headers, body = inbox.captured
        keep = {k: v for k, v in headers.items() if k.startswith("sift-") or k == "content-type"}
        replay = httpx.post(f"{url}/hooks", content=body, headers=keep).status_code
        tamper = httpx.post(
            f"{url}/hooks", content=body.replace(b'"type"', b'"typo"', 1), headers=keep
        ).status_code
    out.lines.append(
        f"webhooks          {len(inbox.hooks)} received, every one with a valid signature; refused {refused_by_sift} "
        f"({refusals or 'none'}); {stuck} pending or failed; "
        f"receiver self-check: replay -> {replay}, tampered -> {tamper}"
    )
    out.check(refused_by_sift == 0, f"the receiver refused {refusals}")
    out.check(stuck == 0, f"{stuck} webhook deliveries pending or failed")
    out.check(
        replay == 409 and tamper == 401, f"receiver self-check failed (replay {replay}, tampered {tamper})"
    )


# --- running it ----------------------------------------------------------------------------------


def fresh_postgres(name: str) -> str:
    import psycopg

    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def start_server(
    args: argparse.Namespace, tmp: str, key: str, inbox: Inbox
) -> tuple[subprocess.Popen[bytes], Path]:
    env = {
        **os.environ,
        "SIFT_DATA_DIR": tmp,
        "SIFT_BOOTSTRAP_ADMIN_KEY": key,
        "SIFT_INGEST_RATE_LIMIT": "100000000/minute",
        "SIFT_REPLY_ENDPOINT": f"http://127.0.0.1:{args.receiver_port}/replies",
        "SIFT_REPLY_SECRET": inbox.reply_secret,
        "SIFT_DELIVERY_POLL_SECONDS": "0.2",
        "SIFT_CONVERSATION_QUIET_PERIOD": args.quiet_period,
    }
    env.pop("SIFT_DATABASE_URL", None)
    if args.postgres:
        env["SIFT_DATABASE_URL"] = fresh_postgres(f"sift_canned_day_{os.getpid()}")
        subprocess.run(
            [sys.executable, "-m", "api.cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True
        )
    log = Path(tmp) / "server.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(args.port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return server, log


def set_up(
    admin: httpx.Client, capacities: dict[str, int], inbox: Inbox, receiver: str
) -> tuple[str, dict[str, str], list[str], str]:
    """Queues, CSR keys with their capacities, an integration key, canned replies and the webhook."""
    for queue in QUEUES:
        strategy = "manual" if queue in PULLED else "round_robin"
        admin.put(f"/api/v1/queues/{queue}", json={"strategy": strategy, "skills": []}).raise_for_status()
    keys = {}
    for name, cap in capacities.items():
        r = admin.post("/api/v1/keys", json={"name": name, "role": "csr", "queues": list(QUEUES)})
        r.raise_for_status()
        keys[name] = r.json()["key"]
        admin.patch(f"/api/v1/agents/{name}", json={"capacity": cap}).raise_for_status()
    r = admin.post("/api/v1/keys", json={"name": "day-intake", "role": "integration"})
    r.raise_for_status()
    canned = []
    for name, body in CANNED:
        made = admin.post("/api/v1/canned-replies", json={"name": name, "body": body, "tags": ["day"]})
        made.raise_for_status()
        canned.append(made.json()["id"])
    hook = admin.post(
        "/api/v1/webhooks", json={"url": f"{receiver}/hooks", "events": ["*"], "secret": inbox.hook_secret}
    )
    hook.raise_for_status()
    return r.json()["key"], keys, canned, hook.json()["id"]


def settled(admin: httpx.Client, customers: Customers, inbox: Inbox) -> str | None:
    """None once the day is over, else what it still waits for."""
    if not customers.idle():  # scheduled posts, or follow-ups to Sift's replies, still to make
        return "posts still to make"
    for status in ("pending", "buffered"):
        if admin.get("/api/v1/signals", params={"status": status, "limit": 1}).json()["items"]:
            return f"signals {status}"
    for status in ("open", "waiting"):
        if admin.get("/api/v1/cases", params={"status": status, "limit": 1}).json()["items"]:
            return f"cases {status}"
    if admin.get("/api/v1/replies", params={"status": "queued", "limit": 1}).json()["items"]:
        return "replies queued"
    if time.monotonic() - inbox.last_at < 2.0:
        return "webhooks still arriving"
    if customers.unfinished():
        customers.nudge()
        return f"{customers.unfinished()} follow-ups still to post"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=2000, help="signals the customers post")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--csrs", type=int, default=10)
    parser.add_argument(
        "--capacities", default=",".join(map(str, DEFAULT_CAPACITIES)), help="per CSR, cycled"
    )
    parser.add_argument(
        "--spread", type=float, default=120.0, help="seconds over which first posts are spread"
    )
    parser.add_argument("--quiet-period", default="PT10S", help="SIFT_CONVERSATION_QUIET_PERIOD of the run")
    parser.add_argument(
        "--wait-share", type=float, default=0.2, help="share of replies that wait for the customer"
    )
    parser.add_argument(
        "--timeout", type=float, default=540.0, help="seconds the day may take before it fails"
    )
    parser.add_argument(
        "--pull-share",
        type=float,
        default=0.15,
        help="share of customers writing in another language: their cases go to the manual queue",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--port", type=int, default=8820)
    parser.add_argument("--receiver-port", type=int, default=8821)
    parser.add_argument("--postgres", action="store_true", help="run on a fresh PostgreSQL database")
    parser.add_argument("--server-log", type=Path, help="keep the server's log there")
    args = parser.parse_args()
    caps = [int(c) for c in args.capacities.split(",")]
    capacities = {f"csr{i:02}": caps[i % len(caps)] for i in range(args.csrs)}
    run = f"day{int(time.time())}"
    threads, timed = plan(args.mentions, args.customers, args.seed, run, pull_share=args.pull_share)
    inbox = Inbox(reply_secret=secrets.token_hex(16), hook_secret=secrets.token_hex(16))
    receiver_url = f"http://127.0.0.1:{args.receiver_port}"
    rx = serve_inbox(inbox, args.receiver_port)
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="sift-day-") as tmp:
        key = "day-admin-" + secrets.token_hex(12)
        server, log = start_server(args, tmp, key, inbox)
        base = f"http://127.0.0.1:{args.port}"
        try:
            admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
            for _ in range(600):
                try:
                    if admin.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            intake, csr_keys, canned, hook_id = set_up(admin, capacities, inbox, receiver_url)
            poster = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {intake}"}, timeout=60)
            customers = Customers(poster, threads, run, random.Random(args.seed + 1))
            inbox.on_reply = customers.reply_arrived
            csrs = [
                Csr(
                    httpx.Client(base_url=base, headers={"Authorization": f"Bearer {k}"}, timeout=60),
                    canned,
                    random.Random(args.seed + 2 + i),
                    args.wait_share,
                )
                for i, k in enumerate(csr_keys.values())
            ]
            start = time.monotonic()
            for at, post in timed:
                customers.schedule(start + at * args.spread, post)
            workers = [threading.Thread(target=customers.run, args=(stop,), daemon=True)]
            workers += [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in csrs]
            for w in workers:
                w.start()
            posts = len(timed) + sum(len(t.follow_ups) + len(t.copy_follow_up) for t in threads)
            waiting: str | None = "start"
            while waiting is not None and time.monotonic() - start < args.timeout:
                time.sleep(1.0)
                waiting = settled(admin, customers, inbox)
            wall = time.monotonic() - start
            stop.set()
            for w in workers:
                w.join(30)
            out = Findings()
            out.check(waiting is None, f"the day did not settle within {args.timeout:.0f} s: {waiting}")
            kinds = Counter(p.kind for p, _ in customers.posted)
            out.lines.append(
                f"posted            {len(customers.posted)} of {posts} planned: openings {kinds['opening']}, "
                f"follow-up replies {kinds['followup'] + kinds['thanks']} (thanks {kinds['thanks']}), replies before "
                f"their parent {kinds['early']}, duplicates {kinds['copy']}, exact re-posts {kinds['repost']}, "
                f"spam {kinds['spam']}, noise {kinds['noise']}; {customers.nudged} follow-ups written unprompted "
                "(their earlier message was answered together with another)"
            )
            out.check(
                len(customers.posted) == posts,
                f"{posts - len(customers.posted)} planned posts not made: {customers.unfinished_threads()[:5]}",
            )
            out.check(not customers.errors, f"{len(customers.errors)} posts failed: {customers.errors[:3]}")
            signals = [s for s in all_signals(admin) if s["external_id"].startswith(run)]
            out.lines.append(f"signals stored    {len(signals)} (one per distinct external id)")
            docs = read_cases(admin, {s["case_id"] for s in signals if s["case_id"]})
            account(customers.posted, signals, {d.origin for d in docs.values() if d.origin}, out)
            firsts = check_cases(docs, signals, inbox, out)
            check_assignment(firsts, docs, capacities, out)
            check_webhooks(admin, hook_id, inbox, receiver_url, out)
            tally = _total([c.tally for c in csrs])
            out.lines.append(
                f"CSR work          tasks:next claimed {tally.next_claimed} (empty: {dict(tally.next_empty)}); "
                f"completed {dict(tally.completed)}; canned replies {tally.canned}; bulk replies "
                f"{tally.bulk_calls} calls for {tally.bulk_cases} cases; conflicts {tally.conflicts}; "
                f"503 DatabaseBusy retried {tally.busy_retries}"
            )
            out.check(not tally.errors, f"{len(tally.errors)} CSR calls failed: {tally.errors[:3]}")
        except BaseException:
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            stop.set()
            server.terminate()
            server.wait(30)
            if args.server_log:
                args.server_log.write_bytes(log.read_bytes())
            rx.shutdown()
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"bench/day.py on {database}: {args.mentions} mentions from {args.customers} customers, "
        f"{args.csrs} CSRs (capacities {','.join(map(str, capacities.values()))}), seed {args.seed}"
    )
    print("\n".join(out.lines))
    print(
        f"wall              {wall:.1f} s from the first post to settled; {len(signals) / wall:.1f} signals/s"
    )
    if out.failures:
        print("FAILED:\n  " + "\n  ".join(out.failures))
        sys.exit(1)
    print("RESULT: PASS")


def _total(tallies: list[Tally]) -> Tally:
    total = Tally()
    for t in tallies:
        total.next_claimed += t.next_claimed
        total.next_empty.update(t.next_empty)
        total.completed.update(t.completed)
        total.canned += t.canned
        total.bulk_calls += t.bulk_calls
        total.bulk_cases += t.bulk_cases
        total.conflicts += t.conflicts
        total.busy_retries += t.busy_retries
        total.errors += t.errors
    return total


if __name__ == "__main__":
    main()
