"""Client and AsyncClient against the sandbox, a real HTTP server on a loopback port.

Every scenario runs twice, once per client (``kind`` = sync/async), through the same code: the
``api`` helper awaits what the async client returns and passes the sync client's results on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import httpx
import pytest

from mta_notebook import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    BulkResult,
    Client,
    Delivery,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SendOutcomeUnknown,
    SendRequest,
    ServerError,
    Subscriber,
    ValidationError,
    Webhook,
    sandbox,
)
from mta_notebook._http import RetryPolicy
from mta_notebook._server import free_port
from mta_notebook.contract.assumptions import DELIVERIES_NAME_FOR_CODE
from mta_notebook.contract.statuses import (
    STATUS_BY_CODE,
    STATUS_BY_NAME,
    resolve_status,
    status_key,
)

T = TypeVar("T")

#: Rate windows of 15 s / 100 = 0.15 s, so pacing never slows the suite down.
TIME_SCALE = 100.0
KEY = "sk-sandbox-SECRET-7731"
#: Short backoff so fault-driven retries finish fast (the policy is the client's own knob).
FAST_RETRIES = RetryPolicy(max_retries=12, initial_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with sandbox.running(api_key=KEY, time_scale=TIME_SCALE) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(sb: Any) -> None:
    sb.reset()
    sb.set_faults(
        error_before=0,
        error_after=0,
        drop_after=0,
        latency_ms=0,
        rate_limit_burst=0,
        paths=["/send"],
    )


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Api:
    """The same awaitable surface over either client."""

    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return call

    async def collect(self, name: str, *args: Any, **kwargs: Any) -> list[Any]:
        items = getattr(self.client, name)(*args, **kwargs)
        if isinstance(items, AsyncIterator):
            return [item async for item in items]
        return list(items)


Scenario = Callable[[Api], Awaitable[T]]


def run(kind: str, sb: Any, scenario: Scenario[T], **client_kwargs: Any) -> T:
    """Run ``scenario`` with a fresh client of ``kind`` talking to the sandbox."""
    kwargs = {"api_key": sb.api_key, "base_url": sb.base_url, **client_kwargs}

    async def main() -> T:
        if kind == "sync":
            with Client(**kwargs) as client:
                return await scenario(Api(client))
        async with AsyncClient(**kwargs) as aclient:
            return await scenario(Api(aclient))

    return asyncio.run(main())


PHONES = [f"+1312555{n:04d}" for n in range(2000, 2010)]


# -- every method ---------------------------------------------------------------------------


def test_verify_api_key(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> Any:
        return await api.verify_api_key()

    account = run(kind, sb, scenario)
    assert account.name == "Sandbox Account"
    assert account.email == "sandbox@example.com"
    assert account.message == "API Key verified"


def test_send_keywords_and_model(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> list[Any]:
        first = await api.send(
            subscribers=PHONES[:3],
            message="Hello {{firstName}}",
            sender_name="Acme",
            external_id="camp-00001",
            tags={"campaign": "camp"},
        )
        second = await api.send(
            SendRequest(subscribers=[PHONES[3]], message="Hi", longcode_id=100, external_id="x2")
        )
        return [first, second]

    first, second = run(kind, sb, scenario)
    assert first.total_sent == 3
    assert first.total_failed_international == 0
    assert first.message.startswith("Message sent")
    assert second.message_id != first.message_id
    truth = sb.ground_truth()
    by_ext = {}
    for row in truth:
        by_ext.setdefault(row["external_id"], []).append(row)
    assert sorted(r["phone"] for r in by_ext["camp-00001"]) == PHONES[:3]
    assert {r["message_id"] for r in by_ext["camp-00001"]} == {first.message_id}
    assert {r["sender_name"] for r in by_ext["camp-00001"]} == {"Acme"}
    assert [r["route"] for r in by_ext["x2"]] == ["sms"]


def test_send_validates_locally_before_any_request(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> None:
        with pytest.raises(ValidationError, match="no content"):
            await api.send(subscribers=PHONES[:1])
        with pytest.raises(ValidationError, match="no recipients"):
            await api.send(message="hi")

    run(kind, sb, scenario)
    assert sb.ground_truth() == []


def test_subscriber_lifecycle(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> dict[str, Any]:
        created = await api.upsert_subscriber(
            e164_number=PHONES[0], first_name="Ada", last_name="L", email="ada@example.com"
        )
        by_id = await api.get_subscriber(created.id)
        by_number = await api.get_subscriber(PHONES[0])
        again = await api.upsert_subscriber(e164Number=PHONES[0], first_name="Ada2")
        updated = await api.update_subscriber(created.id, last_name="Lovelace")
        await api.delete_subscriber(PHONES[0])
        with pytest.raises(NotFoundError) as missing:
            await api.get_subscriber(created.id)
        return {
            "created": created,
            "by_id": by_id,
            "by_number": by_number,
            "again": again,
            "updated": updated,
            "missing": missing.value,
        }

    got = run(kind, sb, scenario)
    created: Subscriber = got["created"]
    assert isinstance(created, Subscriber)
    assert created.e164_number == PHONES[0]
    assert created.first_name == "Ada"
    assert got["by_id"].id == created.id == got["by_number"].id
    assert got["again"].id == created.id  # an upsert, not a second subscriber
    assert got["again"].first_name == "Ada2"
    assert got["updated"].last_name == "Lovelace"
    assert got["missing"].status_code == 404
    assert got["missing"].request_id


def test_bulk_upsert_splits_and_returns_per_record_errors(kind: str, sb: Any) -> None:
    records = [{"e164Number": f"+1773555{n:04d}", "firstName": f"F{n}"} for n in range(2100)]
    records[5] = {"e164Number": "not a phone", "firstName": "Bad"}

    async def scenario(api: Api) -> tuple[BulkResult, BulkResult, int]:
        first = await api.bulk_upsert_subscribers(records)
        again = await api.bulk_upsert_subscribers(records[:10], create_only=True)
        everyone = await api.collect("iter_subscribers", page_size=1000)
        return first, again, len(everyone)

    first, again, count = run(kind, sb, scenario)
    assert first.requests == 3  # 1000 + 1000 + 100
    assert first.total_record_count == 2100
    assert len(first.created) + len(first.updated) == 2099
    assert len(first.errors) == 1
    assert first.errors[0]["e164Number"] == "not a phone"
    assert count == 2099
    assert again.requests == 1
    assert len(again.created) == 0
    assert len(again.errors) == 10  # createOnly: they exist already


def test_iter_subscribers_pages(kind: str, sb: Any) -> None:
    records = [{"e164Number": f"+1773555{n:04d}", "email": f"s{n}@example.com"} for n in range(23)]

    async def scenario(api: Api) -> tuple[list[Subscriber], list[Subscriber], list[Subscriber]]:
        await api.bulk_upsert_subscribers(records)
        paged = await api.collect("iter_subscribers", page_size=5)
        exact = await api.collect("iter_subscribers", page_size=23)
        found = await api.collect("iter_subscribers", page_size=5, query="s7@example.com")
        return paged, exact, found

    paged, exact, found = run(kind, sb, scenario)
    assert len(paged) == 23
    assert len({s.id for s in paged}) == 23
    assert [s.id for s in paged] == [s.id for s in exact]
    assert [s.email for s in found] == ["s7@example.com"]


class _RecordingTransport(httpx.HTTPTransport):
    """The real transport, keeping each request's query keys (what went on the wire)."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[list[str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.queries.append(list(request.url.params.keys()))
        return super().handle_request(request)


class _AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.queries: list[list[str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.queries.append(list(request.url.params.keys()))
        return await super().handle_async_request(request)


def _deliveries_name(status: object) -> str:
    """The /deliveries name of a ground-truth status (a code, a documented or a filter name)."""
    text = str(status)
    found = STATUS_BY_CODE[int(text)] if text.isdigit() else STATUS_BY_NAME[status_key(text)]
    return DELIVERIES_NAME_FOR_CODE[found.code] if found.code is not None else found.name


#: The documented query of GET /deliveries (/check-delivery-status), nothing else.
DOCUMENTED_DELIVERIES_QUERY = {
    "page",
    "pageSize",
    "sortBy",
    "sortDirection",
    "query",
    "filters[startDate]",
    "filters[endDate]",
    "filters[type]",
    "filters[status]",
}


def test_iter_deliveries_pages_and_filters(kind: str, sb: Any) -> None:
    transport = _RecordingTransport() if kind == "sync" else _AsyncRecordingTransport()
    today = datetime.now(timezone.utc)

    async def scenario(api: Api) -> dict[str, list[Delivery]]:
        await api.upsert_subscriber(e164_number=PHONES[4], first_name="Grace", last_name="Hopper")
        for chunk in range(3):
            await api.send(
                subscribers=PHONES[chunk * 3 : chunk * 3 + 3],
                message="hi",
                external_id=f"c-{chunk:05d}",
            )
        await api.send(subscribers=[PHONES[9]], message="pic", image="https://example.com/a.png")
        sb.settle()
        return {
            "every": await api.collect("iter_deliveries", page_size=2),
            "oldest": await api.collect("iter_deliveries", sort_direction="asc", page_size=3),
            "today": await api.collect(
                "iter_deliveries", start=today.date(), end=today, status="Delivered"
            ),
            "yesterday": await api.collect(
                "iter_deliveries", start="2000-01-01", end=today.date() - timedelta(days=1)
            ),
            "mms": await api.collect("iter_deliveries", type="MMS"),
            "grace": await api.collect("iter_deliveries", query="hopper"),
            "number": await api.collect("iter_deliveries", query=PHONES[7][2:]),
        }

    got = run(kind, sb, scenario, transport=transport)
    every = got["every"]
    assert len(every) == 10  # 5 pages of 2
    assert sorted(d.number for d in every) == sorted(PHONES)
    assert all(isinstance(d.message_id, int) for d in every)
    assert [d.sent_at for d in every] == sorted((d.sent_at for d in every), reverse=True)
    assert [d.sent_at for d in got["oldest"]] == sorted(d.sent_at for d in every)
    truth = {(r["message_id"], r["phone"]): r for r in sb.ground_truth()}
    for d in every:  # the latest status, by the name the status filter uses
        assert d.status == _deliveries_name(truth[(d.message_id, d.number)]["status"])
    delivered = [r for r in truth.values() if resolve_status(r["status"]).outcome == "delivered"]
    assert len(got["today"]) == len(delivered)
    assert all(d.status == "delivered" for d in got["today"])
    assert got["yesterday"] == []
    assert [d.number for d in got["mms"]] == [PHONES[9]]
    assert [d.number for d in got["grace"]] == [PHONES[4]]
    assert [d.number for d in got["number"]] == [PHONES[7]]
    deliveries = [q for q in transport.queries if "pageSize" in q]
    assert deliveries
    for query in deliveries:
        assert set(query) <= DOCUMENTED_DELIVERIES_QUERY


def test_iter_deliveries_takes_only_documented_parameters(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> None:
        for bad in ({"status": "failed"}, {"sort_direction": "up"}, {"start": "2026-13-01"}):
            with pytest.raises(ValidationError):
                await api.collect("iter_deliveries", **bad)
        with pytest.raises(TypeError):
            await api.collect("iter_deliveries", external_id="c-00001")

    run(kind, sb, scenario)


def test_sandbox_deliveries_ignore_undocumented_filters_and_lag(sb: Any) -> None:
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        client.send(subscribers=PHONES[:2], message="hi", external_id="a-00001")
        client.send(subscribers=PHONES[2:3], message="hi", external_id="b-00001")
    headers = {"Authorization": f"Bearer {sb.api_key}"}
    url = sb.base_url + "/deliveries"
    for undocumented in ({"externalId": "a-00001"}, {"messageId": "1"}, {"status": "delivered"}):
        rows = httpx.get(url, params=undocumented, headers=headers).json()["data"]["rows"]
        assert sorted(r["number"] for r in rows) == PHONES[:3]  # ignored, as a real server would
    # the listing lags behind: a message is listed deliveries_lag_s (unscaled) after it left
    sb.configure(deliveries_lag_s=3600 * TIME_SCALE)  # an hour, at any time_scale
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        client.send(subscribers=PHONES[3:4], message="late", external_id="c-00001")
        assert list(client.iter_deliveries()) == []
        sb.configure(deliveries_lag_s=0.0)
        assert sorted(d.number for d in client.iter_deliveries()) == PHONES[:4]


def test_webhooks_crud(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> tuple[Webhook, list[Webhook], Webhook, list[Webhook]]:
        hook = await api.create_webhook(
            event="delivery-status",
            url="http://127.0.0.1:9/hook?event=delivery-status",
            secret="s3cret-webhook",
        )
        listed = await api.list_webhooks()
        changed = await api.update_webhook(hook.id, retry_on_error=False)
        await api.delete_webhook(hook.id)
        after = await api.list_webhooks()
        return hook, listed, changed, after

    hook, listed, changed, after = run(kind, sb, scenario)
    assert hook.id is not None
    assert hook.event == "delivery-status"
    assert hook.url == "http://127.0.0.1:9/hook?event=delivery-status"
    assert "s3cret-webhook" not in repr(hook)
    assert [w.id for w in listed] == [hook.id]
    assert changed.retry_on_error is False
    assert after == []


def test_list_dedicated_numbers(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> Any:
        return await api.list_dedicated_numbers()

    numbers = run(kind, sb, scenario)
    by_id = {n.id: n for n in numbers}
    assert {100, 101, 102, 103} <= set(by_id)
    assert str(by_id[101].number) == "+13125550101"


# -- each error class from a real sandbox answer ----------------------------------------------


def test_401_bad_key(kind: str, sb: Any, caplog: pytest.LogCaptureFixture) -> None:
    bad_key = "wrong-key-DO-NOT-LEAK-1234"
    caplog.set_level(logging.DEBUG, logger="mta_notebook")

    async def scenario(api: Api) -> AuthenticationError:
        with pytest.raises(AuthenticationError) as info:
            await api.verify_api_key()
        return info.value

    err = run(kind, sb, scenario, api_key=bad_key)
    assert err.status_code == 401
    assert "Invalid API key" in err.api_message
    assert err.request_id
    assert "MTA_API_KEY" in str(err)  # says how to fix it
    assert bad_key not in str(err)
    assert bad_key not in caplog.text


def test_400_validation_from_the_server(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> BadRequestError:
        with pytest.raises(BadRequestError) as info:
            await api.send(subscribers=PHONES[:1], message="hi", longcode_id=999)
        return info.value

    err = run(kind, sb, scenario)
    assert err.status_code == 400
    assert "longcodeId" in err.api_message
    assert err.request_id
    assert sb.ground_truth() == []


def test_404_unknown_subscriber(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> NotFoundError:
        with pytest.raises(NotFoundError) as info:
            await api.get_subscriber("+13125559999")
        return info.value

    err = run(kind, sb, scenario)
    assert err.status_code == 404
    assert "%2B13125559999" in str(err)


def test_403_template_only_account(kind: str) -> None:
    with sandbox.running(api_key=KEY, time_scale=TIME_SCALE, config={"template_only": True}) as sb:

        async def scenario(api: Api) -> PermissionDeniedError:
            with pytest.raises(PermissionDeniedError) as info:
                await api.send(subscribers=PHONES[:1], message="free text")
            return info.value

        err = run(kind, sb, scenario)
    assert err.status_code == 403
    assert err.reason == "TEMPLATE_ONLY"
    assert "template" in err.api_message


def test_429_without_pacing_and_retries(kind: str) -> None:
    # time_scale=1: the 15 s window cannot end during 26 requests, however slow the machine.
    with sandbox.running(api_key=KEY, time_scale=1.0) as sb:

        async def scenario(api: Api) -> RateLimitError:
            for n in range(25):
                await api.send(subscribers=[PHONES[0]], message="hi", external_id=f"r{n}")
            with pytest.raises(RateLimitError) as info:
                await api.send(subscribers=[PHONES[0]], message="hi", external_id="r25")
            return info.value

        err = run(kind, sb, scenario, pacing=False, max_retries=0)
        sent = len(sb.ground_truth())
    assert sent == 25  # the documented /send limit per window
    assert err.status_code == 429
    assert err.retry_after is not None
    assert 0 < err.retry_after <= 15.0
    assert "Rate limit" in err.api_message


def test_429_burst_fault_is_retried_then_raised(
    kind: str, sb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mta_notebook")
    sb.set_faults(rate_limit_burst=1.0)

    async def scenario(api: Api) -> RateLimitError:
        with pytest.raises(RateLimitError) as info:
            await api.send(subscribers=[PHONES[0]], message="hi", external_id="burst")
        return info.value

    err = run(kind, sb, scenario, max_retries=2)
    assert err.retry_after is not None
    assert caplog.text.count("because HTTP 429") == 2
    assert sb.ground_truth() == []


# -- retries driven by sandbox faults ---------------------------------------------------------


def test_error_before_is_retried_for_gets(
    kind: str, sb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mta_notebook")
    sb.set_faults(error_before=0.5, paths=["/subscribers", "/deliveries"])

    async def scenario(api: Api) -> list[int]:
        sizes = []
        for _ in range(6):
            sizes.append(len(await api.collect("iter_deliveries")))
        return sizes

    sizes = run(kind, sb, scenario, retry_policy=FAST_RETRIES)
    assert sizes == [0] * 6
    assert caplog.text.count("because HTTP 500") >= 1


def test_error_before_exhausts_retries_with_server_error(
    kind: str, sb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mta_notebook")
    sb.set_faults(error_before=1.0, paths=["/subscribers"])

    async def scenario(api: Api) -> ServerError:
        with pytest.raises(ServerError) as info:
            await api.get_subscriber("+13125550000")
        return info.value

    err = run(kind, sb, scenario, retry_policy=RetryPolicy(max_retries=2, initial_delay=0.01))
    assert err.status_code == 500
    assert "error_before" in err.api_message
    assert caplog.text.count("because HTTP 500") == 2


def test_an_illegal_header_value_fails_before_anything_is_sent(kind: str, sb: Any) -> None:
    async def scenario(api: Api) -> APIConnectionError:
        # a header value with a newline (as a pasted key would have) cannot be written: h11
        # refuses it before a byte leaves, so it is not an unknown outcome
        api.client._http.headers["X-Campaign"] = "spring\nsale"
        with pytest.raises(APIConnectionError) as info:
            await api.send(subscribers=PHONES[:1], message="hi", external_id="hdr")
        return info.value

    err = run(kind, sb, scenario)
    assert not isinstance(err, SendOutcomeUnknown)
    assert "LocalProtocolError" in str(err)
    assert "nothing left this machine" in str(err)
    assert sb.ground_truth() == []


@pytest.mark.parametrize("fault", ["error_after", "drop_after"])
def test_send_outcome_unknown_and_exactly_one_send(kind: str, sb: Any, fault: str) -> None:
    sb.set_faults(**{fault: 1.0})

    async def scenario(api: Api) -> SendOutcomeUnknown:
        with pytest.raises(SendOutcomeUnknown) as info:
            await api.send(subscribers=PHONES[:2], message="hi", external_id=f"u-{fault}")
        return info.value

    err = run(kind, sb, scenario)
    assert err.external_id == f"u-{fault}"
    rows = [r for r in sb.ground_truth() if r["external_id"] == f"u-{fault}"]
    assert sorted(r["phone"] for r in rows) == PHONES[:2]  # it did happen ...
    assert len({r["message_id"] for r in rows}) == 1  # ... exactly once


def test_pacing_follows_server_headers(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    """Someone else used 20 of the 25 sends in this window: the client learns it from the
    RateLimit headers and waits for the next window instead of running into a 429."""
    caplog.set_level(logging.DEBUG, logger="mta_notebook")
    window = 15.0 / 3.0  # time_scale=3: 26 requests take far less than 5 s on any machine

    async def scenario(api: Api) -> float:
        await api.send(subscribers=[PHONES[0]], message="hi", external_id="first")
        start = time.monotonic()
        results = await asyncio.gather(
            *(
                api.send(subscribers=[PHONES[1]], message="hi", external_id=f"p{n}")
                for n in range(8)
            )
        )
        assert [r.total_sent for r in results] == [1] * 8
        return time.monotonic() - start

    with sandbox.running(api_key=KEY, time_scale=3.0) as sb:
        with Client(api_key=KEY, base_url=sb.base_url, pacing=False) as other:
            for n in range(20):
                other.send(subscribers=[PHONES[2]], message="other", external_id=f"o{n}")
        waited = run(kind, sb, scenario, max_retries=0)  # a single 429 would raise
        assert len(sb.ground_truth()) == 29
    assert "HTTP 429" not in caplog.text
    assert "pacing: waiting" in caplog.text
    assert waited > 0.0
    assert waited < 2 * window


def test_concurrent_async_sends_share_one_limiter(caplog: pytest.LogCaptureFixture) -> None:
    """Sixty concurrent sends over three 1 s windows: no 429 (max_retries=0 would raise)."""
    caplog.set_level(logging.DEBUG, logger="mta_notebook")

    async def scenario(api: Api) -> int:
        results = await asyncio.gather(
            *(api.send(subscribers=[PHONES[n % 10]], message="hi") for n in range(60))
        )
        return sum(r.total_sent for r in results)

    with sandbox.running(api_key=KEY, time_scale=15.0) as sb:
        assert run("async", sb, scenario, max_retries=0) == 60
        assert len(sb.ground_truth()) == 60
    assert "HTTP 429" not in caplog.text
    assert caplog.text.count("pacing: waiting") >= 2


def test_sync_client_is_safe_to_share_between_threads(sb: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with Client(api_key=sb.api_key, base_url=sb.base_url, max_retries=0) as client:

        def one(n: int) -> int:
            return client.send(
                subscribers=[PHONES[n % 10]], message="x", external_id=f"t{n}"
            ).total_sent

        with ThreadPoolExecutor(max_workers=8) as pool:
            total = sum(pool.map(one, range(60)))
    assert total == 60  # max_retries=0: a single 429 would have raised
    assert len(sb.ground_truth()) == 60


def test_sync_client_works_inside_a_running_event_loop(sb: Any) -> None:
    """As in a Jupyter cell: the sync client never needs (or nests) an event loop."""

    async def cell() -> str | None:
        with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
            return client.verify_api_key().name

    assert asyncio.run(cell()) == "Sandbox Account"


def test_key_absent_from_repr_logs_and_errors(
    kind: str, sb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mta_notebook")
    sb.set_faults(error_after=1.0)
    texts: list[str] = []

    async def scenario(api: Api) -> None:
        texts.append(repr(api.client))
        texts.append(api.client._repr_html_())
        with pytest.raises(SendOutcomeUnknown) as unknown:
            await api.send(subscribers=PHONES[:1], message="hi", external_id="k")
        texts.extend([str(unknown.value), repr(unknown.value), str(unknown.value.__cause__)])
        with pytest.raises(NotFoundError) as missing:
            await api.get_subscriber("nobody@example.com")
        texts.extend([str(missing.value), str(missing.value.body)])

    run(kind, sb, scenario)
    texts.append(caplog.text)
    assert "may have taken effect" in caplog.text
    for text in texts:
        assert sb.api_key not in text


def test_read_timeout_get_retried_send_unknown(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mta_notebook")

    async def scenario(api: Api) -> tuple[APITimeoutError, SendOutcomeUnknown]:
        with pytest.raises(APITimeoutError) as timeout:
            await api.list_dedicated_numbers()
        with pytest.raises(SendOutcomeUnknown) as unknown:
            await api.send(subscribers=PHONES[:1], message="hi", external_id="slow")
        return timeout.value, unknown.value

    policy = RetryPolicy(max_retries=1, initial_delay=0.01)
    # Its own sandbox: the slow requests finish there after the client gave up on them.
    with sandbox.running(api_key=KEY, time_scale=TIME_SCALE, faults={"latency_ms": 400}) as sb:
        timeout, unknown = run(kind, sb, scenario, timeout=0.1, retry_policy=policy)
    assert isinstance(timeout.__cause__, httpx.ReadTimeout)
    assert caplog.text.count("because ReadTimeout") == 1  # the GET once, the send never
    assert unknown.external_id == "slow"
    assert isinstance(unknown.__cause__, httpx.ReadTimeout)


def test_connection_refused_is_retried_even_for_send(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on the port: the send certainly did not happen, so it is retried."""
    caplog.set_level(logging.DEBUG, logger="mta_notebook")
    closed = f"http://127.0.0.1:{free_port()}/v3"

    async def scenario(api: Api) -> APIConnectionError:
        with pytest.raises(APIConnectionError) as info:
            await api.send(subscribers=PHONES[:1], message="hi", external_id="never")
        return info.value

    policy = RetryPolicy(max_retries=2, initial_delay=0.01)
    err = run(kind, _Closed(closed), scenario, retry_policy=policy)
    assert not isinstance(err, SendOutcomeUnknown)
    assert isinstance(err.__cause__, httpx.ConnectError)
    assert caplog.text.count("because ConnectError") == 2


class _Closed:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.api_key = KEY
