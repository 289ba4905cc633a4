"""Routes: verify-api-key, POST /send, dedicated numbers, deliveries."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..contract.assumptions import DELIVERIES_NAME_FOR_CODE
from ..contract.statuses import (
    DELIVERIES_FILTER_STATUSES,
    STATUS_BY_CODE,
    STATUS_BY_NAME,
    status_key,
)
from .responses import ApiError, json_body, ok, page_params, paged, sandbox_of
from .routing import plan_recipient
from .state import Longcode, MessageRow, SandboxState, Subscriber, iso_ms, normalize_phone, utcnow

__all__ = ["dedicated_numbers", "deliveries", "not_found", "send_message", "verify_api_key"]

MAX_BODY = 1550
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


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
    """``20250306T193000-0000`` (ISO basic, as MTA documents) or extended ISO 8601."""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "scheduledDate must be an ISO-8601 string like 20250306T193000-0000")
    text = value.strip().replace("Z", "+00:00")
    for fmt in ("%Y%m%dT%H%M%S%z", "%Y%m%dT%H%M%S"):
        try:
            parsed = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ApiError(
                400, f"scheduledDate {value!r} is not ISO 8601 (e.g. 20250306T193000-0000)"
            ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


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


def _recipients(state: SandboxState, body: dict[str, Any]) -> tuple[list[Subscriber], int]:
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
    chosen: dict[int, Subscriber] = {}
    if every:
        for sub in state.subscribers.values():
            chosen[sub.id] = sub
    raw = body.get("subscribers") or []
    if not isinstance(raw, list):
        raise ApiError(400, "subscribers must be a list of phone numbers (E.164) or emails")
    parsed: list[tuple[object, bool, str | None]] = []
    for i, item in enumerate(raw):
        is_email = isinstance(item, str) and "@" in item
        phone = None if is_email else normalize_phone(item)
        if not is_email and phone is None:
            raise ApiError(
                400, f"subscribers[{i}] = {item!r} is not a phone number or email; use E.164"
            )
        parsed.append((item, is_email, phone))
    for item, is_email, phone in parsed:
        found = state.find_subscriber(str(item)) if is_email else None
        if phone is not None:
            sid = state.by_phone.get(phone)
            found = state.subscribers[sid] if sid is not None else None
        if found is None:  # unknown numbers and emails are created, as MTA does
            found = state.add_subscriber(phone, str(item) if is_email else None)
        chosen[found.id] = found
    for sid in ids:
        chosen[sid] = state.subscribers[sid]
    for gid in groups:
        for member in state.group_members(gid):
            chosen[member.id] = member
    out: list[Subscriber] = []
    seen: set[str] = set()
    international = 0
    for sub in chosen.values():
        if sub.e164 is None or sub.e164 in seen:
            continue
        seen.add(sub.e164)
        if not sub.e164.startswith("+1") and not state.config.international:
            international += 1
            continue
        out.append(sub)
    return out, international


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
    if len(text) > MAX_BODY:
        raise ApiError(
            400,
            f"Character Limit Exceeded: the message has {len(text)} characters; "
            f"the limit is {MAX_BODY}",
        )
    return text, bool(image) or is_mms


def _properties(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    props = body.get("properties")
    if props is None:
        return {}
    if not isinstance(props, dict):
        raise ApiError(400, "properties must map phone numbers to objects of variables")
    out: dict[str, dict[str, Any]] = {}
    for key, values in props.items():
        phone = normalize_phone(key)
        if phone is None or not isinstance(values, dict):
            raise ApiError(400, f"properties[{key!r}]: key must be a phone, value an object")
        out[phone] = values
    return out


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
    props = _properties(body)
    delay = 0.0
    scheduled = None
    if body.get("scheduledDate") is not None:
        scheduled = parse_scheduled(body["scheduledDate"])
        delay = max(0.0, (scheduled - utcnow()).total_seconds()) / state.time_scale
    recipients, international = _recipients(state, body)

    message_id = state.next_id("message")
    created = scheduled if scheduled is not None and delay > 0 else utcnow()
    for sub in recipients:
        phone = sub.e164
        assert phone is not None
        plan = plan_recipient(state, phone, identity, message_id)
        from_code = identity if plan.route == "imessage" and identity is not None else sms_from
        row = MessageRow(
            message_id=message_id,
            external_id=None if external_id is None else str(external_id),
            phone=phone,
            sender_name=identity.sender_name if identity is not None else None,
            route=plan.route,
            text=_render(text, {**_sub_vars(sub, phone), **props.get(phone, {})}),
            tags={str(k): str(v) for k, v in tags.items()},
            from_number=from_code.number,
            created_at=created,
            is_mms=is_mms,
            final_status=plan.final_status,
            reply=plan.reply,
        )
        state.rows.append(row)
        times = {
            "sent": plan.sent_after_s,
            "final": plan.final_after_s,
            "reply": plan.reply_after_s,
        }
        app.dispatcher.schedule_row(row, delay, times)
        if delay == 0:
            row.sent, row.status, row.status_at = True, "sent", created
    verb = "scheduled" if delay > 0 else "sent"
    return ok(
        {
            "messageId": message_id,
            "totalSent": len(recipients),
            "totalFailedInternationalRecipients": international,
        },
        f"Message {verb} to {len(recipients)} recipient(s)",
    )


def _date_filter(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ApiError(400, f"filters[{name}] must be YYYY-MM-DD, got {value!r}") from exc


def _deliveries_status(row: MessageRow) -> str:
    """The ``/deliveries`` name of a row's latest status (``DELIVERIES_NAME_FOR_CODE``)."""
    text = str(row.status).strip()
    found = (
        STATUS_BY_CODE.get(int(text)) if text.isdigit() else STATUS_BY_NAME.get(status_key(text))
    )
    if found is None:
        return text
    if found.code is None:  # already a /deliveries name
        return found.name
    return DELIVERIES_NAME_FOR_CODE.get(found.code, str(found.code))


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
        if status and _deliveries_status(row) != status:
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
            "status": _deliveries_status(row),
            "date": iso_ms(row.created_at),
        }
        for row in picked
    ]
    return ok(paged(rows, page, size))
