"""The message rules (deciding event, route evidence) on contract-shaped DataFrames, against a
plain-Python model and the sandbox's own ledger (DuckDB, in-process)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mta_notebook.analytics import (
    delivery_report,
    failure_reasons,
    message_table,
)
from mta_notebook.contract import statuses
from tests.analytics.fixtures import (
    COUNTS,
    DOCUMENTED,
    T0,
    Log,
    every_code_frames,
    evidence_log,
    phone,
    rows,
)


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
        "test",
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
    assert rows(rep, ["route", *COUNTS]) == [("sms_fallback", 14, 1, 8, 1, 3 + 1, 0)]
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
    assert rows(got.reset_index(drop=True), cols) == rows(expected.reset_index(drop=True), cols)
    # every identity / route the campaigns exercise shows up
    routes = set(zip(report["sender_name"].fillna("-"), report["route"], strict=True))
    assert {("Acme", "imessage"), ("Acme", "sms_fallback"), ("-", "sms")} <= routes
    assert ("Legacy Brand", "imessage") not in routes
