"""Benchmark: load_subscribers end to end on 1,000,000 messy rows vs phonenumbers row by row.

Run: ``nice .venv/bin/python benchmarks/bench_subscribers.py [--rows N] [--sample N]``

* ``load_subscribers`` reads a CSV of ``--rows`` rows (messy North American numbers from
  bench_phones, names, an email, a free-text column) from disk: reading, normalising, time
  zones, duplicates, every row accounted (timed over all rows; peak memory over the file size).
* The baseline is what a user would write with phonenumbers: read the CSV with pandas, then per
  row parse + is_valid_number + E.164 format + time zones, then drop duplicates. It is timed on a
  random sample and extrapolated (said in the output), because a full run takes minutes.
* Three rounds, ours then the baseline in each; the medians are compared.
* Both run warm: one tiny load first imports phonenumbers' metadata and builds the tables.
* The valid set is compared with phonenumbers' on every distinct input value.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import phonenumbers
from bench_phones import messy_numbers
from phonenumbers import timezone as pn_timezone

from mta_notebook import load_subscribers


def _write_csv(path: Path, rows: int) -> None:
    rng = random.Random(1)
    names = ["Ann", "Bo", "Zoë", "Li", "María", "José", "Kim", "Sam", "Noor", "Ola"]
    frame = pd.DataFrame(
        {
            "Mobile Phone": messy_numbers(rows, seed=3),
            "First Name": [rng.choice(names) for _ in range(rows)],
            "Email": [f"user{i}@example.com" for i in range(rows)],
            "Notes": [rng.choice(["", "vip", "signed up, in store", "=1+1"]) for _ in range(rows)],
        }
    )
    frame.to_csv(path, index=False)


def _baseline(path: Path, sample: int, rows: int) -> float:
    """Seconds for all rows: reading the whole file once with pandas, plus the per-row loop a
    user would write, timed on ``sample`` rows and scaled to ``rows``."""
    t = time.perf_counter()
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    read = time.perf_counter() - t
    values = df["Mobile Phone"].sample(sample, random_state=0)
    t = time.perf_counter()
    out = []
    for value in values:
        try:
            num = phonenumbers.parse(value, "US")
        except phonenumbers.NumberParseException:
            out.append((None, None))
            continue
        if not phonenumbers.is_valid_number(num):
            out.append((None, None))
            continue
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        out.append((e164, pn_timezone.time_zones_for_number(num)))
    pd.DataFrame(out, columns=["phone", "zones"]).dropna().drop_duplicates("phone")
    return read + (time.perf_counter() - t) * rows / sample


def _oracle_valid(values: pd.Series) -> set[str]:
    valid = set()
    for value in values.unique():
        try:
            num = phonenumbers.parse(value, "US")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            valid.add(phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))
    return valid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=40_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subscribers.csv"
        _write_csv(path, args.rows)
        size_mb = path.stat().st_size / 2**20
        load_subscribers(pd.DataFrame({"phone": ["312-555-0123"]}))  # imports and tables, once
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ours_runs, base_runs = [], []
        for _ in range(3):  # alternate, then medians: a busy machine slows both alike
            t = time.perf_counter()
            subs = load_subscribers(path)
            ours_runs.append(time.perf_counter() - t)
            if len(ours_runs) == 1:
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            base_n = min(args.sample, args.rows)
            base_runs.append(_baseline(path, base_n, args.rows))
        ours, base = statistics.median(ours_runs), statistics.median(base_runs)
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)["Mobile Phone"]
        same = set(subs.df["phone"]) == _oracle_valid(raw)
    assert len(subs.df) + len(subs.rejected) == args.rows
    print(
        f"rows {args.rows:,}; file {size_mb:,.0f} MB; loaded {len(subs.df):,}, "
        f"rejected {len(subs.rejected):,}; same valid set as phonenumbers: {same}"
    )
    print(
        f"load_subscribers {ours:.2f} s ({args.rows / ours:,.0f} rows/s); phonenumbers row by "
        f"row {base:.1f} s ({args.rows / base:,.0f} rows/s; timed on {base_n:,} rows, "
        f"extrapolated): {base / ours:.1f}x faster (target >= 20x)"
    )
    print(
        f"peak memory {peak:,.0f} MB (before loading {before:,.0f} MB): "
        f"{(peak - before) / size_mb:.1f}x the file"
    )


if __name__ == "__main__":
    main()
