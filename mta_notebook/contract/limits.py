"""MTA's documented limits: request rates per endpoint family, bulk sizes, message content.

Sources (developers.mobile-text-alerts.com): ``/api-basics/rate-limits`` (the families and
their windows; ``RateLimit-Reset``/``X-RateLimit-Reset`` in milliseconds, ``Retry-After`` in
seconds), ``/api-reference/subscribers/bulk-subscriber-actions`` and
``/api-reference/groups/bulk-group-actions`` (1,000 records a request),
``/tutorials/message-sending/send-an-sms-message`` and ``send-an-mms-message`` (SMS 160
characters and 1 credit; MMS 1,550 characters, a 500 KB image, 3 credits),
``/api-basics/error-response-codes/error-message-catalog`` ("Character Limit Exceeded", 400).
See ``mta-api.md`` §0a and §4.

>>> rate_family("POST", "/v3/send"), rate_family("POST", "/groups/7/subscribers/bulk-create")
('send', 'groups_bulk')
>>> RATE_LIMITS["groups_bulk"]
RateLimit(requests=5, window_s=15.0, per='account')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "BULK_MAX_RECORDS",
    "MMS_CREDITS",
    "MMS_MAX_CHARS",
    "MMS_MAX_IMAGE_BYTES",
    "RATE_LIMITS",
    "SMS_CREDITS",
    "SMS_MAX_CHARS",
    "Family",
    "RateLimit",
    "rate_family",
]

Family = Literal[
    "send",
    "subscribers",
    "subscribers_bulk",
    "groups_bulk",
    "custom_fields",
    "account_variables",
    "default",
]


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``window_s`` seconds, counted per account or per IP address."""

    requests: int
    window_s: float
    per: Literal["account", "ip"]


#: Every family and its documented limit. ``default`` is the general limit for every other
#: endpoint (per IP address; the others are account-based overrides).
RATE_LIMITS: Final[Mapping[Family, RateLimit]] = {
    "send": RateLimit(25, 15.0, "account"),
    "subscribers": RateLimit(15, 15.0, "account"),
    "subscribers_bulk": RateLimit(15, 15.0, "account"),
    "groups_bulk": RateLimit(5, 15.0, "account"),
    "custom_fields": RateLimit(15, 15.0, "account"),
    "account_variables": RateLimit(15, 15.0, "account"),
    "default": RateLimit(30, 60.0, "ip"),
}

#: Records per ``/subscribers/bulk`` and per groups ``bulk-create``/``bulk-delete`` request.
BULK_MAX_RECORDS: Final = 1000

SMS_MAX_CHARS: Final = 160
SMS_CREDITS: Final = 1
MMS_MAX_CHARS: Final = 1550
MMS_MAX_IMAGE_BYTES: Final = 500 * 1024
MMS_CREDITS: Final = 3


def rate_family(method: str, path: str) -> Family:
    """The rate-limit family of a request (``path`` with or without ``/v3``, query ignored).

    >>> rate_family("GET", "/subscribers/42"), rate_family("PATCH", "/subscribers/bulk")
    ('subscribers', 'subscribers_bulk')
    >>> rate_family("GET", "/custom-fields"), rate_family("GET", "/deliveries")
    ('custom_fields', 'default')
    """
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:1] == ["v3"]:
        parts = parts[1:]
    method = method.upper()
    if parts == ["send"] and method == "POST":
        return "send"
    if parts[:1] == ["subscribers"]:
        return "subscribers_bulk" if parts[1:2] == ["bulk"] else "subscribers"
    if (
        len(parts) == 4
        and parts[0] == "groups"
        and parts[2] == "subscribers"
        and parts[3] in ("bulk-create", "bulk-delete")
    ):
        return "groups_bulk"
    if parts == ["custom-fields"] and method == "GET":
        return "custom_fields"
    if parts[:1] == ["account-variables"]:
        return "account_variables"
    return "default"
