"""Signature checks on top of :mod:`..contract.signature` (the one rule: HMAC-SHA256 of the raw
body, lowercase hex in ``X-Signature``): one body raising :class:`WebhookSignatureError`, and
the log reader's re-verification of many records.
"""

from __future__ import annotations

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
    """For each body (as text, encoded UTF-8 as received) whether its signature fails."""
    return np.array(
        [
            not verify_signature(b.encode(), s, secret)
            for b, s in zip(bodies, signatures, strict=True)
        ],
        dtype=bool,
    )
