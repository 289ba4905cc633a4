"""Reconciliation: settle chunks whose outcome is unknown, from evidence only.

Evidence is the receiver's webhook log (an event with the chunk's ``externalId``) or
``GET /v3/deliveries`` paged over the chunk's dates (the listing has no externalId filter, so
rows are matched here). "Not listed" means "not sent" only once the listing shows a message
dated more than the clock margin after the chunk can last have gone out. Nothing is re-sent
here: a chunk found not sent goes back to ``planned``; anything else stays ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import pandas as pd

from .._errors import APIError, CampaignError
from ..contract.assumptions import DELIVERIES_DATE_MARGIN_DAYS
from ..contract.dates import parse_scheduled_date, parse_time
from ._journal import Journal
from ._schema import utcnow

__all__ = ["ListsDeliveries", "events_frame", "message_id", "reconcile"]


class ListsDeliveries(Protocol):
    """What reconciliation needs of a client: ``GET /v3/deliveries``, paged."""

    def iter_deliveries(
        self, *, start: datetime, end: datetime, sort_direction: str = ...
    ) -> Iterable[Any]: ...


#: Events that exist only once MTA took a ``/send``: one with a chunk's externalId shows the
#: chunk went out (number-opt-in carries no externalId).
_OUTBOUND_EVENTS: Final = frozenset({"message-send", "delivery-status", "message-reply"})


def events_frame(events: Any) -> pd.DataFrame | None:
    """The Events table of ``events=``: an ``EventLog`` (its ``.df``) or a DataFrame with the
    Events columns (``external_id``; ``event`` and ``message_id`` are used when present)."""
    if events is None:
        return None
    df = getattr(events, "df", events)
    if not isinstance(df, pd.DataFrame) or "external_id" not in df.columns:
        raise CampaignError(
            "events= must be the receiver's webhook log: an EventLog (read_webhook_log(...)) or "
            "a DataFrame with the Events columns (external_id, event, message_id); got "
            f"{type(events).__name__}."
        )
    return df


def _logged(df: pd.DataFrame | None, wanted: set[str]) -> dict[str, int | None]:
    """externalId -> a messageId (or None) for each of ``wanted`` that the webhook log shows."""
    if df is None:
        return {}
    ext = df["external_id"].astype("string")
    keep = ext.isin(wanted).fillna(False).to_numpy(bool)
    if "event" in df.columns:
        keep = keep & df["event"].isin(_OUTBOUND_EVENTS).to_numpy(bool)
    ids = df["message_id"] if "message_id" in df.columns else pd.Series(pd.NA, index=df.index)
    out: dict[str, int | None] = {}
    for key, mid in zip(ext[keep].tolist(), ids[keep].tolist(), strict=True):
        if out.get(key) is None:
            out[key] = None if pd.isna(mid) else int(mid)
    return out


@dataclass
class _Listing:
    """What ``GET /v3/deliveries`` showed for a date window."""

    by_external_id: dict[str, list[Any]]
    #: The latest row date up to now (plus the clock margin): how far the listing has caught up.
    latest: datetime | None
    #: Whether any row carries an externalId: without them, "not listed" proves nothing.
    shows_external_ids: bool


def _read_listing(
    client: ListsDeliveries,
    start: datetime,
    end: datetime,
    wanted: set[str],
    horizon: datetime,
) -> _Listing:
    by_ext: dict[str, list[Any]] = {}
    latest: datetime | None = None
    shows = False
    # Oldest first: rows listed while we page land on later pages instead of shifting these.
    for row in client.iter_deliveries(start=start, end=end, sort_direction="ASC"):
        ext = getattr(row, "external_id", None)
        if ext:
            shows = True
            if ext in wanted:
                by_ext.setdefault(str(ext), []).append(row)
        when = parse_time(getattr(row, "date", None))
        # A row dated in the future (a scheduled message) says nothing about catching up.
        if when is not None and when <= horizon and (latest is None or when > latest):
            latest = when
    return _Listing(by_ext, latest, shows)


def _went_out_by(journal: Journal, campaign_id: str, row: Mapping[str, Any]) -> datetime:
    """The latest time a chunk's messages can have gone out: when its outcome became unknown
    (its request, held by the pacer or by retries, left at some point before that), or its
    ``scheduledDate`` if later."""
    at = journal.unknown_since(campaign_id, int(row["chunk"])) or datetime.fromisoformat(
        str(row["updated_at"])
    )
    if row.get("scheduled_date"):
        at = max(at, parse_scheduled_date(str(row["scheduled_date"])))
    return at


def message_id(res: Any) -> int | None:
    """The ``messageId`` of a send answer or a deliveries row (a model or a mapping)."""
    mid = getattr(res, "message_id", None)
    if mid is None and isinstance(res, Mapping):
        mid = res.get("messageId") or (res.get("data") or {}).get("messageId")
    return int(mid) if mid is not None else None


def reconcile(
    journal: Journal,
    campaign_id: str,
    client: ListsDeliveries,
    *,
    events: pd.DataFrame | None,
    clock_margin_s: float,
) -> None:
    """Settle unknown chunks from evidence.

    Evidence: an event of the webhook log with the chunk's externalId (sent); a row of
    ``GET /v3/deliveries`` with it, paged over the chunks' dates +-
    ``DELIVERIES_DATE_MARGIN_DAYS`` (sent); no such row although the listing already shows a
    message dated more than ``clock_margin_s`` after the chunk can last have gone out (not
    sent: planned again). Anything else leaves the chunk unknown, with the reason in its
    ``error``.
    """
    unknown = {
        ch: journal.chunk(campaign_id, ch) for ch in journal.chunk_ids(campaign_id, "unknown")
    }
    ext_of = {ch: str(row["external_id"]) for ch, row in unknown.items()}
    logged = _logged(events, set(ext_of.values()))
    for ch, ext in list(ext_of.items()):
        if ext in logged:
            journal.move(
                campaign_id,
                ch,
                "sent",
                message_id=logged[ext],
                detail=f"reconciled: the webhook log has events with externalId {ext}",
            )
            del ext_of[ch]
    if ext_of:
        _settle_from_listing(journal, campaign_id, client, unknown, ext_of, clock_margin_s)


def _settle_from_listing(
    journal: Journal,
    campaign_id: str,
    client: ListsDeliveries,
    unknown: Mapping[int, Mapping[str, Any]],
    ext_of: Mapping[int, str],
    clock_margin_s: float,
) -> None:
    """Settle the chunks ``ext_of`` names from one read of ``GET /deliveries``."""
    now = utcnow()
    margin = timedelta(seconds=clock_margin_s)
    went_out = {ch: _went_out_by(journal, campaign_id, unknown[ch]) for ch in ext_of}
    earliest = min(datetime.fromisoformat(str(unknown[ch]["in_flight_at"])) for ch in ext_of)
    days = timedelta(days=DELIVERIES_DATE_MARGIN_DAYS)
    try:
        listing = _read_listing(
            client,
            earliest - days,
            max(went_out.values()) + days,
            set(ext_of.values()),
            now + margin,
        )
    except APIError as exc:
        for ch in ext_of:
            journal.move(
                campaign_id, ch, "unknown", error=f"cannot check GET /deliveries: {exc}"[:500]
            )
        return
    for ch, ext in ext_of.items():
        at = went_out[ch]
        found = listing.by_external_id.get(ext)
        if found:
            journal.move(
                campaign_id,
                ch,
                "sent",
                message_id=message_id(found[0]),
                detail=f"reconciled: GET /deliveries lists {len(found)} messages with "
                f"externalId {ext}",
            )
        elif at > now:
            journal.move(
                campaign_id,
                ch,
                "unknown",
                error=f"scheduled for {unknown[ch]['scheduled_date']}: GET /deliveries cannot "
                "show it before then. Check the MTA dashboard (scheduled messages), or resume "
                "after that time",
            )
        elif listing.latest is None or listing.latest <= at + margin:
            journal.move(
                campaign_id,
                ch,
                "unknown",
                error=f"externalId {ext} is not in GET /deliveries yet, and the listing shows "
                f"nothing dated more than {clock_margin_s:g}s after this chunk can last have "
                f"gone out ({at.isoformat()}): it may still appear",
            )
        elif not listing.shows_external_ids:
            journal.move(
                campaign_id,
                ch,
                "unknown",
                error="no row of GET /deliveries around its send time carries an externalId, "
                "so the listing cannot show whether this chunk went out",
            )
        else:
            journal.move(
                campaign_id,
                ch,
                "planned",
                detail=f"reconciled: externalId {ext} is not in GET /deliveries, which already "
                f"lists a message dated {listing.latest.isoformat()}, more than "
                f"{clock_margin_s:g}s after this chunk can last have gone out "
                f"({at.isoformat()}): not sent",
            )
