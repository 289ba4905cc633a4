"""What a person reads about a plan or a send: plain labels and counted nouns, as cards.

``plan.summary`` stays a dict for code; these are the words the notebook shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..display import HtmlRepr, card
from ..display._tables import readable_frame
from ..display._words import count
from ._reach import share_text

__all__ = ["TestSend", "identity_label", "plan_facts", "preview_table"]


def preview_table(df: pd.DataFrame) -> pd.DataFrame:
    """A preview (``plan.preview()``) with plain headers, the empty hint columns left out."""
    keep = [
        c
        for c in df.columns
        if c not in ("ucs2_chars", "hint") or df[c].fillna("").astype(str).str.len().gt(0).any()
    ]
    return readable_frame(df[keep])


def identity_label(sender_name: str | None, longcode_id: int | None) -> str:
    """``Acme``, ``Acme (longcode 101)`` or ``longcode 101``."""
    if sender_name and longcode_id is not None:
        return f"{sender_name} (longcode {longcode_id})"
    return sender_name or f"longcode {longcode_id}"


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {seconds / 60:.0f} min"


def plan_facts(
    facts: Mapping[str, Any],
    regions: Mapping[str, Mapping[str, Any]],
    send_window: tuple[str, str] | None,
    journal_path: Path,
) -> list[tuple[str, object]]:
    """A plan's figures (``CampaignPlan._facts``) as label/value pairs a person reads."""
    rows: list[tuple[str, object]] = [
        ("Identity", identity_label(facts["sender_name"], facts["longcode_id"])),
        ("Recipients", count(facts["recipients"], "recipient")),
    ]
    if facts["skipped"]:
        rows.append(("Skipped", f"{count(facts['skipped'], 'row')} (see plan.skipped)"))
    rows.append(("Credits", count(facts["credits"], "credit") + (" (MMS)" if facts["mms"] else "")))
    predicted = facts.get("predicted_imessage")
    if predicted is not None:
        text = share_text((predicted["n"], predicted["N"]))
        rows.append(("Predicted iMessage", f"{text} can get iMessage from this identity"))
    size = count(facts["chunk_size"], "recipient")
    rows.append(("Chunks", f"{count(facts['chunks'], 'chunk')} of up to {size}"))
    if facts["ucs2_recipients"]:
        rows.append(("UCS-2 texts", count(facts["ucs2_recipients"], "recipient")))
    rows.append(("Expected duration", _duration(float(facts["expected_duration_s"]))))
    rows.append(("Send window", "-".join(send_window) if send_window else "none (sends now)"))
    if regions:
        rows.append(
            (
                "Region windows",
                "; ".join(
                    f"{key} {'-'.join(r['window'])}: {count(r['recipients'], 'recipient')}"
                    for key, r in regions.items()
                ),
            )
        )
    if facts["held_for_later"]:
        first = facts["first_held_at"] or "later"
        held = count(facts["held_for_later"], "recipient")
        rows.append(("Held for later", f"{held}, the first at {first}"))
    rows.append(("Journal", str(journal_path)))
    return rows


@dataclass(frozen=True)
class TestSend(HtmlRepr):
    """The answer to a test send: who got which text from which identity, and MTA's answer
    (``.result``: ``message_id``, ``total_sent``)."""

    __test__ = False  # not a pytest test class, whatever its name

    campaign_id: str
    identity: str | int | None
    to: tuple[str, ...]
    text: str
    result: Any

    @property
    def total_sent(self) -> int:
        """How many of ``to`` MTA accepted."""
        return int(getattr(self.result, "total_sent", 0))

    @property
    def message_id(self) -> int | None:
        """MTA's message id of the test."""
        value = getattr(self.result, "message_id", None)
        return int(value) if value is not None else None

    def __repr__(self) -> str:
        return (
            f"Test send of {self.campaign_id} from {self.identity}: "
            f"{count(self.total_sent, 'message')} accepted for {', '.join(self.to)} "
            f"(message id {self.message_id})"
        )

    def as_html(self) -> str:
        """One card: the identity, the numbers, the text, MTA's answer."""
        return card(
            f"Test send of campaign {self.campaign_id} (not part of the campaign)",
            [
                ("Identity", self.identity),
                ("To", ", ".join(self.to)),
                ("Accepted", f"{self.total_sent} of {len(self.to)}"),
                ("Message id", self.message_id),
                ("Text", self.text),
            ],
            tone="ok" if self.total_sent == len(self.to) else "warn",
        )


def test_sends_html(answers: Sequence[TestSend]) -> str:
    """Several test sends (one per identity of a group) as one card."""
    table = pd.DataFrame(
        {
            "Identity": [str(a.identity) for a in answers],
            "To": [", ".join(a.to) for a in answers],
            "Accepted": [f"{a.total_sent} of {len(a.to)}" for a in answers],
            "Message id": [a.message_id for a in answers],
            "Text": [a.text for a in answers],
        }
    )
    ok = all(a.total_sent == len(a.to) for a in answers)
    return card(
        f"Test send from {count(len(answers), 'identity', plural='identities')} "
        "(not part of the campaigns)",
        tables=[("", table)],
        tone="ok" if ok else "warn",
    )
