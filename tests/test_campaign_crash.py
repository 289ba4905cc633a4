"""Crash safety: SIGKILL the sending process at random moments under sandbox faults, resume.

The sandbox runs in this process (it outlives the killed child); its ground truth is the judge.
In every run each recipient must end received exactly once, or be listed to the user as
unknown: never received twice, never silently skipped.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mta_notebook import Client, sandbox
from mta_notebook.campaigns import CampaignResult, plan_campaign, resume_campaign
from mta_notebook.journal import Journal

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "tests" / "_crash_child.py"
MESSAGE = "Hi {{first_name}}, your code is {{code}}"
RUNS = 20
RECIPIENTS = 80  # 8 chunks of 10
FAULTS: list[dict[str, Any]] = [
    {"error_before": 0.25},
    {"error_after": 0.25},
    {"drop_after": 0.25},
    {"rate_limit_burst": 0.3},
    {"error_before": 0.1, "error_after": 0.1, "drop_after": 0.1, "rate_limit_burst": 0.1},
]
GRACE = 0.3


def _recipients(run: int) -> pd.DataFrame:
    names = ["Ann", "Bob", "Zoë", "Li", "José"]
    return pd.DataFrame(
        {
            "phone": [f"+1312{run:03d}{i:04d}" for i in range(RECIPIENTS)],
            "first_name": [names[i % len(names)] for i in range(RECIPIENTS)],
            "code": [f"C{run}-{i}" for i in range(RECIPIENTS)],
        }
    )


def _wait_for_sent(journal: Journal, cid: str, k: int, child: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if len(journal.chunk_ids(cid, "sent")) >= k:
            return
        time.sleep(0.005)


def _judge(run: int, cid: str, result: CampaignResult, truth: pd.DataFrame) -> None:
    df = _recipients(run)
    rows = truth[truth["external_id"].fillna("").str.startswith(cid + "-")]
    received = Counter(rows["phone"])
    ledger = result.sends.set_index("phone")
    listed_unknown = set(ledger.index[ledger["state"] == "unknown"])
    for phone, first, code in df.itertuples(index=False):
        n = received.get(phone, 0)
        assert n <= 1, f"run {run}: {phone} received {n} times"
        if n == 0:
            assert phone in listed_unknown, f"run {run}: {phone} silently skipped"
        else:
            state = ledger.loc[phone, "state"]
            assert state in ("sent", "unknown"), f"run {run}: {phone} received but {state}"
            row = rows[rows["phone"] == phone].iloc[0]
            assert row["text"] == f"Hi {first}, your code is {code}"
            assert row["sender_name"] == "Acme"
            assert row["external_id"] == ledger.loc[phone, "external_id"]
            if state == "sent":
                assert row["message_id"] == ledger.loc[phone, "message_id"]
    assert set(received) <= set(df["phone"])


def _spawn(run: int, tmp_path: Path, base_url: str, env: dict[str, str]) -> subprocess.Popen[str]:
    csv = tmp_path / f"r{run}.csv"
    _recipients(run).to_csv(csv, index=False)
    jpath = tmp_path / f"j{run}.sqlite"
    cmd = [
        sys.executable,
        str(CHILD),
        str(csv),
        str(jpath),
        base_url,
        f"crash{run:02d}",
        str(GRACE),
    ]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    rng = random.Random(20261127)
    stats = Counter[str]()
    with sandbox.running(seed=7, time_scale=100) as sb:
        env = {**os.environ, "MTA_API_KEY": sb.api_key}
        upcoming = _spawn(0, tmp_path, sb.base_url, env)
        for run in range(RUNS):
            child = upcoming
            faults = {**FAULTS[run % len(FAULTS)], "latency_ms": 8}
            sb.set_faults(**faults)
            cid = f"crash{run:02d}"
            journal = Journal(tmp_path / f"j{run}.sqlite")
            plan = plan_campaign(
                _recipients(run),
                MESSAGE,
                sender_name="Acme",
                chunk_size=10,
                campaign_id=cid,
                journal=journal,
            )
            assert plan.summary["chunks"] == 8
            try:
                assert child.stdout is not None
                assert child.stdin is not None
                assert child.stdout.readline().strip() == "READY"
                child.stdin.write("GO\n")
                child.stdin.flush()
                assert child.stdout.readline().strip() == "START"
                if run + 1 < RUNS:  # warm the next child up while this one runs
                    upcoming = _spawn(run + 1, tmp_path, sb.base_url, env)
                # a random point: after k chunks are journaled sent, plus a random sub-delay
                _wait_for_sent(journal, cid, rng.randrange(0, 7), child)
                time.sleep(rng.uniform(0.0, 0.04))
                if child.poll() is None:
                    stats["killed_mid_send"] += 1
                child.send_signal(signal.SIGKILL)
            finally:
                child.kill()
                _, err = child.communicate(timeout=30)
            assert child.returncode in (-signal.SIGKILL, 0), err[-2000:]
            states = Counter(journal.chunks(cid)["state"])
            stats["in_flight_at_kill"] += states.get("in_flight", 0)
            stats["unknown_at_kill"] += states.get("unknown", 0)

            with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
                # resumed in-process, still under faults; then as a user would, once more
                result = resume_campaign(
                    cid, client, journal=journal, progress=False, grace_period=GRACE
                )
                if not result.complete:
                    stats["second_resume"] += 1
                    sb.set_faults(error_before=0, error_after=0, drop_after=0, rate_limit_burst=0)
                    result = resume_campaign(
                        cid, client, journal=journal, progress=False, grace_period=GRACE
                    )
            stats["recipients_unknown"] += result.counts.get("unknown", 0)
            moves = journal.moves(cid)
            stats["reconciled_as_sent"] += int(
                ((moves["from_state"] == "unknown") & (moves["to_state"] == "sent")).sum()
            )
            stats["reconciled_as_planned"] += int(
                ((moves["from_state"] == "unknown") & (moves["to_state"] == "planned")).sum()
            )
            _judge(run, cid, result, pd.DataFrame(sb.ground_truth()))
            journal.close()
    print(dict(stats))
    # the kills landed mid-campaign, and both reconciliation outcomes were exercised
    assert stats["killed_mid_send"] >= RUNS // 2
    assert stats["reconciled_as_sent"] > 0
    assert stats["reconciled_as_planned"] > 0
