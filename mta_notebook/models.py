"""Pydantic models of the MTA API and the status table every part shares."""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "DELIVERY_STATUS_CODES",
    "EVENT_TYPES",
    "FINAL_STATUSES",
    "STATUS_NAMES",
    "EventName",
    "RouteName",
]

EventName = Literal["message-send", "delivery-status", "message-reply", "number-opt-in"]
RouteName = Literal["imessage", "sms", "unknown"]

EVENT_TYPES: Final[dict[str, EventName]] = {
    "MTAWebhook.MESSAGE_SEND": "message-send",
    "MTAWebhook.DELIVERY_STATUS": "delivery-status",
    "MTAWebhook.MESSAGE_REPLY": "message-reply",
    "MTAWebhook.NUMBER_OPT_IN": "number-opt-in",
}

# MTA's "MTA Delivery Status Codes" table is not public (see reference/mta-api.md §10.2). This is
# the one place the toolkit (and the sandbox, which speaks the same contract) maps codes to the
# documented names; pass status_map= to the readers to change it once real payloads are seen.
DELIVERY_STATUS_CODES: Final[dict[int, str]] = {
    1: "sent",
    2: "delivered",
    3: "undelivered",
    4: "undeliverable",
    5: "unknown",
    6: "rejected",
}
STATUS_NAMES: Final[tuple[str, ...]] = tuple(DELIVERY_STATUS_CODES.values())
# A final status is never replaced by a later non-final one; "unknown" may still change.
FINAL_STATUSES: Final[frozenset[str]] = frozenset(
    {"delivered", "undelivered", "undeliverable", "rejected"}
)
