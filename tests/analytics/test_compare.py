"""compare_routes against statsmodels (Wilson and Newcombe intervals), on the sample and on
hand-made counts; the verdict in words."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

import mta_notebook as mta
from mta_notebook.analytics import OBSERVATIONAL, compare_routes, newcombe_interval


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    events = mta.read_webhook_log(mta.sample_path("webhooks_sample.jsonl"))
    return compare_routes(events, mta.load_sends(mta.sample_path("sends_sample.csv")))


def test_each_identity_row_agrees_with_statsmodels(sample: pd.DataFrame) -> None:
    assert list(sample["sender_name"]) == ["Acme", "Acme Deals"]
    for row in sample.itertuples():
        for prefix, (count, nobs) in {
            "reach": (row.imessage, row.messages),
            "imessage": (row.imessage_delivered, row.imessage_settled),
            "fallback": (row.fallback_delivered, row.fallback_settled),
        }.items():
            low, high = proportion_confint(count, nobs, alpha=0.05, method="wilson")
            assert getattr(row, f"{prefix}_low") == pytest.approx(low, abs=1e-9)
            assert getattr(row, f"{prefix}_high") == pytest.approx(high, abs=1e-9)
        low, high = confint_proportions_2indep(
            row.imessage_delivered,
            row.imessage_settled,
            row.fallback_delivered,
            row.fallback_settled,
            method="newcomb",
            compare="diff",
            alpha=0.05,
        )
        assert (row.difference_low, row.difference_high) == pytest.approx((low, high), abs=1e-9)
        assert row.significant == (low > 0 or high < 0)


def test_the_reports_counts_are_what_is_compared(sample: pd.DataFrame) -> None:
    events = mta.read_webhook_log(mta.sample_path("webhooks_sample.jsonl"))
    report = mta.delivery_report(events, mta.load_sends(mta.sample_path("sends_sample.csv")))
    acme = report[report["sender_name"] == "Acme"].set_index("route")
    row = sample.iloc[0]
    assert row["messages"] == acme["messages"].sum()
    assert row["imessage_delivered"] == acme.at["imessage", "delivered"]
    assert (
        row["fallback_settled"]
        == acme.at["sms_fallback", "delivered"] + acme.at["sms_fallback", "failed"]
    )


@pytest.mark.parametrize(
    ("counts", "significant"),
    [((43, 45, 38, 45), False), ((95, 100, 70, 100), True), ((60, 100, 90, 100), True)],
)
def test_newcombe_interval_and_significance(
    counts: tuple[int, int, int, int], significant: bool
) -> None:
    low, high = newcombe_interval(*counts)
    ref = confint_proportions_2indep(*counts, method="newcomb", compare="diff")
    assert (low, high) == pytest.approx(ref, abs=1e-9)
    assert (low > 0 or high < 0) == significant


def test_the_verdict_says_it_in_words(sample: pd.DataFrame) -> None:
    verdict = sample["verdict"].iloc[0]
    assert verdict.startswith("Acme: 47.5 % reached by iMessage (57/120). Delivered 94.7 % [")
    assert "by SMS fallback: +4.3 pts [" in verdict
    assert verdict.endswith("not significant at 95 %.")
    assert "opted in" in OBSERVATIONAL


def test_too_few_settled_says_so_and_empty_input_is_empty() -> None:
    assert math.isnan(newcombe_interval(0, 0, 3, 4)[0])
    empty = compare_routes(pd.DataFrame({"event": pd.Series(dtype="string")}))
    assert empty.empty
    assert "verdict" in empty.columns
