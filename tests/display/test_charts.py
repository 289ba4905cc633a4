"""Chart builders: the right traces, one colour per route, error bars, titles and labels."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import pytest

from mta_notebook import ValidationError, charts, contract
from mta_notebook.analytics import (
    delivery_report,
    delivery_timeseries,
    failure_reasons,
    reply_report,
    wilson_interval,
)
from tests.analytics.fixtures import scenario

LABEL_TO_ROUTE = {label: route for route, label in charts.ROUTE_LABELS.items()}


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return scenario().frames()


@pytest.fixture(scope="module")
def report(frames: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return delivery_report(*frames)


def _route_colours(fig: go.Figure) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for trace in fig.data:
        label = trace.name.split(" · ")[-1]
        colour = trace.marker.color if trace.type == "bar" else trace.line.color
        seen.setdefault(LABEL_TO_ROUTE[label], set()).add(colour)
    return seen


def _assert_fixed_colours(fig: go.Figure) -> None:
    for route, colours in _route_colours(fig).items():
        assert colours == {charts.ROUTE_COLORS[route]}, route


def test_route_colours_are_distinct_and_complete() -> None:
    assert set(charts.ROUTE_COLORS) == set(contract.routes.MESSAGE_ROUTES)
    assert len(set(charts.ROUTE_COLORS.values())) == 4
    # one label table for every display: the contract's, not a copy
    assert charts.ROUTE_LABELS is contract.routes.ROUTE_LABELS


def test_delivery_rates(report: pd.DataFrame) -> None:
    fig = charts.delivery_rates(report)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == [
        "iMessage",
        "SMS fallback",
        "SMS (no identity)",
        "Route unknown",
    ]
    _assert_fixed_colours(fig)
    im = fig.data[0]
    assert list(im.x) == ["Acme", "Acme Deals"]
    assert fig.layout.barmode == "group"
    # error bars are the Wilson interval around the rate
    acme = report[(report.sender_name == "Acme") & (report.route == "imessage")].iloc[0]
    assert im.error_y.visible is not False
    assert im.error_y.type == "data"
    assert im.error_y.array[0] == pytest.approx(acme.ci_high - acme.delivery_rate)
    assert im.error_y.arrayminus[0] == pytest.approx(acme.delivery_rate - acme.ci_low)
    # the SMS row without identity is labelled, not NaN
    assert list(fig.data[2].x) == [charts.NO_IDENTITY]
    # pending-only row: no bar height, no error bar, no label; None, not NaN (a NaN is not
    # JSON: the widget state carrying it failed to serialize in the browser's kernel channel)
    unknown = fig.data[3]
    acme_unknown = list(unknown.x).index("Acme")
    assert unknown.y[acme_unknown] is None
    assert unknown.error_y.array[acme_unknown] is None
    assert unknown.text[acme_unknown] == ""
    json.dumps(fig.to_plotly_json()["data"][3]["y"], allow_nan=False)
    # value labels on the bars, read as "95.6 %"
    assert im.text[0] == f"{acme.delivery_rate:.1%}".replace("%", " %")
    assert "iMessage vs SMS fallback" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "Sender Identity"
    assert "settled" in fig.layout.yaxis.title.text
    assert fig.layout.yaxis.tickformat == ".0%"
    assert "95% CI" in im.hovertemplate
    assert "settled" in im.hovertemplate
    # unconfirmed is shown apart from failed and from pending: Acme iMessage has one of each
    assert "Unconfirmed %{customdata[6]} · pending %{customdata[3]}" in im.hovertemplate
    acme_im = im.customdata[0]
    assert (acme_im[1], acme_im[2], acme_im[6], acme_im[3]) == (3, 4, 1, 0)


def test_route_mix(report: pd.DataFrame) -> None:
    fig = charts.route_mix(report)
    _assert_fixed_colours(fig)
    assert fig.layout.barmode == "stack"
    im = fig.data[0]
    assert im.orientation == "h"
    assert dict(zip(im.y, im.x, strict=True)) == {"Acme": 5, "Acme Deals": 4}
    assert fig.layout.xaxis.title.text == "Messages"
    assert "of the identity" in im.hovertemplate


def test_delivery_over_time(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ts = delivery_timeseries(*frames, freq="1h")
    fig = charts.delivery_over_time(ts)
    _assert_fixed_colours(fig)
    names = [t.name for t in fig.data]
    assert "Acme · iMessage" in names
    assert "Acme Deals · SMS fallback" in names
    dashes = {t.name: t.line.dash for t in fig.data}
    assert dashes["Acme · iMessage"] != dashes["Acme Deals · iMessage"]
    assert fig.layout.xaxis.title.text == "Sent (UTC)"
    assert all(t.mode == "lines+markers" for t in fig.data)


def test_failure_reasons_chart(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    fig = charts.failure_reasons(failure_reasons(*frames))
    _assert_fixed_colours(fig)
    assert fig.layout.xaxis.dtick == 1  # a few messages: whole-number ticks, not 0.5 / 1.5
    rows = {y: t.name for t in fig.data for y in t.y}
    # the documented names on the axis, their meaning in the hover; unconfirmed is not a failure
    assert rows["Acme — DELIVERY_FAILED"] == "iMessage"
    assert rows["Acme — DELIVERY_REJECTED"] == "SMS fallback"
    assert "Acme — DELIVERY_UNCONFIRMED" in rows
    assert "Acme Deals — status 42" in rows
    assert "(no identity) — not sent: the /send call failed" in rows
    custom = {y: c for t in fig.data for y, c in zip(t.y, t.customdata, strict=True)}
    assert custom["Acme — DELIVERY_UNCONFIRMED"][1] == "unconfirmed"
    assert custom["Acme — DELIVERY_FAILED"][1] == "failed"
    assert (
        custom["Acme — DELIVERY_FAILED"][4]
        == "DELIVERY_FAILED (sent to the carrier, not delivered)"
    )
    # pending is kept apart from failures: no bar, a count under the title
    assert not any("no status yet" in row for row in rows)
    notes = [a.text for a in fig.layout.annotations]
    assert any("pending (no final status yet) not shown" in n for n in notes), notes
    # value labels: the count on each bar
    assert all(list(t.text) == list(t.x) for t in fig.data)
    # listed by identity, then in the report's order: failed before unconfirmed
    order = list(fig.layout.yaxis.categoryarray)[::-1]
    acme = [row for row in order if row.startswith("Acme — ")]
    assert acme.index("Acme — DELIVERY_FAILED") < acme.index("Acme — DELIVERY_UNCONFIRMED")
    assert order[-1].startswith("(no identity)")  # named identities first
    assert fig.layout.legend.title.text == "Route"
    assert fig.layout.xaxis.title.text == "Messages"
    with pytest.raises(ValidationError, match="failure_reasons"):
        charts.failure_reasons(pd.DataFrame({"sender_name": ["Acme"], "status": ["x"]}))


def test_replies_chart() -> None:
    rr = reply_report(*scenario().frames())
    fig = charts.replies(rr)
    _assert_fixed_colours(fig)
    # each route twice (reply rate, STOP rate), its legend shown once
    im = [t for t in fig.data if t.name == "iMessage"]
    assert len(im) == 2
    assert [t.showlegend for t in im] == [True, False]
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == (
        "Reply rate",
        "STOP rate",
    )
    # every rate with its Wilson 95 % interval (2 STOPs of 38 is not a sure 5.3 %)
    for t in fig.data:
        for (_, k, n, low, high, _words), y in zip(t.customdata, t.y, strict=True):
            assert (low, high) == pytest.approx(wilson_interval(k, n))
            assert low <= y <= high
        assert "95% CI" in t.hovertemplate


def test_charts_fit_their_slot_with_one_legend_inside() -> None:
    """No fixed width (a 700 px chart in a 480 px slot lost its legend): the slot decides; one
    horizontal legend under the title, in the figure's own frame; titles short enough."""
    rep = delivery_report(*scenario().frames())
    figs = [
        charts.delivery_rates(rep),
        charts.route_mix(rep),
        charts.replies(reply_report(*scenario().frames())),
    ]
    for fig in figs:
        layout = fig.layout
        assert layout.width is None
        assert layout.autosize is True
        assert layout.legend.orientation == "h"
        assert layout.legend.yref == "container"
        assert 0 < layout.legend.y < 1
        assert len(layout.title.text) <= 52  # about 440 px at 15 px: fits a 480 px slot
        assert sum(1 for t in fig.data if t.showlegend is not False) == len(
            {t.name for t in fig.data}
        )


def test_charts_never_show(monkeypatch: pytest.MonkeyPatch, report: pd.DataFrame) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a chart builder called show()")

    monkeypatch.setattr(go.Figure, "show", boom)
    charts.delivery_rates(report)
    charts.route_mix(report)


def test_empty_and_wrong_frames() -> None:
    empty = delivery_report(*scenario().frames()).iloc[0:0]
    fig = charts.delivery_rates(empty)
    assert len(fig.data) == 0
    assert "No messages" in fig.layout.annotations[0].text
    with pytest.raises(ValidationError, match="delivery_report"):
        charts.delivery_rates(pd.DataFrame({"x": [1]}))


def test_delivery_over_time_single_bucket_gets_a_readable_axis() -> None:
    t = pd.Timestamp("2026-11-27 06:00", tz="UTC")
    ts = pd.DataFrame(
        {
            "bucket": [t, t],
            "sender_name": ["Acme", "Acme"],
            "route": ["imessage", "sms_fallback"],
            "messages": [4, 6],
            "delivered": [3, 5],
            "failed": [1, 1],
            "unconfirmed": [0, 0],
            "pending": [0, 0],
            "delivery_rate": [0.75, 5 / 6],
        }
    )
    fig = charts.delivery_over_time(ts)
    lo, hi = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert hi - lo == pd.Timedelta(hours=2)
    # a lone dot per series is no trend: the chart says so
    assert any("one time bucket" in a.text for a in fig.layout.annotations)
    two = pd.concat([ts, ts.assign(bucket=t + pd.Timedelta(hours=1))])
    assert not charts.delivery_over_time(two).layout.annotations


def test_hover_counts_read_in_the_singular_for_one_message() -> None:
    # issue 15: "1 messages" where people read; the hover texts take their count words from
    # the data, so one message reads "1 message" and more read "N messages"
    one = pd.DataFrame({"sender_name": ["Acme", "Acme"], "route": ["imessage", "sms_fallback"],
                        "messages": [1, 3], "share": [0.25, 0.75]})  # fmt: skip
    fig = charts.route_mix(one)
    words = [row[2] for trace in fig.data for row in trace.customdata]
    assert words == ["1 message", "3 messages"]
    assert all("%{x} messages" not in t.hovertemplate for t in fig.data)
    rr = pd.DataFrame({"sender_name": ["Acme"], "route": ["imessage"], "messages": [1],
                       "replies": [1], "replied": [1], "stops": [0], "reply_rate": [1.0],
                       "stop_rate": [0.0]})  # fmt: skip
    fig = charts.replies(rr)
    assert [t.customdata[0][5] for t in fig.data] == ["1 message", "1 message"]
    assert all("messages replied" not in t.hovertemplate for t in fig.data)
