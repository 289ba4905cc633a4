"""Unit tests of the shared pipeline: header parsing, backoff, the limiter, retry decisions.

Pure logic with a fake clock, plus ``httpx.MockTransport`` handlers for the retry loop; the
clients' real HTTP behaviour is tested against the sandbox in test_client.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest

from mta_notebook import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SendOutcomeUnknown,
    ServerError,
)
from mta_notebook._http import Pipeline, RetryPolicy
from mta_notebook._pacing import Pacer, RateLimiter, parse_rate_limit_reset, parse_retry_after
from mta_notebook.contract.limits import BULK_MAX_RECORDS, RATE_LIMITS, rate_family

NOW = 1_800_000_000.0  # a fixed wall-clock time for HTTP dates and epoch resets
KEY = "sk-unit-SECRET-9f3a"


def _http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, tz=timezone.utc), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20", 20.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("0.006", 0.006),
        (" 3 ", 3.0),
        ("-10", None),
        ("-0.5", None),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("soon", None),
        ("1e400", None),
        ("Fri, 31 Dec 1999 23:59:59", None),  # a date without a zone is not trusted
        (_http_date(30), 30.0),
        (_http_date(-30), 0.0),
        ("Wed, 99 Foo 2020 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    got = parse_retry_after(value, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1500", 1.5),  # documented: milliseconds
        ("0", 0.0),
        ("299", 0.299),
        ("15000", 15.0),
        (str(int(NOW) + 12), 12.0),  # epoch seconds
        (str(int(NOW - 5)), 0.0),  # epoch seconds in the past
        (str(int(NOW * 1000) + 2500), 2.5),  # epoch milliseconds
        ("-1", None),
        ("abc", None),
        ("nan", None),
        (None, None),
    ],
)
def test_parse_rate_limit_reset(value: str | None, expected: float | None) -> None:
    got = parse_rate_limit_reset(value, now=NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("retries_taken", "rand", "expected"),
    [
        (0, 0.0, 0.5),
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (4, 0.0, 8.0),
        (10, 0.0, 8.0),  # capped
        (0, 0.999999, 0.5 * 0.75),  # jitter removes at most a quarter
        (10, 0.5, 8.0 * 0.875),
    ],
)
def test_backoff(retries_taken: int, rand: float, expected: float) -> None:
    assert RetryPolicy().backoff(retries_taken, rand) == pytest.approx(expected, rel=1e-5)


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2.0)


def test_server_delay_prefers_retry_after_then_reset() -> None:
    policy = RetryPolicy()
    both = httpx.Headers({"Retry-After": "2", "RateLimit-Reset": "9000"})
    only_reset = httpx.Headers({"RateLimit-Reset": "9000"})
    only_x = httpx.Headers({"X-RateLimit-Reset": "700"})
    assert policy.server_delay(both, now=NOW) == 2.0
    assert policy.server_delay(only_reset, now=NOW) == 9.0
    assert policy.server_delay(only_x, now=NOW) == pytest.approx(0.7)
    assert policy.server_delay(httpx.Headers(), now=NOW) is None


@pytest.mark.parametrize(
    ("method", "path", "family"),
    [
        ("POST", "/send", "send"),
        ("GET", "/send", "default"),
        ("GET", "/subscribers", "subscribers"),
        ("DELETE", "/subscribers/%2B13125550123", "subscribers"),
        ("POST", "/subscribers/bulk", "subscribers_bulk"),
        ("POST", "/groups/7/subscribers/bulk-create", "groups_bulk"),
        ("POST", "/groups/7/subscribers/bulk-delete", "groups_bulk"),
        ("GET", "/custom-fields", "custom_fields"),
        ("GET", "/deliveries", "default"),
        ("GET", "/webhooks", "default"),
    ],
)
def test_calls_are_paced_in_the_contract_families(method: str, path: str, family: str) -> None:
    pipeline = Pipeline(
        api_key=KEY, base_url="http://mta.test/v3", policy=RetryPolicy(), pacer=None
    )
    call = pipeline.call(method, path)
    assert call.family == family == rate_family(method, path)
    assert Pacer()[call.family].limit == RATE_LIMITS[call.family].requests


# -- the limiter with a fake clock ------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def _rl_headers(limit: int, remaining: int, reset_ms: float) -> httpx.Headers:
    return httpx.Headers(
        {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(int(reset_ms)),
        }
    )


def test_limiter_primed_with_documented_limits() -> None:
    pacer = Pacer(clock=FakeClock())
    assert pacer.limits is RATE_LIMITS
    assert set(pacer.limiters) == set(RATE_LIMITS)
    for family, rate in RATE_LIMITS.items():
        assert (pacer[family].limit, pacer[family].window) == (rate.requests, rate.window_s)
    # MTA's documented values (/api-basics/rate-limits), written out once as a cross-check
    assert (pacer["send"].limit, pacer["send"].window) == (25, 15.0)
    assert (pacer["groups_bulk"].limit, pacer["groups_bulk"].window) == (5, 15.0)
    assert (pacer["subscribers_bulk"].limit, pacer["subscribers_bulk"].window) == (15, 15.0)
    assert (pacer["default"].limit, pacer["default"].window) == (30, 60.0)
    with Client(api_key=KEY, base_url="http://mta.test/v3") as client:
        assert client.pacer is not None
        assert client.pacer.limits is RATE_LIMITS


def test_limiter_waits_for_primed_window_without_headers() -> None:
    clock = FakeClock()
    lim = RateLimiter(3, 15.0, clock=clock, margin=0.0)
    for _ in range(3):
        assert lim.acquire() == 0.0
        lim.release()
    assert lim.acquire() == pytest.approx(15.0)
    clock.now = 15.0
    assert lim.acquire() == 0.0  # a fresh window


def test_limiter_follows_server_headers() -> None:
    """The server says the window ends sooner and fewer requests are left: the limiter obeys."""
    clock = FakeClock()
    lim = RateLimiter(25, 15.0, clock=clock, margin=0.0)
    assert lim.acquire() == 0.0
    clock.now = 0.01
    lim.release(_rl_headers(25, 2, 290))  # someone else used the account too
    assert lim.remaining == 2
    assert lim.window == pytest.approx(15.0)  # not the window's first request: not learnt
    assert lim.acquire() == 0.0
    lim.release(_rl_headers(25, 1, 280))
    assert lim.acquire() == 0.0
    lim.release(_rl_headers(25, 0, 270))
    assert lim.acquire() == pytest.approx(0.27)
    clock.now += 0.27
    assert lim.acquire() == 0.0


def test_limiter_learns_window_length_from_first_request() -> None:
    clock = FakeClock()
    lim = RateLimiter(25, 15.0, clock=clock, margin=0.0)
    lim.acquire()
    lim.release(_rl_headers(25, 24, 300))
    assert lim.window == pytest.approx(0.3)


def test_limiter_paces_a_long_run_at_the_full_rate() -> None:
    """A simulated server with a fixed window: no 429 and (nearly) every slot used."""
    clock = FakeClock()
    limit, window, latency = 25, 0.3, 0.002
    lim = RateLimiter(limit, 15.0, clock=clock)
    server_start, server_count, rejected, sent = -1.0, 0, 0, 0
    first_request = None
    while sent < 10 * limit + 1:
        wait = lim.acquire()
        if wait:
            clock.sleep(wait)
            continue
        clock.sleep(latency / 2)  # the request travels
        if first_request is None:
            first_request = clock.now
        if clock.now - server_start >= window:
            server_start, server_count = clock.now, 0
        if server_count >= limit:
            rejected += 1
            headers = _rl_headers(limit, 0, (server_start + window - clock.now) * 1000)
        else:
            server_count += 1
            sent += 1
            reset_ms = (server_start + window - clock.now) * 1000
            headers = _rl_headers(limit, limit - server_count, reset_ms)
        last_request = clock.now
        clock.sleep(latency / 2)
        lim.release(headers)
    assert rejected == 0
    assert first_request is not None
    ideal = 10 * window  # 10 full windows between the first and the last request
    assert ideal / (last_request - first_request) >= 0.95


def test_limiter_counts_in_flight_requests_into_the_next_window() -> None:
    clock = FakeClock()
    lim = RateLimiter(2, 1.0, clock=clock, margin=0.0, poll=0.01)
    assert lim.acquire() == 0.0
    assert lim.acquire() == 0.0
    clock.now = 1.0  # the window ended while both are in flight: they may land in the next one
    assert lim.remaining == 0
    assert lim.acquire() == pytest.approx(0.01)  # re-check soon: their answers will tell
    lim.release(_rl_headers(2, 1, 999))  # the server counted one of them in its new window
    assert lim.remaining == 0  # the other one is still in flight
    lim.release(_rl_headers(2, 1, 990))  # it had been counted in the old window after all
    assert lim.remaining == 0  # same window, already synced: never raised
    clock.now = 2.0
    assert lim.acquire() == 0.0


def test_limiter_ignores_answers_from_an_earlier_window() -> None:
    """A slow answer to a request of the last window must not shorten the new window."""
    clock = FakeClock()
    lim = RateLimiter(2, 1.0, clock=clock, margin=0.0, poll=0.01)
    wait, old_epoch = lim.try_acquire()
    assert wait == 0.0
    lim.release(_rl_headers(2, 1, 1000), epoch=old_epoch)
    _, slow_epoch = lim.try_acquire()  # this one's answer will arrive late
    clock.now = 1.0  # the window rolls while it is still in flight
    wait, new_epoch = lim.try_acquire()
    assert wait == 0.0
    assert new_epoch != slow_epoch
    lim.release(_rl_headers(2, 0, 500), epoch=new_epoch)  # new window ends at 1.5
    clock.now = 1.1
    lim.release(_rl_headers(2, 0, 1), epoch=slow_epoch)  # old window's end: ignored
    assert lim.acquire() == pytest.approx(0.4)


def test_limiter_keeps_the_tightest_end_and_skips_older_server_windows() -> None:
    clock = FakeClock()
    lim = RateLimiter(5, 1.0, clock=clock, margin=0.0)
    lim.acquire()
    clock.now = 0.2
    lim.release(_rl_headers(5, 2, 700))  # ends by 0.9 at the latest
    assert lim.remaining == 2
    lim.acquire()
    lim.release(_rl_headers(5, 1, 650))  # ends by 0.85: tighter, same window
    assert lim.remaining == 1
    lim.acquire()
    lim.release(_rl_headers(5, 4, 100))  # a late answer from an older server window
    assert lim.remaining == 0
    assert lim.window == 1.0  # not learnt from it either
    assert lim.acquire() == pytest.approx(0.65)


def test_limiter_refunds_requests_that_never_left() -> None:
    clock = FakeClock()
    lim = RateLimiter(1, 10.0, clock=clock)
    assert lim.acquire() == 0.0
    lim.release(sent=False)
    assert lim.acquire() == 0.0


def test_limiter_block_after_429() -> None:
    clock = FakeClock()
    lim = RateLimiter(10, 10.0, clock=clock, margin=0.0)
    lim.block(2.5)
    assert lim.acquire() == pytest.approx(2.5)


# -- the retry loop over a mock transport ----------------------------------------------------


def _error(status: int, message: str, **extra: object) -> httpx.Response:
    body = {
        "httpCode": status,
        "message": message,
        "timestamp": "2026-01-01T00:00:00Z",
        "type": "X",
        "name": "X",
        "requestId": f"req-{status}",
        **extra,
    }
    return httpx.Response(status, json=body)


def _ok_send() -> httpx.Response:
    data = {"messageId": 7, "totalSent": 1, "totalFailedInternationalRecipients": 0}
    return httpx.Response(200, json={"success": True, "message": "ok", "data": data})


Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, **kwargs: object) -> tuple[Client, list[float]]:
    sleeps: list[float] = []
    client = Client(
        api_key=KEY,
        base_url="http://mta.test/v3",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        pacing=False,
        **kwargs,  # type: ignore[arg-type]
    )
    return client, sleeps


def _script(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


SEND = {"subscribers": ["+13125550123"], "message": "hi", "external_id": "c1-00001"}


def test_get_retries_5xx_then_succeeds() -> None:
    handler, seen = _script(
        _error(500, "boom"), _error(503, "busy"), httpx.Response(200, json={"data": {}})
    )
    client, sleeps = _client(handler, retry_policy=RetryPolicy(jitter=0.0))
    client.verify_api_key()
    assert len(seen) == 3
    assert sleeps == [0.5, 1.0]
    assert [r.headers.get("X-Retry-Count") for r in seen] == [None, "1", "2"]


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.ReadError("reset"),
    ],
)
def test_get_retries_transport_errors(exc: Exception) -> None:
    handler, seen = _script(exc, httpx.Response(200, json={"data": {"name": "a"}}))
    client, _ = _client(handler)
    assert client.verify_api_key().name == "a"
    assert len(seen) == 2


def test_get_gives_up_after_max_retries_with_typed_error() -> None:
    handler, seen = _script(httpx.ReadTimeout("slow"))
    client, sleeps = _client(handler, max_retries=2)
    with pytest.raises(APITimeoutError, match="timed out") as info:
        client.verify_api_key()
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    assert len(seen) == 3
    assert len(sleeps) == 2
    handler, _ = _script(httpx.ConnectError("refused"))
    client, _ = _client(handler, max_retries=0)
    with pytest.raises(APIConnectionError, match="base_url"):
        client.verify_api_key()


def test_429_honours_retry_after_and_gives_up_over_the_cap() -> None:
    handler, seen = _script(
        httpx.Response(
            429, json={"message": "slow down", "requestId": "r1"}, headers={"Retry-After": "1.25"}
        ),
        httpx.Response(200, json={"data": {}}),
    )
    client, sleeps = _client(handler)
    client.verify_api_key()
    assert sleeps == [pytest.approx(1.25, abs=0.01)]

    handler, seen = _script(
        httpx.Response(429, json={"message": "later"}, headers={"Retry-After": "3600"})
    )
    client, sleeps = _client(handler)
    with pytest.raises(RateLimitError) as info:
        client.verify_api_key()
    assert info.value.retry_after == 3600.0
    assert len(seen) == 1
    assert sleeps == []


def test_429_without_retry_after_uses_ratelimit_reset() -> None:
    handler, _ = _script(
        httpx.Response(429, json={"message": "x"}, headers={"RateLimit-Reset": "800"}),
        httpx.Response(200, json={"data": {}}),
    )
    client, sleeps = _client(handler)
    client.verify_api_key()
    assert sleeps == [pytest.approx(0.8, abs=0.01)]


def test_send_is_retried_only_when_it_certainly_did_not_happen() -> None:
    handler, seen = _script(
        httpx.ConnectError("refused"),
        httpx.Response(429, json={"message": "x"}, headers={"Retry-After": "0.1"}),
        _ok_send(),
    )
    client, _ = _client(handler)
    assert client.send(**SEND).message_id == 7  # type: ignore[arg-type]
    assert len(seen) == 3


@pytest.mark.parametrize(
    "answer",
    [
        _error(500, "boom"),
        _error(502, "bad gateway"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("reset"),
        httpx.WriteTimeout("half sent"),
    ],
)
def test_send_outcome_unknown(answer: httpx.Response | Exception) -> None:
    handler, seen = _script(answer, _ok_send())
    client, sleeps = _client(handler)
    with pytest.raises(SendOutcomeUnknown) as info:
        client.send(**SEND)  # type: ignore[arg-type]
    assert info.value.external_id == "c1-00001"
    assert "c1-00001" in str(info.value)
    assert len(seen) == 1
    assert sleeps == []
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    "exc",
    [
        httpx.LocalProtocolError(f"Illegal header value {('Bearer ' + KEY).encode()!r}"),
        httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol."),
    ],
)
def test_error_before_the_request_left_is_not_send_outcome_unknown(exc: Exception) -> None:
    handler, seen = _script(exc, _ok_send())
    client, sleeps = _client(handler)
    with pytest.raises(APIConnectionError, match="nothing left this machine") as info:
        client.send(**SEND)  # type: ignore[arg-type]
    assert not isinstance(info.value, SendOutcomeUnknown)
    assert len(seen) == 1  # a retry cannot fix it: no retry
    assert sleeps == []
    assert info.value.__cause__ is None  # its message may quote the key
    assert KEY not in f"{info.value} {info.value!r}"


def test_the_key_is_redacted_in_h11s_escaped_spelling() -> None:
    """Settings refuses such a key; should one reach the pipeline, h11's own message (which
    quotes the header as a bytes repr, ``\\n`` escaped) must not carry it into the error."""
    import h11

    bad = "sk-unit-SECRET\n9f3a"
    try:
        h11.Request(
            method="POST",
            target="/v3/send",
            headers=[("Host", "x"), ("Authorization", f"Bearer {bad}")],
        )
    except h11.LocalProtocolError as exc:
        raised = httpx.LocalProtocolError(str(exc))
    assert repr(bad.encode())[2:-1] in str(raised)  # h11 really quotes it
    pipeline = Pipeline(
        api_key=bad, base_url="http://mta.test/v3", policy=RetryPolicy(), pacer=None
    )
    step = pipeline.on_exception(pipeline.call("POST", "/send", external_id="c1-00001"), raised)
    assert isinstance(step.error, APIConnectionError)
    assert not isinstance(step.error, SendOutcomeUnknown)
    text = f"{step.error} {step.error!r}"
    assert "***" in text
    assert "SECRET" not in text


def test_a_key_echoed_in_an_error_body_is_redacted_in_every_spelling() -> None:
    bad = 'sk-unit-SECRET"9f3a'  # JSON writes the quote escaped
    pipeline = Pipeline(
        api_key=bad, base_url="http://mta.test/v3", policy=RetryPolicy(), pacer=None
    )
    answer = _error(401, f"Invalid API key {bad}", echoed={"key": bad})
    error = pipeline.status_error(pipeline.call("GET", "/auth/verify-api-key"), answer)
    assert "SECRET" not in f"{error} {error!r} {error.body}"
    assert error.body["echoed"] == {"key": "***"}


def test_refused_connection_is_not_send_outcome_unknown() -> None:
    handler, seen = _script(httpx.ConnectError("[Errno 111] Connection refused"))
    client, _ = _client(handler, max_retries=2, retry_policy=None)
    with pytest.raises(APIConnectionError, match="refused") as info:
        client.send(**SEND)  # type: ignore[arg-type]
    assert not isinstance(info.value, SendOutcomeUnknown)
    assert len(seen) == 3  # certainly not sent: safe to try again


def test_a_url_that_cannot_be_built_is_a_config_error() -> None:
    handler, seen = _script(_ok_send())
    for bad in ("http://[::1/v3", "ftp://example.org/v3", "api.mobile-text-alerts.com/v3"):
        with pytest.raises(ConfigError, match="base_url: must be an http"):
            Client(api_key=KEY, base_url=bad, transport=httpx.MockTransport(handler))
    assert seen == []


def test_bulk_requests_hold_the_documented_number_of_records() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)
        sizes.append(len(records))
        return httpx.Response(200, json={"data": {"totalRecordCount": len(records)}})

    client, _ = _client(handler)
    records = [{"e164Number": f"+1312555{i:04d}"} for i in range(BULK_MAX_RECORDS + 5)]
    assert client.bulk_upsert_subscribers(records).total_record_count == len(records)
    assert sizes == [BULK_MAX_RECORDS, 5]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
    ],
)
def test_4xx_is_not_retried_and_carries_details(status: int, cls: type[Exception]) -> None:
    handler, seen = _script(_error(status, "no way", reason="trial-account"))
    client, _ = _client(handler)
    with pytest.raises(cls) as info:
        client.get_subscriber("+13125550123")
    err = info.value
    assert len(seen) == 1
    assert err.status_code == status  # type: ignore[attr-defined]
    assert err.api_message == "no way"  # type: ignore[attr-defined]
    assert err.request_id == f"req-{status}"  # type: ignore[attr-defined]
    assert "/subscribers/%2B13125550123" in str(err)
    if status == 403:
        assert err.reason == "trial-account"  # type: ignore[attr-defined]


def test_non_idempotent_write_is_not_retried_after_5xx() -> None:
    handler, seen = _script(_error(500, "boom"), httpx.Response(200, json={"data": {"id": 1}}))
    client, _ = _client(handler)
    with pytest.raises(ServerError):
        client.create_webhook(event="message-send", url="http://x/h", secret="s")
    assert len(seen) == 1


def test_key_never_in_repr_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    # A hostile server echoing the key back must not leak it either.
    handler, _ = _script(
        _error(500, f"bad key {KEY}"),
        httpx.ReadTimeout(f"timeout {KEY}"),
        _error(401, f"Invalid API key {KEY}"),
    )
    client, _ = _client(handler)
    caplog.set_level(logging.DEBUG, logger="mta_notebook")
    with pytest.raises(AuthenticationError) as info:
        client.verify_api_key()
    texts = [repr(client), str(info.value), repr(info.value), str(info.value.body), caplog.text]
    assert "retrying" in caplog.text
    for text in texts:
        assert KEY not in text
    handler, _ = _script(httpx.ReadTimeout(f"timeout {KEY}"))
    client, _ = _client(handler)
    with pytest.raises(SendOutcomeUnknown) as unknown:
        client.send(**SEND)  # type: ignore[arg-type]
    assert KEY not in str(unknown.value)


def test_missing_key_says_how_to_set_it() -> None:
    with pytest.raises(ConfigError, match="MTA_API_KEY"):
        Client(base_url="http://mta.test/v3")


def test_env_settings_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MTA_API_KEY", KEY)
    monkeypatch.setenv("MTA_BASE_URL", "http://env.test/v3/")
    with Client() as client:
        assert client.base_url == "http://env.test/v3"
        assert KEY not in repr(client)


# -- paging and models -----------------------------------------------------------------------


def _paging_server(total: int, cap: int) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params["page"])
        size = min(int(request.url.params["pageSize"]), cap)
        rows = [{"id": i, "e164Number": f"+1312555{i:04d}"} for i in range(total)]
        data = {"rows": rows[page * size : (page + 1) * size], "page": page, "pageSize": size}
        return httpx.Response(200, json={"data": {**data, "total": total}})

    return handler, seen


@pytest.mark.parametrize(
    ("total", "page_size", "cap", "requests"),
    [
        (0, 10, 1000, 1),
        (9, 10, 1000, 1),  # short page
        (10, 10, 1000, 1),  # page*pageSize >= total: no empty extra page
        (25, 10, 1000, 3),
        (5, 5, 2, 3),  # the server caps pageSize: follow its size, lose nothing
    ],
)
def test_auto_paging(total: int, page_size: int, cap: int, requests: int) -> None:
    handler, seen = _paging_server(total, cap)
    client, _ = _client(handler)
    subs = list(client.iter_subscribers(page_size=page_size))
    assert [s.id for s in subs] == list(range(total))
    assert len(seen) == requests
    assert seen[0].url.params["page"] == "0"


def test_send_request_model() -> None:
    from mta_notebook import SendRequest

    req = SendRequest(
        subscriber_ids=[1, 2],
        message="Hi",
        is_mms=True,
        longcode_id=101,
        scheduled_date=datetime(2026, 3, 2, 17, 30, tzinfo=timezone.utc),
        external_id="c-00001",
    )
    assert req.to_body() == {
        "subscriberIds": [1, 2],
        "message": "Hi",
        "isMMS": True,
        "longcodeId": 101,
        "scheduledDate": "20260302T173000-0000",
        "externalId": "c-00001",
    }
    assert SendRequest.model_validate({"groups": [3], "templateId": 1}).template_id == 1
    with pytest.raises(ValueError, match="extra"):
        SendRequest(subscribers=["+13125550123"], message="x", sender="typo")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="cannot be combined"):
        SendRequest(all_subscribers=True, groups=[1], message="x")
    with pytest.raises(ValueError, match="timezone"):
        SendRequest(groups=[1], message="x", scheduled_date=datetime(2026, 1, 1))


def test_response_models_keep_unknown_fields() -> None:
    from mta_notebook import SendResult, Subscriber, Webhook

    res = SendResult.model_validate(
        {"messageId": 5, "totalSent": 2, "totalFailedInternationalRecipients": 1, "newField": "x"}
    )
    assert (res.message_id, res.total_sent, res.total_failed_international) == (5, 2, 1)
    assert res.model_extra == {"newField": "x"}
    assert res.to_dict()["newField"] == "x"
    sub = Subscriber.model_validate({"id": 1, "e164Number": "+13125550123", "carrierId": 7})
    assert sub.e164_number == "+13125550123"
    assert sub.model_extra == {"carrierId": 7}
    assert "<table>" in sub._repr_html_()
    hook = Webhook.model_validate({"id": 3, "event": "message-send", "secret": "topsecret"})
    assert hook.id == 3
    assert "topsecret" not in repr(hook)
    assert "topsecret" not in hook._repr_html_()
