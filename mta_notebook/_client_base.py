"""What both clients share: building calls and parsing answers (``_BaseClient``).

The sync :class:`~mta_notebook.Client` (``_client``) and :class:`~mta_notebook.AsyncClient`
(``_async_client``) are thin I/O twins over it and the pipeline in ``_http``: only sending and
sleeping differ.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from ._config import Settings
from ._errors import ConfigError, ValidationError
from ._http import DEFAULT_TIMEOUT, Call, Pipeline, RetryPolicy
from ._models import (
    BulkResult,
    Page,
    SendFields,
    SendRequest,
    SendResult,
)
from ._pacing import Pacer
from .contract.dates import format_deliveries_date
from .contract.limits import BULK_MAX_RECORDS
from .contract.statuses import DELIVERIES_FILTER_STATUSES

__all__ = ["DEFAULT_PAGE_SIZE"]

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

    def _call(self, method: str, path: str, **options: Any) -> Call:
        """One API call, described by the pipeline (``params``, ``json_body``, ...)."""
        return self._pipeline.call(method, path, **options)

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
