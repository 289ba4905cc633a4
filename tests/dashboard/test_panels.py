"""Issue 15: the dashboard's "Time to deliver" chart, cost tiles and "Identities compared" panel,
each from the reducers for the selection; randomized only when an experiment covers what is
shown; plurals right."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

import mta_notebook as mta
from mta_notebook import analytics
from mta_notebook.dashboard import Dashboard
from mta_notebook.dashboard._loaders import load_experiments
from mta_notebook.display._latency_chart import time_to_deliver_chart
from tests.dashboard.test_dashboard import synthetic


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _priced() -> tuple[pd.DataFrame, pd.DataFrame]:
    events, sends = synthetic()
    return events, sends.assign(credits=2)  # every recipient planned at 2 SMS credits


def test_time_to_deliver_chart_is_the_reducers_for_the_selection() -> None:
    events, sends = synthetic()
    dash = Dashboard(events, sends)
    dash.set_filters(identities=["Acme"])
    want = analytics.time_to_deliver(events, sends)
    want = want[want["sender_name"] == "Acme"].reset_index(drop=True)
    pd.testing.assert_frame_equal(dash.latency_table(), want)
    fig = dash.figures["time_to_deliver"]
    assert fig.to_plotly_json()["data"] == time_to_deliver_chart(want).to_plotly_json()["data"]
    assert {t.name for t in fig.data} == {
        "iMessage · median",
        "iMessage · p90",
        "SMS fallback · median",
        "SMS fallback · p90",
    }
    # the slot layout every chart has: legend under the title, no fixed width
    assert fig.layout.legend.orientation == "h"
    assert fig.layout.width is None


def test_cost_tiles_from_cost_report() -> None:
    events, sends = _priced()
    dash = Dashboard(events, sends)
    cost = analytics.cost_report(events, sends)
    assert dash.cost["credits"] == int(cost["credits"].sum()) == 2 * 21
    delivered = int(cost["delivered"].sum())
    assert dash.cost["per_delivered"] == 42 / delivered
    fb = cost[cost["route"] == "sms_fallback"]
    assert dash.cost["by_route"]["sms_fallback"] == fb["credits"].sum() / fb["delivered"].sum()
    tiles = {n: _text(dash.tile_widgets[n].value) for n in ("credits", "credits_per_delivered")}
    assert tiles["credits"] == "Credits spent 42 by 21 messages"
    assert "SMS fallback 3.20" in tiles["credits_per_delivered"]  # 16 credits, 5 delivered
    assert "counted at its SMS credits" in _text(dash.tile_widgets["imessage_saved"].value)


def test_cost_tiles_without_credits_in_the_ledger_say_so() -> None:
    dash = Dashboard(*synthetic())  # a ledger without a credits column
    text = _text(dash.tile_widgets["credits"].value)
    assert text == "Credits spent – the ledger has no credits for these messages"
    assert "0.00" not in _text(dash.tile_widgets["credits_per_delivered"].value)


def test_identities_panel_is_observational_without_an_experiment() -> None:
    dash = Dashboard(*synthetic())
    html = dash.identities_panel.value
    assert "data-randomized='false'" in html
    assert "Observational" in _text(html)
    assert list(dash.identity_comparison["scope"]) == ["overall", "imessage", "sms_fallback"]
    lines = re.findall(r"<li[^>]*>(.*?)</li>", html)
    assert len(lines) == 3
    # 5 and 10 settled: too few to say (compare_identities' rule), and said so
    assert "too few settled messages to compare" in _text(lines[0])
    # what the design allows is said once, under the lines, not in each
    assert not [line for line in lines if "Observational" in line]
    assert _text(html).count("Observational") == 1
    assert _text(lines[1]).startswith("Acme Deals vs Acme . By iMessage: too few settled")


def test_identities_panel_names_routes_by_their_labels() -> None:
    dash = Dashboard.from_files(
        mta.sample_path("webhooks_sample.jsonl"), mta.sample_path("sends_sample.csv")
    )
    lines = [_text(li) for li in re.findall(r"<li[^>]*>(.*?)</li>", dash.identities_panel.value)]
    # "By iMessage" as everywhere, not the "By imessage" of a capitalised sentence
    assert lines[1].startswith("Acme Deals vs Acme . By iMessage: delivered Acme Deals 96.6 %")
    assert lines[2].startswith("Acme Deals vs Acme . By SMS fallback: delivered")


def test_identities_panel_is_randomized_when_an_experiment_covers_the_campaigns() -> None:
    experiments = pd.DataFrame(
        {"experiment_id": ["exp-1", "exp-1"], "arm": ["Acme", "Acme Deals"],
         "campaign_id": ["c1", "c2"]}
    )  # fmt: skip
    events, sends = synthetic()
    dash = Dashboard(events, sends, experiments=experiments)
    html = dash.identities_panel.value
    assert "data-randomized='true'" in html
    assert "exp-1" in html
    want = analytics.compare_identities(events, sends, campaigns=["c1", "c2"])
    pd.testing.assert_frame_equal(dash.identity_comparison, want)
    # one identity left: nothing to compare (and no stale verdict)
    dash.set_filters(identities=["Acme"])
    assert "Fewer than two Sender Identities" in _text(dash.identities_panel.value)
    assert "Randomized" not in dash.identities_panel.value
    # an experiment that covers other campaigns leaves the comparison observational
    other = experiments.assign(campaign_id=["x1", "x2"])
    dash = Dashboard(events, sends, experiments=other)
    assert "data-randomized='false'" in dash.identities_panel.value


def test_load_experiments_from_a_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    people = pd.DataFrame({"phone": [f"+1312555{i:04d}" for i in range(100, 120)]})
    mta.plan_experiment(
        people, "Hi!", split={"Acme": 0.5, "Acme Deals": 0.5}, seed=3, journal=journal
    )
    rows = load_experiments(journal)
    assert rows is not None
    assert list(rows["arm"]) == ["Acme", "Acme Deals"]
    assert load_experiments(mta.sample_path("sends_sample.csv")) is None


def test_one_message_reads_in_the_singular() -> None:
    events, sends = synthetic()
    dash = Dashboard(events, sends)
    dash.set_filters(identities=["Acme"])
    one = dash.selected_messages.iloc[[0]]
    keep = sends["phone"].isin(one["phone"])
    single = Dashboard(events[events["phone"].isin(one["phone"])], sends[keep])
    note = _text(single.tile_widgets["stop_rate"].value)
    assert "of 1 message answered STOP" in note, note
    assert "1 messages" not in _text(single.widget.children[0].value + note)
