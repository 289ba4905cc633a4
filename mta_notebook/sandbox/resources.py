"""Routes: subscribers (CRUD, bulk), groups and webhooks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import Response

from ..contract.events import EVENTS
from ..contract.limits import BULK_MAX_RECORDS
from ..contract.phones import normalize_phone
from .responses import ApiError, json_body, ok, page_params, paged, sandbox_of
from .state import SandboxState, Subscriber, Webhook, utcnow

__all__ = [
    "add_group_members",
    "bulk_subscribers",
    "create_group",
    "create_webhook",
    "delete_group",
    "delete_subscriber",
    "delete_webhook",
    "get_group",
    "get_subscriber",
    "list_groups",
    "list_subscribers",
    "list_webhooks",
    "remove_group_members",
    "update_group",
    "update_subscriber",
    "update_webhook",
    "upsert_subscriber",
]


# -- subscribers -------------------------------------------------------------------------------
def _contact(record: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    """(E.164 phone, email, phone_given) of a record; raises ValueError when malformed."""
    raw = record.get("e164Number")
    if raw in (None, ""):
        raw = record.get("number")
    phone = None
    if raw not in (None, "", 0):
        phone = normalize_phone(raw)
        if phone is None:
            raise ValueError(f"number {raw!r} is not a phone number; send e164Number as E.164")
    email = record.get("email")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise ValueError(f"email {email!r} is not an email address")
    return phone, email or None, raw not in (None, "", 0)


def _apply(state: SandboxState, sub: Subscriber, record: dict[str, Any]) -> None:
    """Copy the record's fields onto ``sub`` (validates first; raises ValueError)."""
    for key in ("firstName", "lastName"):
        if key in record and record[key] is not None and not isinstance(record[key], str):
            raise ValueError(f"{key} must be a string")
    group_ids = record.get("groupIds", [])
    if not isinstance(group_ids, list) or not all(isinstance(g, int) for g in group_ids):
        raise ValueError("groupIds must be a list of integer group ids")
    unknown = [g for g in group_ids if g not in state.groups]
    if unknown:
        raise ValueError(f"unknown groupIds {unknown}")
    fields = record.get("subscriberFields", {})
    if not isinstance(fields, dict):
        raise ValueError("subscriberFields must map custom-field ids to strings")
    if "firstName" in record:
        sub.first_name = record["firstName"]
    if "lastName" in record:
        sub.last_name = record["lastName"]
    now = utcnow()
    for gid in group_ids:
        sub.groups.setdefault(gid, now)
    sub.fields.update({str(k): str(v) for k, v in fields.items()})


def _existing(state: SandboxState, phone: str | None, email: str | None) -> Subscriber | None:
    sid = state.by_phone.get(phone) if phone else None
    if sid is None and email:
        sid = state.by_email.get(email.lower())
    return state.subscribers.get(sid) if sid is not None else None


def _upsert(
    state: SandboxState, record: dict[str, Any], *, create_only: bool, update_only: bool
) -> tuple[Subscriber, bool]:
    """Create or update one subscriber; returns (subscriber, created). Raises ValueError."""
    phone, email, _ = _contact(record)
    if phone is None and email is None:
        raise ValueError("a subscriber needs a number (e164Number) or an email")
    sub = _existing(state, phone, email)
    if sub is not None and create_only:
        raise ValueError(f"subscriber already exists (id {sub.id}); createOnly=true")
    if sub is None and update_only:
        raise ValueError("no such subscriber to update")
    created = sub is None
    if sub is None:
        probe = Subscriber(0, phone, email)
        _apply(state, probe, record)  # validate before creating anything
        sub = state.add_subscriber(phone, email)
    else:
        state.reindex(sub, phone or sub.e164, email or sub.email)
    _apply(state, sub, record)
    return sub, created


async def list_subscribers(request: Request) -> Response:
    state = sandbox_of(request).state
    page, size = page_params(request)
    query = (request.query_params.get("query") or "").lower()
    names = state.group_names()
    rows = []
    for sub in sorted(state.subscribers.values(), key=lambda s: s.id):
        if query:
            hay = " ".join(
                str(x or "") for x in (sub.first_name, sub.last_name, sub.email, sub.e164)
            )
            if query not in hay.lower():
                continue
        rows.append(sub.public(names))
    return ok(paged(rows, page, size))


async def upsert_subscriber(request: Request) -> Response:
    state = sandbox_of(request).state
    body = await json_body(request)
    try:
        sub, created = _upsert(state, body, create_only=False, update_only=False)
    except ValueError as exc:
        raise ApiError(400, f"POST /subscribers: {exc}") from exc
    verb = "created" if created else "updated"
    return ok(sub.public(state.group_names()), f"Subscriber {verb}")


def _lookup(request: Request) -> tuple[SandboxState, Subscriber]:
    state = sandbox_of(request).state
    key = str(request.path_params["key"])
    sub = state.find_subscriber(key)
    if sub is None:
        raise ApiError(404, f"Subscriber {key!r} not found (give an id, a number or an email)")
    return state, sub


async def get_subscriber(request: Request) -> Response:
    state, sub = _lookup(request)
    return ok(sub.public(state.group_names()))


async def update_subscriber(request: Request) -> Response:
    state, sub = _lookup(request)
    body = await json_body(request)
    try:
        phone, email, given = _contact(body)
        other = _existing(state, phone, email)
        if other is not None and other.id != sub.id:
            raise ValueError(f"that number or email belongs to subscriber {other.id}")
        _apply(state, Subscriber(0, None, None), body)
        state.reindex(sub, phone if given else sub.e164, email or sub.email)
        _apply(state, sub, body)
    except ValueError as exc:
        raise ApiError(400, f"PATCH /subscribers/{sub.id}: {exc}") from exc
    return ok(sub.public(state.group_names()), "Subscriber updated")


async def delete_subscriber(request: Request) -> Response:
    state, sub = _lookup(request)
    state.delete_subscriber(sub)
    return ok({"id": sub.id}, "Subscriber deleted")


async def bulk_subscribers(request: Request) -> Response:
    """POST upserts (``createOnly`` creates only), PATCH updates; per-record errors."""
    state = sandbox_of(request).state
    body = await json_body(request, kind=list)
    if len(body) > BULK_MAX_RECORDS:
        raise ApiError(400, f"bulk: {len(body)} records; at most {BULK_MAX_RECORDS} per request")
    flag = request.query_params.get("createOnly", "false").lower()
    if flag not in ("true", "false"):
        raise ApiError(400, f"createOnly must be true or false, got {flag!r}")
    create_only = flag == "true"
    update_only = request.method == "PATCH"
    names = state.group_names()
    created: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for i, record in enumerate(body):
        if not isinstance(record, dict):
            errors.append({"record": record, "index": i, "error": "record must be an object"})
            continue
        try:
            sub, was_created = _upsert(
                state, record, create_only=create_only, update_only=update_only
            )
        except ValueError as exc:
            errors.append({**record, "index": i, "error": str(exc)})
            continue
        (created if was_created else updated).append(sub.public(names))
    data = {
        "totalRecordCount": len(body),
        "createdRecordCount": len(created),
        "updatedRecordCount": len(updated),
        "errorRecordCount": len(errors),
        "createdRecords": created,
        "updatedRecords": updated,
        "errorRecords": errors,
    }
    return ok(data, f"{len(created)} created, {len(updated)} updated, {len(errors)} errors")


# -- groups ------------------------------------------------------------------------------------
async def list_groups(request: Request) -> Response:
    state = sandbox_of(request).state
    page, size = page_params(request)
    rows = [
        g.public(len(state.group_members(g.id)))
        for g in sorted(state.groups.values(), key=lambda g: g.id)
    ]
    return ok(paged(rows, page, size))


async def create_group(request: Request) -> Response:
    from .state import Group

    state = sandbox_of(request).state
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "POST /groups: 'name' is required (a non-empty string)")
    description = body.get("description")
    group = Group(state.next_id("group"), name.strip(), description)
    state.groups[group.id] = group
    return ok(group.public(0), "Group created")


def _group(request: Request) -> tuple[SandboxState, int]:
    state = sandbox_of(request).state
    gid = int(request.path_params["gid"])
    if gid not in state.groups:
        raise ApiError(404, f"Group {gid} not found (list groups with GET /groups)")
    return state, gid


async def get_group(request: Request) -> Response:
    state, gid = _group(request)
    return ok(state.groups[gid].public(len(state.group_members(gid))))


async def add_group_members(request: Request) -> Response:
    """``/subscribers`` takes {"subscriberId": id}; ``/bulk-create`` {"subscriberIds": [...]}."""
    state, gid = _group(request)
    body = await json_body(request)
    bulk = request.url.path.endswith("/bulk-create")
    ids = body.get("subscriberIds") if bulk else [body.get("subscriberId")]
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        field = "subscriberIds (a list of ids)" if bulk else "subscriberId (an id)"
        raise ApiError(400, f"give {field}")
    if len(ids) > BULK_MAX_RECORDS:
        raise ApiError(400, f"{len(ids)} subscriberIds; at most {BULK_MAX_RECORDS} per request")
    unknown = [i for i in ids if i not in state.subscribers]
    if unknown:
        raise ApiError(400, f"unknown subscriberIds {unknown}")
    now = utcnow()
    for sid in ids:
        state.subscribers[sid].groups.setdefault(gid, now)
    group = state.groups[gid].public(len(state.group_members(gid)))
    return ok(group, f"{len(ids)} subscriber(s) added to group {gid}")


async def remove_group_members(request: Request) -> Response:
    """DELETE /groups/{id}/subscribers/{sid}, or POST .../bulk-delete {"subscriberIds": [...]}."""
    state, gid = _group(request)
    if "sid" in request.path_params:
        ids = [int(request.path_params["sid"])]
    else:
        ids = (await json_body(request)).get("subscriberIds")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise ApiError(400, "give subscriberIds (a list of ids)")
        if len(ids) > BULK_MAX_RECORDS:
            raise ApiError(400, f"{len(ids)} subscriberIds; at most {BULK_MAX_RECORDS} per request")
    removed = 0
    for sid in ids:
        sub = state.subscribers.get(sid)
        if sub is not None and sub.groups.pop(gid, None) is not None:
            removed += 1
    group = state.groups[gid].public(len(state.group_members(gid)))
    return ok(group, f"{removed} subscriber(s) removed from group {gid}")


async def update_group(request: Request) -> Response:
    state, gid = _group(request)
    body = await json_body(request)
    group = state.groups[gid]
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise ApiError(400, "PATCH /groups: 'name' must be a non-empty string")
        group.name = body["name"].strip()
    if "description" in body:
        group.description = body["description"]
    return ok(group.public(len(state.group_members(gid))), "Group updated")


async def delete_group(request: Request) -> Response:
    state, gid = _group(request)
    for sub in state.subscribers.values():
        sub.groups.pop(gid, None)
    del state.groups[gid]
    return ok({"id": gid}, "Group deleted")


# -- webhooks ----------------------------------------------------------------------------------
def _webhook_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("event", "url", "secret"):
        if key not in body:
            if not partial:
                raise ApiError(400, f"webhooks: '{key}' is required")
            continue
        value = body[key]
        if not isinstance(value, str) or not value:
            raise ApiError(400, f"webhooks: '{key}' must be a non-empty string")
        out[key] = value
    if "event" in out and out["event"] not in EVENTS:
        raise ApiError(400, f"webhooks: event must be one of {', '.join(EVENTS)}")
    if "url" in out:
        parsed = urlparse(out["url"])
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ApiError(400, f"webhooks: url {out['url']!r} must be an http(s) URL")
    flags = {
        "retryOnError": "retry_on_error",
        "sendAlertEmail": "send_alert_email",
        "skipErrors": "skip_errors",
    }
    for key, attr in flags.items():
        if key in body:
            if not isinstance(body[key], bool):
                raise ApiError(400, f"webhooks: {key} must be true or false")
            out[attr] = body[key]
    if "alertEmail" in body:
        if body["alertEmail"] is not None and not isinstance(body["alertEmail"], str):
            raise ApiError(400, "webhooks: alertEmail must be a string")
        out["alert_email"] = body["alertEmail"]
    if "skipErrorCodes" in body:
        codes = body["skipErrorCodes"]
        if not isinstance(codes, list):
            raise ApiError(400, "webhooks: skipErrorCodes must be a list of status codes")
        out["skip_error_codes"] = [str(c) for c in codes]
    return out


async def list_webhooks(request: Request) -> Response:
    state = sandbox_of(request).state
    page, size = page_params(request, default_size=100)
    rows = [w.public() for w in sorted(state.webhooks.values(), key=lambda w: w.id)]
    return ok(paged(rows, page, size))


async def create_webhook(request: Request) -> Response:
    state = sandbox_of(request).state
    fields = _webhook_fields(await json_body(request), partial=False)
    webhook = Webhook(id=state.next_id("webhook"), **fields)
    state.webhooks[webhook.id] = webhook
    return ok(webhook.public(), "Webhook created")


def _webhook(request: Request) -> tuple[SandboxState, Webhook]:
    state = sandbox_of(request).state
    wid = int(request.path_params["wid"])
    webhook = state.webhooks.get(wid)
    if webhook is None:
        raise ApiError(404, f"Webhook {wid} not found (list them with GET /webhooks)")
    return state, webhook


async def update_webhook(request: Request) -> Response:
    _, webhook = _webhook(request)
    fields = _webhook_fields(await json_body(request), partial=True)
    for attr, value in fields.items():
        setattr(webhook, attr, value)
    return ok(webhook.public(), "Webhook updated")


async def delete_webhook(request: Request) -> Response:
    state, webhook = _webhook(request)
    del state.webhooks[webhook.id]
    return ok({"id": webhook.id}, "Webhook deleted")
