"""The error tree of mta_notebook: every error says what failed, where, and how to fix it.

::

    MTAError
    ├── ConfigError                      missing API key, bad setting
    ├── APIError                         anything that came back from (or failed to reach) MTA
    │   ├── APIStatusError               an HTTP error answer; carries status, message, request_id
    │   │   ├── BadRequestError          400
    │   │   ├── AuthenticationError      401
    │   │   ├── PermissionDeniedError    403 (with reason)
    │   │   ├── NotFoundError            404
    │   │   ├── ConflictError            409
    │   │   ├── RateLimitError           429 (with retry_after)
    │   │   └── ServerError              5xx
    │   ├── APIConnectionError           the request never got an answer
    │   │   └── APITimeoutError
    │   └── SendOutcomeUnknown           a /send may or may not have taken effect (external_id)
    ├── ValidationError (also ValueError)
    │   ├── SubscriberLoadError          a subscriber file cannot be read at all
    │   ├── WebhookLogError              a webhook log cannot be read at all
    │   └── CampaignError                a campaign cannot be planned or sent as asked
    ├── WebhookSignatureError (also ValueError)
    └── JournalError                     the send journal is missing, locked or inconsistent

Row-level problems are not errors: they are data, kept in a ``.rejected`` table with a reason code.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CampaignError",
    "ConfigError",
    "ConflictError",
    "JournalError",
    "MTAError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "SendOutcomeUnknown",
    "ServerError",
    "SubscriberLoadError",
    "ValidationError",
    "WebhookLogError",
    "WebhookSignatureError",
    "status_error",
]


class MTAError(Exception):
    """Root of every error raised by mta_notebook."""


class ConfigError(MTAError, ValueError):
    """A setting is missing or invalid (for example no API key)."""


class APIError(MTAError):
    """A request to the MTA API failed.

    ``method`` and ``url`` say which request; the URL never carries the API key.
    """

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url


class APIStatusError(APIError):
    """MTA answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        where = f" ({method} {url})" if method and url else ""
        rid = f" [requestId {request_id}]" if request_id else ""
        hint = _HINTS.get(status_code) or (_HINTS[500] if status_code >= 500 else "")
        text = f"HTTP {status_code}{where}: {message}{rid}"
        super().__init__(f"{text}. {hint}" if hint else text, method=method, url=url)
        self.api_message = message
        self.status_code = status_code
        self.request_id = request_id
        self.body = body


class BadRequestError(APIStatusError):
    """400: MTA rejected the request as invalid."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or invalid."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but the account may not do this (see ``reason``)."""

    def __init__(self, message: str, *, reason: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason


class NotFoundError(APIStatusError):
    """404: no such resource."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state."""


class RateLimitError(APIStatusError):
    """429: over MTA's rate limit; ``retry_after`` is in seconds when MTA said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: MTA failed while handling the request."""


class APIConnectionError(APIError):
    """The request got no answer (DNS, refused or dropped connection)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class SendOutcomeUnknown(APIError):
    """A ``/send`` may have taken effect but no answer says so.

    It is never retried blindly: reconcile ``external_id`` through ``GET /v3/deliveries``
    (``resume_campaign`` does this) before sending those recipients again.
    """

    def __init__(self, message: str, *, external_id: str | None, **kwargs: Any) -> None:
        super().__init__(
            f"{message}. The send with externalId={external_id!r} may or may not have been "
            "delivered; it was not retried. Reconcile it from GET /v3/deliveries "
            "(resume_campaign does this) before sending again.",
            **kwargs,
        )
        self.external_id = external_id


class ValidationError(MTAError, ValueError):
    """Input that cannot be used as given."""


class SubscriberLoadError(ValidationError):
    """A subscriber source cannot be read at all (missing file, encoding, no phone column)."""


class WebhookLogError(ValidationError):
    """A webhook log source cannot be read at all."""


class CampaignError(ValidationError):
    """A campaign cannot be planned or sent as asked."""


class WebhookSignatureError(MTAError, ValueError):
    """A webhook body does not match its ``X-Signature``."""


class JournalError(MTAError):
    """The send journal is missing, locked or inconsistent."""


_HINTS: dict[int, str] = {
    400: "Fix the request as the message says; it was not sent",
    401: "Check the API key: set MTA_API_KEY or pass api_key=",
    403: "The account may not do this; see `reason`, or ask MTA support to enable it",
    404: "Check the id or number; it does not exist on this account",
    429: "Over the rate limit: wait `retry_after` seconds (the client paces itself by default)",
    500: "MTA failed; retry later, and quote the requestId to MTA support if it persists",
}

_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def status_error(status_code: int) -> type[APIStatusError]:
    """The error class for an HTTP status.

    >>> status_error(429).__name__
    'RateLimitError'
    >>> status_error(503).__name__
    'ServerError'
    """
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)
