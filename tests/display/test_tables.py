"""readable(): the analytics tables as a marketer reads them (issue 15: 0.955556, NaN,
snake_case headers and an index in notebook 03's report table)."""

from __future__ import annotations

import math

import pandas as pd

import mta_notebook as mta
from mta_notebook import analytics
from mta_notebook.display import readable
from mta_notebook.display._tables import readable_frame, readable_html
from mta_notebook.display._words import percent
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


def test_time_to_deliver_reads_in_seconds_and_minutes() -> None:
    from mta_notebook.display._tables import seconds_text

    df = pd.DataFrame(
        {
            "sender_name": ["Acme", "Acme"],
            "route": ["imessage", "sms_fallback"],
            "final": [40, 3],
            "delivered": [38, 2],
            "timed": [38, 0],
            "median_s": [12.3, math.nan],
            "p90_s": [204.0, math.nan],
        }
    )
    shown = readable_frame(df)
    assert list(shown.columns) == [
        "Sender Identity",
        "Route",
        "With a final status",
        "Delivered",
        "Delivered and timed",
        "Median time to deliver",
        "90 % delivered within",
    ]
    assert shown.iloc[0, -2:].tolist() == ["12 s", "3.4 min"]
    assert shown.iloc[1, -2:].tolist() == ["–", "–"]  # nothing timed: no NaN
    assert [seconds_text(v) for v in (3.44, 59.6, 7200)] == ["3.4 s", "60 s", "2.0 h"]


def test_cost_report_reads_in_credits_and_money() -> None:
    events, sends = scenario().frames()
    sends["credits"] = 2
    rep = analytics.cost_report(events, sends, price_per_credit=0.0123)
    shown = readable_frame(rep)
    assert list(shown.columns)[2:] == [
        "Messages",
        "Delivered",
        "Without planned credits",
        "Credits",
        "Credits per message",
        "Credits per delivered message",
        "Credits as SMS",
        "Credits saved by iMessage",
        "Cost",
        "Cost per delivered message",
        "Saved by iMessage",
    ]
    first = shown.iloc[0]
    raw = rep.iloc[0]
    assert first["Credits"] == f"{int(raw['credits']):,}"  # whole credits
    assert first["Credits per message"] == "2.00"
    assert first["Cost"] == f"{raw['cost']:.2f}"  # money: two decimals
    assert first["Cost per delivered message"] == f"{raw['cost_per_delivered']:.2f}"
    cells = {str(v) for v in shown.to_numpy().ravel()}
    assert not {"nan", "NaN", "<NA>", "None"} & cells


def test_identity_comparison_reads_with_both_rates_and_the_difference() -> None:
    events, sends = scenario().frames()
    rep = analytics.compare_identities(events, sends)
    shown = readable_frame(rep.drop(columns=["verdict"])).iloc[0]
    assert shown["Compared with"] == "Acme"
    assert shown["Messages compared"] == "All messages"
    assert shown["Delivery rate"] == "75.0 % (3/4) [30-95]"
    assert shown["Delivery rate (compared with)"] == "66.7 % (4/6) [30-90]"
    assert shown["Difference (identity − compared with)"].endswith("pts [-42.4, +50.3]")
    assert shown["Significant at 95 %"] == "too few to say"  # 4 and 6 settled
    assert shown["p-value"] == f"{rep['p_value'].iloc[0]:.3f}"
    assert "rate_low" not in readable_frame(rep)
    assert "Settled" not in readable_frame(rep)  # folded into the rate's (n/N)


def test_reach_reads_as_a_share_of_the_audience_with_n_of_n() -> None:
    t = pd.Timestamp("2026-03-01 10:00", tz="UTC")
    ev = pd.DataFrame(
        {
            "event": ["number-opt-in"] * 3,
            "phone": ["+13125550001", "+13125550002", "+13125550003"],
            "sender_name": ["Acme"] * 3,
            "occurred_at": [t, t, t + pd.Timedelta("2D")],
        }
    )
    audience = [f"+1312555000{i}" for i in range(1, 9)]
    reach = mta.optin_reach(ev, audience)
    summary = readable_frame(reach.summary.drop(columns=["label"]))
    assert summary.iloc[0]["Share"] == "37.5 % (3/8) [14-69]"
    assert summary.iloc[0]["Can get iMessage"] == "3"
    daily = readable_frame(reach.daily, labels={"share": "Share by then"})
    assert daily["Day"].tolist() == ["2026-03-01", "2026-03-02", "2026-03-03"]  # no 00:00
    assert daily["New opt-ins"].tolist() == ["2", "0", "1"]
    assert daily["Share by then"].tolist()[0] == "25.0 % (2/8) [7-59]"
