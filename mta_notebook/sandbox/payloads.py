"""Webhook bodies as the sandbox writes them: fields, in a payload version and a date format.

V1 bodies carry no date at all (the documented V1 delivery-status table has none); V2 and V3
carry the event time in ``contract.events.DATE_FIELDS[0]``, written as ``webhook_date_format``
says, so tests can play either side of the date assumption:

>>> from datetime import datetime, timezone
>>> when = datetime(2026, 11, 27, 5, 2, 57, 123000, tzinfo=timezone.utc)
>>> format_date(when, "utc"), format_date(when, "offset")
('2026-11-27T05:02:57.123Z', '2026-11-26T23:02:57.123-06:00')
>>> format_date(when, "naive"), format_date(when, "epoch")
('2026-11-26 23:02:57', 1795755777.123)
>>> render({"status": 4}, when, "V1", "utc"), render({"status": 4}, when, "V3", "epoch")
(b'{"status":4}', b'{"status":4,"date":1795755777.123}')
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from ..contract.assumptions import NAIVE_TIMEZONE
from ..contract.events import DATE_FIELDS, PAYLOAD_VERSIONS
from .state import iso_ms

__all__ = ["DATE_FIELD", "format_date", "render"]

#: The field V2/V3 bodies carry their time in (the first name the readers look for).
DATE_FIELD: Final = DATE_FIELDS[0]
# "offset" and "naive" write Central time, the zone of MTA's own -05:00/-06:00 stamps.
_LOCAL: Final = ZoneInfo(NAIVE_TIMEZONE)


def format_date(when: datetime, date_format: str) -> str | float:
    """``when`` (aware) as ``utc``, ``offset``, ``naive`` or ``epoch`` (seconds, to the ms)."""
    if date_format == "utc":
        return iso_ms(when)
    if date_format == "offset":
        return when.astimezone(_LOCAL).isoformat(timespec="milliseconds")
    if date_format == "naive":
        return when.astimezone(_LOCAL).strftime("%Y-%m-%d %H:%M:%S")
    if date_format == "epoch":
        return round(when.timestamp(), 3)
    raise ValueError(f"unknown webhook_date_format {date_format!r}")


def render(fields: dict[str, Any], when: datetime, version: str, date_format: str) -> bytes:
    """The exact bytes posted (and signed) for one event in ``version``."""
    body = dict(fields)
    if PAYLOAD_VERSIONS[version].date_fields:
        body[DATE_FIELD] = format_date(when, date_format)
    return json.dumps(body, separators=(",", ":")).encode()
