"""Routes: verify-api-key, POST /send, dedicated numbers, deliveries."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..contract.assumptions import DOMESTIC_COUNTRY_CODE, ImessageCredits, imessage_credits
from ..contract.dates import parse_time
from ..contract.limits import MMS_CREDITS, MMS_MAX_CHARS, SMS_MAX_CHARS
from ..contract.phones import normalize_phone, normalize_phones
from ..contract.segments import credits
from ..contract.statuses import DELIVERIES_FILTER_STATUSES, STATUS_BY_NAME
from .responses import ApiError, json_body, ok, page_params, paged, sandbox_of
from .routing import plan_recipient
from .state import Longcode, MessageRow, SandboxState, Subscriber, iso_ms, utcnow

__all__ = [
    "dedicated_numbers",
    "deliveries",
    "not_found",
    "recipient_number",
    "send_message",
    "verify_api_key",
]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
# What the emulated MTA takes as a number although it does not validate: "+" and 10-15 digits
# (E.164 allows 15), or a US-shaped 10 digits, or 1 and 10 digits, with the usual punctuation.
# MTA accepts such a recipient and reports 10 INVALID_NUMBER; anything else is a 400.
_NUMBER_SHAPE = re.compile(r"^(?:\+[0-9]{10,15}|1?[0-9]{10})$")
_PUNCTUATION = re.compile(r"[ ().\-]")
# From this many recipients on, contract.phones' vectorised path is the faster of the two.
_VECTOR_MIN = 100
_QUEUED = STATUS_BY_NAME["queued"].code
_INVALID_NUMBER = STATUS_BY_NAME["invalid_number"].code
_STOPPED_NUMBER = STATUS_BY_NAME["stopped_number"].code
_LANDLINE = STATUS_BY_NAME["landline"].code


async def verify_api_key(request: Request) -> Response:
    account = sandbox_of(request).state.config.account
    return ok({"name": account.get("name"), "email": account.get("email")}, "API Key verified")


async def not_found(request: Request) -> Response:
    raise ApiError(
        404, f"No route {request.method} {request.url.path}: check the path (base URL ends in /v3)"
    )


async def dedicated_numbers(request: Request) -> Response:
    state = sandbox_of(request).state
    return ok([code.public() for code in sorted(state.numbers.values(), key=lambda c: c.id)])


def parse_scheduled(value: object) -> datetime:
    """``scheduledDate``: ISO 8601 (basic ``20250306T193000-0000`` as documented, or extended);
    the docs give it in UTC, so a time without an offset is UTC."""
    when = parse_time(value, naive_timezone="UTC") if isinstance(value, str) else None
    if when is None:
        raise ApiError(400, f"scheduledDate {value!r} is not ISO 8601 (e.g. 20250306T193000-0000)")
    return when


def recipient_number(value: object, e164: str | None = None) -> tuple[str, bool] | None:
    """The number a ``subscribers`` entry addresses, and whether it is a valid one.

    ``e164`` is ``contract.phones.normalize_phone(value)`` when the caller has it already.
    A number that does not validate but has a number's shape is kept (as ``+`` and its digits)
    to fail with 10 INVALID_NUMBER; ``None`` for anything else.

    >>> recipient_number("(312) 555-0123"), recipient_number("+1 123 555 0123")
    (('+13125550123', True), ('+11235550123', False))
    >>> recipient_number("not-a-phone") is None, recipient_number("555-0123") is None
    (True, True)
    """
    if e164 is None:
        e164 = normalize_phone(value)
    if e164 is not None:
        return e164, True
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = _PUNCTUATION.sub("", str(value).strip())
    if not _NUMBER_SHAPE.match(text):
        return None
    digits = text.lstrip("+")
    if not text.startswith("+") and len(digits) == 10:
        digits = f"{DOMESTIC_COUNTRY_CODE}{digits}"
    return "+" + digits, False


_Phonebook = dict[object, str | None]


def _phonebook(*groups: Iterable[object]) -> _Phonebook:
    """``contract.phones.normalize_phone`` of each distinct number-like value in ``groups``
    (its vectorised twin when there are many)."""
    distinct = list(dict.fromkeys(v for g in groups for v in g if isinstance(v, (str, int, float))))
    if len(distinct) < _VECTOR_MIN:
        return {v: normalize_phone(v) for v in distinct}
    found = normalize_phones(distinct)
    return {v: p if isinstance(p, str) else None for v, p in zip(distinct, found, strict=True)}


def _number(value: object, book: _Phonebook) -> tuple[str, bool] | None:
    e164 = book.get(value) if isinstance(value, (str, int, float)) else None
    return recipient_number(value, e164)


def _render(text: str, variables: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(variables.get(m.group(1), "") or ""), text)


def _sub_vars(sub: Subscriber | None, phone: str) -> dict[str, Any]:
    if sub is None:
        return {"number": phone}
    return {
        "firstName": sub.first_name,
        "lastName": sub.last_name,
        "email": sub.email,
        "number": phone,
        **sub.fields,
    }


def _int_list(body: dict[str, Any], key: str) -> list[int]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ApiError(400, f"{key} must be a list of integer ids")
    return list(value)


@dataclass
class _Recipient:
    phone: str
    valid: bool
    subscriber: Subscriber | None  # None: not on the account yet (or not a valid number)


@dataclass
class _Recipients:
    """Who a /send reaches, decided before anything changes; ``create()`` then adds the new."""

    to: list[_Recipient]
    international: int
    new_emails: list[str]

    def create(self, state: SandboxState) -> None:
        """Unknown valid numbers and emails become subscribers, as MTA does."""
        for rec in self.to:
            if rec.subscriber is None and rec.valid:
                rec.subscriber = state.add_subscriber(rec.phone, None)
        for email in self.new_emails:
            if state.find_subscriber(email) is None:
                state.add_subscriber(None, email)


def _recipients(state: SandboxState, body: dict[str, Any], book: _Phonebook) -> _Recipients:
    """The deduplicated recipients with a phone, and how many were international (failed)."""
    has = {k: bool(body.get(k)) for k in ("subscribers", "subscriberIds", "groups")}
    every = body.get("allSubscribers")
    if every is not None and not isinstance(every, bool):
        raise ApiError(400, "allSubscribers must be true or false")
    if every and any(has.values()):
        raise ApiError(
            400, "allSubscribers cannot be combined with subscribers, subscriberIds or groups"
        )
    if not every and not any(has.values()):
        raise ApiError(
            400,
            "Missing Required Field: give at least one recipient "
            "(subscribers, subscriberIds, groups or allSubscribers)",
        )
    ids = _int_list(body, "subscriberIds")
    missing = [i for i in ids if i not in state.subscribers]
    if missing:
        raise ApiError(400, f"Unknown subscriberIds {missing}: list them with GET /subscribers")
    groups = _int_list(body, "groups")
    missing = [g for g in groups if g not in state.groups]
    if missing:
        raise ApiError(400, f"Unknown groups {missing}: list them with GET /groups")
    raw = body.get("subscribers") or []
    if not isinstance(raw, list):
        raise ApiError(400, "subscribers must be a list of phone numbers (E.164) or emails")
    emails = [item for item in raw if isinstance(item, str) and "@" in item]
    numbers = [
        (i, item) for i, item in enumerate(raw) if not (isinstance(item, str) and "@" in item)
    ]
    chosen: dict[str, _Recipient] = {}

    def add(phone: str | None, valid: bool, sub: Subscriber | None) -> None:
        if phone is not None and phone not in chosen:
            chosen[phone] = _Recipient(phone, valid, sub)

    if every:
        for sub in state.subscribers.values():
            add(sub.e164, True, sub)
    for i, item in numbers:
        found = _number(item, book)
        if found is None:
            raise ApiError(
                400, f"subscribers[{i}] = {item!r} is not a phone number or email; use E.164"
            )
        phone, valid = found
        sid = state.by_phone.get(phone)
        add(phone, valid, state.subscribers[sid] if sid is not None else None)
    new_emails: list[str] = []
    for email in emails:
        known = state.find_subscriber(email)
        if known is None:
            new_emails.append(email)
        else:
            add(known.e164, True, known)
    for sid in ids:
        add(state.subscribers[sid].e164, True, state.subscribers[sid])
    for gid in groups:
        for member in state.group_members(gid):
            add(member.e164, True, member)
    domestic = f"+{DOMESTIC_COUNTRY_CODE}"
    to: list[_Recipient] = []
    international = 0
    for rec in chosen.values():
        if not rec.phone.startswith(domestic) and not state.config.international:
            international += 1
        else:
            to.append(rec)
    return _Recipients(to, international, new_emails)


def _identity(state: SandboxState, body: dict[str, Any]) -> tuple[Longcode | None, Longcode]:
    """The Sender Identity asked for (if any) and the number the SMS goes from."""
    name = body.get("senderName")
    lid = body.get("longcodeId")
    identity: Longcode | None = None
    pinned: Longcode | None = None
    if lid is not None:
        if isinstance(lid, bool) or not isinstance(lid, int):
            raise ApiError(400, "longcodeId must be an integer (see GET /dedicated-numbers)")
        pinned = state.numbers.get(lid)
        if pinned is None:
            known = sorted(state.numbers)
            raise ApiError(400, f"Unknown longcodeId {lid}; this account has {known}")
        if pinned.sender_name is not None:
            identity = pinned
    if name is not None:
        if not isinstance(name, str) or not name:
            raise ApiError(400, "senderName must be a non-empty string")
        identity = state.identity(name)
        if identity is None:
            known_names = sorted(c.sender_name for c in state.numbers.values() if c.sender_name)
            raise ApiError(
                400, f"Unknown senderName {name!r}; this account's identities are {known_names}"
            )
    sms_from = pinned or identity or state.default_longcode()
    return identity, sms_from


def _content(state: SandboxState, body: dict[str, Any]) -> tuple[str, bool]:
    message, image, template = body.get("message"), body.get("image"), body.get("templateId")
    if message is not None and not isinstance(message, str):
        raise ApiError(400, "message must be a string")
    if image is not None and not isinstance(image, str):
        raise ApiError(400, "image must be a public URL string")
    is_mms = body.get("isMMS", False)
    if not isinstance(is_mms, bool):
        raise ApiError(400, "isMMS must be true or false")
    if not message and not image and template is None:
        raise ApiError(
            400, "Missing Required Field: give at least one of message, image or templateId"
        )
    if state.config.template_only and template is None:
        raise ApiError(
            403,
            "Unverified accounts only can send template messages: pass templateId",
            reason="TEMPLATE_ONLY",
        )
    text = message or ""
    if template is not None:
        if isinstance(template, bool) or not isinstance(template, int):
            raise ApiError(400, "templateId must be an integer")
        if str(template) not in state.config.templates:
            raise ApiError(400, f"Unknown templateId {template}")
        text = text or state.config.templates[str(template)]
    return text, bool(image) or is_mms


def _check_length(state: SandboxState, text: str, texts: dict[str, str], is_mms: bool) -> None:
    """400 "Character Limit Exceeded" when the message or one recipient's text is too long.

    An MMS takes MMS_MAX_CHARS. An SMS takes SMS_MAX_CHARS with ``sms_over_160="reject"``
    (the developer docs); with ``"segments"`` it goes out in billed segments, up to the same
    MMS_MAX_CHARS, the longest body MTA documents.
    """
    segmented = state.config.sms_over_160 == "segments"
    limit = MMS_MAX_CHARS if is_mms or segmented else SMS_MAX_CHARS
    kind = "an MMS" if is_mms else "a message" if segmented else "an SMS"
    hint = "" if is_mms or segmented else " (send it as MMS with isMMS or an image)"
    if len(text) > limit:
        raise ApiError(
            400,
            f"Character Limit Exceeded: the message has {len(text)} characters; "
            f"{kind} takes at most {limit}{hint}",
        )
    for phone, rendered in texts.items():
        if len(rendered) > limit:
            raise ApiError(
                400,
                f"Character Limit Exceeded: the text for {phone} has {len(rendered)} "
                f"characters once filled in; {kind} takes at most {limit}{hint}",
            )


def _properties(body: dict[str, Any], book: _Phonebook) -> dict[str, dict[str, Any]]:
    props = body.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ApiError(400, "properties must map phone numbers to objects of variables")
    out: dict[str, dict[str, Any]] = {}
    for key, values in props.items():
        found = _number(key, book)
        if found is None or not isinstance(values, dict):
            raise ApiError(400, f"properties[{key!r}]: key must be a phone, value an object")
        out[found[0]] = values
    return out


@functools.lru_cache(maxsize=4096)  # a campaign fills in few distinct texts
def _credits(text: str, *, is_mms: bool, route: str, rule: ImessageCredits) -> int:
    """MMS and SMS as documented (SMS per segment); iMessage by ``rule`` (not documented)."""
    as_sms = MMS_CREDITS if is_mms else credits(text, mms=False)
    return imessage_credits(as_sms, rule) if route == "imessage" else as_sms


def _forced_code(state: SandboxState, rec: _Recipient, landlines: set[str]) -> int | None:
    """The final status the number itself decides, before any draw."""
    if not rec.valid:
        return _INVALID_NUMBER
    if rec.phone in landlines:
        return _LANDLINE
    if rec.subscriber is not None and rec.subscriber.opted_out:
        return _STOPPED_NUMBER
    return None


async def send_message(request: Request) -> Response:
    app = sandbox_of(request)
    state = app.state
    body = await json_body(request)
    text, is_mms = _content(state, body)
    identity, sms_from = _identity(state, body)
    external_id = body.get("externalId")
    if external_id is not None and not isinstance(external_id, (str, int)):
        raise ApiError(400, "externalId must be a string")
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        raise ApiError(400, "tags must be an object of string values")
    raw = body.get("subscribers")
    props = body.get("properties")
    book = _phonebook(
        raw if isinstance(raw, list) else [], props if isinstance(props, dict) else []
    )
    properties = _properties(body, book)
    delay = 0.0
    scheduled = None
    if body.get("scheduledDate") is not None:
        scheduled = parse_scheduled(body["scheduledDate"])
        delay = max(0.0, (scheduled - utcnow()).total_seconds()) / state.time_scale
    recipients = _recipients(state, body, book)
    texts = {
        rec.phone: _render(
            text, {**_sub_vars(rec.subscriber, rec.phone), **properties.get(rec.phone, {})}
        )
        for rec in recipients.to
    }
    _check_length(state, text, texts, is_mms)
    recipients.create(state)

    message_id = state.next_id("message")
    created = scheduled if scheduled is not None and delay > 0 else utcnow()
    landlines = set(state.config.landlines)
    for rec in recipients.to:
        phone = rec.phone
        plan = plan_recipient(
            state, phone, identity, message_id, forced_code=_forced_code(state, rec, landlines)
        )
        from_code = identity if plan.route == "imessage" and identity is not None else sms_from
        row = MessageRow(
            message_id=message_id,
            external_id=None if external_id is None else str(external_id),
            phone=phone,
            sender_name=identity.sender_name if identity is not None else None,
            route=plan.route,
            text=texts[phone],
            tags={str(k): str(v) for k, v in tags.items()},
            from_number=from_code.number,
            created_at=created,
            is_mms=is_mms,
            final_code=plan.final_code,
            reply=plan.reply,
            credits=_credits(
                texts[phone],
                is_mms=is_mms,
                route=plan.route,
                rule=state.config.imessage_credits,
            ),
        )
        state.rows.append(row)
        times = {
            "sending": plan.sending_after_s,
            "sent": plan.sent_after_s,
            "final": plan.final_after_s,
            "reply": plan.reply_after_s,
        }
        app.dispatcher.schedule_row(row, delay, times)
        if delay == 0:  # queued now: visible before the dispatcher runs
            row.sent, row.status_code, row.status_at = True, _QUEUED, created
    verb = "scheduled" if delay > 0 else "sent"
    total = len(recipients.to)
    return ok(
        {
            "messageId": message_id,
            "totalSent": total,
            "totalFailedInternationalRecipients": recipients.international,
        },
        f"Message {verb} to {total} recipient(s)",
    )


def _date_filter(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(400, f"filters[{name}] must be YYYY-MM-DD, got {value!r}") from exc


def _matches_query(state: SandboxState, row: MessageRow, query: str) -> bool:
    """``query`` as MTA documents it: the subscriber's first or last name, number or email."""
    sid = state.by_phone.get(row.phone)
    sub = state.subscribers.get(sid) if sid is not None else None
    fields = [row.phone, row.phone.lstrip("+")]
    if sub is not None:
        fields += [sub.first_name or "", sub.last_name or "", sub.email or ""]
    return any(query in f.lower() for f in fields)


async def deliveries(request: Request) -> Response:
    """``GET /deliveries`` with only the documented query (``/check-delivery-status``).

    ``page``, ``pageSize``, ``sortBy`` (date), ``sortDirection``, ``query``,
    ``filters[startDate]``/``[endDate]`` (UTC dates of ``date``), ``filters[type]`` and
    ``filters[status]``; anything else (``externalId``, ``messageId``...) is ignored, as a real
    server would. A row is one recipient of a message: ``messageId``, ``externalId``,
    ``number``, ``status`` (its latest status by its ``/deliveries`` name, as the status filter
    spells it; third-party code sees names such as "Undeliverable") and ``date`` (when the
    message was handed over). It is listed only ``deliveries_lag_s`` (unscaled) after that.
    """
    state = sandbox_of(request).state
    q = request.query_params
    page, size = page_params(request)
    start = _date_filter(q.get("filters[startDate]"), "startDate")
    end = _date_filter(q.get("filters[endDate]"), "endDate")
    status = (q.get("filters[status]") or "").strip().lower()
    names = [s.name for s in DELIVERIES_FILTER_STATUSES]
    if status and status not in names:
        raise ApiError(400, f"filters[status] must be one of {', '.join(names)}")
    kind = (q.get("filters[type]") or "").strip().lower()
    query = (q.get("query") or "").strip().lower()
    direction = (q.get("sortDirection") or "ASC").strip().upper()
    if direction not in ("ASC", "DESC"):
        raise ApiError(400, f"sortDirection must be ASC or DESC, got {direction!r}")
    now = utcnow()
    lag = timedelta(seconds=state.config.deliveries_lag_s / state.time_scale)
    picked: list[MessageRow] = []
    for row in state.rows:
        # Handed over, but not listed yet. A message scheduled later and already handed over
        # (settle() skipped the time) is listed: the skipped time covers the lag too.
        if not row.sent or now - lag < row.created_at <= now:
            continue
        day = row.created_at.astimezone(timezone.utc).date()
        if (start and day < start) or (end and day > end):
            continue
        if status and row.status != status:
            continue
        if kind and kind != ("mms" if row.is_mms else "sms"):
            continue
        if query and not _matches_query(state, row, query):
            continue
        picked.append(row)
    picked.sort(key=lambda r: (r.created_at, r.message_id), reverse=direction == "DESC")
    rows = [
        {
            "messageId": row.message_id,
            "externalId": row.external_id,
            "number": row.phone,
            "status": row.status,
            "date": iso_ms(row.created_at),
        }
        for row in picked
    ]
    return ok(paged(rows, page, size))
