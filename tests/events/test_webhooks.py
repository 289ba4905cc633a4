"""Tests for mta_notebook.events: signatures, models, the log reader, registration, deliveries."""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mta_notebook import (
    Client,
    EventLog,
    ValidationError,
    WebhookLogError,
    read_webhook_log,
    register_webhooks,
    running_receiver,
    verify_signature,
)
from mta_notebook import events as stage
from mta_notebook.contract import events, signature, statuses
from mta_notebook.events import (
    EVENT_COLUMNS,
    REJECTED_COLUMNS,
    DeliveryStatusEvent,
    MessageReplyEvent,
    MessageSendEvent,
    NumberOptInEvent,
    infer_event,
    parse_event,
    read_bodies,
    sign,
)
from mta_notebook.events import _signature as stage_signature

SECRET = "test-secret"


def _body(**fields: Any) -> str:
    base: dict[str, Any] = {
        "type": "MTAWebhook.DELIVERY_STATUS",
        "messageId": 100001,
        "externalId": "camp-00001",
        "destinationNumber": "+13125550123",
        "status": 4,
        "tags": {"campaign": "bf"},
        "timestamp": "2026-11-27T05:00:00.123Z",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}, separators=(",", ":"))


def _record(body: str, *, secret: str = SECRET, event: str | None = "delivery-status") -> str:
    return json.dumps(
        {
            "received_at": "2026-11-27T05:00:01.000000Z",
            "event": event,
            "headers": {"X-Signature": sign(body.encode(), secret)},
            "raw_body": body,
        }
    )


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _accounted(log: EventLog, lines: int) -> None:
    assert len(log.df) + len(log.rejected) == lines
    assert list(log.df.columns) == list(EVENT_COLUMNS)
    assert list(log.rejected.columns) == list(REJECTED_COLUMNS)


# -- signatures and single events -------------------------------------------------------------


def test_verify_signature_matches_hmac_and_rejects_changes() -> None:
    body = _body().encode()
    good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert verify_signature(body, good, SECRET)
    assert verify_signature(body, good.upper(), SECRET)
    assert not verify_signature(body + b" ", good, SECRET)
    assert not verify_signature(body, good, "other")
    assert not verify_signature(body, "", SECRET)
    assert not verify_signature(body, good, "")
    # a header that is not ASCII hex is no match, never an exception
    assert not verify_signature(body, "é" + good[1:], SECRET)
    assert not verify_signature(body, good.encode("utf-16"), SECRET)
    assert verify_signature(body, good.encode(), SECRET)


def test_signing_and_inference_are_the_contracts() -> None:
    assert stage.sign is signature.sign
    assert stage.verify_signature is signature.verify_signature is verify_signature
    assert stage.infer_event is events.infer_event
    assert stage.ALL_EVENTS is events.EVENTS


def test_parse_event_models_and_inference() -> None:
    ev = parse_event(_body(status="Delivered", senderName="Acme").encode())
    assert isinstance(ev, DeliveryStatusEvent)
    assert ev.status == "Delivered"
    assert (ev.status_info.status, ev.status_info.outcome) == ("delivered", "delivered")
    assert ev.sender_name == "Acme"
    assert ev.phone == "+13125550123"
    assert ev.occurred_at() == pd.Timestamp("2026-11-27T05:00:00.123Z")
    reply = parse_event({"data": {"fromNumber": "+13125550123", "text": "STOP"}})
    assert isinstance(reply, MessageReplyEvent)
    assert (reply.phone, reply.reply_text) == ("+13125550123", "STOP")
    opt_in = parse_event('{"number":"+13125550123"}', event="number-opt-in")
    assert isinstance(opt_in, NumberOptInEvent)
    assert opt_in.phone == "+13125550123"
    # the body's own type wins over the (unsigned) ?event= hint
    assert isinstance(parse_event(_body(), event="number-opt-in"), DeliveryStatusEvent)
    send = parse_event('{"type":"MTAWebhook.MESSAGE_SEND","to":"+13125550123","date":"x"}')
    assert isinstance(send, MessageSendEvent)
    assert (send.phone, send.occurred_at()) == ("+13125550123", None)
    v1 = parse_event(_body(timestamp=None))  # V1 delivery-status: no date at all
    assert v1.occurred_at() is None
    assert infer_event({"optInType": "inbound-message"}) == "number-opt-in"
    assert infer_event({"destinationNumber": "+1"}) == "message-send"
    assert infer_event({"x": 1}) is None
    with pytest.raises(ValueError, match="not a webhook event"):
        parse_event("{}")


# -- the loader: input variants ---------------------------------------------------------------


def test_receiver_jsonl_columns_and_values(tmp_path: Path) -> None:
    body = _body(senderName="Acme")
    log = read_webhook_log(_write(tmp_path / "w.jsonl", [_record(body)]), secret=SECRET)
    _accounted(log, 1)
    row = log.df.iloc[0]
    assert row["event"] == "delivery-status"
    assert row["occurred_at"] == pd.Timestamp("2026-11-27T05:00:00.123Z")
    assert row["received_at"] == pd.Timestamp("2026-11-27T05:00:01Z")
    assert row["message_id"] == 100001
    assert row["external_id"] == "camp-00001"
    assert row["phone"] == "+13125550123"
    assert row["sender_name"] == "Acme"
    assert row["status_code"] == "4"
    assert row["status"] == "delivered"
    assert row["outcome"] == "delivered"
    assert row["route"] == "imessage"
    assert bool(row["is_final"]) is True
    assert bool(row["dated"]) is True
    assert json.loads(row["tags"]) == {"campaign": "bf"}
    assert row["source"] == f"{tmp_path / 'w.jsonl'}:1"
    assert row["raw"] == body
    assert str(log.df["occurred_at"].dtype) == "datetime64[us, UTC]"
    assert str(log.df["message_id"].dtype) == "Int64"


def test_bare_bodies_wrapped_status_names_ids_phones_and_times(tmp_path: Path) -> None:
    lines = [
        _body(status="DELIVERED", messageId="7", timestamp=1764200000),  # epoch seconds
        json.dumps({"data": json.loads(_body(status="undelivered", timestamp=1764200000123))}),
        _body(status=1, destinationNumber="(312) 555-0124", timestamp="2026-11-27T06:00:00+01:00"),
        _body(status=99, destinationNumber="312.555.0125", timestamp="2026-11-27T05:00:00"),
        _body(
            status="Weird", destinationNumber="+44 20 7946 0958", timestamp="20261127T050000-0000"
        ),
        _body(type=None, status=4, timestamp=None),
    ]
    log = read_webhook_log(_write(tmp_path / "bodies.jsonl", lines))
    _accounted(log, len(lines))
    df = log.df
    assert df["status"].tolist() == [
        "delivered",
        "undelivered",
        "queued",
        "99",
        "Weird",
        "delivered",
    ]
    assert df["outcome"].tolist() == [
        "delivered",
        "failed",
        "pending",
        "unknown",
        "unknown",
        "delivered",
    ]
    assert df["is_final"].tolist() == [True, True, False, False, False, True]
    assert df["dated"].tolist() == [True, True, True, True, True, False]
    assert df["message_id"].tolist() == [7, 100001, 100001, 100001, 100001, 100001]
    assert df["phone"].tolist()[2:5] == ["+13125550124", "+13125550125", "+442079460958"]
    assert df["event"].eq("delivery-status").all()
    assert df["route"].eq("sms").all()
    t = df["occurred_at"].tolist()
    assert t[0] == pd.Timestamp("2025-11-26T23:33:20Z")
    assert t[1] == pd.Timestamp("2025-11-26T23:33:20.123Z")
    assert t[2] == pd.Timestamp("2026-11-27T05:00:00Z")
    assert t[3] == pd.Timestamp("2026-11-27T11:00:00Z")  # no offset: Chicago (CST), not UTC
    assert t[4] == pd.Timestamp("2026-11-27T05:00:00Z")
    assert pd.isna(t[5])  # no time and no received_at
    utc = read_webhook_log(tmp_path / "bodies.jsonl", naive_timezone="UTC").df["occurred_at"]
    assert utc.iloc[3] == pd.Timestamp("2026-11-27T05:00:00Z")
    assert utc.drop(index=3).tolist()[:4] == [*t[:3], t[4]]
    with pytest.raises(ValidationError, match="naive_timezone"):
        read_webhook_log(tmp_path / "bodies.jsonl", naive_timezone="Mars/Olympus_Mons")


def test_missing_time_uses_received_at(tmp_path: Path) -> None:
    body = _body(timestamp=None)
    log = read_webhook_log(_write(tmp_path / "w.jsonl", [_record(body)]))
    assert log.df["occurred_at"].iloc[0] == pd.Timestamp("2026-11-27T05:00:01Z")
    assert log.df["received_at"].iloc[0] == pd.Timestamp("2026-11-27T05:00:01Z")
    assert bool(log.df["dated"].iloc[0]) is False


def test_all_event_types_and_route_rules(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "type": "MTAWebhook.MESSAGE_SEND",
                "messageId": 1,
                "destinationNumber": "+13125550123",
                "senderName": "Acme",
            }
        ),
        json.dumps({"fromNumber": "+13125550123", "toNumber": "+13125550101", "message": "STOP"}),
        json.dumps({"number": "+13125550123", "senderName": "Acme", "optInType": "deeplink"}),
        # optInType is the method of the opt-in, not a channel: no senderName, route unknown
        json.dumps({"number": "+13125550124", "optInType": "imessage"}),
        _body(route="SMS", senderName="Acme"),  # an explicit route wins over senderName
        _body(channel="iMessage"),
        _body(senderName=""),
        _body(senderName=None, route="", channel="carrier pigeon"),  # a blank route is none
        _record(_body(messageId=9), event="number-opt-in"),  # the body's type beats the hint
        _record(json.dumps({"number": "+13125550125"}), event="number-opt-in"),
    ]
    log = read_webhook_log(_write(tmp_path / "w.jsonl", lines))
    _accounted(log, len(lines))
    assert log.df["event"].tolist() == [
        "message-send",
        "message-reply",
        "number-opt-in",
        "number-opt-in",
        "delivery-status",
        "delivery-status",
        "delivery-status",
        "delivery-status",
        "delivery-status",
        "number-opt-in",
    ]
    assert log.df["route"].tolist() == [
        "imessage",
        "sms",
        "imessage",
        "unknown",
        "sms",
        "imessage",
        "sms",
        "unknown",
        "sms",
        "unknown",
    ]
    assert log.df["outcome"].iloc[0] == "pending"
    assert log.df["outcome"].isna().tolist()[1:4] == [True, True, True]
    assert log.df["sender_name"].isna().tolist()[4:7] == [False, True, True]
    assert log.df["text"].tolist()[1] == "STOP"
    assert pd.isna(log.df["text"].tolist()[0])


def test_status_map_overrides_codes_and_names(tmp_path: Path) -> None:
    lines = [_body(status=s) for s in (7, "Failed", 5, 14, "14", " bounced ", 7.0)]
    path = _write(tmp_path / "w.jsonl", lines)
    # values: documented names in any case, or documented codes
    status_map = {7: "delivered", "failed": "undelivered", "14": "DELIVERY_FAILED", "Bounced": 12}
    log = read_webhook_log(path, status_map=status_map)
    assert log.df["status"].tolist() == [
        "delivered",
        "undelivered",
        "sending_failed",
        "delivery_failed",
        "delivery_failed",
        "landline",
        "delivered",
    ]
    assert log.df["outcome"].tolist() == ["delivered", *["failed"] * 5, "delivered"]
    assert log.df["status_code"].tolist() == ["7", "Failed", "5", "14", "14", "bounced", "7"]
    plain = read_webhook_log(path).df
    assert plain["status"].tolist() == [
        "delivery_unconfirmed",
        "Failed",
        "sending_failed",
        "14",
        "14",
        "bounced",
        "delivery_unconfirmed",
    ]
    assert plain["outcome"].tolist() == [
        "unconfirmed",
        "unknown",
        "failed",
        "unknown",
        "unknown",
        "unknown",
        "unconfirmed",
    ]
    assert plain["is_final"].tolist() == [True, False, True, False, False, False, True]
    with pytest.raises(ValidationError, match="not a documented status name"):
        read_webhook_log(path, status_map={7: "kinda delivered"})
    with pytest.raises(ValidationError, match="neither a code nor a name"):
        read_webhook_log(path, status_map={(7,): "delivered"})


def test_json_array_csv_parquet_and_gzip(tmp_path: Path) -> None:
    bodies = [_body(messageId=i, destinationNumber=f"+1312555{i:04d}") for i in range(1, 4)]
    (tmp_path / "array.json").write_text("[\n" + ",\n".join(bodies) + "\n]\n")
    with (tmp_path / "raw.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["received_at", "event", "x_signature", "raw_body"])
        for b in bodies:
            writer.writerow(
                ["2026-11-27T05:00:01Z", "delivery-status", sign(b.encode(), SECRET), b]
            )
    with (tmp_path / "fields.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["type", "messageId", "destinationNumber", "status", "timestamp"])
        writer.writerow(
            ["MTAWebhook.DELIVERY_STATUS", "11", "3125550111", "delivered", "1764200000"]
        )
        writer.writerow(["MTAWebhook.DELIVERY_STATUS", "12", "3125550112", "3", ""])
    with gzip.open(tmp_path / "recs.jsonl.gz", "wt") as fh:
        fh.write("\n".join(_record(b) for b in bodies) + "\n")

    arr = read_webhook_log(tmp_path / "array.json")
    _accounted(arr, 3)
    assert arr.df["source"].tolist() == [f"{tmp_path / 'array.json'}:{i}" for i in (1, 2, 3)]
    raw_csv = read_webhook_log(tmp_path / "raw.csv", secret=SECRET)
    _accounted(raw_csv, 3)
    assert raw_csv.df["raw"].tolist() == bodies
    assert raw_csv.df["source"].str.endswith((":2", ":3", ":4")).all()
    fields = read_webhook_log(tmp_path / "fields.csv")
    _accounted(fields, 2)
    assert fields.df["phone"].tolist() == ["+13125550111", "+13125550112"]
    assert fields.df["status"].tolist() == ["delivered", "sent"]
    gz = read_webhook_log(tmp_path / "recs.jsonl.gz", secret=SECRET)
    _accounted(gz, 3)

    # Parquet round trip keeps every column.
    gz.to_parquet(tmp_path / "events.parquet")
    back = read_webhook_log(tmp_path / "events.parquet")
    pd.testing.assert_frame_equal(back.df, gz.df)

    # An Events file of an earlier version (no dated/outcome, statuses read with the invented
    # table of old) is read again from its raw bodies.
    old = gz.df.drop(columns=["dated", "outcome"]).assign(status="undeliverable")
    pq.write_table(pa.Table.from_pandas(old, preserve_index=False), tmp_path / "old.parquet")
    again = read_webhook_log(tmp_path / "old.parquet")
    _accounted(again, 3)
    assert again.df["status"].tolist() == ["delivered"] * 3
    assert again.df["outcome"].tolist() == ["delivered"] * 3
    assert again.df["received_at"].tolist() == gz.df["received_at"].tolist()
    (tmp_path / "old.parquet").unlink()

    # A list, a glob and a directory; the same bodies everywhere count once.
    both = read_webhook_log([tmp_path / "array.json", str(tmp_path / "*.csv")])
    assert len(both.df) == 5
    assert (both.rejected["reason"] == "duplicate").sum() == 3
    everything = read_webhook_log(tmp_path)
    assert len(everything.df) == 5
    assert len(everything.df) + len(everything.rejected) == 3 + 3 + 2 + 3 + 3


def test_missing_sources_raise(tmp_path: Path) -> None:
    with pytest.raises(WebhookLogError, match="no such file"):
        read_webhook_log(tmp_path / "nope.jsonl")
    with pytest.raises(WebhookLogError, match="matches no files"):
        read_webhook_log(str(tmp_path / "*.jsonl"))


# -- malformed lines, duplicates, signatures ----------------------------------------------------


def test_malformed_lines_are_rejected_with_reasons(tmp_path: Path) -> None:
    good = _body()
    lines = [
        good[:-10],  # truncated JSON
        "garbage",
        "[1, 2]",
        '"just a string"',
        "{}",
        _body(messageId={"nested": 1}),  # wrong type
        _body(timestamp="yesterday-ish"),
        _body(destinationNumber="12"),
        _body(destinationNumber=None),
        _body(status=None, type="MTAWebhook.DELIVERY_STATUS"),
        json.dumps({"received_at": "x", "raw_body": "not json", "headers": {}}),
        json.dumps({"received_at": "2026-11-27T05:00:01Z", "raw_body": "[1]"}),
        json.dumps({"received_at": "soon", "raw_body": good}),
        "",
        "   ",
        good,
        good,  # exact duplicate delivery
    ]
    path = _write(tmp_path / "bad.jsonl", lines)
    with path.open("ab") as fh:
        fh.write(b'{"type": "\xff\xfe"}\n')  # not UTF-8
    log = read_webhook_log(path)
    _accounted(log, len(lines) - 2 + 1)
    reasons = dict(
        zip(
            log.rejected["source"].str.rsplit(":", n=1).str[1].astype(int),
            log.rejected["reason"],
            strict=True,
        )
    )
    assert reasons == {
        1: "not-json",
        2: "not-json",
        3: "not-an-event",
        4: "not-an-event",
        5: "not-an-event",
        6: "bad-field",
        7: "bad-field",
        8: "bad-field",
        9: "missing-field",
        10: "missing-field",
        11: "not-json",
        12: "not-an-event",
        13: "bad-field",
        17: "duplicate",
        18: "not-utf8",
    }
    assert log.df["source"].tolist() == [f"{path}:16"]
    bad = log.rejected.set_index("source")
    assert bad.loc[f"{path}:2", "raw"] == "garbage"
    assert "messageId" in bad.loc[f"{path}:6", "detail"]
    assert bad.loc[f"{path}:17", "detail"] == f"same body as {path}:16"


def test_secret_reverifies_and_rejects_bad_signatures(tmp_path: Path) -> None:
    good = _record(_body(messageId=1))
    forged = _record(_body(messageId=2), secret="not-the-secret")
    unsigned = json.dumps({"received_at": "2026-11-27T05:00:01Z", "raw_body": _body(messageId=3)})
    lower = json.dumps(
        {
            "received_at": "2026-11-27T05:00:01Z",
            "headers": {"x-signature": "00" * 32},
            "raw_body": _body(messageId=4),
        }
    )
    path = _write(tmp_path / "w.jsonl", [good, forged, unsigned, lower])
    log = read_webhook_log(path, secret=SECRET)
    _accounted(log, 4)
    assert log.df["message_id"].tolist() == [1, 3]
    assert log.rejected["reason"].tolist() == ["bad-signature", "bad-signature"]
    assert log.rejected["raw"].tolist() == [forged, lower]
    # Without a secret nothing is checked.
    assert len(read_webhook_log(path).df) == 4


@pytest.mark.parametrize("secret", ["k", "x" * 64, "long-" * 40, "ünïcødé"])
def test_reverification_agrees_with_verify_signature(tmp_path: Path, secret: str) -> None:
    bodies = [_body(messageId=i, text="é\n\u2028") for i in range(20)]
    lines = [_record(b, secret=secret if i % 3 else "wrong") for i, b in enumerate(bodies)]
    log = read_webhook_log(_write(tmp_path / "w.jsonl", lines), secret=secret)
    expected_ok = [
        verify_signature(b.encode(), json.loads(line)["headers"]["X-Signature"], secret)
        for b, line in zip(bodies, lines, strict=True)
    ]
    assert len(log.df) == sum(expected_ok)
    assert len(log.rejected) == len(lines) - sum(expected_ok)


def test_summary_latest_and_html(tmp_path: Path) -> None:
    lines = [
        _body(status=1, timestamp="2026-11-27T05:00:00Z"),
        _body(status=4, timestamp="2026-11-27T05:00:05Z"),
        _body(status=3, timestamp="2026-11-27T05:00:09Z"),  # a late non-final never wins
        _body(status=1, destinationNumber="+13125550199", timestamp="2026-11-27T05:00:01Z"),
        # undated (V1) events of one message: precedence decides, not the order they came in
        _body(status=3, messageId=7, timestamp=None),
        _body(status=2, messageId=7, timestamp=None),
        _body(status=2, messageId=8, timestamp=None),
        _body(status=1, messageId=8, timestamp="2026-11-27T05:00:00Z"),  # dated beats undated
    ]
    log = read_webhook_log(_write(tmp_path / "w.jsonl", [*lines, "oops"]))
    summary = log.summary()
    assert summary["events"].sum() == 8
    assert set(summary.columns) == {"event", "status", "route", "events", "first", "last"}
    latest = log.latest()
    got = {(int(m), p): s for m, p, s in latest[["message_id", "phone", "status"]].to_numpy()}
    assert got == {
        (100001, "+13125550123"): "delivered",
        (100001, "+13125550199"): "queued",
        (7, "+13125550123"): "sent",
        (8, "+13125550123"): "queued",
    }
    assert latest["outcome"].tolist() == ["pending", "pending", "delivered", "pending"]
    html = log._repr_html_()
    assert "8 events" in html
    assert "not-json" in html
    assert "8 events, 1 rejected" in repr(log)
    empty = EventLog()
    assert empty.summary().empty
    assert "0 events" in empty._repr_html_()


# -- hypothesis: arbitrary lines never raise and are accounted for ---------------------------

_fragments = st.sampled_from(
    [
        _body(),
        _record(_body()),
        '{"data": {"status": 2}}',
        '{"status": 4.0, "destinationNumber": "+13125550123", "date": "2026-11-01 01:30"}',
        '{"status": true, "number": "(555) 234-5678", "route": 5, "timestamp": "1e3"}',
        '{"raw_body": "{',
        '{"status": [1], "destinationNumber": {"a": 1}}',
        '{"timestamp": 1e400}',
        "\\ud800",
        '{"a": "\\ud800"}',
        "{",
        "[",
        "null",
    ]
)
_line = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60),
    _fragments,
    st.builds(lambda a, b: a + b, _fragments, st.text(max_size=5)),
).map(lambda s: s.replace("\n", " ").replace("\r", " "))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(_line, max_size=12))
def test_arbitrary_lines_never_raise_and_are_accounted(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    log = read_webhook_log(path, secret=SECRET)
    nonblank = sum(1 for line in lines if line.strip(" \t"))
    assert len(log.df) + len(log.rejected) == nonblank
    assert set(log.rejected["reason"]) <= {
        "not-json",
        "not-utf8",
        "not-an-event",
        "bad-signature",
        "bad-field",
        "missing-field",
        "duplicate",
    }


# -- sandbox: registration, deliveries, end to end ---------------------------------------------


@pytest.fixture(scope="module")
def sb(start_module_sandbox: Any) -> Any:
    return start_module_sandbox(seed=7, time_scale=1000)


def test_register_webhooks_creates_only_missing(sb: Any, tmp_path: Path) -> None:
    sb.reset()
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        first = register_webhooks(client, "http://127.0.0.1:9/hooks?x=1", SECRET)
        again = register_webhooks(client, "http://127.0.0.1:9/hooks?x=1", SECRET)
        hooks = client.list_webhooks()
    assert len(hooks) == 4
    assert sorted(h.url or "" for h in hooks) == sorted(
        f"http://127.0.0.1:9/hooks?x=1&event={e}"
        for e in ("message-send", "delivery-status", "message-reply", "number-opt-in")
    )
    assert [h.id for h in first] == [h.id for h in again]
    with pytest.raises(ValueError, match="unknown webhook event"):
        register_webhooks(object(), "http://x", SECRET, events=["bogus"])


def _campaign_matches_ground_truth(sb: Any, out: Path, faults: dict[str, float]) -> EventLog:
    sb.reset()
    sb.set_faults(**faults)
    phones = [f"+1312555{n:04d}" for n in range(1000, 1080)]
    with running_receiver(secret=SECRET, out_dir=out) as rx:
        with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
            register_webhooks(client, rx.url, SECRET)
            for chunk in range(4):
                client.send(
                    subscribers=phones[chunk * 20 : chunk * 20 + 20],
                    message="Black Friday: 20% off",
                    sender_name="Acme" if chunk < 3 else None,
                    external_id=f"camp-{chunk:05d}",
                )
        sb.settle()
        truth = sb.ground_truth()
    log = read_webhook_log(out, secret=SECRET)
    assert not set(log.rejected["reason"]) - {"duplicate"}
    latest = log.latest()
    got = {
        (int(r.message_id), r.phone): (r.status, r.route, r.external_id)
        for r in latest.itertuples()
    }
    want = {
        (r["message_id"], r["phone"]): (r["status"], r["route"], r["external_id"]) for r in truth
    }
    assert got == want
    assert {r["status"] for r in truth} <= set(statuses.STATUS_BY_NAME)
    assert len(want) == 80
    assert {r["route"] for r in truth} == {"imessage", "sms"}
    sends = log.df[log.df["event"] == "message-send"]
    assert len(sends) == 80
    return log


def test_end_to_end_campaign_matches_ground_truth(sb: Any, tmp_path: Path) -> None:
    log = _campaign_matches_ground_truth(sb, tmp_path / "plain", {})
    assert log.rejected.empty


def test_end_to_end_with_duplicate_and_reordered_webhooks(sb: Any, tmp_path: Path) -> None:
    log = _campaign_matches_ground_truth(
        sb, tmp_path / "faulty", {"webhook_duplicate": 0.5, "webhook_reorder": 0.5}
    )
    assert (log.rejected["reason"] == "duplicate").sum() > 10
    sb.set_faults(webhook_duplicate=0.0, webhook_reorder=0.0)


def test_read_bodies_counts_lines() -> None:
    log = read_bodies([_body(), "nope", ""], source="mem")
    assert log.df["source"].tolist() == ["mem:1"]
    assert log.rejected["source"].tolist() == ["mem:2", "mem:3"]


def _signed(body: str, shape: str, key: str, pad: int) -> tuple[str, str]:
    """``body`` and a header of one kind: its signature as sent, in upper case, padded, or
    random text; under the right key or another."""
    good = sign(body.encode(), key)
    header = {"exact": good, "upper": good.upper(), "padded": f"{' ' * pad}{good}\t"}.get(
        shape, shape
    )
    return body, header


_PAIRS = st.builds(
    _signed,
    st.text(max_size=40),
    st.one_of(st.sampled_from(["exact", "upper", "padded", "", " "]), st.text(max_size=70)),
    st.sampled_from([SECRET, "other"]),
    st.integers(0, 2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PAIRS, max_size=8), st.booleans())
def test_the_fast_reverification_is_verify_signature(
    pairs: list[tuple[str, str]], empty_secret: bool
) -> None:
    bodies = [b for b, _ in pairs]
    sigs = [s for _, s in pairs]
    secret = "" if empty_secret else SECRET
    want = [not verify_signature(b.encode(), s, secret) for b, s in zip(bodies, sigs, strict=True)]
    assert stage_signature.forged(bodies, sigs, secret).tolist() == want
    if not empty_secret and any(s == sign(b.encode(), SECRET).upper() for b, s in pairs):
        assert not all(want)  # an upper-case header of the right key is a match
