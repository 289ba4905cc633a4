"""Client: the sync twin (plain ``httpx.Client``, no event loop, so it works in a Jupyter cell;
safe to share between threads) over the shared pipeline in ``_http``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from .contract.limits import RATE_LIMITS

__all__ = ["Client"]


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
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
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
