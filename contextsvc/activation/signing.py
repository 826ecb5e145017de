"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", Stripe-style. Pure.

Headers on every delivery attempt:
  X-Contextsvc-Timestamp   unix seconds of this attempt
  X-Contextsvc-Signature   v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
  Idempotency-Key          the event's uuid: the same on every redelivery
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Contextsvc-Timestamp"
SIGNATURE_HEADER = "X-Contextsvc-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float, tolerance_s: int = 300) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
