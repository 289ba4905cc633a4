"""Send windows across DST, zone sets, quiet hours and non-geographic numbers."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from mta_notebook import CampaignError
from mta_notebook.campaigns import next_in_window, plan_campaign

UTC = timezone.utc


def _brute(start: datetime, zones: list[str], window: tuple[dtime, dtime]) -> datetime:
    """The earliest minute >= start whose wall time is inside the window in every zone."""
    tzs = [ZoneInfo(z) for z in zones]
    at = start
    for _ in range(60 * 24 * 9):
        if all(window[0] <= at.astimezone(z).time() < window[1] for z in tzs):
            return at
        at += timedelta(minutes=1)
    raise AssertionError("no minute found")


DST_DAYS = {
    "America/New_York": [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)],
    "America/St_Johns": [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)],
    "Australia/Lord_Howe": [datetime(2026, 4, 5, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)],
}


def test_next_in_window_matches_a_minute_scan_across_dst() -> None:
    rng = random.Random(13)
    for _ in range(3000):
        zone = rng.choice(sorted(DST_DAYS))
        day = rng.choice(DST_DAYS[zone])
        begin = dtime(rng.randrange(0, 4), rng.choice([0, 15, 30, 45]))
        end_minutes = begin.hour * 60 + begin.minute + rng.randrange(15, 300)
        end = dtime(end_minutes // 60, end_minutes % 60)
        not_before = day + timedelta(minutes=rng.randrange(-36 * 60, 36 * 60))
        now = not_before - timedelta(minutes=rng.randrange(0, 3))
        got = next_in_window(now, zone, window=(begin, end), not_before=not_before)
        want = _brute(not_before, [zone], (begin, end))
        assert (got or not_before) == want, (zone, begin, end, not_before)
        if got is not None:
            assert got >= not_before
            assert got > now


def test_zone_sets_match_a_minute_scan() -> None:
    rng = random.Random(7)
    sets = [["America/Adak", "America/Anchorage"], ["America/Halifax", "America/St_Johns"]]
    for _ in range(200):
        zones = rng.choice(sets)
        begin = dtime(rng.randrange(0, 12), rng.choice([0, 30]))
        end = dtime(rng.randrange(begin.hour + 2, 24), 0)
        not_before = datetime(2026, 3, 7, tzinfo=UTC) + timedelta(minutes=rng.randrange(4000))
        got = next_in_window(not_before, "|".join(zones), window=(begin, end))
        assert (got or not_before) == _brute(not_before, zones, (begin, end))


def test_dst_gap_and_repeated_hour_in_new_york() -> None:
    ny = "America/New_York"
    w = (dtime(2, 30), dtime(4))
    gap = next_in_window(datetime(2026, 3, 8, 5, tzinfo=UTC), ny, window=w)
    assert gap is not None
    assert gap.astimezone(ZoneInfo(ny)).time() == dtime(3)  # the first valid time >= 02:30
    now = datetime(2026, 11, 1, 6, 40, tzinfo=UTC)  # 01:40 EST, the second 01:40
    fall = next_in_window(now, ny, window=(dtime(1), dtime(1, 30)))
    assert fall is not None
    assert fall > now


def test_zones_whose_windows_never_overlap_are_an_error() -> None:
    with pytest.raises(CampaignError, match="do not overlap"):
        next_in_window(
            datetime(2026, 1, 1, tzinfo=UTC),
            "Pacific/Kiritimati|Pacific/Pago_Pago",
            window=(dtime(9), dtime(10)),
        )


def _phones(*phones: str) -> pd.DataFrame:
    return pd.DataFrame({"phone": list(phones)})


def test_chunks_are_grouped_by_zone_set(tmp_path: Path) -> None:
    plan = plan_campaign(
        _phones("+19075550001", "+17095550002", "+13125550003", "+19075550004"),
        "Hi",
        sender_name="Acme",
        send_window=("09:00", "20:00"),
        journal=tmp_path / "j",
    )
    chunks = plan.journal.chunks(plan.campaign_id).set_index("timezone")["recipients"]
    assert chunks.to_dict() == {
        "America/Adak|America/Anchorage": 2,
        "America/Halifax|America/St_Johns": 1,
        "America/Chicago": 1,
    }


def test_the_timezones_column_is_used(tmp_path: Path) -> None:
    df = _phones("+13125550003")
    df["timezones"] = ["Europe/Paris"]
    plan = plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "j")
    assert plan.journal.chunks(plan.campaign_id)["timezone"].tolist() == ["Europe/Paris"]


def test_non_geographic_numbers_need_a_default_timezone(tmp_path: Path) -> None:
    df = _phones("+18005550100", "+18885550101", "+13125550003")
    with pytest.raises(CampaignError, match=r"2 recipients.*\+18005550100.*default_timezone="):
        plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "j")
    plan = plan_campaign(
        df, "Hi", sender_name="A", journal=tmp_path / "j", default_timezone="America/New_York"
    )
    zones = set(plan.journal.chunks(plan.campaign_id)["timezone"])
    assert zones == {"America/New_York", "America/Chicago"}
    # no window, no zone needed
    off = plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "k", send_window=False)
    assert off.summary["held_for_later"] == 0


@pytest.mark.parametrize(
    ("now", "first"),
    [
        (datetime(2026, 7, 1, 8, tzinfo=UTC), "2026-07-01T13:00:00+00:00"),  # 03:00 Chicago
        (datetime(2026, 7, 1, 18, tzinfo=UTC), None),  # 13:00 Chicago
    ],
)
def test_quiet_hours_are_the_default_for_us_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: datetime, first: str | None
) -> None:
    from mta_notebook.campaigns import _engine, _plan
    from mta_notebook.campaigns._engine import _request

    monkeypatch.setattr(_plan, "utcnow", lambda: now)
    monkeypatch.setattr(_engine, "utcnow", lambda: now)
    df = _phones("+13125550003", "+442079460958")
    plan = plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "j")
    man = plan.journal.read_manifest(plan.campaign_id)
    assert man.send_window == ("08:00", "21:00")
    chunks = plan.journal.chunks(plan.campaign_id)
    assert chunks["timezone"].isna().sum() == 1  # the UK number: no window
    assert plan.summary["held_for_later"] == (1 if first else 0)
    assert plan.summary["first_held_at"] == first
    assert ("Held for later" in plan.as_html()) == bool(first)
    dates = [_request(plan.journal, man, int(c))["scheduled_date"] for c in chunks["chunk"]]
    assert sorted(d or "" for d in dates) == ["", "20260701T130000-0000" if first else ""]
    for window in [False, ("00:00", "23:59")]:
        off = plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "k", send_window=window)
        assert off.journal.read_manifest(off.campaign_id).send_window is None
        assert off.summary["held_for_later"] == 0


def test_replanning_with_another_window_keeps_the_journaled_one(tmp_path: Path) -> None:
    df = _phones("+13125550003")
    first = plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "j", send_window=False)
    again = plan_campaign(df, "Hi", sender_name="A", journal=tmp_path / "j")
    assert again.campaign_id == first.campaign_id
    assert again.reused
    assert any("keeps the send window" in w for w in again.warnings)
    assert again.journal.read_manifest(again.campaign_id).send_window is None
    assert again.send_window is None
    assert again.summary["held_for_later"] == 0
