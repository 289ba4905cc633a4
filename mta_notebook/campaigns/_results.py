"""The outcome of a send run: the send ledger, counts by state, and what is still open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pandas as pd

from ..display import HtmlRepr, card
from ..display._html import Tone
from ..display._words import count, verb

__all__ = ["ALREADY_SENT", "CampaignResult", "UnknownPolicy", "resume_call", "run_note"]

#: What a send of campaigns the journal shows complete says (and it sends nothing).
ALREADY_SENT: Final = "Already sent, nothing new to send"

#: What ``resume_campaign`` does with a chunk no evidence settles: keep it ``unknown`` (listed,
#: with the call that resolves it), send it again, or record it as skipped.
UnknownPolicy = Literal["keep", "resend", "skip"]


@dataclass(frozen=True)
class CampaignResult(HtmlRepr):
    """The outcome of a send run: the send ledger (``.sends``) and counts by state.

    ``unknown_chunks`` lists chunks whose outcome no evidence could settle (MTA's answer, the
    webhook log, ``GET /v3/deliveries``); ``note`` names the call that resolves them.
    """

    campaign_id: str
    sends: pd.DataFrame
    chunks: pd.DataFrame
    interrupted: bool = False
    note: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Recipients per state (sent, failed, unknown, skipped, planned)."""
        vc = self.sends["state"].value_counts()
        return {str(k): int(v) for k, v in vc.items()}

    @property
    def unknown_chunks(self) -> pd.DataFrame:
        """Chunks still unknown (or in flight): listed for the user, never re-sent silently."""
        out: pd.DataFrame = self.chunks[self.chunks["state"].isin(["unknown", "in_flight"])]
        return out

    @property
    def complete(self) -> bool:
        """True when every chunk is sent, failed or skipped (nothing planned or unknown left)."""
        return bool(self.chunks["state"].isin(["sent", "failed", "skipped"]).all())

    def __repr__(self) -> str:
        return f"CampaignResult({self.campaign_id!r}, {self.counts})"

    def as_html(self) -> str:
        """The counts, the note and the unknown chunks as one card."""
        unk = self.unknown_chunks
        tables = []
        if len(unk):
            cols = ["chunk", "external_id", "recipients", "error"]
            tables.append(("Unknown chunks (not re-sent; see the note)", unk[cols]))
        tone: Tone = "ok" if self.complete else ("error" if len(unk) else "warn")
        done = "complete" if self.complete else "not complete"
        return card(
            f"Campaign {self.campaign_id} ({done})",
            [(state.capitalize(), count(n, "recipient")) for state, n in self.counts.items()],
            tables=tables,
            notes=[self.note] if self.note else [],
            tone=tone,
        )


def resume_call(campaign_id: str, journal_path: str, unknown: str) -> str:
    """The ``resume_campaign`` call that applies ``unknown=`` to a campaign."""
    return (
        f"mta.resume_campaign({campaign_id!r}, client, journal={journal_path!r}, "
        f'unknown="{unknown}")'
    )


def run_note(
    campaign_id: str,
    chunks: pd.DataFrame,
    journal_path: str,
    unknown: UnknownPolicy,
    decided: Sequence[int],
) -> str:
    """What the user must know after a run: decisions taken, and what is still open."""
    cid = campaign_id
    parts: list[str] = []
    if decided:
        n = int(chunks.loc[chunks["chunk"].isin(decided), "recipients"].sum())
        if unknown == "skip":
            parts.append(
                f"{count(len(decided), 'chunk')} of unknown outcome ({count(n, 'recipient')}) "
                f"{verb(len(decided), 'was', 'were')} recorded as skipped, "
                "as asked: result.sends shows their recipients as 'skipped' (they may "
                "or may not have received the message)."
            )
        else:
            parts.append(
                f"{count(len(decided), 'chunk')} of unknown outcome ({count(n, 'recipient')}) "
                f"{verb(len(decided), 'was', 'were')} sent again, as asked."
            )
    unk = chunks[chunks["state"].isin(["unknown", "in_flight"])]
    if len(unk):
        parts.append(
            f"{count(len(unk), 'chunk')} ({count(int(unk['recipients'].sum()), 'recipient')}) "
            f"{verb(len(unk), 'has', 'have')} an unknown outcome and "
            f"{verb(len(unk), 'was', 'were')} not re-sent: neither MTA's answer, the webhook "
            "log (events=) nor "
            "GET /v3/deliveries shows whether they went out (see result.unknown_chunks and "
            "their error). Resume later with events= the receiver's log, or once /deliveries "
            "lists messages sent after them; or check them in the MTA dashboard and decide: "
            f"{resume_call(cid, journal_path, 'resend')} sends them again, "
            f"{resume_call(cid, journal_path, 'skip')} records them as skipped."
        )
    planned = chunks[chunks["state"] == "planned"]
    if len(planned):
        parts.append(
            f"{count(len(planned), 'chunk')} "
            f"({count(int(planned['recipients'].sum()), 'recipient')}) "
            f"{verb(len(planned), 'is', 'are')} still planned (see their error, e.g. rate "
            "limited); "
            f"mta.resume_campaign({cid!r}, client, journal={journal_path!r}) sends them."
        )
    return " ".join(parts)
