"""The date and time formats MTA uses, and the one way this toolkit reads a time from a payload.

Sources (developers.mobile-text-alerts.com): response timestamps are ISO 8601 with milliseconds
and ``Z`` (``/tutorials/manage-subscribers``); error ``timestamp`` values carry an offset such as
``-05:00`` (``/api-basics/error-response-codes``); ``scheduledDate`` on ``/send`` is ISO 8601
*basic* format, ``20250306T193000-0000`` (``/api-reference/send``, ``/faq``); the
``/deliveries`` date filters are ``YYYY-MM-DD`` (``/check-delivery-status``); webhook ``date``
fields state their own zone and format per field (``/tutorials/webhooks``, tables not readable).

Rule: a time with ``Z`` or an offset is read as given; epoch numbers are UTC (seconds, or
milliseconds when they are that large); a time written without an offset is read in
``assumptions.NAIVE_TIMEZONE`` (``America/Chicago``, the zone of MTA's own ``-05:00``/``-06:00``
stamps), never silently as UTC.

>>> parse_time("2026-05-01T13:43:09-05:00").isoformat()
'2026-05-01T18:43:09+00:00'
>>> parse_time("2026-05-01 13:43:09").isoformat()  # naive: America/Chicago (CDT, -05:00)
'2026-05-01T18:43:09+00:00'
>>> parse_time(1764200000).isoformat(), parse_time("20250306T193000-0000").isoformat()
('2025-11-26T23:33:20+00:00', '2025-03-06T19:30:00+00:00')
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from .assumptions import NAIVE_TIMEZONE

__all__ = [
    "DELIVERIES_DATE_FORMAT",
    "EPOCH_MS_THRESHOLD",
    "SCHEDULED_DATE_FORMAT",
    "format_deliveries_date",
    "format_scheduled_date",
    "parse_scheduled_date",
    "parse_time",
]

#: ``scheduledDate`` on ``/send``: ISO 8601 basic format; always written in UTC (``-0000``).
SCHEDULED_DATE_FORMAT: Final = "%Y%m%dT%H%M%S%z"
#: ``filters[startDate]`` / ``filters[endDate]`` of ``/deliveries``.
DELIVERIES_DATE_FORMAT: Final = "%Y-%m-%d"
#: An epoch number at least this large is milliseconds, else seconds (1e11 s is year 5138).
EPOCH_MS_THRESHOLD: Final = 1e11


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_time(value: object, *, naive_timezone: str = NAIVE_TIMEZONE) -> datetime | None:
    """A payload time as an aware UTC datetime; ``None`` when missing or not a time."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        seconds = value / 1000.0 if abs(value) >= EPOCH_MS_THRESHOLD else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return parse_time(float(text), naive_timezone=naive_timezone)
        except ValueError:
            pass
        parsed = _parse_text(text)
        if parsed is None:
            return None
        when = parsed
    else:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_zone(naive_timezone))
    try:
        return when.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the end of datetime
        return None


def _parse_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        pass
    for fmt in (SCHEDULED_DATE_FORMAT, "%Y%m%dT%H%M%S", "%Y-%m-%d %H:%M:%S %z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def format_scheduled_date(when: datetime) -> str:
    """``when`` (aware) as ``/send`` wants ``scheduledDate``: ``20250306T193000-0000``."""
    if when.tzinfo is None:
        raise ValueError("scheduled times need a time zone (e.g. datetime.now(timezone.utc))")
    return when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S-0000")


def parse_scheduled_date(text: str) -> datetime:
    """The aware datetime of a ``scheduledDate`` string."""
    return datetime.strptime(text, SCHEDULED_DATE_FORMAT)


def format_deliveries_date(value: date | datetime) -> str:
    """A ``/deliveries`` date filter (``YYYY-MM-DD``; a datetime gives its UTC date)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.date().strftime(DELIVERIES_DATE_FORMAT)
    return value.strftime(DELIVERIES_DATE_FORMAT)
