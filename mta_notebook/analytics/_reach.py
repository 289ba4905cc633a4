"""Reach from opt-ins: which numbers each Sender Identity can reach by iMessage, what share of
an audience that is (over time), and the iMessage share a planned send can expect.

MTA routes an iMessage only to a number that opted in to that identity (an inbound message,
reported by a ``number-opt-in`` webhook) and can get iMessage; everyone else gets the SMS
fallback. So a number is *reachable* from an identity once the log shows either its
``number-opt-in`` to the identity (``contract.assumptions.OPT_IN_IDENTITY_FIELD``: the identity
is named in ``senderName``) or a message from the identity that went by iMessage (route
evidence, ``contract.routes``: the opt-in happened before the log began). An opt-in that names
no identity is counted for none. Only pandas: the log of opt-ins is small beside the messages.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from .._errors import CampaignError, ValidationError
from ..campaigns._reach import predicted_imessage  # the one count, also used at planning time
from ..display._words import percent
from ._intervals import wilson_interval

__all__ = [
    "REACHABLE_COLUMNS",
    "ImessageShare",
    "OptInReach",
    "optin_reach",
    "predicted_imessage_share",
    "reachable",
]

#: The columns of :func:`reachable`.
REACHABLE_COLUMNS: Final = ("phone", "sender_name", "since", "basis")
_MESSAGE_EVENTS: Final = ("message-send", "delivery-status", "message-reply")
_EVENT_COLUMNS: Final = ("event", "phone", "sender_name", "route", "occurred_at", "received_at")


def reachable(events: object) -> pd.DataFrame:
    """The numbers each identity can reach by iMessage, and since when.

    Parameters
    ----------
    events
        The Events table: an ``EventLog``, a DataFrame, a Parquet path or an ibis table.

    Returns
    -------
    pandas.DataFrame
        One row per (``phone``, ``sender_name``): ``since`` (UTC, the first evidence;
        ``occurred_at``, else ``received_at``) and ``basis`` (``opt-in`` when a
        ``number-opt-in`` names the identity, else ``imessage``: a message went by iMessage).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.Timestamp("2026-03-01", tz="UTC")
    >>> ev = pd.DataFrame({"event": ["number-opt-in", "delivery-status", "delivery-status"],
    ...     "phone": ["+13125550001", "+13125550002", "+13125550003"],
    ...     "sender_name": ["Acme", "Acme", None], "occurred_at": [t, t, t]})
    >>> reachable(ev)[["phone", "sender_name", "basis"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'phone': '+13125550001', 'sender_name': 'Acme', 'basis': 'opt-in'},
     {'phone': '+13125550002', 'sender_name': 'Acme', 'basis': 'imessage'}]
    """
    ev = _events(events)
    opted = ev["event"] == "number-opt-in"
    by_imessage = ev["event"].isin(_MESSAGE_EVENTS) & (ev["route"] == "imessage")
    keep = ev[(opted | by_imessage) & ev["sender_name"].notna() & ev["phone"].notna()]
    frame = pd.DataFrame(
        {
            "phone": keep["phone"],
            "sender_name": keep["sender_name"],
            "since": keep["occurred_at"].fillna(keep["received_at"]),
            "opt_in": opted[keep.index],
        }
    )
    out = frame.groupby(["phone", "sender_name"], sort=True, as_index=False).agg(
        since=("since", "min"), opt_in=("opt_in", "any")
    )
    out["basis"] = out["opt_in"].map({True: "opt-in", False: "imessage"}).astype("string")
    out = out.sort_values(["sender_name", "since", "phone"], kind="mergesort", na_position="last")
    result: pd.DataFrame = out.loc[:, list(REACHABLE_COLUMNS)].reset_index(drop=True)
    return result


@dataclass(frozen=True)
class ImessageShare:
    """The share of a send's recipients an identity can reach by iMessage: ``n`` of ``total``,
    with its Wilson 95 % interval. ``str()`` gives ``"49.0 % (45/92) [39-59]"``."""

    n: int
    total: int

    @property
    def share(self) -> float:
        return self.n / self.total if self.total else math.nan

    @property
    def ci_low(self) -> float:
        return wilson_interval(self.n, self.total)[0]

    @property
    def ci_high(self) -> float:
        return wilson_interval(self.n, self.total)[1]

    def __float__(self) -> float:
        return self.share

    def __str__(self) -> str:
        return percent_label(self.n, self.total)


def predicted_imessage_share(
    reachable: pd.DataFrame, phones: Iterable[object], *, sender_name: str | None
) -> ImessageShare:
    """The iMessage share a send to ``phones`` from ``sender_name`` can expect, at planning time:
    the recipients ``reachable`` (the frame of :func:`reachable`) from that identity, n/N.

    It is a floor: a number that opted in without a webhook in the log is not counted, and one
    that lost iMessage since is. Without an identity (``None``) nothing goes by iMessage.

    >>> import pandas as pd
    >>> ok = pd.DataFrame({"phone": ["+13125550001"], "sender_name": ["Acme"]})
    >>> s = predicted_imessage_share(ok, ["+13125550001", "+13125550002"], sender_name="Acme")
    >>> s.n, s.total, s.share, str(s)
    (1, 2, 0.5, '50.0 % (1/2) [9-91]')
    """
    try:
        counted = predicted_imessage(
            reachable, pd.Series(list(phones), dtype="object"), sender_name
        )
    except CampaignError as exc:
        raise ValidationError(f"predicted_imessage_share: {exc}") from None
    if counted is None:  # no identity: nothing goes by iMessage
        distinct = pd.Series(list(phones), dtype="object").dropna().astype("string").nunique()
        return ImessageShare(0, int(distinct))
    return ImessageShare(*counted)


@dataclass(frozen=True, repr=False)
class OptInReach:
    """What :func:`optin_reach` found: ``summary`` (one row per identity) and ``daily`` (one
    row per identity and period: new reachable numbers and the cumulative share)."""

    summary: pd.DataFrame
    daily: pd.DataFrame

    def __repr__(self) -> str:
        return "\n".join(["OptInReach", *self.summary["label"].astype(str)])


def optin_reach(
    events: object,
    subscribers: object,
    *,
    freq: str = "1D",
    sender_names: Sequence[str] | None = None,
) -> OptInReach:
    """How much of an audience each identity can reach by iMessage, and how that grew.

    Parameters
    ----------
    events
        The Events table (as for :func:`reachable`).
    subscribers
        The audience: a ``SubscriberList``, a DataFrame with ``phone``, or phones (E.164).
    freq
        The period of ``daily`` (a pandas frequency: ``"1D"``, ``"1h"``, ``"7D"``).
    sender_names
        The identities to report (default: every one the events name); one with no opt-in
        shows 0 of the audience.

    Returns
    -------
    OptInReach
        ``summary``: ``sender_name``, ``audience`` (N, distinct phones), ``opted_in``
        (audience numbers with a ``number-opt-in`` to the identity), ``reachable`` (n: opted in,
        or reached by iMessage), ``share`` (n/N, a fraction), ``ci_low``/``ci_high`` (Wilson
        95 %), ``outside`` (reachable numbers not in the audience) and ``label``.
        ``daily``: ``sender_name``, ``period`` (its UTC start), ``new`` (audience numbers
        reachable from then on), ``reachable`` (cumulative), ``share``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["number-opt-in"] * 2,
    ...     "phone": ["+13125550001", "+13125550002"], "sender_name": ["Acme", "Acme"],
    ...     "occurred_at": pd.to_datetime(["2026-03-01 10:00", "2026-03-03 09:00"], utc=True)})
    >>> reach = optin_reach(ev, ["+13125550001", "+13125550002", "+13125550003", "+13125550004"])
    >>> reach.summary["label"].iloc[0]
    'Acme: 50.0 % (2/4) [15-85] of the audience can get iMessage'
    >>> reach.daily[["period", "new", "reachable"]].astype(str).to_dict("list")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'period': ['2026-03-01 00:00:00+00:00', '2026-03-02 00:00:00+00:00',
                '2026-03-03 00:00:00+00:00'], 'new': ['1', '0', '1'], 'reachable': ['1', '1', '2']}
    """
    audience = _phones(subscribers)
    total = len(audience)
    reach = reachable(events)
    opted = reach[reach["basis"] == "opt-in"]
    names = (
        list(sender_names)
        if sender_names is not None
        else sorted(reach["sender_name"].dropna().unique())
    )
    rows: list[dict[str, Any]] = []
    daily: list[pd.DataFrame] = []
    for name in names:
        mine = reach[reach["sender_name"] == name]
        inside = mine[mine["phone"].isin(audience)]
        n = len(inside)
        low, high = wilson_interval(n, total)
        rows.append(
            {
                "sender_name": name,
                "audience": total,
                "opted_in": int(
                    opted.loc[opted["sender_name"] == name, "phone"].isin(audience).sum()
                ),
                "reachable": n,
                "share": n / total if total else math.nan,
                "ci_low": low,
                "ci_high": high,
                "outside": len(mine) - n,
                "label": f"{name}: {percent_label(n, total)} of the audience can get iMessage",
            }
        )
        daily.append(_daily(name, inside["since"], total, freq))
    summary = pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)
    days = pd.concat(daily, ignore_index=True) if daily else _empty_daily()
    return OptInReach(summary, days.loc[:, list(_DAILY_COLUMNS)])


_SUMMARY_COLUMNS: Final = [
    "sender_name",
    "audience",
    "opted_in",
    "reachable",
    "share",
    "ci_low",
    "ci_high",
    "outside",
    "label",
]
_DAILY_COLUMNS: Final = ("sender_name", "period", "new", "reachable", "share", "ci_low", "ci_high")


def percent_label(n: int, total: int) -> str:
    """``"49.0 % (45/92) [39-59]"``: the share, n/N and the Wilson 95 % interval in points.

    >>> percent_label(0, 0), percent_label(3, 3)
    ('no audience (0/0)', '100.0 % (3/3) [44-100]')
    """
    if total <= 0:
        return f"no audience ({n}/{total})"
    return percent(n / total, n, total, *wilson_interval(n, total))


def _daily(name: str, since: pd.Series, total: int, freq: str) -> pd.DataFrame:
    """New and cumulative reachable audience numbers per period, every period from the first
    to the last (an undated piece of evidence counts in the summary only)."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise ValidationError(
            f"optin_reach: freq={freq!r} is not a pandas frequency; use e.g. '1D', '1h', '7D'"
        ) from exc
    times = pd.to_datetime(since.dropna(), utc=True)
    if times.empty:
        return _empty_daily()
    if _fixed(offset):  # days, hours: periods from midnight UTC
        new = times.dt.floor(offset)
        counts = new.value_counts().sort_index()
        full = pd.date_range(counts.index.min(), counts.index.max(), freq=offset)
    else:  # weeks, months: calendar periods, each named by its first instant
        periods = times.dt.tz_localize(None).dt.to_period(freq)
        counts = periods.value_counts().sort_index()
        seen = pd.PeriodIndex(counts.index)
        span = pd.period_range(seen.min(), seen.max(), freq=seen.freq)
        counts.index = seen.start_time.tz_localize("UTC")
        full = span.start_time.tz_localize("UTC")
    counts = counts.reindex(full, fill_value=0)
    cum = counts.cumsum()
    bounds = [wilson_interval(int(c), total) for c in cum]
    frame: pd.DataFrame = pd.DataFrame(
        {
            "sender_name": name,
            "period": counts.index,
            "new": counts.to_numpy().astype("int64"),
            "reachable": cum.to_numpy().astype("int64"),
            "share": cum.to_numpy() / total if total else math.nan,
            "ci_low": [b[0] for b in bounds],
            "ci_high": [b[1] for b in bounds],
        }
    )
    return frame


def _empty_daily() -> pd.DataFrame:
    empty: pd.DataFrame = pd.DataFrame(
        {
            "sender_name": pd.Series(dtype="object"),
            "period": pd.Series(dtype="datetime64[ns, UTC]"),
            **{c: pd.Series(dtype="int64") for c in ("new", "reachable")},
            **{c: pd.Series(dtype="float64") for c in ("share", "ci_low", "ci_high")},
        }
    )
    return empty


def _fixed(offset: Any) -> bool:
    """Whether ``offset`` is a fixed span (days, hours): then periods start at midnight UTC."""
    try:
        offset.nanos  # noqa: B018 (raises for calendar offsets such as weeks and months)
    except ValueError:
        return False
    return True


def _phones(subscribers: object) -> set[str]:
    obj: Any = subscribers
    if hasattr(obj, "df") and isinstance(obj.df, pd.DataFrame):
        obj = obj.df
    if isinstance(obj, pd.DataFrame):
        if "phone" not in obj.columns:
            raise ValidationError(
                "optin_reach: subscribers has no phone column; pass a SubscriberList, a "
                f"DataFrame with phone, or the phones (columns: {list(obj.columns)[:8]})"
            )
        obj = obj["phone"]
    if isinstance(obj, str) or not isinstance(obj, Iterable):
        raise ValidationError(
            "optin_reach: subscribers must be a SubscriberList, a DataFrame with phone, or "
            f"phones, not {type(subscribers).__name__}"
        )
    return {str(p) for p in obj if isinstance(p, str) and p}


def _events(events: object) -> pd.DataFrame:
    """The columns reach reads, as pandas: ``route`` from ``senderName`` when absent."""
    obj: Any = events
    if hasattr(obj, "df") and isinstance(obj.df, pd.DataFrame):
        obj = obj.df
    if isinstance(obj, str | os.PathLike):
        import pyarrow.parquet as pq

        names = set(pq.read_schema(os.fspath(obj)).names)
        obj = pd.read_parquet(obj, columns=[c for c in _EVENT_COLUMNS if c in names])
    elif not isinstance(obj, pd.DataFrame) and hasattr(obj, "to_pandas"):
        obj = obj.select([c for c in _EVENT_COLUMNS if c in obj.columns]).to_pandas()
    if not isinstance(obj, pd.DataFrame):
        raise ValidationError(
            "events must be an EventLog, a DataFrame, a Parquet path or an ibis table, not "
            f"{type(events).__name__}"
        )
    missing = [c for c in ("event", "phone") if c not in obj.columns]
    if missing:
        raise ValidationError(
            f"events: missing column(s) {missing}; read them with read_webhook_log"
        )
    df = obj.reindex(columns=list(_EVENT_COLUMNS))
    df["sender_name"] = df["sender_name"].astype("string")
    df["phone"] = df["phone"].astype("string")
    df["event"] = df["event"].astype("string")
    # an explicit route field decides; without one, senderName on a message's event is iMessage
    route = df["route"].astype("string")
    df["route"] = route.where(route.notna() & (route != "unknown"), None)
    df.loc[df["route"].isna() & df["sender_name"].notna(), "route"] = "imessage"
    for col in ("occurred_at", "received_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    frame: pd.DataFrame = df
    return frame
