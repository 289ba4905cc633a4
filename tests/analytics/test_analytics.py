"""delivery_report and friends on contract-shaped DataFrames (DuckDB, in-process)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from mta_notebook.contract import statuses
from tests.analytics.fixtures import (
    DOCUMENTED,
    T0,
    Log,
    every_code_frames,
    evidence_log,
    phone,
    scenario,
)

COUNTS = ["messages", "delivered", "failed", "unconfirmed", "pending", "unmatched"]


def _rows(report: pd.DataFrame, cols: list[str]) -> list[tuple[Any, ...]]:
    out = []
    for rec in report[cols].itertuples(index=False):
        out.append(tuple(None if (isinstance(v, float) and math.isnan(v)) else v for v in rec))
    return out


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return scenario().frames()


def test_report_counts_every_rule(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, sends = frames
    rep = delivery_report(events, sends)
    assert list(rep.columns) == ["sender_name", "route", *REPORT_COLUMNS]
    assert _rows(rep, ["sender_name", "route", *COUNTS]) == [
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


def test_message_level_status_rules(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table = message_table(*frames)
    msgs = table.set_index("phone")
    assert list(table.columns) == [
        "campaign_id",
        "external_id",
        "message_id",
        "phone",
        "sender_name",
        "route",
        "route_basis",
        "status",
        "status_code",
        "outcome",
        "unmatched",
        "sent_at",
    ]
    # duplicates count once
    assert msgs.index.is_unique
    # the final status arrived before "sent": still final
    assert msgs.loc[phone(11), ["status", "status_code", "outcome"]].tolist() == [
        "undelivered",
        "9",
        "failed",
    ]
    # a later sent / unmapped code never replaces delivered
    assert msgs.loc[phone(12), "status"] == "delivered"
    # an unmapped code only: kept as is, outcome unknown (may still change)
    assert msgs.loc[phone(13), ["status", "outcome"]].tolist() == ["42", "unknown"]
    # undated V1 bodies: SENT outranks QUEUED whatever order they arrived in
    assert msgs.loc[phone(14), ["status", "outcome"]].tolist() == ["sent", "pending"]
    # DELIVERY_UNCONFIRMED is final and neither delivered nor failed
    assert msgs.loc[phone(7), "outcome"] == "unconfirmed"
    # joined by message_id when the payload has no externalId: matched, ledger identity
    assert not msgs.loc[phone(21), "unmatched"]
    assert msgs.loc[phone(21), "external_id"] == "c3-00000"
    # a failed send without events is not a message
    assert phone(22) not in msgs.index
    # no event yet
    assert msgs.loc[phone(6), ["outcome", "route", "route_basis"]].tolist() == [
        "pending",
        "unknown",
        "ledger",
    ]
    assert msgs.loc[phone(6), "status"] is None or pd.isna(msgs.loc[phone(6), "status"])
    assert msgs.loc[phone(6), "sent_at"] == T0
    assert bool(msgs.loc[phone(90), "unmatched"])
    assert msgs.loc[phone(91), ["route", "route_basis"]].tolist() == ["unknown", "none"]
    assert set(msgs["outcome"]) <= set(statuses.OUTCOMES)


@pytest.mark.parametrize("drop", [[], ["outcome"], ["outcome", "dated"]])
def test_every_documented_status_code(drop: list[str]) -> None:
    events, sends = every_code_frames()
    events = events.drop(columns=drop)  # without them: derived from status, in SQL
    msgs = message_table(events, sends).set_index("phone")
    for code, (status, outcome) in DOCUMENTED.items():
        row = msgs.loc[phone(code)]
        assert (row.status, row.status_code, row.outcome) == (status, str(code), outcome), code
    rep = delivery_report(events, sends)
    assert _rows(rep, ["route", *COUNTS]) == [("sms_fallback", 14, 1, 8, 1, 3 + 1, 0)]
    assert rep["delivery_rate"].item() == pytest.approx(1 / 9)
    fr = failure_reasons(events, sends).set_index("status_code")
    assert "4" not in fr.index  # delivered is no failure
    assert set(fr.index) == {str(c) for c in DOCUMENTED} - {"4"}
    assert fr.loc["8", "label"] == "DELIVERY_REJECTED (blocked by the carrier)"
    assert fr.loc["42", "label"] == "status 42 (not in the documented table)"
    assert fr.loc["42", "outcome"] == "unknown"
    for code, (status, outcome) in DOCUMENTED.items():
        if code != 4 and code != 42:
            assert fr.loc[str(code), "label"].startswith(status.upper() + " ("), code
            assert fr.loc[str(code), "outcome"] == outcome
    # failed first, then unconfirmed, pending, unknown
    assert list(dict.fromkeys(fr["outcome"])) == ["failed", "unconfirmed", "pending", "unknown"]


def test_outcome_derived_from_deliveries_filter_names() -> None:
    """Older frames carry the /deliveries names; the contract maps them too."""
    names = {"sent": "pending", "delivered": "delivered", "undelivered": "failed"}
    names |= {"undeliverable": "failed", "rejected": "failed", "unknown": "unknown"}
    log = Log()
    for i, name in enumerate(names):
        log.status("f-1", 1, phone(i), name, at=1)
    events, _ = log.frames()
    got = message_table(events.drop(columns=["outcome", "dated", "is_final"]))
    assert dict(zip(got["status"], got["outcome"], strict=True)) == names


def test_ties_go_to_the_higher_precedence() -> None:
    log = Log()
    log.send("e-1", 1, [phone(1), phone(2), phone(3)], sender="Acme")
    log.status("e-1", 1, phone(1), "sent", at=5)
    log.status("e-1", 1, phone(1), "delivered", at=5)
    log.status("e-1", 1, phone(2), "42", at=5)
    log.status("e-1", 1, phone(2), "sent", at=5)
    log.status("e-1", 1, phone(3), "sending", at=5)
    log.status("e-1", 1, phone(3), "queued", at=5)
    msgs = message_table(*log.frames()).set_index("phone")
    assert msgs.loc[phone(1), "status"] == "delivered"
    assert msgs.loc[phone(2), "status"] == "sent"
    assert msgs.loc[phone(3), "status"] == "sending"


def test_undated_events_rank_by_precedence_below_dated_ones() -> None:
    log = Log()
    ps = [phone(i) for i in range(1, 6)]
    log.send("u-1", 1, ps, sender="Acme")
    # all undated, arriving QUEUED last: SENT decides
    for at, step in ((10, "sent"), (20, "sending"), (30, "queued")):
        log.status("u-1", 1, ps[0], step, at=at, dated=False)
    # a dated SENDING beats an undated SENT that arrived later
    log.status("u-1", 1, ps[1], "sending", at=5)
    log.status("u-1", 1, ps[1], "sent", at=50, dated=False)
    # both final and undated: DELIVERED outranks DELIVERY_FAILED, which arrived later
    log.status("u-1", 1, ps[2], "delivered", at=10, dated=False)
    log.status("u-1", 1, ps[2], "delivery_failed", at=20, dated=False)
    # a final undated status is not overwritten by a later dated non-final one
    log.status("u-1", 1, ps[3], "delivery_unconfirmed", at=10, dated=False)
    log.status("u-1", 1, ps[3], "sent", at=90)
    # a message-send alone gives no status
    log.message_send("u-1", 1, ps[4], at=3, dated=False)
    events, sends = log.frames()
    expected = {
        ps[0]: ("sent", "pending"),
        ps[1]: ("sending", "pending"),
        ps[2]: ("delivered", "delivered"),
        ps[3]: ("delivery_unconfirmed", "unconfirmed"),
        ps[4]: (None, "pending"),
    }
    for seed in range(3):  # arrival order never matters
        shuffled = events.sample(frac=1.0, random_state=seed)
        msgs = message_table(shuffled, sends).set_index("phone")
        got = {p: (None if pd.isna(r.status) else r.status, r.outcome) for p, r in msgs.iterrows()}
        assert got == expected


def test_route_basis_for_each_kind_of_evidence() -> None:
    msgs = message_table(*evidence_log().frames()).set_index("phone")
    expected = {
        phone(1): ("imessage", "message-send"),  # senderName on message-send
        phone(2): ("imessage", "delivery-status"),
        phone(3): ("imessage", "message-reply"),  # a reply naming the message by external_id
        phone(4): ("imessage", "message-reply"),  # ... or by message_id and phone
        phone(5): ("sms_fallback", "ledger"),  # identity asked, no event of it carries one
        phone(6): ("sms_fallback", "delivery-status"),  # an explicit route beats senderName
        phone(7): ("imessage", "delivery-status"),
        phone(8): ("unknown", "ledger"),  # identity asked, nothing heard yet
        phone(9): ("imessage", "message-reply"),
        phone(20): ("sms", "ledger"),
        phone(21): ("sms", "ledger"),
        phone(30): ("unknown", "none"),
        phone(31): ("imessage", "delivery-status"),
    }
    got = {p: (r.route, r.route_basis) for p, r in msgs.iterrows()}
    assert got == expected
    assert msgs.loc[phone(31), "sender_name"] == "Acme Deals"
    # a reply alone: the message's route is known, its status is not
    assert msgs.loc[phone(9), "outcome"] == "pending"
    assert pd.isna(msgs.loc[phone(9), "status"])


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
    assert _rows(fr, cols) == [
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
    assert _rows(rr, cols) == [
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


# ------------------------------------------------------------------ randomised against a model

STATUSES = [*(s.key for s in statuses.DELIVERY_STATUSES), "undeliverable", "rejected", "42"]


def _deciding(evs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The rule in plain Python: finals first, dated above undated, then time, precedence."""
    if not evs:
        return None

    def rank(e: dict[str, Any]) -> tuple[Any, ...]:
        final = e["outcome"] in statuses.FINAL_OUTCOMES
        when = e["occurred_at"] if e["dated"] else pd.Timestamp(0, tz="UTC")
        prec = -1 if e["event"] == "message-send" else statuses.precedence(e["status"])
        return (final, e["dated"], when, prec)

    return max(evs, key=rank)


def _model(log: Log) -> dict[tuple[Any, str], list[int]]:
    """identity x route -> [messages, delivered, failed, unconfirmed, pending]."""
    ledger = {(s["external_id"], s["phone"]): s for s in log.sends}
    per_msg: dict[tuple[str, str], list[dict[str, Any]]] = {}
    replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in log.events:
        into = replies if e["event"] == "message-reply" else per_msg
        into.setdefault((e["external_id"], e["phone"]), []).append(e)
    out: dict[tuple[Any, str], list[int]] = {}
    for key, row in ledger.items():
        evs = per_msg.get(key, [])
        if not evs and row["state"] != "sent":
            continue
        named = evs + replies.get(key, [])
        sender = row["sender_name"]
        if any(e["sender_name"] for e in named):
            route = "imessage"
        elif not named:
            route = "unknown" if sender else "sms"
        else:
            route = "sms_fallback" if sender else "sms"
        decider = _deciding(evs)
        outcome = decider["outcome"] if decider else "pending"
        counts = out.setdefault((sender, route), [0, 0, 0, 0, 0])
        counts[0] += 1
        column = {"delivered": 1, "failed": 2, "unconfirmed": 3}.get(outcome, 4)
        counts[column] += 1
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_random_logs_match_the_model(seed: int) -> None:
    rnd = random.Random(seed)
    log = Log()
    for c in range(rnd.randint(1, 4)):
        sender = rnd.choice(["Acme", "Acme Deals", None])
        phones = [phone(rnd.randint(0, 40)) for _ in range(rnd.randint(1, 8))]
        phones = list(dict.fromkeys(phones))
        ext = f"c{c}-00000"
        log.send(ext, 100 + c, phones, sender=sender, state=rnd.choice(["sent"] * 4 + ["unknown"]))
        for p in phones:
            imsg = sender is not None and rnd.random() < 0.5
            dated = rnd.random() < 0.7  # one payload version per message
            if rnd.random() < 0.3:
                log.message_send(ext, 100 + c, p, at=0.5, sender=sender if imsg else None)
            for _ in range(rnd.randint(0, 4)):
                at = rnd.choice([1.0, 2.0, 2.0, 3.5, 10.0])
                name = rnd.choice(STATUSES)
                log.status(
                    ext, 100 + c, p, name, at=at, sender=sender if imsg else None, dated=dated
                )
            if sender is not None and rnd.random() < 0.2:
                log.reply(p, "Yes", at=20.0, sender=sender, external_id=ext)
    rnd.shuffle(log.events)
    log.events += rnd.sample(log.events, k=min(3, len(log.events)))  # duplicates
    rep = delivery_report(*log.frames())
    got = {
        (None if pd.isna(r.sender_name) else r.sender_name, r.route): [
            r.messages,
            r.delivered,
            r.failed,
            r.unconfirmed,
            r.pending,
        ]
        for r in rep.itertuples()
    }
    assert got == _model(log)


# ------------------------------------------------------------- exactness against the sandbox


def _expected_from_ground_truth(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Count the sandbox's own ledger the way the report must: identity x route."""
    truth = pd.DataFrame(rows)
    truth["route"] = [
        "imessage" if r == "imessage" else ("sms_fallback" if isinstance(s, str) and s else "sms")
        for r, s in zip(truth["route"], truth["sender_name"], strict=True)
    ]
    outcome = truth["status"].map(lambda s: statuses.resolve_status(s).outcome or "pending")
    truth["delivered"] = outcome == "delivered"
    truth["failed"] = outcome == "failed"
    truth["unconfirmed"] = outcome == "unconfirmed"
    truth["pending"] = outcome.isin(["pending", "unknown"])
    grouped = truth.groupby(["sender_name", "route"], dropna=False, as_index=False).agg(
        messages=("phone", "size"),
        delivered=("delivered", "sum"),
        failed=("failed", "sum"),
        unconfirmed=("unconfirmed", "sum"),
        pending=("pending", "sum"),
    )
    return grouped


def test_report_equals_sandbox_ground_truth(tmp_path: Path) -> None:
    """Campaigns through several identities, opt-in mixes, duplicate and reordered webhooks."""
    import secrets

    from mta_notebook import Client, sandbox
    from mta_notebook.campaigns import Journal, plan_campaign
    from mta_notebook.events import read_webhook_log, register_webhooks, running_receiver

    hook_secret = secrets.token_hex(16)
    phones = [f"+1312555{i:04d}" for i in range(2000, 2160)]
    campaigns = [
        ({"sender_name": "Acme"}, phones[0:60]),
        ({"sender_name": "Acme Deals"}, phones[50:100]),  # overlaps Acme's list
        ({"sender_name": "Legacy Brand"}, phones[100:120]),  # disabled identity: all fall back
        ({"longcode_id": 100}, phones[120:160]),  # no identity: plain SMS
    ]
    with (
        sandbox.running(seed=11, time_scale=200.0) as sb,
        running_receiver(secret=hook_secret, out_dir=tmp_path / "hooks") as rx,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
        Journal(tmp_path / "journal.sqlite") as journal,
    ):
        register_webhooks(client, rx.url, hook_secret)
        # opt-in mix on top of the seeded one: some explicitly in, some unable to get iMessage
        for p in phones[0:20] + phones[50:60]:
            sb.set_capability(p, True)
            sb.opt_in(p, "Acme")
        for p in phones[60:75]:
            sb.set_capability(p, True)
            sb.opt_in(p, "Acme Deals")
        for p in phones[20:30] + phones[100:110]:
            sb.set_capability(p, False)
        sb.set_faults(webhook_duplicate=0.3, webhook_reorder=0.5)
        for ident, recipients in campaigns:
            plan = plan_campaign(
                pd.DataFrame({"phone": recipients}),
                "Winter sale: 20% off today. Reply STOP to opt out.",
                chunk_size=15,
                journal=journal,
                **ident,
                send_window=False,  # deliver now, whatever the hour (no quiet hours)
            )
            plan.send(client, confirm=True, progress=False)
        sb.settle(timeout=240)  # a shared CI machine can be slow to POST 700 webhooks
        truth = sb.ground_truth()
        sends = journal.sends()

    events = read_webhook_log(tmp_path / "hooks", secret=hook_secret)
    assert len(truth) == 60 + 50 + 20 + 40  # one row per recipient per send
    # the faults fired: webhooks arrived twice (the loader sets the copies aside) and out of order
    assert len(events.rejected) > 0
    assert set(events.rejected["reason"]) == {"duplicate"}
    times = events.df["occurred_at"].tolist()
    assert times != sorted(times)

    expected = _expected_from_ground_truth(truth)
    report = delivery_report(events, sends)
    # a loader that keeps duplicates gets the same report
    again = pd.concat([events.df, events.df.sample(frac=0.4, random_state=1)], ignore_index=True)
    pd.testing.assert_frame_equal(delivery_report(again, sends), report)
    assert report["unmatched"].sum() == 0
    cols = ["sender_name", "route", "messages", "delivered", "failed", "unconfirmed", "pending"]
    got = report[cols]
    key = ["sender_name", "route"]
    got = got.astype({"sender_name": object}).sort_values(key, na_position="last")
    expected = expected.astype({"sender_name": object}).sort_values(key, na_position="last")
    assert _rows(got.reset_index(drop=True), cols) == _rows(expected.reset_index(drop=True), cols)
    # every identity / route the campaigns exercise shows up
    routes = set(zip(report["sender_name"].fillna("-"), report["route"], strict=True))
    assert {("Acme", "imessage"), ("Acme", "sms_fallback"), ("-", "sms")} <= routes
    assert ("Legacy Brand", "imessage") not in routes
