"""The request pipeline shared by Client and AsyncClient: retry policy, rate-limit headers, pacing.

Everything here is pure logic with an injectable clock; the two clients only add the I/O
(``httpx.Client.send`` or ``await httpx.AsyncClient.send``) and the sleeping. Errors from httpx
and HTTP error answers are translated into the :mod:`mta_notebook._errors` tree here and only
here (``Pipeline.on_exception`` / ``Pipeline.on_response``).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from ._config import DEFAULT_MAX_RETRIES, redact
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    PermissionDeniedError,
    RateLimitError,
    SendOutcomeUnknown,
    status_error,
)
from ._pacing import (
    PACING_MARGIN,
    Pacer,
    RateLimiter,
    parse_rate_limit_reset,
    parse_retry_after,
)
from .contract.limits import Family, rate_family

__all__ = [
    "DEFAULT_TIMEOUT",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
    "Pacer",
    "Pipeline",
    "RateLimiter",
    "RetryPolicy",
    "Step",
    "parse_rate_limit_reset",
    "parse_retry_after",
]

logger = logging.getLogger("mta_notebook")

#: Notebook-friendly timeouts: fail a dead connection fast, give a slow answer half a minute.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
INITIAL_RETRY_DELAY: Final = 0.5
MAX_RETRY_DELAY: Final = 8.0
#: A server-requested wait longer than this is not sat out: the error is raised instead.
MAX_RETRY_AFTER: Final = 120.0
#: Fraction of a backoff delay that jitter may remove (spreads retries of concurrent callers).
RETRY_JITTER: Final = 0.25


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before repeating a request.

    Parameters
    ----------
    max_retries
        Repeats after the first attempt (0 disables retries).
    initial_delay, max_delay
        Exponential backoff ``initial_delay * 2**n``, capped at ``max_delay`` seconds.
    max_retry_after
        A ``Retry-After``/``RateLimit-Reset`` wait up to this many seconds is honoured; a longer
        one is not sat out and the error is raised with its ``retry_after``.
    jitter
        Up to this fraction of a backoff delay is removed at random.

    >>> RetryPolicy(jitter=0.0).backoff(3)
    4.0
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = INITIAL_RETRY_DELAY
    max_delay: float = MAX_RETRY_DELAY
    max_retry_after: float = MAX_RETRY_AFTER
    jitter: float = RETRY_JITTER

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.initial_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("retry delays must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be within [0, 1], got {self.jitter}")

    def backoff(self, retries_taken: int, rand: float = 0.0) -> float:
        """Backoff before retry number ``retries_taken + 1``; ``rand`` in [0, 1) drives jitter."""
        delay = min(self.initial_delay * 2.0**retries_taken, self.max_delay)
        return delay * (1.0 - self.jitter * rand)

    def server_delay(self, headers: httpx.Headers, *, now: float) -> float | None:
        """The wait the server asked for: ``Retry-After``, else ``RateLimit-Reset``."""
        delay = parse_retry_after(headers.get("retry-after"), now=now)
        if delay is None:
            reset = headers.get("ratelimit-reset") or headers.get("x-ratelimit-reset")
            delay = parse_rate_limit_reset(reset, now=now)
        return delay


@dataclass
class Step:
    """What a client does next: return ``response``, raise ``error`` or wait ``delay``, retry."""

    response: httpx.Response | None = None
    error: APIError | None = None
    cause: BaseException | None = None
    delay: float = 0.0

    @property
    def retry(self) -> bool:
        return self.response is None and self.error is None


@dataclass
class Call:
    """One logical API call and its attempts."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json_body: Any = None
    idempotent: bool = True
    is_send: bool = False
    external_id: str | None = None
    family: Family = "default"
    retries_taken: int = 0
    pace_epoch: int | None = None


#: Transport errors raised before any byte of the request left the machine.
_CERTAINLY_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
)
#: Of those, the ones a retry cannot fix: the request itself cannot be written (an illegal
#: header value, a URL without http:// or https://).
_NEVER_RETRY: Final = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


class Pipeline:
    """Request building, retry decisions and error mapping shared by both clients."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        policy: RetryPolicy,
        pacer: Pacer | None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        user_agent: str = "mta-notebook",
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.pacer = pacer
        self.clock = clock
        self._wall = wall_clock
        self._rand = rand
        self._user_agent = user_agent

    def __repr__(self) -> str:
        return f"Pipeline(base_url={self.base_url!r}, policy={self.policy!r})"

    # -- building --------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        external_id: str | None = None,
        idempotent: bool = True,
    ) -> Call:
        """Describe one API call.

        ``POST /send`` is never idempotent. Other calls that would do something twice when
        repeated (creating a webhook, ``createOnly`` bulk) pass ``idempotent=False``: like a send,
        they are retried only when they certainly did not reach MTA.
        """
        method = method.upper()
        family = rate_family(method, path)
        is_send = family == "send"
        return Call(
            method=method,
            path=path,
            params=params,
            json_body=json_body,
            idempotent=idempotent and not is_send,
            is_send=is_send,
            external_id=external_id,
            family=family,
        )

    def headers(self) -> dict[str, str]:
        """Headers every request carries (the key lives only here and in the httpx client)."""
        return {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }

    def build_request(self, client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        """The httpx request of an attempt (rebuilt for each retry).

        Raises ConfigError when the URL cannot be built: nothing was sent.
        """
        extra = {"X-Retry-Count": str(call.retries_taken)} if call.retries_taken else None
        try:
            return client.build_request(
                call.method,
                self.base_url + call.path,
                params=_clean_params(call.params),
                json=call.json_body,
                headers=extra,
            )
        except httpx.InvalidURL as exc:
            detail = self.redact(str(exc))
            raise ConfigError(
                f"{call.method} {self.base_url}{call.path} is not a valid URL ({detail}); nothing "
                "was sent. Check base_url (like https://api.mobile-text-alerts.com/v3)"
            ) from None

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        return redact(text, self._api_key)

    def safe_cause(self, exc: BaseException) -> BaseException | None:
        """``exc`` to chain under a user-facing error, or, when any exception in its chain
        quotes the key, a copy of it with the key redacted and no chain (else None)."""
        seen: list[BaseException] = []
        cur: BaseException | None = exc
        while cur is not None and len(seen) < 20:
            seen.append(cur)
            cur = cur.__cause__ or cur.__context__
        if all(self.redact(f"{e}{e!r}") == f"{e}{e!r}" for e in seen):
            return exc
        try:
            clean = type(exc)(self.redact(str(exc)))
        except Exception:  # a type that does not take one message: drop it, keep the key out
            return None
        clean.__suppress_context__ = True
        return clean

    def where(self, call: Call) -> str:
        return f"{call.method} {self.base_url}{call.path}"

    # -- pacing ----------------------------------------------------------------------------

    def pace(self, call: Call) -> float:
        """Seconds to wait before the attempt may go out (``0.0``: it holds a slot now)."""
        if self.pacer is None:
            return 0.0
        limiter = self.pacer[call.family]
        wait, call.pace_epoch = limiter.try_acquire()
        if wait > 0 and logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "pacing: waiting %.3fs before %s (%s limit %d per %.3gs reached, %d in flight)",
                wait,
                self.where(call),
                call.family,
                limiter.limit,
                limiter.window,
                limiter._in_flight,
            )
        return wait

    def _release(
        self, call: Call, headers: httpx.Headers | None = None, *, sent: bool = True
    ) -> None:
        if self.pacer is not None:
            self.pacer[call.family].release(headers, sent=sent, epoch=call.pace_epoch)

    # -- deciding --------------------------------------------------------------------------

    def _retry_or(self, call: Call, delay: float, reason: str, error: APIError) -> Step:
        if call.retries_taken >= self.policy.max_retries:
            logger.debug(
                "giving up on %s after %d retries: %s",
                self.where(call),
                call.retries_taken,
                reason,
            )
            return Step(error=error)
        call.retries_taken += 1
        logger.debug(
            "retrying %s in %.3fs (retry %d of %d) because %s",
            self.where(call),
            delay,
            call.retries_taken,
            self.policy.max_retries,
            reason,
        )
        return Step(delay=delay)

    def abandon(self, call: Call) -> None:
        """An attempt was interrupted (cancelled, KeyboardInterrupt): free its pacing slot."""
        self._release(call)

    def decode(self, call: Call, response: httpx.Response) -> Any:
        """The JSON of a successful answer (``None`` for an empty body)."""
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise APIError(
                f"{self.where(call)} answered HTTP {response.status_code} with a body that is "
                f"not JSON ({response.headers.get('content-type', 'no content-type')}). "
                "Check base_url: it should end in /v3",
                method=call.method,
                url=self.base_url + call.path,
            ) from exc

    def on_exception(self, call: Call, exc: httpx.RequestError) -> Step:
        """Map a transport error of an attempt to a retry or an error (the one boundary)."""
        not_sent = isinstance(exc, _CERTAINLY_NOT_SENT)
        self._release(call, sent=not not_sent)
        where = self.where(call)
        detail = self.redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        error: APIError
        if isinstance(exc, _NEVER_RETRY):
            return Step(
                error=APIConnectionError(
                    f"{where} could not be sent ({detail}); nothing left this machine. Check "
                    "base_url (http:// or https://) and that no header value (the API key) "
                    "holds a control character",
                    method=call.method,
                    url=self.base_url + call.path,
                ),
                cause=None,  # its message quotes the header value, which may be the key
            )
        if isinstance(exc, httpx.TimeoutException):
            error = APITimeoutError(
                f"{where} timed out ({detail}). Raise timeout= on the client if MTA is slow",
                method=call.method,
                url=self.base_url + call.path,
            )
        else:
            error = APIConnectionError(
                f"{where} failed ({detail}). Check the network and base_url",
                method=call.method,
                url=self.base_url + call.path,
            )
        if call.is_send and not not_sent:
            return Step(error=self._unknown(call, detail), cause=self.safe_cause(exc))
        if not call.idempotent and not not_sent:
            return Step(error=error, cause=self.safe_cause(exc))
        delay = self.policy.backoff(call.retries_taken, self._rand())
        step = self._retry_or(call, delay, detail, error)
        step.cause = self.safe_cause(exc)
        return step

    def on_response(self, call: Call, response: httpx.Response) -> Step:
        """Map an answer to success, a retry or an error (the one boundary)."""
        self._release(call, response.headers)
        status = response.status_code
        if status < 400:
            return Step(response=response)
        error = self.status_error(call, response)
        if isinstance(error, RateLimitError):
            wait = error.retry_after
            if wait is None:
                wait = self.policy.backoff(call.retries_taken, self._rand())
            if self.pacer is not None:
                self.pacer[call.family].block(wait)
            if wait > self.policy.max_retry_after:
                logger.debug(
                    "not retrying %s: server asked to wait %.1fs, over max_retry_after %.1fs",
                    self.where(call),
                    wait,
                    self.policy.max_retry_after,
                )
                return Step(error=error)
            reason = f"HTTP 429 (server asked to wait {wait:.3f}s)"
            if error.request_id:
                reason += f" requestId={error.request_id}"
            return self._retry_or(call, wait + PACING_MARGIN, reason, error)
        if status >= 500 or status == 408:
            if call.is_send:
                detail = f"HTTP {status}: {error.api_message}"
                if error.request_id:
                    detail += f" [requestId {error.request_id}]"
                return Step(error=self._unknown(call, detail), cause=error)
            if not call.idempotent:
                return Step(error=error)
            server = self.policy.server_delay(response.headers, now=self._wall())
            delay = self.policy.backoff(call.retries_taken, self._rand())
            if server is not None and server <= self.policy.max_retry_after:
                delay = max(delay, server)
            reason = f"HTTP {status}"
            if error.request_id:
                reason += f" requestId={error.request_id}"
            return self._retry_or(call, delay, reason, error)
        return Step(error=error)

    def _unknown(self, call: Call, detail: str) -> SendOutcomeUnknown:
        logger.debug(
            "not retrying %s: it may have taken effect (%s); externalId=%r",
            self.where(call),
            detail,
            call.external_id,
        )
        return SendOutcomeUnknown(
            f"{self.where(call)} got no definite answer ({detail})",
            external_id=call.external_id,
            method=call.method,
            url=self.base_url + call.path,
        )

    def status_error(self, call: Call, response: httpx.Response) -> APIStatusError:
        """The typed error for an HTTP error answer, with MTA's message and requestId."""
        body: Any
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = response.text or None
        body = self._redact_body(body)
        info = body if isinstance(body, dict) else {}
        message = info.get("message") or info.get("error") or response.reason_phrase
        if not isinstance(message, str):
            message = str(message)
        request_id = info.get("requestId") or response.headers.get("x-request-id")
        kwargs: dict[str, Any] = {
            "status_code": response.status_code,
            "request_id": str(request_id) if request_id is not None else None,
            "body": body,
            "method": call.method,
            "url": self.base_url + call.path,
        }
        cls = status_error(response.status_code)
        if cls is PermissionDeniedError:
            reason = info.get("reason")
            return PermissionDeniedError(
                message, reason=None if reason is None else str(reason), **kwargs
            )
        if cls is RateLimitError:
            retry_after = self.policy.server_delay(response.headers, now=self._wall())
            return RateLimitError(message, retry_after=retry_after, **kwargs)
        return cls(message, **kwargs)

    def _redact_body(self, body: Any) -> Any:
        if isinstance(body, str):
            return self.redact(body)
        if body is None:
            return None
        text = json.dumps(body)
        redacted = self.redact(text)  # JSON escapes some characters: redact() knows how
        if redacted == text:
            return body
        try:
            return json.loads(redacted)
        except json.JSONDecodeError:
            return redacted


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = value
    return out
