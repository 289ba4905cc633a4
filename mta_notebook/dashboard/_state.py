"""What the dashboard shows, as values: the filters, and the analytics tables they select.

The numbers are the analytics reducers' own (:func:`analytics_tables` is the one place the
dashboard calls :mod:`mta_notebook.analytics`): the date range goes to the reducers as their
``start``/``end`` window, the identity and route filters then keep rows of what they return.
Nothing here counts, rates or joins messages on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any, Final, Literal, cast

import numpy as np
import pandas as pd

from ..analytics import (
    NOT_SENT_LABELS,
    Messages,
    cost_report,
    delivery_report,
    delivery_timeseries,
    failure_reasons,
    message_table,
    reply_report,
    time_to_deliver,
)
from ..contract.routes import MESSAGE_ROUTES, ROUTE_LABELS, MessageRoute
from ..contract.statuses import status_label
from ..display import NO_IDENTITY

__all__ = [
    "FAILURE_COLUMNS",
    "GRANULARITIES",
    "ROUTE_CHOICES",
    "DashboardFilters",
    "DashboardTables",
    "analytics_tables",
    "chosen",
    "failures",
    "in_dates",
    "ledger_only_rows",
    "matches",
    "select",
    "selected_not_sent",
    "tile_values",
]

RouteFilter = Literal["all"] | MessageRoute
#: The route picker's choices: every route by its one label (``contract.routes``), and "all".
ROUTE_CHOICES: Final[dict[str, str]] = {"all": "All routes", **ROUTE_LABELS}
_ROUTE_ORDER: Final[dict[str, int]] = {r: i for i, r in enumerate(MESSAGE_ROUTES)}
GRANULARITIES: Final[dict[str, str]] = {
    "Minute": "1min",
    "15 minutes": "15min",
    "Hour": "1h",
    "Day": "1D",
    "Week": "7D",
}
FAILURE_COLUMNS: Final = (
    "phone",
    "identity",
    "route",
    "status",
    "status_code",
    "label",
    "outcome",
    "error",
    "campaign_id",
    "external_id",
    "message_id",
    "sent_at",
)


@dataclass(frozen=True)
class DashboardFilters:
    """What the dashboard shows: identities (``None`` = all), route, UTC dates, time bucket."""

    identities: tuple[str, ...] | None = None
    route: RouteFilter = "all"
    start: date | None = None
    end: date | None = None
    freq: str = "1h"

    def window(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The reducers' ``[start, end)``: from the first day's midnight to after the last day."""
        start = None if self.start is None else pd.Timestamp(self.start, tz="UTC")
        end = None if self.end is None else pd.Timestamp(self.end + timedelta(days=1), tz="UTC")
        return start, end


@dataclass(frozen=True)
class DashboardTables:
    """The analytics tables behind the dashboard, as the reducers return them.

    ``messages`` is :func:`~mta_notebook.analytics.message_table` (with ``replies`` and
    ``stops``) plus ``identity`` (``sender_name``, or ``NO_IDENTITY``); ``report``,
    ``timeseries``, ``failure_reasons``, ``replies``, ``latency`` and ``cost`` are
    ``delivery_report``, ``delivery_timeseries``, ``failure_reasons``, ``reply_report``,
    ``time_to_deliver`` and ``cost_report`` (credits from the ledger's ``credits``).
    """

    messages: pd.DataFrame
    report: pd.DataFrame
    timeseries: pd.DataFrame
    failure_reasons: pd.DataFrame
    replies: pd.DataFrame
    latency: pd.DataFrame
    cost: pd.DataFrame


def analytics_tables(
    events: object,
    sends: object | None = None,
    *,
    filters: DashboardFilters = DashboardFilters(),
    reply_window: str = "24h",
    engine: Any = None,
) -> DashboardTables:
    """Every table the dashboard shows for the filters' dates and bucket, from the reducers.

    The one place the dashboard calls :mod:`mta_notebook.analytics`; ``events`` is the kept
    join (:func:`~mta_notebook.analytics.messages`, what the Dashboard passes: built once per
    data load) or, with ``sends``, anything the reducers accept (DataFrames, an ``EventLog``,
    Parquet paths, ibis tables). With the kept join, ``sends`` is read only for its credits
    (``cost_report``).
    Identities and route are not applied here: :func:`select` keeps their rows.

    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["delivered"], "sender_name": ["Acme"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01 10:00", tz="UTC")]})
    >>> analytics_tables(ev).report[["sender_name", "route", "delivered"]].to_dict("records")
    [{'sender_name': 'Acme', 'route': 'imessage', 'delivered': 1}]
    """
    start, end = filters.window()
    if isinstance(events, Messages):  # the join kept once (what the Dashboard passes)
        data: tuple[object, ...] = (events,)
        window: dict[str, Any] = {"start": start, "end": end}
    else:
        data, window = (events, sends), {"start": start, "end": end, "engine": engine}
    messages = message_table(*data, reply_window=reply_window, **window)
    messages["identity"] = messages["sender_name"].astype("string").fillna(NO_IDENTITY)
    return DashboardTables(
        messages=messages,
        report=delivery_report(*data, **window),
        timeseries=delivery_timeseries(*data, freq=filters.freq, **window),
        failure_reasons=failure_reasons(*data, **window),
        replies=reply_report(*data, window=reply_window, **window),
        latency=time_to_deliver(*data, **window),
        cost=cost_report(events, sends, **window),
    )


def chosen(rows: pd.DataFrame, filters: DashboardFilters) -> pd.Series:
    """True for rows of the filters' identities and route (``sender_name`` null = no identity)."""
    keep = pd.Series(True, index=rows.index)
    if filters.identities is not None:
        named = rows["sender_name"].astype("string").fillna(NO_IDENTITY)
        keep &= named.isin(filters.identities)
    if filters.route != "all":
        keep &= rows["route"] == filters.route
    return cast("pd.Series", keep)


def select(tables: DashboardTables, filters: DashboardFilters) -> DashboardTables:
    """The rows of ``tables`` for the filters' identities and route (a display step only)."""
    kept: dict[str, pd.DataFrame] = {}
    for field in fields(tables):
        table = getattr(tables, field.name)
        kept[field.name] = table[chosen(table, filters)].reset_index(drop=True)
    return replace(tables, **kept)


def in_dates(at: pd.Series, filters: DashboardFilters, *, undated: bool = False) -> pd.Series:
    """True where a time falls in the filters' ``[start, end)`` window.

    A missing time is kept only with ``undated=True``: a send that failed before it went out
    has no ``sent_at`` and no other time in the ledger, and a date filter must not hide it.
    """
    start, end = filters.window()
    at = pd.to_datetime(at, utc=True, errors="coerce")
    keep = at.notna()
    if start is not None:
        keep &= at >= start
    if end is not None:
        keep &= at < end
    if undated:
        keep |= at.isna()
    return cast("pd.Series", keep.fillna(False).astype(bool))


def selected_not_sent(not_sent: pd.DataFrame, filters: DashboardFilters) -> pd.DataFrame:
    """The rows of :func:`ledger_only_rows` the filters select.

    Identities and route as :func:`chosen`; dates by ``sent_at`` where there is one. A send
    that failed or was skipped before it went out has none (the journal stamps ``sent_at``
    on a sent chunk only, and keeps no planned time in the ledger): such rows are kept by
    every date range, else real failures vanish from the table and its CSV.
    """
    keep = chosen(not_sent, filters) & in_dates(not_sent["sent_at"], filters, undated=True)
    return cast("pd.DataFrame", not_sent[keep])


# ------------------------------------------------------------------- rows behind one recipient


def _pairs(rows: pd.DataFrame, column: str) -> pd.MultiIndex:
    ids = rows[column].astype("string").str.replace(r"\.0$", "", regex=True)
    return cast("pd.MultiIndex", pd.MultiIndex.from_arrays([ids, rows["phone"].astype("string")]))


def matches(rows: pd.DataFrame, messages: pd.DataFrame) -> pd.Series:
    """True for ledger or event rows that belong to one of ``messages``.

    A row belongs to a message when it shares its (``external_id``, ``phone``) or its
    (``message_id``, ``phone``): the same keys the analytics join on, used here only to pick
    rows (for the downloads), never to count.
    """
    keep = pd.Series(False, index=rows.index)
    for column in ("external_id", "message_id"):
        known = rows[column].notna() & rows["phone"].notna()
        keep |= known & _pairs(rows, column).isin(_pairs(messages, column))
    return cast("pd.Series", keep)


def ledger_only_rows(sends: pd.DataFrame, messages: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows that are no message (their send failed or was skipped), one per recipient.

    ``route`` and ``identity`` as :func:`~mta_notebook.analytics.failure_reasons` gives them
    for sends that did not go out (``unknown`` with an identity asked for, else ``sms``).
    """
    rows = sends[(sends["state"] != "sent") & ~matches(sends, messages)]
    asked = rows["sender_name"].astype("string")
    asked = asked.where(asked.str.strip() != "")
    table = pd.DataFrame(
        {
            "identity": asked.fillna(NO_IDENTITY),
            "sender_name": asked,
            "route": np.where(asked.isna(), "sms", "unknown"),
            "sent_at": pd.to_datetime(rows["sent_at"], utc=True, errors="coerce"),
            "state": rows["state"].astype("string"),
            "error": rows["error"].astype("string"),
            "phone": rows["phone"],
            "campaign_id": rows["campaign_id"],
            "external_id": rows["external_id"],
            "message_id": rows["message_id"],
        }
    )
    return cast("pd.DataFrame", table.reset_index(drop=True))


def _sort(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    order = [k if k != "route" else "_route_order" for k in keys]
    df = df.assign(_route_order=df["route"].map(_ROUTE_ORDER).fillna(len(_ROUTE_ORDER)))
    df = df.sort_values(order, na_position="last", kind="mergesort")
    return cast("pd.DataFrame", df.drop(columns=["_route_order"]).reset_index(drop=True))


def failures(messages: pd.DataFrame, not_sent: pd.DataFrame) -> pd.DataFrame:
    """Failed recipients (``FAILURE_COLUMNS``): failed messages, then sends that did not go out.

    Each row is one of the messages or ledger rows counted in ``failure_reasons`` as
    ``failed`` or ``not-sent``, with the same ``label``.
    """
    bad = messages[messages["outcome"] == "failed"]
    rows = bad.assign(
        label=bad["status"].map(lambda v: status_label(v if isinstance(v, str) else None)),
        error=pd.Series(pd.NA, index=bad.index, dtype="string"),
    )
    ns = not_sent[not_sent["state"].isin(list(NOT_SENT_LABELS))]
    ns = ns.assign(
        status=pd.Series(pd.NA, index=ns.index, dtype="string"),
        status_code=pd.Series(pd.NA, index=ns.index, dtype="string"),
        label=ns["state"].map(NOT_SENT_LABELS),
        outcome="not-sent",
    )
    parts = [df.loc[:, list(FAILURE_COLUMNS)] for df in (rows, ns)]
    out = pd.concat([df for df in parts if len(df)] or parts[:1], ignore_index=True)
    return _sort(out, ["identity", "route", "label", "phone"])


# --------------------------------------------------------------------------- tiles and bucket


def tile_values(report: pd.DataFrame, replies: pd.DataFrame) -> dict[str, Any]:
    """The tiles' numbers, read off ``delivery_report`` and ``reply_report`` rows."""

    def rate(route: str) -> tuple[float | None, int, int]:
        rows = report[report["route"] == route]
        ok = int(rows["delivered"].sum())
        settled = ok + int(rows["failed"].sum())
        return (ok / settled if settled else None), ok, settled

    im_rate, im_ok, im_settled = rate("imessage")
    fb_rate, fb_ok, fb_settled = rate("sms_fallback")
    by_route = report.groupby("route")["messages"].sum()
    im_n = int(by_route.get("imessage", 0))
    fb_n = int(by_route.get("sms_fallback", 0))
    messages = int(report["messages"].sum())
    stops = int(replies["stops"].sum())
    return {
        "messages": messages,
        "imessage_rate": im_rate,
        "imessage_delivered": im_ok,
        "imessage_settled": im_settled,
        "fallback_rate": fb_rate,
        "fallback_delivered": fb_ok,
        "fallback_settled": fb_settled,
        "fallback_share": fb_n / (im_n + fb_n) if im_n + fb_n else None,
        "imessage_messages": im_n,
        "fallback_messages": fb_n,
        "unconfirmed": int(report["unconfirmed"].sum()),
        "pending": int(report["pending"].sum()),
        "replies": int(replies["replies"].sum()),
        "stop_replies": stops,
        "stop_rate": stops / messages if messages else None,
    }
