"""Benchmark: normalise 1,000,000 messy North American numbers, fast path vs phonenumbers.

Run: ``nice .venv/bin/python benchmarks/bench_phones.py [--rows N] [--sample N]``.

* ``normalize_phones`` runs over all rows (timed).
* The baseline is phonenumbers row by row (parse + is_valid_number + E.164 format), the
  per-row loop a user would write; it is timed on a random sample and extrapolated (stated in the
  output), because a full run takes minutes. The two are timed alternately in three rounds and
  the medians compared, so a busy machine slows both alike.
* Differences are counted over ALL rows against the oracle; for that check only, the oracle is
  evaluated once per distinct input value (same answer, less waiting).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import pandas as pd
import phonenumbers

from mta_notebook.contract.phones import normalize_phone, normalize_phones

PLACEHOLDERS = ["", " ", "N/A", "n/a", "none", "-", "000-000-0000", "0", "unknown", "TBD"]


def messy_numbers(n: int, seed: int = 0) -> list[str]:
    """Deterministic messy North American input: mostly common formats, some oddities."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        a = f"{rng.randint(200, 999)}"
        b = f"{rng.randint(200, 999)}"
        c = f"{rng.randint(0, 9999):04d}"
        r = rng.random()
        if r < 0.22:
            s = f"({a}) {b}-{c}"
        elif r < 0.40:
            s = f"{a}-{b}-{c}"
        elif r < 0.48:
            s = f"{a}.{b}.{c}"
        elif r < 0.62:
            s = f"{a}{b}{c}"
        elif r < 0.72:
            s = f"+1{a}{b}{c}"
        elif r < 0.78:
            s = f"+1 {a} {b} {c}"
        elif r < 0.83:
            s = f"1-{a}-{b}-{c}"
        elif r < 0.86:
            s = f"1 ({a}) {b}-{c}"
        elif r < 0.89:
            s = f"  {a} {b} {c} "
        elif r < 0.91:
            s = f"+1 ({a}) {b}-{c}"
        elif r < 0.93:
            s = f"1{a}{b}{c}"
        elif r < 0.95:
            s = f"{a}-{b}-{c} x{rng.randint(1, 9999)}"
        elif r < 0.965:
            s = f"({a}){b}-{c} ext. {rng.randint(1, 999)}"
        elif r < 0.975:
            s = rng.choice(PLACEHOLDERS)
        elif r < 0.980:
            s = f"{a}/{b}-{c}"
        elif r < 0.984:
            s = f"tel:+1-{a}-{b}-{c}"
        elif r < 0.988:
            s = f"{int(a + b + c) / 1e9:.5f}E+09"  # Excel scientific notation
        elif r < 0.991:
            s = f"+1 {a} {b} {c[:3]}"  # a digit short
        elif r < 0.994:
            s = f"{a}-{b}-{c}{rng.randint(0, 9)}"  # a digit too many
        elif r < 0.997:
            s = f"+44 20 7946 {c}"
        else:
            s = f"1-800-FLOWERS-{rng.randint(0, 9)}"
        out.append(s)
    return out


def oracle(value: str) -> str | None:
    try:
        num = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000)
    args = parser.parse_args()

    values = messy_numbers(args.rows)
    series = pd.Series(values, dtype="str")
    print(f"rows: {len(values):,} messy North American numbers (seed 0), default_region='US'")

    normalize_phones(series.iloc[:1000])  # warm up metadata and regex compilation
    rng = random.Random(1)
    sample = rng.sample(values, min(args.sample, len(values)))
    # The machine may be shared: alternate the two measurements in rounds and compare medians,
    # so both see the same conditions.
    rounds = 3
    fast_times: list[float] = []
    oracle_rates: list[float] = []
    part = len(sample) // rounds
    for r in range(rounds):
        t0 = time.perf_counter()
        fast = normalize_phones(series)
        fast_times.append(time.perf_counter() - t0)
        chunk = sample[r * part : (r + 1) * part]
        t0 = time.perf_counter()
        for v in chunk:
            oracle(v)
        oracle_rates.append(len(chunk) / (time.perf_counter() - t0))
        print(
            f"  round {r + 1}: normalize_phones {fast_times[-1]:.2f} s; phonenumbers "
            f"{oracle_rates[-1]:,.0f} rows/s on {len(chunk):,} sampled rows"
        )
    t_fast = statistics.median(fast_times)
    rate = statistics.median(oracle_rates)
    t_oracle = len(values) / rate

    uniques = pd.unique(pd.Series(values, dtype=object))
    answers = {u: oracle(u) for u in uniques}
    expected = pd.Series([answers[v] for v in values], dtype="string")
    got = fast.reset_index(drop=True)
    same = (got.fillna("<none>") == expected.fillna("<none>")).to_numpy()
    diff = int((~same).sum())
    assert normalize_phone(values[0]) == answers[values[0]]

    print(
        f"normalize_phones: {t_fast:.2f} s (median of {rounds}) for {len(values):,} rows = "
        f"{len(values) / t_fast:,.0f} rows/s ({fast.notna().mean():.1%} valid)"
    )
    print(
        f"phonenumbers row by row: {rate:,.0f} rows/s (median of {rounds} rounds on a "
        f"{rounds * part:,}-row random sample), extrapolated to {t_oracle:.1f} s for "
        f"{len(values):,} rows"
    )
    print(f"speed ratio: {t_oracle / t_fast:.1f}x faster than phonenumbers row by row")
    print(
        f"differences from the oracle: {diff} of {len(values):,} rows "
        f"({diff / len(values):.4%}; oracle over all rows, one call per distinct value)"
    )
    if diff:
        bad = [(values[i], got.iloc[i], expected.iloc[i]) for i in (~same).nonzero()[0][:10]]
        print("first differences (input, fast, oracle):", bad)


if __name__ == "__main__":
    main()
