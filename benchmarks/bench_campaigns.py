"""Benchmarks for campaigns: planning + journaling 1,000,000 recipients, and a paced send.

Run: ``nice .venv/bin/python benchmarks/bench_campaigns.py [--recipients N] [--send N]``

1. Plan and journal a personalised campaign to 1,000,000 recipients (message checks per
   recipient, chunks, SQLite journal). Baseline in the same run: the naive per-recipient loop
   (fill, ``check_message``, one INSERT per recipient) on a sample, extrapolated. Target < 10 s.
2. Send a 50,000-recipient campaign (100 chunks of 500) to the sandbox under a short
   ``time_scale`` window. Prints achieved /send rate over the allowed rate (25 per 15 s, scaled)
   and the number of 429 answers. Target: ratio >= 0.95, zero 429s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from mta_notebook import Client
from mta_notebook.campaigns import check_message, plan_campaign
from mta_notebook.campaigns._message import fill
from mta_notebook.contract.limits import RATE_LIMITS

MESSAGE = "Hi {{first_name}}, spring sale: 20% off everything until Sunday. Reply STOP to opt out"


def _people(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array(["Ann", "Bob", "Zoë", "Li", "Maria", "José", "Kim", "Sam", "Noor", "Ola"])
    area = rng.choice(np.array(["312", "212", "415", "617", "713", "305"]), n)
    phones = pd.Series(area).radd("+1") + pd.Series(np.arange(n) % 10_000_000).map("{:07d}".format)
    return pd.DataFrame({"phone": phones, "first_name": names[rng.integers(0, len(names), n)]})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _naive(df: pd.DataFrame, path: Path) -> float:
    """The obvious loop: fill, check, INSERT + commit-free per recipient, one transaction."""
    t = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE r (campaign TEXT, seq INT, phone TEXT, chunk INT, text TEXT, seg INT)"
    )
    with conn:
        for i, rec in enumerate(df.to_dict("records")):
            text = fill(MESSAGE, rec)
            chk = check_message(text)
            conn.execute(
                "INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)",
                ("naive", i, rec["phone"], i // 500 + 1, text, chk.segments),
            )
    conn.close()
    return time.perf_counter() - t


def bench_plan(n: int) -> None:
    df = _people(n)
    tmp = Path(tempfile.mkdtemp(prefix="bench_campaigns_"))
    rss0 = _peak_rss_mb()
    t = time.perf_counter()
    plan = plan_campaign(
        df, MESSAGE, sender_name="Acme", chunk_size=500, journal=tmp / "journal.sqlite"
    )
    plan_s = time.perf_counter() - t
    rss1 = _peak_rss_mb()
    s = plan.summary
    sample = min(n, 100_000)
    naive_s = _naive(df.head(sample), tmp / "naive.sqlite") * (n / sample)
    size_mb = sum(p.stat().st_size for p in tmp.glob("journal.sqlite*")) / 1e6
    print(
        f"plan+journal {n:,} recipients: {plan_s:.2f} s (target < 10 s), "
        f"peak RSS {rss1:.0f} MB (+{rss1 - rss0:.0f} MB over the input frame), "
        f"journal {size_mb:.0f} MB, {s['chunks']} chunks, {s['credits']:,} credits"
    )
    print(
        f"baseline naive per-recipient loop (sampled {sample:,}, extrapolated): {naive_s:.1f} s; "
        f"speedup x{naive_s / plan_s:.1f}"
    )


class _Counting(httpx.HTTPTransport):
    """Records the start time and status of every POST /send and every 429."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[tuple[float, int]] = []
        self.latency: list[float] = []
        self.status_429 = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = time.monotonic()
        response = super().handle_request(request)
        with self._lock:
            if response.status_code == 429:
                self.status_429 += 1
            if request.method == "POST" and request.url.path.endswith("/send"):
                self.sends.append((start, response.status_code))
                self.latency.append(time.monotonic() - start)
        return response


@contextlib.contextmanager
def _sandbox_process(time_scale: float) -> Iterator[tuple[str, str]]:
    """The sandbox in its own process (``mta-notebook sandbox``), so the benchmark measures the
    client's pacing rather than the emulator sharing this process's GIL."""
    key = "bench-key"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mta_notebook",
            "sandbox",
            "--port",
            "0",
            "--time-scale",
            str(time_scale),
        ],
        env={**os.environ, "MTA_API_KEY": key},  # not on the command line (visible in ps)
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.strip().rsplit(" ", 1)[-1]
        if not base_url.startswith("http"):
            raise RuntimeError(f"sandbox did not start: {line!r}")
        yield base_url, key
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_send(n: int, time_scale: float, chunk_size: int = 500) -> None:
    df = _people(n, seed=1)
    tmp = Path(tempfile.mkdtemp(prefix="bench_send_"))
    limit, window = RATE_LIMITS["send"].requests, RATE_LIMITS["send"].window_s
    window /= time_scale
    with _sandbox_process(time_scale) as (base_url, key):
        transport = _Counting()
        with Client(api_key=key, base_url=base_url, transport=transport) as client:
            plan = plan_campaign(
                df, MESSAGE, sender_name="Acme", chunk_size=chunk_size, journal=tmp / "j.sqlite"
            )
            t = time.perf_counter()
            result = plan.send(client, confirm=True, progress=False)
            wall = time.perf_counter() - t
        root = base_url.removesuffix("/v3")
        answer = httpx.get(
            f"{root}/_sandbox/ground-truth", headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        truth = pd.DataFrame(answer.json()["rows"])
    ok = [ts for ts, status in transport.sends if status == 200]
    calls = len(ok)
    # Rate over whole windows: ideal pacing opens window k (call k * limit) exactly k windows
    # after the first call, so calls before the last window's opening, over the time to it,
    # equals limit / window. The last window's own burst is left out (it is not paced).
    k = (calls - 1) // limit * limit
    achieved = k / (ok[k] - ok[0]) if k else float("nan")
    allowed = limit / window
    camp = truth[truth["external_id"].fillna("").str.startswith(plan.campaign_id)]
    once = bool((camp["phone"].value_counts() == 1).all()) and len(camp) == n
    print(
        f"send {n:,} recipients in {calls} chunks at time_scale={time_scale:g}: {wall:.2f} s; "
        f"achieved {achieved:.2f} /send per s vs allowed {allowed:.2f}: "
        f"ratio {achieved / allowed:.3f} (target >= 0.95); 429 answers: "
        f"{transport.status_429} (target 0); states {result.counts}; "
        f"each received once: {once}; mean sandbox answer to /send "
        f"{1000 * sum(transport.latency) / len(transport.latency):.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--recipients", type=int, default=1_000_000)
    ap.add_argument("--send", type=int, default=50_000)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--skip-plan", action="store_true")
    args = ap.parse_args(argv)
    if not args.skip_plan:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        bench_plan(args.recipients)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    bench_send(args.send, args.time_scale)
    # The same pacing with light chunks: the sandbox answers fast, so this isolates the pacing
    # from the emulator's per-recipient cost.
    bench_send(args.send // 5, args.time_scale * 2, chunk_size=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
