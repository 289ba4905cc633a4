"""A filter change redraws the charts in place and sends the browser only their JSON.

Issue 15: each change built five new plotly ``FigureWidget`` objects, each carrying the 4.96 MB
plotly.js bundle (about 25 MB to the browser per click, 10-12 s in JupyterLab), and the
"Route unknown" bars' NaN failed to serialize ("Out of range float values are not JSON
compliant"). The messages are counted where ipywidgets hands them to the comm.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import comm
import pandas as pd
import pytest

from mta_notebook.dashboard import CHART_NAMES, Dashboard
from tests.dashboard.test_dashboard import synthetic


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of every comm message the kernel would send, checked to be strict JSON."""
    sizes: list[int] = []

    def publish(self: Any, msg_type: str, data: Any = None, *a: Any, **k: Any) -> None:
        buffers = k.get("buffers") or []
        # allow_nan=False: what the kernel's channel accepts without a serialization warning
        sizes.append(len(json.dumps(data, allow_nan=False)) + sum(len(b) for b in buffers))

    monkeypatch.setattr(comm.DummyComm, "publish_msg", publish)
    return sizes


def test_a_filter_change_sends_chart_json_not_the_plotly_bundle(sent: list[int]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dash = Dashboard(*synthetic())
        built = sum(sent)
        widgets = dict(dash.chart_widgets)
        sent.clear()
        dash.set_filters(identities=["Acme Deals"], route="sms_fallback")
        dash.set_filters(identities=["Acme"])  # back through the "Route unknown" rows
    changed = sum(sent)
    print(f"\nbytes to the browser: build {built:,}, one filter change {changed:,}")
    # plotly.js goes to the page once (in the loader), not once per chart
    assert 4_000_000 < built < 6_000_000
    assert changed < 200_000
    assert dash.chart_widgets == widgets  # the same five widgets, redrawn in place
    for name in CHART_NAMES:
        json.dumps(widgets[name].get_state(), allow_nan=False)


def test_no_nan_reaches_a_chart_widget_with_route_unknown_rows(sent: list[int]) -> None:
    events, sends = synthetic()
    # a send whose message never got a status: its route is unknown and its rate undefined
    extra = sends.iloc[[0]].assign(message_id=999, phone="+13125559999", external_id="x-999")
    dash = Dashboard(events, pd.concat([sends, extra], ignore_index=True))  # `sent` checks JSON
    assert (dash.report["route"] == "unknown").any(), dash.report
    dash.set_filters(route="unknown")
    assert sent
    for widget in dash.chart_widgets.values():
        json.dumps(widget.figure, allow_nan=False)
