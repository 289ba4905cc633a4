"""The contract's tables against MTA's documented tables, written out here by hand.

The literals below are copied from MTA's developer center as summarised in
``shared/reference/mta-api.md`` §0a, not computed with the contract: a wrong entry in
``mta_notebook.contract`` fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mta_notebook.contract import assumptions, keywords, limits, statuses

ROOT = Path(__file__).resolve().parents[2]

# code, documented name, outcome (mta-api.md §0a, "MTA Delivery Status Codes")
DOCUMENTED_CODES = [
    (1, "QUEUED", "pending"),
    (2, "SENDING", "pending"),
    (3, "SENT", "pending"),
    (4, "DELIVERED", "delivered"),
    (5, "SENDING_FAILED", "failed"),
    (6, "DELIVERY_FAILED", "failed"),
    (7, "DELIVERY_UNCONFIRMED", "unconfirmed"),
    (8, "DELIVERY_REJECTED", "failed"),
    (9, "UNDELIVERED", "failed"),
    (10, "INVALID_NUMBER", "failed"),
    (11, "STOPPED_NUMBER", "failed"),
    (12, "LANDLINE", "failed"),
    (13, "SEND_REJECTED", "failed"),
]
# the /deliveries filters[status] values and the outcome the issue assigns them
DOCUMENTED_FILTER_NAMES = [
    ("sent", "pending"),
    ("delivered", "delivered"),
    ("undelivered", "failed"),
    ("undeliverable", "failed"),
    ("rejected", "failed"),
    ("unknown", "unknown"),
]


@pytest.mark.parametrize(("code", "name", "outcome"), DOCUMENTED_CODES)
def test_each_documented_code(code: int, name: str, outcome: str) -> None:
    for raw in (code, str(code), f" {code} ", float(code)):
        info = statuses.resolve_status(raw)
        assert info.status == name.lower()
        assert info.outcome == outcome
        assert info.status_code == str(code)
        assert info.is_final == (outcome != "pending")
    for spelling in (name, name.lower(), name.title(), name.replace("_", " ").lower()):
        assert statuses.resolve_status(spelling).outcome == outcome


def test_table_is_exactly_the_documented_one() -> None:
    got = [(s.code, s.name, s.outcome) for s in statuses.DELIVERY_STATUSES]
    assert got == DOCUMENTED_CODES


@pytest.mark.parametrize(("name", "outcome"), DOCUMENTED_FILTER_NAMES)
def test_deliveries_filter_names(name: str, outcome: str) -> None:
    assert statuses.resolve_status(name).outcome == outcome
    assert statuses.resolve_status(name.upper()).outcome == outcome


@pytest.mark.parametrize("raw", [0, 14, 99, -3, "QUEUEDX", "read"])
def test_unmapped_keeps_raw_value(raw: object) -> None:
    info = statuses.resolve_status(raw)
    assert info.status == str(raw)
    assert info.status_code == str(raw)
    assert info.outcome == "unknown"
    assert not info.is_final


def test_missing_status() -> None:
    for raw in (None, "", "  ", True):
        assert statuses.resolve_status(raw).outcome is None


def test_precedence_follows_the_lifecycle() -> None:
    order = ["queued", "sending", "sent", "delivery_unconfirmed", "delivery_failed", "delivered"]
    ranks = [statuses.precedence(s) for s in order]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)
    assert statuses.precedence("42") < statuses.precedence("queued")


def test_documented_limits() -> None:
    # mta-api.md §0a "Limits" and "Content"
    expected = {
        "send": (25, 15.0),
        "subscribers": (15, 15.0),
        "subscribers_bulk": (15, 15.0),
        "groups_bulk": (5, 15.0),
        "default": (30, 60.0),
    }
    for family, (requests, window) in expected.items():
        lim = limits.RATE_LIMITS[family]  # type: ignore[index]
        assert (lim.requests, lim.window_s) == (requests, window)
    assert limits.BULK_MAX_RECORDS == 1000
    assert (limits.SMS_MAX_CHARS, limits.SMS_CREDITS) == (160, 1)
    assert (limits.MMS_MAX_CHARS, limits.MMS_CREDITS) == (1550, 3)


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("STOP", True),
        ("Stop.", True),
        (" stop ", True),
        ("opt out", True),
        ("Stop all", True),
        ("Stopping by later", False),
        ("thanks", False),
        ("", False),
    ],
)
def test_stop_keyword_normalisation(text: str, stop: bool) -> None:
    assert keywords.is_stop(text) is stop


def test_every_assumption_is_listed_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Assumptions", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, re.M))
    assert listed == set(assumptions.ASSUMPTIONS)
