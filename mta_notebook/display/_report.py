"""save_report(): the delivery analytics as one self-contained HTML file that opens offline."""

from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ..contract.routes import ROUTE_LABELS
from ..contract.statuses import DELIVERY_STATUSES, status_label
from ._charts import NO_IDENTITY
from ._html import STYLESHEET

__all__ = ["save_report"]

_RATE_COLUMNS = (
    "delivery_rate",
    "ci_low",
    "ci_high",
    "share",
    "reply_rate",
    "stop_rate",
    "imessage_share",
    "fallback_share",
)


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return '<p class="note">No rows.</p>'
    shown = df.copy()
    for col in shown.columns:
        if col in _RATE_COLUMNS:
            shown[col] = shown[col].map(lambda v: "–" if pd.isna(v) else f"{v:.1%}")
        elif col == "sender_name":
            shown[col] = shown[col].astype("object").where(shown[col].notna(), NO_IDENTITY)
        elif col == "route":
            shown[col] = shown[col].map(lambda r: ROUTE_LABELS.get(r, r))
    text: str = shown.to_html(index=False, na_rep="–", classes="mta", border=0, escape=True)
    return text


def save_report(
    path: str | os.PathLike[str],
    events: object,
    sends: object | None = None,
    *,
    title: str = "Delivery report",
    freq: str = "1h",
    reply_window: str = "24h",
    engine: Any = None,
) -> Path:
    """Write the delivery analytics to one HTML file: tables and interactive charts.

    plotly's JavaScript is embedded, so the file opens offline and can be mailed to people
    outside the notebook. Nothing secret goes in: only the tables below and the title.

    Parameters
    ----------
    path
        Where to write (``.html``); parent folders are created.
    events, sends
        As for :func:`mta_notebook.delivery_report`.
    title
        Heading and ``<title>`` of the page.
    freq, reply_window
        Passed to :func:`delivery_timeseries` and :func:`reply_report`.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["delivered"], "sender_name": ["Acme"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")]})
    >>> out = save_report(pathlib.Path(tempfile.mkdtemp()) / "r.html", ev, title="Demo")
    >>> "Demo" in out.read_text(encoding="utf-8")
    True
    """
    from .. import analytics
    from . import _charts as charts

    report = analytics.delivery_report(events, sends, engine=engine)
    ts = analytics.delivery_timeseries(events, sends, freq=freq, engine=engine)
    fallback = analytics.fallback_summary(events, sends, engine=engine)
    reasons = analytics.failure_reasons(events, sends, engine=engine)
    reply = analytics.reply_report(events, sends, window=reply_window, engine=engine)

    figures = [
        charts.delivery_rates(report),
        charts.route_mix(report),
        charts.delivery_over_time(ts),
        charts.failure_reasons(reasons),
        charts.replies(reply),
    ]
    fig_html = [
        fig.to_html(
            full_html=False,
            include_plotlyjs=(i == 0),
            config={"displaylogo": False, "responsive": True},
            default_height="460px",
        )
        for i, fig in enumerate(figures)
    ]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_page(title, report, fig_html, fallback, reasons, reply), encoding="utf-8")
    return out


def _head(title: str, report: pd.DataFrame) -> list[str]:
    """The page's head, its title and the counts and definitions the reader needs first."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total, unconfirmed, pending, unmatched = (
        int(report[col].sum()) for col in ("messages", "unconfirmed", "pending", "unmatched")
    )
    unconfirmed_label = html.escape(status_label("delivery_unconfirmed"))
    waiting = ", ".join(st.name for st in DELIVERY_STATUSES if st.outcome == "pending")
    safe_title = html.escape(title)
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{safe_title}</title><style>{STYLESHEET}</style></head>",
        '<body class="mta-report">',
        f"<h1>{safe_title}</h1>",
        f'<p class="meta">Generated {now} by mta-notebook · {total} messages'
        f" · {unconfirmed} unconfirmed · {pending} pending"
        f" · {unmatched} without a send-ledger row (unmatched)</p>",
        "<h2>Delivery per Sender Identity and route</h2>",
        '<p class="note">Delivery rate = delivered / settled (delivered + failed); the '
        f"interval is Wilson 95 %. Unconfirmed = {unconfirmed_label}: final, but neither "
        "delivered nor failed, so in neither side of the rate. Pending = not final yet "
        f"({waiting}, an unknown or undocumented status, or no status yet). SMS fallback "
        "= an identity was asked for and no event of the message carries it (the message went "
        "as SMS).</p>",
    ]


def _page(
    title: str,
    report: pd.DataFrame,
    fig_html: list[str],
    fallback: pd.DataFrame,
    reasons: pd.DataFrame,
    reply: pd.DataFrame,
) -> str:
    """The whole page: the head, then each chart with the table it draws."""
    parts = [
        *_head(title, report),
        fig_html[0],
        _table(report),
        "<h2>Route mix</h2>",
        fig_html[1],
        _table(fallback),
        "<h2>Over time</h2>",
        fig_html[2],
        "<h2>Why messages were not delivered</h2>",
        fig_html[3],
        _table(reasons),
        "<h2>Replies and STOPs</h2>",
        fig_html[4],
        _table(reply),
        "</body></html>",
    ]
    return "\n".join(parts)
