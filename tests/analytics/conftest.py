"""Fixtures of the analytics tests."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.analytics.fixtures import scenario


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scenario's events and ledger (every rule of the report, once)."""
    return scenario().frames()
