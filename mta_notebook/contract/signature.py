"""Webhook signatures as MTA computes them.

Source: developers.mobile-text-alerts.com/tutorials/webhooks/webhook-signature-verification:
for every request MTA computes HMAC-SHA256 over the exact raw body bytes with the secret given
at registration, hex-encodes it in lower case and sends it as ``X-Signature``. Verifying is the
receiver's job (MTA does not enforce it).

>>> body = b'{"type":"MTAWebhook.DELIVERY_STATUS","status":4}'
>>> verify_signature(body, sign(body, "s3cret"), "s3cret")
True
>>> verify_signature(body + b" ", sign(body, "s3cret"), "s3cret")
False
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]

SIGNATURE_HEADER: Final = "X-Signature"


def sign(raw_body: bytes, secret: str) -> str:
    """The ``X-Signature`` MTA sends for ``raw_body``: lowercase hex HMAC-SHA256.

    >>> sign(b'{"a":1}', "s3cret")[:12]
    '5910e62016ef'
    """
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_signature(raw_body: bytes, signature: str | bytes | None, secret: str) -> bool:
    """Whether ``signature`` is the HMAC-SHA256 of the exact ``raw_body`` under ``secret``.

    Constant-time. Verify the raw bytes *before* parsing JSON: any re-serialisation changes the
    signature. A header that is not ASCII hex is simply not a match (never an exception).
    """
    if not signature or not secret:
        return False
    if isinstance(signature, bytes):
        try:
            signature = signature.decode("ascii")
        except UnicodeDecodeError:
            return False
    candidate = signature.strip().lower()
    if not candidate.isascii():
        return False
    return hmac.compare_digest(sign(raw_body, secret), candidate)
