"""The dashboard's HTML pieces (tiles, failures table, status line) and its download helper.

All of it renders with the shared stylesheet (``display.STYLESHEET``, ``.mta-tile`` and
friends) and escapes every value through ``display.escape``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pandas as pd

from ..contract.routes import ROUTE_LABELS
from ..display import escape, frame_html
from ..display._words import count
from ._state import ROUTE_CHOICES, DashboardFilters

__all__ = [
    "CHART_NAMES",
    "EMPTY",
    "TILE_NAMES",
    "downloader",
    "failures_html",
    "rate_text",
    "status_html",
    "tile_html",
    "tiles",
    "verdict_html",
]

#: What every chart, the verdict and the status say when the filters select nothing.
EMPTY: Final = "No messages match these filters"

CHART_NAMES: Final = (
    "delivery_rates",
    "route_mix",
    "delivery_over_time",
    "failure_reasons",
    "replies",
    "time_to_deliver",
)
TILE_NAMES: Final = (
    "messages",
    "imessage_rate",
    "fallback_rate",
    "fallback_share",
    "unconfirmed",
    "pending",
    "replies",
    "stop_rate",
    "credits",
    "credits_per_delivered",
    "imessage_saved",
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"  # as in every table: "96.6 %"


def rate_text(k: int, n: int, what: str, *, one: str | None = None) -> str:
    """The note under a rate: ``k`` of ``n`` and the Wilson 95 % interval.

    ``one`` is ``what`` for ``n == 1`` ("0 of 1 message answered STOP", not "messages").

    >>> rate_text(74, 76, "settled"), rate_text(0, 0, "settled")
    ('74 of 76 settled · 95 % interval 91-99 %', '0 of 0 settled')
    >>> rate_text(2, 240, "answered STOP")
    '2 of 240 answered STOP · 95 % interval 0.2-3.0 %'
    >>> rate_text(1, 1, "messages answered STOP", one="message answered STOP")
    '1 of 1 message answered STOP · 95 % interval 21-100 %'
    """
    from ..analytics import wilson_interval

    if n == 1 and one is not None:
        what = one
    if n <= 0:
        return f"{k:,} of {n:,} {what}"
    low, high = wilson_interval(k, n)
    # whole points, but a decimal under 10 % (2 STOPs of 240 is "0.2-3.0 %", not "0-3 %")
    places = 1 if high < 0.1 else 0
    bounds = f"{low * 100:.{places}f}-{high * 100:.{places}f} %"
    return f"{k:,} of {n:,} {what} · 95 % interval {bounds}"


def tiles(t: dict[str, Any], *, reply_window: str) -> dict[str, str]:
    """The HTML of each tile (``TILE_NAMES``) for the numbers of ``state.tile_values``.

    Every rate comes with its n/N and its Wilson 95 % interval ("74 of 76 settled" alone does
    not say how sure the rate is).
    """
    im_n = t["imessage_messages"] + t["fallback_messages"]
    content = {
        "messages": ("Messages", f"{t['messages']:,}", "one per recipient of a send"),
        "imessage_rate": (
            "iMessage delivery",
            _pct(t["imessage_rate"]),
            rate_text(t["imessage_delivered"], t["imessage_settled"], "settled"),
        ),
        "fallback_rate": (
            "SMS fallback delivery",
            _pct(t["fallback_rate"]),
            rate_text(t["fallback_delivered"], t["fallback_settled"], "settled"),
        ),
        "fallback_share": (
            "Fallback share",
            _pct(t["fallback_share"]),
            rate_text(
                t["fallback_messages"],
                im_n,
                "messages sent with an identity",
                one="message sent with an identity",
            ),
        ),
        "unconfirmed": (
            "Unconfirmed",
            f"{t['unconfirmed']:,}",
            "no answer from the carrier: in neither side of the rates",
        ),
        "pending": ("Pending", f"{t['pending']:,}", "no final status yet: not a failure"),
        "replies": ("Replies", f"{t['replies']:,}", f"within {reply_window} of a message"),
        "stop_rate": (
            "STOP rate",
            _pct(t["stop_rate"]),
            rate_text(
                t["stop_replies"],
                t["messages"],
                "messages answered STOP",
                one="message answered STOP",
            ),
        ),
    }
    return {name: tile_html(name, *parts) for name, parts in content.items()}


def tile_html(name: str, label: str, value: str, note: str) -> str:
    """One tile: its label, its value large, a note under it (all escaped)."""
    return (
        f"<div class='mta-tile' data-tile='{name}'>"
        f"<div class='mta-tile-label'>{escape(label)}</div>"
        f"<div class='mta-tile-value'>{escape(value)}</div>"
        f"<div class='mta-tile-note'>{escape(note)}</div></div>"
    )


def verdict_html(
    compare: pd.DataFrame, *, messages: int, route_filtered: bool, observational: str
) -> str:
    """The top panel: one verdict per identity (``compare_routes``), and what it cannot say."""
    if compare.empty:
        body = (
            f"<p class='mta-verdict-line'>{escape(EMPTY)}.</p>"
            if messages == 0
            else "<p class='mta-verdict-line'>No Sender Identity in the selection: nothing to "
            "compare (plain SMS has no iMessage route).</p>"
        )
    else:
        lines = []
        for row in compare.itertuples(index=False):
            mark = "significant" if bool(row.significant) else "not significant"
            lines.append(
                f"<li class='mta-verdict-line' data-identity='{escape(str(row.sender_name))}' "
                f"data-significant='{str(bool(row.significant)).lower()}' "
                f"title='{escape(mark)}'>{escape(str(row.verdict))}</li>"
            )
        body = "<ul>" + "".join(lines) + "</ul>"
    scope = (
        "<p class='mta-muted'>Both routes are compared whatever the route filter: the verdict "
        "needs iMessage and SMS fallback side by side.</p>"
        if route_filtered
        else ""
    )
    return (
        "<div class='mta-verdict'><h3>Does iMessage deliver better than SMS fallback?</h3>"
        f"{body}{scope}<p class='mta-muted mta-observational'>{escape(observational)}</p></div>"
    )


def failures_html(fail: pd.DataFrame, *, limit: int = 200) -> str:
    """The failed recipients as a scrolling table (the first ``limit`` rows; the CSV has all)."""
    if fail.empty:
        return "<p class='mta-failures'>No failed recipients.</p>"
    more = (
        f"<p class='mta-muted'>Showing {limit:,} of {len(fail):,}; download the CSV for all.</p>"
        if len(fail) > limit
        else ""
    )
    shown = fail.head(limit).astype(object)
    shown = shown.where(shown.notna(), None)
    shown["route"] = shown["route"].map(lambda r: ROUTE_LABELS.get(r, r))
    table = frame_html(shown, max_rows=limit)
    return f"<div class='mta-failures mta-scroll'>{table}</div>{more}"


def status_html(filters: DashboardFilters, messages: int) -> str:
    """One line saying what is selected (and, when it is nothing, the empty state)."""
    ids = "all identities" if filters.identities is None else ", ".join(filters.identities)
    empty = f"<div class='mta-empty'>{escape(EMPTY)}.</div>" if messages == 0 else ""
    return empty + (
        f"<span class='mta-status'>{count(messages, 'message')} · "
        f"{escape(ids or 'no identity selected')} · {escape(ROUTE_CHOICES[filters.route])} · "
        f"{filters.start or '…'} to {filters.end or '…'} (UTC)</span>"
    )


_downloader_class: type[Any] | None = None


def downloader() -> Any:
    """A hidden anywidget that saves bytes sent from Python as a browser download."""
    global _downloader_class
    if _downloader_class is None:
        import anywidget

        class _Downloader(anywidget.AnyWidget):
            _esm = Path(__file__).parent / "_download.js"  # anywidget reads the file

        _downloader_class = _Downloader
    return _downloader_class()
