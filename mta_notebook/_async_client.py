"""AsyncClient: the asyncio twin; one AsyncClient paces all of its concurrent calls together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import date, datetime
from types import TracebackType
from typing import Any

import httpx
from typing_extensions import Unpack

from ._client_base import (
    DEFAULT_PAGE_SIZE,
    ModelT,
    _BaseClient,
    _fields,
    _list_rows,
    _model,
    _path_id,
)
from ._http import Call, RetryPolicy
from ._models import (
    Account,
    BulkResult,
    DedicatedNumber,
    Delivery,
    SendFields,
    SendRequest,
    SendResult,
    Subscriber,
    Webhook,
)
from ._pacing import Pacer
from .contract.limits import Family

__all__ = ["AsyncClient"]


class AsyncClient(_BaseClient):
    """Asynchronous twin of :class:`Client`: same methods, awaited; ``aclose()`` to close.

    All concurrent calls of one AsyncClient share its rate limiters.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        pacing: bool | Pacer = True,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
            pacing=pacing,
            clock=clock,
        )
        self._sleep = sleep or _default_async_sleep
        self._pace_locks: dict[Family, asyncio.Lock] = {}
        self._http = httpx.AsyncClient(
            headers=self._pipeline.headers(), timeout=self.timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def _pace_lock(self, family: Family) -> asyncio.Lock:
        lock = self._pace_locks.get(family)
        if lock is None:
            lock = self._pace_locks[family] = asyncio.Lock()
        return lock

    async def _request(self, call: Call) -> Any:
        pipeline = self._pipeline
        while True:
            async with self._pace_lock(call.family):  # waiters queue instead of all polling
                while (wait := pipeline.pace(call)) > 0:
                    await self._sleep(wait)
            request = pipeline.build_request(self._http, call)
            try:
                response = await self._http.send(request)
            except httpx.RequestError as exc:
                step = pipeline.on_exception(call, exc)
            except BaseException:
                pipeline.abandon(call)
                raise
            else:
                step = pipeline.on_response(call, response)
            if step.error is not None:
                raise step.error from step.cause
            if step.response is not None:
                return pipeline.decode(call, step.response)
            await self._sleep(step.delay)

    async def _pages(
        self, model: type[ModelT], path: str, params: dict[str, Any], page_size: int
    ) -> AsyncIterator[ModelT]:
        page = 0
        while True:
            query = {**params, "page": page, "pageSize": page_size}
            body = await self._request(self._call("GET", path, params=query))
            result = self._page(model, body, page, page_size)
            for row in result.rows:
                yield row
            if result.is_last(page_size):
                return
            page, page_size = page + 1, result.page_size or page_size

    async def verify_api_key(self) -> Account:
        """Check the key (``GET /auth/verify-api-key``); raises AuthenticationError if bad."""
        body = await self._request(self._call("GET", "/auth/verify-api-key"))
        account = _model(Account, body)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            account.message = body["message"]
        return account

    async def send(
        self,
        request: SendRequest | None = None,
        **fields: Unpack[SendFields],
    ) -> SendResult:
        """Send a message (``POST /send``); see :meth:`Client.send`."""
        return self._send_result(await self._request(self._send_call(request, fields)))

    def iter_subscribers(
        self,
        page_size: int = DEFAULT_PAGE_SIZE,
        *,
        query: str | None = None,
        sort_by: str | None = None,
        sort_direction: str | None = None,
        **filters: Any,
    ) -> AsyncIterator[Subscriber]:
        """Every subscriber matching ``query``/``filters``, page by page (``async for``)."""
        params = self._subscriber_list_params(0, page_size, query, sort_by, sort_direction, filters)
        return self._pages(Subscriber, "/subscribers", params, page_size)

    async def get_subscriber(self, id_or_number: int | str) -> Subscriber:
        """One subscriber by id, number or email; raises NotFoundError."""
        call = self._call("GET", f"/subscribers/{_path_id(id_or_number)}")
        return _model(Subscriber, await self._request(call))

    async def upsert_subscriber(self, **fields: Any) -> Subscriber:
        """Create a subscriber, or update the one with that number/email."""
        call = self._call("POST", "/subscribers", json_body=_fields(**fields))
        return _model(Subscriber, await self._request(call))

    async def update_subscriber(self, id_or_number: int | str, **fields: Any) -> Subscriber:
        """Change fields of one subscriber."""
        call = self._call(
            "PATCH", f"/subscribers/{_path_id(id_or_number)}", json_body=_fields(**fields)
        )
        return _model(Subscriber, await self._request(call))

    async def delete_subscriber(self, id_or_number: int | str) -> None:
        """Delete one subscriber; raises NotFoundError if there is none."""
        await self._request(self._call("DELETE", f"/subscribers/{_path_id(id_or_number)}"))

    async def bulk_upsert_subscribers(
        self, records: Iterable[Mapping[str, Any]], *, create_only: bool = False
    ) -> BulkResult:
        """Create/update many subscribers, 1,000 per request; per-record errors are returned."""
        result = BulkResult()
        for chunk in self._bulk_chunks(records):
            call = self._call(
                "POST",
                "/subscribers/bulk",
                params={"createOnly": create_only},
                json_body=chunk,
                idempotent=not create_only,
            )
            self._bulk_merge(result, await self._request(call), chunk)
        return result

    def iter_deliveries(
        self,
        *,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        status: str | None = None,
        type: str | None = None,
        query: str | None = None,
        sort_direction: str = "DESC",
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Delivery]:
        """Latest status per message and recipient, page by page (``async for``); see
        :meth:`Client.iter_deliveries`."""
        params = self._deliveries_params(start, end, status, type, query, sort_direction)
        return self._pages(Delivery, "/deliveries", params, page_size)

    async def list_webhooks(self) -> list[Webhook]:
        """The registered webhooks."""
        body = await self._request(self._call("GET", "/webhooks"))
        return [Webhook.model_validate(r) for r in _list_rows(body)]

    async def create_webhook(
        self,
        *,
        event: str,
        url: str,
        secret: str,
        retry_on_error: bool = True,
        alert_email: str | None = None,
        send_alert_email: bool | None = None,
        skip_errors: bool | None = None,
        skip_error_codes: list[str] | None = None,
        **extra: Any,
    ) -> Webhook:
        """Register ``url`` for one ``event``."""
        body = self._webhook_fields(
            event,
            url,
            secret,
            retry_on_error,
            alert_email,
            send_alert_email,
            skip_errors,
            skip_error_codes,
            extra,
        )
        body = {k: v for k, v in body.items() if v is not None}
        call = self._call("POST", "/webhooks", json_body=body, idempotent=False)
        return _model(Webhook, await self._request(call))

    async def update_webhook(self, webhook_id: int | str, **fields: Any) -> Webhook:
        """Change fields of a webhook."""
        call = self._call("PATCH", f"/webhooks/{_path_id(webhook_id)}", json_body=_fields(**fields))
        return _model(Webhook, await self._request(call))

    async def delete_webhook(self, webhook_id: int | str) -> None:
        """Remove a webhook."""
        await self._request(self._call("DELETE", f"/webhooks/{_path_id(webhook_id)}"))

    async def list_dedicated_numbers(self) -> list[DedicatedNumber]:
        """The account's dedicated numbers (longcodes) and their ids."""
        body = await self._request(self._call("GET", "/dedicated-numbers"))
        return [DedicatedNumber.model_validate(r) for r in _list_rows(body)]


async def _default_async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)
