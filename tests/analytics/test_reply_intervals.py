"""Issue 15: reply and STOP rates carry Wilson 95 % intervals (2 STOPs of 38 drew a bare 5.3 %
bar), equal to statsmodels' on a grid that includes 0 and n."""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from mta_notebook import analytics
from tests.analytics.fixtures import Log, phone


def _log(n: int, replied: int, stops: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` messages of one identity; the first ``replied`` answer, ``stops`` of them STOP."""
    log = Log()
    phones = [phone(i) for i in range(n)]
    log.send("c-00000", 1, phones, sender="Acme")
    for i, p in enumerate(phones):
        log.deliver("c-00000", 1, p, "delivered", sender="Acme")
        if i < replied:
            log.reply(p, "STOP" if i < stops else "Thanks", at=30, external_id="c-00000")
    return log.frames()


@pytest.mark.parametrize(
    ("n", "replied", "stops"),
    [(1, 0, 0), (1, 1, 1), (5, 5, 0), (38, 2, 2), (38, 38, 38), (20, 7, 3)],
)
def test_reply_and_stop_intervals_agree_with_statsmodels(n: int, replied: int, stops: int) -> None:
    rep = analytics.reply_report(*_log(n, replied, stops))
    row = rep.iloc[0]
    assert (row["messages"], row["replied"], row["stops"]) == (n, replied, stops)
    for prefix, k in (("reply", replied), ("stop", stops)):
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert row[f"{prefix}_low"] == pytest.approx(low, abs=1e-12)
        assert row[f"{prefix}_high"] == pytest.approx(high, abs=1e-12)
        # the formula gives 1 - 1e-16 at p = 1, as statsmodels' does
        assert (
            row[f"{prefix}_low"] - 1e-12 <= row[f"{prefix}_rate"] <= row[f"{prefix}_high"] + 1e-12
        )


def test_reply_interval_columns_in_order() -> None:
    cols = list(analytics.reply_report(*_log(3, 1, 0)).columns)
    assert cols[-6:] == [
        "reply_rate",
        "reply_low",
        "reply_high",
        "stop_rate",
        "stop_low",
        "stop_high",
    ]
