"""The journal as a file (issue 14): a copy of the one file after a SIGKILL is a true journal,
a foreign ``-wal`` is refused, every damaged journal (truncated, random bytes, bad JSON, an
unknown chunk state) raises JournalError naming it, and two threads of one process sending
one plan send everybody once.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mta_notebook import Client, JournalError
from mta_notebook.campaigns import Journal, plan_campaign, resume_campaign

from .test_campaign_crash import (
    CLOCK_MARGIN_S,
    MESSAGE,
    _kill,
    _recipients,
    _spawn,
    _start,
    _wait_for_sent,
)


def _plan(path: Path, n: int = 60, cid: str = "c1") -> Path:
    plan_campaign(
        _recipients(7, n), MESSAGE, sender_name="Acme", chunk_size=10, campaign_id=cid, journal=path
    )
    return path


def _received(sb: Any, cid: str) -> Counter[str]:
    truth = pd.DataFrame(sb.ground_truth())
    if truth.empty:
        return Counter()
    rows = truth[truth["external_id"].fillna("").str.startswith(cid + "-")]
    return Counter(rows["phone"])


def test_copy_of_the_main_file_after_sigkill_resumes_without_resending(
    tmp_path: Path, start_sandbox: Any
) -> None:
    # SIGKILL after 8 of 20 chunks, copy only journal.sqlite, resume from the copy: with the
    # moves left in -wal the copy said "planned" and 80 of 200 recipients got it twice.
    sb = start_sandbox(seed=3, time_scale=100)
    sb.set_faults(latency_ms=15)
    run, n, cid = 40, 200, "crash40"
    df = _recipients(run, n)
    jpath = tmp_path / f"j{run}.sqlite"
    journal = Journal(jpath)
    plan_campaign(df, MESSAGE, sender_name="Acme", chunk_size=10, campaign_id=cid, journal=journal)
    child = _spawn(run, tmp_path, sb.base_url, {**os.environ, "MTA_API_KEY": sb.api_key}, df)
    try:
        _start(child)
        _wait_for_sent(journal, cid, 8, child)
    finally:
        _kill(child)
    sent_before = len(journal.chunk_ids(cid, "sent"))
    assert 8 <= sent_before < 20, sent_before  # killed mid-campaign
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    # the main file only, before anything closes the original (closing the last connection
    # of a WAL journal checkpoints it, which hid the bug)
    shutil.copy(jpath, elsewhere / "journal.sqlite")
    journal.close()
    assert not list(elsewhere.glob("*-wal"))

    copy = Journal(elsewhere / "journal.sqlite")
    assert len(copy.chunk_ids(cid, "sent")) == sent_before  # every committed move is there
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        result = resume_campaign(
            cid, client, journal=copy, progress=False, clock_margin_s=CLOCK_MARGIN_S
        )
    copy.close()
    received = _received(sb, cid)
    assert max(received.values()) == 1, [p for p, k in received.items() if k > 1][:5]
    assert set(received) == set(df["phone"])  # nobody skipped
    assert result.complete
    assert result.counts == {"sent": n}


def test_a_wal_beside_the_journal_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    # Another journal (WAL mode, as earlier versions kept it) with moves still in its -wal.
    other = tmp_path / "other.sqlite"
    _plan(other)
    conn = sqlite3.connect(other, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("UPDATE chunks SET state = 'skipped' WHERE campaign_id = 'c1'")
    mine = _plan(tmp_path / "journal.sqlite")
    # SQLite replays any valid -wal it finds beside a file: all chunks would turn skipped.
    shutil.copy(tmp_path / "other.sqlite-wal", tmp_path / "journal.sqlite-wal")
    conn.close()
    with pytest.raises(JournalError) as err:
        Journal(mine)
    text = str(err.value)
    assert "journal.sqlite-wal" in text
    assert "is not part of it" in text
    assert "copy journal.sqlite alone" in text
    (tmp_path / "journal.sqlite-wal").unlink()
    with Journal(mine) as j:
        assert j.chunk_ids("c1", "planned") == [1, 2, 3, 4, 5, 6]


def test_a_wal_mode_journal_of_an_earlier_version_keeps_its_wal_and_is_converted(
    tmp_path: Path,
) -> None:
    path = _plan(tmp_path / "old.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("UPDATE chunks SET state = 'failed' WHERE chunk = 1")  # only in its -wal
    # the process dies without closing: the -wal stays beside the file
    shutil.copy(path, tmp_path / "crashed.sqlite")
    shutil.copy(tmp_path / "old.sqlite-wal", tmp_path / "crashed.sqlite-wal")
    conn.close()
    crashed = tmp_path / "crashed.sqlite"
    with Journal(crashed) as j:
        assert j.chunk_ids("c1", "failed") == [1]
    assert not (tmp_path / "crashed.sqlite-wal").exists()
    assert crashed.read_bytes()[18] == 1  # rollback mode from now on
    shutil.copy(crashed, tmp_path / "copied.sqlite")
    with Journal(tmp_path / "copied.sqlite") as j:
        assert j.chunk_ids("c1", "failed") == [1]


def test_moves_are_in_the_main_file_and_no_wal_is_written(tmp_path: Path) -> None:
    path = _plan(tmp_path / "journal.sqlite")
    with Journal(path) as j:
        j.move("c1", 1, "in_flight")
        # a copy taken now, while the journal is open, has the move
        shutil.copy(path, tmp_path / "copy.sqlite")
        assert not (tmp_path / "journal.sqlite-wal").exists()
    with Journal(tmp_path / "copy.sqlite") as c:
        assert c.chunk_ids("c1", "in_flight") == [1]


def _damaged(tmp_path: Path) -> dict[str, Path]:
    data = _plan(tmp_path / "good.sqlite", n=300).read_bytes()
    rng = random.Random(14)
    cases = {
        "random-bytes": rng.randbytes(len(data)),
        "truncated-mid-page": data[: len(data) // 2 + 100],
        "truncated-at-a-page": data[: len(data) - 4096],
        "sqlite-header-then-noise": data[:16] + rng.randbytes(len(data) - 16),
        "a-page-of-noise": data[: 3 * 4096] + rng.randbytes(4096) + data[4 * 4096 :],
    }
    out = {}
    for name, blob in cases.items():
        out[name] = tmp_path / f"{name}.sqlite"
        out[name].write_bytes(blob)
    return out


def _use(path: Path) -> None:
    with Journal(path) as j:
        j.campaigns()
        j.chunks("c1")
        j.sends("c1")
        j.read_manifest("c1")
        j.chunk_recipients("c1", 5)


def test_each_damaged_journal_raises_journal_error_naming_it(tmp_path: Path) -> None:
    for name, path in _damaged(tmp_path).items():
        with pytest.raises(JournalError, match=re.escape(str(path))) as err:
            _use(path)
        assert not isinstance(err.value, sqlite3.Error), name
        assert "copy" in str(err.value).lower(), (name, str(err.value))


def test_bad_json_in_props_or_manifest_raises_journal_error(tmp_path: Path) -> None:
    path = _plan(tmp_path / "journal.sqlite")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE recipients SET props = '[{\"first_name\": ' WHERE chunk = 2")
        conn.execute("UPDATE campaigns SET tags = '{not json'")
    with Journal(path) as j:
        with pytest.raises(JournalError, match="personalisation values of chunk 2") as err:
            j.chunk_recipients("c1", 2)
        assert str(path) in str(err.value)
        for read in (j.manifest, j.read_manifest):
            with pytest.raises(JournalError, match=r"campaign 'c1' tags.*not valid JSON"):
                read("c1")


def test_an_unknown_chunk_state_is_an_error_never_a_skip(
    tmp_path: Path, start_sandbox: Any
) -> None:
    # 'SENT' is no state: the chunk was silently skipped, its 10 recipients never sent.
    sb = start_sandbox(seed=5, time_scale=100)
    path = _plan(tmp_path / "journal.sqlite")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE chunks SET state = 'SENT' WHERE chunk = 3")
    with (
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
        pytest.raises(JournalError) as err,
    ):
        resume_campaign("c1", client, journal=path, progress=False)
    text = str(err.value)
    assert "Chunk 3 of campaign 'c1'" in text
    assert "'SENT'" in text
    assert "planned, in_flight, sent, failed, unknown, skipped" in text
    assert not _received(sb, "c1")  # refused before anything was sent
    with Journal(path) as j, pytest.raises(JournalError, match="'SENT'"):
        j.move("c1", 3, "in_flight")


def test_two_threads_sending_one_plan_send_everybody_once(
    tmp_path: Path, start_sandbox: Any
) -> None:
    # Both threads were the same run owner (one process): both sent, collided on the chunk
    # moves, aborted, and left 180 of 200 unsent.
    sb = start_sandbox(seed=9, time_scale=100)
    sb.set_faults(latency_ms=20)
    df = _recipients(41, 200)
    jpath = tmp_path / "journal.sqlite"
    plan = plan_campaign(
        df, MESSAGE, sender_name="Acme", chunk_size=10, campaign_id="t1", journal=jpath
    )
    gate = threading.Barrier(2)
    outcomes: list[Any] = []

    def send() -> None:
        with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
            gate.wait()
            try:
                outcomes.append(
                    plan.send(client, confirm=True, progress=False, clock_margin_s=CLOCK_MARGIN_S)
                )
            except JournalError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 2
    errors = [o for o in outcomes if isinstance(o, JournalError)]
    results = [o for o in outcomes if not isinstance(o, JournalError)]
    assert len(errors) == 1, outcomes  # they overlapped: the second one was told
    assert "is being sent by thread" in str(errors[0])
    assert results[0].complete
    assert results[0].counts == {"sent": 200}
    received = _received(sb, "t1")
    assert received == Counter(df["phone"])  # everybody, once
    # the claim is given back: a later send finds nothing left to send
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        again = plan.send(client, confirm=True, progress=False)
    assert again.counts == {"sent": 200}
    assert _received(sb, "t1") == received
