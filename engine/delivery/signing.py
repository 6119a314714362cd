"""The ``Sift-Signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.

Signing the timestamp with the body lets a receiver refuse a captured request replayed later
(a ``t`` outside its tolerance) without trusting an unsigned header; the delivery id in the body
and the ``Sift-Delivery`` header lets it refuse one it has already handled.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Sift-Signature"
DELIVERY_HEADER = "Sift-Delivery"
EVENT_HEADER = "Sift-Event"


def signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
