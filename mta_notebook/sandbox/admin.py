"""Admin routes under /_sandbox/: reset, identities, opt-in, capability, landlines, payload
versions, faults, config, settle, ground truth, usage and alerts."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..contract.events import PAYLOAD_VERSIONS
from ..contract.phones import normalize_phone
from .dispatch import OPT_IN_TYPES
from .responses import ApiError, json_body, ok, sandbox_of

__all__ = [
    "admin_alerts",
    "admin_capability",
    "admin_config",
    "admin_faults",
    "admin_ground_truth",
    "admin_identities",
    "admin_landlines",
    "admin_opt_in",
    "admin_payload_version",
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
    """Simulate an inbound opt-in: records it, marks the phone iMessage-capable, posts the event.

    ``opt_in_type`` is the method the subscriber used (``inbound-message`` by default, or
    ``deeplink``); it becomes the event's ``optInType``.
    """
    app = sandbox_of(request)
    body = await json_body(request)
    phone = _phone(body)
    name = body.get("sender_name", body.get("senderName"))
    if not isinstance(name, str) or app.state.identity(name) is None:
        raise ApiError(400, f"sender_name {name!r} is not an identity of this sandbox")
    method = body.get("opt_in_type", OPT_IN_TYPES[0])
    if method not in OPT_IN_TYPES:
        raise ApiError(400, f"opt_in_type must be one of {', '.join(OPT_IN_TYPES)}")
    app.state.opt_ins[(phone, name)] = True
    app.state.capability[phone] = True
    app.dispatcher.schedule_opt_in(phone, name, method)
    return ok({"phone": phone, "sender_name": name, "opt_in_type": method}, "Opt-in recorded")


async def admin_landlines(request: Request) -> Response:
    """GET lists the landlines; POST {"phones": [...]} adds numbers that end in 12 LANDLINE."""
    state = sandbox_of(request).state
    if request.method == "POST":
        phones = (await json_body(request)).get("phones")
        if not isinstance(phones, list):
            raise ApiError(400, 'give {"phones": [...]}, a list of E.164 numbers')
        try:
            state.config.update({"landlines": [*state.config.landlines, *phones]})
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
    return ok(list(state.config.landlines))


async def admin_payload_version(request: Request) -> Response:
    """POST {"webhookId": id, "version": "V1" | "V2" | "V3" | null}: that registration's
    payload version (null: the config's ``payload_version``)."""
    state = sandbox_of(request).state
    body = await json_body(request)
    wid = body.get("webhookId")
    webhook = state.webhooks.get(wid) if type(wid) is int else None
    if webhook is None:
        raise ApiError(400, f"webhookId {wid!r} is not a registered webhook (GET /v3/webhooks)")
    version = body.get("version")
    if version is not None and version not in PAYLOAD_VERSIONS:
        raise ApiError(400, f"version must be one of {', '.join(PAYLOAD_VERSIONS)} or null")
    webhook.payload_version = version
    return ok({"webhookId": webhook.id, "version": version}, "Payload version set")


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


async def admin_usage(request: Request) -> Response:
    """Messages, recipients and credits used so far, by route."""
    rows = sandbox_of(request).state.rows
    by_route: dict[str, int] = {}
    for row in rows:
        by_route[row.route] = by_route.get(row.route, 0) + row.credits
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
    return json.dumps(data, separators=(",", ":")).encode()
