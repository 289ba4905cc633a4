"""Pacing: keep each rate-limit family of MTA's API under its documented limit
(``contract.limits.RATE_LIMITS``), across the threads of one client, with an injectable clock;
and reading the answers' ``Retry-After`` and rate-limit headers.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Final

import httpx

from .contract.limits import RATE_LIMITS, Family, RateLimit

#: Added after a rate-limit window is believed to end, for clock granularity.
PACING_MARGIN: Final = 0.002
#: While a window's end is only guessed and answers are pending, re-check this often.
PACING_POLL: Final = 0.01


def _finite_number(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds, fractional allowed, or HTTP date).

    ``now`` is the wall-clock time (``time.time()``) used for HTTP dates. Negative, infinite or
    unparseable values give ``None``; a date in the past gives ``0.0``.

    >>> parse_retry_after("1.5", now=0.0), parse_retry_after("-3", now=0.0)
    (1.5, None)
    """
    if value is None or not value.strip():
        return None
    seconds = _finite_number(value)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def parse_rate_limit_reset(value: str | None, *, now: float) -> float | None:
    """Seconds until the rate-limit window ends, from a ``RateLimit-Reset`` value.

    MTA documents milliseconds. Sanity clamps, since servers disagree on units: a value that
    only makes sense as an epoch (above 1e12 epoch milliseconds, above 1e9 epoch seconds) is
    read as one against the wall clock ``now``; negative or non-numeric values give ``None``.

    >>> parse_rate_limit_reset("1500", now=0.0)
    1.5
    >>> parse_rate_limit_reset("1700000010", now=1700000000.0)
    10.0
    """
    if value is None:
        return None
    number = _finite_number(value)
    if number is None or number < 0:
        return None
    if number > 1e12:
        return max(0.0, number / 1000.0 - now)
    if number > 1e9:
        return max(0.0, number - now)
    return number / 1000.0


def _header_int(headers: httpx.Headers, *names: str) -> int | None:
    for name in names:
        raw = headers.get(name)
        if raw is not None:
            number = _finite_number(raw)
            if number is not None and number >= 0:
                return int(number)
    return None


class RateLimiter:
    """Client-side pacing for one endpoint family (a fixed window per account).

    Primed with the documented ``limit`` per ``window`` seconds, then steered by the server's
    ``RateLimit-Remaining`` / ``RateLimit-Reset`` on every answer. Pure bookkeeping: callers ask
    :meth:`acquire` for a slot and sleep the returned number of seconds when it is not ``0``.
    Thread-safe; an AsyncClient shares one instance among its concurrent calls (nothing awaits
    while the lock is held).

    >>> t = [0.0]
    >>> lim = RateLimiter(2, 10.0, clock=lambda: t[0])
    >>> lim.acquire(), lim.acquire()
    (0.0, 0.0)
    >>> lim.release(); lim.release()  # answers without rate-limit headers
    >>> lim.acquire()  # window primed at t=0 ends at t=10, plus the margin
    10.002
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        margin: float = PACING_MARGIN,
        poll: float = PACING_POLL,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"need limit >= 1 and window > 0, got {limit} per {window}s")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._margin = margin
        self._poll = poll
        self._lock = threading.Lock()
        self._remaining = limit
        self._window_end: float | None = None
        self._synced = False
        self._in_flight = 0
        self._epoch = 0  # one per local window; answers to older epochs cannot steer this one

    def __repr__(self) -> str:
        return (
            f"RateLimiter(limit={self.limit}, window={self.window:g}s, "
            f"remaining={self._remaining}, in_flight={self._in_flight})"
        )

    @property
    def remaining(self) -> int:
        """Requests believed left in the current window."""
        with self._lock:
            self._roll(self._clock())
            return self._remaining

    def _roll(self, now: float) -> None:
        if self._window_end is not None and now >= self._window_end:
            # Requests still in flight may land in the server's next window: count them there.
            self._remaining = max(0, self.limit - self._in_flight)
            self._window_end = now + self.window if self._in_flight else None
            self._synced = False
            self._epoch += 1

    def acquire(self) -> float:
        """Take a slot (returns ``0.0``) or return the seconds to wait before asking again."""
        return self.try_acquire()[0]

    def try_acquire(self) -> tuple[float, int]:
        """Like :meth:`acquire`, also returning the window epoch to pass to :meth:`release`."""
        with self._lock:
            now = self._clock()
            self._roll(now)
            if self._remaining > 0:
                self._remaining -= 1
                self._in_flight += 1
                if self._window_end is None:
                    self._window_end = now + self.window
                return 0.0, self._epoch
            wait = (self._window_end if self._window_end is not None else now) - now
            wait = max(wait, 0.0) + self._margin
            if not self._synced and self._in_flight:
                wait = min(wait, self._poll)
            return wait, self._epoch

    def release(
        self, headers: httpx.Headers | None = None, *, sent: bool = True, epoch: int | None = None
    ) -> None:
        """Record the end of a request taken with :meth:`acquire`.

        ``headers`` of the answer steer the window; ``sent=False`` (the connection failed before
        the request went out) gives the slot back. An answer to a request taken in an earlier
        window (``epoch``) only updates the limit: it was counted at the roll already.
        """
        with self._lock:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            current = epoch is None or epoch == self._epoch
            if not sent:
                if current:
                    self._remaining = min(self.limit, self._remaining + 1)
                return
            if headers is not None:
                self._observe(headers, now, current=current)

    def _observe(self, headers: httpx.Headers, now: float, *, current: bool = True) -> None:
        limit = _header_int(headers, "ratelimit-limit", "x-ratelimit-limit")
        remaining = _header_int(headers, "ratelimit-remaining", "x-ratelimit-remaining")
        reset_raw = headers.get("ratelimit-reset") or headers.get("x-ratelimit-reset")
        reset = parse_rate_limit_reset(reset_raw, now=time.time())
        if limit:
            self.limit = limit
        if remaining is None or reset is None or not current:
            return
        server_end = now + reset + self._margin
        # Others in flight may or may not be counted already: assume they are not (safe side).
        estimate = max(0, remaining - self._in_flight)
        newer = self._window_end is None or server_end > self._window_end + self.window / 2
        if not self._synced or newer:  # the first answer of this window, or a new server window
            self._remaining, self._window_end = estimate, server_end
            if limit and remaining == limit - 1 and reset > 0:
                # The first request of a server window: its reset is (nearly) the window length.
                self.window = reset
        elif self._window_end is not None and server_end >= self._window_end - self.window / 2:
            self._remaining = min(self._remaining, estimate)
            # Each answer's end is an upper bound (it travelled after the server counted it):
            # the earliest one is the tightest, and still never before the server's real end.
            self._window_end = min(self._window_end, server_end)
        # else: a late answer from an older server window; nothing to learn
        self._synced = True

    def block(self, seconds: float) -> None:
        """The server refused (429): no requests for ``seconds``."""
        with self._lock:
            self._remaining = 0
            self._window_end = self._clock() + seconds
            self._synced = True
            self._epoch += 1


class Pacer:
    """One :class:`RateLimiter` per endpoint family, primed with ``limits``.

    The default is MTA's documented table, ``contract.limits.RATE_LIMITS`` itself (the families
    of ``contract.limits.rate_family``): the one object every part that paces or enforces uses.

    >>> Pacer().limits is RATE_LIMITS, Pacer()["groups_bulk"].limit
    (True, 5)
    """

    def __init__(
        self,
        limits: Mapping[Family, RateLimit] = RATE_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.limiters: dict[Family, RateLimiter] = {
            family: RateLimiter(rate.requests, rate.window_s, clock=clock)
            for family, rate in limits.items()
        }

    def __repr__(self) -> str:
        return f"Pacer({self.limiters!r})"

    def __getitem__(self, family: Family) -> RateLimiter:
        return self.limiters[family]
