"""HMAC-SHA256 webhook signatures over ``<timestamp>.<body>`` (the Stripe/Slack scheme).

A receiver recomputes the signature with the shared secret, compares in constant time, and
rejects timestamps too far from its clock (replay protection). ``X-Modelmon-Delivery`` carries
the notification id, so a receiver can drop the rare duplicate of a delivery that succeeded
just before the sender crashed.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Modelmon-Signature"
TIMESTAMP_HEADER = "X-Modelmon-Timestamp"
DELIVERY_HEADER = "X-Modelmon-Delivery"
SCHEME = "sha256="


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``b"<timestamp>." + body``)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def signed_headers(
    secret: bytes | None, timestamp: int, body: bytes, delivery_id: str
) -> dict[str, str]:
    """The headers of one webhook POST; unsigned (no signature header) without a secret."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "modelmon-alerting",
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_HEADER: delivery_id,
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    return headers


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_seconds: int = 300,
) -> bool:
    """True when the signature matches and the timestamp is within tolerance of ``now``."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
