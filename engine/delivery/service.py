"""The delivery service: ``sift serve`` and ``sift worker`` run it beside the timer service.

One round: hand committed outbox events on to the subscriptions (:func:`webhooks.fan_out`),
then claim due webhook deliveries and due replies under a lease, send them side by side with
no transaction open, and settle each in a transaction of its own. Rounds follow each other
while there is work, and wait ``delivery_poll_seconds`` when there is none.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from engine.config import get_settings
from engine.db import owner_name, unit_of_work
from engine.delivery import http, replies, webhooks

log = logging.getLogger("sift.delivery")


def run_once(
    *, owner: str, client: httpx.Client | None = None, pool: ThreadPoolExecutor | None = None
) -> dict[str, int]:
    """One round; returns how many events it fanned out and deliveries and replies it sent."""
    settings = get_settings()
    own = client is None
    client = client or http.client(settings.delivery_timeout_seconds)
    try:
        with unit_of_work() as session:
            fanned = webhooks.fan_out(session)
        with unit_of_work() as session:
            hooks = webhooks.claim_due(
                session, owner=owner, limit=100, lease_seconds=settings.delivery_lease_seconds
            )
            outgoing = replies.claim_due(
                session, owner=owner, limit=100, lease_seconds=settings.delivery_lease_seconds
            )

        def send_hook(job: webhooks.Job) -> str:
            return webhooks.settle(job, http.post(client, job.url, job.body, job.headers()))

        def send_reply(job: replies.Job) -> str:
            adapter = replies.adapter_for(job.reply.channel, client)
            if adapter is None:  # unconfigured since the claim: the lease expires and it waits
                return "held"
            return replies.settle(job, adapter.send(job.reply))

        mapper = pool.map if pool is not None else map
        list(mapper(send_hook, hooks))
        list(mapper(send_reply, outgoing))
    finally:
        if own:
            client.close()
    return {"fanned_out": fanned, "webhooks": len(hooks), "replies": len(outgoing)}


class DeliveryService:
    """Runs rounds in a background thread until stopped."""

    def __init__(self, poll_seconds: float | None = None) -> None:
        settings = get_settings()
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.delivery_poll_seconds
        self.owner = owner_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max(1, settings.delivery_threads), thread_name_prefix="sift-deliver")
        self._client = http.client(settings.delivery_timeout_seconds)
        # httpx logs every request at INFO with its full URL, which may carry a subscriber's
        # token in its query; the delivery log already keeps each attempt
        logging.getLogger("httpx").setLevel(logging.WARNING)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sift-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True)
        self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = run_once(owner=self.owner, client=self._client, pool=self._pool)
                busy = any(done.values())
            except Exception:
                log.exception("delivery round failed; the next one tries again")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)
