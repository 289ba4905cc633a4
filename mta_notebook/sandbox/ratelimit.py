"""Fixed-window rate limits per account, as MTA documents them (windows divided by time_scale)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LIMITS", "RateInfo", "RateLimiter", "bucket_for"]

# bucket -> (requests, window seconds)
LIMITS: dict[str, tuple[int, float]] = {
    "send": (25, 15.0),
    "subscribers": (15, 15.0),
    "bulk": (15, 15.0),
    "group-bulk": (5, 15.0),
    "general": (30, 60.0),
    "admin": (1_000_000, 60.0),
}


def bucket_for(method: str, path: str) -> str:
    """The rate-limit bucket of a request to ``path`` (already without the /v3 prefix)."""
    if path.startswith("/_sandbox"):
        return "admin"
    if method == "POST" and path.rstrip("/") == "/send":
        return "send"
    if path.rstrip("/") == "/subscribers/bulk":
        return "bulk"
    if path.startswith("/groups/") and (
        path.endswith("/bulk-create") or path.endswith("/bulk-delete")
    ):
        return "group-bulk"
    if path == "/subscribers" or path.startswith("/subscribers/"):
        return "subscribers"
    return "general"


@dataclass(frozen=True)
class RateInfo:
    """The state of one window after a request: what goes into the RateLimit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: float

    def headers(self) -> dict[str, str]:
        reset_ms = str(max(0, math.ceil(round(self.reset_s * 1000, 6))))
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": reset_ms,
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": reset_ms,
        }
        if not self.allowed:
            out["Retry-After"] = _seconds(self.reset_s)
        return out


def _seconds(value: float) -> str:
    """Retry-After text: whole seconds when >= 1 s, else a short fraction (time_scale)."""
    if value >= 1:
        return str(math.ceil(value))
    return f"{max(value, 0.001):.3f}"


class RateLimiter:
    """Counts requests per (account, bucket) in windows anchored at each window's first request."""

    def __init__(self, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.time_scale = time_scale
        self.clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def reset(self) -> None:
        self._windows.clear()

    def _window(self, account: str, bucket: str) -> tuple[float, int, int, float]:
        limit, seconds = LIMITS[bucket]
        length = seconds / self.time_scale
        now = self.clock()
        start, count = self._windows.get((account, bucket), (now, 0))
        if now - start >= length:
            start, count = now, 0
        return start, count, limit, start + length - now

    def hit(self, account: str, bucket: str) -> RateInfo:
        """Count one request; ``allowed`` is False (and nothing counted) when over the limit."""
        start, count, limit, left = self._window(account, bucket)
        if count >= limit:
            self._windows[(account, bucket)] = (start, count)
            return RateInfo(False, limit, 0, left)
        self._windows[(account, bucket)] = (start, count + 1)
        return RateInfo(True, limit, limit - count - 1, left)

    def peek(self, account: str, bucket: str) -> RateInfo:
        """The window's state without counting a request."""
        _, count, limit, left = self._window(account, bucket)
        return RateInfo(True, limit, max(limit - count, 0), left)

    def throttled(self, account: str, bucket: str) -> RateInfo:
        """A spurious 429 (the rate_limit_burst fault): a short Retry-After, nothing counted."""
        _, count, limit, left = self._window(account, bucket)
        return RateInfo(False, limit, max(limit - count, 0), min(left, 1.0 / self.time_scale))
