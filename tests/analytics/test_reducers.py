"""The reducers (delivery_report and friends) on contract-shaped inputs of every kind (DuckDB)."""

from __future__ import annotations

import math
from pathlib import Path

import ibis
import pandas as pd
import pytest

from mta_notebook import ValidationError
from mta_notebook.analytics import (
    REPORT_COLUMNS,
    delivery_report,
    delivery_timeseries,
    failure_reasons,
    fallback_summary,
    message_table,
    reply_report,
    wilson_bounds,
    wilson_interval,
)
from tests.analytics.fixtures import (
    COUNTS,
    T0,
    Log,
    phone,
    rows,
)


def test_report_counts_every_rule(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, sends = frames
    rep = delivery_report(events, sends)
    assert list(rep.columns) == ["sender_name", "route", *REPORT_COLUMNS]
    assert rows(rep, ["sender_name", "route", *COUNTS]) == [
        ("Acme", "imessage", 5, 3, 1, 1, 0, 0),
        ("Acme", "sms_fallback", 2, 1, 1, 0, 0, 0),
        ("Acme", "unknown", 1, 0, 0, 0, 1, 0),
        ("Acme Deals", "imessage", 4, 2, 1, 0, 1, 1),
        ("Acme Deals", "sms_fallback", 2, 1, 0, 0, 1, 0),
        (None, "sms", 2, 2, 0, 0, 0, 0),
        (None, "unknown", 1, 0, 1, 0, 0, 1),
    ]
    assert rep["sender_name"].isna().tolist() == [False] * 5 + [True] * 2
    shares = rep["share"].tolist()
    assert shares == pytest.approx([5 / 8, 2 / 8, 1 / 8, 4 / 6, 2 / 6, 2 / 3, 1 / 3])
    # unconfirmed is in neither side of the rate: 3 delivered of 3 + 1 settled
    assert rep["delivery_rate"].tolist()[:2] == pytest.approx([3 / 4, 1 / 2])
    assert rep.dtypes["messages"] == "int64"
    assert rep.dtypes["unconfirmed"] == "int64"
    assert rep.dtypes["delivery_rate"] == "float64"


def test_zero_settled_gives_nan_rate(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rep = delivery_report(*frames)
    pending_only = rep[(rep.sender_name == "Acme") & (rep.route == "unknown")].iloc[0]
    assert math.isnan(pending_only.delivery_rate)
    assert math.isnan(pending_only.ci_low)
    assert math.isnan(pending_only.ci_high)


def _wilson_closed_form(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) in its other algebraic form, written independently of the package."""
    p = k / n
    root = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    return ((2 * k + z * z - root) / (2 * (n + z * z)), (2 * k + z * z + root) / (2 * (n + z * z)))


def test_wilson_interval_matches_published_values(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    # statsmodels is not installed here: Newcombe (1998), Stat Med 17:857, Table I, method 3
    # (the Wilson score interval), and the textbook 8 of 10 instead
    published = {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605)}
    published |= {(0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718), (8, 10): (0.4902, 0.9433)}
    for (k, n), bounds in published.items():
        low, high = wilson_interval(k, n)
        assert (round(low, 4), round(high, 4)) == bounds, (k, n)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    assert wilson_interval(5, 5)[1] == pytest.approx(1.0)
    for k, n in [(0, 1), (3, 7), (99, 100), (512, 1000)]:
        assert wilson_interval(k, n) == pytest.approx(_wilson_closed_form(k, n), rel=1e-12)
        assert wilson_bounds(k / n, float(n)) == pytest.approx(_wilson_closed_form(k, n))
    rep = delivery_report(*frames)
    for row in rep.itertuples():
        settled = row.delivered + row.failed
        if settled:
            low, high = _wilson_closed_form(row.delivered, settled)
            assert row.ci_low == pytest.approx(low, rel=1e-12, abs=1e-15)
            assert row.ci_high == pytest.approx(high, rel=1e-12)
            assert row.ci_low <= row.delivery_rate <= row.ci_high


def test_by_and_window(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, sends = frames
    per_identity = delivery_report(events, sends, by="sender_name")
    assert per_identity["messages"].tolist() == [8, 6, 3]
    assert per_identity["share"].tolist() == [1.0, 1.0, 1.0]
    per_route = delivery_report(events, sends, by=["route"])
    assert per_route["route"].tolist() == ["imessage", "sms_fallback", "sms", "unknown"]
    assert per_route["share"].sum() == pytest.approx(1.0)
    per_basis = delivery_report(events, sends, by=["route_basis"]).set_index("route_basis")
    assert per_basis["messages"].to_dict() == {
        "delivery-status": 2,
        "ledger": 7,
        "message-reply": 1,
        "message-send": 6,
        "none": 1,
    }
    per_status = delivery_report(events, sends, by=["status"]).set_index("status")
    assert per_status.loc["delivery_rejected", "failed"] == 1
    assert per_status["messages"].sum() == 17
    per_outcome = delivery_report(events, sends, by="outcome").set_index("outcome")
    assert per_outcome["messages"].to_dict() == {
        "delivered": 9,
        "failed": 4,
        "pending": 2,
        "unconfirmed": 1,
        "unknown": 1,
    }
    # the second campaign only (sent one hour after T0)
    later = delivery_report(events, sends, start=T0 + pd.Timedelta("30min"), end="2026-11-01 13:30")
    assert set(later["sender_name"].dropna()) == {"Acme Deals"}
    assert later["messages"].sum() == 5  # the unmatched one was sent after 13:30
    with pytest.raises(ValidationError, match="not a message column"):
        delivery_report(events, sends, by=("sender",))
    with pytest.raises(ValidationError, match="start"):
        delivery_report(events, sends, start="not a date")


def test_without_ledger_everything_is_unmatched(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, _ = frames
    rep = delivery_report(events)
    assert rep["unmatched"].sum() == rep["messages"].sum()
    assert set(rep["route"]) == {"imessage", "unknown"}


def test_inputs_of_every_kind_agree(
    frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    events, sends = frames
    expected = delivery_report(events, sends)

    class EventLogLike:
        def __init__(self, df: pd.DataFrame) -> None:
            self.df = df

    pd.testing.assert_frame_equal(delivery_report(EventLogLike(events), sends), expected)
    ev_path, sd_path = tmp_path / "events.parquet", tmp_path / "sends.parquet"
    events.drop(columns=["tags", "raw"]).to_parquet(ev_path)
    sends.to_parquet(sd_path)
    pd.testing.assert_frame_equal(delivery_report(ev_path, str(sd_path)), expected)
    con = ibis.duckdb.connect()
    ev_t = con.read_parquet(ev_path)
    # a real table in the user's own connection (create_table from memory trips an ibis bug)
    con.raw_sql(f"CREATE TABLE sends AS SELECT * FROM read_parquet('{sd_path}')")
    sd_t = con.table("sends")
    pd.testing.assert_frame_equal(delivery_report(ev_t, sd_t), expected)
    pd.testing.assert_frame_equal(delivery_report(events, sends, engine=con), expected)
    # an older Parquet file, without outcome and dated: the same report
    old = tmp_path / "old.parquet"
    events.drop(columns=["tags", "raw", "outcome", "dated"]).to_parquet(old)
    pd.testing.assert_frame_equal(delivery_report(old, sd_path), expected)
    with pytest.raises(ValidationError, match="no such Parquet"):
        delivery_report(tmp_path / "missing.parquet")
    with pytest.raises(ValidationError, match="engine"):
        delivery_report(events, sends, engine="oracle")
    with pytest.raises(ValidationError, match="DataFrame"):
        delivery_report([1, 2, 3])


def test_status_given_as_strings_and_odd_dtypes(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, sends = frames
    odd = events.copy()
    odd["status_code"] = odd["status_code"].astype(object)
    odd["message_id"] = odd["message_id"].astype(object)
    odd["dated"] = odd["dated"].astype(object)
    odd["occurred_at"] = odd["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    pd.testing.assert_frame_equal(delivery_report(odd, sends), delivery_report(events, sends))
    pd.testing.assert_frame_equal(message_table(odd, sends), message_table(events, sends))


def test_empty_inputs() -> None:
    ev, sd = Log().frames()
    rep = delivery_report(ev, sd)
    assert rep.empty
    assert list(rep.columns) == ["sender_name", "route", *REPORT_COLUMNS]
    assert delivery_timeseries(ev, sd).empty
    assert reply_report(ev, sd).empty
    assert fallback_summary(ev, sd).empty
    assert failure_reasons(ev, sd).empty
    assert message_table(ev, sd).empty


def test_timeseries_buckets(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ts = delivery_timeseries(*frames, freq="1h")
    assert ts["bucket"].dt.tz is not None
    assert list(ts.columns) == [
        "bucket",
        "sender_name",
        "route",
        *COUNTS,
        "delivery_rate",
        "ci_low",
        "ci_high",
    ]
    by_bucket = ts.groupby("bucket")["messages"].sum()
    assert by_bucket.to_dict() == {
        T0: 10,  # the plain SMS send was at T0 in the ledger, whatever its events say
        T0 + pd.Timedelta("1h"): 5,
        T0 + pd.Timedelta("2h"): 2,  # unmatched: their first event
    }
    report = delivery_report(*frames)
    assert ts[COUNTS].sum().to_dict() == report[COUNTS].sum().to_dict()
    assert delivery_timeseries(*frames, freq="2h")["bucket"].nunique() == 2
    with pytest.raises(ValidationError, match="freq"):
        delivery_timeseries(*frames, freq="often")


def test_failure_reasons(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    fr = failure_reasons(*frames)
    assert list(fr.columns) == [
        "sender_name",
        "route",
        "outcome",
        "status",
        "status_code",
        "label",
        "error",
        "messages",
        "share",
    ]
    cols = ["sender_name", "route", "outcome", "status_code", "messages"]
    assert rows(fr, cols) == [
        ("Acme", "imessage", "failed", "6", 1),
        ("Acme", "imessage", "unconfirmed", "7", 1),
        ("Acme", "sms_fallback", "failed", "8", 1),
        ("Acme", "unknown", "pending", None, 1),
        ("Acme Deals", "imessage", "failed", "9", 1),
        ("Acme Deals", "imessage", "pending", "3", 1),
        ("Acme Deals", "sms_fallback", "unknown", "42", 1),
        (None, "sms", "not-sent", None, 1),
        (None, "unknown", "failed", "9", 1),
    ]
    assert fr["label"].tolist() == [
        "DELIVERY_FAILED (sent to the carrier, not delivered)",
        "DELIVERY_UNCONFIRMED (no answer from the carrier)",
        "DELIVERY_REJECTED (blocked by the carrier)",
        "no status yet",
        "UNDELIVERED (handset off or out of coverage)",
        "SENT (sent to the carrier, not yet confirmed)",
        "status 42 (not in the documented table)",
        "not sent: the /send call failed",
        "UNDELIVERED (handset off or out of coverage)",
    ]
    assert "delivered" not in set(fr["status"])
    sendfail = fr[fr.outcome == "not-sent"].iloc[0]
    assert sendfail.error == "HTTP 400: bad number"
    assert pd.isna(sendfail.status)
    acme_im = fr[(fr.sender_name == "Acme") & (fr.route == "imessage")].iloc[0]
    assert acme_im.share == pytest.approx(1 / 5)


def test_reply_report_attribution() -> None:
    log = Log()
    a, b = phone(1), phone(2)
    log.send("r-1", 1, [a, b], sender="Acme", at=0)
    log.deliver("r-1", 1, a, "delivered", sender="Acme")
    log.deliver("r-1", 1, b, "delivered")
    log.send("r-2", 2, [a], sender="Acme Deals", at=600)
    log.deliver("r-2", 2, a, "delivered", at=600, sender="Acme Deals")
    # a's reply after the second message goes to the second (latest) one; twice = once
    log.reply(a, "thanks", at=700, sender="Acme Deals")
    log.reply(a, "thanks", at=700, sender="Acme Deals")
    log.reply(a, " Stop ", at=800, sender="Acme Deals")
    # b replies after 25 hours: outside the 24 h window
    log.reply(b, "hello?", at=25 * 3600)
    # a number we never messaged
    log.reply(phone(99), "STOP", at=900)
    rr = reply_report(*log.frames())
    cols = ["sender_name", "route", "messages", "replies", "replied", "stops"]
    assert rows(rr, cols) == [
        ("Acme", "imessage", 1, 0, 0, 0),
        ("Acme", "sms_fallback", 1, 0, 0, 0),
        ("Acme Deals", "imessage", 1, 2, 1, 1),
    ]
    assert rr["stop_rate"].tolist() == [0.0, 0.0, 1.0]
    wide = reply_report(*log.frames(), window="48h")
    assert wide.loc[wide.route == "sms_fallback", "replied"].item() == 1
    per_msg = message_table(*log.frames(), reply_window="24h").set_index(["external_id", "phone"])
    assert per_msg.loc[("r-2", a), ["replies", "stops"]].tolist() == [2, 1]
    assert per_msg.loc[("r-1", a), ["replies", "stops"]].tolist() == [0, 0]
    with pytest.raises(ValidationError, match="window"):
        reply_report(*log.frames(), window="soon")


# Replies as people write them, and whether each is a STOP (contract.keywords: upper case,
# everything but A-Z dropped, then one of the opt-out words).
STOP_REPLIES = {
    "STOP": True,
    "Stop.": True,
    " stop ": True,
    "stop!!": True,
    "Stop all": True,
    "opt-out": True,
    "Unsubscribe me": False,
    "Don't stop": False,
    "Stopping by later": False,
    "Thanks": False,
    "": False,
}


def test_reply_stop_words_are_normalised() -> None:
    log = Log()
    for i, text in enumerate(STOP_REPLIES):
        log.send("k-1", 1, [phone(i)], sender="Acme")
        log.deliver("k-1", 1, phone(i), "delivered", sender="Acme")
        log.reply(phone(i), text, at=100, sender="Acme")
    msgs = message_table(*log.frames(), reply_window="24h")
    stops = dict(zip(msgs["phone"], msgs["stops"], strict=True))
    expected = {phone(i): int(stop) for i, stop in enumerate(STOP_REPLIES.values())}
    assert stops == expected
    rr = reply_report(*log.frames())
    assert rr["stops"].item() == sum(STOP_REPLIES.values())


def test_fallback_summary(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    fs = fallback_summary(*frames)
    assert fs["sender_name"].tolist() == ["Acme", "Acme Deals"]
    acme = fs.iloc[0]
    assert (acme.recipients, acme.messages, acme.imessage, acme.sms_fallback) == (8, 8, 5, 2)
    assert acme.unknown_route == 1
    assert acme.imessage_share == pytest.approx(5 / 7)
    assert acme.fallback_share == pytest.approx(2 / 7)
    assert acme.recipients_imessage == 5
