"""Settings: keyword arguments, then environment variables, then defaults."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

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


class Settings(BaseSettings):
    """Where to reach MTA and with which secrets.

    Each field comes from the keyword argument when given, else from the environment
    (``MTA_API_KEY``, ``MTA_BASE_URL``, ``MTA_WEBHOOK_SECRET``, ``MTA_TIMEOUT``,
    ``MTA_MAX_RETRIES``), else from the default. Secrets are ``SecretStr``: they never show in a
    repr or a log line.

    >>> s = Settings(api_key="k-123", base_url="http://127.0.0.1:9/v3")
    >>> s.base_url, "k-123" in repr(s)
    ('http://127.0.0.1:9/v3', False)
    """

    model_config = SettingsConfigDict(env_prefix="MTA_", extra="forbid", frozen=True)

    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    webhook_secret: SecretStr | None = None
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)

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


def redact(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of each non-empty secret in ``text`` with ``***``.

    >>> redact("Bearer abc123 failed", "abc123")
    'Bearer *** failed'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
