"""Issue 15: the time-to-deliver chart: median and p90 per identity by route, value labels,
one legend, no NaN in the figure, an empty state."""

from __future__ import annotations

import json

from mta_notebook import analytics
from mta_notebook.display._latency_chart import time_to_deliver_chart
from tests.analytics.test_latency import latency_log


def test_bars_labels_and_legend() -> None:
    log, _ = latency_log()
    lat = analytics.time_to_deliver(*log.frames())
    fig = time_to_deliver_chart(lat)
    names = [t.name for t in fig.data]
    assert names == [
        "iMessage · median",
        "iMessage · p90",
        "SMS fallback · median",
        "SMS fallback · p90",
    ]
    assert all(t.text and all(x.endswith(" s") for x in t.text) for t in fig.data)
    assert fig.layout.barmode == "group"
    assert "NaN" not in json.dumps(fig.to_plotly_json(), default=str)


def test_empty_state_without_nan() -> None:
    lat = analytics.time_to_deliver(*latency_log()[0].frames()).assign(median_s=float("nan"))
    fig = time_to_deliver_chart(lat)
    assert not fig.data
    assert fig.layout.annotations[0].text == "No delivered messages match these filters"
