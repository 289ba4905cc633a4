"""The dashboard's inputs: a webhook log (file or directory) and a send ledger (journal or CSV)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["frame", "load_events", "load_experiments", "load_sends"]


def frame(obj: Any) -> pd.DataFrame:
    """The DataFrame behind an ``EventLog``-like object (``.df``) or the frame itself."""
    df = getattr(obj, "df", obj)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a DataFrame or an EventLog, got {type(obj).__name__}")
    return df


def load_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Events of a webhook log file, or of every ``*.jsonl`` log in a directory.

    Rows the reader could not use are in ``read_webhook_log(path).rejected``; the dashboard
    shows the events only.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"webhook log {p} does not exist; pass a .jsonl file or a directory"
        )
    files: Sequence[Path] = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    if not files:
        raise FileNotFoundError(f"no *.jsonl webhook log in directory {p}")
    from ..events import read_webhook_log

    return frame(read_webhook_log(list(files)))


def load_sends(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The send ledger from a SQLite journal, or from a CSV export of it (``.csv``)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"send journal {p} does not exist")
    if p.suffix.lower() == ".csv":
        df = pd.read_csv(
            p,
            dtype={"campaign_id": "string", "external_id": "string", "phone": "string"},
            keep_default_na=True,
        )
        df["sent_at"] = pd.to_datetime(df["sent_at"], utc=True, format="ISO8601")
        for col in ("message_id", "longcode_id", "chunk"):
            if col in df:
                df[col] = df[col].astype("Int64")
        return df
    from ..campaigns import Journal

    journal = Journal(p)
    try:
        return journal.sends()
    finally:
        journal.close()


def load_experiments(path: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The experiments of a SQLite journal (``read_experiments``); ``None`` for a CSV ledger
    (an export of the sends keeps no experiments)."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return None
    from ..campaigns import read_experiments

    return read_experiments(p)
