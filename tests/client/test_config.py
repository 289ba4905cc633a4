from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from mta_notebook import Client, ConfigError, SendRequest
from mta_notebook._config import DEFAULT_BASE_URL, Settings, redact
from mta_notebook._models import SendFields


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


@pytest.mark.parametrize("raw", [" sk-live-42 ", "sk-live-42\n", "\tsk-live-42\r\n"])
def test_api_key_loses_surrounding_whitespace(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load(api_key=raw).require_api_key() == "sk-live-42"
    monkeypatch.setenv("MTA_API_KEY", raw)
    assert Settings.load().require_api_key() == "sk-live-42"


def test_blank_api_key_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="No MTA API key"):
        Settings.load(api_key=" \n ").require_api_key()


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("sk-li\nve-42", "U+000A"),
        ("sk-li\rve-42", "U+000D"),
        ("sk-li\x00ve-42", "U+0000"),
        ("sk-li\x7fve-42", "U+007F"),  # h11 would even send this one
        ("sk-li\u200bve-42", "U+200B"),  # zero-width space, invisible when pasted
        ("sk-livé-42", "U+00E9"),  # cannot be written in an HTTP header
    ],
)
def test_api_key_with_a_control_character_is_refused_without_repeating_it(
    key: str, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spellings = {key, repr(key), ascii(key), key.encode("utf-8", "backslashreplace").decode()}
    spellings |= {"sk-li", "-42"}  # no fragment either
    for source in ("kwarg", "env"):
        if source == "env":
            if "\x00" in key:
                continue  # an environment variable cannot hold NUL
            monkeypatch.setenv("MTA_API_KEY", key)
            make = Settings.load
        else:
            monkeypatch.delenv("MTA_API_KEY", raising=False)

            def make() -> Settings:
                return Settings.load(api_key=key)

        with pytest.raises(ConfigError, match=re.escape(code)) as info:
            make()
        exc = info.value
        assert exc.__cause__ is None
        assert exc.__context__ is None  # pydantic's error (which holds the input) is not kept
        text = f"{exc} {exc!r} {exc.args}"
        assert "MTA_API_KEY" in text
        assert not [s for s in spellings if s in text]


def test_other_invalid_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="timeout"):
        Settings.load(timeout=-1)
    with pytest.raises(ConfigError, match="max_retries"):
        Settings.load(max_retries=-2)


def test_redact_covers_escaped_and_encoded_spellings() -> None:
    key = 'sk-a\nb"c/d'
    texts = [
        f"plain {key}",
        f"repr {key!r}",
        f"h11: Illegal header value {('Bearer ' + key).encode()!r}",
        f"json {json.dumps({'k': key})}",
        f"url https://x/?k={quote(key, safe='')}",
    ]
    for text in texts:
        out = redact(text, key)
        assert "***" in out, text
        assert "sk-a" not in out, out


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 21}, "max_retries"),
        ({"max_retries": "x"}, "max_retries"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": httpx.Timeout(5.0, connect=-1.0)}, "timeout.connect"),
        ({"base_url": "ftp://example.org/v3"}, "base_url"),
    ],
)
def test_bad_client_settings_are_config_errors(options: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError, match=rf"{re.escape(setting)}\b"):
        Client(api_key="k-123", **options)


def test_send_fields_are_the_send_request_fields() -> None:
    assert set(SendFields.__annotations__) == set(SendRequest.model_fields)
