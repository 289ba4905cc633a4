"""Sandbox webhooks over loopback: payloads, HMAC, retries, faults, the JSONL log, opt-ins."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mta_notebook import sandbox
from mta_notebook._server import serve_in_thread
from mta_notebook.contract.assumptions import NAIVE_TIMEZONE
from mta_notebook.contract.events import DATE_FIELDS, DEFAULT_PAYLOAD_VERSION, PAYLOAD_VERSIONS
from mta_notebook.contract.statuses import STATUS_BY_CODE

KEY = "hook-key"
SECRET = "a" * 64 + "0123456789abcdef"
DATE = DATE_FIELDS[0]
LIFE = [1, 2, 3]  # QUEUED, SENDING, SENT: every recipient, before its final status


@dataclass
class Receiver:
    """A tiny webhook receiver that fails the first ``fail_first`` posts with ``fail_status``."""

    fail_first: int = 0
    fail_status: int = 500
    posts: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    url: str = ""

    def app(self) -> Starlette:
        async def hook(request: Request) -> PlainTextResponse:
            raw = await request.body()
            self.attempts += 1
            if self.attempts <= self.fail_first:
                return PlainTextResponse("nope", status_code=self.fail_status)
            self.posts.append(
                {
                    "raw": raw,
                    "signature": request.headers.get("X-Signature"),
                    "query": dict(request.query_params),
                    "body": json.loads(raw),
                }
            )
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def bodies(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [p["body"] for p in self.posts if event_type in (None, p["body"]["type"])]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    with serve_in_thread(rec.app()) as port:
        rec.url = f"http://127.0.0.1:{port}/hook"
        yield rec


@pytest.fixture
def sb(start_sandbox: Any) -> sandbox.Sandbox:
    started: sandbox.Sandbox = start_sandbox(api_key=KEY, seed=11, time_scale=1.0)
    return started


def register(http: httpx.Client, url: str, events: tuple[str, ...], **extra: Any) -> list[int]:
    ids = []
    for event in events:
        body = {"event": event, "url": f"{url}?event={event}", "secret": SECRET, **extra}
        resp = http.post("/webhooks", json=body)
        assert resp.status_code == 200, resp.text
        ids.append(resp.json()["data"]["id"])
    return ids


ALL = ("message-send", "delivery-status", "message-reply", "number-opt-in")


def test_events_are_signed_and_follow_the_contract(
    sb: sandbox.Sandbox, http: httpx.Client, receiver: Receiver
) -> None:
    register(http, receiver.url, ALL)
    sb.configure(
        imessage_attempt_fail_rate=0.0,
        reply_rate=1.0,
        stop_share=0.0,
        outcomes={"imessage": {"delivered": 1.0}, "sms": {"delivered": 1.0}},
    )
    sb.opt_in("+13125550001", "Acme")  # capable + opted in -> iMessage
    sb.set_capability("+13125550002", False)  # -> SMS fallback
    body = {
        "subscribers": ["+13125550001", "+13125550002"],
        "message": "Hello",
        "senderName": "Acme",
        "externalId": "camp-00001",
        "tags": {"campaign": "camp"},
    }
    message_id = http.post("/send", json=body).json()["data"]["messageId"]
    sb.settle()
    for post in receiver.posts:  # HMAC checked independently of the package
        expected = hmac.new(SECRET.encode(), post["raw"], hashlib.sha256).hexdigest()
        assert post["signature"] == expected
        assert post["query"]["event"] in ALL  # the registered query string is kept
        assert "timestamp" not in post["body"]
        assert post["body"][DATE].endswith("Z")  # V3 by default, dates in UTC
        assert len(post["body"][DATE]) == len("2026-01-01T00:00:00.000Z")
    opt_in = receiver.bodies("MTAWebhook.NUMBER_OPT_IN")
    assert len(opt_in) == 1
    assert opt_in[0]["number"] == "+13125550001"
    assert opt_in[0]["senderName"] == "Acme"
    assert opt_in[0]["optInType"] == "inbound-message"  # the method, not a channel
    sends = {b["destinationNumber"]: b for b in receiver.bodies("MTAWebhook.MESSAGE_SEND")}
    assert set(sends) == {"+13125550001", "+13125550002"}
    assert sends["+13125550001"]["senderName"] == "Acme"
    assert "senderName" not in sends["+13125550002"]  # only iMessage carries it
    for item in sends.values():
        assert item["messageId"] == message_id
        assert item["externalId"] == "camp-00001"
        assert item["tags"] == {"campaign": "camp"}
    replies = {b["fromNumber"]: b for b in receiver.bodies("MTAWebhook.MESSAGE_REPLY")}
    assert replies["+13125550001"]["senderName"] == "Acme"
    assert replies["+13125550001"]["toNumber"] == "+13125550101"  # the identity's longcode
    assert "senderName" not in replies["+13125550002"]
    truth = {r["phone"]: r for r in sb.ground_truth()}
    for phone in truth:
        statuses = [
            b
            for b in receiver.bodies("MTAWebhook.DELIVERY_STATUS")
            if b["destinationNumber"] == phone
        ]
        assert [b["status"] for b in statuses] == [*LIFE, truth[phone]["status_code"]]
        assert STATUS_BY_CODE[statuses[-1]["status"]].key == truth[phone]["status"]
        assert [b[DATE] for b in statuses] == sorted(b[DATE] for b in statuses)
        assert {"senderName" in b for b in statuses} == {truth[phone]["route"] == "imessage"}
        handed_over = sends[phone][DATE]
        assert statuses[0][DATE] <= handed_over == statuses[1][DATE] <= statuses[2][DATE]
    assert truth["+13125550001"]["route"] == "imessage"
    assert truth["+13125550002"]["route"] == "sms"


def _statuses(lines: list[dict[str, Any]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for line in lines:
        body = json.loads(line["raw_body"])
        if line["event"] == "delivery-status":
            out.setdefault(body["destinationNumber"], []).append(body["status"])
    return out


def _log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_life_of_every_recipient_in_the_log_order(tmp_path: Path) -> None:
    log = tmp_path / "hooks.jsonl"
    with (
        sandbox.running(api_key=KEY, seed=3, webhook_log=log) as run,
        httpx.Client(base_url=run.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        phones = [f"+1312555{i:04d}" for i in range(60)]
        http.post("/send", json={"subscribers": phones, "message": "hi", "senderName": "Acme"})
        run.settle()
        truth = {r["phone"]: r["status_code"] for r in run.ground_truth()}
    lines = _log(log)
    assert _statuses(lines) == {p: [*LIFE, truth[p]] for p in phones}
    for phone in phones:  # message-send when handed over: after 1 QUEUED, with 2 SENDING
        mine = [
            (line["event"], json.loads(line["raw_body"]).get("status"))
            for line in lines
            if json.loads(line["raw_body"]).get("destinationNumber") == phone
        ]
        assert mine[:3] == [("delivery-status", 1), ("message-send", None), ("delivery-status", 2)]
    finals = {STATUS_BY_CODE[c].key for c in truth.values()}
    assert "delivered" in finals
    assert len(finals) > 1  # the default outcomes draw failures too


def test_stop_reply_makes_the_next_send_end_in_11(tmp_path: Path) -> None:
    log = tmp_path / "hooks.jsonl"
    with (
        sandbox.running(api_key=KEY, seed=4, webhook_log=log) as run,
        httpx.Client(base_url=run.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        run.configure(reply_rate=1.0, stop_share=1.0, outcomes={"sms": {"delivered": 1.0}})
        http.post("/send", json={"subscribers": ["+13125550001"], "message": "one"})
        run.settle()
        subscriber = http.get("/subscribers/+13125550001").json()["data"]
        assert subscriber["optedOut"] is True
        http.post("/send", json={"subscribers": ["+13125550001", "+13125550002"], "message": "2"})
        run.settle()
        truth = run.ground_truth()
    assert [(r["phone"], r["status"], r["status_code"]) for r in truth] == [
        ("+13125550001", "delivered", 4),
        ("+13125550001", "stopped_number", 11),
        ("+13125550002", "delivered", 4),
    ]
    lines = _log(log)
    replies = [json.loads(x["raw_body"]) for x in lines if x["event"] == "message-reply"]
    assert [(r["fromNumber"], r["message"]) for r in replies] == [
        ("+13125550001", "STOP"),
        ("+13125550002", "STOP"),
    ]
    assert _statuses(lines)["+13125550001"] == [*LIFE, 4, *LIFE, 11]


def test_failed_posts_are_retried_when_retry_on_error(sb: sandbox.Sandbox) -> None:
    rec = Receiver(fail_first=3, fail_status=503)
    with (
        serve_in_thread(rec.app()) as port,
        httpx.Client(base_url=sb.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        rec.url = f"http://127.0.0.1:{port}/hook"
        register(http, rec.url, ("message-send",), retryOnError=True)
        http.post("/send", json={"subscribers": ["+13125550001"], "message": "hi"})
        sb.settle()
    assert rec.attempts == 4
    assert len(rec.posts) == 1


def test_no_retry_without_retry_on_error_and_alerts(sb: sandbox.Sandbox) -> None:
    rec = Receiver(fail_first=1, fail_status=500)
    with (
        serve_in_thread(rec.app()) as port,
        httpx.Client(base_url=sb.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        rec.url = f"http://127.0.0.1:{port}/hook"
        register(
            http,
            rec.url,
            ("message-send",),
            retryOnError=False,
            sendAlertEmail=True,
            alertEmail="ops@example.com",
        )
        http.post("/send", json={"subscribers": ["+13125550001"], "message": "hi"})
        sb.settle()
        alerts = http.get(sb.root_url + "/_sandbox/alerts").json()["data"]
    assert rec.attempts == 1
    assert rec.posts == []
    assert alerts[0]["email"] == "ops@example.com"
    assert alerts[0]["status"] == 500


@pytest.mark.parametrize("skip", [{"skipErrors": True}, {"skipErrorCodes": ["500"]}])
def test_skipped_errors_are_not_retried(sb: sandbox.Sandbox, skip: dict[str, Any]) -> None:
    rec = Receiver(fail_first=1, fail_status=500)
    with (
        serve_in_thread(rec.app()) as port,
        httpx.Client(base_url=sb.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        rec.url = f"http://127.0.0.1:{port}/hook"
        register(http, rec.url, ("message-send",), retryOnError=True, **skip)
        http.post("/send", json={"subscribers": ["+13125550001"], "message": "hi"})
        sb.settle()
    assert rec.attempts == 1


def test_unreachable_url_gives_up_after_max_attempts(sb: sandbox.Sandbox) -> None:
    from mta_notebook._server import free_port

    with httpx.Client(base_url=sb.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        register(http, f"http://127.0.0.1:{free_port()}/gone", ("message-send",))
        http.post("/send", json={"subscribers": ["+13125550001"], "message": "hi"})
        sb.settle()
        assert sb.app.dispatcher.posts_made == sb.state.config.webhook_max_attempts


def test_webhook_log_is_written_in_the_receiver_format(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "hooks.jsonl"
    with (
        sandbox.running(api_key=KEY, seed=2, webhook_log=log) as run,
        httpx.Client(base_url=run.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        run.configure(reply_rate=1.0, stop_share=0.5, outcomes={"sms": {"delivered": 1.0}})
        phones = [f"+1312555{i:04d}" for i in range(30)]
        http.post("/send", json={"subscribers": phones, "message": "hi", "externalId": "e-1"})
        run.settle()
    lines = _log(log)
    secret = "sandbox-webhook-secret"  # no webhook registered: the config's log secret
    for line in lines:
        assert set(line) == {"received_at", "event", "headers", "raw_body"}
        expected = hmac.new(secret.encode(), line["raw_body"].encode(), hashlib.sha256)
        assert line["headers"]["X-Signature"] == expected.hexdigest()
    events = [line["event"] for line in lines]
    assert events.count("message-send") == 30
    assert events.count("delivery-status") == 30 * 4
    replies = [json.loads(line["raw_body"]) for line in lines if line["event"] == "message-reply"]
    assert len(replies) == 30  # reply_rate 1 and every message delivered
    stops = [r for r in replies if r["message"] == "STOP"]
    assert 5 <= len(stops) <= 25
    assert {r["toNumber"] for r in replies} == {"+13125550100"}  # no identity: plain longcode
    assert all(r["externalId"] == "e-1" and r["replyId"] for r in replies)


def test_duplicate_and_reorder_faults(
    sb: sandbox.Sandbox, http: httpx.Client, receiver: Receiver
) -> None:
    register(http, receiver.url, ("delivery-status",))
    sb.set_faults(webhook_duplicate=1.0)
    http.post("/send", json={"subscribers": ["+13125550001"], "message": "a"})
    sb.settle()
    raws = [p["raw"] for p in receiver.posts]
    assert len(raws) == 8
    assert raws[0::2] == raws[1::2]  # each post twice, byte for byte
    assert len(set(raws)) == 4
    receiver.posts.clear()
    sb.set_faults(webhook_duplicate=0.0, webhook_reorder=1.0)
    sb.configure(outcomes={"sms": {"delivered": 1.0}})
    http.post("/send", json={"subscribers": ["+13125550001"], "message": "b"})
    sb.settle()
    # every event is delayed by the same amount, so they keep their order ...
    assert [b["status"] for b in receiver.bodies()] == [*LIFE, 4]
    receiver.posts.clear()
    sb.set_faults(webhook_reorder=0.5)
    phones = [f"+1312555{i:04d}" for i in range(40)]
    http.post("/send", json={"subscribers": phones, "message": "c"})
    sb.settle()
    # ... but with some delayed, some later statuses arrive before their 1 QUEUED
    first_seen: dict[str, int] = {}
    for body in receiver.bodies():
        first_seen.setdefault(body["destinationNumber"], body["status"])
    assert 1 in first_seen.values()
    assert set(first_seen.values()) - {1}
    assert len(receiver.posts) == 40 * 4


def test_webhook_crud_and_validation(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    created = http.post(
        "/webhooks",
        json={
            "event": "delivery-status",
            "url": "http://127.0.0.1:9/x?event=delivery-status",
            "secret": SECRET,
            "retryOnError": False,
            "skipErrorCodes": [404],
        },
    ).json()["data"]
    assert created["event"] == "delivery-status"
    assert created["retryOnError"] is False
    assert created["skipErrorCodes"] == ["404"]
    assert "secret" not in created
    listed = http.get("/webhooks").json()["data"]
    assert [w["id"] for w in listed["rows"]] == [created["id"]]
    assert SECRET not in http.get("/webhooks").text
    patched = http.patch(f"/webhooks/{created['id']}", json={"retryOnError": True}).json()
    assert patched["data"]["retryOnError"] is True
    assert http.delete(f"/webhooks/{created['id']}").status_code == 200
    assert http.get("/webhooks").json()["data"]["total"] == 0
    assert http.delete(f"/webhooks/{created['id']}").status_code == 404
    bad = [
        {"event": "nope", "url": "http://x.test/", "secret": "s"},
        {"event": "message-send", "url": "ftp://x.test/", "secret": "s"},
        {"event": "message-send", "url": "http://x.test/"},
        {"event": "message-send", "url": "http://x.test/", "secret": "s", "skipErrors": "y"},
    ]
    for body in bad:
        resp = http.post("/webhooks", json=body)
        assert resp.status_code == 400, body
        assert resp.json()["httpCode"] == 400
    assert SECRET not in repr(sb.state.webhooks)


def test_opt_in_validation(http: httpx.Client, sb: sandbox.Sandbox) -> None:
    resp = http.post(sb.root_url + "/_sandbox/opt-in", json={"phone": "x", "sender_name": "Acme"})
    assert resp.status_code == 400
    resp = http.post(
        sb.root_url + "/_sandbox/opt-in", json={"phone": "+13125550001", "sender_name": "Zed"}
    )
    assert resp.status_code == 400


# -- payload versions and date formats -----------------------------------------------------------
def _instant(value: Any, date_format: str) -> datetime:
    """A body's date read without the package's own parser, checking the exact format."""
    local = ZoneInfo(NAIVE_TIMEZONE)
    if date_format == "epoch":
        assert type(value) in (int, float)
        return datetime.fromtimestamp(value, timezone.utc)
    assert isinstance(value, str)
    if date_format == "utc":
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value), value
        return datetime.fromisoformat(value[:-1] + "+00:00")
    if date_format == "offset":
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0[56]:00", value), value
        when = datetime.fromisoformat(value)
        assert when.utcoffset() == local.utcoffset(when.replace(tzinfo=None))
        return when
    assert date_format == "naive"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value), value
    return datetime.fromisoformat(value).replace(tzinfo=local)


VERSION_FORMATS = [
    ("V1", "utc"),
    ("V1", "epoch"),
    *[(v, f) for v in ("V2", "V3") for f in ("utc", "offset", "naive", "epoch")],
]


@pytest.mark.parametrize(("version", "date_format"), VERSION_FORMATS)
def test_payload_version_and_date_format_in_the_log_and_in_posts(
    tmp_path: Path, version: str, date_format: str
) -> None:
    log = tmp_path / "hooks.jsonl"
    rec = Receiver()
    config = {
        "payload_version": version,
        "webhook_date_format": date_format,
        "imessage_attempt_fail_rate": 0.0,
        "reply_rate": 1.0,
        "stop_share": 0.0,
        "outcomes": {"imessage": {"delivered": 1.0}, "sms": {"delivered": 1.0}},
    }
    with (
        serve_in_thread(rec.app()) as port,
        sandbox.running(api_key=KEY, config=config, webhook_log=log) as run,
        httpx.Client(base_url=run.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http,
    ):
        register(http, f"http://127.0.0.1:{port}/hook", ALL)
        before = datetime.now(timezone.utc)
        run.opt_in("+13125550001", "Acme", opt_in_type="deeplink")
        body = {"subscribers": ["+13125550001", "+13125550002"], "message": "hi"}
        http.post("/send", json={**body, "senderName": "Acme"})
        sent = datetime.now(timezone.utc)
        run.settle()
    logged = [line["raw_body"].encode() for line in _log(log)]
    posted = [p["raw"] for p in rec.posts]
    assert sorted(logged) == sorted(posted)  # the same bytes to the log and to a receiver
    bodies = [json.loads(raw) for raw in posted]
    assert len(bodies) == 1 + 2 + 2 * 4 + 2  # opt-in, sends, 1-2-3-final each, replies
    opt_in = [b for b in bodies if b["type"] == "MTAWebhook.NUMBER_OPT_IN"]
    assert [b["optInType"] for b in opt_in] == ["deeplink"]
    for item in bodies:
        assert "timestamp" not in item
        if not PAYLOAD_VERSIONS[version].date_fields:
            assert not set(DATE_FIELDS) & set(item)  # V1: no date at all
            continue
        when = _instant(item[DATE], date_format)
        floor = before.replace(microsecond=0) if date_format == "naive" else before
        assert floor - timedelta(milliseconds=1) <= when
        assert when <= sent + timedelta(seconds=60)  # at most reply_after_s * 1.5 later
        if item.get("status") == 1:  # queued when /send answered
            assert when <= sent + timedelta(milliseconds=1)


def test_payload_version_per_registered_webhook(
    sb: sandbox.Sandbox, http: httpx.Client, receiver: Receiver
) -> None:
    ids = {}
    for v in ("V1", "V2", "V3"):
        hook = {"event": "delivery-status", "url": f"{receiver.url}?v={v}", "secret": SECRET}
        ids[v] = http.post("/webhooks", json=hook).json()["data"]["id"]
    sb.set_payload_version(ids["V1"], "V1")
    sb.set_payload_version(ids["V2"], "V2")  # V3: the config's default
    assert sb.state.config.payload_version == DEFAULT_PAYLOAD_VERSION == "V3"  # documented
    http.post("/send", json={"subscribers": ["+13125550001"], "message": "hi"})
    sb.settle()
    raw: dict[str, list[bytes]] = {}
    for post in receiver.posts:
        raw.setdefault(post["query"]["v"], []).append(post["raw"])
    assert {v: len(r) for v, r in raw.items()} == {"V1": 4, "V2": 4, "V3": 4}
    for v1, v3 in zip(raw["V1"], raw["V3"], strict=True):
        dated = json.loads(v3)
        del dated[DATE]
        assert json.loads(v1) == dated  # V1: the same body without its date
    assert raw["V2"] == raw["V3"]  # V2 and V3 differ in fields nobody could read
    listed = http.get("/webhooks").json()["data"]["rows"]
    assert not any("version" in key.lower() for row in listed for key in row)
    admin = sb.root_url + "/_sandbox/payload-version"
    assert http.post(admin, json={"webhookId": ids["V1"], "version": "V9"}).status_code == 400
    assert http.post(admin, json={"webhookId": 999, "version": "V1"}).status_code == 400
    sb.set_payload_version(ids["V1"], None)
    assert sb.state.webhooks[ids["V1"]].payload_version is None


def test_opt_in_types_are_methods(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    resp = http.post(
        sb.root_url + "/_sandbox/opt-in",
        json={"phone": "+13125550001", "sender_name": "Acme", "opt_in_type": "imessage"},
    )
    assert "opt_in_type" in resp.json()["message"]
    assert resp.status_code == 400
