"""The sandbox over loopback with plain httpx: auth, headers, /send, routing, limits, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mta_notebook import sandbox
from mta_notebook.contract import limits
from mta_notebook.contract.statuses import STATUS_BY_CODE
from mta_notebook.sandbox import ratelimit
from mta_notebook.sandbox.ratelimit import RateLimiter, bucket_for
from mta_notebook.sandbox.routing import draw

KEY = "test-key-123"
RATE_HEADERS = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
ERROR_KEYS = {"httpCode", "message", "timestamp", "type", "name", "requestId"}


@pytest.fixture
def sb() -> Iterator[sandbox.Sandbox]:
    with sandbox.running(api_key=KEY, seed=7, time_scale=1.0) as running:
        yield running


def client(run: sandbox.Sandbox) -> httpx.Client:
    """A plain httpx client for ``run`` (creating one per request is slow: SSL setup)."""
    return httpx.Client(
        base_url=run.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )


@pytest.fixture
def http(sb: sandbox.Sandbox) -> Iterator[httpx.Client]:
    with client(sb) as c:
        yield c


def assert_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert set(body) >= ERROR_KEYS
    assert body["httpCode"] == status
    assert body["requestId"] == resp.headers["X-Request-ID"]
    assert body["timestamp"].endswith("Z")
    return body


def assert_headers(resp: httpx.Response) -> None:
    assert resp.headers["X-Request-ID"]
    for name in RATE_HEADERS:
        assert int(resp.headers[name]) >= 0, name


# -- running, auth, headers --------------------------------------------------------------------
def test_running_exposes_urls_and_hides_the_key(sb: sandbox.Sandbox) -> None:
    assert sb.base_url == sb.root_url + "/v3"
    assert sb.root_url.startswith("http://127.0.0.1:")
    assert sb.api_key == KEY
    assert KEY not in repr(sb)
    assert KEY not in repr(sb.state)
    page = sb._repr_html_()
    assert sb.base_url in page
    assert KEY not in page


def test_verify_api_key(http: httpx.Client) -> None:
    resp = http.get("/auth/verify-api-key")
    assert resp.status_code == 200
    assert resp.json()["data"]["email"]
    assert resp.json()["message"] == "API Key verified"
    assert_headers(resp)


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic abc", f"bearer{KEY}"])
def test_bad_or_missing_key_is_401_with_mta_error_body(
    sb: sandbox.Sandbox, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = httpx.get(sb.base_url + "/auth/verify-api-key", headers=headers)
    body = assert_error(resp, 401)
    assert body["name"] == "UnauthorizedError"
    assert KEY not in resp.text
    assert_headers(resp)
    admin = httpx.get(sb.root_url + "/_sandbox/ground-truth", headers=headers)
    assert_error(admin, 401)


def test_every_answer_carries_request_id_and_rate_headers(http: httpx.Client) -> None:
    answers = [
        http.get("/auth/verify-api-key"),
        http.post("/send", json={}),
        http.get("/no-such-endpoint"),
        http.get("/subscribers"),
        http.get("/deliveries", params={"pageSize": 5000}),
    ]
    assert [r.status_code for r in answers] == [200, 400, 404, 200, 400]
    for resp in answers:
        assert_headers(resp)
    ids = {r.headers["X-Request-ID"] for r in answers}
    assert len(ids) == len(answers)
    assert_error(answers[2], 404)


# -- /send -------------------------------------------------------------------------------------
def test_send_answers_one_message_id_per_call(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    body = {"subscribers": ["+13125550001", "3125550002", 13125550003], "message": "Hello"}
    first = http.post("/send", json=body)
    second = http.post("/send", json=body)
    assert first.status_code == 200
    payload = first.json()
    assert payload["success"] is True
    assert isinstance(payload["message"], str)
    data = payload["data"]
    assert data == {
        "messageId": data["messageId"],
        "totalSent": 3,
        "totalFailedInternationalRecipients": 0,
    }
    assert second.json()["data"]["messageId"] != data["messageId"]
    rows = sb.ground_truth()
    assert len(rows) == 6
    assert {r["phone"] for r in rows} == {"+13125550001", "+13125550002", "+13125550003"}
    assert all(r["times_received"] == 2 for r in rows)  # the same text twice is visible


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"message": "hi"}, "recipient"),
        ({"subscribers": ["+13125550001"]}, "message, image or templateId"),
        ({"subscribers": ["+13125550001"], "message": "x", "senderName": "Nope"}, "senderName"),
        ({"subscribers": ["+13125550001"], "message": "x", "longcodeId": 999}, "longcodeId"),
        (
            {"subscribers": ["+13125550001"], "message": "x" * 1551, "isMMS": True},
            "Character Limit Exceeded",
        ),
        ({"allSubscribers": True, "subscribers": ["+13125550001"], "message": "x"}, "combined"),
        ({"subscribers": ["not-a-phone"], "message": "x"}, "subscribers[0]"),
        ({"subscriberIds": [12345], "message": "x"}, "subscriberIds"),
        ({"groups": [77], "message": "x"}, "groups"),
        ({"subscribers": ["+13125550001"], "message": "x", "scheduledDate": "soon"}, "ISO"),
        ({"subscribers": ["+13125550001"], "message": "x", "tags": ["a"]}, "tags"),
        ({"subscribers": ["+13125550001"], "templateId": 42}, "templateId"),
    ],
)
def test_send_validation_errors(
    sb: sandbox.Sandbox, http: httpx.Client, body: dict[str, Any], fragment: str
) -> None:
    resp = http.post("/send", json=body)
    err = assert_error(resp, 400)
    assert fragment in err["message"]
    assert sb.ground_truth() == []
    assert sb.state.subscribers == {}  # a rejected send creates nobody


def test_send_rejects_malformed_json(http: httpx.Client) -> None:
    resp = http.post("/send", content=b"{not json", headers={"Content-Type": "application/json"})
    assert "not valid JSON" in assert_error(resp, 400)["message"]


def test_content_limits_are_the_contracts(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    one = ["+13125550001"]
    sms_max, mms_max = limits.SMS_MAX_CHARS, limits.MMS_MAX_CHARS
    assert http.post("/send", json={"subscribers": one, "message": "x" * sms_max}).is_success
    mms = {"subscribers": one, "message": "x" * mms_max, "isMMS": True}
    assert http.post("/send", json=mms).is_success
    image = {"subscribers": one, "message": "x" * mms_max, "image": "https://e.test/a.png"}
    assert http.post("/send", json=image).is_success
    assert len(sb.ground_truth()) == 3


def test_sms_over_160_reject_answers_mtas_error_and_changes_nothing(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    sb.configure(sms_over_160="reject")  # the contract's default today
    http.post("/subscribers", json={"e164Number": "+13125550003", "firstName": "F" * 158})
    http.post("/send", json={"subscribers": ["+13125550004"], "message": "before"})
    before = (len(sb.state.subscribers), len(sb.ground_truth()))
    long = {"subscribers": ["+13125550001"], "message": "y" * 161}
    err = assert_error(http.post("/send", json=long), 400)
    assert err["message"].startswith("Character Limit Exceeded")
    assert err["name"] == "BadRequestError"
    # a short message whose text for one recipient is too long once filled in
    filled = {
        "subscribers": ["+13125550001", "+13125550002"],
        "message": "Hi {{name}}!",
        "properties": {"+13125550002": {"name": "n" * 160}},
    }
    err = assert_error(http.post("/send", json=filled), 400)
    assert "Character Limit Exceeded" in err["message"]
    assert "+13125550002" in err["message"]
    by_field = {"subscribers": ["+13125550003"], "message": "Hi {{firstName}} :)"}
    assert (
        "Character Limit Exceeded"
        in assert_error(http.post("/send", json=by_field), 400)["message"]
    )
    assert (len(sb.state.subscribers), len(sb.ground_truth())) == before  # nobody created


def test_sms_over_160_segments_accepts_and_bills_per_segment(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    sb.configure(sms_over_160="segments")
    sb.set_capability("+13125550002", False)
    phone = ["+13125550002"]
    for message in ("y" * 161, "y" * 306, "y" * 307, "😀" * 40):
        assert http.post("/send", json={"subscribers": phone, "message": message}).is_success
    usage = http.get(sb.root_url + "/_sandbox/usage").json()["data"]
    # GSM-7: 153 per segment once concatenated; UCS-2: 67 units (an emoji takes two)
    assert usage["creditsByRoute"] == {"sms": 2 + 2 + 3 + 2}
    too_long = {"subscribers": phone, "message": "y" * 1551}
    assert (
        "Character Limit Exceeded"
        in assert_error(http.post("/send", json=too_long), 400)["message"]
    )


def test_properties_render_placeholders_per_phone(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    http.post("/subscribers", json={"e164Number": "+13125550003", "firstName": "Cy"})
    body = {
        "subscribers": ["+13125550001", "+13125550002", "+13125550003"],
        "message": "Hi {{ name }}, code {{code}} ({{firstName}})",
        "properties": {"3125550001": {"name": "Ann", "code": "A1"}, "+13125550002": {"name": "Bo"}},
        "externalId": "camp-00001",
        "tags": {"campaign": "camp"},
    }
    assert http.post("/send", json=body).status_code == 200
    texts = {r["phone"]: r["text"] for r in sb.ground_truth()}
    assert texts == {
        "+13125550001": "Hi Ann, code A1 ()",
        "+13125550002": "Hi Bo, code  ()",
        "+13125550003": "Hi , code  (Cy)",
    }
    assert {r["external_id"] for r in sb.ground_truth()} == {"camp-00001"}


def test_templates_and_mms(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    resp = http.post("/send", json={"subscribers": ["+13125550001"], "templateId": 1})
    assert resp.status_code == 200
    assert sb.ground_truth()[0]["text"].startswith("Hi ")
    image = {"subscribers": ["+13125550001"], "image": "https://example.com/a.png"}
    assert http.post("/send", json=image).status_code == 200
    sb.settle()
    mms = http.get("/deliveries", params={"filters[type]": "mms"}).json()["data"]
    assert mms["total"] == 1


def test_usage_counts_credits(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    sb.configure(imessage_attempt_fail_rate=0.0)
    sb.set_capability("+13125550002", False)
    sb.opt_in("+13125550005", "Acme")
    http.post("/send", json={"subscribers": ["+13125550002"], "message": "y" * 160})
    http.post("/send", json={"subscribers": ["+13125550002"], "image": "https://e.test/a.png"})
    imessage = {"subscribers": ["+13125550005"], "message": "z" * 150, "senderName": "Acme"}
    http.post("/send", json=imessage)
    usage = http.get(sb.root_url + "/_sandbox/usage").json()["data"]
    assert usage == {
        "messages": 3,
        "recipients": 3,
        "credits": 1 + 3 + 1,
        "creditsByRoute": {"sms": 1 + 3, "imessage": 1},
    }


@pytest.mark.parametrize(("rule", "billed"), [("as-sms", 2), (1, 1)])
def test_usage_bills_imessage_by_the_assumed_rule(
    sb: sandbox.Sandbox, http: httpx.Client, rule: object, billed: int
) -> None:
    # MTA does not document iMessage billing (contract.assumptions.IMESSAGE_CREDITS): the
    # sandbox plays both sides, a 2-segment iMessage billed as its SMS or flat.
    sb.configure(imessage_attempt_fail_rate=0.0, sms_over_160="segments", imessage_credits=rule)
    sb.opt_in("+13125550005", "Acme")
    body = {"subscribers": ["+13125550005"], "message": "z" * 200, "senderName": "Acme"}
    assert http.post("/send", json=body).status_code == 200
    usage = http.get(sb.root_url + "/_sandbox/usage").json()["data"]
    assert usage["creditsByRoute"] == {"imessage": billed}


def test_imessage_credits_config_is_checked() -> None:
    with pytest.raises(ValueError, match="imessage_credits='flat'"):
        sandbox.SandboxConfig.from_mapping({"imessage_credits": "flat"})


def test_template_only_account_gets_403_with_reason() -> None:
    with sandbox.running(api_key=KEY, config={"template_only": True}) as sb2:
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {"subscribers": ["+13125550001"], "message": "free text"}
        resp = httpx.post(sb2.base_url + "/send", json=body, headers=headers)
        err = assert_error(resp, 403)
        assert err["reason"] == "TEMPLATE_ONLY"
        ok = httpx.post(
            sb2.base_url + "/send",
            json={"subscribers": ["+13125550001"], "templateId": 1},
            headers=headers,
        )
        assert ok.status_code == 200


def test_international_recipients_are_counted_as_failed(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    body = {"subscribers": ["+13125550001", "+447700900123"], "message": "hi"}
    data = http.post("/send", json=body).json()["data"]
    assert data["totalSent"] == 1
    assert data["totalFailedInternationalRecipients"] == 1
    assert [r["phone"] for r in sb.ground_truth()] == ["+13125550001"]


def test_duplicate_recipients_in_one_call_get_one_row(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    body = {"subscribers": ["+13125550001", "3125550001", "(312) 555-0001"], "message": "hi"}
    assert http.post("/send", json=body).json()["data"]["totalSent"] == 1
    assert len(sb.ground_truth()) == 1


def test_scheduled_send_waits_until_settled(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    body = {
        "subscribers": ["+13125550001"],
        "message": "later",
        "scheduledDate": "20991231T120000-0000",
    }
    resp = http.post("/send", json=body)
    assert resp.status_code == 200
    assert "scheduled" in resp.json()["message"]
    assert sb.ground_truth()[0]["status"] == "scheduled"
    assert http.get("/deliveries").json()["data"]["total"] == 0
    assert sb.ground_truth()[0]["status_code"] is None
    sb.settle()
    final = sb.ground_truth()[0]
    assert STATUS_BY_CODE[final["status_code"]].is_final
    assert final["status"] == STATUS_BY_CODE[final["status_code"]].key
    assert http.get("/deliveries").json()["data"]["total"] == 1


def test_status_progresses_from_queued_to_a_documented_final_on_settle(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    phones = [f"+1312555{i:04d}" for i in range(40)]
    http.post("/send", json={"subscribers": phones, "message": "hi"})
    queued = sb.ground_truth()
    assert {(r["status"], r["status_code"]) for r in queued} == {("queued", 1)}
    sb.settle()
    finals = sb.ground_truth()
    for row in finals:
        status = STATUS_BY_CODE[row["status_code"]]
        assert status.is_final, row
        assert row["status"] == status.key
    codes = {r["status_code"] for r in finals}
    assert 4 in codes  # most are delivered
    assert codes <= set(range(4, 14))


def test_time_scale_makes_status_progress_fast() -> None:
    with sandbox.running(api_key=KEY, time_scale=1000.0) as fast:
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {"subscribers": ["+13125550001"], "message": "hi"}
        httpx.post(fast.base_url + "/send", json=body, headers=headers)
        # final_after_s is at most 7.5 s, i.e. 7.5 ms at this scale; no settle() here
        deadline = time.monotonic() + 5
        while fast.ground_truth()[0]["status_code"] < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert STATUS_BY_CODE[fast.ground_truth()[0]["status_code"]].is_final


# -- routing -----------------------------------------------------------------------------------
def _route(http: httpx.Client, sb: sandbox.Sandbox, phone: str, **fields: Any) -> str:
    before = len(sb.ground_truth())
    resp = http.post("/send", json={"subscribers": [phone], "message": "r", **fields})
    assert resp.status_code == 200, resp.text
    rows = sb.ground_truth()[before:]
    assert len(rows) == 1
    return str(rows[0]["route"])


def test_capable_and_opted_in_gets_imessage_others_fall_back(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    sb.configure(imessage_attempt_fail_rate=0.0)
    phone = "+13125550042"
    sb.set_capability(phone, True)
    sb.opt_in(phone, "Acme")
    assert _route(http, sb, phone, senderName="Acme") == "imessage"
    assert _route(http, sb, phone, longcodeId=101) == "imessage"  # the identity on longcode 101
    assert _route(http, sb, phone) == "sms"  # no identity
    assert _route(http, sb, phone, longcodeId=100) == "sms"  # plain longcode
    # opted in to Acme only, not to Acme Deals
    http.post(sb.root_url + "/_sandbox/capability", json={"phone": phone, "imessage": True})
    httpx.post(
        sb.root_url + "/_sandbox/capability",
        json={"phone": phone, "imessage": True, "opted_in": {"Acme Deals": False}},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert _route(http, sb, phone, senderName="Acme Deals") == "sms"
    sb.set_capability(phone, False)  # not capable any more
    assert _route(http, sb, phone, senderName="Acme") == "sms"
    rows = sb.ground_truth()
    assert rows[0]["sender_name"] == "Acme"
    assert rows[1]["sender_name"] == "Acme"
    assert rows[2]["sender_name"] is None


def test_disabled_identity_and_route_down_fall_back_to_sms(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    sb.configure(imessage_attempt_fail_rate=0.0)
    phone = "+13125550043"
    sb.opt_in(phone, "Legacy Brand")
    sb.opt_in(phone, "Acme")
    assert _route(http, sb, phone, senderName="Legacy Brand") == "sms"
    sb.set_identities([{"name": "Legacy Brand", "longcodeId": 103, "number": "+13125550103"}])
    assert _route(http, sb, phone, senderName="Legacy Brand") == "imessage"
    sb.configure(imessage_route_up=False)
    assert _route(http, sb, phone, senderName="Acme") == "sms"


def test_failed_imessage_attempt_falls_back_with_one_route(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    sb.configure(imessage_attempt_fail_rate=1.0)
    phone = "+13125550044"
    sb.opt_in(phone, "Acme")
    assert _route(http, sb, phone, senderName="Acme") == "sms"


def test_seeded_capability_and_opt_in_rates(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    sb.configure(imessage_capable=0.5, opt_in_rate=0.5, imessage_attempt_fail_rate=0.0)
    phones = [f"+1312555{i:04d}" for i in range(400)]
    http.post("/send", json={"subscribers": phones, "message": "m", "senderName": "Acme"})
    routes = [r["route"] for r in sb.ground_truth()]
    share = routes.count("imessage") / len(routes)
    expected = [draw(7, "capable", p) < 0.5 and draw(7, "opt-in", p, "Acme") < 0.5 for p in phones]
    assert routes == ["imessage" if e else "sms" for e in expected]
    assert 0.15 < share < 0.35


def _truth_of_run(seed: int, order: list[str]) -> dict[str, tuple[str, str]]:
    with sandbox.running(api_key=KEY, seed=seed) as run, client(run) as c:
        for phone in order:
            c.post("/send", json={"subscribers": [phone], "message": "m", "senderName": "Acme"})
        run.settle()
        return {r["phone"]: (r["route"], r["status"]) for r in run.ground_truth()}


def test_draws_are_deterministic_per_seed() -> None:
    phones = [f"+1312555{i:04d}" for i in range(20)]
    one = _truth_of_run(3, phones)
    assert one == _truth_of_run(3, phones)
    routes_other_seed = {p: v[0] for p, v in _truth_of_run(4, phones).items()}
    assert routes_other_seed != {p: v[0] for p, v in one.items()}


# -- rate limits -------------------------------------------------------------------------------
def test_send_rate_limit_is_25_per_window_with_429_headers(http: httpx.Client) -> None:
    body = {"subscribers": ["+13125550001"], "message": "hi"}
    answers = [http.post("/send", json=body) for _ in range(26)]
    assert [r.status_code for r in answers[:25]] == [200] * 25
    assert [int(r.headers["RateLimit-Remaining"]) for r in answers[:3]] == [24, 23, 22]
    last = answers[25]
    err = assert_error(last, 429)
    assert err["name"] == "RateLimitError"
    assert last.headers["RateLimit-Limit"] == "25"
    assert last.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < float(last.headers["Retry-After"]) <= 15
    assert 0 < int(last.headers["RateLimit-Reset"]) <= 15000
    # other buckets are separate
    assert http.get("/auth/verify-api-key").status_code == 200


def test_subscriber_and_general_limits() -> None:
    with sandbox.running(api_key=KEY) as run, client(run) as c:
        subs = [c.get("/subscribers") for _ in range(16)]
        assert [r.status_code for r in subs] == [200] * 15 + [429]
        assert subs[0].headers["RateLimit-Limit"] == "15"
        general = [c.get("/dedicated-numbers") for _ in range(31)]
        assert [r.status_code for r in general] == [200] * 30 + [429]
        assert general[0].headers["RateLimit-Limit"] == "30"
        bulk = c.post("/subscribers/bulk", json=[])
        assert bulk.headers["RateLimit-Limit"] == "15"
        assert bulk.headers["RateLimit-Remaining"] == "14"


def test_rate_window_runs_time_scale_faster() -> None:
    with sandbox.running(api_key=KEY, time_scale=3.0) as run, client(run) as c:
        body = {"subscribers": ["+13125550001"], "message": "x"}
        answers = [c.post("/send", json=body) for _ in range(26)]  # window: 15 s / 3 = 5 s
        assert [r.status_code for r in answers] == [200] * 25 + [429]
        retry_after = float(answers[-1].headers["Retry-After"])
        assert 0 < retry_after <= 5
        assert 0 < int(answers[-1].headers["RateLimit-Reset"]) <= 5000
        time.sleep(retry_after + 0.01)
        again = c.post("/send", json=body)
        assert again.status_code == 200
        assert again.headers["RateLimit-Remaining"] == "24"


def test_rate_limiter_windows_exactly_with_a_fake_clock() -> None:
    now = [100.0]
    limiter = RateLimiter(time_scale=1000.0, clock=lambda: now[0])
    infos = [limiter.hit("a", "send") for _ in range(26)]
    assert [i.allowed for i in infos] == [True] * 25 + [False]
    assert infos[-1].headers()["Retry-After"] == "0.015"
    assert infos[-1].headers()["RateLimit-Reset"] == "15"
    now[0] += 0.010
    assert limiter.hit("a", "send").headers()["RateLimit-Reset"] == "5"
    assert limiter.hit("b", "send").allowed  # per account
    now[0] += 0.005
    fresh = limiter.hit("a", "send")  # a new window anchored at this request
    assert fresh.allowed
    assert fresh.remaining == 24
    assert fresh.headers()["RateLimit-Reset"] == "15"
    assert bucket_for("POST", "/send") == "send"
    assert bucket_for("GET", "/subscribers/12") == "subscribers"
    assert bucket_for("POST", "/subscribers/bulk") == "subscribers_bulk"
    assert bucket_for("POST", "/groups/4/subscribers/bulk-create") == "groups_bulk"
    assert bucket_for("GET", "/deliveries") == "default"
    assert bucket_for("GET", "/_sandbox/ground-truth") == "admin"


def test_rate_limits_are_the_contracts_table() -> None:
    assert ratelimit.RATE_LIMITS is limits.RATE_LIMITS
    assert ratelimit.rate_family is limits.rate_family
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    for family, rule in limits.RATE_LIMITS.items():
        answers = [limiter.hit("a", family).allowed for _ in range(rule.requests + 1)]
        assert answers == [True] * rule.requests + [False], family


def test_groups_bulk_is_5_per_15_s_and_admin_is_unlimited(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    gid = http.post("/groups", json={"name": "G"}).json()["data"]["id"]
    bulk = [
        http.post(f"/groups/{gid}/subscribers/bulk-create", json={"subscriberIds": []})
        for _ in range(6)
    ]
    assert [r.status_code for r in bulk] == [200] * 5 + [429]
    assert bulk[0].headers["RateLimit-Limit"] == "5"
    admin = [http.get(sb.root_url + "/_sandbox/ground-truth") for _ in range(40)]
    assert {r.status_code for r in admin} == {200}
    assert "RateLimit-Limit" not in admin[-1].headers


# -- faults ------------------------------------------------------------------------------------
def test_error_before_does_not_take_effect(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    sb.set_faults(error_before=1.0)
    resp = http.post("/send", json={"subscribers": ["+13125550001"], "message": "x"})
    assert_error(resp, 500)
    assert sb.ground_truth() == []
    assert http.get("/auth/verify-api-key").status_code == 200  # faults hit /send by default


def test_error_after_takes_effect(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    sb.set_faults(error_after=1.0)
    resp = http.post("/send", json={"subscribers": ["+13125550001"], "message": "x"})
    assert "took effect" in assert_error(resp, 500)["message"]
    assert len(sb.ground_truth()) == 1
    invalid = http.post("/send", json={"message": "no recipients"})
    assert_error(invalid, 400)  # nothing took effect: the real answer goes out
    sb.set_faults(error_after=0.0, drop_after=1.0)
    assert_error(http.post("/send", json={"message": "no recipients"}), 400)


def test_concurrent_sends_get_distinct_ids_and_rows(sb: sandbox.Sandbox) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> int:
        with client(sb) as c:
            body = {"subscribers": [f"+1312555{i:04d}"], "message": "m", "externalId": f"e{i}"}
            return int(c.post("/send", json=body).json()["data"]["messageId"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(one, range(20)))
    assert len(set(ids)) == 20
    rows = {r["external_id"]: r["message_id"] for r in sb.ground_truth()}
    assert rows == {f"e{i}": mid for i, mid in enumerate(ids)}


def test_drop_after_closes_connection_after_taking_effect(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    sb.set_faults(drop_after=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post("/send", json={"subscribers": ["+13125550001"], "message": "x"})
    assert len(sb.ground_truth()) == 1
    sb.set_faults(drop_after=0.0)
    assert http.post("/send", json={"subscribers": ["+13125550001"], "message": "x"}).is_success
    assert [r["times_received"] for r in sb.ground_truth()] == [2, 2]


def test_latency_and_paths_and_burst(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    sb.set_faults(latency_ms=150)
    start = time.monotonic()
    http.get("/auth/verify-api-key")
    assert time.monotonic() - start >= 0.15
    sb.set_faults(latency_ms=0, error_before=1.0, paths=["/subscribers"])
    assert_error(http.get("/subscribers"), 500)
    assert http.post("/send", json={"subscribers": ["+13125550001"], "message": "x"}).is_success
    sb.set_faults(error_before=0.0, rate_limit_burst=1.0)
    resp = http.get("/auth/verify-api-key")
    assert_error(resp, 429)
    assert float(resp.headers["Retry-After"]) > 0


def test_faults_from_running_and_validation() -> None:
    with sandbox.running(api_key=KEY, faults={"error_before": 1.0}) as run:
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {"subscribers": ["+13125550001"], "message": "x"}
        assert httpx.post(run.base_url + "/send", json=body, headers=headers).status_code == 500
        bad = httpx.post(run.root_url + "/_sandbox/faults", json={"nope": 1}, headers=headers)
        assert "unknown fault" in assert_error(bad, 400)["message"]
        bad = httpx.post(
            run.root_url + "/_sandbox/faults", json={"error_after": 2}, headers=headers
        )
        assert_error(bad, 400)
        run.reset()  # reset restores the faults given to running()
        assert httpx.post(run.base_url + "/send", json=body, headers=headers).status_code == 500


def test_reset_forgets_everything(sb: sandbox.Sandbox, http: httpx.Client) -> None:
    http.post("/send", json={"subscribers": ["+13125550001"], "message": "x"})
    http.post("/webhooks", json={"event": "message-send", "url": "http://x.test/", "secret": "s"})
    sb.reset()
    assert sb.ground_truth() == []
    assert http.get("/subscribers").json()["data"]["total"] == 0
    assert http.get("/webhooks").json()["data"]["rows"] == []


def test_config_file_and_bad_config(tmp_path: Any) -> None:
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps({"opt_in_rate": 1.0, "imessage_capable": 1.0}))
    with sandbox.running(api_key=KEY, config=path, seed=1) as run:
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {"subscribers": ["+13125550001"], "message": "x", "senderName": "Acme Deals"}
        httpx.post(run.base_url + "/send", json=body, headers=headers)
        assert run.ground_truth()[0]["sender_name"] == "Acme Deals"
    with pytest.raises(ValueError, match="unknown sandbox config key"):
        sandbox.create_app(config={"opt_in": 1})
    with pytest.raises(ValueError, match="probability"):
        sandbox.create_app(config={"opt_in_rate": 3})


def test_cli_prints_base_url_and_serves(tmp_path: Any) -> None:
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"opt_in_rate": 0.0, "reply_rate": 0.0}))
    log = tmp_path / "hooks.jsonl"
    argv = [sys.executable, "-m", "mta_notebook", "sandbox", "--port", "0", "--api-key", KEY]
    argv += ["--config", str(config), "--webhook-log", str(log), "--time-scale", "100"]
    argv += ["--faults", json.dumps({"error_before": 1.0, "paths": ["/subscribers"]})]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line
        base = line.strip().split()[-1]
        assert base.endswith("/v3")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as c:
            assert c.get("/auth/verify-api-key").status_code == 200
            assert c.get("/subscribers").status_code == 500  # --faults
            body = {"subscribers": ["+13125550001"], "message": "x", "senderName": "Acme"}
            assert c.post("/send", json=body).status_code == 200
            c.post(base[: -len("/v3")] + "/_sandbox/settle", json={})
            truth = c.get(base[: -len("/v3")] + "/_sandbox/ground-truth").json()["rows"]
        assert truth[0]["route"] == "sms"  # --config: nobody opted in
        events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
        assert events.count("message-send") == 1  # --webhook-log
        assert events.count("delivery-status") == 4  # 1, 2, 3 and the final status
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()


def test_cli_rejects_bad_faults() -> None:
    from mta_notebook._cli import main

    assert main(["sandbox", "--port", "0", "--faults", "[1]"]) == 2
    assert main(["sandbox", "--port", "0", "--faults", '{"nope": 1}']) == 2


def test_app_works_in_process_with_asgi_transport() -> None:
    import asyncio

    app = sandbox.create_app(api_key=KEY, seed=1)

    async def main() -> tuple[int, list[str]]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sandbox", headers=headers
        ) as c:
            resp = await c.post("/v3/send", json={"subscribers": ["+13125550001"], "message": "x"})
            await c.post("/_sandbox/settle", json={"timeout": 10})
            truth = (await c.get("/_sandbox/ground-truth")).json()["rows"]
        await app.dispatcher.stop()
        return resp.status_code, [r["status"] for r in truth]

    status, statuses = asyncio.run(main())
    assert status == 200
    assert statuses[0] not in ("queued", "sending", "sent")  # settled: lazily started dispatcher


# -- numbers that decide their own status ------------------------------------------------------
def test_invalid_numbers_are_accepted_and_end_in_10(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    # area codes cannot start with 0 or 1: shaped like numbers, but phonenumbers rejects them
    body = {"subscribers": ["+1 123 555 0123", "0235550123", "+13125550001"], "message": "hi"}
    data = http.post("/send", json=body).json()["data"]
    assert data["totalSent"] == 3
    sb.settle()
    truth = {r["phone"]: r for r in sb.ground_truth()}
    assert set(truth) == {"+11235550123", "+10235550123", "+13125550001"}
    for phone in ("+11235550123", "+10235550123"):
        assert (truth[phone]["status"], truth[phone]["status_code"]) == ("invalid_number", 10)
        assert truth[phone]["route"] == "sms"
    assert truth["+13125550001"]["status_code"] != 10
    numbers = [s["e164Number"] for s in http.get("/subscribers").json()["data"]["rows"]]
    assert numbers == ["+13125550001"]  # an invalid number does not become a subscriber


def test_long_and_short_recipient_lists_read_numbers_alike(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    from mta_notebook.contract.phones import normalize_phone

    forms = ["(312) 555-{:04d}", "312.555.{:04d}", "+1 312 555 {:04d}", "1-123-555-{:04d}"]
    raw: list[object] = [f.format(i) for i in range(40) for f in forms]
    raw += [int(f"1312555{i:04d}") for i in range(40, 60)]
    batches = (raw, raw[:5])  # the vectorised path, and one number at a time
    want: list[tuple[str, bool]] = []
    for batch in batches:
        assert http.post("/send", json={"subscribers": batch, "message": "m"}).is_success
        seen: dict[str, bool] = {}
        for item in batch:
            e164 = normalize_phone(item)
            digits = "".join(ch for ch in str(item) if ch.isdigit())
            seen.setdefault(e164 or "+" + digits, e164 is None)
        want += list(seen.items())
    sb.settle()
    got = [(r["phone"], r["status_code"] == 10) for r in sb.ground_truth()]
    assert got == want
    assert sum(invalid for _, invalid in got) == 40 + 1  # every 1-123-555-xxxx


def test_landlines_end_in_12_from_config_and_admin() -> None:
    with (
        sandbox.running(
            api_key=KEY, config={"landlines": ["(312) 555-0007"], "imessage_attempt_fail_rate": 0}
        ) as run,
        client(run) as c,
    ):
        run.add_landlines("+13125550008")
        listed = c.get(run.root_url + "/_sandbox/landlines").json()["data"]
        assert listed == ["+13125550007", "+13125550008"]
        run.opt_in("+13125550008", "Acme")  # opted in, but a landline cannot take iMessage
        phones = ["+13125550007", "+13125550008", "+13125550009"]
        c.post("/send", json={"subscribers": phones, "message": "hi", "senderName": "Acme"})
        run.settle()
        truth = {r["phone"]: r for r in run.ground_truth()}
        assert [truth[p]["status_code"] for p in phones[:2]] == [12, 12]
        assert {truth[p]["status"] for p in phones[:2]} == {"landline"}
        assert truth["+13125550008"]["route"] == "sms"
        assert truth["+13125550009"]["status_code"] != 12
        bad = c.post(run.root_url + "/_sandbox/landlines", json={"phones": ["nope"]})
        assert "landlines[2]" in assert_error(bad, 400)["message"]


# -- only the documented contract --------------------------------------------------------------
def test_unknown_query_parameters_and_fields_are_ignored(
    sb: sandbox.Sandbox, http: httpx.Client
) -> None:
    sb.configure(imessage_attempt_fail_rate=0.0)
    sb.opt_in("+13125550001", "Acme")
    http.post("/subscribers", json={"e164Number": "+13125550002", "firstName": "Bo"})
    undocumented = {"senderName": "Acme", "externalId": "q-1", "isMMS": "true"}
    body = {"subscribers": ["+13125550001"], "message": "hi", "channel": "imessage"}
    assert http.post("/send", params=undocumented, json=body).is_success
    row = sb.ground_truth()[0]
    assert (row["route"], row["sender_name"], row["external_id"]) == ("sms", None, None)
    everyone = http.get("/subscribers", params={"firstName": "Nobody", "filters[x]": "y"})
    assert everyone.json()["data"]["total"] == 2
    http.post("/webhooks", json={"event": "message-send", "url": "http://x.test/", "secret": "s"})
    hooks = http.get("/webhooks", params={"event": "delivery-status"}).json()["data"]
    assert hooks["total"] == 1


def test_config_keys_are_validated_against_the_contract() -> None:
    for bad in (
        {"outcomes": {"sms": {"undeliverable": 1.0}}},  # a /deliveries filter name, not a code
        {"outcomes": {"sms": {"unknown": 1.0}}},
        {"outcomes": {"sms": {"sent": 1.0}}},  # not final
        {"payload_version": "V4"},
        {"webhook_date_format": "local"},
        {"sms_over_160": "split"},
        {"landlines": ["12"]},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            sandbox.SandboxConfig.from_mapping(bad)
    ok = sandbox.SandboxConfig.from_mapping(
        {"outcomes": {"sms": {"delivery_unconfirmed": 1.0}}, "landlines": ["312 555 0007"]}
    )
    assert ok.outcomes["sms"] == {"delivery_unconfirmed": 1.0}
    assert ok.landlines == ["+13125550007"]


def test_configured_outcome_keys_give_their_documented_codes() -> None:
    with sandbox.running(api_key=KEY, config={"outcomes": {"sms": {"send_rejected": 1}}}) as run:
        with client(run) as c:
            c.post("/send", json={"subscribers": ["+13125550001"], "message": "m"})
        run.settle()
        assert [(r["status"], r["status_code"]) for r in run.ground_truth()] == [
            ("send_rejected", 13)
        ]


def test_the_sandbox_imports_only_the_contract_from_the_package() -> None:
    import ast
    from pathlib import Path

    allowed = {"contract", "_server"}
    for path in Path(sandbox.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):  # no phone normaliser of its own
                assert "normalize" not in node.name or "phone" not in node.name, path.name
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                first = (node.module or "").split(".")[0]
                assert first in allowed, f"{path.name}: from {'.' * node.level}{node.module}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert not node.module.startswith("mta_notebook"), path.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("mta_notebook") for a in node.names), path.name
