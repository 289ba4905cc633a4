"""MTA's delivery statuses: code or name -> documented name -> outcome, and which are final.

Source: "MTA Delivery Status Codes", developers.mobile-text-alerts.com/tutorials/webhooks (the
``status`` of a ``delivery-status`` webhook), and the ``filters[status]`` values of
``GET /v3/deliveries`` (developers.mobile-text-alerts.com/check-delivery-status); see
``shared/reference/mta-api.md`` §0a. Codes 14 and up exist but could not be read: they keep
their raw value with outcome ``unknown``, never guessed.

>>> resolve_status(4)
StatusInfo(status_code='4', status='delivered', outcome='delivered', is_final=True)
>>> resolve_status(" Delivery_Rejected ").status, resolve_status("8").outcome
('delivery_rejected', 'failed')
>>> resolve_status(42)
StatusInfo(status_code='42', status='42', outcome='unknown', is_final=False)

A code is ASCII digits with an optional sign (``"+04"`` is 4; ``"٣"`` or ``"+-4"`` are not codes
but unmapped text). A name matches in any case, with spaces, hyphens or underscores between its
words (:func:`status_key`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CODE_PATTERN",
    "DELIVERIES_FILTER_STATUSES",
    "DELIVERY_STATUSES",
    "FINAL_OUTCOMES",
    "OUTCOMES",
    "STATUS_BY_CODE",
    "STATUS_BY_NAME",
    "Outcome",
    "Status",
    "StatusInfo",
    "precedence",
    "resolve_status",
    "status_key",
    "status_label",
]

Outcome = Literal["delivered", "failed", "unconfirmed", "pending", "unknown"]

#: Every outcome, in the order reports show them.
OUTCOMES: Final[tuple[Outcome, ...]] = ("delivered", "failed", "unconfirmed", "pending", "unknown")
#: Outcomes MTA will not change again. ``unknown`` is not final: MTA may still update it.
FINAL_OUTCOMES: Final[frozenset[str]] = frozenset({"delivered", "failed", "unconfirmed"})


@dataclass(frozen=True)
class Status:
    """One documented status: its webhook code (``None`` for a ``/deliveries`` filter name)."""

    code: int | None
    name: str  # as MTA documents it, e.g. "DELIVERY_REJECTED" or "undeliverable"
    outcome: Outcome
    meaning: str
    #: Tie-break when two events of a message carry no usable order (same time, or undated):
    #: the higher wins. The lifecycle runs 1 -> 2 -> 3 -> a final status.
    rank: int

    @property
    def key(self) -> str:
        """The name in lower snake case, as the Events table spells it (``delivery_failed``)."""
        return status_key(self.name)

    @property
    def is_final(self) -> bool:
        return self.outcome in FINAL_OUTCOMES

    @property
    def label(self) -> str:
        """``DELIVERY_REJECTED (blocked by the carrier)``: what failure tables show."""
        return f"{self.name} ({self.meaning})" if self.meaning else self.name


def status_key(name: str) -> str:
    """A status name in lower snake case (``"Delivery Failed"`` -> ``"delivery_failed"``)."""
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


#: The webhook codes, exactly as documented (mta-api.md §0a).
DELIVERY_STATUSES: Final[tuple[Status, ...]] = (
    Status(1, "QUEUED", "pending", "accepted, waiting to go out", 1),
    Status(2, "SENDING", "pending", "being handed to the provider", 2),
    Status(3, "SENT", "pending", "sent to the carrier, not yet confirmed", 3),
    Status(4, "DELIVERED", "delivered", "the carrier confirmed delivery", 9),
    Status(5, "SENDING_FAILED", "failed", "failed on the provider's side", 8),
    Status(6, "DELIVERY_FAILED", "failed", "sent to the carrier, not delivered", 8),
    Status(7, "DELIVERY_UNCONFIRMED", "unconfirmed", "no answer from the carrier", 7),
    Status(8, "DELIVERY_REJECTED", "failed", "blocked by the carrier", 8),
    Status(9, "UNDELIVERED", "failed", "handset off or out of coverage", 8),
    Status(10, "INVALID_NUMBER", "failed", "not a valid number", 8),
    Status(11, "STOPPED_NUMBER", "failed", "the number opted out (STOP)", 8),
    Status(12, "LANDLINE", "failed", "a landline cannot receive texts", 8),
    Status(13, "SEND_REJECTED", "failed", "blocked by the provider", 8),
)

#: The six ``filters[status]`` names of ``GET /v3/deliveries`` (not webhook codes). Where a name
#: is also a webhook status (sent, delivered, undelivered) the outcome agrees.
DELIVERIES_FILTER_STATUSES: Final[tuple[Status, ...]] = (
    Status(None, "sent", "pending", "", 3),
    Status(None, "delivered", "delivered", "", 9),
    Status(None, "undelivered", "failed", "", 8),
    Status(None, "undeliverable", "failed", "", 8),
    Status(None, "rejected", "failed", "", 8),
    Status(None, "unknown", "unknown", "", 0),
)

STATUS_BY_CODE: Final[Mapping[int, Status]] = {s.code: s for s in DELIVERY_STATUSES if s.code}
#: Lower-snake names -> status; the webhook names win where a filter name is the same word.
STATUS_BY_NAME: Final[Mapping[str, Status]] = {
    **{s.key: s for s in DELIVERIES_FILTER_STATUSES},
    **{s.key: s for s in DELIVERY_STATUSES},
}

#: A raw status that is a code (matched in full; ASCII digits only, as ``int()`` reads them).
CODE_PATTERN: Final = r"[+-]?[0-9]+"
_CODE: Final = re.compile(CODE_PATTERN)

#: Rank of a raw value that maps to nothing (kept, outcome unknown).
_UNMAPPED_RANK: Final = 0


@dataclass(frozen=True)
class StatusInfo:
    """What the Events table stores for one raw status value."""

    status_code: str | None  # the raw value as text, exactly as received (trimmed)
    status: str | None  # the documented name in lower snake case, or the raw value if unmapped
    outcome: Outcome | None
    is_final: bool


def resolve_status(
    value: object,
    *,
    codes: Mapping[int, Status] = STATUS_BY_CODE,
    names: Mapping[str, Status] = STATUS_BY_NAME,
) -> StatusInfo:
    """Map a raw ``status`` (a code as number or text, or a name in any case) through the table.

    ``None``, booleans and blank give an all-``None`` answer; an unmapped value keeps its raw
    text as ``status`` with outcome ``unknown``. ``codes`` and ``names`` (lower-snake keys)
    replace the documented tables, e.g. with a user's additions.
    """
    if value is None or isinstance(value, bool):
        return StatusInfo(None, None, None, False)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    raw = str(value).strip()
    if not raw:
        return StatusInfo(None, None, None, False)
    status = codes.get(int(raw)) if _CODE.fullmatch(raw) else names.get(status_key(raw))
    if status is None:
        return StatusInfo(raw, raw, "unknown", False)
    return StatusInfo(raw, status.key, status.outcome, status.is_final)


def precedence(status: str | None) -> int:
    """The tie-break rank of a status name (``resolve_status(...).status``); 0 if unmapped."""
    found = STATUS_BY_NAME.get(status) if status is not None else None
    return found.rank if found is not None else _UNMAPPED_RANK


def status_label(status: str | None) -> str:
    """The readable label of a status name, e.g. ``DELIVERY_REJECTED (blocked by the carrier)``.

    >>> status_label("delivery_rejected")
    'DELIVERY_REJECTED (blocked by the carrier)'
    >>> status_label("42")
    'status 42 (not in the documented table)'
    """
    if status is None:
        return "no status yet"
    found = STATUS_BY_NAME.get(status)
    if found is None:
        return f"status {status} (not in the documented table)"
    return found.label
