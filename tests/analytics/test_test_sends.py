"""Issue 15: a test send is kept out of the campaign figures (it made 184 messages for 183
recipients, one "(no identity) · Route unknown" message), and can still be seen when asked."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mta_notebook import analytics
from mta_notebook._client import Client
from mta_notebook.campaigns import Journal, plan_campaign
from mta_notebook.events import read_webhook_log, register_webhooks, running_receiver
from tests.analytics.fixtures import T0, Log, phone

OWN_NUMBER = "+13125559990"


@pytest.fixture(scope="module")
def sandbox_run(
    start_module_sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """A plan, its test send to the marketer's own number, the send, settled, the log read."""
    tmp = tmp_path_factory.mktemp("test-sends")
    log_dir = tmp / "webhooks"
    hook_secret = secrets.token_hex(32)
    audience = pd.DataFrame({"phone": [phone(i) for i in range(12)]})
    sb = start_module_sandbox(seed=3, time_scale=400.0)
    with (
        running_receiver(secret=hook_secret, out_dir=log_dir) as rx,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
        Journal(Path(tmp) / "journal.sqlite") as journal,
    ):
        register_webhooks(client, rx.url, hook_secret)
        plan = plan_campaign(
            audience, "Hello from Acme", sender_name="Acme", journal=journal, send_window=False
        )
        plan.test_send(client, [OWN_NUMBER])
        plan.send(client, confirm=True, progress=False)
        sb.settle()
        sends = journal.sends()
    events = read_webhook_log(log_dir, secret=hook_secret).df
    return events, sends, len(audience)


def test_sandbox_test_send_is_not_a_campaign_message(
    sandbox_run: tuple[pd.DataFrame, pd.DataFrame, int],
) -> None:
    events, sends, recipients = sandbox_run
    # the sandbox's events carry the test send's externalId (and its tags)
    assert (events["external_id"].astype("string").str.endswith("-test") == True).any()  # noqa: E712
    report = analytics.delivery_report(events, sends)
    assert report["messages"].sum() == recipients
    assert report["unmatched"].sum() == 0
    assert report["sender_name"].notna().all()
    assert len(analytics.message_table(events, sends)) == recipients
    assert analytics.fallback_summary(events, sends)["messages"].sum() == recipients
    assert analytics.reply_report(events, sends)["messages"].sum() == recipients
    assert analytics.compare_routes(events, sends)["messages"].sum() == recipients
    assert analytics.delivery_timeseries(events, sends, freq="1D")["messages"].sum() == recipients
    failures = analytics.failure_reasons(events, sends)
    assert failures["sender_name"].notna().all()
    # asked for, the test message is there, flagged
    kept = analytics.messages(events, sends, include_tests=True)
    table = kept.df
    assert table["test"].sum() == 1
    test_row = table[table["test"]].iloc[0]
    assert test_row["phone"] == OWN_NUMBER
    assert str(test_row["external_id"]).endswith("-test")
    assert analytics.delivery_report(kept)["messages"].sum() == recipients + 1


def test_test_send_found_by_message_id_and_its_replies_left_out() -> None:
    log = Log()
    log.send("cmp-00000", 1, [phone(0)], sender="Acme")
    log.deliver("cmp-00000", 1, phone(0), "delivered", at=5, sender="Acme")
    # the test send to the same number: one event carries its externalId, one only its id
    log.status("cmp-test", 2, phone(0), "delivered", at=60)
    log.message_send(None, 2, phone(0), at=61)
    log.reply(phone(0), "STOP", at=90, external_id="cmp-test", message_id=2)
    events, sends = log.frames()
    table = analytics.message_table(events, sends)
    assert table["external_id"].tolist() == ["cmp-00000"]
    # the STOP answered the test message: it is not handed to the campaign's message
    assert analytics.reply_report(events, sends)["stops"].sum() == 0
    kept = analytics.messages(events, sends, include_tests=True).df
    assert kept.sort_values("sent_at")["test"].tolist() == [False, True, True]
    assert (
        analytics.reply_report(analytics.messages(events, sends, include_tests=True))["stops"].sum()
        == 1
    )


def test_time_window_keeps_tests_out() -> None:
    log = Log()
    log.send("cmp-00000", 1, [phone(0)], sender="Acme")
    log.status("cmp-test", 2, phone(1), "delivered", at=5)
    events, sends = log.frames()
    rep = analytics.delivery_report(events, sends, start=T0, end=T0 + pd.Timedelta("1h"))
    assert rep["messages"].sum() == 1
