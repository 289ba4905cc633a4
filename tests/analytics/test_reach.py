"""Reach from opt-ins (issue 15): the opted-in share of the audience per identity with its
interval, new opt-ins per day, the numbers each identity can reach by iMessage, and the
iMessage share a planned send can expect; by hand and against the sandbox's ground truth."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mta_notebook as mta
from mta_notebook import ValidationError
from mta_notebook.analytics import wilson_interval

AUDIENCE = [f"+1312555{i:04d}" for i in range(10)]
OUTSIDER = "+13125559999"


def _t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _events() -> pd.DataFrame:
    rows = [
        ("number-opt-in", AUDIENCE[0], "Acme", "2026-03-01 09:00"),
        ("number-opt-in", AUDIENCE[1], "Acme", "2026-03-01 18:00"),
        ("number-opt-in", AUDIENCE[2], "Acme", "2026-03-04 08:00"),  # two quiet days before
        ("number-opt-in", AUDIENCE[0], "Acme", "2026-03-05 08:00"),  # again: counts once
        ("number-opt-in", OUTSIDER, "Acme", "2026-03-02 08:00"),  # not in the list
        ("number-opt-in", AUDIENCE[3], None, "2026-03-02 08:00"),  # names no identity
        ("number-opt-in", AUDIENCE[4], "Acme Deals", "2026-03-03 08:00"),
        # reached by iMessage without an opt-in in the log: opted in before the log began
        ("delivery-status", AUDIENCE[5], "Acme", "2026-03-02 10:00"),
        ("message-send", AUDIENCE[5], "Acme", "2026-03-02 09:59"),
        # SMS (no senderName) reaches nobody by iMessage
        ("delivery-status", AUDIENCE[6], None, "2026-03-02 10:00"),
    ]
    return pd.DataFrame(
        {
            "event": [r[0] for r in rows],
            "phone": [r[1] for r in rows],
            "sender_name": [r[2] for r in rows],
            "occurred_at": [_t(r[3]) for r in rows],
        }
    )


def test_reachable_numbers_per_identity_and_since_when() -> None:
    got = mta.reachable(_events())
    assert list(got.columns) == ["phone", "sender_name", "since", "basis"]
    rows = {(r.phone, r.sender_name): (r.since, r.basis) for r in got.itertuples()}
    assert rows == {
        (AUDIENCE[0], "Acme"): (_t("2026-03-01 09:00"), "opt-in"),  # the first opt-in
        (AUDIENCE[1], "Acme"): (_t("2026-03-01 18:00"), "opt-in"),
        (AUDIENCE[2], "Acme"): (_t("2026-03-04 08:00"), "opt-in"),
        (OUTSIDER, "Acme"): (_t("2026-03-02 08:00"), "opt-in"),
        (AUDIENCE[5], "Acme"): (_t("2026-03-02 09:59"), "imessage"),
        (AUDIENCE[4], "Acme Deals"): (_t("2026-03-03 08:00"), "opt-in"),
    }


def test_an_explicit_sms_route_is_not_imessage_and_received_at_stands_in() -> None:
    ev = pd.DataFrame(
        {
            "event": ["delivery-status", "number-opt-in"],
            "phone": [AUDIENCE[0], AUDIENCE[1]],
            "sender_name": ["Acme", "Acme"],
            "route": ["sms", "unknown"],  # what read_webhook_log gives an opt-in
            "occurred_at": [pd.NaT, pd.NaT],  # V1 bodies have no date
            "received_at": [_t("2026-03-01"), _t("2026-03-02")],
        }
    )
    got = mta.reachable(ev)
    assert got[["phone", "since"]].values.tolist() == [[AUDIENCE[1], _t("2026-03-02")]]


def test_optin_reach_share_with_wilson_interval_and_label() -> None:
    reach = mta.optin_reach(_events(), pd.DataFrame({"phone": AUDIENCE}))
    s = reach.summary.set_index("sender_name")
    assert list(s.index) == ["Acme", "Acme Deals"]
    acme = s.loc["Acme"]
    assert (acme["audience"], acme["opted_in"], acme["reachable"], acme["outside"]) == (10, 3, 4, 1)
    assert acme["share"] == 0.4
    assert (acme["ci_low"], acme["ci_high"]) == pytest.approx(wilson_interval(4, 10))
    assert acme["label"] == "Acme: 40.0 % (4/10) [17-69] of the audience can get iMessage"
    assert s.loc["Acme Deals", "reachable"] == 1
    # an identity asked for with no opt-in shows 0 of the audience, not nothing
    none = mta.optin_reach(_events(), AUDIENCE, sender_names=["Legacy Brand"]).summary.iloc[0]
    assert (none["reachable"], none["share"]) == (0, 0.0)
    assert none["label"] == "Legacy Brand: 0.0 % (0/10) [0-28] of the audience can get iMessage"


def test_new_opt_ins_per_day_with_the_cumulative_share() -> None:
    daily = mta.optin_reach(_events(), AUDIENCE).daily
    acme = daily[daily["sender_name"] == "Acme"]
    assert acme["period"].tolist() == [_t(f"2026-03-0{d}") for d in (1, 2, 3, 4)]
    assert acme["new"].tolist() == [2, 1, 0, 1]  # day 2: the iMessage recipient; day 3 quiet
    assert acme["reachable"].tolist() == [2, 3, 3, 4]
    assert acme["share"].tolist() == [0.2, 0.3, 0.3, 0.4]
    assert acme["ci_high"].iloc[-1] == pytest.approx(wilson_interval(4, 10)[1])
    hourly = mta.optin_reach(_events(), AUDIENCE, freq="12h").daily
    assert len(hourly[hourly["sender_name"] == "Acme"]) == 7  # 1 Mar 00:00 .. 4 Mar 00:00
    weekly = mta.optin_reach(_events(), AUDIENCE, freq="W").daily
    assert weekly[weekly["sender_name"] == "Acme"]["new"].tolist() == [2, 2]  # Mon-Sun weeks


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mta.optin_reach(_events(), AUDIENCE, freq="fortnightly"), "freq='fortnightly'"),
        (lambda: mta.optin_reach(_events(), pd.DataFrame({"x": [1]})), "no phone column"),
        (lambda: mta.optin_reach(_events(), 42), "not int"),
        (lambda: mta.reachable(pd.DataFrame({"phone": []})), r"missing column\(s\) \['event'\]"),
    ],
)
def test_bad_inputs_say_what_to_pass(call: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        call()


def test_predicted_imessage_share_at_planning_time() -> None:
    ok = mta.reachable(_events())
    send = [*AUDIENCE[:6], AUDIENCE[0]]  # a duplicate counts once
    share = mta.predicted_imessage_share(ok, send, sender_name="Acme")
    assert (share.n, share.total, share.share) == (4, 6, 4 / 6)
    assert float(share) == 4 / 6
    assert (share.ci_low, share.ci_high) == pytest.approx(wilson_interval(4, 6))
    assert str(share) == "66.7 % (4/6) [30-90]"
    none = mta.predicted_imessage_share(ok, send, sender_name=None)
    assert (none.n, none.total, str(none)) == (0, 6, "0.0 % (0/6) [0-39]")
    empty = mta.predicted_imessage_share(ok, [], sender_name="Acme")
    assert math.isnan(empty.share)
    assert str(empty) == "no audience (0/0)"
    with pytest.raises(ValidationError, match="'phone' and 'sender_name' columns"):
        mta.predicted_imessage_share(pd.DataFrame({"x": []}), send, sender_name="Acme")


def test_reach_against_the_sandbox(tmp_path: Path, start_sandbox: Any) -> None:
    """Opt-ins through the sandbox post ``number-opt-in`` webhooks; a send then reaches the
    opted-in and the (seeded) already-enabled numbers by iMessage. ``reachable`` finds exactly
    the numbers the sandbox routed by iMessage plus the opt-ins, and the share is n/N of them."""
    log = tmp_path / "hooks.jsonl"
    config = {"imessage_attempt_fail_rate": 0.0, "opt_in_rate": 0.3}
    sb = start_sandbox(seed=9, time_scale=200.0, webhook_log=log, config=config)
    phones = [f"+1312555{i:04d}" for i in range(4000, 4050)]
    opted = phones[:8]
    for p in opted:
        sb.opt_in(p, "Acme")
    sb.opt_in(phones[8], "Acme Deals")
    subs = mta.load_subscribers(pd.DataFrame({"phone": phones}))
    sb.settle(timeout=60)  # the opt-in webhooks are posted, not only scheduled
    before = mta.read_webhook_log(log)  # opt-ins only, before any send
    planned = mta.predicted_imessage_share(
        mta.reachable(before), subs.df["phone"], sender_name="Acme"
    )
    assert (planned.n, planned.total) == (8, 50)
    with mta.Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plan = mta.plan_campaign(
            subs, "Spring sale", sender_name="Acme", journal=tmp_path / "j", send_window=False
        )
        plan.send(client, confirm=True, progress=False)
    sb.settle(timeout=120)
    truth = {r["phone"] for r in sb.ground_truth() if r["route"] == "imessage"}
    assert set(opted) <= truth  # the opt-ins went by iMessage, and more numbers did too
    assert len(truth) > len(opted)
    events = mta.read_webhook_log(log)
    assert (events.df["event"] == "number-opt-in").sum() == 9
    got = mta.reachable(events)
    acme = got[got["sender_name"] == "Acme"]
    assert set(acme["phone"]) == truth | set(opted)
    assert set(acme.loc[acme["basis"] == "opt-in", "phone"]) == set(opted)
    reach = mta.optin_reach(events, subs).summary.set_index("sender_name")
    assert reach.loc["Acme", "reachable"] == len(truth)
    assert reach.loc["Acme", "opted_in"] == len(opted)
    assert reach.loc["Acme Deals", "reachable"] == 1
    # the prediction was a floor: the send reached more than the logged opt-ins
    assert planned.share <= reach.loc["Acme", "share"]
