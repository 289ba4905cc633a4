"""The time zones a phone number may be in: one answer per number, from a prefix table.

The table is phonenumbers' own time-zone data (``phonenumbers.tzdata``: E.164 prefix -> zones),
read once; a number takes the zones of its longest listed prefix. Where that prefix is only the
country code and lists several zones (toll-free 800, 5XX, 900 and other non-geographic NANP
numbers fall back to all 42 NANP zones) the number has **no** zone: nothing says where it is,
and a campaign must say which ``default_timezone`` to use for it. An area that spans zones
keeps all of them (Alaska's 907: Adak and Anchorage; Newfoundland and Labrador's 709: St John's
and Halifax), so a send window can be honoured in every zone the number may be in.

>>> phone_zones(pd.Series(["+13125550123", "+19075550123", "+18005550123", None])).tolist()
['America/Chicago', 'America/Adak|America/Anchorage', <NA>, <NA>]
>>> zone_list("America/Adak|America/Anchorage")
('America/Adak', 'America/Anchorage')
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Final

import numpy as np
import pandas as pd

__all__ = ["SEPARATOR", "phone_zones", "single_zone", "zone_list"]

#: Joins the zones of a number that may be in several (zones are IANA names: no "|" in them).
SEPARATOR: Final = "|"


@functools.cache
def _table() -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
    """Prefix length -> (sorted prefixes as integers, index of their zones), and the zone texts."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
    from phonenumbers.tzdata import TIMEZONE_DATA

    countries = {str(code) for code in COUNTRY_CODE_TO_REGION_CODE}
    listed = Counter(z for zones in TIMEZONE_DATA.values() for z in zones)
    texts: dict[str, int] = {}
    rows: dict[int, list[tuple[int, int]]] = {}
    for prefix, zones in TIMEZONE_DATA.items():
        known = _distinct(tuple(z for z in zones if z and z != "Etc/Unknown"), listed)
        if not known or (prefix in countries and len(known) > 1):
            continue  # a country-wide list of several zones says nothing about one number
        text = texts.setdefault(SEPARATOR.join(known), len(texts))
        rows.setdefault(len(prefix), []).append((int(prefix), text))
    by_length = {}
    for length, pairs in rows.items():
        pairs.sort()
        by_length[length] = (np.array([k for k, _ in pairs]), np.array([v for _, v in pairs]))
    return by_length, tuple(texts)


def _distinct(zones: tuple[str, ...], listed: Counter[str]) -> list[str]:
    """The zones with distinct clocks, each kept under its most listed name (the UK's Guernsey,
    Jersey and Isle of Man keep London's time: one zone, ``Europe/London``)."""
    groups: dict[tuple[float, ...], list[str]] = {}
    for zone in zones:
        groups.setdefault(_clock(zone), []).append(zone)
    return sorted(max(sorted(names), key=lambda z: listed[z]) for names in groups.values())


@functools.cache
def _clock(zone: str) -> tuple[float, ...]:
    """UTC offsets of ``zone`` each week of 2025-2027: equal tuples keep the same time (rules that
    differ at all differ for weeks: a DST start on another Sunday, another offset)."""
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return (float("nan"), hash(zone))  # unknown to this system: distinct from every other
    start = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)
    days = (start + timedelta(weeks=w) for w in range(3 * 52))
    return tuple((day.astimezone(tz).utcoffset() or timedelta()).total_seconds() for day in days)


def phone_zones(phones: pd.Series) -> pd.Series:
    """Every zone each E.164 number may be in, joined by ``|`` (``<NA>``: no zone known)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    by_length, texts = _table()
    longest = max(by_length)
    digits = pa.array(phones.astype("string").str.removeprefix("+"), type=pa.string())
    head = pc.utf8_slice_codeunits(digits, 0, longest)
    ok = pc.fill_null(pc.match_substring_regex(head, r"^[0-9]+$"), False).to_numpy(
        zero_copy_only=False
    )
    size = pc.fill_null(pc.utf8_length(head), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    value = pc.cast(pc.if_else(pa.array(ok), head, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    found = np.full(len(phones), -1, dtype=np.int64)
    for length in sorted(by_length, reverse=True):  # longest prefix first
        keys, zones = by_length[length]
        todo = ok & (found < 0) & (size >= length)
        if not todo.any():
            continue
        prefix = value[todo] // 10 ** (size[todo] - length)
        at = np.minimum(np.searchsorted(keys, prefix), len(keys) - 1)
        hit = keys[at] == prefix
        rows = np.flatnonzero(todo)[hit]
        found[rows] = zones[at[hit]]
    names = np.array([*texts, None], dtype=object)
    out: pd.Series = pd.Series(
        pd.array(names[found], dtype="string"), index=phones.index, name="zones"
    )
    return out


def single_zone(zones: pd.Series) -> pd.Series:
    """The one zone of each :func:`phone_zones` value; ``<NA>`` when none or several.

    >>> single_zone(phone_zones(pd.Series(["+13125550123", "+19075550123"]))).tolist()
    ['America/Chicago', <NA>]
    """
    several = zones.str.contains(SEPARATOR, regex=False).fillna(False).astype(bool)
    single: pd.Series = zones.where(~several).rename("timezone")
    return single


def zone_list(zones: str | None) -> tuple[str, ...]:
    """The zones of one :func:`phone_zones` value, as a tuple (empty for none)."""
    return tuple(zones.split(SEPARATOR)) if isinstance(zones, str) and zones else ()
