"""save_report(): the delivery analytics as one self-contained HTML file that opens offline."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ..contract.assumptions import IMESSAGE_CREDITS, ImessageCredits
from ..contract.routes import ROUTE_LABELS
from ..contract.statuses import DELIVERY_STATUSES, status_label
from ._csv import safe_csv
from ._html import STYLESHEET
from ._report_sections import answer_sections, answers, latency_figure, test_sends
from ._tables import readable_html

__all__ = ["save_report"]

_REPORT_CSS = """
.mta-report table.mta th,.mta-report table.mta td{text-align:left;vertical-align:top}
.mta-report table.mta th.num,.mta-report table.mta td.num{text-align:right;
  font-variant-numeric:tabular-nums}
.mta-report table.mta td{white-space:nowrap}
.mta-report ul.verdicts{padding-left:1.2rem;line-height:1.5}
.mta-report ul.verdicts li{margin:.35rem 0}
.mta-report p.download a{font-weight:600}
.mta-report .scroll{overflow-x:auto}
.mta-report h3{font-size:1rem;margin:1rem 0 .4rem}
"""


def save_report(
    path: str | os.PathLike[str],
    events: object,
    sends: object | None = None,
    *,
    title: str = "Delivery report",
    freq: str | None = None,
    reply_window: str = "24h",
    csv: bool = False,
    experiments: pd.DataFrame | None = None,
    journal: object = None,
    subscribers: object = None,
    price_per_credit: float | None = None,
    imessage_credits: ImessageCredits = IMESSAGE_CREDITS,
    engine: Any = None,
) -> Path:
    """Write the delivery analytics to one HTML file: the verdict, tables and interactive charts.

    The page opens with the verdict per Sender Identity (:func:`mta_notebook.compare_routes`),
    then the identities compared (:func:`compare_identities`), delivery per identity and route,
    reach (:func:`optin_reach`), time to deliver (:func:`time_to_deliver`), cost
    (:func:`cost_report`), and each chart with its table. A section with nothing to show says
    why. plotly's JavaScript is embedded, so the file opens offline
    and can be mailed to people outside the notebook. Nothing secret goes in: only the tables
    below and the title.

    Parameters
    ----------
    path
        Where to write (``.html``); parent folders are created.
    events, sends
        As for :func:`mta_notebook.delivery_report`.
    title
        Heading and ``<title>`` of the page.
    freq, reply_window
        Passed to :func:`delivery_timeseries` and :func:`reply_report`. ``freq=None`` picks
        the bucket from the span of the send times (about 12 to 48 buckets: 1min to 1D).
    csv
        Also write the delivery table (the columns of :func:`delivery_report`, rates as
        fractions) next to the page, same name with ``.csv``, spreadsheet-safe, and link it.
    experiments, journal
        The frame of :func:`read_experiments`, or the journal to read it from (one of them):
        when the messages come from a randomized split (:func:`plan_experiment`), the
        identities are compared as that experiment; otherwise the comparison says it is
        observational.
    subscribers
        The audience (a ``SubscriberList``, a DataFrame with ``phone``, or phones) for the
        reach section; without it the section says to pass it.
    price_per_credit, imessage_credits
        As for :func:`cost_report`: the cost section adds money with a price per credit.

    Returns
    -------
    pathlib.Path
        The HTML file written.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["delivered"], "sender_name": ["Acme"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")]})
    >>> out = save_report(pathlib.Path(tempfile.mkdtemp()) / "r.html", ev, title="Demo", csv=True)
    >>> "Demo" in out.read_text(encoding="utf-8"), out.with_suffix(".csv").exists()
    (True, True)
    """
    from .. import analytics
    from . import _charts as charts

    # join once: every table below reduces the same messages
    msgs = events if isinstance(events, analytics.Messages) else None
    if msgs is None:
        msgs = analytics.messages(events, sends, engine=engine)
    report = analytics.delivery_report(msgs)
    verdicts = analytics.compare_routes(msgs)
    freq = freq or analytics.auto_freq(msgs.df["sent_at"])
    ts = analytics.delivery_timeseries(msgs, freq=freq)
    fallback = analytics.fallback_summary(msgs)
    reasons = analytics.failure_reasons(msgs)
    reply = analytics.reply_report(msgs, window=reply_window)
    found = answers(
        msgs,
        events,
        sends,
        experiments=experiments,
        journal=journal,
        subscribers=subscribers,
        price_per_credit=price_per_credit,
        imessage_credits=imessage_credits,
    )

    # pending messages are not failures: they get their own table, not a bar among the failures,
    # and a row with nothing settled has no rate to draw (its bar would be NaN)
    waiting = reasons["outcome"] == "pending"
    settled = report[(report["delivered"] + report["failed"]) > 0]
    ts_settled = ts[(ts["delivered"] + ts["failed"]) > 0]
    figures = [
        charts.delivery_rates(settled if len(settled) else report),
        charts.route_mix(report),
        charts.delivery_over_time(ts_settled if len(ts_settled) else ts),
        charts.failure_reasons(reasons[~waiting]),
        charts.replies(reply),
    ]
    latency_chart = latency_figure(found)
    if latency_chart is not None:
        figures.append(latency_chart)
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
    csv_name = None
    if csv:
        csv_path = out.with_suffix(".csv")
        csv_path.write_text(safe_csv(report), encoding="utf-8", newline="")
        csv_name = csv_path.name
    tables = _Tables(
        report,
        verdicts,
        fallback,
        _trim(reasons[~waiting]),
        _trim(reasons[waiting]),
        reply,
        test_sends(events),
    )
    buckets = int(ts["bucket"].nunique()) if len(ts) else 0
    if buckets < 2:  # one bucket draws one dot on an empty axis: say what it would show
        fig_html[2] = _one_bucket(ts, freq)
    sections = answer_sections(found, fig_html[5] if len(fig_html) > 5 else "")
    out.write_text(_page(title, tables, fig_html, csv_name, sections), encoding="utf-8")
    return out


#: Bucket widths the report picks from: the first giving at most 48 buckets over the span.
def _trim(reasons: pd.DataFrame) -> pd.DataFrame:
    """A status table without what says nothing: the status code's snake-case name (the
    meaning column names it) and columns with no value in any row (no error text)."""
    kept: pd.DataFrame = reasons.drop(columns=[c for c in ("status",) if c in reasons])
    if kept.empty:
        return kept
    out: pd.DataFrame = kept.loc[:, [c for c in kept.columns if kept[c].notna().any()]]
    return out


def _one_bucket(ts: pd.DataFrame, freq: str) -> str:
    if ts.empty:
        return '<p class="note">No message has a send time: nothing to draw over time.</p>'
    return (
        f'<p class="note">Every message was sent within one {html.escape(freq)} bucket '
        "(starting "
        f"{html.escape(pd.Timestamp(ts['bucket'].min()).strftime('%Y-%m-%d %H:%M UTC'))}): "
        "there is no change over time to draw. The delivery rates are in the chart above.</p>"
    )


@dataclass(frozen=True)
class _Tables:
    report: pd.DataFrame
    verdicts: pd.DataFrame
    fallback: pd.DataFrame
    failures: pd.DataFrame
    pending: pd.DataFrame
    reply: pd.DataFrame
    tests: int | None


def _head(title: str, t: _Tables, csv_name: str | None) -> list[str]:
    """The page's head, its title and the counts the reader needs first."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = t.report
    total, unconfirmed, pending, unmatched = (
        int(report[col].sum()) for col in ("messages", "unconfirmed", "pending", "unmatched")
    )
    safe_title = html.escape(title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{safe_title}</title><style>{STYLESHEET}{_REPORT_CSS}</style></head>",
        '<body class="mta-report">',
        f"<h1>{safe_title}</h1>",
        f'<p class="meta">Generated {now} by mta-notebook · {total} messages'
        f" · {unconfirmed} unconfirmed · {pending} pending"
        f" · {unmatched} without a send-ledger row (unmatched)</p>",
    ]
    if t.tests:
        sends = "test send is" if t.tests == 1 else "test sends are"
        parts.append(
            f'<p class="meta">{t.tests} {sends} left out of every figure (test_send: an '
            "externalId ending in -test).</p>"
        )
    if csv_name is not None:
        link = html.escape(csv_name, quote=True)
        parts.append(
            f'<p class="download"><a href="{link}" download>Download the delivery table as '
            f"CSV ({link})</a></p>"
        )
    return parts


def _verdict(verdicts: pd.DataFrame) -> list[str]:
    """The answer first: per identity, reach and iMessage vs SMS fallback, in words."""
    from ..analytics._compare import OBSERVATIONAL

    parts = ["<h2>Verdict per Sender Identity</h2>"]
    if verdicts.empty:
        parts.append(
            '<p class="note">No message was sent with a Sender Identity: no route to compare.</p>'
        )
        return parts
    items = "".join(f"<li>{html.escape(str(v))}</li>" for v in verdicts["verdict"])
    parts += [
        f'<ul class="verdicts">{items}</ul>',
        '<p class="note">Intervals are 95 %: Wilson for each rate, Newcombe for the difference '
        f"(significant when it leaves out 0). {html.escape(OBSERVATIONAL)}</p>",
    ]
    return parts


def _definitions() -> str:
    unconfirmed_label = html.escape(status_label("delivery_unconfirmed"))
    waiting = ", ".join(st.name for st in DELIVERY_STATUSES if st.outcome == "pending")
    return (
        '<p class="note">Delivery rate = delivered / settled (delivered + failed), shown with '
        "(delivered/settled) and its Wilson 95 % interval. Unconfirmed = "
        f"{unconfirmed_label}: final, but neither delivered nor failed, so in neither side of "
        f"the rate. Pending = not final yet ({waiting}, an unknown or undocumented status, or "
        "no status yet). SMS fallback = an identity was asked for and no event of the message "
        "carries it (the message went as SMS).</p>"
    )


def _pending(pending: pd.DataFrame) -> list[str]:
    if pending.empty:
        return []
    count = int(pending["messages"].sum())
    noun = "message is" if count == 1 else "messages are"
    shown = pending.drop(columns=[c for c in ("outcome", "share") if c in pending])
    return [
        "<h2>Still pending</h2>",
        f'<p class="note">{count} {noun} not final yet: neither delivered nor failed, so in '
        "no rate above, and kept apart from the failures below. A message with no event yet "
        f"shows as “{html.escape(ROUTE_LABELS['unknown'])}”: its route is told by its first "
        "event.</p>",
        _table(shown),
    ]


def _table(df: pd.DataFrame) -> str:
    return f'<div class="scroll">{readable_html(df)}</div>'


def _page(
    title: str,
    t: _Tables,
    fig_html: list[str],
    csv_name: str | None,
    sections: dict[str, list[str]],
) -> str:
    """The whole page: the head, the answers (verdict, identities, reach, time, cost), then
    each chart with the table it draws."""
    parts = [
        *_head(title, t, csv_name),
        *_verdict(t.verdicts),
        *sections["identities"],
        "<h2>Delivery per Sender Identity and route</h2>",
        _definitions(),
        fig_html[0],
        _table(t.report),
        *_pending(t.pending),
        *sections["reach"],
        "<h2>Route mix</h2>",
        fig_html[1],
        _table(t.fallback),
        *sections["latency"],
        *sections["cost"],
        "<h2>Over time</h2>",
        fig_html[2],
        "<h2>Why messages were not delivered</h2>",
        fig_html[3],
        _table(t.failures),
        "<h2>Replies and STOPs</h2>",
        fig_html[4],
        _table(t.reply),
        "</body></html>",
    ]
    return "\n".join(parts)
