"""Per-region send windows (``region_windows=``): stricter windows by E.164 prefix."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mta_notebook import CampaignError, Client
from mta_notebook.campaigns import _engine, _plan, plan_campaign, resume_campaign
from mta_notebook.campaigns._engine import _request
from mta_notebook.campaigns._manifest import Manifest
from mta_notebook.campaigns._schedule import chunk_window, region_of
from tests.campaigns.test_campaigns import ScriptedClient

UTC = timezone.utc
MIAMI, MIAMI_786, CHICAGO, NEW_YORK = "+13055550100", "+17865550101", "+13125550003", "+12125550104"
LONDON = "+442079460958"
STRICT = ("09:00", "20:00")
#: 20:30 in Miami (inside 08:00-21:00, outside 09:00-20:00), 19:30 in Chicago.
EVENING = datetime(2027, 1, 7, 1, 30, tzinfo=UTC)
#: 08:10 in Miami (inside 08:00-21:00, outside 09:00-20:00), 07:10 in Chicago.
MORNING = datetime(2027, 1, 7, 13, 10, tzinfo=UTC)


def _phones(*phones: str) -> pd.DataFrame:
    return pd.DataFrame({"phone": list(phones)})


def _fix_now(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr(_plan, "utcnow", lambda: now)
    monkeypatch.setattr(_engine, "utcnow", lambda: now)


def _dates(plan: Any) -> dict[str, str | None]:
    """Each chunk's first phone and the ``scheduled_date`` the engine would send it with."""
    jr = plan.journal
    man = jr.read_manifest(plan.campaign_id)
    out = {}
    for ch in jr.chunks(plan.campaign_id)["chunk"]:
        req = _request(jr, man, int(ch))
        for phone in req["subscribers"]:
            out[phone] = req["scheduled_date"]
    return out


@pytest.mark.parametrize(
    ("now", "miami", "chicago"),
    [
        (EVENING, "20270107T140000-0000", None),  # Miami 09:00 EST; Chicago right away
        (MORNING, "20270107T140000-0000", "20270107T140000-0000"),  # 09:00 EST, 08:00 CST
    ],
)
def test_a_miami_region_window_is_stricter_than_quiet_hours(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    now: datetime,
    miami: str | None,
    chicago: str | None,
) -> None:
    _fix_now(monkeypatch, now)
    plan = plan_campaign(
        _phones(MIAMI, CHICAGO),
        "Hi",
        sender_name="A",
        region_windows={"+1305": STRICT},
        journal=tmp_path / "j",
    )
    assert _dates(plan) == {MIAMI: miami, CHICAGO: chicago}
    # without the region window, Miami is inside quiet hours at both times
    plain = plan_campaign(_phones(MIAMI), "Hi", sender_name="A", journal=tmp_path / "k")
    assert _dates(plain) == {MIAMI: None}
    held = 1 + (chicago is not None)
    assert plan.summary["held_for_later"] == held
    assert plan.summary["first_held_at"] == "2027-01-07T14:00:00+00:00"
    assert plan.summary["region_windows"] == {"+1305": {"window": STRICT, "recipients": 1}}
    assert "+1305 09:00-20:00: 1 recipient" in plan.as_html()
    assert plain.summary["region_windows"] == {}
    assert "Region windows" not in plain.as_html()


def test_chunks_hold_one_zone_set_and_one_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fix_now(monkeypatch, EVENING)
    plan = plan_campaign(
        _phones(MIAMI, NEW_YORK, MIAMI_786, CHICAGO),
        "Hi",
        sender_name="A",
        region_windows={"+1305": STRICT, "+1786": STRICT},
        journal=tmp_path / "j",
    )
    jr = plan.journal
    groups = sorted(
        sorted(jr.chunk_recipients(plan.campaign_id, int(ch))[0])
        for ch in jr.chunks(plan.campaign_id)["chunk"]
    )
    # New York shares Miami's zone but not its window; the two Miami prefixes share a chunk
    assert groups == sorted([[MIAMI, MIAMI_786], [NEW_YORK], [CHICAGO]])
    assert _dates(plan) == {
        MIAMI: "20270107T140000-0000",
        MIAMI_786: "20270107T140000-0000",
        NEW_YORK: None,  # 20:30 in New York: inside quiet hours
        CHICAGO: None,
    }
    assert plan.summary["region_windows"] == {
        "+1305": {"window": STRICT, "recipients": 1},
        "+1786": {"window": STRICT, "recipients": 1},
    }


def test_the_longest_prefix_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    regions = {"+1": ("10:00", "19:00"), "+1305": STRICT}
    assert region_of(MIAMI, regions) == "+1305"
    assert region_of(CHICAGO, regions) == "+1"
    assert region_of(LONDON, regions) is None
    assert chunk_window(MIAMI, ("08:00", "21:00"), regions) == STRICT
    assert chunk_window(LONDON, ("08:00", "21:00"), regions) == ("08:00", "21:00")
    assert chunk_window(LONDON, None, regions) is None
    _fix_now(monkeypatch, EVENING)  # 19:30 in Chicago: after 19:00
    plan = plan_campaign(
        _phones(MIAMI, CHICAGO),
        "Hi",
        sender_name="A",
        region_windows=regions,
        journal=tmp_path / "j",
    )
    assert _dates(plan) == {
        MIAMI: "20270107T140000-0000",  # 09:00 EST
        CHICAGO: "20270107T160000-0000",  # 10:00 CST
    }
    assert plan.summary["region_windows"]["+1"]["recipients"] == 1


def test_a_region_outside_the_us_gets_its_window_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fix_now(monkeypatch, datetime(2027, 1, 7, 7, 0, tzinfo=UTC))  # 07:00 in London
    for window in ["quiet-hours", False]:
        plan = plan_campaign(
            _phones(LONDON, CHICAGO),
            "Hi",
            sender_name="A",
            send_window=window,  # type: ignore[arg-type]
            region_windows={"+44": STRICT},
            journal=tmp_path / str(window),
        )
        zones = set(plan.journal.chunks(plan.campaign_id)["timezone"].dropna())
        assert "Europe/London" in zones
        dates = _dates(plan)
        assert dates[LONDON] == "20270107T090000-0000"
        # 01:00 in Chicago: held by quiet hours, sent right away without a window
        assert dates[CHICAGO] == ("20270107T140000-0000" if window else None)


@pytest.mark.parametrize("key", ["1305", "+13a5", "+", "", "+1 305", 1305])
def test_a_bad_region_key_is_an_error_naming_it(tmp_path: Path, key: Any) -> None:
    with pytest.raises(CampaignError, match=r"region_windows key .*E\.164 prefix") as err:
        plan_campaign(
            _phones(MIAMI), "Hi", sender_name="A", region_windows={key: STRICT}, journal=tmp_path
        )
    assert repr(key) in str(err.value)


@pytest.mark.parametrize(
    "window", [("20:00", "09:00"), ("9am", "5pm"), "09:00-20:00", ("09:00",), None]
)
def test_a_bad_region_window_is_an_error_naming_its_key(tmp_path: Path, window: Any) -> None:
    with pytest.raises(CampaignError, match=r"region_windows\['\+1305'\]"):
        plan_campaign(
            _phones(MIAMI),
            "Hi",
            sender_name="A",
            region_windows={"+1305": window},
            journal=tmp_path,
        )


def test_region_windows_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match=r"must map E\.164 prefixes"):
        plan_campaign(
            _phones(MIAMI),
            "Hi",
            sender_name="A",
            region_windows=[("+1305", STRICT)],  # type: ignore[arg-type]
            journal=tmp_path,
        )


def test_the_manifest_round_trips_region_windows(tmp_path: Path) -> None:
    regions = {"+1305": STRICT, "+44": ("10:00", "18:00")}
    man = Manifest("c", "Hi", "A", None, 500, "h", 1, 0, 1, 1, region_windows=regions)
    assert Manifest.from_row(man.to_row()) == man
    assert (
        "region_windows"
        not in Manifest("c", "Hi", "A", None, 500, "h", 1, 0, 1, 1).to_row()["extra"]
    )
    plan = plan_campaign(
        _phones(MIAMI, LONDON),
        "Hi",
        sender_name="A",
        region_windows=regions,
        journal=tmp_path / "j",
    )
    stored = plan.journal.read_manifest(plan.campaign_id)
    assert stored.region_windows == regions
    assert dict(plan.region_windows) == regions


def test_the_campaign_id_changes_only_when_region_windows_are_given(tmp_path: Path) -> None:
    df = _phones(MIAMI)
    base = plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "a").campaign_id
    for none in [None, {}]:
        again = plan_campaign(
            df, "Hi", sender_name="A", region_windows=none, journal=tmp_path / "b"
        )
        assert again.campaign_id == base
    given = plan_campaign(
        df, "Hi", sender_name="A", region_windows={"+1305": STRICT}, journal=tmp_path / "c"
    )
    assert given.campaign_id != base


def test_resume_uses_the_journaled_region_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fix_now(monkeypatch, EVENING)
    j = tmp_path / "j.sqlite"
    plan = plan_campaign(
        _phones(MIAMI, CHICAGO), "Hi", sender_name="A", region_windows={"+1305": STRICT}, journal=j
    )
    # re-planned under the same id without them: the journaled mapping is kept
    again = plan_campaign(
        _phones(MIAMI, CHICAGO), "Hi", sender_name="A", campaign_id=plan.campaign_id, journal=j
    )
    assert again.reused
    assert any("keeps the region windows" in w for w in again.warnings)
    assert dict(again.region_windows) == {"+1305": STRICT}
    assert again.summary["held_for_later"] == 1
    client = ScriptedClient()
    result = resume_campaign(plan.campaign_id, client, journal=j, progress=False)
    assert result.counts == {"sent": 2}
    dates = {c["subscribers"][0]: c.get("scheduled_date") for c in client.calls}
    assert dates == {MIAMI: "20270107T140000-0000", CHICAGO: None}


def test_the_sandbox_gets_the_region_window_scheduled_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_sandbox: Any
) -> None:
    monkeypatch.setattr(_engine, "utcnow", lambda: EVENING)  # in the future: a scheduled send
    sb = start_sandbox(seed=1, time_scale=100)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plan = plan_campaign(
            _phones(MIAMI, CHICAGO),
            "Hi",
            sender_name="Acme",
            region_windows={"+1305": STRICT},
            journal=tmp_path / "j.sqlite",
        )
        result = plan.send(client, confirm=True, progress=False)
    assert result.counts == {"sent": 2}
    chunks = plan.journal.chunks(plan.campaign_id)
    jr = plan.journal
    by_phone = {
        jr.chunk_recipients(plan.campaign_id, int(r.chunk))[0][0]: (
            None if pd.isna(r.scheduled_date) else r.scheduled_date
        )
        for r in chunks.itertuples()
    }
    assert by_phone == {MIAMI: "20270107T140000-0000", CHICAGO: None}
    rows = {r.phone: r for r in sb.app.state.rows}
    assert rows[MIAMI].created_at == datetime(2027, 1, 7, 14, 0, tzinfo=UTC)
    assert rows[MIAMI].status == "scheduled"
    assert rows[CHICAGO].created_at < EVENING  # sent right away (now, not 2027)
