from __future__ import annotations

import pytest

from mta_notebook.config import DEFAULT_BASE_URL, Settings, redact
from mta_notebook.errors import ConfigError


def test_kwargs_beat_env_beat_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("MTA_BASE_URL", "http://env/v3")
    monkeypatch.setenv("MTA_API_KEY", "env-key")
    assert Settings.load().base_url == "http://env/v3"
    assert Settings.load().require_api_key() == "env-key"
    s = Settings.load(base_url="http://kw/v3", api_key="kw-key", timeout=None)
    assert (s.base_url, s.require_api_key()) == ("http://kw/v3", "kw-key")


def test_missing_key_says_how_to_fix() -> None:
    with pytest.raises(ConfigError, match="MTA_API_KEY"):
        Settings.load().require_api_key()


def test_secrets_never_in_repr() -> None:
    s = Settings.load(api_key="sk-secret-1", webhook_secret="wh-secret-2")
    for text in (repr(s), str(s), str(s.model_dump())):
        assert "sk-secret-1" not in text
        assert "wh-secret-2" not in text


def test_redact() -> None:
    assert redact("key=abc and abc", "abc", None, "") == "key=*** and ***"
