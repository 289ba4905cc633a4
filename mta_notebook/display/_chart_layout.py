"""The charts' shared layout (sized for a dashboard slot), value labels, empty states and the
frame check: what every builder of :mod:`._charts` uses the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["nothing_selected"]

# Sized for a slot about 480 px wide (the dashboard's grid) and wider: no fixed width (the
# figure takes its container's), a horizontal legend between the title and the plot (drawn
# inside the figure at any width, where a right-hand legend took a third of a small slot and
# was cut), the title on its own line at the top left.
_LAYOUT: Final[dict[str, Any]] = {
    "template": "plotly_white",
    "autosize": True,
    "height": 440,
    "legend": {
        "orientation": "h",
        "x": 0,
        "xanchor": "left",
        # placed in the figure's own frame, under the title: plotly.js then widens the top
        # margin to fit however many rows the legend wraps to
        "yref": "container",
        "y": 0.93,
        "yanchor": "top",
        "traceorder": "normal",
        "title": {"text": "Route", "side": "left"},
    },
    "hoverlabel": {"namelength": -1},
    "margin": {"t": 48, "l": 64, "r": 20, "b": 56},
    "uniformtext": {"minsize": 9, "mode": "hide"},
}
_TITLE: Final[dict[str, Any]] = {
    "x": 0.01,
    "xanchor": "left",
    "y": 0.98,
    "yanchor": "top",
    "yref": "container",
    "font": {"size": 15},
}


def _pct_label(value: object) -> str:
    """A bar's value label: ``95.6 %``, or nothing where the rate is undefined."""
    return (
        ""
        if value is None or pd.isna(cast("Any", value))
        else f"{float(cast('Any', value)):.1%}".replace("%", " %")
    )


def _values(series: pd.Series[Any]) -> list[Any]:
    """A column as a list for plotly, NaN as ``None``: a NaN is not JSON (the browser's
    widget state would refuse it) and ``None`` is a gap in plotly.js."""
    return [None if pd.isna(v) else float(v) for v in series.astype(float)]


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """``what`` reads like ``charts.route_mix(delivery_report(...))``: the call that fits."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        from .._errors import ValidationError

        raise ValidationError(
            f"the frame lacks the columns {missing}; call it as {what} (see its docstring)"
        )


def _empty_note(
    fig: go.Figure, df: pd.DataFrame, text: str = "No messages in this report yet"
) -> go.Figure:
    if df.empty:
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        _say(fig, text)
    return fig


def _say(fig: go.Figure, text: str, *, y: float = 0.5, size: int = 15) -> None:
    """A grey sentence centred across the plot, ``y`` of the way up."""
    fig.add_annotation(
        text=text,
        font={"size": size, "color": "#57606a"},
        showarrow=False,
        xref="paper",
        yref="paper",
        x=0.5,
        y=y,
    )


def nothing_selected(fig: go.Figure, text: str) -> go.Figure:
    """``fig`` emptied to one centred ``text`` (the dashboard's "No messages match these
    filters"): no traces, no axes, no other note."""
    fig.data = []
    fig.layout.annotations = []
    fig.update_layout(showlegend=False)
    return _empty_note(fig, pd.DataFrame(), text)
