"""How a message's route (iMessage, SMS fallback, plain SMS) is told, and how routes are named.

Source (developers.mobile-text-alerts.com): ``/tutorials/message-sending/send-an-imessage/
send-imessages`` says ``message-send`` and ``message-reply`` payloads include ``senderName``
when the message went by iMessage; the V1 delivery-status table (``/tutorials/webhooks``)
describes ``senderName`` as "the sender name used to pre-populate the To: field for
iMessages". No payload has a channel field (``mta-api.md`` §0a, "Route evidence").

The rule, in order, for one message (one recipient of one send):

1. an explicit route field, if a payload ever carries one (``EXPLICIT_ROUTE_FIELDS``);
2. a non-empty ``senderName`` on any of its events -> ``imessage``;
3. the send ledger asked for an identity and no event carries one -> ``sms_fallback``;
4. no identity asked for -> ``sms``.

``route_basis`` says which evidence decided: the event type that carried ``senderName``
(``message-send``, ``delivery-status``, ``message-reply``), ``ledger`` or ``none``.

>>> route_of_field("iMessage"), route_of_field("SMS"), route_of_field("carrier pigeon")
('imessage', 'sms', 'unknown')
>>> ROUTE_LABELS["sms_fallback"]
'SMS fallback'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = [
    "EVENT_ROUTES",
    "EXPLICIT_ROUTE_FIELDS",
    "MESSAGE_ROUTES",
    "ROUTE_BASES",
    "ROUTE_EVIDENCE_FIELD",
    "ROUTE_LABELS",
    "EventRoute",
    "MessageRoute",
    "RouteBasis",
    "route_of_field",
]

EventRoute = Literal["imessage", "sms", "unknown"]
MessageRoute = Literal["imessage", "sms_fallback", "sms", "unknown"]
RouteBasis = Literal["message-send", "delivery-status", "message-reply", "ledger", "none"]

#: Route of one event (the Events table's ``route``).
EVENT_ROUTES: Final[tuple[EventRoute, ...]] = ("imessage", "sms", "unknown")
#: Route of one message, in the order reports list them. ``unknown``: no event yet and an
#: identity was asked for, or an event without a ledger row and without ``senderName``.
MESSAGE_ROUTES: Final[tuple[MessageRoute, ...]] = ("imessage", "sms_fallback", "sms", "unknown")
ROUTE_BASES: Final[tuple[RouteBasis, ...]] = (
    "message-send",
    "delivery-status",
    "message-reply",
    "ledger",
    "none",
)

#: The documented iMessage evidence.
ROUTE_EVIDENCE_FIELD: Final = "senderName"
#: Fields an explicit route would be in; none is documented, so today they are never present.
EXPLICIT_ROUTE_FIELDS: Final[tuple[str, ...]] = ("route", "channel")

#: What people read, everywhere a route is shown (charts, tables, the dashboard, the report).
ROUTE_LABELS: Final[Mapping[str, str]] = {
    "imessage": "iMessage",
    "sms_fallback": "SMS fallback",
    "sms": "SMS (no identity)",
    "unknown": "Route unknown",
}


def route_of_field(value: object) -> EventRoute | None:
    """The route an explicit route/channel value names; ``None`` for a missing or blank one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    if "imessage" in text:
        return "imessage"
    if "sms" in text or "mms" in text:
        return "sms"
    return "unknown"
