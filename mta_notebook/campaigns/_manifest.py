"""The plan as the send engine reads it: a typed manifest, one row of the journal's campaigns.

``plan_campaign`` writes a :class:`Manifest`; the engine reads it back with
``Journal.read_manifest`` and uses its attributes (``manifest.sender_name``), never a decoded
dict. Lists and mappings are kept as JSON text in the row (``tags``, ``send_window``, ``extra``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Final

from ..contract.assumptions import SmsOver160

__all__ = ["MANIFEST_COLUMNS", "Manifest", "shared_fields"]

#: The campaigns table's columns a manifest fills (the rest are the run's: owner, times).
MANIFEST_COLUMNS: Final[tuple[str, ...]] = (
    "campaign_id",
    "created_at",
    "created_by",
    "message",
    "sender_name",
    "longcode_id",
    "image",
    "tags",
    "send_window",
    "scheduled_at",
    "chunk_size",
    "input_hash",
    "input_source",
    "recipients",
    "skipped",
    "chunks",
    "credits",
    "encoding",
    "extra",
)


@dataclass(frozen=True)
class Manifest:
    """What a campaign sends, to whom (by hash) and how: everything a resumed run needs.

    ``created_at`` and ``created_by`` are filled by the journal when left out.
    """

    campaign_id: str
    message: str
    sender_name: str | None
    longcode_id: int | None
    chunk_size: int
    input_hash: str
    recipients: int
    skipped: int
    chunks: int
    credits: int
    image: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    send_window: tuple[str, str] | None = None
    scheduled_at: datetime | None = None
    input_source: str | None = None
    encoding: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    placeholders: tuple[str, ...] = ()
    sms_over_160: SmsOver160 | None = None
    source_sha256: str | None = None
    #: E.164 prefix to the window of the numbers starting with it (longest prefix wins).
    region_windows: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """The campaigns-table row (``MANIFEST_COLUMNS``), JSON fields as text."""
        extra: dict[str, Any] = {
            "source_sha256": self.source_sha256,
            "placeholders": list(self.placeholders),
            "sms_over_160": self.sms_over_160,
        }
        if self.region_windows:
            extra["region_windows"] = {k: list(v) for k, v in self.region_windows.items()}
        row: dict[str, Any] = {c: getattr(self, c, None) for c in MANIFEST_COLUMNS}
        row["tags"] = json.dumps(dict(self.tags), sort_keys=True)
        row["send_window"] = json.dumps(list(self.send_window)) if self.send_window else None
        row["scheduled_at"] = self.scheduled_at.isoformat() if self.scheduled_at else None
        row["extra"] = json.dumps(extra, sort_keys=True)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Manifest:
        """A manifest from a campaigns-table row (JSON fields as text or decoded)."""

        def decoded(key: str) -> Any:
            value = row.get(key)
            return json.loads(value) if isinstance(value, str) and value else value

        extra: Mapping[str, Any] = decoded("extra") or {}
        window = decoded("send_window")
        scheduled = row.get("scheduled_at")
        longcode = row.get("longcode_id")
        return cls(
            campaign_id=str(row["campaign_id"]),
            message=str(row["message"]),
            sender_name=row.get("sender_name"),
            longcode_id=int(longcode) if longcode is not None else None,
            chunk_size=int(row["chunk_size"]),
            input_hash=str(row["input_hash"]),
            recipients=int(row["recipients"]),
            skipped=int(row["skipped"]),
            chunks=int(row["chunks"]),
            credits=int(row["credits"]),
            image=row.get("image"),
            tags={str(k): str(v) for k, v in (decoded("tags") or {}).items()},
            send_window=(str(window[0]), str(window[1])) if window else None,
            scheduled_at=datetime.fromisoformat(scheduled) if scheduled else None,
            input_source=row.get("input_source"),
            encoding=row.get("encoding"),
            created_at=row.get("created_at"),
            created_by=row.get("created_by"),
            placeholders=tuple(extra.get("placeholders") or ()),
            sms_over_160=extra.get("sms_over_160"),
            source_sha256=extra.get("source_sha256"),
            region_windows={
                str(k): (str(v[0]), str(v[1]))
                for k, v in (extra.get("region_windows") or {}).items()
            },
        )


def shared_fields(source: object, target: type[Any]) -> dict[str, Any]:
    """The values of ``source``'s attributes named like fields of the dataclass ``target``:
    what a manifest copies from the inputs, and a plan from its manifest."""
    return {f.name: getattr(source, f.name) for f in fields(target) if hasattr(source, f.name)}
