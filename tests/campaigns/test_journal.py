"""The SQLite send journal: schema, the chunk state machine, the ledger frames."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mta_notebook import JournalError
from mta_notebook.campaigns import SENDS_COLUMNS, Journal


def _manifest(cid: str = "c1") -> dict[str, object]:
    return {
        "campaign_id": cid,
        "message": "Hi {{first_name}}",
        "sender_name": "Acme",
        "longcode_id": 101,
        "tags": {"team": "growth"},
        "chunk_size": 2,
        "input_hash": "abc",
        "recipients": 3,
        "skipped": 1,
        "chunks": 2,
        "credits": 3,
    }


def _chunks(cid: str = "c1") -> list[dict[str, object]]:
    return [
        {
            "chunk": 1,
            "external_id": f"{cid}-00001",
            "phones": ["+13125550001", "+13125550002"],
            "props": ['{"first_name":"Ann"}', '{"first_name":"Bob"}'],
        },
        {
            "chunk": 2,
            "external_id": f"{cid}-00002",
            "phones": ["+13125550003"],
            "props": ['{"first_name":"Zoë"}'],
        },
    ]


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "j.sqlite")
    j.create_campaign(_manifest(), _chunks(), [(3, "12", "invalid-phone", "not E.164")])
    return j


def test_delete_mode_and_tables(journal: Journal) -> None:
    mode = sqlite3.connect(journal.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "delete"  # every committed move in the main file
    assert journal.has_campaign("c1")
    assert not journal.has_campaign("nope")


def test_chunk_recipients_round_trip(journal: Journal) -> None:
    phones, props = journal.chunk_recipients("c1", 1)
    assert phones == ["+13125550001", "+13125550002"]
    assert props == [{"first_name": "Ann"}, {"first_name": "Bob"}]
    assert journal.chunk_recipients("c1", 2) == (["+13125550003"], [{"first_name": "Zoë"}])


def test_state_machine_happy_path(journal: Journal) -> None:
    assert journal.move("c1", 1, "in_flight") == "planned"
    assert journal.move("c1", 1, "sent", message_id=77) == "in_flight"
    row = journal.chunk("c1", 1)
    assert row["state"] == "sent"
    assert row["message_id"] == 77
    assert row["attempts"] == 1
    assert row["sent_at"] is not None
    moves = journal.moves("c1")
    assert moves[["chunk", "from_state", "to_state"]].values.tolist() == [
        [1, "planned", "in_flight"],
        [1, "in_flight", "sent"],
    ]


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ([], "sent"),  # planned -> sent skips the request
        ([], "unknown"),
        ([], "failed"),
        (["in_flight"], "in_flight"),  # a second run taking the same chunk
        (["in_flight", "sent"], "in_flight"),  # re-sending a sent chunk
        (["in_flight", "sent"], "planned"),
        ([], "skipped"),  # only an unknown chunk can be skipped
        (["in_flight"], "skipped"),
        (["in_flight", "sent"], "skipped"),
        (["in_flight", "unknown", "skipped"], "planned"),  # skipped is for good
        (["in_flight", "unknown", "skipped"], "sent"),
    ],
)
def test_forbidden_moves_raise(journal: Journal, path: list[str], bad: str) -> None:
    for state in path:
        journal.move("c1", 1, state)  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="cannot move"):
        journal.move("c1", 1, bad)  # type: ignore[arg-type]


def test_unknown_can_be_reconciled_both_ways(journal: Journal) -> None:
    journal.move("c1", 1, "in_flight")
    journal.move("c1", 1, "unknown", error="dropped")
    journal.move("c1", 1, "sent", message_id=5)
    journal.move("c1", 2, "in_flight")
    journal.move("c1", 2, "unknown", error="dropped")
    journal.move("c1", 2, "planned")
    assert journal.chunk_ids("c1", "planned") == [2]
    assert journal.chunk_ids("c1", "sent") == [1]


def test_an_unknown_chunk_skipped_on_the_users_word_shows_its_recipients_skipped(
    journal: Journal,
) -> None:
    journal.move("c1", 1, "in_flight")
    journal.move("c1", 1, "unknown", error="dropped")
    journal.move("c1", 1, "skipped", error="outcome unknown; skipped as asked")
    sends = journal.sends("c1")
    assert sends["state"].tolist() == ["skipped", "skipped", "planned", "skipped"]
    assert sends["error"].tolist()[:2] == ["outcome unknown; skipped as asked"] * 2
    assert journal.campaigns()["chunks_skipped"].tolist() == [1]


def test_unknown_since_is_when_the_outcome_became_unknown(journal: Journal) -> None:
    assert journal.unknown_since("c1", 1) is None
    journal.move("c1", 1, "in_flight")
    assert journal.unknown_since("c1", 1) is None
    journal.move("c1", 1, "unknown", error="dropped")
    first = journal.unknown_since("c1", 1)
    assert first is not None
    journal.move("c1", 1, "unknown", error="still cannot tell")  # a later look changes nothing
    assert journal.unknown_since("c1", 1) == first
    journal.move("c1", 1, "planned")
    journal.move("c1", 1, "in_flight")  # sent again: a new request, a new moment
    assert journal.unknown_since("c1", 1) is None
    journal.move("c1", 1, "unknown", error="dropped again")
    again = journal.unknown_since("c1", 1)
    assert again is not None
    assert again > first


def test_sends_follows_the_contract(journal: Journal) -> None:
    journal.move("c1", 1, "in_flight")
    journal.move("c1", 1, "sent", message_id=9)
    journal.move("c1", 2, "in_flight")
    sends = journal.sends("c1")
    assert tuple(sends.columns) == SENDS_COLUMNS
    assert len(sends) == 4
    assert sends["state"].tolist() == ["sent", "sent", "unknown", "skipped"]
    assert sends["external_id"].tolist()[:3] == ["c1-00001", "c1-00001", "c1-00002"]
    assert sends["message_id"].tolist()[:2] == [9, 9]
    assert str(sends["sent_at"].dtype).endswith("UTC]")
    assert sends["sent_at"].notna().tolist() == [True, True, False, False]
    assert (sends["sender_name"] == "Acme").all()
    assert (sends["longcode_id"] == 101).all()
    assert sends["error"].iloc[3] == "invalid-phone: not E.164"
    assert pd.isna(sends["chunk"].iloc[3])


def test_sends_segments_and_credits_per_recipient(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    chunks = _chunks()
    chunks[0] |= {"segments": [1, 2], "credits": [1, 2]}
    chunks[1] |= {"segments": [1], "credits": [1]}
    j.create_campaign(_manifest(), chunks, [(3, "12", "invalid-phone", "not E.164")])
    sends = j.sends("c1")
    assert sends["segments"].tolist()[:3] == [1, 2, 1]
    assert sends["credits"].tolist()[:3] == [1, 2, 1]
    assert str(sends["credits"].dtype) == "Int64"
    assert pd.isna(sends["credits"].iloc[3])  # skipped: never sent, never billed
    j.close()


def test_a_journal_from_before_costs_reads_them_as_na(tmp_path: Path) -> None:
    # a journal written by an earlier version: no costs table at all
    path = tmp_path / "old.sqlite"
    j = Journal(path)
    j.create_campaign(_manifest(), _chunks())
    j.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE costs")
    j = Journal(path)
    sends = j.sends("c1")
    assert tuple(sends.columns) == SENDS_COLUMNS
    assert sends["phone"].tolist() == ["+13125550001", "+13125550002", "+13125550003"]
    assert sends["segments"].isna().all()
    assert sends["credits"].isna().all()
    # and a new campaign planned into it keeps its costs
    chunks = [{"chunk": 1, "external_id": "c2-00001", "phones": ["+13125550009"]}]
    j.create_campaign(_manifest("c2"), [chunks[0] | {"segments": [2], "credits": [2]}])
    assert j.sends("c2")["credits"].tolist() == [2]
    j.close()


def test_damaged_costs_raise_naming_the_chunk(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    chunks = _chunks()
    chunks[0] |= {"segments": [1, 2], "credits": [1, 2]}
    j.create_campaign(_manifest(), chunks)
    with sqlite3.connect(j.path) as conn:
        conn.execute("UPDATE costs SET credits = '1,2,3' WHERE chunk = 1")
    with pytest.raises(JournalError, match=r"Chunk 1 of campaign 'c1' .* credits '1,2,3'"):
        j.sends()
    j.close()


def test_campaigns_frame(journal: Journal) -> None:
    journal.move("c1", 1, "in_flight")
    df = journal.campaigns()
    assert df["campaign_id"].tolist() == ["c1"]
    row = df.iloc[0]
    assert row["chunks_planned"] == 1
    assert row["chunks_in_flight"] == 1
    assert row["credits"] == 3
    assert json.loads(row["tags"]) == {"team": "growth"}
    assert str(df["created_at"].dtype).endswith("UTC]")


def test_duplicate_campaign_is_refused(journal: Journal) -> None:
    with pytest.raises(JournalError, match="already in the journal"):
        journal.create_campaign(_manifest(), _chunks(), [])
    # the failed transaction left nothing half-written
    assert len(journal.sends("c1")) == 4


def test_every_move_is_committed_for_other_readers(journal: Journal) -> None:
    journal.move("c1", 1, "in_flight")
    other = Journal(journal.path)
    assert other.chunk("c1", 1)["state"] == "in_flight"


def test_missing_campaign_error_names_the_journal(journal: Journal) -> None:
    with pytest.raises(JournalError, match="No campaign 'zzz'"):
        journal.manifest("zzz")


def test_lease_blocks_a_live_owner_and_frees_a_dead_one(journal: Journal) -> None:
    # A live process owns the campaign: this process must not send it.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = f"{os.uname().nodename}:{child.pid}"
        with journal._tx() as conn:
            conn.execute("UPDATE campaigns SET run_owner = ? WHERE campaign_id = 'c1'", (owner,))
        with pytest.raises(JournalError, match="being sent by process"):
            journal.acquire("c1")
    finally:
        child.kill()
        child.wait()
    journal.acquire("c1")  # the owner died (SIGKILL): the campaign can be taken over
    journal.release("c1")


def test_no_secret_in_the_journal(tmp_path: Path) -> None:
    from mta_notebook.campaigns import plan_campaign

    secret = "sk-live-SECRET-123"
    os.environ["MTA_API_KEY"] = secret
    try:
        plan = plan_campaign(
            pd.DataFrame({"phone": ["+13125550001"]}),
            "Hi",
            sender_name="Acme",
            journal=tmp_path / "j.sqlite",
        )
    finally:
        del os.environ["MTA_API_KEY"]
    plan.journal.close()
    assert secret.encode() not in (tmp_path / "j.sqlite").read_bytes()
    wal = tmp_path / "j.sqlite-wal"
    assert not wal.exists() or secret.encode() not in wal.read_bytes()
