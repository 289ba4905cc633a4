"""Signature checks on top of :mod:`..contract.signature` (the one rule: HMAC-SHA256 of the raw
body, lowercase hex in ``X-Signature``): one body raising :class:`WebhookSignatureError`, and
the log reader's re-verification of many records.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

import numpy as np

from .._errors import WebhookSignatureError
from ..contract.signature import SIGNATURE_HEADER, verify_signature

__all__ = ["FORGED", "check_signature", "forged"]

#: The detail of a record whose signature does not match.
FORGED: Final = f"{SIGNATURE_HEADER} does not match raw_body under the given secret"


def check_signature(raw_body: bytes, signature: str | None, secret: str) -> None:
    """Raise :class:`WebhookSignatureError` unless ``signature`` matches ``raw_body``.

    >>> from mta_notebook.contract.signature import sign
    >>> check_signature(b'{"a":1}', sign(b'{"a":1}', "s3cret"), "s3cret")
    >>> check_signature(b'{"a":2}', sign(b'{"a":1}', "s3cret"), "s3cret")
    Traceback (most recent call last):
    ...
    mta_notebook.WebhookSignatureError: X-Signature does not match the body: ...
    """
    if not verify_signature(raw_body, signature, secret):
        raise WebhookSignatureError(
            f"{SIGNATURE_HEADER} does not match the body: check that the receiver uses the "
            "secret the webhook was registered with and verifies the raw bytes before any parsing"
        )


def forged(bodies: Sequence[str], signatures: Sequence[str], secret: str) -> np.ndarray:
    """For each body (text, signed as its UTF-8 bytes) whether its signature fails.

    Exactly ``not verify_signature(body.encode(), signature, secret)`` (a test holds it to
    that on every kind of header), with the key schedule computed once instead of per row: it
    halves the cost of ``read_webhook_log(secret=...)`` on a large log.
    """
    bad = np.ones(len(bodies), dtype=bool)
    if not secret:
        return bad  # verify_signature: no secret, no match
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    for i, (body, signature) in enumerate(zip(bodies, signatures, strict=True)):
        candidate = signature.strip().lower() if signature else ""
        if not candidate or not candidate.isascii():
            continue
        m = mac.copy()
        m.update(body.encode())
        bad[i] = not hmac.compare_digest(m.hexdigest(), candidate)
    return bad
