"""Admin routes under /_sandbox/: reset, identities, opt-in, capability, faults, settle, truth."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .responses import ApiError, json_body, ok, sandbox_of
from .state import normalize_phone

__all__ = [
    "admin_alerts",
    "admin_capability",
    "admin_config",
    "admin_faults",
    "admin_ground_truth",
    "admin_identities",
    "admin_opt_in",
    "admin_reset",
    "admin_settle",
    "admin_usage",
]


async def admin_reset(request: Request) -> Response:
    sandbox_of(request).reset()
    return ok(message="Sandbox reset")


def _identities(request: Request) -> list[dict[str, Any]]:
    state = sandbox_of(request).state
    return [
        {"name": c.sender_name, "longcodeId": c.id, "number": c.number, "enabled": c.enabled}
        for c in sorted(state.numbers.values(), key=lambda c: c.id)
        if c.sender_name
    ]


async def admin_identities(request: Request) -> Response:
    """GET lists identities; POST {"identities": [...], "replace": bool} (or a bare list) sets."""
    if request.method == "POST":
        body = await json_body(request, kind=object)
        replace = False
        if isinstance(body, dict):
            replace = bool(body.get("replace", False))
            body = body.get("identities", [body] if "name" in body else [])
        if not isinstance(body, list):
            raise ApiError(400, "identities must be a list of {name, longcodeId, number, enabled}")
        try:
            sandbox_of(request).state.set_identities(body, replace=replace)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
    return ok(_identities(request))


def _phone(body: dict[str, Any]) -> str:
    phone = normalize_phone(body.get("phone"))
    if phone is None:
        raise ApiError(400, f"phone {body.get('phone')!r} is not a phone number; use E.164")
    return phone


async def admin_opt_in(request: Request) -> Response:
    """Simulate an inbound opt-in: records it, marks the phone iMessage-capable, posts the event."""
    app = sandbox_of(request)
    body = await json_body(request)
    phone = _phone(body)
    name = body.get("sender_name", body.get("senderName"))
    if not isinstance(name, str) or app.state.identity(name) is None:
        raise ApiError(400, f"sender_name {name!r} is not an identity of this sandbox")
    app.state.opt_ins[(phone, name)] = True
    app.state.capability[phone] = True
    app.dispatcher.schedule_opt_in(phone, name)
    return ok({"phone": phone, "sender_name": name}, "Opt-in recorded")


async def admin_capability(request: Request) -> Response:
    app = sandbox_of(request)
    body = await json_body(request)
    phone = _phone(body)
    capable = body.get("imessage")
    if not isinstance(capable, bool):
        raise ApiError(400, "imessage must be true or false")
    app.state.capability[phone] = capable
    opted = body.get("opted_in")
    if isinstance(opted, dict):  # optional {identity: bool}
        for name, flag in opted.items():
            app.state.opt_ins[(phone, str(name))] = bool(flag)
    return ok({"phone": phone, "imessage": capable}, "Capability set")


async def admin_faults(request: Request) -> Response:
    state = sandbox_of(request).state
    if request.method == "POST":
        body = await json_body(request)
        try:
            state.set_faults(body)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
    return ok(dict(state.faults))


async def admin_config(request: Request) -> Response:
    state = sandbox_of(request).state
    if request.method == "POST":
        body = await json_body(request)
        try:
            state.config.update(body)
            if "identities" in body or "plain_longcodes" in body:
                state.set_identities(state.config.identities, replace=True)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
    cfg = {k: getattr(state.config, k) for k in state.config.__dataclass_fields__}
    cfg["webhook_secret"] = "***"
    return ok(cfg)


async def admin_settle(request: Request) -> Response:
    """Finish every status progress now and wait until every webhook was dispatched."""
    body = await json_body(request)
    timeout = body.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ApiError(400, "timeout must be a positive number of seconds")
    app = sandbox_of(request)
    try:
        done = await app.dispatcher.settle(float(timeout))
    except TimeoutError as exc:
        raise ApiError(504, f"settle did not finish within {timeout}s: {exc}") from exc
    return ok({"settled": done, "webhookPosts": app.dispatcher.posts_made}, "Settled")


async def admin_ground_truth(request: Request) -> Response:
    return Response(
        content=_dumps({"rows": sandbox_of(request).state.ground_truth()}),
        media_type="application/json",
    )


_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)

_GSM7_EXT = set("^{}\\[~]|€")


def credits(text: str, *, is_mms: bool, route: str) -> int:
    """Credits of one message: MMS 3; SMS 1 per segment (GSM-7 160/153, else 70/67);
    iMessage 1 (an assumption: MTA does not document iMessage pricing)."""
    if is_mms:
        return 3
    if route == "imessage":
        return 1
    if all(ch in _GSM7 for ch in text):
        single, multi = 160, 153
        n = len(text) + sum(ch in _GSM7_EXT for ch in text)  # extension chars take two
    else:
        single, multi = 70, 67
        n = len(text.encode("utf-16-le")) // 2  # UCS-2 units: emoji take two
    return 1 if n <= single else -(-n // multi)


async def admin_usage(request: Request) -> Response:
    """Messages, recipients and credits used so far, by route."""
    rows = sandbox_of(request).state.rows
    by_route: dict[str, int] = {}
    for row in rows:
        cost = credits(row.text, is_mms=row.is_mms, route=row.route)
        by_route[row.route] = by_route.get(row.route, 0) + cost
    data = {
        "messages": len({row.message_id for row in rows}),
        "recipients": len(rows),
        "credits": sum(by_route.values()),
        "creditsByRoute": by_route,
    }
    return ok(data)


async def admin_alerts(request: Request) -> Response:
    return ok(list(sandbox_of(request).state.alerts))


def _dumps(data: Any) -> bytes:
    import json

    return json.dumps(data, separators=(",", ":")).encode()
