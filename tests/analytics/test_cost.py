"""cost_report: credits per message by route, credits spent, cost per delivered message, and
what iMessage saved (issue 15, "Cost"), by hand and against the sandbox's own bill."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import mta_notebook as mta
from mta_notebook import ValidationError
from mta_notebook.contract.assumptions import IMESSAGE_CREDITS

T = pd.Timestamp("2026-03-01 12:00", tz="UTC")
PHONES = [f"+1312555{i:04d}" for i in range(6)]


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Acme sends a 2-segment SMS to 4 recipients (2 by iMessage), an MMS to 1; 1 plain SMS."""
    ev = pd.DataFrame(
        {
            "event": ["delivery-status"] * 6,
            "message_id": [7, 7, 7, 7, 8, 9],
            "external_id": ["a-1", "a-1", "a-1", "a-1", "b-1", "c-1"],
            "phone": PHONES,
            "status": ["delivered"] * 3 + ["delivery_failed"] + ["delivered"] * 2,
            "sender_name": ["Acme", "Acme", None, None, "Acme", None],
            "occurred_at": [T] * 6,
        }
    )
    sends = pd.DataFrame(
        {
            "campaign_id": ["a", "a", "a", "a", "b", "c"],
            "external_id": ["a-1"] * 4 + ["b-1", "c-1"],
            "message_id": [7, 7, 7, 7, 8, 9],
            "phone": PHONES,
            "sender_name": ["Acme"] * 5 + [None],
            "state": ["sent"] * 6,
            "segments": [2, 2, 2, 2, 1, 1],
            "credits": [2, 2, 2, 2, 3, 1],
        }
    )
    return ev, sends


def _rows(rep: pd.DataFrame, *cols: str) -> dict[tuple[Any, str], tuple[Any, ...]]:
    return {
        (None if pd.isna(r.sender_name) else r.sender_name, r.route): tuple(
            getattr(r, c) for c in cols
        )
        for r in rep.itertuples()
    }


def test_the_default_bills_imessage_as_the_sms_it_replaces() -> None:
    assert IMESSAGE_CREDITS == "as-sms"
    rep = mta.cost_report(*_inputs())
    got = _rows(rep, "messages", "delivered", "credits", "sms_credits", "saved_credits")
    assert got == {
        ("Acme", "imessage"): (3, 3, 2 + 2 + 3, 7, 0),  # two 2-segment texts and the MMS
        ("Acme", "sms_fallback"): (2, 1, 4, 4, 0),
        (None, "sms"): (1, 1, 1, 1, 0),
    }
    assert "cost" not in rep.columns  # no price, no money
    per = _rows(rep, "credits_per_message", "credits_per_delivered")
    assert per[("Acme", "imessage")] == (pytest.approx(7 / 3), pytest.approx(7 / 3))
    assert per[("Acme", "sms_fallback")] == (2.0, 4.0)  # the failed one was paid for too


def test_a_flat_imessage_price_shows_what_imessage_saved_and_the_cost() -> None:
    rep = mta.cost_report(*_inputs(), imessage_credits=1, price_per_credit=0.04)
    got = _rows(rep, "credits", "sms_credits", "saved_credits")
    assert got[("Acme", "imessage")] == (3, 7, 4)  # 1 each instead of 2, 2 and 3
    assert got[("Acme", "sms_fallback")] == (4, 4, 0)
    money = _rows(rep, "cost", "cost_per_delivered", "saved_cost")
    assert money[("Acme", "imessage")] == pytest.approx((0.12, 0.04, 0.16))
    assert money[("Acme", "sms_fallback")] == pytest.approx((0.16, 0.16, 0.0))


def test_a_ledger_without_external_ids_joins_on_message_id() -> None:
    ev, sends = _inputs()
    rep = mta.cost_report(ev.drop(columns="external_id"), sends.drop(columns="external_id"))
    assert rep["unpriced"].sum() == 0
    assert _rows(rep, "credits")[("Acme", "sms_fallback")] == (4,)


def test_messages_without_planned_credits_are_unpriced_not_free() -> None:
    ev, sends = _inputs()
    stray = pd.DataFrame(  # an event no ledger row knows
        {
            "event": ["delivery-status"],
            "message_id": [99],
            "phone": ["+13125559999"],
            "status": ["delivered"],
            "occurred_at": [T],
        }
    )
    rep = mta.cost_report(pd.concat([ev, stray], ignore_index=True), sends)
    unknown = rep[rep["route"] == "unknown"].iloc[0]
    assert (unknown["messages"], unknown["unpriced"]) == (1, 1)
    assert pd.isna(unknown["credits"])
    assert math.isnan(unknown["credits_per_message"])
    # a ledger from a journal that did not keep credits: counted, never guessed
    old = mta.cost_report(ev, sends.drop(columns=["segments", "credits"]))
    assert (old["unpriced"] == old["messages"]).all()
    assert old["credits"].isna().all()
    # but a flat iMessage price is known without the ledger
    flat = mta.cost_report(ev, sends.drop(columns=["credits"]), imessage_credits=1)
    assert _rows(flat, "credits", "unpriced")[("Acme", "imessage")] == (3, 0)


def test_a_messages_join_and_a_parquet_ledger_give_the_same_report(tmp_path: Path) -> None:
    ev, sends = _inputs()
    expected = mta.cost_report(ev, sends)
    pd.testing.assert_frame_equal(mta.cost_report(mta.messages(ev, sends), sends), expected)
    sends.to_parquet(tmp_path / "sends.parquet")
    pd.testing.assert_frame_equal(mta.cost_report(ev, tmp_path / "sends.parquet"), expected)


def test_a_message_with_no_event_yet_is_counted_at_its_sms_credits() -> None:
    ev, sends = _inputs()
    waiting = sends.iloc[:1].assign(phone="+13125558888", external_id="a-2", credits=2)
    rep = mta.cost_report(ev, pd.concat([sends, waiting], ignore_index=True), imessage_credits=1)
    assert _rows(rep, "messages", "credits")[("Acme", "unknown")] == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"imessage_credits": "flat"}, "imessage_credits='flat' is not an iMessage credit rule"),
        ({"imessage_credits": -1}, "a whole number of credits"),
        ({"price_per_credit": -0.1}, "price_per_credit=-0.1 must be a number >= 0"),
        ({"price_per_credit": "0.1"}, "price_per_credit='0.1'"),
    ],
)
def test_bad_settings_say_what_to_pass(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        mta.cost_report(*_inputs(), **kwargs)


@pytest.mark.parametrize("rule", ["as-sms", 1])
def test_credits_match_the_sandbox_bill(
    tmp_path: Path, start_sandbox: Any, rule: str | int
) -> None:
    """A campaign through the sandbox (long texts billed per segment, an iMessage rule): the
    report's credits per route are what the sandbox charged, ``/_sandbox/usage``."""
    log = tmp_path / "hooks.jsonl"
    config = {"sms_over_160": "segments", "imessage_credits": rule, "opt_in_rate": 0.5}
    sb = start_sandbox(seed=5, time_scale=200.0, webhook_log=log, config=config)
    phones = [f"+1312555{i:04d}" for i in range(3000, 3040)]
    people = pd.DataFrame({"phone": phones, "note": ["x" * 10, "y" * 200] * 20})
    with mta.Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plan = mta.plan_campaign(
            people,
            "Spring sale {{note}}",
            sender_name="Acme",
            sms_over_160="segments",
            chunk_size=10,
            journal=tmp_path / "j.sqlite",
            send_window=False,
        )
        result = plan.send(client, confirm=True, progress=False)
    sb.settle(timeout=120)
    auth = {"Authorization": f"Bearer {sb.api_key}"}
    usage = httpx.get(sb.root_url + "/_sandbox/usage", headers=auth).json()["data"]
    events = mta.read_webhook_log(log, secret=sb.app.state.config.webhook_secret)
    rep = mta.cost_report(events, result.sends, imessage_credits=rule)
    assert rep["unpriced"].sum() == 0
    by_route = rep.groupby("route")["credits"].sum().to_dict()
    billed = usage["creditsByRoute"]
    assert by_route.get("imessage", 0) == billed.get("imessage", 0) > 0
    assert by_route.get("sms_fallback", 0) == billed.get("sms", 0) > 0
    assert rep["credits"].sum() == usage["credits"]
    # what iMessage saved is the plan's credits (all as SMS) minus the bill
    assert rep["saved_credits"].sum() == plan.summary["credits"] - usage["credits"]
    assert (rep["saved_credits"].sum() > 0) == (rule == 1)
