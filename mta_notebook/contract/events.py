"""MTA's webhook events: their names and ``MTAWebhook.*`` types, payload fields and versions.

Sources (developers.mobile-text-alerts.com): ``/tutorials/webhooks`` (event types, payload
versions V1-V3, optional ``*`` fields, the Delivery Status V1 table), ``/api-reference/webhooks``
(register fields), ``/getting-started/setting-up-webhooks``. See ``mta-api.md`` §0a and §7.

Documented: the four event names; ``type`` = ``MTAWebhook.DELIVERY_STATUS`` on delivery-status
bodies; the V1 delivery-status fields ``destinationNumber``, ``messageId``, ``externalId``,
``status``, ``tags*``, ``senderName*``, ``type`` and **no date**; V3 is the default version;
``number-opt-in`` carries ``optInType``, the *method* of the opt-in (not a channel).
Assumed where the tables could not be read (``assumptions.py`` names each choice): the other
``MTAWebhook.*`` constants by analogy, the reply and opt-in field names seen in third-party
code, and the date field names of V2/V3.

>>> event_name("MTAWebhook.MESSAGE_REPLY"), event_name("delivery_status"), event_name("x")
('message-reply', 'delivery-status', None)
>>> infer_event({"status": 4, "destinationNumber": "+13125550123"})
'delivery-status'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "DATE_FIELDS",
    "DEFAULT_PAYLOAD_VERSION",
    "EVENTS",
    "EVENT_ALIASES",
    "MTA_TYPES",
    "PAYLOAD_VERSIONS",
    "PHONE_FIELDS",
    "REPLY_TEXT_FIELDS",
    "SHAPE_RULES",
    "EventName",
    "PayloadVersion",
    "event_name",
    "infer_event",
    "unwrap",
]

EventName = Literal["message-send", "delivery-status", "message-reply", "number-opt-in"]

#: The four event types one registration each can subscribe to (``/api-reference/webhooks``).
EVENTS: Final[tuple[EventName, ...]] = (
    "message-send",
    "delivery-status",
    "message-reply",
    "number-opt-in",
)

#: The ``type`` field of a body -> the event. ``MTAWebhook.DELIVERY_STATUS`` is documented;
#: the other three follow its pattern (assumed, see ``mta-api.md`` §7).
MTA_TYPES: Final[Mapping[str, EventName]] = {
    "MTAWebhook.MESSAGE_SEND": "message-send",
    "MTAWebhook.DELIVERY_STATUS": "delivery-status",
    "MTAWebhook.MESSAGE_REPLY": "message-reply",
    "MTAWebhook.NUMBER_OPT_IN": "number-opt-in",
}
#: Every spelling accepted for an event (``?event=`` hint or ``type``), lower case.
EVENT_ALIASES: Final[Mapping[str, EventName]] = {
    **{k.lower(): v for k, v in MTA_TYPES.items()},
    **{e: e for e in EVENTS},
    **{e.replace("-", "_"): e for e in EVENTS},
}

#: Where each event keeps the phone number of its subscriber, first match wins: the destination
#: of an outbound message, the sender of a reply or an opt-in.
PHONE_FIELDS: Final[Mapping[EventName, tuple[str, ...]]] = {
    "message-send": ("destinationNumber", "number", "to", "toNumber"),
    "delivery-status": ("destinationNumber", "number", "to", "toNumber"),
    "message-reply": ("fromNumber", "number"),
    "number-opt-in": ("number", "fromNumber", "destinationNumber"),
}
#: The fields the text of a reply may be in.
REPLY_TEXT_FIELDS: Final[tuple[str, ...]] = ("message", "text")

#: Field-shape rules for a body with neither ``?event=`` nor a known ``type``
#: (``mta-api.md`` §9), tried in order: all named fields present -> that event.
SHAPE_RULES: Final[tuple[tuple[tuple[str, ...], EventName], ...]] = (
    (("status",), "delivery-status"),
    (("fromNumber", "message"), "message-reply"),
    (("fromNumber", "text"), "message-reply"),
    (("optInType",), "number-opt-in"),
    (("destinationNumber",), "message-send"),
)


@dataclass(frozen=True)
class PayloadVersion:
    """One webhook payload version and the fields its bodies carry their time in."""

    name: Literal["V1", "V2", "V3"]
    date_fields: tuple[str, ...]
    documented: bool  # False: the field table could not be read, the names are assumed


#: V1's delivery-status table is documented and has no date: its events take ``received_at``.
#: The V2/V3 tables exist but could not be read; they describe a ``date`` string whose zone and
#: format "are specified" per field, so the reader accepts ``date`` and ``timestamp``, with an
#: offset or ``Z`` as given, and a naive time in ``assumptions.NAIVE_TIMEZONE``.
PAYLOAD_VERSIONS: Final[Mapping[str, PayloadVersion]] = {
    "V1": PayloadVersion("V1", (), documented=True),
    "V2": PayloadVersion("V2", ("date", "timestamp"), documented=False),
    "V3": PayloadVersion("V3", ("date", "timestamp"), documented=False),
}
DEFAULT_PAYLOAD_VERSION: Final = "V3"  # documented: "V3 is the default"
#: Every field a body's own time may be in, first present wins (the union over versions).
DATE_FIELDS: Final[tuple[str, ...]] = ("date", "timestamp")


def event_name(value: object) -> EventName | None:
    """The event a ``type`` value or ``?event=`` hint names (any case), else ``None``."""
    if not isinstance(value, str):
        return None
    return EVENT_ALIASES.get(value.strip().lower())


def unwrap(payload: Any) -> Any:
    """The body inside ``{"data": {...}}`` (seen in third-party code), else the body itself."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        return payload["data"]
    return payload


def infer_event(payload: Any, hint: str | None = None) -> EventName | None:
    """The event of a body: its ``type``, else the ``hint`` (``?event=``), else its shape.

    The body's own ``type`` comes first: a hint travels outside the signed body and must not
    relabel it. ``None`` when nothing matches or the body is not an object.

    >>> infer_event({"type": "MTAWebhook.DELIVERY_STATUS"}, hint="number-opt-in")
    'delivery-status'
    >>> infer_event({"messageId": 1}, hint="message-send"), infer_event([1, 2]) is None
    ('message-send', True)
    """
    body = unwrap(payload)
    if not isinstance(body, dict):
        return None
    named = event_name(body.get("type"))
    if named is not None:
        return named
    hinted = event_name(hint)
    if hinted is not None:
        return hinted
    for fields, event in SHAPE_RULES:
        if all(body.get(f) is not None for f in fields):
            return event
    return None
