"""The receiver's server limits: slow or stalled clients cannot hold it open.

uvicorn closes a kept-alive connection that sends nothing for ``timeout_keep_alive`` seconds,
but has no deadline for the request line and headers: a socket that sends half a header and
stalls stays open forever, and a thousand of them exhaust the server.
:func:`header_deadline_protocol` adds that deadline to uvicorn's h11 protocol;
:class:`ReceiverLimits` gathers it with the idle timeout and the concurrency limit, the one
place their defaults are set.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_LIMIT_CONCURRENCY",
    "ReceiverLimits",
    "header_deadline_protocol",
]

#: Seconds a connection has to send a request line and all headers (MTA sends them at once).
DEFAULT_HEADER_TIMEOUT: Final = 10.0
#: Seconds a kept-alive connection may sit idle between requests.
DEFAULT_IDLE_TIMEOUT: Final = 5
#: Seconds a request has to send its whole body once the headers are in.
DEFAULT_BODY_TIMEOUT: Final = 30.0
#: Open connections (or requests in flight) past which new requests get 503. Well above 1,000
#: stalled sockets plus a burst of real posts; the stalled ones go at the header deadline.
DEFAULT_LIMIT_CONCURRENCY: Final = 2048


@functools.cache
def header_deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with a ``seconds`` deadline for each request's line and headers
    (made on first use: uvicorn loads only when a receiver runs)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        """uvicorn's h11 protocol with a deadline for each request's line and headers.

        The deadline runs whenever the connection waits for a request: from the connect, and
        again after each response (a kept-alive connection could stall its next request).
        It ends when h11 has the whole head; a connection still without one is closed.
        """

        header_timeout: float = seconds
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self._has_head():
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._has_head():
                self._arm()

        def _has_head(self) -> bool:
            # IDLE: h11 is still waiting for (the rest of) a request line and headers
            return self.conn.their_state is not h11.IDLE

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            busy = self.cycle is not None and not self.cycle.response_complete
            if not self._has_head() and not busy and not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadline


@dataclass(frozen=True)
class ReceiverLimits:
    """The receiver's server limits (seconds, and a count of connections).

    ``header_timeout``: time to send the request line and headers; ``idle_timeout``: time a
    kept-alive connection may wait between requests; ``body_timeout``: time to send the body
    (408 past it); ``limit_concurrency``: open connections or requests in flight past which
    new requests are answered 503.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY

    def __post_init__(self) -> None:
        for name in ("header_timeout", "idle_timeout", "body_timeout", "limit_concurrency"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")

    def uvicorn_options(self) -> dict[str, Any]:
        """Keyword arguments for ``uvicorn.Config``/``uvicorn.run`` that apply these limits."""
        protocol = header_deadline_protocol(float(self.header_timeout))
        self._allow_open_files(self.limit_concurrency + 256)
        return {
            "http": protocol,
            "timeout_keep_alive": self.idle_timeout,
            "limit_concurrency": self.limit_concurrency,
            "backlog": max(2048, self.limit_concurrency),
        }

    @staticmethod
    def _allow_open_files(wanted: int) -> None:
        """Raise this process's soft limit on open files toward ``wanted`` (within the hard
        limit): at the common soft limit of 1,024 the connections would run out of descriptors
        before the concurrency limit is reached."""
        try:
            import resource
        except ImportError:  # not on Windows; its limit is far higher anyway
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
