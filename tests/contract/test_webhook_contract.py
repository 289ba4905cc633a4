"""Webhook bodies exactly as MTA documents them, read by ``read_webhook_log``, every field checked.

The bodies and the expected rows are written by hand from MTA's documented tables
(``shared/reference/mta-api.md`` §0a: the delivery status codes 1-13 and their outcomes, the six
``/deliveries`` names, the Delivery Status V1 payload without a date, ``senderName`` as the
iMessage evidence, ``{"data": {...}}`` wrapping). Nothing here comes from the sandbox, and no
expected value is computed with the contract's functions: a wrong contract table fails here.

What the reader accepts as a status, decided here and tested exactly: a code is ASCII digits
with an optional sign (``"4"``, ``" 07 "``, ``"+4"``); a name matches in any case, trimmed, with
spaces, hyphens or underscores between its words (``"Delivery_Failed"``, ``" delivery
rejected "``, ``"SENDING-FAILED"``); anything else is kept as it came (trimmed), outcome
``unknown``, never final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mta_notebook import read_webhook_log

SECRET = "contract-secret"
PHONE = "+13125550142"
DS = "MTAWebhook.DELIVERY_STATUS"


def v1(status: Any, **extra: Any) -> dict[str, Any]:
    """A Delivery Status V1 body: its documented fields and no date."""
    return {
        "destinationNumber": PHONE,
        "messageId": 700001,
        "externalId": "fall-sale-00001",
        "status": status,
        "type": DS,
        **extra,
    }


# (body, expected fields). Unlisted fields take BASE; times are literal UTC.
BASE: dict[str, Any] = {
    "event": "delivery-status",
    "occurred_at": None,  # V1: no date; a receiver record gives its received_at
    "dated": False,
    "message_id": 700001,
    "external_id": "fall-sale-00001",
    "phone": PHONE,
    "sender_name": None,
    "route": "sms",
    "text": None,
    "tags": None,
}


def st(code: str, status: str, outcome: str, final: bool) -> dict[str, Any]:
    return {"status_code": code, "status": status, "outcome": outcome, "is_final": final}


CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    # every documented code, as a number
    (v1(1), st("1", "queued", "pending", False)),
    (v1(2), st("2", "sending", "pending", False)),
    (v1(3), st("3", "sent", "pending", False)),
    (v1(4), st("4", "delivered", "delivered", True)),
    (v1(5), st("5", "sending_failed", "failed", True)),
    (v1(6), st("6", "delivery_failed", "failed", True)),
    (v1(7), st("7", "delivery_unconfirmed", "unconfirmed", True)),
    (v1(8), st("8", "delivery_rejected", "failed", True)),
    (v1(9), st("9", "undelivered", "failed", True)),
    (v1(10), st("10", "invalid_number", "failed", True)),
    (v1(11), st("11", "stopped_number", "failed", True)),
    (v1(12), st("12", "landline", "failed", True)),
    (v1(13), st("13", "send_rejected", "failed", True)),
    # codes the table does not have: kept raw, outcome unknown, not final
    (v1(14), st("14", "14", "unknown", False)),
    (v1(99), st("99", "99", "unknown", False)),
    (v1(0), st("0", "0", "unknown", False)),
    # codes as text
    (v1("4"), st("4", "delivered", "delivered", True)),
    (v1(" 07 "), st("07", "delivery_unconfirmed", "unconfirmed", True)),
    (v1("+4"), st("+4", "delivered", "delivered", True)),
    (v1("14"), st("14", "14", "unknown", False)),
    (v1("4.0"), st("4.0", "4.0", "unknown", False)),
    # documented names in several cases and spellings
    (v1("DELIVERED"), st("DELIVERED", "delivered", "delivered", True)),
    (v1("delivered"), st("delivered", "delivered", "delivered", True)),
    (v1("Delivery_Failed"), st("Delivery_Failed", "delivery_failed", "failed", True)),
    (v1(" delivery rejected "), st("delivery rejected", "delivery_rejected", "failed", True)),
    (v1("SENDING-FAILED"), st("SENDING-FAILED", "sending_failed", "failed", True)),
    (v1("Stopped Number"), st("Stopped Number", "stopped_number", "failed", True)),
    (v1("queued"), st("queued", "queued", "pending", False)),
    (
        v1("Delivery_Unconfirmed"),
        st("Delivery_Unconfirmed", "delivery_unconfirmed", "unconfirmed", True),
    ),
    (v1("DELIVERED!"), st("DELIVERED!", "DELIVERED!", "unknown", False)),
    # the six /deliveries filter names
    (v1("sent"), st("sent", "sent", "pending", False)),
    (v1("Undelivered"), st("Undelivered", "undelivered", "failed", True)),
    (v1("undeliverable"), st("undeliverable", "undeliverable", "failed", True)),
    (v1("REJECTED"), st("REJECTED", "rejected", "failed", True)),
    (v1("unknown"), st("unknown", "unknown", "unknown", False)),
    # senderName present (iMessage), empty, null, blank; tags
    (
        v1(4, senderName="Acme", tags={"campaign": "fall"}),
        {
            **st("4", "delivered", "delivered", True),
            "sender_name": "Acme",
            "route": "imessage",
            "tags": {"campaign": "fall"},
        },
    ),
    (v1(4, senderName=""), st("4", "delivered", "delivered", True)),
    (v1(4, senderName=None, tags=None), st("4", "delivered", "delivered", True)),
    (v1(4, senderName="   "), st("4", "delivered", "delivered", True)),
    # wrapped in {"data": {...}}
    (
        {"data": v1(6, senderName="Acme Deals")},
        {
            **st("6", "delivery_failed", "failed", True),
            "sender_name": "Acme Deals",
            "route": "imessage",
        },
    ),
    # a national phone format
    (
        v1(4, destinationNumber="(312) 555-0143"),
        {**st("4", "delivered", "delivered", True), "phone": "+13125550143"},
    ),
    # dated bodies (V2/V3): Z, an offset, no offset (America/Chicago), epoch s and ms
    (
        v1(4, date="2026-11-27T05:02:57.123Z"),
        {
            **st("4", "delivered", "delivered", True),
            "occurred_at": "2026-11-27T05:02:57.123Z",
            "dated": True,
        },
    ),
    (
        v1(4, date="2026-11-26T23:02:57.123-06:00"),
        {
            **st("4", "delivered", "delivered", True),
            "occurred_at": "2026-11-27T05:02:57.123Z",
            "dated": True,
        },
    ),
    (
        v1(4, date="2026-11-26 23:02:57"),  # CST, -06:00
        {
            **st("4", "delivered", "delivered", True),
            "occurred_at": "2026-11-27T05:02:57Z",
            "dated": True,
        },
    ),
    (
        v1(4, date="2026-07-04 12:00:00"),  # CDT, -05:00
        {
            **st("4", "delivered", "delivered", True),
            "occurred_at": "2026-07-04T17:00:00Z",
            "dated": True,
        },
    ),
    (
        v1(4, date=1795755777),
        {
            **st("4", "delivered", "delivered", True),
            "occurred_at": "2026-11-27T05:02:57Z",
            "dated": True,
        },
    ),
    (
        v1(4, timestamp=1795755777123),
        {
            **st("4", "delivered", "delivered", True),
            "occurred_at": "2026-11-27T05:02:57.123Z",
            "dated": True,
        },
    ),
    (
        v1(4, date="1795755777"),
        {
            **st("4", "delivered", "delivered", True),
            "occurred_at": "2026-11-27T05:02:57Z",
            "dated": True,
        },
    ),
    (
        v1(4, date=None),  # an optional date may be null: the body has no time
        st("4", "delivered", "delivered", True),
    ),
    # each event type
    (
        {
            "type": "MTAWebhook.MESSAGE_SEND",
            "messageId": 700002,
            "externalId": "fall-sale-00002",
            "destinationNumber": PHONE,
            "senderName": "Acme",
            "date": "2026-11-27T05:00:00Z",
        },
        {
            "event": "message-send",
            "message_id": 700002,
            "external_id": "fall-sale-00002",
            "sender_name": "Acme",
            "route": "imessage",
            "occurred_at": "2026-11-27T05:00:00Z",
            "dated": True,
            "status_code": None,
            "status": None,
            "outcome": "pending",
            "is_final": False,
        },
    ),
    (
        {
            "type": "MTAWebhook.MESSAGE_SEND",
            "messageId": 700003,
            "externalId": "store-00001",
            "destinationNumber": PHONE,
        },
        {
            "event": "message-send",
            "message_id": 700003,
            "external_id": "store-00001",
            "status_code": None,
            "status": None,
            "outcome": "pending",
            "is_final": False,
        },
    ),
    (
        {
            "type": "MTAWebhook.MESSAGE_REPLY",
            "fromNumber": "+14155550134",
            "toNumber": "+13125550101",
            "message": "STOP",
            "replyId": 42,
            "messageId": 700001,
            "externalId": "fall-sale-00001",
            "date": "2026-11-27T06:00:00-06:00",
        },
        {
            "event": "message-reply",
            "phone": "+14155550134",
            "text": "STOP",
            "occurred_at": "2026-11-27T12:00:00Z",
            "dated": True,
            "status_code": None,
            "status": None,
            "outcome": None,
            "is_final": False,
        },
    ),
    (
        {
            "type": "MTAWebhook.MESSAGE_REPLY",
            "fromNumber": "+14155550134",
            "message": "Thanks!",
            "senderName": "Acme",
            "messageId": 700001,
            "externalId": "fall-sale-00001",
        },
        {
            "event": "message-reply",
            "phone": "+14155550134",
            "text": "Thanks!",
            "sender_name": "Acme",
            "route": "imessage",
            "status_code": None,
            "status": None,
            "outcome": None,
            "is_final": False,
        },
    ),
    (
        {
            "type": "MTAWebhook.NUMBER_OPT_IN",
            "number": "+14155550135",
            "optInType": "inbound-message",
        },
        {
            "event": "number-opt-in",
            "phone": "+14155550135",
            "route": "unknown",
            "message_id": None,
            "external_id": None,
            "status_code": None,
            "status": None,
            "outcome": None,
            "is_final": False,
        },
    ),
    (
        {
            "type": "MTAWebhook.NUMBER_OPT_IN",
            "number": "+14155550136",
            "senderName": "Acme",
            "optInType": "imessage",
        },
        {
            "event": "number-opt-in",
            "phone": "+14155550136",
            "route": "imessage",
            "sender_name": "Acme",
            "message_id": None,
            "external_id": None,
            "status_code": None,
            "status": None,
            "outcome": None,
            "is_final": False,
        },
    ),
]

RECEIVED = "2026-11-27T05:03:{:02d}.250000Z"


def _lines(cases: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    # distinct bodies: the reader drops exact duplicates
    return [json.dumps(body, separators=(",", ":")) for body, _ in cases]


def _record(raw: str, n: int, hint: str | None) -> str:
    sig = hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {
            "received_at": RECEIVED.format(n),
            "event": hint,
            "headers": {"X-Signature": sig, "Content-Type": "application/json"},
            "raw_body": raw,
        }
    )


def _check(row: dict[str, Any], want: dict[str, Any], raw: str, source: str) -> None:
    tags = row.pop("tags")
    assert (json.loads(tags) if isinstance(tags, str) else None) == want.pop("tags"), raw
    for key in ("occurred_at", "received_at"):
        value = want[key]
        want[key] = None if value is None else pd.Timestamp(value)
        row[key] = None if pd.isna(row[key]) else row[key]
    for key, value in row.items():
        if not isinstance(value, str) and value is not None and pd.isna(value):
            row[key] = None
    row["message_id"] = None if row["message_id"] is None else int(row["message_id"])
    assert row == {**want, "source": source, "raw": raw}, raw


def test_each_documented_case_has_a_distinct_body() -> None:
    assert len(set(_lines(CASES))) == len(CASES)


def test_bare_bodies(tmp_path: Path) -> None:
    lines = _lines(CASES)
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = read_webhook_log(path)
    assert log.rejected.empty, log.rejected.to_dict("records")
    assert len(log.df) == len(CASES)
    for i, (row, (_, expected), raw) in enumerate(
        zip(log.df.to_dict("records"), CASES, lines, strict=True), 1
    ):
        want = {**BASE, "received_at": None, **expected}
        _check(row, want, raw, f"{path}:{i}")


def test_receiver_records(tmp_path: Path) -> None:
    lines = _lines(CASES)
    hints = ["delivery-status" if '"status"' in raw else None for raw in lines]
    path = tmp_path / "webhooks-2026-11-27.jsonl"
    records = [
        _record(raw, i, hint) for i, (raw, hint) in enumerate(zip(lines, hints, strict=True))
    ]
    path.write_text("\n".join(records) + "\n", encoding="utf-8")
    log = read_webhook_log(path, secret=SECRET)
    assert log.rejected.empty, log.rejected.to_dict("records")
    for i, (row, (_, expected), raw) in enumerate(
        zip(log.df.to_dict("records"), CASES, lines, strict=True)
    ):
        received = RECEIVED.format(i)
        want = {**BASE, "received_at": received, "occurred_at": received, **expected}
        if not want["dated"]:
            want["occurred_at"] = received  # V1 (and a null date): the receiver's time
        _check(row, want, raw, f"{path}:{i + 1}")


def test_the_body_type_beats_an_unsigned_hint(tmp_path: Path) -> None:
    raw = json.dumps(v1(4))
    path = tmp_path / "w.jsonl"
    path.write_text(_record(raw, 0, "number-opt-in") + "\n", encoding="utf-8")
    (event,) = read_webhook_log(path, secret=SECRET).df["event"]
    assert event == "delivery-status"


@pytest.mark.parametrize(
    ("date", "reason"),
    [("yesterday", "bad-field"), ("2026-02-30T00:00:00Z", "bad-field"), (math.pi, None)],
)
def test_a_date_that_is_not_a_time(tmp_path: Path, date: Any, reason: str | None) -> None:
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(v1(4, date=date)) + "\n", encoding="utf-8")
    log = read_webhook_log(path)
    if reason is None:  # pi seconds after the epoch is a time
        assert log.df["occurred_at"].tolist() == [pd.Timestamp("1970-01-01T00:00:03.141593Z")]
    else:
        assert log.rejected["reason"].tolist() == [reason]
