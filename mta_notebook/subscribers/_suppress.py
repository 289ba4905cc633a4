"""Numbers not to load: a suppression list, or the STOP replies of an event log."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import SubscriberLoadError
from ..contract.keywords import KEYWORD_DROP_PATTERN, START_WORDS, STOP_WORDS
from ..contract.phones import parse_phones
from ._columns import _find_phone, _snake
from ._read import _read_path


def _suppressed(suppress: Any, default_region: str | None) -> dict[str, str]:
    """E.164 -> why it is suppressed."""
    if suppress is None:
        return {}
    if hasattr(suppress, "df") and isinstance(suppress.df, pd.DataFrame):
        suppress = suppress.df
    if isinstance(suppress, (str, os.PathLike)):
        return _suppressed_path(Path(suppress), default_region)
    if isinstance(suppress, pd.DataFrame):
        if {"event", "phone", "text"} <= set(map(str, suppress.columns)):
            return _stops(suppress, default_region)
        columns = [str(c) for c in suppress.columns]
        col = _find_phone(columns, [_snake(c) for c in columns])
        if col is None:
            raise SubscriberLoadError(
                f"suppress=: no phone column in the DataFrame. Columns found: {columns}."
            )
        values: Iterable[Any] = suppress[suppress.columns[columns.index(col)]]
        label = "in the suppression list"
    elif isinstance(suppress, (list, tuple, set, frozenset, pd.Series, np.ndarray)):
        values = list(suppress)
        label = "in the suppression list"
    else:
        raise SubscriberLoadError(
            f"suppress= must be a list of numbers, a DataFrame, a path or an event log, got "
            f"{type(suppress).__name__}."
        )
    phones = parse_phones(list(values), default_region)["phone"].dropna()
    return dict.fromkeys(phones.tolist(), label)


def _suppressed_path(path: Path, default_region: str | None) -> dict[str, str]:
    try:
        frame: pd.DataFrame | None = _read_path(path)
    except SubscriberLoadError:
        frame = None
    if frame is not None:
        columns = [str(c) for c in frame.columns]
        snake = [_snake(c) for c in columns]
        if {"event", "phone", "text"} <= set(snake):
            frame.columns = pd.Index(snake)
            return _stops(frame, default_region)
        if _find_phone(columns, snake) is not None:
            return _suppressed(frame, default_region)
    from .._errors import WebhookLogError
    from ..events import read_webhook_log

    try:
        log = read_webhook_log(path)
    except WebhookLogError as exc:
        raise SubscriberLoadError(
            f"suppress={str(path)!r}: neither a list of phone numbers nor a webhook log ({exc})."
        ) from exc
    return _stops(log.df, default_region)


def _stops(events: pd.DataFrame, default_region: str | None) -> dict[str, str]:
    """Numbers whose latest STOP/START keyword reply is a STOP."""
    replies = events[events["event"].astype("string") == "message-reply"]
    if "occurred_at" in replies:
        replies = replies.sort_values("occurred_at", kind="stable")
    words = (
        replies["text"]
        .astype("string")
        .str.upper()
        .str.replace(KEYWORD_DROP_PATTERN, "", regex=True)
    )
    phones = parse_phones(replies["phone"], default_region)["phone"]
    last: dict[str, str] = {}
    for phone, word, text in zip(
        phones.tolist(), words.tolist(), replies["text"].tolist(), strict=True
    ):
        if pd.isna(phone) or pd.isna(word):
            continue
        if word in STOP_WORDS:
            last[phone] = f"replied {str(text).strip()!r} (opt-out keyword)"
        elif word in START_WORDS:
            last.pop(phone, None)
    return last
