"""Webhooks: signatures, single-event models, registration, and the public loader entry points.

MTA signs each webhook with ``X-Signature``: the lowercase hex HMAC-SHA256 of the exact raw body
under the webhook secret. :func:`verify_signature` checks one body; the receiver
(:mod:`mta_notebook.receiver`) stores every signed event; :func:`read_webhook_log`
(:mod:`mta_notebook.webhook_log`) loads millions of them into the Events table.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from .errors import WebhookSignatureError
from .models import EVENT_TYPES, EventName

if TYPE_CHECKING:
    from .webhook_log import EventLog

__all__ = [
    "ALL_EVENTS",
    "DeliveryStatusEvent",
    "MessageReplyEvent",
    "MessageSendEvent",
    "NumberOptInEvent",
    "WebhookEvent",
    "fetch_deliveries",
    "infer_event",
    "parse_event",
    "register_webhooks",
    "sign",
    "verify_signature",
]

ALL_EVENTS: Final[tuple[EventName, ...]] = (
    "message-send",
    "delivery-status",
    "message-reply",
    "number-opt-in",
)


def sign(raw_body: bytes, secret: str) -> str:
    """The ``X-Signature`` MTA sends for ``raw_body``: lowercase hex HMAC-SHA256.

    >>> sign(b'{"a":1}', "s3cret")[:12]
    '5910e62016ef'
    """
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_signature(raw_body: bytes, signature: str, secret: str) -> bool:
    """Whether ``signature`` is the HMAC-SHA256 of the exact ``raw_body`` under ``secret``.

    The comparison runs in constant time. Verify the raw bytes *before* parsing JSON: any
    re-serialisation changes the signature.

    Parameters
    ----------
    raw_body : bytes
        The request body exactly as received.
    signature : str
        The ``X-Signature`` header (hex; case-insensitive).
    secret : str
        The secret the webhook was registered with.

    Examples
    --------
    >>> body = b'{"type":"MTAWebhook.DELIVERY_STATUS","status":2}'
    >>> verify_signature(body, sign(body, "s3cret"), "s3cret")
    True
    >>> verify_signature(body + b" ", sign(body, "s3cret"), "s3cret")
    False
    """
    if not signature or not secret:
        return False
    expected = sign(raw_body, secret)
    return hmac.compare_digest(expected, signature.strip().lower())


# ---------------------------------------------------------------------------------------------
# Single-event models (the receiver, tests, one-off parsing; the bulk loader uses DuckDB).
# ---------------------------------------------------------------------------------------------

_TYPE_ALIASES: Final[dict[str, EventName]] = {
    **{k.lower(): v for k, v in EVENT_TYPES.items()},
    **{e: e for e in ALL_EVENTS},
    **{e.replace("-", "_"): e for e in ALL_EVENTS},
}


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    type: str | None = None
    tags: dict[str, Any] | None = None
    timestamp: str | int | float | None = None
    sender_name: str | None = Field(default=None, alias="senderName")


class MessageSendEvent(_EventBase):
    """``message-send``: MTA handed an outbound message to a carrier."""

    message_id: int | str | None = Field(default=None, alias="messageId")
    external_id: str | None = Field(default=None, alias="externalId")
    destination_number: str = Field(alias="destinationNumber")


class DeliveryStatusEvent(MessageSendEvent):
    """``delivery-status``: a status update (``status`` is a code or a name)."""

    status: int | str


class MessageReplyEvent(_EventBase):
    """``message-reply``: a subscriber answered."""

    reply_id: int | str | None = Field(default=None, alias="replyId")
    from_number: str = Field(alias="fromNumber")
    to_number: str | None = Field(default=None, alias="toNumber")
    message: str | None = None
    message_id: int | str | None = Field(default=None, alias="messageId")
    external_id: str | None = Field(default=None, alias="externalId")


class NumberOptInEvent(_EventBase):
    """``number-opt-in``: a subscriber opted in (to iMessage or RCS) for a sender."""

    number: str
    opt_in_type: str | None = Field(default=None, alias="optInType")


WebhookEvent = MessageSendEvent | DeliveryStatusEvent | MessageReplyEvent | NumberOptInEvent

_MODELS: Final[dict[EventName, type[_EventBase]]] = {
    "message-send": MessageSendEvent,
    "delivery-status": DeliveryStatusEvent,
    "message-reply": MessageReplyEvent,
    "number-opt-in": NumberOptInEvent,
}


def _unwrap(payload: Any) -> Any:
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        return payload["data"]
    return payload


def infer_event(payload: Any, hint: str | None = None) -> EventName | None:
    """The event name of a webhook body: ``hint`` (``?event=``), else ``type``, else its shape.

    Shape rules (reference/mta-api.md §9): ``status`` -> delivery-status; ``fromNumber`` and
    ``message`` -> message-reply; ``optInType`` -> number-opt-in; ``destinationNumber`` ->
    message-send. ``None`` when nothing matches.

    >>> infer_event({"data": {"type": "MTAWebhook.MESSAGE_REPLY"}})
    'message-reply'
    >>> infer_event({"status": 2, "destinationNumber": "+13125550123"})
    'delivery-status'
    >>> infer_event([1, 2]) is None
    True
    """
    if hint and hint.strip().lower() in _TYPE_ALIASES:
        return _TYPE_ALIASES[hint.strip().lower()]
    body = _unwrap(payload)
    if not isinstance(body, dict):
        return None
    kind = body.get("type")
    if isinstance(kind, str) and kind.strip().lower() in _TYPE_ALIASES:
        return _TYPE_ALIASES[kind.strip().lower()]
    if body.get("status") is not None:
        return "delivery-status"
    if body.get("fromNumber") is not None and body.get("message") is not None:
        return "message-reply"
    if body.get("optInType") is not None:
        return "number-opt-in"
    if body.get("destinationNumber") is not None:
        return "message-send"
    return None


def parse_event(raw: bytes | str | Mapping[str, Any], *, event: str | None = None) -> WebhookEvent:
    """Parse one webhook body (raw bytes, text or dict; flat or ``{"data": {...}}``) to a model.

    Raises ``ValueError`` (pydantic's ``ValidationError`` or ``json.JSONDecodeError``) when the
    body is not an event.

    >>> parse_event(b'{"type":"MTAWebhook.NUMBER_OPT_IN","number":"+13125550123"}').number
    '+13125550123'
    """
    payload: Any = json.loads(raw) if isinstance(raw, (bytes, str)) else dict(raw)
    name = infer_event(payload, event)
    if name is None:
        raise ValueError("not a webhook event: no known type, ?event= or field shape")
    return cast("WebhookEvent", _MODELS[name].model_validate(_unwrap(payload)))


def check_signature(raw_body: bytes, signature: str | None, secret: str) -> None:
    """Raise :class:`WebhookSignatureError` unless ``signature`` matches ``raw_body``."""
    if not verify_signature(raw_body, signature or "", secret):
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
        alias = _TYPE_ALIASES.get(event.strip().lower())
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

    For accounts without a webhook log. ``/deliveries`` does not show the route, so ``route`` is
    ``unknown``; ``source`` is ``deliveries:<n>`` (n-th row returned).

    Examples
    --------
    >>> log = fetch_deliveries(client, "2026-11-01", "2026-11-30")  # doctest: +SKIP
    """
    from .webhook_log import read_bodies

    bodies: list[str] = []
    for row in client.iter_deliveries(start=start, end=end):
        body = {
            "type": "MTAWebhook.DELIVERY_STATUS",
            "messageId": _field(row, "message_id"),
            "externalId": _field(row, "external_id"),
            "destinationNumber": _field(row, "number"),
            "status": _field(row, "status"),
            "timestamp": _iso(_field(row, "date")),
            "route": "unknown",
        }
        bodies.append(json.dumps(body, separators=(",", ":")))
    return read_bodies(bodies, source="deliveries")


def _iso(value: Any) -> Any:
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else value
