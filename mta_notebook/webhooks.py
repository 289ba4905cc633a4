"""Webhooks: signatures, single-event models, registration, and the public loader entry points.

MTA signs each webhook with ``X-Signature``: the lowercase hex HMAC-SHA256 of the exact raw body
under the webhook secret (:mod:`.contract.signature`). :func:`verify_signature` checks one body;
the receiver (:mod:`mta_notebook.receiver`) stores every signed event; :func:`read_webhook_log`
(:mod:`mta_notebook.webhook_log`) loads millions of them into the Events table. The models here
read one body with the contract's field names (:mod:`.contract.events`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from ._errors import WebhookSignatureError
from .contract import events as _events
from .contract import routes as _routes
from .contract.assumptions import NAIVE_TIMEZONE
from .contract.dates import parse_time
from .contract.events import EventName, infer_event, unwrap
from .contract.signature import sign, verify_signature
from .contract.statuses import StatusInfo, resolve_status

if TYPE_CHECKING:
    from .webhook_log import EventLog

__all__ = [
    "ALL_EVENTS",
    "DeliveryStatusEvent",
    "MessageReplyEvent",
    "MessageSendEvent",
    "NumberOptInEvent",
    "WebhookEvent",
    "check_signature",
    "fetch_deliveries",
    "infer_event",
    "parse_event",
    "register_webhooks",
    "sign",
    "verify_signature",
]

ALL_EVENTS: Final[tuple[EventName, ...]] = _events.EVENTS
_TYPE_OF: Final = {event: mta_type for mta_type, event in _events.MTA_TYPES.items()}


# ---------------------------------------------------------------------------------------------
# Single-event models (the receiver, tests, one-off parsing; the bulk loader uses DuckDB).
# ---------------------------------------------------------------------------------------------


class _EventBase(BaseModel):
    """Fields every event may carry; unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    EVENT: ClassVar[EventName]

    type: str | None = None
    tags: dict[str, Any] | None = None
    date: str | int | float | None = None
    timestamp: str | int | float | None = None
    sender_name: str | None = Field(default=None, alias=_routes.ROUTE_EVIDENCE_FIELD)

    def _value(self, name: str) -> Any:
        return self.model_dump(by_alias=True).get(name)

    @property
    def phone(self) -> str | None:
        """The raw phone number: the first present field of ``PHONE_FIELDS`` for this event."""
        for name in _events.PHONE_FIELDS[self.EVENT]:
            value = self._value(name)
            if value is not None:
                return str(value)
        return None

    def occurred_at(self, naive_timezone: str = NAIVE_TIMEZONE) -> datetime | None:
        """The body's own time in UTC (``DATE_FIELDS``, ``parse_time``); ``None`` without one."""
        for name in _events.DATE_FIELDS:
            value = self._value(name)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return parse_time(value, naive_timezone=naive_timezone)
        return None


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
        for name in _events.REPLY_TEXT_FIELDS:
            value = self._value(name)
            if value is not None:
                return str(value)
        return None


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


def check_signature(raw_body: bytes, signature: str | None, secret: str) -> None:
    """Raise :class:`WebhookSignatureError` unless ``signature`` matches ``raw_body``."""
    if not verify_signature(raw_body, signature, secret):
        raise WebhookSignatureError(
            "X-Signature does not match the body: check that the receiver uses the secret the "
            "webhook was registered with and verifies the raw bytes before any parsing"
        )


# ---------------------------------------------------------------------------------------------
# Registration and the /deliveries fallback
# ---------------------------------------------------------------------------------------------


def _with_event(url: str, event: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "event"]
    query.append(("event", event))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def register_webhooks(
    client: Any, url: str, secret: str, events: Iterable[str] = ALL_EVENTS
) -> list[Any]:
    """Register ``url`` for each event, creating only the registrations that are missing.

    MTA creates a duplicate when the same event and URL are registered twice, so this lists the
    existing webhooks first. Each URL gets ``?event=<name>`` so the receiver knows the event.

    Parameters
    ----------
    client : Client
        An :class:`mta_notebook.Client` (anything with ``list_webhooks`` and
        ``create_webhook(event=, url=, secret=)``).
    url : str
        The receiver's public URL.
    secret : str
        The shared HMAC secret (never logged).
    events : iterable of str
        Event names; default all four.

    Returns
    -------
    list
        One webhook per event: the existing one or the one just created.

    Examples
    --------
    >>> register_webhooks(client, "https://example.org/mta", "s3cret")  # doctest: +SKIP
    """
    wanted: list[str] = []
    for event in events:
        alias = _events.event_name(event)
        if alias is None:
            raise ValueError(f"unknown webhook event {event!r}: use one of {', '.join(ALL_EVENTS)}")
        if alias not in wanted:
            wanted.append(alias)
    existing = list(client.list_webhooks())
    result: list[Any] = []
    for name in wanted:
        target = _with_event(url, name)
        match = next(
            (w for w in existing if _field(w, "event") == name and _field(w, "url") == target),
            None,
        )
        if match is None:
            match = client.create_webhook(event=name, url=target, secret=secret)
        result.append(match)
    return result


def fetch_deliveries(client: Any, start: Any = None, end: Any = None) -> EventLog:
    """The Events table filled from ``GET /v3/deliveries`` (latest status per recipient).

    For accounts without a webhook log. Each row is read like a delivery-status body: its
    status (one of the six ``/deliveries`` names, or a code) goes through the same status
    table, so ``status`` is e.g. ``undeliverable`` with outcome ``failed``. ``/deliveries``
    does not show the route, so ``route`` is ``unknown``; ``source`` is ``deliveries:<n>``
    (n-th row returned).

    Examples
    --------
    >>> log = fetch_deliveries(client, "2026-11-01", "2026-11-30")  # doctest: +SKIP
    """
    from .webhook_log import read_bodies

    bodies: list[str] = []
    for row in client.iter_deliveries(start=start, end=end):
        body = {
            "type": _TYPE_OF["delivery-status"],
            "messageId": _field(row, "message_id"),
            "externalId": _field(row, "external_id"),
            "destinationNumber": _field(row, "number"),
            "status": _field(row, "status"),
            _events.DATE_FIELDS[0]: _iso(_field(row, "date")),
            # /deliveries does not say how a message went: an explicit "unknown" route
            _routes.EXPLICIT_ROUTE_FIELDS[0]: "unknown",
        }
        bodies.append(json.dumps(body, separators=(",", ":")))
    return read_bodies(bodies, source="deliveries")


def _iso(value: Any) -> Any:
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else value
