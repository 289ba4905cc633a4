"""What keeps the journal file honest: checks before SQLite opens it, typed errors for what
SQLite or JSON cannot read in it, and the run claim between threads of one process.

The journal keeps every committed move in its main file (``journal_mode=DELETE``): there is
never a ``-wal`` of ours beside it, so copying the one file copies the whole journal. SQLite
would fold any ``-wal`` it finds beside the file into it, even one copied there from another
journal, so such a file is refused before SQLite sees it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .._errors import JournalError

__all__ = ["bad_state", "check_file", "claim", "connect", "db_error", "loads", "unclaim"]

_MAGIC = b"SQLite format 3\x00"
_ROLLBACK = 1  # file format byte 18: 1 = rollback journal (ours), 2 = WAL (earlier versions)


def check_file(path: Path) -> None:
    """Refuse a file that is not a whole journal, before SQLite opens it.

    A file that is not SQLite, or is shorter than its header says (truncated mid-page or at
    a page boundary), and a ``-wal`` beside a journal that keeps no WAL (not ours: SQLite
    would replay it into this journal) each raise :class:`JournalError`.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return  # SQLite writes a new journal into an empty file
    with path.open("rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(_MAGIC):
        raise JournalError(
            f"{path} is not a send journal (not a SQLite file: {size} bytes that do not start "
            "with the SQLite header). Pass journal= the journal file, or copy it again."
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only when the two change counters agree (SQLite's rule).
    counted = header[24:28] == header[92:96]
    if page_size < 512 or size % page_size or (counted and size < pages * page_size):
        whole = f"{pages * page_size} bytes" if counted else f"a multiple of {page_size} bytes"
        raise JournalError(
            f"The send journal {path} is truncated: {size} bytes where its header says "
            f"{whole}. Copy the whole file again from where it was written."
        )
    wal = path.with_name(path.name + "-wal")
    if header[18] == _ROLLBACK and wal.exists() and wal.stat().st_size > 0:
        raise JournalError(
            f"{wal} is beside the send journal {path} but is not part of it: this journal "
            f"keeps every move in {path.name} itself and never writes a -wal, so SQLite would "
            f"replay moves from another journal into it. Move {wal.name} away and open the "
            f"journal again; to copy a journal, copy {path.name} alone."
        )


def connect(path: Path, schema: str) -> sqlite3.Connection:
    """Open (or create) the journal at ``path``, kept in DELETE mode, with ``schema``."""
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"Cannot create the folder of the journal {path}: {exc}") from exc
    check_file(path)
    try:
        conn = sqlite3.connect(
            str(path), isolation_level=None, timeout=30.0, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise JournalError(
            f"Cannot open the send journal {path}: {exc}. Check the path is writable "
            "and not held by another program."
        ) from exc
    try:
        # DELETE: a commit is in the main file when it returns (a journal of an earlier
        # version, in WAL mode, has its -wal folded in here and is kept so from now on).
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if str(mode).lower() != "delete":
            raise JournalError(
                f"The send journal {path} is open in {mode} mode in another program "
                "(an earlier version of this toolkit?). Close it there and open it again."
            )
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(schema)
    except sqlite3.Error as exc:
        conn.close()
        raise db_error(path, exc, "opening it") from exc
    except JournalError:
        conn.close()
        raise
    return conn


def db_error(path: Path, exc: BaseException, doing: str) -> JournalError:
    """A :class:`JournalError` for a ``sqlite3`` (or pandas SQL) error, naming the file."""
    # pandas wraps the sqlite3 error in its own, with the whole SQL: the cause says it.
    cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else exc
    text = f"{type(cause).__name__}: {cause}"
    if "locked" in str(cause) or "busy" in str(cause):
        hint = "Another program holds it; close it (or wait for its send) and try again."
    else:
        hint = (
            "The file is damaged or not a journal: copy it again from where it was written, "
            "or restore a backup."
        )
    return JournalError(f"The send journal {path} failed while {doing} ({text}). {hint}")


def loads(path: Path, text: Any, what: str) -> Any:
    """``json.loads`` of a stored value, or a :class:`JournalError` naming the file and field."""
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise JournalError(
            f"The send journal {path} holds {what} that is not valid JSON ({exc}). The file "
            "was edited or damaged: restore it from a copy made by this toolkit."
        ) from exc


# -- the run claim between threads of one process --------------------------------------------
# The journal's run_owner names a process; threads of one process share it, so this registry
# keeps a second thread from sending a campaign the first is sending.

_claims: dict[tuple[str, str], str] = {}
_claims_lock = threading.Lock()


def _key(path: Path, campaign_id: str) -> tuple[str, str]:
    return (str(path.resolve()), campaign_id)


def claim(path: Path, campaign_id: str) -> None:
    """Claim the campaign for this thread; JournalError when another thread has it."""
    me = threading.current_thread().name
    with _claims_lock:
        holder = _claims.get(_key(path, campaign_id))
        if holder is not None:
            raise JournalError(
                f"Campaign {campaign_id!r} is being sent by thread {holder!r} of this process "
                f"(journal {path}). Wait for that send to finish; it sends every planned "
                "chunk, and a send afterwards finds nothing left to send."
            )
        _claims[_key(path, campaign_id)] = me


def unclaim(path: Path, campaign_id: str) -> None:
    with _claims_lock:
        _claims.pop(_key(path, campaign_id), None)


def is_db_error(exc: BaseException) -> bool:
    import pandas as pd

    return isinstance(exc, sqlite3.Error | pd.errors.DatabaseError)


def bad_state(path: Path, campaign_id: str, chunk: int, state: Any) -> str:
    """The error for a chunk whose state is not a chunk state."""
    from ._schema import CHUNK_STATES as states

    return (
        f"Chunk {chunk} of campaign {campaign_id!r} in the send journal {path} has the state "
        f"{state!r}, which is not a chunk state (allowed: {', '.join(states)}). The "
        "journal was edited or damaged; nothing is sent until it is repaired: set the state "
        "to what the chunk really is (for example 'unknown' if you do not know whether it "
        "went), or restore the journal from a copy."
    )
