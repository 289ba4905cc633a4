"""Chunks of a plan: which rows go in which ``/send``, the campaign's id from its inputs, and
each chunk's phones and personalisation packed for the journal (joined by Arrow kernels, so a
1,000,000-recipient plan builds no Python string per recipient)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import CampaignError
from ._recipients import Checked
from ._schema import packed_ints

_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def split_chunks(
    ok: np.ndarray[Any, Any],
    tz: pd.Series | None,
    chunk_size: int,
    windows: pd.Series | None = None,
) -> tuple[np.ndarray[Any, Any], list[dict[str, Any]]]:
    """Each row's chunk number (-1: not sent) and the chunks' rows and zones: in input order;
    with a window, grouped by zone set and window (a chunk has one of each; ``<NA>`` rows: no
    window, no zone). ``windows``: each row's window text where it is a region's, else NA."""
    chunk = np.full(len(ok), -1, dtype=np.int64)
    ok_idx = np.flatnonzero(ok)
    groups = None
    zones = None
    if tz is not None:
        tz_all = tz.astype("string").fillna("")
        key = tz_all
        if windows is not None:
            w = windows.astype("string").fillna("").where(tz_all != "", "")
            key = tz_all + "\x1f" + w
        tz_ok = key.to_numpy(dtype=object)[ok_idx]
        order = np.argsort(pd.factorize(tz_ok, sort=False)[0], kind="stable")
        ok_idx = ok_idx[order]
        groups = tz_ok[order]
        zones = tz_all.to_numpy(dtype=object)[ok_idx]
    rows: list[dict[str, Any]] = []
    start = 0
    while start < len(ok_idx):
        end = min(start + chunk_size, len(ok_idx))
        zone = None
        if groups is not None and zones is not None:
            group = str(groups[start])
            other = np.flatnonzero(groups[start:end] != group)
            if len(other):
                end = start + int(other[0])
            zone = str(zones[start]) or None
        number = len(rows) + 1
        chunk[ok_idx[start:end]] = number
        rows.append({"chunk": number, "rows": ok_idx[start:end], "timezone": zone})
        start = end
    return chunk, rows


def arrow_strings(series: pd.Series) -> Any:
    """A string column as an Arrow large_string array."""
    import pyarrow as pa

    return pa.array(series, from_pandas=True).cast(pa.large_string())


def input_hash(checked: Checked) -> str:
    """A hash of every field that decides who gets what: phones and placeholder values."""
    h = hashlib.sha256()
    for col_values in [checked.phones.fillna(""), *checked.values.values()]:
        buffers = arrow_strings(col_values).buffers()  # validity, offsets, characters
        h.update(memoryview(buffers[1]))
        h.update(memoryview(buffers[2]) if buffers[2] is not None else b"")
        h.update(b"\x1e")
    return h.hexdigest()


def campaign_id_for(campaign_id: str | None, inputs: Sequence[Any]) -> str:
    """``campaign_id`` checked, or by default a hash of the inputs (re-planning finds it)."""
    key = json.dumps(list(inputs), default=str)
    cid = campaign_id or "cmp-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    if not _CAMPAIGN_ID.fullmatch(cid):
        raise CampaignError(
            f"campaign_id {cid!r} must be 1-64 letters, digits, '_', '.', ':' or '-'."
        )
    return cid


def _join_runs(rows: Any, offsets: Any, sep: str) -> list[str]:
    """Join consecutive runs of an Arrow string array (``offsets`` bounds each run) with
    ``sep``, in C: no Python string per recipient."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = rows.cast(pa.large_string())
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), rows)
    out: list[str] = pc.binary_join(lists, pa.scalar(sep, pa.large_string())).to_pylist()
    return out


def _props_rows(checked: Checked, ok_idx: np.ndarray[Any, Any]) -> Any:
    """One JSON object text per sent row: its placeholder values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    large = pa.large_string()
    parts: list[Any] = []
    for i, (p, f) in enumerate(checked.facts.items()):
        enc = pa.array(
            [json.dumps(str(v), ensure_ascii=False) for v in f.uniques.tolist()], type=large
        )
        key = ("{" if i == 0 else ",") + json.dumps(p) + ":"
        parts += [pa.scalar(key, large), enc.take(f.codes[ok_idx])]
    return pc.binary_join_element_wise(*parts, pa.scalar("}", large), pa.scalar("", large))


def pack_chunks(checked: Checked, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journal's chunk mappings: each chunk's phones joined by newlines and its
    personalisation as one JSON array text (None without placeholders)."""
    import pyarrow as pa

    ok_idx = np.concatenate([r["rows"] for r in rows]) if rows else np.array([], dtype=np.int64)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r["rows"]) for r in rows])
    phone_texts = _join_runs(arrow_strings(checked.phones).take(pa.array(ok_idx)), offsets, "\n")
    props_texts: list[str | None] = [None] * len(rows)
    if checked.facts:
        joined = _join_runs(_props_rows(checked, ok_idx), offsets, ",")
        props_texts = ["[" + t + "]" for t in joined]
    return [
        {
            "chunk": r["chunk"],
            "external_id": r["external_id"],
            "timezone": r["timezone"],
            "recipients": len(r["rows"]),
            "phones": phone_texts[i],
            "props": props_texts[i],
            # as planned (SMS or MMS): what the ledger reports and cost_report bills
            "segments": packed_ints(checked.segments[r["rows"]]),
            "credits": packed_ints(checked.credits[r["rows"]]),
        }
        for i, r in enumerate(rows)
    ]
