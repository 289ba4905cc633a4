"""The plan: a frozen value of what a campaign will send, built by :func:`plan_campaign`.

Planning checks every filled text, chunks the recipients, writes the campaign to the journal
(a typed :class:`Manifest` and the packed chunks) and returns a :class:`CampaignPlan`. The plan
holds values only, not a journal connection: showing it runs no SQL; ``plan.journal`` opens the
journal file when asked, and ``plan.send`` opens it for the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import CampaignError
from ..contract.assumptions import RECONCILE_CLOCK_MARGIN_S, SMS_OVER_160, SmsOver160
from ..contract.limits import RATE_LIMITS
from ..display import HtmlRepr, card
from ..display._words import count
from ._cards import TestSend, plan_facts, preview_table
from ._chunks import campaign_id_for, input_hash, split_chunks
from ._engine import CampaignClient, run
from ._inputs import checked_inputs
from ._journal import Journal
from ._manifest import Manifest, shared_fields
from ._message import E164, check_message, fill
from ._plan_journal import journal_plan
from ._reach import predicted_imessage
from ._recipients import (
    check_recipients,
    placeholder_columns,
    plan_frame,
    plan_warnings,
    recipients_frame,
)
from ._results import CampaignResult
from ._schedule import (
    RegionWindows,
    WindowArg,
    chunk_window,
    held_back,
    recipient_zones,
    region_keys,
    window_scope,
)
from ._schema import TEST_SUFFIX, utcnow

__all__ = ["CampaignPlan", "plan_campaign"]

_PREVIEW_COLUMNS = ["phone", "chunk", "text", "encoding", "length", "segments", "credits"]


@dataclass(frozen=True)
class CampaignPlan(HtmlRepr):
    """A planned campaign, already in the journal: look at it, test it, then send it.

    Build it with :func:`plan_campaign`. ``recipients`` has one row per input row with its
    ``chunk``, filled-text ``encoding``, ``segments``, ``credits`` and ``skip_reason`` (rows that
    will not be sent: ``missing-phone``, ``invalid-phone``, ``duplicate``, ``missing-value``,
    ``too-long``); ``skipped`` is those rows. ``sms_over_160`` is what the plan assumed the
    account does with a longer SMS. The plan is a value: it holds the journal's path, not a
    connection.
    """

    campaign_id: str
    message: str
    sender_name: str | None
    longcode_id: int | None
    journal_path: Path
    recipients: pd.DataFrame
    placeholders: tuple[str, ...]
    chunk_size: int
    image: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    send_window: tuple[str, str] | None = None
    scheduled_at: datetime | None = None
    warnings: tuple[str, ...] = ()
    reused: bool = False
    sms_over_160: SmsOver160 = SMS_OVER_160
    held: int = 0
    first_held_at: datetime | None = None
    region_windows: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: ``(n, N)``: of the N recipients, n can get iMessage from the identity (``reachable=``).
    predicted_imessage: tuple[int, int] | None = None

    @classmethod
    def of(
        cls,
        manifest: Manifest,
        journal_path: Path,
        recipients: pd.DataFrame,
        *,
        warnings: Sequence[str],
        reused: bool,
        held: tuple[int, datetime | None] = (0, None),
    ) -> CampaignPlan:
        """The plan of a journaled ``manifest`` with its ``recipients`` table."""
        values = {
            **shared_fields(manifest, cls),  # its recipients count gives way to the table
            "journal_path": journal_path,
            "recipients": recipients,
            "warnings": tuple(warnings),
            "reused": reused,
            "sms_over_160": manifest.sms_over_160 or SMS_OVER_160,
            "held": held[0],
            "first_held_at": held[1],
        }
        return cls(**values)

    @property
    def journal(self) -> Journal:
        """The journal the campaign is planned in (opened on each access)."""
        return Journal(self.journal_path)

    @property
    def skipped(self) -> pd.DataFrame:
        """Rows that will not be sent, with ``skip_reason`` and ``detail``."""
        out: pd.DataFrame = self.recipients[self.recipients["skip_reason"].notna()]
        return out

    @property
    def to_send(self) -> pd.DataFrame:
        """Rows that will be sent."""
        out: pd.DataFrame = self.recipients[self.recipients["skip_reason"].isna()]
        return out

    def _facts(self) -> dict[str, Any]:
        """The plan's figures, from the values it holds (no journal read)."""
        send = self.to_send
        n_chunks = int(send["chunk"].nunique()) if len(send) else 0
        rate = RATE_LIMITS["send"]
        seconds = max(0, n_chunks - rate.requests) * rate.window_s / rate.requests
        return {
            "campaign_id": self.campaign_id,
            "sender_name": self.sender_name,
            "longcode_id": self.longcode_id,
            "recipients": len(send),
            "skipped": int(len(self.recipients) - len(send)),
            "chunks": n_chunks,
            "chunk_size": self.chunk_size,
            "credits": int(send["credits"].sum()),
            "mms": self.image is not None,
            "sms_over_160": self.sms_over_160,
            "ucs2_recipients": int((send["encoding"] == "UCS-2").sum()),
            "max_segments": int(send["segments"].max()) if len(send) else 0,
            "expected_duration_s": round(seconds, 1),
            "held_for_later": self.held,
            "first_held_at": self.first_held_at.isoformat() if self.first_held_at else None,
            "predicted_imessage": _pair(self.predicted_imessage),
        }

    def _regions(self) -> dict[str, dict[str, Any]]:
        """Each region window (``region_windows=``) and how many recipients to send it holds."""
        if not self.region_windows:
            return {}
        counts = region_keys(self.to_send["phone"], self.region_windows).value_counts()
        return {
            key: {"window": tuple(window), "recipients": int(counts.get(key, 0))}
            for key, window in sorted(self.region_windows.items())
        }

    @property
    def summary(self) -> dict[str, Any]:
        """Recipients, chunks, credits, encoding, expected duration, progress (``chunk_states``,
        read from the journal) and warnings."""
        with self.journal as jr:
            states = jr.chunks(self.campaign_id)["state"].value_counts().to_dict()
        return {
            **self._facts(),
            "chunk_states": {str(k): int(v) for k, v in states.items()},
            "send_window": self.send_window,
            "region_windows": self._regions(),
            "journal": str(self.journal_path),
            "warnings": list(self.warnings),
        }

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` recipients' filled texts with encoding, segments and credits, and a
        ``hint`` where a small change saves credits (characters to cut, or to replace)."""
        rows = []
        for rec in self.to_send.head(n).to_dict("records"):
            text = fill(self.message, {p: rec.get(p) for p in self.placeholders})
            chk = check_message(text, mms=self.image is not None, sms_over_160=self.sms_over_160)
            rows.append(
                {
                    "phone": rec["phone"],
                    "chunk": rec["chunk"],
                    "text": text,
                    "encoding": chk.encoding,
                    "length": chk.length,
                    "segments": chk.segments,
                    "credits": chk.credits,
                    "ucs2_chars": "".join(chk.ucs2_chars),
                    "hint": chk.hint,
                }
            )
        out: pd.DataFrame = pd.DataFrame(rows, columns=[*_PREVIEW_COLUMNS, "ucs2_chars", "hint"])
        return out

    def first_text(self) -> str:
        """The first recipient's filled message (what ``test_send`` sends)."""
        prev = self.preview(1)
        if prev.empty:
            raise CampaignError(f"Campaign {self.campaign_id!r} has no recipient to send to.")
        return str(prev["text"].iloc[0])

    def __repr__(self) -> str:
        s = self._facts()
        return (
            f"CampaignPlan({s['campaign_id']!r}, recipients={s['recipients']}, "
            f"chunks={s['chunks']}, credits={s['credits']}, sender_name={self.sender_name!r}, "
            f"longcode_id={self.longcode_id!r})"
        )

    def as_html(self) -> str:
        """The plan's figures, warnings and a preview as one card (no journal read)."""
        return self.card_html()

    def card_html(
        self, state: str = "planned, not sent until plan.send(client, confirm=True)"
    ) -> str:
        """The plan's card, its title saying ``state`` (the confirm panel passes the journal's)."""
        return card(
            f"Campaign {self.campaign_id} ({state})",
            plan_facts(self._facts(), self._regions(), self.send_window, self.journal_path),
            tables=[("Preview", preview_table(self.preview(3)))],
            notes=self.warnings,
            tone="warn" if self.warnings else "neutral",
        )

    # -- sending -----------------------------------------------------------------------------

    def test_send(self, client: CampaignClient, to: Sequence[str]) -> TestSend:
        """Send the first recipient's filled message to your own numbers, outside the campaign.

        Uses the campaign's identity and image; ``externalId`` is ``{campaign_id}-test``.
        Nothing is recorded in the campaign's chunks. The answer shows as a card; its
        ``.result`` is MTA's answer (``message_id``, ``total_sent``).
        """
        if isinstance(to, str):
            to = [to]
        bad = [p for p in to if not E164.match(str(p))]
        if not to or bad:
            raise CampaignError(
                f"test_send needs your own numbers in E.164 (like +13125550123); got {list(to)!r}."
            )
        fields: dict[str, Any] = {
            "image": self.image,
            "sender_name": self.sender_name,
            "longcode_id": self.longcode_id,
        }
        text = self.first_text()
        answer = client.send(
            subscribers=list(to),
            message=text,
            external_id=f"{self.campaign_id}{TEST_SUFFIX}",
            tags={**self.tags, "campaign_id": self.campaign_id, "test": "true"},
            **fields,
        )
        return TestSend(
            self.campaign_id, self.sender_name or self.longcode_id, tuple(to), text, answer
        )

    def send(
        self,
        client: CampaignClient,
        *,
        confirm: bool = False,
        progress: bool = True,
        events: Any = None,
        clock_margin_s: float = RECONCILE_CLOCK_MARGIN_S,
        max_in_flight: int = 2,
    ) -> CampaignResult:
        """Send the campaign's planned chunks (each one ``/send``), journaling every move.

        Parameters
        ----------
        client
            A :class:`mta_notebook.Client`.
        confirm
            Must be True: sending costs credits and reaches real phones.
        progress
            Show a ``tqdm`` progress bar.
        events, clock_margin_s
            Evidence for chunks whose outcome is unknown; see :func:`resume_campaign`.
        max_in_flight
            Chunks whose requests may overlap (each journaled ``in_flight`` first); 2 hides
            each answer's latency, 1 sends strictly one after another. The client's pacer keeps
            the rate within MTA's limit either way.

        Running it again (or :func:`resume_campaign`) sends only chunks still planned.
        """
        if confirm is not True:
            s = self._facts()
            raise CampaignError(
                f"Not sent: campaign {self.campaign_id!r} goes to "
                f"{count(s['recipients'], 'recipient')} for about {count(s['credits'], 'credit')}. "
                "Check plan.summary and plan.preview(), then "
                "call plan.send(client, confirm=True)."
            )
        with self.journal as jr:
            return run(
                jr,
                self.campaign_id,
                client,
                progress=progress,
                events=events,
                clock_margin_s=clock_margin_s,
                max_in_flight=max_in_flight,
            )

    def confirm(self, client: CampaignClient) -> Any:
        """A notebook panel (recipients, identity, credits, preview) with a Send button."""
        from ._confirm import confirm_panel

        return confirm_panel(self, client)


# -- planning --------------------------------------------------------------------------------


def plan_campaign(
    recipients: Any,
    message: str,
    *,
    sender_name: str | None = None,
    longcode_id: int | None = None,
    chunk_size: int = 500,
    campaign_id: str | None = None,
    image: str | None = None,
    tags: Mapping[str, str] | None = None,
    send_window: WindowArg = "quiet-hours",
    region_windows: RegionWindows | None = None,
    default_timezone: str | None = None,
    scheduled_at: datetime | str | None = None,
    journal: Journal | str | os.PathLike[str] | None = None,
    defaults: Mapping[str, str] | None = None,
    sms_over_160: SmsOver160 = SMS_OVER_160,
    reachable: pd.DataFrame | None = None,
) -> CampaignPlan:
    """Plan a campaign: check every filled message, split into chunks, write the journal.

    Parameters
    ----------
    recipients
        A ``SubscriberList`` or a DataFrame with a ``phone`` column (E.164).
    message
        The text; ``{{first_name}}``-style placeholders are filled per recipient from their
        columns (sent through MTA ``properties``).
    sender_name, longcode_id
        The iMessage Sender Identity (one is required; both are sent when given).
    chunk_size
        Recipients per ``/send`` call.
    campaign_id
        Defaults to a hash of the inputs, so planning the same campaign again reuses it (and
        never sends it twice).
    image
        Public image URL: the message goes as MMS (3 credits per recipient).
    tags
        Tags echoed in webhooks; ``campaign_id`` and ``chunk`` are added.
    send_window
        ``("09:00", "20:00")``: every recipient is scheduled to arrive inside this local window,
        in every zone their number may be in (Alaska's 907 is in two). The default,
        ``"quiet-hours"``, sends US recipients (+1 numbers) only between 08:00 and 21:00 local
        time and others right away; ``False`` (or ``("00:00", "23:59")``) turns windows off.
        The window is kept in the journal, so a resume schedules the same way;
        ``plan.summary`` says how many recipients are held for later and when the first goes.
    region_windows
        Stricter windows by region: an E.164 prefix to its window, like
        ``{"+1305": ("09:00", "20:00"), "+1786": ("09:00", "20:00"), "+44": ("09:00", "20:00")}``.
        A recipient whose number starts with a prefix (the longest one, if several) gets its
        window instead of ``send_window``; chunks hold one window each. Kept in the journal;
        ``plan.summary["region_windows"]`` counts the recipients of each.
    default_timezone
        The zone of numbers that have none (toll-free, 5XX, 900 and other non-geographic
        numbers), such as ``"America/New_York"``; required when a window applies to them.
    scheduled_at
        Do not deliver before this time (naive means UTC).
    journal
        A :class:`Journal` or its path; default ``./mta_journal.sqlite``.
    defaults
        Values for placeholders a recipient has no value for (else that recipient is skipped).
    sms_over_160
        What the account does with an SMS over 160 characters; MTA's docs disagree
        (``contract.assumptions.SMS_OVER_160``). ``"reject"`` (default, the developer docs:
        400 "Character Limit Exceeded") skips such recipients as ``too-long``; ``"segments"``
        (the help center: split into billed segments) sends them and counts a credit per
        segment. Either way the plan warns. MMS (``image=``) takes 1,550 characters.
    reachable
        Numbers that can get iMessage from each identity now (``phone``, ``sender_name``; from
        ``mta.reachable(events)``): the plan predicts this send's iMessage share
        (``plan.summary["predicted_imessage"]``, n of N recipients).

    Returns
    -------
    CampaignPlan

    See Also
    --------
    plan_experiment : one list split at random across several identities, sent as one.

    Raises
    ------
    CampaignError
        No identity, an empty message, a placeholder with no column, a template longer than
        1,550 characters, a campaign id already used for different inputs, non-geographic
        numbers under a window without ``default_timezone``, or a window that never holds in
        all the zones a number may be in.
    """
    inputs = checked_inputs(
        message,
        sender_name,
        longcode_id,
        image=image,
        tags=tags,
        send_window=send_window,
        region_windows=region_windows,
        default_timezone=default_timezone,
        scheduled_at=scheduled_at,
        chunk_size=chunk_size,
        defaults=defaults,
        sms_over_160=sms_over_160,
    )
    df, source = recipients_frame(recipients)
    cols = placeholder_columns(df, inputs.placeholders, inputs.defaults)
    options = inputs.check_options
    checked = check_recipients(
        df, inputs.lits, inputs.names, cols, defaults=inputs.defaults, **options
    )
    tz: pd.Series | None = None
    warnings: list[str] = []
    ok = pd.Series(checked.ok, index=df.index)
    regions = inputs.region_windows
    if inputs.window is not None or regions:
        scope = window_scope(
            checked.phones,
            window=inputs.window is not None,
            us_only=inputs.us_only,
            regions=regions,
        )
        tz = recipient_zones(
            df, checked.phones, ok, scope=scope, default_timezone=inputs.default_timezone
        )
    windows = None
    if regions:
        texts = {k: "-".join(w) for k, w in regions.items()}
        windows = region_keys(checked.phones, regions).map(texts.get).astype("string")
    chunk, rows = split_chunks(checked.ok, tz, chunk_size, windows)
    for row in rows:
        first = str(checked.phones.iloc[int(row["rows"][0])])
        row["window"] = chunk_window(first, inputs.send_window, regions)
    digest = input_hash(checked)
    cid = campaign_id_for(campaign_id, inputs.id_key(digest))
    for row in rows:
        row["external_id"] = f"{cid}-{row['chunk']:05d}"
    plan_df = plan_frame(checked, chunk, tz)
    warnings += plan_warnings(plan_df, checked, **options)
    send_ok = plan_df[checked.ok]
    # checked before the journal is written: a wrong reachable= leaves no campaign behind
    predicted = predicted_imessage(reachable, send_ok["phone"], inputs.sender_name)
    manifest = inputs.manifest(
        cid, send_ok, digest=digest, source=source, skipped=len(df) - len(send_ok), chunks=len(rows)
    )
    path, reuse_warning, kept = journal_plan(journal, manifest, checked, rows)
    held = held_back(kept["chunks"], manifest.scheduled_at, utcnow())
    manifest = replace(manifest, send_window=kept["window"], region_windows=kept["regions"])
    reused = reuse_warning is not None
    if reuse_warning is not None:
        warnings.append(reuse_warning)
    plan = CampaignPlan.of(manifest, path, plan_df, warnings=warnings, reused=reused, held=held)
    return replace(plan, predicted_imessage=predicted)


def _pair(pair: tuple[int, int] | None) -> dict[str, Any] | None:
    """``{"n", "N", "share"}`` of a predicted share, for code reading ``plan.summary``."""
    if pair is None:
        return None
    n, total = pair
    return {"n": n, "N": total, "share": n / total if total else None}
