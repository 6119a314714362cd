"""Rate limits at the HTTP edge, counted by the `limits` library in a moving window.

**Key guessing.** Every invalid key presented (unknown or revoked; not a missing one) counts
against the client address (an IPv6 address by its /64, which one host usually holds whole).
Once an address has used up ``auth_failure_rate_limit``, a request from it is answered 429
*before its key is checked*, unless that very key has already worked from that address in the
last ``PROVEN_FOR``. Refusing before the check is what stops guessing: if keys were still
checked, a right guess would still get through and the 429s would only tell wrong from right.
Letting proven keys through is what keeps one guessing host from locking out everyone behind
the same NAT or proxy: people already at work carry on; only a key new to that address waits,
at most one window. An attacker cannot hold a proven key without knowing a key already.

**Ingest.** ``POST /signals`` and ``/signals:batch`` take ``ingest_rate_limit`` signals per key
(a batch costs its number of items), checked before anything is stored.

Counts live in ``rate_limit_storage``: per process by default, shared with a redis:// URI.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.errors import error_body
from engine.config import Settings
from engine.errors import InvalidInput

log = logging.getLogger("sift.api")
T = TypeVar("T")

#: how long a key that worked from an address keeps working there while that address is limited
PROVEN_FOR: RateLimitItem = RateLimitItemPerMinute(1, multiples=10)


class RateLimited(Exception):
    """Answered 429 with ``Retry-After``."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.detail = f"{reason}; retry after {retry_after} s."


class RateLimits:
    """One per app: the limiter, its storage and the configured limits."""

    def __init__(self, settings: Settings) -> None:
        self.storage = storage_from_string(settings.rate_limit_storage, wrap_exceptions=True)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.auth_failures = parse(settings.auth_failure_rate_limit)
        self.ingest = parse(settings.ingest_rate_limit)
        self._warned_at = 0.0

    # key guessing ---------------------------------------------------------------------------

    def check_key_attempt(self, address: str, raw_key: str) -> None:
        """Refuses the attempt, before the key is looked up, while ``address`` is limited and
        this key has not worked from it recently."""
        if self._safely(lambda: self.limiter.test(self.auth_failures, "auth-failed", address), True):
            return
        # a key that worked from here lately has its one-entry window full
        if not self._safely(
            lambda: self.limiter.test(PROVEN_FOR, "auth-ok", address, _fingerprint(raw_key)), True
        ):
            return
        raise RateLimited(
            "Too many invalid API keys from this address",
            self._retry_after(self.auth_failures, "auth-failed", address),
        )

    def key_failed(self, address: str) -> None:
        self._safely(lambda: self.limiter.hit(self.auth_failures, "auth-failed", address), True)

    def key_worked(self, address: str, raw_key: str) -> None:
        self._safely(lambda: self.limiter.hit(PROVEN_FOR, "auth-ok", address, _fingerprint(raw_key)), True)

    # ingest -----------------------------------------------------------------------------------

    def take_ingest(self, holder: str, count: int) -> None:
        """Takes ``count`` signals from ``holder``'s allowance, or refuses them all (429)."""
        if count > self.ingest.amount:
            raise InvalidInput(
                f"The batch holds {count} signals, more than the {self.ingest} allowed per key; "
                "send smaller batches.",
                fields=[{"field": "signals", "message": f"at most {self.ingest.amount} items"}],
            )
        if not self._safely(lambda: self.limiter.hit(self.ingest, "ingest", holder, cost=count), True):
            raise RateLimited(
                f"The key {holder!r} has sent more than {self.ingest} signals",
                self._retry_after(self.ingest, "ingest", holder),
            )

    # ------------------------------------------------------------------------------------------

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = self._safely(lambda: self.limiter.get_window_stats(item, *identifiers), None)
        if stats is None:  # the storage went away meanwhile: one whole window
            return int(item.get_expiry())
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _safely(self, call: Callable[[], T], fallback: T) -> T:
        """A storage that cannot be reached lets requests through (``fallback`` means "allowed";
        logged at most once a minute): a Redis restart must not take the API down with it."""
        try:
            return call()
        except StorageError as err:
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning(
                    "rate-limit storage unreachable (%s); requests are not rate limited meanwhile",
                    type(err.storage_error).__name__,
                )
            return fallback


def _fingerprint(raw_key: str) -> str:
    # not the stored hash: the rate-limit storage (maybe a shared Redis) never holds that either
    return hashlib.sha256(b"sift-rate-limit\x00" + raw_key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_address(request: Request) -> str:
    """The client's address; an IPv6 one by its /64 (one host or one home network holds it whole)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def of(app: FastAPI) -> RateLimits:
    return app.state.rate_limits


async def _on_rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
    return JSONResponse(
        error_body("RateLimited", exc.detail),
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


def install(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limits = RateLimits(settings)
    app.add_exception_handler(RateLimited, _on_rate_limited)  # type: ignore[arg-type]
