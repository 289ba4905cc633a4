"""Pydantic models of the MTA API. MTA's tables (statuses, events, limits) live in ``contract``."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from .contract.assumptions import DELIVERIES_NUMBER_FIELDS
from .contract.dates import format_scheduled_date, parse_time

__all__ = [
    "Account",
    "BulkResult",
    "DedicatedNumber",
    "Delivery",
    "Page",
    "SendFields",
    "SendRequest",
    "SendResult",
    "Subscriber",
    "Webhook",
]


# ---------------------------------------------------------------------------------------------
# API models. Requests forbid unknown fields (a typo is an error, not a silently ignored key);
# responses allow and keep them (a new MTA field never breaks the client).


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Response(BaseModel):
    """Base of every API answer: snake_case attributes, camelCase on the wire, extras kept."""

    model_config = ConfigDict(
        extra="allow", populate_by_name=True, alias_generator=_camel, frozen=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The model as MTA spells it (camelCase keys, unknown fields included)."""
        return self.model_dump(by_alias=True, exclude_none=True)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in self.model_dump().items()
        )
        return f"<table><caption>{type(self).__name__}</caption>{rows}</table>"


class Account(_Response):
    """The answer to ``GET /v3/auth/verify-api-key``: whose key it is."""

    name: str | None = None
    email: str | None = None
    message: str | None = None


class SendFields(TypedDict, total=False):
    """The keyword fields of ``Client.send`` / ``AsyncClient.send``: those of :class:`SendRequest`
    (a test keeps the two the same)."""

    subscribers: list[int | str]
    subscriber_ids: list[int]
    groups: list[int]
    all_subscribers: bool
    thread_id: int
    message: str
    image: str
    rehost: bool
    is_mms: bool
    template_id: int
    link_id: int
    sender_name: str
    longcode_id: int
    scheduled_date: str | datetime
    repeat: dict[str, Any]
    external_id: str
    tags: dict[str, str]
    properties: dict[str, dict[str, Any]]
    header: str
    footer: str


class SendRequest(BaseModel):
    """The body of ``POST /v3/send``: every documented field, snake_case in Python.

    At least one recipient field (``subscribers``, ``subscriber_ids``, ``groups``,
    ``all_subscribers``, ``thread_id``) and one content field (``message``, ``image``,
    ``template_id``) are required.

    >>> req = SendRequest(subscribers=["+13125550123"], message="Hi", sender_name="Acme")
    >>> req.to_body()
    {'subscribers': ['+13125550123'], 'message': 'Hi', 'senderName': 'Acme'}
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=_camel)

    subscribers: list[int | str] | None = None
    subscriber_ids: list[int] | None = None
    groups: list[int] | None = None
    all_subscribers: bool | None = None
    thread_id: int | None = None
    message: str | None = None
    image: str | None = None
    rehost: bool | None = None
    is_mms: bool | None = Field(default=None, alias="isMMS")
    template_id: int | None = None
    link_id: int | None = None
    sender_name: str | None = None
    longcode_id: int | None = None
    scheduled_date: str | None = None
    repeat: dict[str, Any] | None = None
    external_id: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, dict[str, Any]] | None = None
    header: str | None = None
    footer: str | None = None

    @field_validator("scheduled_date", mode="before")
    @classmethod
    def _scheduled(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("scheduled_date needs a timezone (e.g. datetime.now(UTC))")
            return format_scheduled_date(value)
        return value

    @model_validator(mode="after")
    def _recipients_and_content(self) -> SendRequest:
        recipients = [
            self.subscribers,
            self.subscriber_ids,
            self.groups,
            self.all_subscribers or None,
            self.thread_id,
        ]
        if all(r is None or r == [] for r in recipients):
            raise ValueError(
                "no recipients: give subscribers, subscriber_ids, groups, thread_id "
                "or all_subscribers=True"
            )
        if self.all_subscribers and (self.subscribers or self.subscriber_ids or self.groups):
            raise ValueError("all_subscribers=True cannot be combined with other recipients")
        if self.message is None and self.image is None and self.template_id is None:
            raise ValueError("no content: give message, image or template_id")
        return self

    def to_body(self) -> dict[str, Any]:
        """The JSON body MTA expects (camelCase, unset fields left out)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class SendResult(_Response):
    """The answer to ``POST /v3/send``: one ``message_id`` for all recipients of the call."""

    message_id: int
    total_sent: int = 0
    total_failed_international: int = Field(default=0, alias="totalFailedInternationalRecipients")
    message: str | None = None


class Subscriber(_Response):
    """A subscriber of the account (MTA's ``IPublicNumber``); unknown fields kept."""

    id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    number: int | str | None = None
    e164_number: str | None = None


class BulkResult(_Response):
    """The merged answer of one or more ``POST /v3/subscribers/bulk`` requests.

    Per-record problems are data in ``errors`` (each the record plus ``error``), never raised.
    """

    created: list[dict[str, Any]] = Field(default_factory=list)
    updated: list[dict[str, Any]] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    total_record_count: int = 0
    requests: int = 0


class Delivery(_Response):
    """One row of ``GET /v3/deliveries``: a message to one recipient and its latest status.

    ``status`` is kept as sent (a ``/deliveries`` name or a code; read it through
    ``contract.statuses.resolve_status``); ``date`` as text (``sent_at`` parses it).

    >>> d = Delivery.model_validate({"messageId": 7, "toNumber": 3125550123, "externalId": 42,
    ...                              "status": "Undeliverable", "date": "2026-11-27T05:02:57Z"})
    >>> d.number, d.external_id, d.sent_at.isoformat()
    ('3125550123', '42', '2026-11-27T05:02:57+00:00')
    """

    message_id: int | None = None
    external_id: str | None = None
    number: str | None = None
    status: str | int | None = None
    date: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _row_shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        number = next((out[k] for k in DELIVERIES_NUMBER_FIELDS if out.get(k) is not None), None)
        if number is not None:
            out["number"] = str(number)
        for key in ("externalId", "external_id"):
            if isinstance(out.get(key), int) and not isinstance(out[key], bool):
                out[key] = str(out[key])
        return out

    @property
    def sent_at(self) -> datetime | None:
        """``date`` as an aware UTC datetime (``contract.dates.parse_time``), or ``None``."""
        return parse_time(self.date)


class Webhook(_Response):
    """A registered webhook (the secret is never kept in the model's repr)."""

    id: int | str | None = Field(default=None, alias="webhookId")
    event: str | None = None
    url: str | None = None
    retry_on_error: bool | None = None
    secret: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _id_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "webhookId" not in data and "id" in data:
            data = {**data, "webhookId": data["id"]}
            del data["id"]
        return data


class DedicatedNumber(_Response):
    """A dedicated number (longcode) of the account; ``id`` is what ``longcode_id`` takes."""

    id: int | None = None
    number: str | int | None = None
    sender_name: str | None = None


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list endpoint (``page`` is 0-based)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=_camel)

    rows: list[ItemT] = Field(default_factory=list)
    page: int = 0
    page_size: int = 0
    total: int | None = None

    def is_last(self, requested_page_size: int) -> bool:
        """Whether no page follows: a short page, or ``(page+1)*pageSize >= total``."""
        size = self.page_size or requested_page_size  # the server may cap what was asked
        if len(self.rows) == 0 or len(self.rows) < size:
            return True
        return self.total is not None and (self.page + 1) * size >= self.total
