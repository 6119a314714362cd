"""The optional NATS JetStream intake (``SIFT_INTAKE=nats``): the inbox's signals carried by a broker.

The database stays the truth. The API commits a signal's row first, then publishes its id to the
stream with the id as ``Nats-Msg-Id`` (JetStream drops a second publish of the same id within its
duplicate window). Workers pull from one durable consumer with explicit acks: a worker handles the
signals of the messages it fetched in one batch and acks them only after that batch committed, so
a worker killed before its ack has the messages delivered again (after ``nats_ack_wait_seconds``)
to another; a message whose signal is no longer due (handled already, or waiting for a retry) is
acked and skipped. The stream is a work queue: an acked message is gone.

What the broker cannot carry is still found in the database: a signal whose publish failed (the
broker down, the API killed between commit and publish), a retry after a failed attempt and a
reply whose buffer window ended are taken by the worker's sweep of the inbox, which claims only
signals due for longer than ``nats_sweep_grace_seconds`` (those the broker path did not take).

nats-py is asyncio; this module runs one event loop in a daemon thread per process and offers a
blocking interface to the API's and the worker's threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import Counter

from engine.config import get_settings

log = logging.getLogger("sift.intake")
T = TypeVar("T")

PUBLISHED = Counter("sift_intake_published", "Signal ids published to the JetStream intake")
PUBLISH_FAILED = Counter(
    "sift_intake_publish_failed", "Signal ids whose publish failed (the worker's inbox sweep takes them)"
)
ACKED = Counter("sift_intake_acked", "Intake messages acked by workers after their batch committed")


def enabled() -> bool:
    return get_settings().intake == "nats"


@dataclass
class Delivery:
    """A fetched message: the signal id it names and how often JetStream has delivered it."""

    signal_id: str
    delivered: int
    msg: Any  # nats.aio.msg.Msg


class JetStreamIntake:
    """A connection to the JetStream intake; ``close()`` when done."""

    def __init__(
        self,
        url: str | None = None,
        *,
        stream: str | None = None,
        subject: str | None = None,
        consumer: str | None = None,
        ack_wait_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self.url = url or settings.nats_url
        self.stream = stream or settings.nats_stream
        self.subject = subject or settings.nats_subject
        self.consumer = consumer or settings.nats_consumer
        self.ack_wait = ack_wait_seconds if ack_wait_seconds is not None else settings.nats_ack_wait_seconds
        self.timeout = settings.nats_timeout_seconds
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sift-nats", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._sub: Any = None
        self._lock = threading.Lock()  # one fetch at a time per process
        try:
            self._call(self._connect(), self.timeout + 5)
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout if timeout is not None else self.timeout + 5)

    async def _connect(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig
        from nats.js.errors import NotFoundError

        self._nc = await nats.connect(
            self.url, connect_timeout=self.timeout, max_reconnect_attempts=-1, allow_reconnect=True
        )
        self._js = self._nc.jetstream(timeout=self.timeout)
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[self.subject],
                    retention=RetentionPolicy.WORK_QUEUE,
                    duplicate_window=120.0,
                )
            )
        config = ConsumerConfig(
            durable_name=self.consumer,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=-1,
        )
        self._sub = await self._js.pull_subscribe(
            self.subject, durable=self.consumer, stream=self.stream, config=config
        )

    @property
    def connected(self) -> bool:
        return self._nc is not None and bool(self._nc.is_connected)

    def publish(self, signal_ids: list[str]) -> int:
        """Publishes each id (as its own ``Nats-Msg-Id``) and waits for JetStream's acks; returns
        how many were stored or recognised as repeats. Never raises: a failed publish is logged and
        counted, and the sweep takes that signal from the database."""
        if not signal_ids:
            return 0
        try:
            done = self._call(self._publish(signal_ids))
        except Exception as err:
            log.warning(
                "intake publish of %d signals failed (%s); the sweep takes them", len(signal_ids), err
            )
            PUBLISH_FAILED.inc(len(signal_ids))
            return 0
        PUBLISHED.inc(done)
        if done < len(signal_ids):
            PUBLISH_FAILED.inc(len(signal_ids) - done)
        return done

    async def _publish(self, signal_ids: list[str]) -> int:
        acks = await asyncio.gather(
            *(
                self._js.publish(self.subject, sid.encode(), stream=self.stream, headers={"Nats-Msg-Id": sid})
                for sid in signal_ids
            ),
            return_exceptions=True,
        )
        failed = [a for a in acks if isinstance(a, BaseException)]
        if failed:
            log.warning("intake: %d of %d publishes failed: %s", len(failed), len(acks), failed[0])
        return len(acks) - len(failed)

    def fetch(self, batch: int, timeout: float) -> list[Delivery]:
        """Up to ``batch`` messages, waiting at most ``timeout`` seconds for the first."""
        with self._lock:
            try:
                return self._call(self._fetch(batch, timeout), timeout + self.timeout + 5)
            except Exception as err:
                log.warning("intake fetch failed (%s); retrying after a pause", type(err).__name__)
                return []

    async def _fetch(self, batch: int, timeout: float) -> list[Delivery]:
        from nats.errors import TimeoutError as NatsTimeout

        try:
            msgs = await self._sub.fetch(batch, timeout=max(timeout, 0.05))
        except (TimeoutError, NatsTimeout):
            return []
        return [Delivery(m.data.decode(), m.metadata.num_delivered, m) for m in msgs]

    def ack(self, deliveries: list[Delivery]) -> None:
        """Acks after the batch committed; a lost ack only means a redelivery, which is skipped."""
        if not deliveries:
            return
        try:
            self._call(self._ack(deliveries))
            ACKED.inc(len(deliveries))
        except Exception as err:
            log.warning("intake ack of %d failed (%s); they will be redelivered", len(deliveries), err)

    async def _ack(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            await d.msg.ack()
        await self._nc.flush(timeout=self.timeout)

    def pending(self) -> int:
        """Messages in the stream not yet acked (the broker's inbox depth)."""
        info = self._call(self._js.consumer_info(self.stream, self.consumer))
        return int(info.num_pending + info.num_ack_pending)

    def delete_stream(self) -> None:
        """Removes the stream and its consumer (tests and benchmarks that make their own)."""
        self._call(self._js.delete_stream(self.stream))

    def close(self) -> None:
        try:
            if self._nc is not None:
                self._call(self._nc.close())
        except Exception as err:  # closing a broken connection: nothing left to save
            log.info("intake close: %s", type(err).__name__)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
