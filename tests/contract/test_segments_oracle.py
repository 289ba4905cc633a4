"""Segment counts against Twilio's sms-segments-calculator (npm), an implementation we did not
write. Its answers for 2,379 boundary texts are committed in oracles/segments_oracle.json
(regenerate with oracles/make_segments_oracle.py, which needs node and npm)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mta_notebook.contract import segments

ORACLE = json.loads((Path(__file__).parent / "oracles" / "segments_oracle.json").read_text())
# Emoji made of several code points (a flag, a skin-tone modifier): Twilio keeps the whole
# cluster in one segment; we, like the 3GPP split, keep only each surrogate pair whole.
CLUSTERS = ("🇺🇸", "👍🏽")


def _cases(clusters: bool) -> list[dict[str, Any]]:
    return [c for c in ORACLE["cases"] if any(x in c["text"] for x in CLUSTERS) == clusters]


def test_the_oracle_covers_every_boundary() -> None:
    counts = {c["segments"] for c in ORACLE["cases"]}
    assert {1, 2, 3, 4} <= counts
    assert len(ORACLE["cases"]) > 2000
    assert {c["encoding"] for c in ORACLE["cases"]} == {"GSM-7", "UCS-2"}


def test_encoding_and_segments_equal_twilio_on_every_single_code_point_text() -> None:
    wrong = [
        (len(c["text"]), c["encoding"], c["segments"], segments.segments(c["text"]))
        for c in _cases(clusters=False)
        if (segments.encoding(c["text"]), segments.segments(c["text"]))
        != (c["encoding"], c["segments"])
    ]
    assert wrong == []


def test_multi_code_point_emoji_differ_only_by_keeping_pairs_not_clusters_whole() -> None:
    for case in _cases(clusters=True):
        ours = segments.segments(case["text"])
        assert ours <= case["segments"] <= ours + len(case["text"]) // 67 + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 152 + "€" + "a" * 152, 3),  # the escape would straddle segments 1 and 2
        ("[" * 153, 3),
        ("😀" * 67, 3),  # 134 units; 33 pairs fit in 67
        ("😀" * 35, 1),  # 70 units: one segment
        ("😀" * 36, 2),
        ("€" * 80, 1),
        ("€" * 81, 2),
    ],
    ids=["escape-at-153", "brackets", "emoji-67", "emoji-35", "emoji-36", "euro-80", "euro-81"],
)
def test_the_issue_examples(text: str, expected: int) -> None:
    assert segments.segments(text) == expected
