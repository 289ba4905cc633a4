"""Client and AsyncClient: thin I/O twins over the shared pipeline in ``_http``.

Both clients build the same calls and parse the same answers (``_BaseClient``); only the
sending and sleeping differ. The sync ``Client`` is plain ``httpx.Client`` (no event loop, so it
works in a Jupyter cell) and is safe to share between threads; one ``AsyncClient`` paces all of
its concurrent calls together.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
import pydantic
from typing_extensions import Unpack

from ._config import Settings
from ._errors import ConfigError, ValidationError
from ._http import DEFAULT_TIMEOUT, Call, Pacer, Pipeline, RetryPolicy
from ._models import (
    Account,
    BulkResult,
    DedicatedNumber,
    Delivery,
    Page,
    SendFields,
    SendRequest,
    SendResult,
    Subscriber,
    Webhook,
)
from .contract.dates import format_deliveries_date
from .contract.limits import BULK_MAX_RECORDS, RATE_LIMITS, Family
from .contract.statuses import DELIVERIES_FILTER_STATUSES

__all__ = ["AsyncClient", "Client"]

DEFAULT_PAGE_SIZE: Final = 1000
_DELIVERIES_STATUSES: Final = frozenset(s.name for s in DELIVERIES_FILTER_STATUSES)
_YMD: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

_UNSET: Any = object()


def _data(body: Any) -> Any:
    """The ``data`` of MTA's envelope, or the body itself when it is not wrapped."""
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    return body


def _deliveries_date(value: date | datetime | str | None, name: str) -> str | None:
    """A ``filters[startDate]``/``[endDate]`` value: ``YYYY-MM-DD`` (a datetime: its UTC date)."""
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return format_deliveries_date(value)
    if isinstance(value, str) and _YMD.match(value.strip()):
        try:
            return format_deliveries_date(date.fromisoformat(value.strip()))
        except ValueError:
            pass
    raise ValidationError(f"{name} must be a date, datetime or 'YYYY-MM-DD', got {value!r}")


def _path_id(value: int | str) -> str:
    return quote(str(value), safe="")


def _list_rows(body: Any) -> list[Any]:
    data = _data(body)
    if isinstance(data, dict):
        rows = data.get("rows", [])
    else:
        rows = data if isinstance(data, list) else []
    return list(rows)


def _fields(**kwargs: Any) -> dict[str, Any]:
    """camelCase body from snake_case keywords, leaving out the ones not given."""
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if value is _UNSET:
            continue
        head, *rest = key.split("_")
        out[head + "".join(p[:1].upper() + p[1:] for p in rest)] = value
    return out


def _check_timeout(timeout: httpx.Timeout) -> None:
    for part in ("connect", "read", "write", "pool"):
        value = getattr(timeout, part)
        if value is not None and not (isinstance(value, (int, float)) and 0 < value < math.inf):
            raise ConfigError(
                f"Invalid settings: timeout.{part} must be a positive number of seconds or None "
                f"(no limit), got {value!r}"
            )


class _BaseClient:
    """Everything both clients share: settings, calls, and parsing of the answers."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int | None,
        retry_policy: RetryPolicy | None,
        pacing: bool | Pacer,
        clock: Callable[[], float] | None,
    ) -> None:
        number = timeout if isinstance(timeout, (int, float)) else None
        settings = Settings.load(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=number
        )
        key = settings.require_api_key()
        if retry_policy is None:
            retry_policy = RetryPolicy(max_retries=settings.max_retries)
        elif max_retries is not None:
            raise ConfigError("pass max_retries= or retry_policy=, not both")
        clock = clock or time.monotonic
        if isinstance(pacing, Pacer):
            pacer: Pacer | None = pacing
        else:
            pacer = Pacer(clock=clock) if pacing else None
        if timeout is None:
            timeout = (
                DEFAULT_TIMEOUT if "timeout" not in settings.model_fields_set else settings.timeout
            )
        elif isinstance(timeout, httpx.Timeout):
            _check_timeout(timeout)
        else:
            timeout = settings.timeout
        self.timeout: httpx.Timeout = (
            timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        )
        self._pipeline = Pipeline(
            api_key=key, base_url=settings.base_url_clean, policy=retry_policy, pacer=pacer
        )
        self._pipeline.clock = clock

    @property
    def base_url(self) -> str:
        """The API root requests go to, e.g. ``https://api.mobile-text-alerts.com/v3``."""
        return self._pipeline.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._pipeline.policy

    @property
    def pacer(self) -> Pacer | None:
        """The client-side rate limiters (``None`` when pacing is off)."""
        return self._pipeline.pacer

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, "
            f"max_retries={self.retry_policy.max_retries}, "
            f"pacing={'on' if self.pacer is not None else 'off'})"
        )

    def _repr_html_(self) -> str:
        import html

        return f"<code>{html.escape(repr(self))}</code>"

    # -- calls -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        external_id: str | None = None,
        idempotent: bool = True,
    ) -> Call:
        return self._pipeline.call(
            method,
            path,
            params=params,
            json_body=json_body,
            external_id=external_id,
            idempotent=idempotent,
        )

    def _send_call(self, request: SendRequest | None, fields: SendFields) -> Call:
        """The one body builder of both clients' ``send``."""
        given = {k: v for k, v in fields.items() if v is not None}
        if request is not None and given:
            raise ValidationError(
                f"send() takes a SendRequest or keyword fields, not both (got {sorted(given)})"
            )
        if request is None:
            try:
                request = SendRequest(**given)
            except pydantic.ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors()
                )
                raise ValidationError(f"invalid send request: {problems}") from exc
        return self._call(
            "POST", "/send", json_body=request.to_body(), external_id=request.external_id
        )

    @staticmethod
    def _send_result(body: Any) -> SendResult:
        data = _data(body)
        data = dict(data) if isinstance(data, dict) else {}
        if isinstance(body, dict) and "message" in body and "message" not in data:
            data["message"] = body["message"]
        return SendResult.model_validate(data)

    def _subscriber_list_params(
        self,
        page: int,
        page_size: int,
        query: str | None,
        sort_by: str | None,
        sort_direction: str | None,
        filters: Mapping[str, Any],
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "page": page,
            "pageSize": page_size,
            "query": query,
            "sortBy": sort_by,
            "sortDirection": sort_direction,
        }
        params.update({f"filters[{k}]": v for k, v in filters.items()})
        return params

    @staticmethod
    def _deliveries_params(
        start: date | datetime | str | None,
        end: date | datetime | str | None,
        status: str | None,
        type: str | None,
        query: str | None,
        sort_direction: str,
    ) -> dict[str, Any]:
        """The documented query of ``GET /deliveries`` (``/check-delivery-status``), checked."""
        if status is not None and status.strip().lower() not in _DELIVERIES_STATUSES:
            raise ValidationError(
                f"status must be one of {', '.join(sorted(_DELIVERIES_STATUSES))} (the "
                f"/deliveries filter names), got {status!r}"
            )
        direction = sort_direction.strip().upper()
        if direction not in ("ASC", "DESC"):
            raise ValidationError(f"sort_direction must be 'ASC' or 'DESC', got {sort_direction!r}")
        return {
            "sortBy": "date",
            "sortDirection": direction,
            "query": query,
            "filters[startDate]": _deliveries_date(start, "start"),
            "filters[endDate]": _deliveries_date(end, "end"),
            "filters[type]": type.strip().lower() if type is not None else None,
            "filters[status]": status.strip().lower() if status is not None else None,
        }

    @staticmethod
    def _page(model: type[ModelT], body: Any, page: int, page_size: int) -> Page[ModelT]:
        data = _data(body)
        if isinstance(data, list):
            data = {"rows": data, "page": page, "pageSize": page_size, "total": None}
        if not isinstance(data, dict):
            data = {}
        data = {"page": page, "pageSize": page_size, **data}
        result = Page[model].model_validate(data)  # type: ignore[valid-type]
        return result

    @staticmethod
    def _bulk_chunks(records: Iterable[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
        items = [dict(r) for r in records]
        return [items[i : i + BULK_MAX_RECORDS] for i in range(0, len(items), BULK_MAX_RECORDS)]

    @staticmethod
    def _bulk_merge(result: BulkResult, body: Any, sent: list[dict[str, Any]]) -> None:
        data = _data(body)
        data = data if isinstance(data, dict) else {}
        created = list(data.get("createdRecords") or [])
        updated = list(data.get("updatedRecords") or [])
        errors = list(data.get("errorRecords") or [])
        result.created.extend(created)
        result.updated.extend(updated)
        result.errors.extend(errors)
        result.total_record_count += int(data.get("totalRecordCount", len(sent)))
        result.requests += 1

    @staticmethod
    def _webhook_fields(
        event: Any = _UNSET,
        url: Any = _UNSET,
        secret: Any = _UNSET,
        retry_on_error: Any = _UNSET,
        alert_email: Any = _UNSET,
        send_alert_email: Any = _UNSET,
        skip_errors: Any = _UNSET,
        skip_error_codes: Any = _UNSET,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = _fields(
            event=event,
            url=url,
            secret=secret,
            retry_on_error=retry_on_error,
            alert_email=alert_email,
            send_alert_email=send_alert_email,
            skip_errors=skip_errors,
            skip_error_codes=skip_error_codes,
        )
        body.update(extra or {})
        return body


def _model(model: type[ModelT], body: Any) -> ModelT:
    data = _data(body)
    return model.model_validate(data if isinstance(data, dict) else {})


class Client(_BaseClient):
    """Synchronous MTA client (plain ``httpx.Client``; safe to share between threads).

    Parameters
    ----------
    api_key, base_url
        Default to ``MTA_API_KEY`` / ``MTA_BASE_URL``; a missing key raises ``ConfigError``.
    timeout
        Seconds or an ``httpx.Timeout`` (default 30 s read, 10 s connect).
    max_retries
        Retries of a failed call (default 3); see ``RetryPolicy`` for the rules.
    retry_policy, pacing, transport, sleep, clock
        Advanced: a full ``RetryPolicy``; ``pacing=False`` turns the client-side rate limiter
        off (or pass a shared ``Pacer``); an httpx transport; the ``sleep``/``clock`` used for
        waits (tests inject fakes).

    Examples
    --------
    >>> from mta_notebook import Client, sandbox
    >>> with sandbox.running() as sb, Client(api_key=sb.api_key, base_url=sb.base_url) as c:
    ...     c.send(subscribers=["+13125550123"], message="Hi").total_sent  # doctest: +SKIP
    1
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        *,
        retry_policy: RetryPolicy | None = None,
        pacing: bool | Pacer = True,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
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
        self._sleep = sleep or time.sleep
        self._pace_locks = {family: threading.Lock() for family in RATE_LIMITS}
        self._http = httpx.Client(
            headers=self._pipeline.headers(), timeout=self.timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _request(self, call: Call) -> Any:
        pipeline = self._pipeline
        while True:
            with self._pace_locks[call.family]:  # waiters queue instead of all polling
                while (wait := pipeline.pace(call)) > 0:
                    self._sleep(wait)
            request = pipeline.build_request(self._http, call)
            try:
                response = self._http.send(request)
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
            self._sleep(step.delay)

    def _pages(
        self, model: type[ModelT], path: str, params: dict[str, Any], page_size: int
    ) -> Iterator[ModelT]:
        page = 0
        while True:
            query = {**params, "page": page, "pageSize": page_size}
            result = self._page(
                model, self._request(self._call("GET", path, params=query)), page, page_size
            )
            yield from result.rows
            if result.is_last(page_size):
                return
            page, page_size = page + 1, result.page_size or page_size

    # -- account -----------------------------------------------------------------------------

    def verify_api_key(self) -> Account:
        """Check the key (``GET /auth/verify-api-key``); raises AuthenticationError if bad."""
        body = self._request(self._call("GET", "/auth/verify-api-key"))
        account = _model(Account, body)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            account.message = body["message"]
        return account

    # -- sending -----------------------------------------------------------------------------

    def send(
        self,
        request: SendRequest | None = None,
        **fields: Unpack[SendFields],
    ) -> SendResult:
        """Send a message (``POST /send``); one ``message_id`` covers all recipients.

        Retried only when it certainly did not take effect (429, or no connection). When it may
        have (timeout, dropped connection, 5xx) it raises ``SendOutcomeUnknown`` with
        ``external_id``: look for that ``externalId`` in ``iter_deliveries(start=..., end=...)``
        (or in the ``message-send`` webhooks) before resending; ``resume_campaign`` does this.
        An error raised before the request left (a refused connection, an illegal header value)
        is an ``APIConnectionError``: nothing was sent.
        """
        return self._send_result(self._request(self._send_call(request, fields)))

    # -- subscribers -------------------------------------------------------------------------

    def iter_subscribers(
        self,
        page_size: int = DEFAULT_PAGE_SIZE,
        *,
        query: str | None = None,
        sort_by: str | None = None,
        sort_direction: str | None = None,
        **filters: Any,
    ) -> Iterator[Subscriber]:
        """Every subscriber matching ``query``/``filters``, fetched page by page (from page 0)."""
        params = self._subscriber_list_params(0, page_size, query, sort_by, sort_direction, filters)
        return self._pages(Subscriber, "/subscribers", params, page_size)

    def get_subscriber(self, id_or_number: int | str) -> Subscriber:
        """One subscriber by id, number or email; raises NotFoundError."""
        return _model(
            Subscriber, self._request(self._call("GET", f"/subscribers/{_path_id(id_or_number)}"))
        )

    def upsert_subscriber(self, **fields: Any) -> Subscriber:
        """Create a subscriber, or update the one with that number/email (``POST /subscribers``).

        Fields in snake_case or MTA's camelCase: ``e164_number``, ``first_name``, ``email``...
        """
        body = _fields(**fields)
        return _model(Subscriber, self._request(self._call("POST", "/subscribers", json_body=body)))

    def update_subscriber(self, id_or_number: int | str, **fields: Any) -> Subscriber:
        """Change fields of one subscriber (``PATCH /subscribers/{idOrNumber}``)."""
        call = self._call(
            "PATCH", f"/subscribers/{_path_id(id_or_number)}", json_body=_fields(**fields)
        )
        return _model(Subscriber, self._request(call))

    def delete_subscriber(self, id_or_number: int | str) -> None:
        """Delete one subscriber; raises NotFoundError if there is none."""
        self._request(self._call("DELETE", f"/subscribers/{_path_id(id_or_number)}"))

    def bulk_upsert_subscribers(
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
            self._bulk_merge(result, self._request(call), chunk)
        return result

    # -- deliveries --------------------------------------------------------------------------

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
    ) -> Iterator[Delivery]:
        """Latest status per message and recipient (``GET /deliveries``), page by page.

        Only MTA's documented filters: ``start``/``end`` (``filters[startDate]``/``[endDate]``,
        dates; a datetime gives its UTC date), ``status`` (``sent``, ``delivered``,
        ``undelivered``, ``undeliverable``, ``unknown``, ``rejected``), ``type`` (``sms``,
        ``mms``, ``tts``), ``query`` (a subscriber's name, number or email); sorted by date.
        There is no filter by ``externalId`` or ``messageId``: match rows client-side.
        """
        params = self._deliveries_params(start, end, status, type, query, sort_direction)
        return self._pages(Delivery, "/deliveries", params, page_size)

    # -- webhooks ----------------------------------------------------------------------------

    def list_webhooks(self) -> list[Webhook]:
        """The registered webhooks."""
        return [
            Webhook.model_validate(r)
            for r in _list_rows(self._request(self._call("GET", "/webhooks")))
        ]

    def create_webhook(
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
        """Register ``url`` for one ``event`` (``message-send``, ``delivery-status``, ...)."""
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
        return _model(Webhook, self._request(call))

    def update_webhook(self, webhook_id: int | str, **fields: Any) -> Webhook:
        """Change fields of a webhook (``PATCH /webhooks/{id}``)."""
        call = self._call("PATCH", f"/webhooks/{_path_id(webhook_id)}", json_body=_fields(**fields))
        return _model(Webhook, self._request(call))

    def delete_webhook(self, webhook_id: int | str) -> None:
        """Remove a webhook."""
        self._request(self._call("DELETE", f"/webhooks/{_path_id(webhook_id)}"))

    def list_dedicated_numbers(self) -> list[DedicatedNumber]:
        """The account's dedicated numbers (longcodes) and their ids."""
        body = self._request(self._call("GET", "/dedicated-numbers"))
        return [DedicatedNumber.model_validate(r) for r in _list_rows(body)]


async def _default_async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncClient(_BaseClient):
    """Asynchronous twin of :class:`Client`: same methods, awaited; ``aclose()`` to close.

    All concurrent calls of one AsyncClient share its rate limiters.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        *,
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
