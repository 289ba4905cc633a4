"""The plan as a value: frozen, shown without the journal, its typed manifest round-trips."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from mta_notebook.campaigns import Manifest, check_message, plan_campaign


def _people(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone": [f"+1312555{i:04d}" for i in range(n)],
            "first_name": ["Ann", "Bob", "Zoë"][:n],
        }
    )


def test_the_plan_is_frozen_and_shows_without_the_journal(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    plan = plan_campaign(
        _people(), "Hi {{first_name}}", sender_name="Acme", campaign_id="v", journal=folder / "j"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.sender_name = "Other"  # type: ignore[misc]
    assert "journal" not in {f.name for f in dataclasses.fields(plan)}
    shutil.rmtree(folder)  # no journal left to read: showing the plan needs none
    html = plan.as_html()
    for text in ("mta-card", "Hi Ann", "UCS-2", "Preview"):
        assert text in html
    assert plan._repr_html_() == html
    assert repr(plan).startswith("CampaignPlan('v', recipients=3, chunks=1, credits=3")
    assert not folder.exists()


def test_the_manifest_is_typed_and_round_trips_through_the_journal(tmp_path: Path) -> None:
    plan = plan_campaign(
        _people(),
        "Hi {{ firstName }}",
        sender_name="Acme",
        longcode_id=101,
        campaign_id="m",
        tags={"team": "growth"},
        send_window=("09:00", "20:00"),
        scheduled_at="2030-01-02T03:04:05",
        journal=tmp_path / "j",
    )
    with plan.journal as journal:
        man = journal.read_manifest("m")
        as_dict = journal.manifest("m")
    assert isinstance(man, Manifest)
    assert (man.sender_name, man.longcode_id, man.tags) == ("Acme", 101, {"team": "growth"})
    assert man.send_window == ("09:00", "20:00")
    assert man.scheduled_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert (man.placeholders, man.sms_over_160) == (("firstName",), "reject")
    assert (man.recipients, man.chunks, man.credits, man.encoding) == (3, 1, 3, "UCS-2")
    assert Manifest.from_row(man.to_row()) == man
    assert Manifest.from_row(as_dict) == man  # the decoded dict reads back the same
    with pytest.raises(dataclasses.FrozenInstanceError):
        man.message = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "note",
    [
        "[" * 153,  # extension characters at a segment boundary
        "a" * 152 + "€" + "a" * 152,
        "😀" * 67,  # surrogate pairs at a UCS-2 boundary
        "x" * 300 + "ж",
        "plain " * 40,
    ],
)
def test_planned_segments_are_the_contracts(tmp_path: Path, note: str) -> None:
    df = pd.DataFrame({"phone": ["+13125550001"], "note": [note]})
    plan = plan_campaign(
        df, "{{note}}", sender_name="Acme", journal=tmp_path / "j", sms_over_160="segments"
    )
    check = check_message(note, sms_over_160="segments")
    assert plan.recipients["segments"].tolist() == [check.segments]
    assert plan.recipients["credits"].tolist() == [check.credits]
    assert plan.preview(1)["segments"].tolist() == [check.segments]


def test_the_preview_says_what_to_cut_near_a_segment_boundary() -> None:
    from mta_notebook import check_message

    near = check_message("a" * 165, sms_over_160="segments")  # 2 segments; 160 fit in one
    assert (near.segments, near.hint) == (2, "cut 5 characters to use 1 segment instead of 2")
    three = check_message("a" * 307, sms_over_160="segments")  # 153 + 153 + 1
    assert three.hint == "cut 1 character to use 2 segments instead of 3"
    far = check_message("a" * 250, sms_over_160="segments")
    assert far.hint == ""
    emoji = check_message("Sale ✨ " + "a" * 70, sms_over_160="segments")
    assert emoji.hint == "replace ✨ (not GSM-7) to use 1 segment instead of 2"
    assert check_message("a" * 165).hint == "cut 5 characters: SMS allows 160"
    assert check_message("a" * 100).hint == ""
