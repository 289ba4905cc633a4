"""Issue 15: a fair test between identities; the numbers against statsmodels (Wilson,
Newcombe, the two-proportion test) on a grid including 0 and n, and the verdict's design."""

from __future__ import annotations

import itertools
import math
import warnings

import pandas as pd
import pytest
from statsmodels.stats import proportion as sm

from mta_notebook import analytics
from mta_notebook._errors import ValidationError
from tests.analytics.fixtures import Log, phone


def split_log(a: tuple[int, int], b: tuple[int, int], *, other: bool = False) -> Log:
    """Campaign ``c-a`` via Acme and ``c-b`` via Acme Deals: (delivered, settled) each, iMessage;
    with ``other``, a third campaign of Acme that is not part of the split."""
    log = Log()
    k = 0
    for campaign, name, (delivered, settled) in (("c-a", "Acme", a), ("c-b", "Acme Deals", b)):
        for i in range(settled):
            p = phone(k)
            k += 1
            log.send(f"{campaign}-00000", k, [p], sender=name, campaign=campaign)
            final = "delivered" if i < delivered else "delivery_failed"
            log.status(f"{campaign}-00000", k, p, final, at=5, sender=name)
    if other:
        p = phone(k)
        log.send("c-x-00000", 999, [p], sender="Acme", campaign="c-x")
        log.status("c-x-00000", 999, p, "delivery_failed", at=5, sender="Acme")
    return log


GRID = [(0, 12), (12, 12), (5, 12)]


@pytest.mark.parametrize(("a", "b"), list(itertools.product(GRID, [(0, 15), (15, 15), (9, 15)])))
def test_numbers_agree_with_statsmodels(a: tuple[int, int], b: tuple[int, int]) -> None:
    row = analytics.compare_identities(*split_log(a, b).frames(), campaigns=["c-a", "c-b"]).iloc[0]
    assert (row["sender_name"], row["reference"], row["scope"]) == ("Acme Deals", "Acme", "overall")
    assert (row["delivered"], row["settled"]) == b
    assert (row["reference_delivered"], row["reference_settled"]) == a
    for prefix, (k, n) in (("rate", b), ("reference", a)):
        low, high = sm.proportion_confint(k, n, method="wilson")
        assert row[f"{prefix}_low"] == pytest.approx(low, abs=1e-9)
        assert row[f"{prefix}_high"] == pytest.approx(high, abs=1e-9)
    low, high = sm.confint_proportions_2indep(
        b[0], b[1], a[0], a[1], method="newcomb", compare="diff"
    )
    assert row["difference"] == pytest.approx(b[0] / b[1] - a[0] / a[1])
    assert row["difference_low"] == pytest.approx(low, abs=1e-9)
    assert row["difference_high"] == pytest.approx(high, abs=1e-9)
    assert bool(row["significant"]) == (low > 0 or high < 0)
    with warnings.catch_warnings():  # statsmodels divides by 0 at rates 0 and 1 (its ratios)
        warnings.simplefilter("ignore", RuntimeWarning)
        test = sm.test_proportions_2indep(
            b[0], b[1], a[0], a[1], method="score", compare="diff", correction=False
        )
    if math.isnan(test.pvalue):  # both all delivered or all failed: nothing to test
        assert row["p_value"] == 1.0
    else:
        assert row["p_value"] == pytest.approx(test.pvalue, abs=1e-9)


def test_campaigns_restrict_to_the_split_and_say_randomized() -> None:
    ev, sd = split_log((19, 20), (12, 20), other=True).frames()
    fair = analytics.compare_identities(ev, sd, campaigns=["c-a", "c-b"]).set_index("scope")
    assert fair.loc["overall", "reference_settled"] == 20  # c-x left out
    assert bool(fair.loc["overall", "randomized"])
    assert "Randomized" in fair.loc["overall", "verdict"]
    assert "Per route not randomized" in fair.loc["imessage", "verdict"]
    seen = analytics.compare_identities(ev, sd).set_index("scope")
    assert seen.loc["overall", "reference_settled"] == 21
    assert not bool(seen.loc["overall", "randomized"])
    assert "Observational" in seen.loc["overall", "verdict"]
    assert "(12/20)" in fair.loc["overall", "verdict"]
    # the finding is the verdict without the design sentence; routes keep their labels' case
    assert fair.loc["imessage", "finding"].startswith("By iMessage: delivered")
    assert fair.loc["overall", "verdict"].startswith(fair.loc["overall", "finding"])
    assert "Randomized" not in fair.loc["overall", "finding"]


def test_too_few_says_so_and_reference_is_checked() -> None:
    ev, sd = split_log((3, 4), (1, 5)).frames()
    out = analytics.compare_identities(ev, sd)
    assert "too few settled messages" in out["verdict"].iloc[0]
    swapped = analytics.compare_identities(ev, sd, reference="Acme Deals").iloc[0]
    assert (swapped["sender_name"], swapped["reference"]) == ("Acme", "Acme Deals")
    with pytest.raises(
        ValidationError,
        match="reference=",
    ):
        analytics.compare_identities(ev, sd, reference="Nobody")
    empty = analytics.compare_identities(pd.DataFrame({"event": []}))
    assert empty.empty
