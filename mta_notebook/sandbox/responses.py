"""MTA-shaped answers: the error body, ApiError for handlers, and small request helpers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .state import iso_ms, utcnow

if TYPE_CHECKING:
    from .app import SandboxApp

__all__ = [
    "ApiError",
    "api_error_handler",
    "error_response",
    "json_body",
    "ok",
    "page_params",
    "sandbox_of",
]

_ERROR_NAMES = {
    400: ("BAD_REQUEST", "BadRequestError"),
    401: ("UNAUTHORIZED", "UnauthorizedError"),
    403: ("FORBIDDEN", "ForbiddenError"),
    404: ("NOT_FOUND", "NotFoundError"),
    409: ("CONFLICT", "ConflictError"),
    429: ("RATE_LIMIT", "RateLimitError"),
    500: ("INTERNAL_SERVER_ERROR", "InternalServerError"),
    504: ("TIMEOUT", "GatewayTimeoutError"),
}


class ApiError(Exception):
    """Raised by a handler to answer with MTA's error body."""

    def __init__(self, status: int, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def error_response(
    status: int,
    message: str,
    request_id: str,
    *,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """MTA's error body: httpCode, message, timestamp, type, name, requestId (+ reason on 403)."""
    kind, name = _ERROR_NAMES.get(status, ("ERROR", "Error"))
    body: dict[str, Any] = {
        "httpCode": status,
        "message": message,
        "timestamp": iso_ms(utcnow()),
        "type": kind,
        "name": name,
        "requestId": request_id,
    }
    if status == 403:
        body["reason"] = reason
    return JSONResponse(body, status_code=status, headers=headers)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    rid = str(request.scope.get("mta.request_id", ""))
    return error_response(exc.status, exc.message, rid, reason=exc.reason)


def ok(data: Any = None, message: str = "OK") -> JSONResponse:
    """MTA's success envelope."""
    body: dict[str, Any] = {"success": True, "message": message}
    if data is not None:
        body["data"] = data
    return JSONResponse(body)


def sandbox_of(request: Request) -> SandboxApp:
    """The SandboxApp serving ``request``."""
    app: SandboxApp = request.app.state.sandbox
    return app


async def json_body(request: Request, *, kind: type = dict) -> Any:
    """The parsed JSON body, or a 400 that says what is wrong with it."""
    raw = await request.body()
    if not raw.strip():
        if kind is dict:
            return {}
        raise ApiError(400, f"{request.method} {request.url.path}: the request body is empty")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            400,
            f"{request.method} {request.url.path}: the body is not valid JSON ({exc}); "
            "send Content-Type: application/json with a JSON object",
        ) from exc
    if not isinstance(data, kind):
        want = "a JSON object" if kind is dict else "a JSON array"
        raise ApiError(400, f"{request.method} {request.url.path}: the body must be {want}")
    return data


def page_params(request: Request, default_size: int = 25) -> tuple[int, int]:
    """``page`` (from 0) and ``pageSize`` (1..1000) from the query, or a 400."""
    q = request.query_params
    try:
        page = int(q.get("page", "0"))
        size = int(q.get("pageSize", str(default_size)))
    except ValueError as exc:
        raise ApiError(400, "page and pageSize must be integers (page starts at 0)") from exc
    if page < 0:
        raise ApiError(400, f"page must be >= 0 (pages start at 0), got {page}")
    if not 1 <= size <= 1000:
        raise ApiError(400, f"pageSize must be between 1 and 1000, got {size}")
    return page, size


def paged(rows: list[dict[str, Any]], page: int, size: int) -> dict[str, Any]:
    """MTA's list shape: rows, page, pageSize, total."""
    return {
        "rows": rows[page * size : (page + 1) * size],
        "page": page,
        "pageSize": size,
        "total": len(rows),
    }
