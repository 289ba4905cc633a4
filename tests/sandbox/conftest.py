"""What the sandbox tests share: a raw HTTP client on the module's ``sb`` sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def http(sb: Any) -> Iterator[httpx.Client]:
    """httpx on the sandbox with its key: requests exactly as a user's code sends them."""
    with httpx.Client(
        base_url=sb.base_url, headers={"Authorization": f"Bearer {sb.api_key}"}, timeout=10
    ) as c:
        yield c
