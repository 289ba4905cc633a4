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
from ._state import ROUTE_CHOICES, DashboardFilters

__all__ = ["CHART_NAMES", "TILE_NAMES", "downloader", "failures_html", "status_html", "tiles"]

CHART_NAMES: Final = (
    "delivery_rates",
    "route_mix",
    "delivery_over_time",
    "failure_reasons",
    "replies",
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
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def tiles(t: dict[str, Any], *, reply_window: str) -> dict[str, str]:
    """The HTML of each tile (``TILE_NAMES``) for the numbers of ``state.tile_values``."""
    content = {
        "messages": ("Messages", f"{t['messages']:,}", "one per recipient of a send"),
        "imessage_rate": (
            "iMessage delivery",
            _pct(t["imessage_rate"]),
            f"{t['imessage_delivered']:,} of {t['imessage_settled']:,} settled",
        ),
        "fallback_rate": (
            "SMS fallback delivery",
            _pct(t["fallback_rate"]),
            f"{t['fallback_delivered']:,} of {t['fallback_settled']:,} settled",
        ),
        "fallback_share": (
            "Fallback share",
            _pct(t["fallback_share"]),
            "of messages sent with an identity",
        ),
        "unconfirmed": (
            "Unconfirmed",
            f"{t['unconfirmed']:,}",
            "no answer from the carrier: in neither side of the rates",
        ),
        "pending": ("Pending", f"{t['pending']:,}", "no final status yet, or no status at all"),
        "replies": ("Replies", f"{t['replies']:,}", f"within {reply_window} of a message"),
        "stop_rate": (
            "STOP rate",
            _pct(t["stop_rate"]),
            f"{t['stop_replies']:,} messages answered STOP",
        ),
    }
    return {
        name: f"<div class='mta-tile' data-tile='{name}'>"
        f"<div class='mta-tile-label'>{escape(label)}</div>"
        f"<div class='mta-tile-value'>{escape(value)}</div>"
        f"<div class='mta-tile-note'>{escape(note)}</div></div>"
        for name, (label, value, note) in content.items()
    }


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
    """One line saying what is selected."""
    ids = "all identities" if filters.identities is None else ", ".join(filters.identities)
    return (
        f"<span class='mta-status'>{messages:,} messages · "
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
