"""The SQLite send journal: campaigns, their chunks and recipients, and the chunk state machine.

A chunk moves ``planned -> in_flight -> sent | failed | unknown``; ``unknown`` (and a stale
``in_flight`` left by a crash) goes back to ``planned`` or on to ``sent`` only through
reconciliation, or to ``skipped`` when the user says so. Every move is its own committed
transaction, so a crash at any instant leaves the journal true: a chunk is ``in_flight`` from
before its request leaves until its answer is recorded.

Every committed move is in the main file (``journal_mode=DELETE``, ``synchronous=FULL``), so
a copy of ``journal.sqlite`` alone, even after a SIGKILL, is true (WAL mode kept the last
moves in ``-wal``; a copy without it re-sent them). A move costs ~1 ms more than in WAL mode.

The journal never holds a secret: no API key, no webhook secret.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import JournalError
from ._journal_guard import (
    bad_state,
    claim,
    connect,
    db_error,
    is_db_error,
    loads,
    unclaim,
)
from ._manifest import MANIFEST_COLUMNS, Manifest
from ._schema import (
    ALLOWED,
    CHUNK_STATES,
    DEFAULT_JOURNAL_PATH,
    SCHEMA,
    SENDS_COLUMNS,
    SENDS_SQL,
    SKIPPED_SQL,
    ChunkState,
    explode_sends,
    iso,
    owner,
    packed,
    pid_alive,
    sends_frame,
)

__all__ = ["Journal"]


class Journal:
    """The send journal: one SQLite file holding campaigns, chunks and recipients.

    Every committed move is in that one file, so it can be copied alone. A file that is not a
    whole journal (truncated, not SQLite, damaged, a foreign ``-wal`` beside it) raises
    :class:`JournalError` naming it.

    Parameters
    ----------
    path
        The journal file; default ``./mta_journal.sqlite``. Created when missing.

    Examples
    --------
    >>> import tempfile, os
    >>> j = Journal(os.path.join(tempfile.mkdtemp(), "j.sqlite"))
    >>> j.campaigns().empty, list(j.sends().columns)[:3]
    (True, ['campaign_id', 'chunk', 'external_id'])
    >>> j.close()
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path if path is not None else DEFAULT_JOURNAL_PATH)
        self._conn = connect(self.path, SCHEMA)
        self._lock = threading.RLock()

    # -- plumbing ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the SQLite connection."""
        self._conn.close()

    @contextmanager
    def _read(self, doing: str = "reading it") -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a sqlite3 (or pandas SQL) error -> JournalError."""
        with self._lock:
            try:
                yield self._conn
            except Exception as exc:
                if is_db_error(exc):
                    raise db_error(self.path, exc, doing) from exc
                raise

    @contextmanager
    def _tx(self, doing: str = "writing to it") -> Iterator[sqlite3.Connection]:
        """One committed transaction (BEGIN IMMEDIATE: writers queue instead of failing)."""
        with self._read(doing) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with suppress(sqlite3.Error):  # the original error is the one to report
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._read() as conn:
            return list(conn.execute(sql, params).fetchall())

    # -- campaigns ---------------------------------------------------------------------------

    def has_campaign(self, campaign_id: str) -> bool:
        """Whether ``campaign_id`` is in the journal."""
        rows = self._query("SELECT 1 FROM campaigns WHERE campaign_id = ?", (campaign_id,))
        return bool(rows)

    def create_campaign(
        self,
        manifest: Manifest | Mapping[str, Any],
        chunks: Iterable[Mapping[str, Any]],
        skipped: Iterable[tuple[Any, ...]] = (),
    ) -> None:
        """Write a planned campaign in one transaction.

        ``manifest`` is a :class:`Manifest` (or a mapping of the campaigns table's columns).
        Each chunk mapping has ``chunk``, ``external_id``, ``phones`` (list of E.164, or them
        joined by newlines with ``recipients`` their count), optional ``props`` (list of JSON
        object texts aligned with ``phones``, or one JSON array text), ``timezone`` and
        ``scheduled_date``, and optional ``segments`` and ``credits`` (each recipient's,
        aligned with ``phones``: a list of ints, or ``packed_ints`` text). ``skipped`` yields
        ``(seq, phone, reason, detail)`` for recipients that are never sent.
        """
        row = manifest.to_row() if isinstance(manifest, Manifest) else manifest
        cid = str(row["campaign_id"])
        now = iso()
        cols = list(MANIFEST_COLUMNS)
        values: dict[str, Any] = {c: row.get(c) for c in cols}
        values["created_at"] = values["created_at"] or now
        values["created_by"] = values["created_by"] or owner()
        for key in ("tags", "send_window", "extra"):
            if values[key] is not None and not isinstance(values[key], str):
                values[key] = json.dumps(values[key], sort_keys=True)
        try:
            with self._tx("writing the planned campaign") as conn:
                conn.execute(
                    f"INSERT INTO campaigns ({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' for _ in cols)})",
                    [values[c] for c in cols],
                )
                ckey = int(
                    conn.execute(
                        "SELECT ckey FROM campaigns WHERE campaign_id = ?", (cid,)
                    ).fetchone()[0]
                )
                chunk_list = [packed(c) for c in chunks]
                conn.executemany(
                    "INSERT INTO chunks (campaign_id, chunk, external_id, state, recipients, "
                    "timezone, scheduled_date, updated_at) VALUES (?, ?, ?, 'planned', ?, ?, ?, ?)",
                    (
                        (
                            cid,
                            int(c["chunk"]),
                            str(c["external_id"]),
                            c["recipients"],
                            c.get("timezone"),
                            c.get("scheduled_date"),
                            now,
                        )
                        for c in chunk_list
                    ),
                )
                conn.executemany(
                    "INSERT INTO recipients (ckey, chunk, phones, props) VALUES (?, ?, ?, ?)",
                    (
                        (
                            ckey,
                            int(c["chunk"]),
                            c["phones"],
                            c["props"],
                        )
                        for c in chunk_list
                    ),
                )
                conn.executemany(
                    "INSERT INTO costs (ckey, chunk, segments, credits) VALUES (?, ?, ?, ?)",
                    (
                        (ckey, int(c["chunk"]), c["segments"], c["credits"])
                        for c in chunk_list
                        if c.get("segments") is not None and c.get("credits") is not None
                    ),
                )
                conn.executemany(
                    "INSERT INTO skipped (ckey, seq, phone, reason, detail) VALUES (?, ?, ?, ?, ?)",
                    ((ckey, *r) for r in skipped),
                )
        except JournalError as exc:
            if not isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise
            raise JournalError(
                f"Campaign {cid!r} is already in the journal {self.path}; use a new "
                "campaign_id, or resume_campaign() to continue it."
            ) from exc.__cause__

    def _campaign_row(self, campaign_id: str) -> dict[str, Any]:
        with self._read() as conn:
            cur = conn.execute("SELECT * FROM campaigns WHERE campaign_id = ?", (campaign_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            known = [r[0] for r in self._query("SELECT campaign_id FROM campaigns")][-5:]
            raise JournalError(
                f"No campaign {campaign_id!r} in the journal {self.path} "
                f"(latest campaigns: {known}). Check the campaign id and the journal path."
            )
        return dict(zip(names, row, strict=True))

    def manifest(self, campaign_id: str) -> dict[str, Any]:
        """The campaign's manifest as a dict (JSON fields decoded)."""
        out = self._campaign_row(campaign_id)
        for key in ("tags", "send_window", "extra"):
            if out.get(key):
                out[key] = loads(self.path, out[key], f"campaign {campaign_id!r} {key}")
        return out

    def read_manifest(self, campaign_id: str) -> Manifest:
        """The campaign's manifest, typed: what the send engine reads."""
        row = self.manifest(campaign_id)  # JSON decoded, or a JournalError naming the field
        try:
            return Manifest.from_row(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise JournalError(
                f"The manifest of campaign {campaign_id!r} in the send journal {self.path} is "
                f"damaged ({type(exc).__name__}: {exc}); restore the journal from a copy."
            ) from exc

    def campaigns(self) -> pd.DataFrame:
        """One row per campaign: the manifest plus counts of chunks by state."""
        with self._read() as conn:
            df = pd.read_sql_query(
                "SELECT c.campaign_id, c.created_at, c.created_by, c.message, c.sender_name, "
                "c.longcode_id, c.image, c.tags, c.send_window, c.scheduled_at, c.chunk_size, "
                "c.input_hash, c.input_source, c.recipients, c.skipped, c.chunks, c.credits, "
                "c.encoding, c.started_at, c.finished_at, "
                + ", ".join(
                    f"COALESCE(SUM(k.state = '{s}'), 0) AS chunks_{s}" for s in CHUNK_STATES
                )
                + " FROM campaigns c LEFT JOIN chunks k ON k.campaign_id = c.campaign_id "
                "GROUP BY c.campaign_id ORDER BY c.created_at",
                conn,
            )
        for col in ("created_at", "started_at", "finished_at"):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        df["longcode_id"] = df["longcode_id"].astype("Int64")
        return df

    def set_times(self, campaign_id: str, *, started: bool = False, finished: bool = False) -> None:
        """Record when a send run started (first time only) or finished."""
        now = iso()
        with self._tx() as conn:
            if started:
                conn.execute(
                    "UPDATE campaigns SET started_at = COALESCE(started_at, ?) "
                    "WHERE campaign_id = ?",
                    (now, campaign_id),
                )
            if finished:
                conn.execute(
                    "UPDATE campaigns SET finished_at = ? WHERE campaign_id = ?",
                    (now, campaign_id),
                )

    # -- run ownership -----------------------------------------------------------------------

    def acquire(self, campaign_id: str) -> None:
        """Take the campaign for this thread; fails if a live process, or another thread of
        this one, is sending it."""
        me = owner()
        claim(self.path, campaign_id)  # threads of one process share ``me``
        try:
            with self._tx() as conn:
                row = conn.execute(
                    "SELECT run_owner FROM campaigns WHERE campaign_id = ?", (campaign_id,)
                ).fetchone()
                if row is None:
                    raise JournalError(f"No campaign {campaign_id!r} in the journal {self.path}.")
                holder = row[0]
                if holder and holder != me and pid_alive(holder):
                    raise JournalError(
                        f"Campaign {campaign_id!r} is being sent by process {holder}. Wait for "
                        "it to finish (or stop it) before sending or resuming here."
                    )
                conn.execute(
                    "UPDATE campaigns SET run_owner = ? WHERE campaign_id = ?", (me, campaign_id)
                )
        except BaseException:
            unclaim(self.path, campaign_id)
            raise

    def release(self, campaign_id: str) -> None:
        """Give the campaign up (end of a send run)."""
        try:
            with self._tx() as conn:
                conn.execute(
                    "UPDATE campaigns SET run_owner = NULL WHERE campaign_id = ? AND run_owner = ?",
                    (campaign_id, owner()),
                )
        finally:
            unclaim(self.path, campaign_id)

    def check_states(self, campaign_id: str) -> None:
        """Raise JournalError when a chunk's state is not one of the chunk states: a chunk
        in a state nothing sends or settles would be skipped without a word."""
        marks = ", ".join("?" for _ in CHUNK_STATES)
        bad = self._query(
            f"SELECT chunk, state FROM chunks WHERE campaign_id = ? AND state NOT IN ({marks}) "
            "ORDER BY chunk LIMIT 5",
            (campaign_id, *CHUNK_STATES),
        )
        if bad:
            chunk, state = bad[0]
            raise JournalError(bad_state(self.path, campaign_id, chunk, state))

    # -- chunks ------------------------------------------------------------------------------

    def chunks(self, campaign_id: str) -> pd.DataFrame:
        """The campaign's chunks with their state, message id, error and times."""
        with self._read() as conn:
            df = pd.read_sql_query(
                "SELECT chunk, external_id, state, recipients, timezone, scheduled_date, "
                "message_id, error, attempts, in_flight_at, sent_at, updated_at "
                "FROM chunks WHERE campaign_id = ? ORDER BY chunk",
                conn,
                params=(campaign_id,),
            )
        df["message_id"] = df["message_id"].astype("Int64")
        return df

    def chunk_ids(self, campaign_id: str, *states: str) -> list[int]:
        """Chunk numbers in any of ``states``, in order."""
        marks = ", ".join("?" for _ in states)
        rows = self._query(
            f"SELECT chunk FROM chunks WHERE campaign_id = ? AND state IN ({marks}) ORDER BY chunk",
            (campaign_id, *states),
        )
        return [int(r[0]) for r in rows]

    def chunk(self, campaign_id: str, chunk: int) -> dict[str, Any]:
        """One chunk's row as a dict."""
        with self._read() as conn:
            cur = conn.execute(
                "SELECT * FROM chunks WHERE campaign_id = ? AND chunk = ?", (campaign_id, chunk)
            )
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        if row is None:
            raise JournalError(f"No chunk {chunk} in campaign {campaign_id!r} ({self.path}).")
        return dict(zip(names, row, strict=True))

    def chunk_recipients(
        self, campaign_id: str, chunk: int
    ) -> tuple[list[str], list[dict[str, Any]] | None]:
        """The chunk's phones (plan order) and their personalisation values (or None)."""
        rows = self._query(
            "SELECT r.phones, r.props FROM recipients r JOIN campaigns c ON c.ckey = r.ckey "
            "WHERE c.campaign_id = ? AND r.chunk = ?",
            (campaign_id, chunk),
        )
        if not rows:
            raise JournalError(f"No recipients for chunk {chunk} of campaign {campaign_id!r}.")
        phones = str(rows[0][0]).split("\n")
        what = f"personalisation values of chunk {chunk} of campaign {campaign_id!r}"
        props = loads(self.path, rows[0][1], what) if rows[0][1] else None
        if props is not None and (not isinstance(props, list) or len(props) != len(phones)):
            raise JournalError(
                f"Chunk {chunk} of campaign {campaign_id!r} is inconsistent in {self.path}: "
                f"{len(phones)} phones but {type(props).__name__} of personalisation "
                f"records ({len(props)})."
            )
        return phones, props

    def move(
        self,
        campaign_id: str,
        chunk: int,
        to_state: ChunkState,
        *,
        message_id: int | None = None,
        error: str | None = None,
        detail: str | None = None,
    ) -> str:
        """Move a chunk to ``to_state`` and commit; returns the state it left.

        Raises JournalError when the move is not allowed (for example ``planned -> sent``, or a
        chunk another run already took): the guard against sending a chunk twice.
        """
        now = iso()
        with self._tx() as conn:
            row = conn.execute(
                "SELECT state FROM chunks WHERE campaign_id = ? AND chunk = ?",
                (campaign_id, chunk),
            ).fetchone()
            if row is None:
                raise JournalError(f"No chunk {chunk} in campaign {campaign_id!r}.")
            from_state = str(row[0])
            if from_state not in CHUNK_STATES:
                raise JournalError(bad_state(self.path, campaign_id, chunk, from_state))
            if from_state not in ALLOWED[to_state]:
                raise JournalError(
                    f"Chunk {chunk} of campaign {campaign_id!r} is {from_state!r}; it cannot move "
                    f"to {to_state!r}. Another run may be sending it; reopen the journal and "
                    "use resume_campaign()."
                )
            sets = ["state = ?", "updated_at = ?"]
            params: list[Any] = [to_state, now]
            if to_state == "in_flight":
                sets += ["in_flight_at = ?", "attempts = attempts + 1", "error = NULL"]
                params.append(now)
            elif to_state == "sent":
                sets += ["sent_at = COALESCE(?, sent_at, in_flight_at)", "error = NULL"]
                params.append(now if from_state == "in_flight" else None)
                if message_id is not None:
                    sets.append("message_id = ?")
                    params.append(int(message_id))
            elif to_state in ("failed", "unknown", "planned", "skipped") and error is not None:
                sets.append("error = ?")
                params.append(error)
            conn.execute(
                f"UPDATE chunks SET {', '.join(sets)} WHERE campaign_id = ? AND chunk = ?",
                (*params, campaign_id, chunk),
            )
            conn.execute(
                "INSERT INTO chunk_moves VALUES (?, ?, ?, ?, ?, ?)",
                (campaign_id, chunk, from_state, to_state, now, detail or error),
            )
        return from_state

    def unknown_since(self, campaign_id: str, chunk: int) -> datetime | None:
        """When the chunk's outcome became unknown: its first move to ``unknown`` since it last
        went ``in_flight`` (None if it is not unknown). Its request, if it left at all, left
        before then."""
        rows = self._query(
            "SELECT MIN(at) FROM chunk_moves WHERE campaign_id = ? AND chunk = ? "
            "AND to_state = 'unknown' AND rowid > COALESCE((SELECT MAX(rowid) FROM chunk_moves "
            "WHERE campaign_id = ? AND chunk = ? AND to_state = 'in_flight'), 0)",
            (campaign_id, chunk, campaign_id, chunk),
        )
        return datetime.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    def set_scheduled_date(self, campaign_id: str, chunk: int, scheduled_date: str | None) -> None:
        """Record the ``scheduledDate`` a chunk is (about to be) sent with."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE chunks SET scheduled_date = ? WHERE campaign_id = ? AND chunk = ?",
                (scheduled_date, campaign_id, chunk),
            )

    def moves(self, campaign_id: str) -> pd.DataFrame:
        """The audit trail of chunk moves, oldest first."""
        with self._read() as conn:
            return pd.read_sql_query(
                "SELECT chunk, from_state, to_state, at, detail FROM chunk_moves "
                "WHERE campaign_id = ? ORDER BY rowid",
                conn,
                params=(campaign_id,),
            )

    # -- the send ledger ---------------------------------------------------------------------

    def sends(self, campaign_id: str | None = None) -> pd.DataFrame:
        """The send ledger: one row per recipient per campaign (the Sends contract).

        ``state`` is ``sent``, ``failed``, ``unknown`` (in flight at a crash, or no answer),
        ``skipped`` (not sent by this toolkit, see ``error``: a plan-time reason, or an unknown
        chunk the user chose not to resend) or ``planned`` (not sent yet; resume to send).
        ``segments`` and ``credits`` are the recipient's as planned, counted as SMS (or MMS):
        what the message costs if it goes by SMS; NA in a campaign planned before the journal
        kept them, and for skipped recipients.
        """
        where = "WHERE c.campaign_id = ?" if campaign_id is not None else ""
        params: tuple[Any, ...] = (campaign_id,) if campaign_id is not None else ()
        with self._read() as conn:
            rows = conn.execute(SENDS_SQL.format(where=where), params).fetchall()
            skipped = conn.execute(SKIPPED_SQL.format(where=where), params).fetchall()
        df = pd.DataFrame(rows, columns=list(SENDS_COLUMNS))
        if len(df):
            df = explode_sends(df, self.path)
        if skipped:
            df = pd.concat(
                [df, pd.DataFrame(skipped, columns=list(SENDS_COLUMNS))], ignore_index=True
            )
        return sends_frame(df)
