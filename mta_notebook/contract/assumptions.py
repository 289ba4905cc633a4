"""Where MTA's docs are silent: each choice this toolkit makes, named once, with its setting.

Every entry of :data:`ASSUMPTIONS` is listed in the README's "Assumptions" section (a test
checks it), and the sandbox can play either side of each (its config key is named), so the
suite exercises the doubt instead of agreeing with itself.

>>> ASSUMPTIONS["NAIVE_TIMEZONE"].value
'America/Chicago'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from . import events, keywords, routes

__all__ = [
    "ASSUMPTIONS",
    "DELIVERIES_DATE_MARGIN_DAYS",
    "DELIVERIES_NAME_FOR_CODE",
    "DELIVERIES_NUMBER_FIELDS",
    "DOMESTIC_COUNTRY_CODE",
    "IMESSAGE_CREDITS",
    "NAIVE_TIMEZONE",
    "OPT_IN_IDENTITY_FIELD",
    "RECONCILE_CLOCK_MARGIN_S",
    "SMS_OVER_160",
    "Assumption",
    "ImessageCredits",
    "SmsOver160",
    "check_imessage_credits",
    "imessage_credits",
]

#: A payload time written without ``Z`` or an offset is read in this zone. MTA's own API
#: timestamps carry ``-05:00``/``-06:00`` (Central time); the V2/V3 date tables, which state each
#: field's zone, could not be read. Override: ``read_webhook_log(naive_timezone=...)``.
NAIVE_TIMEZONE: Final = "America/Chicago"

SmsOver160 = Literal["segments", "reject"]
#: What MTA does with an SMS over 160 characters. The developer docs say an SMS is 160
#: characters and list "Character Limit Exceeded" (400); a help-center article says longer
#: messages split into several billed segments. Default: what the developer docs say.
#: Override: ``plan_campaign(sms_over_160="segments")``; sandbox config ``sms_over_160``.
SMS_OVER_160: Final[SmsOver160] = "reject"

ImessageCredits = Literal["as-sms"] | int
#: What one iMessage costs in credits. MTA documents SMS (1 credit per 160 characters) and MMS
#: (3 credits) and says nothing of iMessage. ``"as-sms"``: the credits of the SMS (or MMS) it
#: replaces, so a plan's credits (counted as SMS) never fall short of the bill, whichever route
#: each recipient takes: the safe side for a budget. A flat number (e.g. ``1``) when the account
#: says so; then ``cost_report`` shows what iMessage saved.
#: Override: ``cost_report(imessage_credits=1)``; sandbox config ``imessage_credits``.
IMESSAGE_CREDITS: Final[ImessageCredits] = "as-sms"

#: The field of a ``number-opt-in`` body that names the Sender Identity opted in to. The payload
#: table could not be read (the opt-in is per identity, so it must say which one; the sandbox
#: sends ``senderName``); an opt-in without it counts for no identity.
OPT_IN_IDENTITY_FIELD: Final = "senderName"

#: ``/deliveries`` date filters are ``YYYY-MM-DD`` in an undocumented zone: reconciliation
#: pages this many days either side of a chunk's UTC send date.
DELIVERIES_DATE_MARGIN_DAYS: Final = 1

#: "Not found in /deliveries" means "not sent" only once the listing shows a message dated at
#: least this many seconds after the chunk went out (MTA's clock and ours may differ). The row
#: schema could not be read: a row's ``date`` is taken as when its message went out, and rows
#: are expected to carry ``externalId`` (third-party code reads both); when no row does, "not
#: found" proves nothing and the chunk stays unknown.
#: Override: ``resume_campaign(clock_margin_s=...)``; sandbox config ``deliveries_lag_s``.
RECONCILE_CLOCK_MARGIN_S: Final = 120.0

#: Numbers outside this country code count in ``totalFailedInternationalRecipients`` and get no
#: events unless international sending is enabled on the account (``/faq``: "failed non-US
#: recipients"). Sandbox config ``international``.
DOMESTIC_COUNTRY_CODE: Final = 1

#: Where a ``/deliveries`` row keeps the recipient's number, first present wins: the row schema
#: could not be read; third-party integrations read ``to``/``toNumber`` (mta-api.md §8).
DELIVERIES_NUMBER_FIELDS: Final[tuple[str, ...]] = ("number", "toNumber", "to", "destinationNumber")

#: The ``/deliveries`` status name a message shows under, from its latest webhook code (the row
#: schema could not be read). Only the sandbox needs it: it answers ``filters[status]`` with it.
DELIVERIES_NAME_FOR_CODE: Final[Mapping[int, str]] = {
    1: "sent",
    2: "sent",
    3: "sent",
    4: "delivered",
    5: "undelivered",
    6: "undelivered",
    7: "unknown",
    8: "rejected",
    9: "undelivered",
    10: "undeliverable",
    11: "rejected",
    12: "undeliverable",
    13: "rejected",
}


def check_imessage_credits(value: object) -> ImessageCredits:
    """``value`` as an iMessage credit rule: ``"as-sms"`` or a whole number of credits >= 0.

    >>> check_imessage_credits("as-sms"), check_imessage_credits(1)
    ('as-sms', 1)
    """
    if value == "as-sms":
        return "as-sms"
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"imessage_credits={value!r} is not an iMessage credit rule; use 'as-sms' (the "
            "credits of the SMS it replaces) or a whole number of credits such as 1"
        )
    return value


def imessage_credits(sms_credits: int, rule: ImessageCredits = IMESSAGE_CREDITS) -> int:
    """The credits of an iMessage that would have cost ``sms_credits`` as SMS (or MMS).

    >>> imessage_credits(2), imessage_credits(2, 1), imessage_credits(3, 1)
    (2, 1, 1)
    """
    return sms_credits if rule == "as-sms" else rule


@dataclass(frozen=True)
class Assumption:
    """One choice the docs leave open: its value, why, and where to change it."""

    value: object
    why: str
    setting: str


ASSUMPTIONS: Final[Mapping[str, Assumption]] = {
    "NAIVE_TIMEZONE": Assumption(
        NAIVE_TIMEZONE,
        "payload times without an offset; MTA's own stamps are Central time",
        "read_webhook_log(naive_timezone=...); sandbox webhook_date_format='naive'",
    ),
    "SMS_OVER_160": Assumption(
        SMS_OVER_160,
        "developer docs: 160 characters and a 400 past it; help center: billed segments",
        "plan_campaign(sms_over_160=...); sandbox sms_over_160",
    ),
    "IMESSAGE_CREDITS": Assumption(
        IMESSAGE_CREDITS,
        "iMessage billing is not documented: an iMessage is counted as the SMS it replaces, so "
        "a plan's credits are never short",
        "cost_report(imessage_credits=1); sandbox imessage_credits",
    ),
    "OPT_IN_IDENTITY_FIELD": Assumption(
        OPT_IN_IDENTITY_FIELD,
        "the number-opt-in payload table could not be read; it names the identity in senderName "
        "(an opt-in without it counts for no identity)",
        "contract constant; sandbox POST /_sandbox/opt-in",
    ),
    "DELIVERIES_DATE_MARGIN_DAYS": Assumption(
        DELIVERIES_DATE_MARGIN_DAYS,
        "the zone of /deliveries date filters is not documented",
        "contract constant",
    ),
    "RECONCILE_CLOCK_MARGIN_S": Assumption(
        RECONCILE_CLOCK_MARGIN_S,
        "how far /deliveries must have caught up before 'not found' means 'not sent' (a row's "
        "date taken as its send time; rows carry externalId)",
        "resume_campaign(clock_margin_s=...); sandbox deliveries_lag_s",
    ),
    "DOMESTIC_COUNTRY_CODE": Assumption(
        DOMESTIC_COUNTRY_CODE,
        "non-US numbers fail as international unless enabled on the account",
        "sandbox international",
    ),
    "ROUTE_EVIDENCE": Assumption(
        routes.ROUTE_EVIDENCE_FIELD,
        "no payload has a channel field: senderName on an event means iMessage, an identity "
        "asked for without it means SMS fallback",
        "contract.routes",
    ),
    "MTA_TYPES": Assumption(
        ", ".join(events.MTA_TYPES),
        "only MTAWebhook.DELIVERY_STATUS is documented; the others by analogy",
        "contract.events; ?event= on the receiver URL is a hint when a body has no type",
    ),
    "DATE_FIELDS": Assumption(
        ", ".join(events.DATE_FIELDS),
        "V1 delivery-status has no date (received_at is used); V2/V3 date tables not readable",
        "sandbox payload_version, webhook_date_format",
    ),
    "DATA_WRAPPER": Assumption(
        '{"data": {...}}',
        "bodies may arrive wrapped (seen in third-party code); flat and wrapped are both read",
        "contract.events.unwrap",
    ),
    "KEYWORDS": Assumption(
        " ".join(sorted(keywords.STOP_WORDS)) + " / " + " ".join(sorted(keywords.START_WORDS)),
        "MTA does not list its keywords; carrier-standard words",
        "contract.keywords",
    ),
    "DELIVERIES_NUMBER_FIELDS": Assumption(
        ", ".join(DELIVERIES_NUMBER_FIELDS),
        "the /deliveries row schema could not be read; third-party code reads to/toNumber",
        "contract constant",
    ),
    "DELIVERIES_NAME_FOR_CODE": Assumption(
        "4 delivered, 5/6/9 undelivered, 10/12 undeliverable, 8/11/13 rejected, 7 unknown",
        "the /deliveries row schema could not be read",
        "sandbox only",
    ),
}
