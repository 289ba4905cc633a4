"""Writing a plan to the journal, or checking it against the campaign already there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ._chunks import pack_chunks
from ._inputs import check_reuse
from ._journal import Journal
from ._manifest import Manifest
from ._recipients import Checked, skipped_rows
from ._schedule import chunk_window

__all__ = ["journal_plan"]


def journal_plan(
    journal: Journal | str | os.PathLike[str] | None,
    manifest: Manifest,
    checked: Checked,
    rows: list[dict[str, Any]],
) -> tuple[Path, str | None, dict[str, Any]]:
    """Write the plan to the journal, or check it against the campaign already there; the
    journal's path, the reuse warning when it was there, and what the journal keeps: its
    ``window``, its ``regions`` and the ``chunks`` still planned (``timezone``, ``window``,
    ``recipients``)."""
    jr = journal if isinstance(journal, Journal) else Journal(journal)
    cid = manifest.campaign_id
    try:
        if jr.has_campaign(cid):
            warning = check_reuse(jr, manifest)
            planned = jr.chunks(cid)
            planned = planned[planned["state"] == "planned"].copy()
            old = jr.read_manifest(cid)
            windows = []
            for ch in planned["chunk"].tolist():
                phones = jr.chunk_recipients(cid, int(ch))[0] if old.region_windows else [None]
                windows.append(chunk_window(phones[0], old.send_window, old.region_windows))
            planned["window"] = windows
            kept = {
                "window": old.send_window,
                "regions": dict(old.region_windows),
                "chunks": planned,
            }
            return jr.path, warning, kept
        jr.create_campaign(manifest, pack_chunks(checked, rows), skipped_rows(checked))
        chunks = pd.DataFrame(
            {
                "timezone": pd.Series([r["timezone"] for r in rows], dtype="string"),
                "window": [r["window"] for r in rows],
                "recipients": [len(r["rows"]) for r in rows],
            }
        )
        kept = {
            "window": manifest.send_window,
            "regions": dict(manifest.region_windows),
            "chunks": chunks,
        }
        return jr.path, None, kept
    finally:
        if jr is not journal:
            jr.close()
