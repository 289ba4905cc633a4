"""delivery_report and friends on contract-shaped DataFrames (DuckDB, in-process)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from analytics_fixtures import T0, Log, phone, scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mta_notebook.analytics import (
    REPORT_COLUMNS,
    delivery_report,
    delivery_timeseries,
    failure_reasons,
    fallback_summary,
    message_table,
    reply_report,
    wilson_interval,
)
from mta_notebook.errors import ValidationError

NA = None


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
    cols = ["sender_name", "route", "messages", "delivered", "failed", "pending", "unmatched"]
    assert _rows(rep, cols) == [
        ("Acme", "imessage", 3, 2, 1, 0, 0),
        ("Acme", "sms_fallback", 2, 1, 1, 0, 0),
        ("Acme", "unknown", 1, 0, 0, 1, 0),
        ("Acme Deals", "imessage", 3, 2, 1, 0, 1),
        ("Acme Deals", "sms_fallback", 2, 1, 0, 1, 0),
        (None, "sms", 2, 2, 0, 0, 0),
        (None, "unknown", 1, 0, 1, 0, 1),
    ]
    assert rep["sender_name"].isna().tolist() == [False] * 5 + [True] * 2
    shares = rep["share"].tolist()
    assert shares == pytest.approx([3 / 6, 2 / 6, 1 / 6, 3 / 5, 2 / 5, 2 / 3, 1 / 3])
    assert rep["delivery_rate"].tolist()[:2] == pytest.approx([2 / 3, 1 / 2])
    assert rep.dtypes["messages"] == "int64"
    assert rep.dtypes["delivery_rate"] == "float64"


def test_zero_settled_gives_nan_rate(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rep = delivery_report(*frames)
    pending_only = rep[(rep.sender_name == "Acme") & (rep.route == "unknown")].iloc[0]
    assert math.isnan(pending_only.delivery_rate)
    assert math.isnan(pending_only.ci_low)
    assert math.isnan(pending_only.ci_high)


def test_wilson_interval_matches_known_values(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # 8 of 10: the textbook Wilson 95 % interval is (0.4902, 0.9433)
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    assert wilson_interval(5, 5)[1] == pytest.approx(1.0)
    rep = delivery_report(*frames)
    for row in rep.itertuples():
        settled = row.delivered + row.failed
        if settled:
            low, high = wilson_interval(row.delivered, settled)
            assert row.ci_low == pytest.approx(low, rel=1e-12)
            assert row.ci_high == pytest.approx(high, rel=1e-12)
            assert row.ci_low <= row.delivery_rate <= row.ci_high


def test_message_level_status_rules(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    msgs = message_table(*frames).set_index("phone")
    # duplicates count once
    assert msgs.index.is_unique
    # the final status arrived before "sent": still final
    assert msgs.loc[phone(11), "status"] == "undeliverable"
    # a later sent/unknown never replaces delivered
    assert msgs.loc[phone(12), "status"] == "delivered"
    # unknown only: pending, may still change
    assert (msgs.loc[phone(13), "status"], msgs.loc[phone(13), "outcome"]) == ("unknown", "pending")
    # joined by message_id when the payload has no externalId: matched, ledger identity
    assert msgs.loc[phone(21), "unmatched"] is False or not msgs.loc[phone(21), "unmatched"]
    assert msgs.loc[phone(21), "external_id"] == "c3-00000"
    # a failed send without events is not a message
    assert phone(22) not in msgs.index
    # no event yet
    assert msgs.loc[phone(6), "outcome"] == "pending"
    assert msgs.loc[phone(6), "route"] == "unknown"
    assert msgs.loc[phone(6), "sent_at"] == T0
    assert bool(msgs.loc[phone(90), "unmatched"])
    assert bool(msgs.loc[phone(91), "unmatched"])


def test_ties_go_to_the_final_status() -> None:
    log = Log()
    log.send("e-1", 1, [phone(1), phone(2)], sender="Acme")
    log.status("e-1", 1, phone(1), "sent", at=5)
    log.status("e-1", 1, phone(1), "delivered", at=5)
    log.status("e-1", 1, phone(2), "unknown", at=5)
    log.status("e-1", 1, phone(2), "sent", at=5)
    msgs = message_table(*log.frames()).set_index("phone")
    assert msgs.loc[phone(1), "status"] == "delivered"
    assert msgs.loc[phone(2), "status"] == "sent"


def test_by_and_window(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, sends = frames
    per_identity = delivery_report(events, sends, by="sender_name")
    assert per_identity["messages"].tolist() == [6, 5, 3]
    assert per_identity["share"].tolist() == [1.0, 1.0, 1.0]
    per_route = delivery_report(events, sends, by=["route"])
    assert per_route["route"].tolist() == ["imessage", "sms_fallback", "sms", "unknown"]
    assert per_route["share"].sum() == pytest.approx(1.0)
    # the second campaign only (sent one hour after T0)
    later = delivery_report(events, sends, start=T0 + pd.Timedelta("30min"), end="2026-11-01 13:30")
    assert set(later["sender_name"].dropna()) == {"Acme Deals"}
    assert later["messages"].sum() == 4  # the unmatched one was sent after 13:30
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
    odd["occurred_at"] = odd["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    pd.testing.assert_frame_equal(delivery_report(odd, sends), delivery_report(events, sends))


def test_empty_inputs() -> None:
    ev, sd = Log().frames()
    rep = delivery_report(ev, sd)
    assert rep.empty
    assert list(rep.columns) == ["sender_name", "route", *REPORT_COLUMNS]
    assert delivery_timeseries(ev, sd).empty
    assert reply_report(ev, sd).empty
    assert fallback_summary(ev, sd).empty
    assert failure_reasons(ev, sd).empty


def test_timeseries_buckets(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ts = delivery_timeseries(*frames, freq="1h")
    assert ts["bucket"].dt.tz is not None
    by_bucket = ts.groupby("bucket")["messages"].sum()
    assert by_bucket.to_dict() == {
        T0: 8,  # the plain SMS send was at T0 in the ledger, whatever its events say
        T0 + pd.Timedelta("1h"): 4,
        T0 + pd.Timedelta("2h"): 2,  # unmatched: their first event
    }
    assert ts["messages"].sum() == delivery_report(*frames)["messages"].sum()
    assert delivery_timeseries(*frames, freq="2h")["bucket"].nunique() == 2
    with pytest.raises(ValidationError, match="freq"):
        delivery_timeseries(*frames, freq="often")


def test_failure_reasons(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    fr = failure_reasons(*frames)
    rows = _rows(fr, ["sender_name", "route", "status", "status_code", "outcome", "messages"])
    assert ("Acme", "imessage", "undelivered", "3", "failed", 1) in rows
    assert ("Acme", "sms_fallback", "rejected", "6", "failed", 1) in rows
    assert ("Acme", "unknown", "no-event", None, "pending", 1) in rows
    assert ("Acme Deals", "sms_fallback", "unknown", "5", "pending", 1) in rows
    assert (None, "sms", "send-failed", None, "not-sent", 1) in rows
    assert "delivered" not in set(fr["status"])
    sendfail = fr[fr.status == "send-failed"].iloc[0]
    assert sendfail.error == "HTTP 400: bad number"
    acme_im = fr[(fr.sender_name == "Acme") & (fr.route == "imessage")].iloc[0]
    assert acme_im.share == pytest.approx(1 / 3)


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


def test_fallback_summary(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    fs = fallback_summary(*frames)
    assert fs["sender_name"].tolist() == ["Acme", "Acme Deals"]
    acme = fs.iloc[0]
    assert (acme.recipients, acme.messages, acme.imessage, acme.sms_fallback) == (6, 6, 3, 2)
    assert acme.unknown_route == 1
    assert acme.imessage_share == pytest.approx(3 / 5)
    assert acme.fallback_share == pytest.approx(2 / 5)
    assert acme.recipients_imessage == 3


# ------------------------------------------------------------------ randomised against a model

STATUSES = ["sent", "delivered", "undelivered", "undeliverable", "unknown", "rejected"]
FINAL = {"delivered", "undelivered", "undeliverable", "rejected"}


def _model(log: Log) -> dict[tuple[Any, str], list[int]]:
    """Plain-Python statement of the rules: identity x route -> [messages, delivered, failed]."""
    ledger = {(s["external_id"], s["phone"]): s for s in log.sends}
    per_msg: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in log.events:
        per_msg.setdefault((e["external_id"], e["phone"]), []).append(e)
    out: dict[tuple[Any, str], list[int]] = {}
    for key, row in ledger.items():
        evs = per_msg.get(key, [])
        if not evs and row["state"] != "sent":
            continue
        sender = row["sender_name"]
        if any(e["sender_name"] for e in evs):
            route = "imessage"
        elif not evs:
            route = "unknown" if sender else "sms"
        else:
            route = "sms_fallback" if sender else "sms"
        finals = [e for e in evs if e["status"] in FINAL]
        pool = finals or evs
        status = (
            max(pool, key=lambda e: (e["occurred_at"], _prec(e["status"])))["status"]
            if pool
            else None
        )
        counts = out.setdefault((sender, route), [0, 0, 0])
        counts[0] += 1
        counts[1] += status == "delivered"
        counts[2] += status in ("undelivered", "undeliverable", "rejected")
    return out


def _prec(status: str) -> int:
    return {"delivered": 7, "undelivered": 6, "undeliverable": 5, "rejected": 4, "sent": 2}.get(
        status, 1
    )


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
            for _ in range(rnd.randint(0, 4)):
                st_name = rnd.choice(STATUSES)
                at = rnd.choice([1.0, 2.0, 2.0, 3.5, 10.0])
                log.status(ext, 100 + c, p, st_name, at=at, sender=sender if imsg else None)
    rnd.shuffle(log.events)
    log.events += rnd.sample(log.events, k=min(3, len(log.events)))  # duplicates
    rep = delivery_report(*log.frames())
    got = {
        (None if pd.isna(r.sender_name) else r.sender_name, r.route): [
            r.messages,
            r.delivered,
            r.failed,
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
    truth["delivered"] = truth["status"] == "delivered"
    truth["failed"] = truth["status"].isin(["undelivered", "undeliverable", "rejected"])
    truth["pending"] = ~(truth["delivered"] | truth["failed"])
    grouped = truth.groupby(["sender_name", "route"], dropna=False, as_index=False).agg(
        messages=("phone", "size"),
        delivered=("delivered", "sum"),
        failed=("failed", "sum"),
        pending=("pending", "sum"),
    )
    return grouped


def test_report_equals_sandbox_ground_truth(tmp_path: Path) -> None:
    """Campaigns through several identities, opt-in mixes, duplicate and reordered webhooks."""
    import secrets

    from mta_notebook import sandbox
    from mta_notebook.campaigns import plan_campaign
    from mta_notebook.client import Client
    from mta_notebook.journal import Journal
    from mta_notebook.receiver import running_receiver
    from mta_notebook.webhook_log import read_webhook_log
    from mta_notebook.webhooks import register_webhooks

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
    got = report[["sender_name", "route", "messages", "delivered", "failed", "pending"]]
    key = ["sender_name", "route"]
    got = got.astype({"sender_name": object}).sort_values(key, na_position="last")
    expected = expected.astype({"sender_name": object}).sort_values(key, na_position="last")
    assert _rows(got.reset_index(drop=True), list(got.columns)) == _rows(
        expected.reset_index(drop=True), list(got.columns)
    )
    # every identity / route the campaigns exercise shows up
    routes = set(zip(report["sender_name"].fillna("-"), report["route"], strict=True))
    assert {("Acme", "imessage"), ("Acme", "sms_fallback"), ("-", "sms")} <= routes
    assert ("Legacy Brand", "imessage") not in routes
