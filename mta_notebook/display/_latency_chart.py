"""time_to_deliver_chart: median and p90 time to deliver per identity, bars by route."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..contract.routes import MESSAGE_ROUTES, ROUTE_LABELS
from ._chart_layout import _LAYOUT, _empty_note
from ._charts import NO_IDENTITY, ROUTE_COLORS, _title, plot_text

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["time_to_deliver_chart"]

_NEEDED = ("sender_name", "route", "timed", "median_s", "p90_s")


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def time_to_deliver_chart(latency: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Median and 90th-percentile time to deliver, per identity, one colour per route.

    ``latency`` is :func:`mta_notebook.time_to_deliver`'s table. The median is the solid bar,
    the p90 the hatched one beside it; each bar carries its value. Rows without a timed
    delivered message are left out (no NaN reaches the figure).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"sender_name": ["Acme"], "route": ["imessage"], "final": [3],
    ...     "delivered": [3], "timed": [3], "median_s": [4.0], "p90_s": [9.5]})
    >>> fig = time_to_deliver_chart(df)
    >>> [t.name for t in fig.data], list(fig.data[1].text)
    (['iMessage · median', 'iMessage · p90'], ['9.5 s'])
    """
    import plotly.graph_objects as go

    missing = [c for c in _NEEDED if c not in latency.columns]
    if missing:
        from .._errors import ValidationError

        raise ValidationError(
            f"the frame lacks the columns {missing}; call it as "
            "time_to_deliver_chart(time_to_deliver(events, sends))"
        )
    df = latency[(latency["timed"] > 0) & latency["median_s"].notna()].copy()
    df["who"] = (
        df["sender_name"].astype("object").where(df["sender_name"].notna(), NO_IDENTITY)
    ).map(lambda v: plot_text(v))
    fig = go.Figure()
    present = list(dict.fromkeys(df["route"]))
    order = [r for r in MESSAGE_ROUTES if r in present] + [
        r for r in present if r not in MESSAGE_ROUTES
    ]
    for route in order:
        part = df[df["route"] == route]
        label = ROUTE_LABELS.get(route) or plot_text(route)
        for stat, column, pattern in (("median", "median_s", ""), ("p90", "p90_s", "/")):
            values = [float(v) for v in part[column]]
            fig.add_trace(
                go.Bar(
                    name=f"{label} · {stat}",
                    x=list(part["who"]),
                    y=[None if math.isnan(v) else v for v in values],
                    text=["" if math.isnan(v) else _seconds(v) for v in values],
                    textposition="outside",
                    marker={
                        "color": ROUTE_COLORS.get(route, "#17becf"),
                        "pattern": {"shape": pattern},
                    },
                    customdata=[
                        f"{n:,} delivered message timed"
                        if n == 1
                        else f"{n:,} delivered messages timed"
                        for n in (int(v) for v in part["timed"])
                    ],
                    hovertemplate=f"<b>%{{x}}</b> · {label}<br>{stat}: %{{y:.1f}} s"
                    "<br>%{customdata}<extra></extra>",
                )
            )
    # the dashboard's slot layout (legend under the title, no fixed width), as every chart
    legend = {**_LAYOUT["legend"], "title": {"text": "Route · statistic", "side": "left"}}
    layout: dict[str, Any] = {
        **_LAYOUT,
        "title": _title(title, "Time to deliver (message-send to final status)"),
        "barmode": "group",
        "xaxis_title": "Sender Identity",
        "yaxis_title": "Seconds",
        "legend": legend,
    }
    fig.update_layout(**layout)
    fig.update_traces(cliponaxis=False)
    return _empty_note(fig, df, "No delivered messages match these filters")
