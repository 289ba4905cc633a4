"""Fixed-window rate limits, MTA's own table (``contract.limits``), windows divided by time_scale.

Every family counts per account or per IP address as MTA documents it; the sandbox's own
``/_sandbox`` admin paths are not MTA's and are never limited.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from ..contract.limits import RATE_LIMITS, Family, rate_family

__all__ = ["ADMIN", "RATE_LIMITS", "Bucket", "RateInfo", "RateLimiter", "bucket_for", "counted_per"]

ADMIN: Final = "admin"
Bucket = Family | Literal["admin"]


def bucket_for(method: str, path: str) -> Bucket:
    """The rate-limit family of a request to ``path``, or ``admin`` for ``/_sandbox``."""
    if path.startswith("/_sandbox"):
        return ADMIN
    return rate_family(method, path)


@dataclass(frozen=True)
class RateInfo:
    """The state of one window after a request: what goes into the RateLimit-* headers.

    ``limit`` is ``None`` for an unlimited (admin) request, which gets no RateLimit headers.
    """

    allowed: bool
    limit: int | None
    remaining: int
    reset_s: float

    def headers(self) -> dict[str, str]:
        if self.limit is None:
            return {}
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


_UNLIMITED: Final = RateInfo(True, None, 0, 0.0)


def _seconds(value: float) -> str:
    """Retry-After text: whole seconds when >= 1 s, else a short fraction (time_scale)."""
    if value >= 1:
        return str(math.ceil(value))
    return f"{max(value, 0.001):.3f}"


class RateLimiter:
    """Counts requests per (account or IP, family) in windows anchored at their first request."""

    def __init__(self, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.time_scale = time_scale
        self.clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def reset(self) -> None:
        self._windows.clear()

    def _window(self, who: str, family: Family) -> tuple[float, int, int, float]:
        rule = RATE_LIMITS[family]
        length = rule.window_s / self.time_scale
        now = self.clock()
        start, count = self._windows.get((who, family), (now, 0))
        if now - start >= length:
            start, count = now, 0
        return start, count, rule.requests, start + length - now

    def hit(self, who: str, bucket: Bucket) -> RateInfo:
        """Count one request; ``allowed`` is False (and nothing counted) when over the limit.

        ``who`` is the account for account-based families, the client's IP for the others.
        """
        if bucket == ADMIN:
            return _UNLIMITED
        start, count, limit, left = self._window(who, bucket)
        if count >= limit:
            self._windows[(who, bucket)] = (start, count)
            return RateInfo(False, limit, 0, left)
        self._windows[(who, bucket)] = (start, count + 1)
        return RateInfo(True, limit, limit - count - 1, left)

    def peek(self, who: str, bucket: Bucket) -> RateInfo:
        """The window's state without counting a request."""
        if bucket == ADMIN:
            return _UNLIMITED
        _, count, limit, left = self._window(who, bucket)
        return RateInfo(True, limit, max(limit - count, 0), left)

    def throttled(self, who: str, bucket: Bucket) -> RateInfo:
        """A spurious 429 (the rate_limit_burst fault): a short Retry-After, nothing counted."""
        if bucket == ADMIN:
            return _UNLIMITED
        _, count, limit, left = self._window(who, bucket)
        return RateInfo(False, limit, max(limit - count, 0), min(left, 1.0 / self.time_scale))


def counted_per(bucket: Bucket) -> Literal["account", "ip"]:
    """Whether ``bucket`` counts per account or per IP address (admin: per account)."""
    return "account" if bucket == ADMIN else RATE_LIMITS[bucket].per
