"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_mta_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own MTA_* settings (or sends with their key)."""
    for name in list(os.environ):
        if name.startswith("MTA_"):
            monkeypatch.delenv(name)
