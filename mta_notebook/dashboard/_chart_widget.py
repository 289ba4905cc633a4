"""The dashboard's charts in the browser: plain figure JSON to one small widget per chart.

plotly's own ``FigureWidget`` (plotly 6+, an anywidget) carries the whole plotly.js bundle,
about 5 MB, in every widget's state: five charts cost 25 MB when the page opens, and a filter
change that replaced them cost 25 MB again (10-12 s in JupyterLab, measured for issue 15).
Here plotly.js goes to the page once, in one hidden loader widget, and each chart is a widget
built once whose ``figure`` holds the figure as JSON (NaN made ``null``: a NaN in widget state
is not JSON, and the kernel warns "Message serialization failed"). A filter change sends
only the five figures' JSON, and plotly.js redraws each in place (``Plotly.react``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["chart_widget", "draw", "figure_json", "plotly_loader", "show"]

_HERE = Path(__file__).parent


def figure_json(fig: go.Figure) -> dict[str, Any]:
    """``fig`` as strict JSON (a dict): arrays as lists, NaN and infinities as ``None``.

    plotly's encoder turns NaN into ``null`` (what plotly.js reads as a gap); the width is
    dropped so the chart takes its slot's.
    """
    import plotly.io as pio

    text = pio.to_json(fig, validate=False, engine="json")
    out: dict[str, Any] = json.loads(text)
    out.get("layout", {}).pop("width", None)
    json.dumps(out, allow_nan=False)  # raises here, not in the kernel, if a NaN got through
    return out


@cache
def _classes() -> tuple[type[Any], type[Any]]:
    import anywidget
    import traitlets

    loader_esm = _loader_esm()

    class _PlotlyLoader(anywidget.AnyWidget):
        """Evaluates plotly.js once in the page: it sets ``window.Plotly``."""

        _esm = loader_esm

    class _Chart(anywidget.AnyWidget):
        """One chart: ``figure`` (plotly JSON), redrawn when ``revision`` moves."""

        _esm = _HERE / "_chart.js"
        figure = traitlets.Dict().tag(sync=True)
        revision = traitlets.Int(0).tag(sync=True)

    return _PlotlyLoader, _Chart


@cache
def _loader_esm() -> str:
    import plotly

    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    # plotly.min.js is a UMD file that ends with ``window.Plotly = Plotly``: run as a module it
    # only needs a ``module`` to fill in; render() draws nothing (the widget stays hidden).
    return (
        "const module = { exports: {} };\n"
        + bundle.read_text(encoding="utf-8")
        + "\nexport default { render({ el }) { el.style.display = 'none'; } };\n"
    )


def plotly_loader() -> Any:
    """The hidden widget that brings plotly.js to the page (one per dashboard)."""
    return _classes()[0]()


def chart_widget(fig: go.Figure, *, name: str) -> Any:
    """A chart widget showing ``fig``; update it with :func:`show`."""
    widget = _classes()[1](figure=figure_json(fig))
    widget.add_class("mta-chart-slot")
    widget.add_class(f"mta-chart-{name}")
    return widget


def show(widget: Any, fig: go.Figure) -> None:
    """Redraw ``widget`` with ``fig``: one message with the new figure JSON."""
    with widget.hold_sync():
        widget.figure = figure_json(fig)
        widget.revision += 1


def draw(widgets: dict[str, Any], name: str, fig: go.Figure) -> None:
    """Show ``fig`` in ``widgets[name]``: built the first time, redrawn in place after."""
    for trace in fig.data:
        # datetime64 arrays would reach the browser as integers (nanoseconds): send ISO
        # strings, which plotly.js reads as dates.
        for attr in ("x", "y"):
            values = getattr(trace, attr, None)
            if isinstance(values, np.ndarray) and values.dtype.kind == "M":
                trace[attr] = np.datetime_as_string(values, unit="ms")
    # Each chart's widget is built once and keeps its slot: a change sends the new figure
    # JSON and the browser redraws it in place (plotly.js comes once, in the loader).
    widget = widgets.get(name)
    if widget is None:
        widgets[name] = chart_widget(fig, name=name)
    else:
        show(widget, fig)
