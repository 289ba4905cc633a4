"""Issue 14, item 5: an identity named like a link shows as text in every chart, never a link.

plotly draws a subset of HTML in labels, legends and hover text (``<a href>``, ``<b>``,
``<br>``); the issue found 6 clickable links from one identity name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from mta_notebook.display import _charts as charts
from mta_notebook.display import plot_text

EVIL = '<a href="https://evil.example">Acme</a>'
# a name that would also be read as a hovertemplate placeholder if inlined in a template
TEMPLATE = "Deals %{x}<b>"
NAMES = [EVIL, TEMPLATE]


def _strings(obj: Any) -> Iterator[str]:
    """Every string in a figure's JSON: layout, trace names, axes values, customdata."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _strings(value)
    elif isinstance(obj, np.ndarray):
        yield from _strings(obj.tolist())


def _report() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sender_name": NAMES,
            "route": ["imessage", "sms_fallback"],
            "messages": [10, 5],
            "delivered": [9, 3],
            "failed": [1, 2],
            "unconfirmed": [0, 0],
            "pending": [0, 0],
            "delivery_rate": [0.9, 0.6],
            "ci_low": [0.6, 0.23],
            "ci_high": [0.98, 0.88],
            "share": [1.0, 1.0],
            "unmatched": [0, 0],
        }
    )


def _timeseries() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bucket": pd.to_datetime(["2026-01-01", "2026-01-01"], utc=True),
            "sender_name": NAMES,
            "route": ["imessage", "<b>route</b>"],
            "messages": [4, 2],
            "delivered": [3, 1],
            "failed": [1, 1],
            "pending": [0, 0],
            "delivery_rate": [0.75, 0.5],
        }
    )


def _reasons() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sender_name": NAMES,
            "route": ["sms_fallback", "imessage"],
            "outcome": ["failed", "unknown"],  # pending rows are not drawn: not a failure
            "status": ["undelivered", '<a href="x">s</a>'],
            "status_code": ["9", '<a href="x">9</a>'],
            "label": ["UNDELIVERED", '<a href="https://evil.example">unknown</a>'],
            "error": [None, None],
            "messages": [2, 1],
            "share": [0.5, 0.5],
        }
    )


def _replies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sender_name": NAMES,
            "route": ["imessage", "sms"],
            "messages": [10, 4],
            "replies": [3, 1],
            "replied": [2, 1],
            "stops": [1, 0],
            "reply_rate": [0.2, 0.25],
            "stop_rate": [0.1, 0.0],
        }
    )


CHARTS: dict[str, tuple[Callable[..., go.Figure], Callable[[], pd.DataFrame]]] = {
    "delivery_rates": (charts.delivery_rates, _report),
    "route_mix": (charts.route_mix, _report),
    "delivery_over_time": (charts.delivery_over_time, _timeseries),
    "failure_reasons": (charts.failure_reasons, _reasons),
    "replies": (charts.replies, _replies),
}


@pytest.mark.parametrize("name", list(CHARTS))
def test_no_link_reaches_any_label_legend_hover_or_title(name: str) -> None:
    build, data = CHARTS[name]
    fig = build(data(), title=f"{EVIL} report")
    texts = list(_strings(fig.to_plotly_json()))

    assert [t for t in texts if "<a" in t.lower()] == []
    assert [t for t in texts if any(n in t for n in NAMES)] == []
    # the names are there, escaped: plotly shows them as the text they are
    assert any(plot_text(EVIL) in t for t in texts)
    assert any(plot_text(TEMPLATE) in t for t in texts)
    assert fig.layout.title.text == plot_text(f"{EVIL} report")


@pytest.mark.parametrize("name", list(CHARTS))
def test_no_name_is_inlined_in_a_hover_template(name: str) -> None:
    """A name in a template would be parsed as one ("%{x}"): names come in through data."""
    build, data = CHARTS[name]
    templates = [t.hovertemplate or "" for t in build(data()).data]
    assert templates
    assert [t for t in templates if "Deals" in t] == []


def test_plain_names_and_labels_read_as_before() -> None:
    rep = _report().assign(sender_name=["Acme", None])
    fig = charts.delivery_rates(rep)
    assert [list(t.x) for t in fig.data] == [["Acme"], ["(no identity)"]]
    assert fig.layout.title.text.startswith("Delivery rate per identity")
