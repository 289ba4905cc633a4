"""Settings: keyword arguments, then environment variables, then defaults."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._errors import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "Settings",
    "redact",
]

DEFAULT_BASE_URL: Final = "https://api.mobile-text-alerts.com/v3"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 3
#: More retries than this only hides a real outage behind minutes of waiting.
MAX_RETRIES_LIMIT: Final = 20


class Settings(BaseSettings):
    """Where to reach MTA and with which secrets.

    Each field comes from the keyword argument when given, else from the environment
    (``MTA_API_KEY``, ``MTA_BASE_URL``, ``MTA_WEBHOOK_SECRET``, ``MTA_TIMEOUT``,
    ``MTA_MAX_RETRIES``), else from the default. Secrets are ``SecretStr``: they never show in a
    repr or a log line. The API key loses surrounding whitespace (a pasted newline); a key with
    a control or other non-printable character inside is refused. Any invalid setting raises
    ``ConfigError``, whose message never repeats the value.

    >>> s = Settings(api_key=" k-123 ", base_url="http://127.0.0.1:9/v3")
    >>> s.base_url, s.require_api_key(), "k-123" in repr(s)
    ('http://127.0.0.1:9/v3', 'k-123', False)
    """

    # hide_input_in_errors: pydantic's own message would otherwise quote the rejected value.
    model_config = SettingsConfigDict(
        env_prefix="MTA_", extra="forbid", frozen=True, hide_input_in_errors=True
    )

    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    webhook_secret: SecretStr | None = None
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, allow_inf_nan=False)
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0, le=MAX_RETRIES_LIMIT)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: "
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            )
        else:
            return
        # Raised outside the except block: the pydantic error (which holds the input) is not
        # kept as the context of this one.
        raise ConfigError(f"Invalid settings: {problems}")

    @field_validator("api_key", "webhook_secret", mode="before")
    @classmethod
    def _clean_secret(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str):
            return value
        secret = value.strip()
        for i, ch in enumerate(secret):
            if not (ch.isascii() and ch.isprintable()):
                where = (
                    "the MTA dashboard (Settings > Developer) into api_key= or MTA_API_KEY"
                    if info.field_name == "api_key"
                    else "your webhook registration into secret= or MTA_WEBHOOK_SECRET"
                )
                raise ValueError(
                    f"has a non-printable or non-ASCII character (U+{ord(ch):04X}) at position "
                    f"{i + 1}; copy it again from {where}"
                )
        return secret or None

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value.strip())
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            ok = False
        if not ok:
            raise ValueError("must be an http(s) URL ending in /v3, such as " + DEFAULT_BASE_URL)
        return value.strip()

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the non-``None`` overrides, the environment and the defaults."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})

    def require_api_key(self) -> str:
        """The API key, or a ConfigError that says how to set it."""
        if self.api_key is None or not self.api_key.get_secret_value():
            raise ConfigError(
                "No MTA API key: pass api_key=... or set the MTA_API_KEY environment variable "
                "(create a key in the MTA dashboard under Settings > Developer). "
                "To rehearse without an account, use mta_notebook.sandbox.running()."
            )
        return self.api_key.get_secret_value()

    def require_webhook_secret(self) -> str:
        """The webhook secret, or a ConfigError that says how to set it."""
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise ConfigError(
                "No webhook secret: pass secret=... or set MTA_WEBHOOK_SECRET (the secret you "
                "registered the webhook with)."
            )
        return self.webhook_secret.get_secret_value()

    @property
    def base_url_clean(self) -> str:
        """The base URL without a trailing slash."""
        return self.base_url.rstrip("/")


def _spellings(secret: str) -> set[str]:
    """The ways a secret can appear in a message: as is, escaped (repr, ascii, JSON, a bytes
    repr such as h11's ``Illegal header value b'...'``) and URL-encoded."""
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        json.dumps(secret)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        quote(secret, safe=""),
        quote(secret),  # a URL path's spelling: '/' kept
        quote_plus(secret),
        quote_plus(secret, safe="/"),
    }
    return {f for f in forms if f}


def redact(text: str, *secrets: str | None) -> str:
    r"""Replace every occurrence of each non-empty secret in ``text`` with ``***``.

    Escaped and URL-encoded spellings of the secret are replaced too.

    >>> redact("Bearer abc123 failed", "abc123")
    'Bearer *** failed'
    >>> redact("Illegal header value b'Bearer a\\nb'", "a\nb")
    "Illegal header value b'Bearer ***'"
    """
    forms = set().union(*(_spellings(s) for s in secrets if s))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
