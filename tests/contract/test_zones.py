"""Time zones per number, checked against phonenumbers' own geographic lookup and zoneinfo."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import timezone as pn_timezone
from phonenumbers.tzdata import TIMEZONE_DATA

from mta_notebook.contract.phones import normalize_phones
from mta_notebook.contract.zones import phone_zones, single_zone, zone_list


def _numbers(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    nanp = [f"+1{a}{b}{c:04d}" for a, b, c in rng.integers([200, 200, 0], [999, 999, 9999], (n, 3))]
    world = ["+447911123456", "+442079460958", "+61293744000", "+61412345678", "+4930123456"]
    return normalize_phones(nanp + world).dropna().reset_index(drop=True)


def _same_clock(a: str, b: str) -> bool:
    instants = [datetime(2026, m, 15, 12, tzinfo=timezone.utc) for m in range(1, 13)]
    return all(
        t.astimezone(ZoneInfo(a)).utcoffset() == t.astimezone(ZoneInfo(b)).utcoffset()
        for t in instants
    )


def test_every_number_gets_phonenumbers_geographic_zones() -> None:
    phones = _numbers(20_000, seed=13)
    ours = phone_zones(phones)
    country_wide = 0
    for phone, got in zip(phones, ours, strict=True):
        num = phonenumbers.parse(phone)
        expected = [
            z for z in pn_timezone.time_zones_for_geographical_number(num) if z != "Etc/Unknown"
        ]
        country = TIMEZONE_DATA.get(str(num.country_code), ())
        if len(expected) > 1 and tuple(expected) == tuple(country):
            country_wide += 1  # no prefix more precise than the country: no zone, unless one clock
            assert pd.isna(got) or all(_same_clock(got, z) for z in expected), phone
            continue
        assert not pd.isna(got), phone
        # every listed zone is kept, or stands for the same clock (Jersey keeps London's time)
        for zone in expected:
            assert any(_same_clock(zone, z) for z in zone_list(got)), (phone, expected, got)
    assert country_wide > 0


def test_the_issues_cases() -> None:
    phones = pd.Series(
        ["+19075550123", "+17095550123", "+18005550123", "+19005550123", "+13125550123", None]
    )
    zones = phone_zones(phones).tolist()
    assert zones[0] == "America/Adak|America/Anchorage"  # Alaska: both, never just Adak
    assert zone_list(zones[1]) == ("America/Halifax", "America/St_Johns")
    assert [pd.isna(zones[i]) for i in (2, 3, 5)] == [True, True, True]  # not geographic; None
    assert single_zone(phone_zones(phones)).tolist()[4] == "America/Chicago"
    assert pd.isna(single_zone(phone_zones(phones)).iloc[0])


def test_equal_numbers_get_equal_zones_whatever_their_neighbours() -> None:
    # the old cache keyed zones by the first 8 characters: one number's zone leaked to another
    phones = _numbers(5_000, seed=7)
    alone = [phone_zones(pd.Series([p])).iloc[0] for p in phones[:300]]
    together = phone_zones(phones).iloc[:300].tolist()
    assert [None if pd.isna(z) else z for z in alone] == [
        None if pd.isna(z) else z for z in together
    ]
