"""When each chunk may arrive: the zones of each recipient, local send windows, ``scheduledDate``.

A recipient's zones come from the ``timezones`` (or ``timezone``) column, else from the number
(:func:`mta_notebook.contract.zones.phone_zones`): every zone the number may be in, and a send
window is honoured in all of them. Non-geographic numbers have no zone and go by the campaign's
``default_timezone``. Without ``send_window=``, US recipients (+1 numbers) get quiet hours:
08:00-21:00 in their local time. ``region_windows=`` gives recipients whose number starts with
an E.164 prefix (``"+1305"``, ``"+44"``) a window of their own instead; the longest prefix wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from typing import Final, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from .._errors import CampaignError
from ..contract.dates import format_scheduled_date
from ..contract.zones import phone_zones, zone_list
from ..display._words import count

__all__ = ["QUIET_HOURS", "next_in_window"]

_HHMM: Final = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")

#: The default window for US recipients (+1 numbers): 08:00-21:00 in their local time.
QUIET_HOURS: Final = ("08:00", "21:00")
#: How far ahead a window common to all of a number's zones is looked for.
_HORIZON: Final = timedelta(days=8)

Window = tuple[dtime, dtime]
#: ``send_window=`` as given: two ``"HH:MM"`` texts, False (no window) or "quiet-hours".
WindowArg = Sequence[str] | Literal["quiet-hours"] | bool | None
#: ``region_windows=``: an E.164 prefix (``"+1305"``) to the window of numbers starting with it.
RegionWindows = Mapping[str, tuple[str, str]]

_PREFIX: Final = re.compile(r"^\+[0-9]{1,15}$")


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


def window_setting(send_window: WindowArg) -> tuple[tuple[str, str] | None, bool]:
    """The effective window of ``send_window=`` and whether it applies to US numbers only.

    The default (``"quiet-hours"``, or None) is :data:`QUIET_HOURS` for +1 numbers; False, or a
    window covering the whole day (``("00:00", "23:59")``), is no window.

    >>> window_setting("quiet-hours"), window_setting(False), window_setting(("09:00", "20:00"))
    ((('08:00', '21:00'), True), (None, False), (('09:00', '20:00'), False))
    """
    if send_window is None or send_window == "quiet-hours" or send_window is True:
        return QUIET_HOURS, True
    if send_window is False:
        return None, False
    assert not isinstance(send_window, bool)
    window = parse_window(send_window)
    if window is None or (window[0] == dtime(0) and window[1] >= dtime(23, 59)):
        return None, False
    return (str(send_window[0]), str(send_window[1])), False


def check_region_windows(region_windows: RegionWindows | None) -> dict[str, tuple[str, str]]:
    """``region_windows=`` checked: each key ``'+'`` then digits, each window two ``"HH:MM"``.

    >>> check_region_windows({"+1305": ("09:00", "20:00")})
    {'+1305': ('09:00', '20:00')}
    """
    if region_windows is None:
        return {}
    if not isinstance(region_windows, Mapping):
        raise CampaignError(
            "region_windows must map E.164 prefixes to windows, like "
            f"{{'+1305': ('09:00', '20:00')}}; got {region_windows!r}."
        )
    out: dict[str, tuple[str, str]] = {}
    for key, window in region_windows.items():
        if not isinstance(key, str) or not _PREFIX.match(key):
            raise CampaignError(
                f"region_windows key {key!r} is not an E.164 prefix: '+' then digits, like "
                "'+1305' (Miami) or '+44' (the UK)."
            )
        try:
            parse_window(window)
        except CampaignError as exc:
            raise CampaignError(f"region_windows[{key!r}]: {exc}") from exc
        if window is None:
            raise CampaignError(f"region_windows[{key!r}] is None; give ('HH:MM', 'HH:MM').")
        out[key] = (str(window[0]), str(window[1]))
    return out


def region_of(phone: str | None, regions: RegionWindows) -> str | None:
    """The longest prefix of ``regions`` that ``phone`` starts with (None: no region).

    >>> region_of("+13055550100", {"+1": ("08:00", "21:00"), "+1305": ("09:00", "20:00")})
    '+1305'
    """
    best = None
    for key in regions:
        if phone and phone.startswith(key) and (best is None or len(key) > len(best)):
            best = key
    return best


def region_keys(phones: pd.Series, regions: RegionWindows) -> pd.Series:
    """Each phone's region (its longest matching prefix of ``regions``), ``<NA>`` for none."""
    out = pd.Series(pd.NA, index=phones.index, dtype="string")
    text = phones.astype("string")
    for key in sorted(regions, key=len):  # longer prefixes overwrite shorter ones
        out[text.str.startswith(key).fillna(False).to_numpy(dtype=bool)] = key
    result: pd.Series = out
    return result


def chunk_window(
    phone: str | None, send_window: Sequence[str] | None, regions: RegionWindows
) -> tuple[str, str] | None:
    """The window of a chunk whose (first) recipient is ``phone``: its region's, else
    ``send_window``."""
    key = region_of(phone, regions)
    if key is not None:
        return regions[key]
    return (str(send_window[0]), str(send_window[1])) if send_window else None


def as_utc(when: datetime | str | None) -> datetime | None:
    """``scheduled_at`` as an aware UTC datetime (naive means UTC)."""
    if when is None:
        return None
    dt = datetime.fromisoformat(when) if isinstance(when, str) else when
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _inside(at: datetime, zone: ZoneInfo, window: Window) -> bool:
    return window[0] <= at.astimezone(zone).time() < window[1]


def _transitions(zone: ZoneInfo, lo: datetime, hi: datetime) -> list[datetime]:
    """The instants in ``(lo, hi]`` where ``zone``'s UTC offset changes (to the second)."""
    out: list[datetime] = []
    step = timedelta(minutes=30)
    at = lo
    while at < hi:
        nxt = at + step
        if at.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            a, b = int(at.timestamp()), int(nxt.timestamp())  # offset(a) differs from offset(b)
            off = at.astimezone(zone).utcoffset()
            while b - a > 1:
                mid = (a + b) // 2
                if datetime.fromtimestamp(mid, timezone.utc).astimezone(zone).utcoffset() == off:
                    a = mid
                else:
                    b = mid
            out.append(datetime.fromtimestamp(b, timezone.utc))
        at = nxt
    return out


def _next_in_zone(at: datetime, zone: ZoneInfo, window: Window) -> datetime:
    """The earliest instant ``>= at`` whose wall time in ``zone`` is inside ``window``: ``at``
    itself, an instant whose wall time is the window's start (either of a repeated hour), or
    a DST change that jumps the wall clock into the window."""
    if _inside(at, zone, window):
        return at
    lo = at
    while True:
        hi = lo + timedelta(days=3)
        found: list[datetime] = [t for t in _transitions(zone, lo, hi) if _inside(t, zone, window)]
        first: date = lo.astimezone(zone).date() - timedelta(days=1)
        for k in range(5):
            wall = datetime.combine(first + timedelta(days=k), window[0])
            for fold in (0, 1):
                u = wall.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc)
                if u.astimezone(zone).replace(tzinfo=None) == wall:  # the wall time exists
                    found.append(u)
        later = [t for t in found if lo <= t <= hi and _inside(t, zone, window)]
        if later:
            return min(later)
        lo = hi


def next_in_window(
    now: datetime,
    tz: str | Sequence[str],
    *,
    window: Window,
    not_before: datetime | None = None,
) -> datetime | None:
    """The UTC time to schedule a send for ``tz``'s window, or None to send right away.

    ``tz`` is one zone, or several (a ``|``-joined text or a sequence): the instant is then
    inside the window in every one of them. The answer is never before ``not_before`` and never
    outside the window, across DST gaps and repeated hours alike.

    Examples
    --------
    >>> from datetime import datetime, time, timezone
    >>> now = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)  # 06:00 in Chicago
    >>> next_in_window(now, "America/Chicago", window=(time(9), time(20))).isoformat()
    '2025-03-06T15:00:00+00:00'
    >>> next_in_window(now, "Europe/Paris", window=(time(9), time(20))) is None
    True
    >>> gap = datetime(2026, 3, 8, 5, 0, tzinfo=timezone.utc)  # 00:00 in New York, DST day
    >>> next_in_window(gap, "America/New_York", window=(time(2, 30), time(4))).isoformat()
    '2026-03-08T07:00:00+00:00'
    """
    names = zone_list(tz) if isinstance(tz, str) else tuple(tz)
    zones = [ZoneInfo(z) for z in names] or [ZoneInfo("UTC")]
    start_at = max(now, not_before) if not_before is not None else now
    start_at = start_at.astimezone(timezone.utc)
    at = start_at
    while True:
        later = max(_next_in_zone(at, z, window) for z in zones)
        if later == at:
            break
        at = later
        if at - start_at > _HORIZON:
            spans = ", ".join(names)
            raise CampaignError(
                f"The send window {window[0]:%H:%M}-{window[1]:%H:%M} never holds in all of "
                f"{spans} at once (a number there may be in any of them): their local windows "
                "do not overlap. Widen send_window=, or give these recipients a timezone column."
            )
    return None if at <= now else at


def scheduled_date(
    now: datetime, tz: str | None, window: Window | None, not_before: datetime | None
) -> str | None:
    """The ``scheduledDate`` for a chunk sent ``now`` (None: deliver right away). A chunk with
    no zone has no window (a non-US chunk under the default quiet hours)."""
    when: datetime | None
    if window is not None and tz:
        when = next_in_window(now, tz, window=window, not_before=not_before)
    else:
        when = not_before if not_before is not None and not_before > now else None
    return format_scheduled_date(when) if when is not None else None


def recipient_zones(
    df: pd.DataFrame,
    phones: pd.Series,
    ok: pd.Series,
    *,
    scope: pd.Series,
    default_timezone: str | None,
) -> pd.Series:
    """Each sendable recipient's zone set (``|``-joined) where a window applies (``scope``);
    ``<NA>`` where none does (non-US numbers under the default quiet hours). From the
    ``timezones`` column, else ``timezone``, else the phone; ``default_timezone`` for numbers
    with no zone."""
    zones = pd.Series(pd.NA, index=df.index, dtype="string")
    for col in ("timezones", "timezone"):
        if col in df.columns:
            given = df[col].astype("string")
            zones = zones.fillna(given.where(given.str.len() > 0))
    scope = ok & scope
    need = zones.isna() & scope
    if need.any():
        zones[need] = phone_zones(phones[need]).to_numpy()
    zones = zones.where(scope)
    lost = scope & zones.isna()
    if lost.any():
        if default_timezone is None:
            examples = ", ".join(phones[lost].astype(str).head(2).tolist())
            raise CampaignError(
                f"{count(int(lost.sum()), 'recipient')} "
                f"{'has a number' if int(lost.sum()) == 1 else 'have numbers'} with no time zone "
                "(toll-free or "
                f"other non-geographic numbers, like {examples}), so their send window has no "
                "local time. Pass default_timezone='America/New_York' (or the zone they are in)."
            )
        zones[lost] = default_timezone
    for text in pd.unique(zones.dropna()):
        for z in zone_list(str(text)):
            try:
                ZoneInfo(z)
            except (KeyError, ValueError) as exc:
                raise CampaignError(f"Unknown time zone {z!r} for a recipient.") from exc
    out: pd.Series = zones
    return out


def window_scope(
    phones: pd.Series, *, window: bool, us_only: bool, regions: RegionWindows
) -> pd.Series:
    """Which recipients a window applies to: everyone under a ``send_window=``, +1 numbers
    under the default quiet hours, none without a window; and those of a region either way."""
    scope: pd.Series = pd.Series(window and not us_only, index=phones.index, dtype=bool)
    if window and not us_only:
        return scope
    text = phones.astype("string")
    if window:
        scope |= text.str.startswith("+1").fillna(False).astype(bool)
    if regions:
        scope |= region_keys(phones, regions).notna()
    return scope


def held_back(
    chunks: pd.DataFrame, not_before: datetime | None, now: datetime
) -> tuple[int, datetime | None]:
    """How many recipients of ``chunks`` (``timezone``, ``window`` and ``recipients`` columns)
    are scheduled for later, by the window or ``scheduled_at``, and when the first of them
    goes."""
    keys = pd.DataFrame(
        {
            "timezone": chunks["timezone"].astype("string").fillna("").to_numpy(dtype=object),
            "window": ["-".join(w) if w else "" for w in chunks["window"]],
            "recipients": chunks["recipients"].to_numpy(),
        }
    )
    counts = keys.groupby(["timezone", "window"], sort=False)["recipients"].sum()
    held, first = 0, None
    for (text, wtext), n in counts.items():
        parsed = parse_window(str(wtext).split("-")) if wtext else None
        if parsed is not None and text:
            at = next_in_window(now, str(text), window=parsed, not_before=not_before)
        else:
            at = not_before if not_before is not None and not_before > now else None
        if at is None:
            continue
        held += int(n)
        first = at if first is None else min(first, at)
    return held, first
