"""One webhook body as a pydantic model, for the receiver, tests and one-off parsing.

The models read a body with the contract's tables and functions only: the event by
``infer_event``, the phone, reply text and time fields by :mod:`._body` (the contract's
``PHONE_FIELDS``, ``REPLY_TEXT_FIELDS``, ``DATE_FIELDS``), the time by ``parse_time`` and the
status by ``resolve_status``; the log reader (:mod:`._sql`) applies the same tables in bulk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final, cast

from pydantic import BaseModel, ConfigDict, Field

from ..contract import routes as _routes
from ..contract.assumptions import NAIVE_TIMEZONE
from ..contract.dates import parse_time
from ..contract.events import EventName, infer_event, unwrap
from ..contract.statuses import StatusInfo, resolve_status
from ._body import phone_value, reply_text_value, time_field

__all__ = [
    "DeliveryStatusEvent",
    "MessageReplyEvent",
    "MessageSendEvent",
    "NumberOptInEvent",
    "WebhookEvent",
    "parse_event",
]


class _EventBase(BaseModel):
    """Fields every event may carry; unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    EVENT: ClassVar[EventName]

    type: str | None = None
    tags: dict[str, Any] | None = None
    date: str | int | float | None = None
    timestamp: str | int | float | None = None
    sender_name: str | None = Field(default=None, alias=_routes.ROUTE_EVIDENCE_FIELD)

    def _body(self) -> dict[str, Any]:
        """The body as MTA spelled it (field names as sent, unknown fields included)."""
        return self.model_dump(by_alias=True)

    @property
    def phone(self) -> str | None:
        """The raw phone number: the first present field of ``PHONE_FIELDS`` for this event."""
        value = phone_value(self._body(), self.EVENT)
        return None if value is None else str(value)

    def occurred_at(self, naive_timezone: str = NAIVE_TIMEZONE) -> datetime | None:
        """The body's own time in UTC (``DATE_FIELDS``, ``parse_time``); ``None`` without one."""
        body = self._body()
        name = time_field(body)
        return None if name is None else parse_time(body[name], naive_timezone=naive_timezone)


class MessageSendEvent(_EventBase):
    """``message-send``: MTA handed an outbound message to a provider."""

    EVENT: ClassVar[EventName] = "message-send"

    message_id: int | None = Field(default=None, alias="messageId")
    external_id: str | None = Field(default=None, alias="externalId")
    destination_number: str | None = Field(default=None, alias="destinationNumber")


class DeliveryStatusEvent(MessageSendEvent):
    """``delivery-status``: a status update; ``status`` is a code (or a name).

    >>> ev = parse_event(b'{"type":"MTAWebhook.DELIVERY_STATUS","status":7,'
    ...                  b'"destinationNumber":"+13125550123"}')
    >>> ev.status_info.status, ev.status_info.outcome, ev.occurred_at() is None
    ('delivery_unconfirmed', 'unconfirmed', True)
    """

    EVENT: ClassVar[EventName] = "delivery-status"

    status: int | str

    @property
    def status_info(self) -> StatusInfo:
        """The status through MTA's documented table (``resolve_status``)."""
        return resolve_status(self.status)


class MessageReplyEvent(_EventBase):
    """``message-reply``: a subscriber answered."""

    EVENT: ClassVar[EventName] = "message-reply"

    reply_id: int | str | None = Field(default=None, alias="replyId")
    from_number: str | None = Field(default=None, alias="fromNumber")
    to_number: str | None = Field(default=None, alias="toNumber")
    message: str | None = None
    message_id: int | None = Field(default=None, alias="messageId")
    external_id: str | None = Field(default=None, alias="externalId")

    @property
    def reply_text(self) -> str | None:
        """The reply's text: the first present field of ``REPLY_TEXT_FIELDS``."""
        value = reply_text_value(self._body())
        return None if value is None else str(value)


class NumberOptInEvent(_EventBase):
    """``number-opt-in``: a subscriber opted in; ``optInType`` is the method, not a channel."""

    EVENT: ClassVar[EventName] = "number-opt-in"

    number: str | None = None
    opt_in_type: str | None = Field(default=None, alias="optInType")


WebhookEvent = MessageSendEvent | DeliveryStatusEvent | MessageReplyEvent | NumberOptInEvent

_MODELS: Final[dict[EventName, type[_EventBase]]] = {
    "message-send": MessageSendEvent,
    "delivery-status": DeliveryStatusEvent,
    "message-reply": MessageReplyEvent,
    "number-opt-in": NumberOptInEvent,
}


def parse_event(raw: bytes | str | Mapping[str, Any], *, event: str | None = None) -> WebhookEvent:
    """Parse one webhook body (raw bytes, text or dict; flat or ``{"data": {...}}``) to a model.

    The event is the body's ``type``, else ``event`` (the ``?event=`` hint), else its shape
    (:func:`infer_event`). Raises ``ValueError`` (pydantic's ``ValidationError`` or
    ``json.JSONDecodeError``) when the body is not an event.

    >>> ev = parse_event(b'{"type":"MTAWebhook.NUMBER_OPT_IN","number":"+13125550123"}')
    >>> ev.number, ev.phone
    ('+13125550123', '+13125550123')
    """
    payload: Any = json.loads(raw) if isinstance(raw, (bytes, str)) else dict(raw)
    name = infer_event(payload, event)
    if name is None:
        raise ValueError("not a webhook event: no known type, ?event= or field shape")
    return cast("WebhookEvent", _MODELS[name].model_validate(unwrap(payload)))
