"""Issue 15: time to deliver per route, median and p90 from message-send to the final status,
checked against numpy on fixtures (and on Spark in test_analytics_spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mta_notebook import analytics
from tests.analytics.fixtures import T0, Log, phone


def latency_log() -> tuple[Log, dict[str, list[float]]]:
    """Acme by iMessage and by SMS fallback, with delays known per delivered message."""
    log = Log()
    delays: dict[str, list[float]] = {"imessage": [], "sms_fallback": []}
    phones = [phone(i) for i in range(14)]
    log.send("c-00000", 1, phones, sender="Acme")
    for i, p in enumerate(phones):
        route = "imessage" if i % 2 == 0 else "sms_fallback"
        sender = "Acme" if route == "imessage" else None
        at = float(i)
        delay = 1.5 + (i * 7.3) % 11  # uneven, so the quantiles interpolate
        log.message_send("c-00000", 1, p, at=at, sender=sender)
        log.status("c-00000", 1, p, "sending", at=at + 0.2, sender=sender)
        if i in (4, 5):  # failed: counted as final, not timed
            log.status("c-00000", 1, p, "delivery_failed", at=at + delay, sender=sender)
            continue
        if i == 13:  # still pending: not final
            continue
        log.status("c-00000", 1, p, "delivered", at=at + delay, sender=sender)
        # a late non-final event does not move the final time
        log.status("c-00000", 1, p, "sent", at=at + delay + 30, sender=sender)
        delays[route].append(delay)
    return log, delays


def test_median_and_p90_equal_numpy() -> None:
    log, delays = latency_log()
    lat = analytics.time_to_deliver(*log.frames()).set_index("route")
    for route, values in delays.items():
        row = lat.loc[route]
        assert row["delivered"] == row["timed"] == len(values)
        assert row["median_s"] == pytest.approx(np.median(values), abs=1e-9)
        assert row["p90_s"] == pytest.approx(np.quantile(values, 0.9), abs=1e-9)
    assert lat.loc["imessage", "final"] == 7  # six delivered, one failed
    assert lat.loc["sms_fallback", "final"] == 6  # five delivered, one failed; one pending


def test_ledger_sent_at_when_no_message_send_and_undated_final_not_timed() -> None:
    log = Log()
    log.send("c-00000", 1, [phone(0), phone(1)], sender="Acme", at=10)
    log.status("c-00000", 1, phone(0), "delivered", at=25, sender="Acme")
    # V1 body: no time of its own, so no delay can be measured
    log.status("c-00000", 1, phone(1), "delivered", at=40, sender="Acme", dated=False)
    lat = analytics.time_to_deliver(*log.frames())
    row = lat.iloc[0]
    assert (row["final"], row["delivered"], row["timed"]) == (2, 2, 1)
    assert row["median_s"] == pytest.approx(15.0)


def test_messages_and_window_give_the_same_table() -> None:
    log, _ = latency_log()
    ev, sd = log.frames()
    direct = analytics.time_to_deliver(ev, sd)
    pd.testing.assert_frame_equal(analytics.time_to_deliver(analytics.messages(ev, sd)), direct)
    narrowed = analytics.messages(ev, sd).where(routes="imessage")
    assert analytics.time_to_deliver(narrowed)["route"].tolist() == ["imessage"]
    later = analytics.time_to_deliver(ev, sd, start=T0 + pd.Timedelta("1h"))
    assert later.empty


def test_no_delivered_message_gives_nan_not_an_error() -> None:
    log = Log()
    log.send("c-00000", 1, [phone(0)], sender="Acme")
    log.status("c-00000", 1, phone(0), "delivery_failed", at=5, sender="Acme")
    row = analytics.time_to_deliver(*log.frames()).iloc[0]
    assert (row["final"], row["delivered"], row["timed"]) == (1, 0, 0)
    assert np.isnan(row["median_s"])
    assert np.isnan(row["p90_s"])
