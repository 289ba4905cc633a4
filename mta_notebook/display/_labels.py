"""Plain headers and value rules for the analytics columns, read by :func:`readable`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ..contract.routes import ROUTE_LABELS

__all__ = [
    "COLUMN_LABELS",
    "CREDIT_COLUMNS",
    "CREDIT_RATIOS",
    "HEADER_WORDS",
    "MONEY_COLUMNS",
    "SCOPE_LABELS",
]

#: Plain headers for the analytics columns; any other column gets its words in sentence case.
COLUMN_LABELS: Final[Mapping[str, str]] = {
    "sender_name": "Sender Identity",
    "route": "Route",
    "messages": "Messages",
    "recipients": "Recipients",
    "delivered": "Delivered",
    "failed": "Failed",
    "unconfirmed": "Unconfirmed",
    "pending": "Pending",
    "delivery_rate": "Delivery rate",
    "share": "Share",
    "unmatched": "Not in the ledger",
    # fallback_summary's count columns are named after the routes
    "imessage": ROUTE_LABELS["imessage"],
    "sms_fallback": ROUTE_LABELS["sms_fallback"],
    "unknown_route": ROUTE_LABELS["unknown"],
    "imessage_share": "iMessage share",
    "fallback_share": "SMS fallback share",
    "recipients_imessage": "Recipients reached by iMessage",
    "outcome": "Outcome",
    "status": "Status",
    "status_code": "Status code",
    "label": "Meaning",
    "error": "Error",
    "replies": "Replies",
    "replied": "Replied",
    "stops": "STOPs",
    "reply_rate": "Reply rate",
    "stop_rate": "STOP rate",
    "reach": "Reached by iMessage",
    "imessage_rate": "Delivery rate by iMessage",
    "fallback_rate": "Delivery rate by SMS fallback",
    "difference": "Difference (iMessage − SMS fallback)",
    "significant": "Significant at 95 %",
    "verdict": "Verdict",
    "campaign_id": "Campaign",
    "bucket": "Time",
    # compare_identities
    "reference": "Compared with",
    "scope": "Messages compared",
    "rate": "Delivery rate",
    "reference_rate": "Delivery rate (compared with)",
    "p_value": "p-value",
    "randomized": "Randomized",
    # plan.preview()
    "identity": "Identity",
    "length": "Characters",
    "ucs2_chars": "UCS-2 characters",
    # time_to_deliver
    "final": "With a final status",
    "timed": "Delivered and timed",
    "median_s": "Median time to deliver",
    "p90_s": "90 % delivered within",
    # cost_report
    "unpriced": "Without planned credits",
    "credits": "Credits",
    "credits_per_message": "Credits per message",
    "credits_per_delivered": "Credits per delivered message",
    "sms_credits": "Credits as SMS",
    "saved_credits": "Credits saved by iMessage",
    "cost": "Cost",
    "cost_per_delivered": "Cost per delivered message",
    "saved_cost": "Saved by iMessage",
    # optin_reach
    "audience": "Audience",
    "opted_in": "Opted in (number-opt-in)",
    "reachable": "Can get iMessage",
    "outside": "Can get iMessage, not in the audience",
    "period": "Day",
    "new": "New opt-ins",
}

#: Columns of credits counted in whole credits, and of credits per message (a ratio).
CREDIT_COLUMNS: Final = frozenset({"credits", "sms_credits", "saved_credits"})
CREDIT_RATIOS: Final = frozenset({"credits_per_message", "credits_per_delivered"})
#: Money columns (price per credit times credits; any currency): two decimals.
MONEY_COLUMNS: Final = frozenset({"cost", "cost_per_delivered", "saved_cost"})
#: What compare_identities' ``scope`` says, beside the route labels.
SCOPE_LABELS: Final[Mapping[str, str]] = {"overall": "All messages"}

# words that sentence case would spoil in a header made from a column name
HEADER_WORDS: Final[Mapping[str, str]] = {
    "imessage": ROUTE_LABELS["imessage"],
    "sms": "SMS",
    "mms": "MMS",
    "stop": "STOP",
    "id": "ID",
    "p90": "p90",
    "utc": "UTC",
}
