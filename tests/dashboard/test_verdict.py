"""The dashboard's top panel (compare_routes verdicts of the selection), its tiles' intervals and
its empty state (issue 15: tiles said "74 of 76 settled" with no interval and no verdict)."""

from __future__ import annotations

import re

import pytest

import mta_notebook as mta
from mta_notebook.analytics import OBSERVATIONAL, wilson_interval
from mta_notebook.dashboard import CHART_NAMES, Dashboard


@pytest.fixture(scope="module")
def dash() -> Dashboard:
    return Dashboard.from_files(
        mta.sample_path("webhooks_sample.jsonl"), mta.sample_path("sends_sample.csv")
    )


def _lines(html: str) -> list[str]:
    return re.findall(r"<li class='mta-verdict-line'[^>]*>(.*?)</li>", html)


def test_the_first_panel_is_the_verdict_per_identity(dash: Dashboard) -> None:
    dash.reset_filters()
    expected = mta.compare_routes(dash.events, dash.sends)
    assert _lines(dash.verdict.value) == list(expected["verdict"])
    assert len(_lines(dash.verdict.value)) == 2  # Acme, Acme Deals; plain SMS has no route pair
    assert OBSERVATIONAL in dash.verdict.value
    assert "significant" in dash.verdict.value
    assert dash.widget.children[1] is dash.verdict  # right under the heading


def test_the_verdict_follows_the_identity_filter(dash: Dashboard) -> None:
    dash.set_filters(identities=["Acme Deals"])
    lines = _lines(dash.verdict.value)
    assert len(lines) == 1
    assert lines[0].startswith("Acme Deals: ")
    dash.set_filters(route="imessage")
    assert "whatever the route filter" in dash.verdict.value
    dash.reset_filters()


def test_tiles_show_n_of_n_and_the_interval(dash: Dashboard) -> None:
    dash.reset_filters()
    t = dash.tiles
    low, high = wilson_interval(t["imessage_delivered"], t["imessage_settled"])
    note = dash.tile_widgets["imessage_rate"].value
    want = f"{t['imessage_delivered']} of {t['imessage_settled']} settled · 95 % interval"
    assert want in note
    assert f"{low * 100:.0f}-{high * 100:.0f} %" in note
    assert "95 % interval" in dash.tile_widgets["stop_rate"].value
    assert "95 % interval" in dash.tile_widgets["fallback_rate"].value


def test_nothing_selected_says_so_everywhere(dash: Dashboard) -> None:
    dash.set_filters(identities=[])
    empty = "No messages match these filters"
    assert empty in dash.status.value
    assert empty in dash.verdict.value
    for name in CHART_NAMES:
        fig = dash.chart_widgets[name].figure
        assert fig["data"] == [], name
        assert [a["text"] for a in fig["layout"]["annotations"]] == [empty], name
    dash.reset_filters()
    assert empty not in dash.status.value
