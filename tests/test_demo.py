"""The README's first command: the whole demo on the embedded sandbox."""

from __future__ import annotations

import io
import re

import pytest

from mta_notebook import analytics
from mta_notebook._demo import (
    IDENTITIES,
    OPT_INS,
    OWN_NUMBER,
    PRICE_PER_CREDIT,
    DemoResult,
    run_demo,
)
from mta_notebook.display._tables import seconds_text


def _section(text: str, heading: str) -> str:
    start = text.index(f"<h2>{heading}</h2>")
    end = text.find("<h2>", start + 1)
    return text[start : end if end > 0 else None]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    """One run for the module: the demo takes seconds."""
    out = io.StringIO()
    result = run_demo(tmp_path_factory.mktemp("demo") / "out", stream=out)
    return result, out.getvalue()


def test_demo_end_to_end(demo: tuple[DemoResult, str]) -> None:
    result, text = demo
    report = result.report
    events, sends = result.events, result.sends
    assert set(IDENTITIES) <= set(report["sender_name"])
    assert {"imessage", "sms_fallback"} <= set(report["route"])
    # every usable subscriber was sent exactly one message, and each one is in the report: the
    # test message to our own number is not (it has events, no ledger row)
    assert report["messages"].sum() == len(sends) == len(result.audience)
    assert (sends["state"] == "sent").all()
    assert result.test_recipients == (OWN_NUMBER,)
    assert OWN_NUMBER in set(events["phone"])
    assert OWN_NUMBER not in set(sends["phone"])
    assert report["unmatched"].sum() == 0
    html = result.report_path.read_text(encoding="utf-8")
    assert "plotly" in html.lower()
    assert "Delivery per Sender Identity and route" in text
    assert "sandbox-key" not in text + html
    # short readable lines, no raw dicts
    assert not re.search(r"\{'\w+': ", text), text
    assert "1 test send is left out of every figure" in html
    assert f"{len(sends)} messages" in html


def test_demo_report_has_the_answers_with_the_reducers_numbers(
    demo: tuple[DemoResult, str],
) -> None:
    result, _ = demo
    events, sends = result.events, result.sends
    html = result.report_path.read_text(encoding="utf-8")
    assert result.report_path.with_suffix(".csv").exists()
    # the split is seeded and journaled: the identities are compared as a randomized test
    assert list(result.experiments["arm"]) == list(IDENTITIES)
    campaigns = list(result.experiments["campaign_id"])
    assert set(sends["campaign_id"]) == set(campaigns)
    identities = _section(html, "Identities compared")
    assert "Randomized experiment" in identities
    overall = analytics.compare_identities(events, sends, campaigns=campaigns).iloc[0]
    assert overall["settled"] + overall["reference_settled"] <= len(sends)
    assert (
        f"{100 * overall['rate']:.1f} % ({overall['delivered']}/{overall['settled']})" in identities
    )
    # time to deliver: the table's medians are the reducer's
    latency = analytics.time_to_deliver(events, sends)
    section = _section(html, "Time to deliver")
    for median in latency.loc[latency["timed"] > 0, "median_s"]:
        assert f">{seconds_text(median)}<" in section
    # cost: credits spent and per delivered message, at the demo's price
    cost = analytics.cost_report(events, sends, price_per_credit=PRICE_PER_CREDIT)
    spent, delivered = int(cost["credits"].sum()), int(cost["delivered"].sum())
    assert spent == int(sends["credits"].sum())  # the test message costs nothing here
    section = _section(html, "Cost")
    assert f"Credits spent: {spent:,}, {spent / delivered:,.2f} per delivered message" in section
    assert f"{spent * PRICE_PER_CREDIT:,.2f}" in section
    # reach: the opt-ins made before the send, per identity, of the whole audience
    reach = analytics.optin_reach(events, list(result.audience)).summary
    section = _section(html, "Reach")
    for row in reach.to_dict("records"):
        n, total = row["reachable"], row["audience"]
        assert f"({n}/{total})" in section
        assert row["opted_in"] == OPT_INS[row["sender_name"]]
