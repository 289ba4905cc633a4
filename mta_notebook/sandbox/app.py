"""The sandbox's HTTP layer: an ASGI wrapper (auth, request ids, rate limits, faults) and routes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from . import admin, resources, send
from .dispatch import Dispatcher
from .ratelimit import ADMIN, RateInfo, RateLimiter, bucket_for, counted_per
from .responses import ApiError, api_error_handler, error_response
from .state import SandboxConfig, SandboxState

__all__ = ["SandboxApp", "create_app"]


class SandboxApp:
    """The ASGI app: wraps the starlette routes with MTA's cross-cutting behaviour."""

    def __init__(self, state: SandboxState, webhook_log: str | Path | None = None) -> None:
        self.state = state
        self.limiter = RateLimiter(state.time_scale)
        self.dispatcher = Dispatcher(state, webhook_log)
        self.routes = Starlette(
            routes=_routes(),
            lifespan=self._lifespan,
            exception_handlers={ApiError: api_error_handler},
        )
        self.routes.state.sandbox = self

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.dispatcher.start()
        try:
            yield
        finally:
            await self.dispatcher.stop()

    def reset(self) -> None:
        self.state.reset()
        self.limiter.reset()
        self.dispatcher.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.routes(scope, receive, send)
            return
        if not self.dispatcher.started:  # served without lifespan (e.g. httpx.ASGITransport)
            await self.dispatcher.start()
        request_id = str(uuid.uuid4())
        scope["mta.request_id"] = request_id
        raw_path: str = scope["path"]
        path = raw_path[3:] if raw_path.startswith("/v3") else raw_path
        bucket = bucket_for(scope["method"], path)
        state = self.state

        auth = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        client = scope.get("client")
        ip = str(client[0]) if client else "unknown"
        if not token or token != state.api_key:
            info = self.limiter.peek(ip, bucket)
            msg = (
                "Missing API key: send the header 'Authorization: Bearer <API key>'"
                if not token
                else "Invalid API key: check the key you passed (Authorization: Bearer ...)"
            )
            await self._answer(scope, receive, send, request_id, info, 401, msg)
            return

        who = "account-1" if counted_per(bucket) == "account" else ip
        faulty = bucket != ADMIN and any(
            path.startswith(p) for p in state.faults.get("paths", ["/send"])
        )
        if bucket != ADMIN and state.fault("rate_limit_burst"):
            info = self.limiter.throttled(who, bucket)
            await self._answer(scope, receive, send, request_id, info, 429, _rate_msg(info))
            return
        info = self.limiter.hit(who, bucket)
        if not info.allowed:
            await self._answer(scope, receive, send, request_id, info, 429, _rate_msg(info))
            return
        latency = float(state.faults.get("latency_ms", 0) or 0)
        if latency > 0 and bucket != ADMIN:
            await asyncio.sleep(latency / 1000)
        if faulty and state.fault("error_before"):
            msg = "Internal server error (sandbox fault error_before: nothing was processed)"
            await self._answer(scope, receive, send, request_id, info, 500, msg)
            return
        after = None
        if faulty:
            if state.fault("error_after"):
                after = "error_after"
            elif state.fault("drop_after"):
                after = "drop_after"

        extra = {"X-Request-ID": request_id, **info.headers()}
        held: list[Message] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": headers}
            if after is not None:
                held.append(message)  # decided below, once the request has been processed
                return
            await send(message)

        await self.routes(scope, receive, send_with_headers)
        if after is None:
            return
        status = next((m["status"] for m in held if m["type"] == "http.response.start"), 500)
        if status >= 300:  # nothing took effect: the real error answer goes out
            for message in held:
                await send(message)
        elif after == "error_after":
            msg = "Internal server error (sandbox fault error_after: the request took effect)"
            await self._answer(scope, receive, send, request_id, info, 500, msg)
        else:
            await _drop_connection(send)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        info: RateInfo,
        status: int,
        message: str,
    ) -> None:
        headers = {"X-Request-ID": request_id, **info.headers()}
        await error_response(status, message, request_id, headers=headers)(scope, receive, send)


def _rate_msg(info: RateInfo) -> str:
    return (
        f"Rate limit exceeded: at most {info.limit} requests per window for this endpoint; "
        f"retry after {info.reset_s:.3f} s (see Retry-After)"
    )


async def _drop_connection(send: Send) -> None:
    """Close the client's connection without any answer (uvicorn's transport, else a reset)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault drop_after")
    transport.abort() if hasattr(transport, "abort") else transport.close()
    for _ in range(5):  # let uvicorn see connection_lost, so it sends nothing more
        await asyncio.sleep(0)


def _routes() -> list[Route]:
    s, r, a = send, resources, admin
    return [
        Route("/v3/auth/verify-api-key", s.verify_api_key, methods=["GET"]),
        Route("/v3/send", s.send_message, methods=["POST"]),
        Route("/v3/subscribers", r.list_subscribers, methods=["GET"]),
        Route("/v3/subscribers", r.upsert_subscriber, methods=["POST"]),
        Route("/v3/subscribers/bulk", r.bulk_subscribers, methods=["POST", "PATCH"]),
        Route("/v3/subscribers/{key}", r.get_subscriber, methods=["GET"]),
        Route("/v3/subscribers/{key}", r.update_subscriber, methods=["PATCH"]),
        Route("/v3/subscribers/{key}", r.delete_subscriber, methods=["DELETE"]),
        Route("/v3/groups", r.list_groups, methods=["GET"]),
        Route("/v3/groups", r.create_group, methods=["POST"]),
        Route("/v3/groups/{gid:int}", r.get_group, methods=["GET"]),
        Route("/v3/groups/{gid:int}", r.update_group, methods=["PATCH"]),
        Route("/v3/groups/{gid:int}", r.delete_group, methods=["DELETE"]),
        Route(
            "/v3/groups/{gid:int}/subscribers/{sid:int}",
            r.remove_group_members,
            methods=["DELETE"],
        ),
        Route(
            "/v3/groups/{gid:int}/subscribers/bulk-delete",
            r.remove_group_members,
            methods=["POST"],
        ),
        Route("/v3/groups/{gid:int}/subscribers", r.add_group_members, methods=["POST"]),
        Route(
            "/v3/groups/{gid:int}/subscribers/bulk-create", r.add_group_members, methods=["POST"]
        ),
        Route("/v3/dedicated-numbers", s.dedicated_numbers, methods=["GET"]),
        Route("/v3/deliveries", s.deliveries, methods=["GET"]),
        Route("/v3/webhooks", r.list_webhooks, methods=["GET"]),
        Route("/v3/webhooks", r.create_webhook, methods=["POST"]),
        Route("/v3/webhooks/{wid:int}", r.update_webhook, methods=["PATCH"]),
        Route("/v3/webhooks/{wid:int}", r.delete_webhook, methods=["DELETE"]),
        Route("/_sandbox/reset", a.admin_reset, methods=["POST"]),
        Route("/_sandbox/identities", a.admin_identities, methods=["GET", "POST"]),
        Route("/_sandbox/opt-in", a.admin_opt_in, methods=["POST"]),
        Route("/_sandbox/capability", a.admin_capability, methods=["POST"]),
        Route("/_sandbox/landlines", a.admin_landlines, methods=["GET", "POST"]),
        Route("/_sandbox/payload-version", a.admin_payload_version, methods=["POST"]),
        Route("/_sandbox/faults", a.admin_faults, methods=["GET", "POST"]),
        Route("/_sandbox/config", a.admin_config, methods=["GET", "POST"]),
        Route("/_sandbox/settle", a.admin_settle, methods=["POST"]),
        Route("/_sandbox/ground-truth", a.admin_ground_truth, methods=["GET"]),
        Route("/_sandbox/alerts", a.admin_alerts, methods=["GET"]),
        Route("/_sandbox/usage", a.admin_usage, methods=["GET"]),
        Route("/{path:path}", s.not_found, methods=["GET", "POST", "PATCH", "DELETE", "PUT"]),
    ]


def create_app(
    *,
    api_key: str = "sandbox-key",
    seed: int = 0,
    time_scale: float = 1.0,
    config: SandboxConfig | dict[str, Any] | str | Path | None = None,
    webhook_log: str | Path | None = None,
    faults: dict[str, Any] | str | None = None,
) -> SandboxApp:
    """The sandbox as an ASGI app (serve it with uvicorn, or use ``running()``)."""
    if isinstance(faults, str):
        faults = json.loads(faults)
        if not isinstance(faults, dict):
            raise ValueError('faults must be a JSON object such as {"error_before": 0.1}')
    state = SandboxState(
        api_key=api_key,
        seed=seed,
        time_scale=time_scale,
        config=SandboxConfig.load(config),
        faults=faults,
    )
    return SandboxApp(state, webhook_log)
