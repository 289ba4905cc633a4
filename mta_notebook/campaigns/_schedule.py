"""When each chunk may arrive: time zones of phones, local send windows, ``scheduledDate``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from typing import Final
from zoneinfo import ZoneInfo

import pandas as pd

from .._errors import CampaignError
from ..contract.dates import format_scheduled_date

__all__ = ["next_in_window"]

_HHMM: Final = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")

Window = tuple[dtime, dtime]


def parse_window(window: Sequence[str] | None) -> Window | None:
    """``("09:00", "20:00")`` as two times, checked (None: no window)."""
    if window is None:
        return None
    if isinstance(window, str) or len(window) != 2:
        raise CampaignError(
            f"send_window must be two 'HH:MM' strings like ('09:00', '20:00'), got {window!r}."
        )
    out = []
    for part in window:
        m = _HHMM.match(str(part))
        if not m:
            raise CampaignError(f"send_window time {part!r} is not 'HH:MM' (24-hour clock).")
        out.append(dtime(int(m.group(1)), int(m.group(2))))
    if out[0] >= out[1]:
        raise CampaignError(
            f"send_window {tuple(window)!r} must start before it ends within one day."
        )
    return out[0], out[1]


def as_utc(when: datetime | str | None) -> datetime | None:
    """``scheduled_at`` as an aware UTC datetime (naive means UTC)."""
    if when is None:
        return None
    dt = datetime.fromisoformat(when) if isinstance(when, str) else when
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def next_in_window(
    now: datetime, tz: str, *, window: Window, not_before: datetime | None = None
) -> datetime | None:
    """The UTC time to schedule a send for ``tz``'s window, or None to send right away.

    Examples
    --------
    >>> from datetime import datetime, time, timezone
    >>> now = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)  # 06:00 in Chicago
    >>> next_in_window(now, "America/Chicago", window=(time(9), time(20))).isoformat()
    '2025-03-06T15:00:00+00:00'
    >>> next_in_window(now, "Europe/Paris", window=(time(9), time(20))) is None
    True
    """
    zone = ZoneInfo(tz)
    start_at = max(now, not_before) if not_before is not None else now
    local = start_at.astimezone(zone)
    if window[0] <= local.time() < window[1]:
        return None if start_at <= now else start_at.astimezone(timezone.utc)
    day: date = local.date() if local.time() < window[0] else local.date() + timedelta(days=1)
    return datetime.combine(day, window[0], tzinfo=zone).astimezone(timezone.utc)


def scheduled_date(
    now: datetime, tz: str | None, window: Window | None, not_before: datetime | None
) -> str | None:
    """The ``scheduledDate`` for a chunk sent ``now`` (None: deliver right away)."""
    when: datetime | None
    if window is not None:
        when = next_in_window(now, tz or "UTC", window=window, not_before=not_before)
    else:
        when = not_before if not_before is not None and not_before > now else None
    return format_scheduled_date(when) if when is not None else None


def phone_timezones(phones: pd.Series) -> pd.Series:
    """Time zone per E.164 phone via phonenumbers, cached per country code + area code prefix."""
    import phonenumbers
    from phonenumbers import timezone as pn_tz

    keys = phones.str.slice(0, 8)
    first = phones.groupby(keys, sort=False).first()
    zone_of: dict[str, str | None] = {}
    for key, phone in first.items():
        zone: str | None = None
        try:
            num = phonenumbers.parse(str(phone), None)
            zones = [z for z in pn_tz.time_zones_for_number(num) if z != "Etc/Unknown"]
            zone = zones[0] if zones else None
        except phonenumbers.NumberParseException:
            zone = None
        zone_of[str(key)] = zone
    return keys.map(zone_of)


def recipient_zones(
    df: pd.DataFrame, phones: pd.Series, ok: pd.Series
) -> tuple[pd.Series, list[str]]:
    """Each sendable recipient's time zone (the ``timezone`` column, else from the phone; UTC
    when unknown, with a warning), checked to exist."""
    if "timezone" in df.columns:
        tz = df["timezone"].astype("string")
    else:
        tz = pd.Series(pd.NA, index=df.index, dtype="string")
    need = tz.isna() & ok
    if need.any():
        tz[need] = phone_timezones(phones[need]).astype("string").to_numpy()
    warnings: list[str] = []
    unknown_tz = tz.isna() & ok
    if unknown_tz.any():
        warnings.append(
            f"{int(unknown_tz.sum())} recipients have no known time zone; they are "
            "scheduled in UTC."
        )
    tz = tz.fillna("UTC")
    for z in pd.unique(tz[ok]):
        try:
            ZoneInfo(str(z))
        except (KeyError, ValueError) as exc:
            raise CampaignError(f"Unknown time zone {z!r} in the timezone column.") from exc
    return tz, warnings
