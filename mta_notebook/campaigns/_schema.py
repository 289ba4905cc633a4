"""The journal's schema: chunk states and the moves allowed between them, the SQLite tables,
the Sends columns, and the helpers that pack rows in and frame them out.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from .._errors import JournalError

__all__ = [
    "CHUNK_STATES",
    "DEFAULT_JOURNAL_PATH",
    "SENDS_COLUMNS",
    "TEST_SUFFIX",
    "ChunkState",
    "utcnow",
]

DEFAULT_JOURNAL_PATH: Final = "mta_journal.sqlite"
#: How a test send's externalId ends (``CampaignPlan.test_send``: ``{campaign_id}-test``); the
#: analytics leave such messages out of campaign figures.
TEST_SUFFIX: Final = "-test"

ChunkState = Literal["planned", "in_flight", "sent", "failed", "unknown", "skipped"]
CHUNK_STATES: Final[tuple[str, ...]] = (
    "planned",
    "in_flight",
    "sent",
    "failed",
    "unknown",
    "skipped",
)

# Which moves are allowed: the guard that keeps two runs (or a bug) from sending a chunk twice.
ALLOWED: Final[dict[str, frozenset[str]]] = {
    "in_flight": frozenset({"planned"}),
    "sent": frozenset({"in_flight", "unknown"}),
    "failed": frozenset({"in_flight"}),
    "unknown": frozenset({"in_flight", "unknown"}),
    "planned": frozenset({"in_flight", "unknown", "failed"}),
    # Only an unknown chunk, only on the user's word (resume_campaign(unknown="skip")).
    "skipped": frozenset({"unknown"}),
}

SENDS_COLUMNS: Final[tuple[str, ...]] = (
    "campaign_id",
    "chunk",
    "external_id",
    "message_id",
    "phone",
    "sender_name",
    "longcode_id",
    "sent_at",
    "state",
    "error",
    "segments",
    "credits",
)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS campaigns (
    ckey          INTEGER PRIMARY KEY,
    campaign_id   TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    message       TEXT NOT NULL,
    sender_name   TEXT,
    longcode_id   INTEGER,
    image         TEXT,
    tags          TEXT,
    send_window   TEXT,
    scheduled_at  TEXT,
    chunk_size    INTEGER NOT NULL,
    input_hash    TEXT NOT NULL,
    input_source  TEXT,
    recipients    INTEGER NOT NULL,
    skipped       INTEGER NOT NULL,
    chunks        INTEGER NOT NULL,
    credits       INTEGER NOT NULL,
    encoding      TEXT,
    extra         TEXT,
    run_owner     TEXT,
    started_at    TEXT,
    finished_at   TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    campaign_id    TEXT NOT NULL,
    chunk          INTEGER NOT NULL,
    external_id    TEXT NOT NULL,
    state          TEXT NOT NULL,
    recipients     INTEGER NOT NULL,
    timezone       TEXT,
    scheduled_date TEXT,
    message_id     INTEGER,
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    in_flight_at   TEXT,
    sent_at        TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (campaign_id, chunk)
);
-- A chunk's recipients, packed: phones joined by newlines (E.164 has none) and their
-- personalisation values as one JSON array aligned with them. One row per chunk keeps a
-- 1,000,000-recipient plan to 2,000 inserts.
CREATE TABLE IF NOT EXISTS recipients (
    ckey        INTEGER NOT NULL,
    chunk       INTEGER NOT NULL,
    phones      TEXT NOT NULL,
    props       TEXT,
    PRIMARY KEY (ckey, chunk)
);
-- Recipients that are never sent (missing or invalid phone, duplicate, missing value, too long).
-- Each recipient's SMS segments and credits as planned (as SMS or MMS: what a fallback costs),
-- packed like the phones they align with: comma-joined. Its own table so a journal written
-- before it exists gains it on open; its campaigns have no rows here (read as NA).
CREATE TABLE IF NOT EXISTS costs (
    ckey        INTEGER NOT NULL,
    chunk       INTEGER NOT NULL,
    segments    TEXT NOT NULL,
    credits     TEXT NOT NULL,
    PRIMARY KEY (ckey, chunk)
);
CREATE TABLE IF NOT EXISTS skipped (
    ckey        INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    phone       TEXT,
    reason      TEXT NOT NULL,
    detail      TEXT,
    PRIMARY KEY (ckey, seq)
);
CREATE TABLE IF NOT EXISTS chunk_moves (
    campaign_id TEXT NOT NULL,
    chunk       INTEGER NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    at          TEXT NOT NULL,
    detail      TEXT
);
"""

# The send ledger: a chunk's packed phones (exploded by the caller), then the skipped rows.
SENDS_SQL: Final = (
    "SELECT c.campaign_id, k.chunk, k.external_id, k.message_id, r.phones, "
    "c.sender_name, c.longcode_id, "
    "CASE WHEN k.state = 'sent' THEN k.sent_at END, "
    "CASE WHEN k.state = 'in_flight' THEN 'unknown' ELSE k.state END, k.error, "
    "p.segments, p.credits "
    "FROM campaigns c JOIN chunks k ON k.campaign_id = c.campaign_id "
    "JOIN recipients r ON r.ckey = c.ckey AND r.chunk = k.chunk "
    "LEFT JOIN costs p ON p.ckey = c.ckey AND p.chunk = k.chunk "
    "{where} ORDER BY c.ckey, k.chunk"
)
SKIPPED_SQL: Final = (
    "SELECT c.campaign_id, NULL, NULL, NULL, s.phone, c.sender_name, c.longcode_id, "
    "NULL, 'skipped', s.reason || COALESCE(': ' || s.detail, ''), NULL, NULL "
    "FROM campaigns c JOIN skipped s ON s.ckey = c.ckey {where} ORDER BY c.ckey, s.seq"
)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def iso(ts: datetime | None = None) -> str:
    return (ts or utcnow()).astimezone(timezone.utc).isoformat(timespec="microseconds")


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(owner: str) -> bool:
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: assume alive, the user must decide
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # our own earlier, interrupted run
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def packed_ints(values: Any) -> str:
    """Ints aligned with a chunk's phones as text: one number when every recipient has it (the
    usual case: one text, one cost), else comma-joined.

    >>> packed_ints([1, 1, 1]), packed_ints([1, 2])
    ('1', '1,2')
    """
    arr = np.asarray(values, dtype=np.int64)
    if arr.size and bool((arr == arr[0]).all()):
        return str(int(arr[0]))
    return ",".join(map(str, arr.tolist()))


def unpacked_ints(text: str, size: int) -> list[int] | None:
    """The ``size`` ints of :func:`packed_ints` text; None when it does not hold ``size``.

    >>> unpacked_ints("1", 3), unpacked_ints("1,2", 2), unpacked_ints("1,2", 3)
    ([1, 1, 1], [1, 2], None)
    """
    parts = text.split(",")
    if not all(p.isdigit() for p in parts):
        return None
    if len(parts) == 1:
        return [int(parts[0])] * size
    return [int(p) for p in parts] if len(parts) == size else None


def packed(c: Mapping[str, Any]) -> dict[str, Any]:
    """A chunk mapping with ``phones`` as newline-joined text, ``props`` as a JSON array text."""
    out = dict(c)
    phones = c["phones"]
    if isinstance(phones, str):
        out["recipients"] = int(c["recipients"])
    else:
        out["phones"] = "\n".join(phones)
        out["recipients"] = len(phones)
    for key in ("segments", "credits"):
        value = c.get(key)
        if value is not None and not isinstance(value, str):
            out[key] = packed_ints(value)
    props = c.get("props")
    if props is not None and not isinstance(props, str):
        props = "[" + ",".join(props) + "]" if props else None
    out["props"] = props
    return out


def sends_frame(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reindex(columns=list(SENDS_COLUMNS))
    for col in ("chunk", "message_id", "longcode_id", "segments", "credits"):
        df[col] = df[col].astype("Int64")
    for col in ("campaign_id", "external_id", "phone", "sender_name", "state", "error"):
        df[col] = df[col].astype("string")
    df["sent_at"] = pd.to_datetime(df["sent_at"], utc=True, format="ISO8601")
    return df


def explode_sends(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """One ledger row per recipient from each chunk's packed phones and the costs aligned with
    them (a JournalError naming the chunk when they do not align)."""
    phones = [str(p).split("\n") for p in df["phone"]]
    sizes = np.array([len(p) for p in phones], dtype=np.int64)
    # the packed texts are dropped before repeating: copying each chunk's to every recipient
    # of it would cost a chunk's size squared
    slim = df.drop(columns=["phone", "segments", "credits"])
    out: pd.DataFrame = slim.loc[slim.index.repeat(sizes)].reset_index(drop=True)
    out["phone"] = [p for chunk in phones for p in chunk]
    for col in ("segments", "credits"):
        values: list[int | None] = []
        rows = df[["campaign_id", "chunk", col]].itertuples(index=False)
        for (cid, chunk, text), size in zip(rows, sizes.tolist(), strict=True):
            if pd.isna(text):  # planned before the journal kept costs
                values.extend([None] * size)
                continue
            parts = unpacked_ints(str(text), size)
            if parts is None:
                raise JournalError(
                    f"Chunk {chunk} of campaign {cid!r} is inconsistent in {path}: {size} "
                    f"phones but {col} {str(text)[:40]!r}. Restore the journal from a copy."
                )
            values.extend(parts)
        out[col] = pd.array(values, dtype="Int64")
    return out
