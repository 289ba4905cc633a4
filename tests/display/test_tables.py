"""readable(): the analytics tables as a marketer reads them (issue 15: 0.955556, NaN,
snake_case headers and an index in notebook 03's report table)."""

from __future__ import annotations

import math

import pandas as pd

import mta_notebook as mta
from mta_notebook import analytics
from mta_notebook.display import readable
from mta_notebook.display._tables import percent, readable_frame, readable_html
from tests.analytics.fixtures import scenario


def test_delivery_report_reads_as_percentages_with_counts_and_intervals() -> None:
    events, sends = scenario().frames()
    shown = readable_frame(analytics.delivery_report(events, sends))
    assert list(shown.columns) == [
        "Sender Identity",
        "Route",
        "Messages",
        "Delivered",
        "Failed",
        "Unconfirmed",
        "Pending",
        "Delivery rate",
        "Share",
        "Not in the ledger",
    ]
    rows = {(r["Sender Identity"], r["Route"]): r for r in shown.to_dict("records")}
    # 3 delivered of 4 settled, Wilson 95 % [30-95]; 5 of Acme's 8 messages
    assert rows["Acme", "iMessage"]["Delivery rate"] == "75.0 % (3/4) [30-95]"
    assert rows["Acme", "iMessage"]["Share"] == "62.5 % (5/8)"
    assert rows["Acme", "Route unknown"]["Delivery rate"] == "pending"  # nothing settled yet
    assert rows["(no identity)", "SMS (no identity)"]["Delivery rate"] == "100.0 % (2/2) [34-100]"
    cells = {str(v) for v in shown.to_numpy().ravel()}
    assert not {"nan", "NaN", "<NA>", "None", "sms_fallback"} & cells
    assert list(shown.index) == list(range(len(shown)))


def test_every_reducer_table_has_plain_headers_and_no_missing_values() -> None:
    events, sends = scenario().frames()
    for reducer in (
        analytics.fallback_summary,
        analytics.failure_reasons,
        analytics.reply_report,
        analytics.compare_routes,
    ):
        shown = readable_frame(reducer(events, sends))
        plain = [
            c for c in shown.columns if "_" not in c and (c[0].isupper() or c[:8] == "iMessage")
        ]
        assert plain == list(shown.columns), reducer.__name__
        cells = {str(v) for v in shown.to_numpy().ravel()}
        assert not {"nan", "NaN", "<NA>", "None"} & cells, reducer.__name__


def test_compare_routes_reads_with_points_and_significance() -> None:
    events, sends = scenario().frames()
    shown = readable_frame(analytics.compare_routes(events, sends)).iloc[0]
    assert shown["Reached by iMessage"] == "62.5 % (5/8) [31-86]"
    assert shown["Delivery rate by iMessage"] == "75.0 % (3/4) [30-95]"
    assert shown["Difference (iMessage − SMS fallback)"] == "+25.0 pts [-35.5, +70.4]"
    # 4 and 2 settled: the table does not say "no" where the verdict says "too few"
    assert shown["Significant at 95 %"] == "too few to say"
    assert "reach_low" not in readable_frame(analytics.compare_routes(events, sends))


def test_readable_is_public_and_shows_no_index() -> None:
    assert mta.readable is readable
    styler = readable(
        pd.DataFrame({"sender_name": [None], "stop_rate": [2 / 38], "stops": [2], "messages": [38]})
    )
    assert styler.data.to_dict("records") == [
        {
            "Sender Identity": "(no identity)",
            "STOP rate": "5.3 % (2/38)",
            "STOPs": "2",
            "Messages": "38",
        }
    ]
    html = styler.to_html()
    assert "5.3 % (2/38)" in html
    assert "row_heading" not in html


def test_percent_and_html_cells() -> None:
    assert percent(0.892683) == "89.3 %"
    assert percent(math.nan, 0, 0) == "–"
    html = readable_html(pd.DataFrame({"sender_name": ["<b>x</b>"], "messages": [1204]}))
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert '<td class="num">1,204</td>' in html
    assert readable_html(pd.DataFrame({"a": []})) == '<p class="note">No rows.</p>'
