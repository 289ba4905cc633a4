"""Plotly chart builders for the delivery analytics: DataFrame in, ``go.Figure`` out, never shown.

Every chart colours a route the same way (``ROUTE_COLORS``), so iMessage is always blue and SMS
fallback always orange, whichever chart a reader looks at, and names it by the one label table,
``contract.routes.ROUTE_LABELS``.

Every text a chart takes from the data or the caller (identity names in axes, legends and hover
text, status labels and codes, titles) passes through :func:`plot_text` first: plotly draws a
subset of HTML in labels (``<a href>``, ``<b>``, ``<br>``...), so an identity named
``<a href="https://evil.example">Acme</a>`` would otherwise become a link in the chart.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Final, cast

import pandas as pd

from ..contract.routes import MESSAGE_ROUTES, ROUTE_LABELS
from ._chart_layout import (
    _LAYOUT,
    _TITLE,
    _empty_note,
    _pct_label,
    _require,
    _say,
    _values,
    nothing_selected,
)
from ._words import count

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "NO_IDENTITY",
    "ROUTE_COLORS",
    "ROUTE_LABELS",
    "delivery_over_time",
    "delivery_rates",
    "failure_reasons",
    "nothing_selected",
    "plot_text",
    "replies",
    "route_mix",
]

ROUTE_COLORS: Final[dict[str, str]] = {
    "imessage": "#1f77b4",  # blue
    "sms_fallback": "#ff7f0e",  # orange
    "sms": "#7f7f7f",  # grey
    "unknown": "#bcbd22",  # olive: route not known yet
}
NO_IDENTITY: Final[str] = "(no identity)"
_DASHES: Final[tuple[str, ...]] = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def plot_text(value: object) -> str:
    """``value`` as a plotly label that shows its markup as text (``<`` drawn, not parsed).

    plotly.js reads ``&lt;``, ``&gt;`` and ``&amp;`` back as the characters, so the label
    reads as written; quotes need no escape outside a tag.

    >>> plot_text('<a href="https://evil.example">Acme</a> & co')
    '&lt;a href="https://evil.example"&gt;Acme&lt;/a&gt; &amp; co'
    """
    return html.escape(str(value), quote=False)


def _messages(n: object) -> str:
    """A count of messages for a hover text: "1 message", "12 messages"."""
    return count(int(cast("Any", n)), "message")


def _identity(values: pd.Series[Any]) -> pd.Series[Any]:
    """Identity names as chart labels: ``NO_IDENTITY`` for none, markup escaped."""
    named: pd.Series[Any] = values.astype("object").where(values.notna(), NO_IDENTITY)
    return named.astype(str).map(plot_text)


def _title(title: str | None, default: str) -> dict[str, Any]:
    return {"text": default if title is None else plot_text(title), **_TITLE}


def _routes(df: pd.DataFrame) -> list[str]:
    present = set(df["route"].dropna()) if "route" in df else set()
    known = [r for r in MESSAGE_ROUTES if r in present]
    return known + sorted(present - set(MESSAGE_ROUTES))


def _color(route: str) -> str:
    return ROUTE_COLORS.get(route, "#17becf")


def _label(route: str) -> str:
    # a route outside the contract's comes from the data: escaped like any label
    return ROUTE_LABELS.get(route) or plot_text(route)


def _route_bar(route: str, hover: str, *, who: str = "%{customdata[0]}", **bar: Any) -> go.Bar:
    """One route's bars: its colour and label, a hover text that starts "identity · route"."""
    import plotly.graph_objects as go

    head = f"<b>{who}</b> · " + _label(route)
    return go.Bar(name=_label(route), marker_color=_color(route), hovertemplate=head + hover, **bar)


def _horizontal_bars(
    df: pd.DataFrame,
    rows: str,
    hover: str,
    custom: tuple[str, ...],
    *,
    who: str = "%{customdata[0]}",
    textposition: str = "auto",
    **layout: Any,
) -> go.Figure:
    """Message counts as horizontal bars, one trace per route; rows top-down as in ``df``."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for route in _routes(df):
        part = df[df["route"] == route]
        customdata = list(zip(*(part[c] for c in custom), strict=True))
        bar = {
            "y": part[rows],
            "x": part["messages"],
            "orientation": "h",
            "text": part["messages"],
            "textposition": textposition,
            "cliponaxis": False,
        }
        fig.add_trace(_route_bar(route, hover, who=who, customdata=customdata, **bar))
    order = list(dict.fromkeys(df[rows]))
    yaxis = {"categoryorder": "array", "categoryarray": order[::-1], "automargin": True}
    fig.update_layout(xaxis_title="Messages", yaxis=yaxis, **layout, **_LAYOUT)
    return fig


def _interval_bars(rate: pd.Series, low: pd.Series, high: pd.Series) -> dict[str, Any]:
    """Whiskers from each rate's 95 % interval (plotly wants distances from the bar's top)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": _values(high - rate),
        "arrayminus": _values(rate - low),
        "color": "#333333",
        "thickness": 1.2,
    }


def delivery_rates(report: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Delivery rate per Sender Identity, iMessage and SMS fallback side by side.

    Bars are grouped per identity, one colour per route, with the Wilson 95 % interval as
    error bars. Rows whose rate is undefined (nothing settled yet) have no bar. The hover text
    counts unconfirmed messages (DELIVERY_UNCONFIRMED: in neither side of the rate) apart from
    failed and from pending ones.

    Parameters
    ----------
    report
        The frame from :func:`mta_notebook.delivery_report` (``by=("sender_name", "route")``).

    Examples
    --------
    >>> import pandas as pd
    >>> rep = pd.DataFrame({"sender_name": ["Acme", "Acme"], "route": ["imessage", "sms_fallback"],
    ...     "messages": [10, 5], "delivered": [9, 3], "failed": [1, 2], "unconfirmed": [0, 0],
    ...     "pending": [0, 0], "delivery_rate": [0.9, 0.6], "ci_low": [0.6, 0.23],
    ...     "ci_high": [0.98, 0.88],
    ...     "share": [2 / 3, 1 / 3], "unmatched": [0, 0]})
    >>> [t.name for t in delivery_rates(rep).data]
    ['iMessage', 'SMS fallback']
    """
    import plotly.graph_objects as go

    _require(
        report,
        ("sender_name", "route", "delivery_rate", "ci_low", "ci_high", "delivered", "failed"),
        "charts.delivery_rates(delivery_report(...))",
    )
    df = report.assign(identity=_identity(report["sender_name"]))
    order = list(dict.fromkeys(df["identity"]))
    fig = go.Figure()
    for route in _routes(df):
        part = df[df["route"] == route]
        rate = part["delivery_rate"].astype(float)
        zero = pd.Series(0, index=part.index)
        custom = list(
            zip(
                part["identity"],
                part["delivered"],
                part["delivered"] + part["failed"],
                part.get("pending", zero),
                part["ci_low"].astype(float),
                part["ci_high"].astype(float),
                part.get("unconfirmed", zero),
                strict=True,
            )
        )
        low, high = part["ci_low"].astype(float), part["ci_high"].astype(float)
        fig.add_trace(
            _route_bar(
                route,
                "<br>Delivered %{customdata[1]} of %{customdata[2]} settled"
                " (%{y:.1%})<br>95% CI %{customdata[4]:.1%} – %{customdata[5]:.1%}"
                "<br>Unconfirmed %{customdata[6]} · pending %{customdata[3]}"
                " (neither in the rate)<extra></extra>",
                x=part["identity"],
                y=_values(rate),
                text=[_pct_label(v) for v in rate],
                textposition="inside",
                insidetextanchor="start",  # at the base: the interval's whisker is at the top
                textangle=0,
                error_y=_interval_bars(rate, low, high),
                customdata=[[None if pd.isna(v) else v for v in row] for row in custom],
            )
        )
    fig.update_layout(
        title=_title(title, "Delivery rate per identity: iMessage vs SMS fallback"),
        barmode="group",
        xaxis_title="Sender Identity",
        yaxis_title="Delivered / settled",
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
        xaxis={"categoryorder": "array", "categoryarray": order},
        **_LAYOUT,
    )
    return _empty_note(fig, df)


def route_mix(report: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """How each identity's messages split between routes (stacked horizontal bars of counts).

    Examples
    --------
    >>> import pandas as pd
    >>> rep = pd.DataFrame({"sender_name": ["Acme", None], "route": ["imessage", "sms"],
    ...     "messages": [10, 5], "share": [1.0, 1.0]})
    >>> [t.marker.color for t in route_mix(rep).data]
    ['#1f77b4', '#7f7f7f']
    """

    _require(report, ("sender_name", "route", "messages"), "charts.route_mix(delivery_report(...))")
    df = report.assign(identity=_identity(report["sender_name"]))
    if "share" not in df:
        df["share"] = df["messages"] / df.groupby("identity")["messages"].transform("sum")
    df["count_"] = df["messages"].map(_messages)
    fig = _horizontal_bars(
        df,
        "identity",
        "<br>%{customdata[2]} (%{customdata[1]:.1%} of the identity's)<extra></extra>",
        ("identity", "share", "count_"),
        title=_title(title, "Route mix per identity"),
        barmode="stack",
        textposition="inside",
        yaxis_title="Sender Identity",
    )
    return _empty_note(fig, df)


def delivery_over_time(ts: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Delivery rate per time bucket, one line per identity and route (colour = route).

    Takes the frame from :func:`mta_notebook.delivery_timeseries`; identities are told apart by
    the line's dash, routes by colour.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.DataFrame({"bucket": pd.to_datetime(["2026-01-01"], utc=True),
    ...     "sender_name": ["Acme"], "route": ["imessage"], "messages": [4], "delivered": [3],
    ...     "failed": [1], "pending": [0], "delivery_rate": [0.75]})
    >>> delivery_over_time(ts).data[0].name
    'Acme · iMessage'
    """
    import plotly.graph_objects as go

    _require(
        ts,
        ("bucket", "route", "messages", "delivered", "failed", "delivery_rate"),
        "charts.delivery_over_time(delivery_timeseries(...))",
    )
    df = ts.copy()
    df["identity"] = _identity(df["sender_name"]) if "sender_name" in df else "All identities"
    identities = list(dict.fromkeys(df["identity"]))
    fig = go.Figure()
    for route in _routes(df):
        for i, ident in enumerate(identities):
            part = df[(df["route"] == route) & (df["identity"] == ident)].sort_values("bucket")
            if part.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    name=f"{ident} · {_label(route)}",
                    x=part["bucket"],
                    y=_values(part["delivery_rate"]),
                    mode="lines+markers",
                    line={"color": _color(route), "dash": _DASHES[i % len(_DASHES)]},
                    marker={"color": _color(route)},
                    legendgroup=route,
                    # the identity goes in customdata, not in the template: a name holding
                    # "%{...}" would be read as a placeholder
                    customdata=list(
                        zip(
                            part["messages"].map(_messages),
                            part["delivered"],
                            part["delivered"] + part["failed"],
                            part["identity"],
                            strict=True,
                        )
                    ),
                    hovertemplate=(
                        f"<b>%{{customdata[3]}}</b> · {_label(route)}<br>%{{x|%Y-%m-%d %H:%M}} UTC"
                        "<br>Delivery rate %{y:.1%} (%{customdata[1]} of %{customdata[2]} "
                        "settled)<br>%{customdata[0]} sent<extra></extra>"
                    ),
                )
            )
    fig.update_layout(
        title=_title(title, "Delivery rate over time (by send time)"),
        xaxis_title="Sent (UTC)",
        yaxis_title="Delivered / settled",
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
        **_LAYOUT,
    )
    fig.update_layout(legend_title_text="Identity · route")
    if df["bucket"].nunique() == 1:
        # one bucket alone gets a microsecond-wide axis from plotly's autorange
        only = pd.Timestamp(df["bucket"].iloc[0])
        fig.update_xaxes(range=[only - pd.Timedelta(hours=1), only + pd.Timedelta(hours=1)])
        # a lone dot is not a trend: say why there is no line
        _say(
            fig,
            "Every message shown was sent in one time bucket: no change over time to draw",
            y=0.08,
            size=12,
        )
    return _empty_note(fig, df)


def failure_reasons(df: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Messages not delivered, per identity and documented status, one colour per route.

    Takes the frame from :func:`mta_notebook.failure_reasons`. Rows are "identity — label",
    the label being the contract's (``DELIVERY_REJECTED (blocked by the carrier)``), listed by
    outcome (failed, unconfirmed, pending, unknown, not sent); bars are grouped by route.

    Examples
    --------
    >>> import pandas as pd
    >>> fr = pd.DataFrame({"sender_name": ["Acme"], "route": ["sms_fallback"],
    ...     "outcome": ["failed"], "status": ["undelivered"], "status_code": ["9"],
    ...     "label": ["UNDELIVERED (handset off or out of coverage)"], "error": [None],
    ...     "messages": [2], "share": [0.5]})
    >>> list(failure_reasons(fr).data[0].y)
    ['Acme — UNDELIVERED']

    Pending messages (no final status yet) are not failures: they are left out of the bars and
    counted in a note under the title.
    """

    _require(
        df,
        ("sender_name", "route", "outcome", "label", "messages"),
        "charts.failure_reasons(failure_reasons(...))",
    )
    pending = df["outcome"] == "pending"
    waiting = int(df.loc[pending, "messages"].sum())
    data = df[~pending].assign(identity=_identity(df.loc[~pending, "sender_name"]))
    labels = data["label"].astype(str)
    # the axis shows the status's name ("UNDELIVERED"), the hover text its explanation: the
    # whole label took most of a 480 px slot
    data["row"] = (
        data["identity"] + " — " + labels.str.split(" (", n=1, regex=False).str[0].map(plot_text)
    )
    data["label_"] = labels.map(plot_text)
    share = data["share"] if "share" in data else pd.Series(float("nan"), index=data.index)
    data["share_"] = share.astype(float)
    code = data["status_code"] if "status_code" in data else pd.Series(None, index=data.index)
    data["code_"] = code.astype("object").where(code.notna(), "–").astype(str).map(plot_text)
    grouped = data.groupby(["row", "route"], sort=False, as_index=False).agg(
        identity=("identity", "first"),
        outcome=("outcome", lambda s: plot_text(s.iloc[0])),
        label_=("label_", lambda s: "<br>".join(dict.fromkeys(s))),
        messages=("messages", "sum"),
        share_=("share_", "sum"),
        codes=("code_", lambda s: ", ".join(sorted(set(s)))),
    )
    grouped["count_"] = grouped["messages"].map(_messages)
    # the frame comes ordered by identity, route and outcome: keep that order for the rows
    fig = _horizontal_bars(
        grouped.sort_values(
            "identity", kind="stable", key=lambda s: s.map(lambda v: (v == NO_IDENTITY, v))
        ),
        "row",
        "<br>%{customdata[4]}<br>Outcome %{customdata[1]} (code %{customdata[3]})"
        "<br>%{customdata[5]} (%{customdata[2]:.1%} of this route)<extra></extra>",
        ("identity", "outcome", "share_", "codes", "label_", "count_"),
        who="%{y}",
        textposition="outside",
        title=_title(title, "Why messages were not delivered"),
        barmode="group",
        yaxis_title=None,
    )
    # thin grouped bars: their counts are drawn whatever the bar's thickness
    fig.update_layout(uniformtext={"mode": False})
    if len(grouped) and grouped["messages"].max() <= 10:
        fig.update_xaxes(dtick=1, tick0=0)  # counts of messages: no 0.5 or 1.5 ticks
    if waiting:
        fig.add_annotation(
            text=f"{waiting:,} pending (no final status yet) not shown",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=1,
            y=0,
            xanchor="right",
            yanchor="bottom",
            font={"size": 11, "color": "#57606a"},
        )
    return _empty_note(fig, grouped, "No undelivered messages")


def replies(df: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Reply rate and STOP rate per identity, side by side per route.

    Takes the frame from :func:`mta_notebook.reply_report`: two panels (reply rate, STOP
    rate), the same colour per route in both.

    Examples
    --------
    >>> import pandas as pd
    >>> rr = pd.DataFrame({"sender_name": ["Acme"], "route": ["imessage"], "messages": [10],
    ...     "replies": [3], "replied": [2], "stops": [1], "reply_rate": [0.2], "stop_rate": [0.1]})
    >>> [t.name for t in replies(rr).data]
    ['iMessage', 'iMessage']
    """
    from plotly.subplots import make_subplots

    from ..analytics import wilson_interval

    _require(
        df,
        ("sender_name", "route", "messages", "reply_rate", "stop_rate"),
        "charts.replies(reply_report(...))",
    )
    data = df.assign(identity=_identity(df["sender_name"]))
    order = list(dict.fromkeys(data["identity"]))
    # no subplot titles: they sit where the legend is; each panel's y axis says what it shows
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14)
    for col, (metric, counted, what) in enumerate(
        [("reply_rate", "replied", "replied"), ("stop_rate", "stops", "sent STOP")], start=1
    ):
        for route in _routes(data):
            part = data[data["route"] == route]
            counts = part[counted] if counted in part else pd.Series(0, index=part.index)
            rate = part[metric].astype(float)
            # Wilson 95 % intervals: 2 STOPs of 38 is a wide 1-17 %, not a tall 5.3 % bar
            bounds = [
                wilson_interval(int(k), int(n))
                for k, n in zip(counts, part["messages"], strict=True)
            ]
            low = pd.Series([b[0] for b in bounds], index=part.index, dtype=float)
            high = pd.Series([b[1] for b in bounds], index=part.index, dtype=float)
            fig.add_trace(
                _route_bar(
                    route,
                    f"<br>%{{customdata[1]}} of %{{customdata[5]}} {what}"
                    " (%{y:.1%})<br>95% CI %{customdata[3]:.1%} – %{customdata[4]:.1%}"
                    "<extra></extra>",
                    x=part["identity"],
                    y=_values(rate),
                    text=[_pct_label(v) for v in rate],
                    textposition="inside",
                    insidetextanchor="start",
                    textangle=0,
                    error_y=_interval_bars(rate, low, high),
                    legendgroup=route,
                    showlegend=col == 1,
                    customdata=[
                        [i, int(k), int(n), lo, hi, _messages(n)]
                        for i, k, n, lo, hi in zip(
                            part["identity"],
                            counts,
                            part["messages"],
                            _values(low),
                            _values(high),
                            strict=True,
                        )
                    ],
                ),
                row=1,
                col=col,
            )
    fig.update_layout(
        title=_title(title, "Replies and STOPs (95 % intervals)"),
        barmode="group",
        **_LAYOUT,
    )
    fig.update_xaxes(title_text=None, categoryorder="array", categoryarray=order)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_yaxes(title_text="Reply rate", row=1, col=1)
    fig.update_yaxes(title_text="STOP rate", row=1, col=2)
    return _empty_note(fig, data)
