"""Several plans sent together (a randomized split, or identities side by side) and their
results: one card, one confirm panel, one send for everything a cell is about to send.

"Already sent" is read from the journal, not from this process: a re-run in a new kernel (or
against a new sandbox) finds every chunk sent and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, overload

import pandas as pd

from .._errors import CampaignError
from ..display import HtmlRepr, card
from ..display._words import count
from ._cards import TestSend, identity_label, preview_table, test_sends_html
from ._engine import CampaignClient
from ._journal import Journal
from ._plan import CampaignPlan
from ._reach import share_text
from ._results import ALREADY_SENT, CampaignResult

if TYPE_CHECKING:
    from ._split import Experiment

__all__ = ["ALREADY_SENT", "CampaignPlans", "CampaignResults", "TestSends"]

#: What a send of campaigns the journal shows complete says (and does: nothing).
_DONE: Final = frozenset({"sent", "failed", "skipped"})


def _label(plan: CampaignPlan) -> str:
    return identity_label(plan.sender_name, plan.longcode_id)


def chunk_states(plan: CampaignPlan) -> pd.Series:
    """The journal's state of each of ``plan``'s chunks."""
    with plan.journal as jr:
        states: pd.Series = jr.chunks(plan.campaign_id)["state"]
    return states


def state_text(states: pd.Series) -> str:
    """``already sent`` / ``partly sent`` / ``planned, not sent`` from chunk states."""
    if len(states) and states.isin(_DONE).all() and (states != "skipped").any():
        return "already sent"
    if (states != "planned").any():
        return "partly sent"
    return "planned, not sent"


@dataclass(frozen=True, eq=False)
class TestSends(HtmlRepr, Sequence[TestSend]):
    """The test sends of a group, one per identity, as one card."""

    __test__ = False  # not a pytest test class, whatever its name

    answers: tuple[TestSend, ...]

    @overload
    def __getitem__(self, i: int) -> TestSend: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[TestSend]: ...
    def __getitem__(self, i: int | slice) -> TestSend | Sequence[TestSend]:
        return self.answers[i]

    def __len__(self) -> int:
        return len(self.answers)

    def __repr__(self) -> str:
        return "\n".join(repr(a) for a in self.answers)

    def as_html(self) -> str:
        """One card: a row per identity."""
        return test_sends_html(self.answers)


@dataclass(frozen=True, eq=False)
class CampaignResults(HtmlRepr, Sequence[CampaignResult]):
    """The results of sending a group of plans: one :class:`CampaignResult` per campaign.

    ``already_sent`` is True when the journal showed every campaign complete, so nothing was
    sent; ``counts`` adds the recipients per state over all campaigns.
    """

    results: tuple[CampaignResult, ...]
    identities: tuple[str, ...]
    _: KW_ONLY
    already_sent: bool = False

    @overload
    def __getitem__(self, i: int) -> CampaignResult: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[CampaignResult]: ...
    def __getitem__(self, i: int | slice) -> CampaignResult | Sequence[CampaignResult]:
        return self.results[i]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[CampaignResult]:
        return iter(self.results)

    @property
    def counts(self) -> dict[str, int]:
        """Recipients per state over all campaigns."""
        total: dict[str, int] = {}
        for r in self.results:
            for k, v in r.counts.items():
                total[k] = total.get(k, 0) + v
        return total

    @property
    def complete(self) -> bool:
        """True when every campaign is complete."""
        return all(r.complete for r in self.results)

    @property
    def sends(self) -> pd.DataFrame:
        """The send ledger of all campaigns."""
        return pd.concat([r.sends for r in self.results], ignore_index=True)

    def table(self) -> pd.DataFrame:
        """One row per campaign: identity, campaign, recipients by state."""
        states = ["sent", "failed", "unknown", "planned", "skipped"]
        rows = []
        for name, r in zip(self.identities, self.results, strict=True):
            c = r.counts
            rows.append(
                {
                    "Identity": name,
                    "Campaign": r.campaign_id,
                    **{s.capitalize(): c.get(s, 0) for s in states},
                }
            )
        df = pd.DataFrame(rows)
        keep = [c for c in df.columns if c in ("Identity", "Campaign") or df[c].any()]
        out: pd.DataFrame = df[keep] if rows else df
        return out

    def _headline(self) -> str:
        if self.already_sent:
            return f"{ALREADY_SENT}: the journal shows {count(len(self), 'campaign')} complete."
        sent = self.counts.get("sent", 0)
        return f"Sent {count(sent, 'message')} in {count(len(self), 'campaign')}."

    def __repr__(self) -> str:
        lines = [self._headline()]
        for name, r in zip(self.identities, self.results, strict=True):
            parts = ", ".join(f"{v:,} {k}" for k, v in r.counts.items())
            lines.append(f"  {name} ({r.campaign_id}): {parts}")
        lines += [f"  {note}" for note in self._notes()]
        return "\n".join(lines)

    def _notes(self) -> list[str]:
        # when every campaign was already sent the headline says so; not repeated per campaign
        repeated = ALREADY_SENT if self.already_sent else None
        return [
            f"{name}: {r.note}"
            for name, r in zip(self.identities, self.results, strict=True)
            if r.note and r.note != repeated
        ]

    def as_html(self) -> str:
        """One card: the headline, a row per campaign, the notes of the runs."""
        ok = self.complete
        return card(
            self._headline(),
            tables=[("", self.table())],
            notes=self._notes(),
            tone="ok" if ok else ("error" if any(len(r.unknown_chunks) for r in self) else "warn"),
        )


@dataclass(frozen=True, eq=False)
class CampaignPlans(HtmlRepr, Sequence[CampaignPlan]):
    """Plans sent together: a randomized split (``mta.plan_experiment``) or plans side by side
    (``CampaignPlans((plan_a, plan_b))``). One card, one confirm panel, one send.

    ``experiment`` is the split's record (id, seed, arms), None for plans put side by side.
    """

    plans: tuple[CampaignPlan, ...]
    _: KW_ONLY
    experiment: Experiment | None = None
    reused: bool | None = None
    journal_path: Path | None = None
    # the confirm panels showing these plans: redrawn after any send, so none still offers
    # to send what a cell below has just sent
    _watchers: list[Callable[[], None]] = field(default_factory=list, repr=False, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plans", tuple(self.plans))
        if not self.plans or not all(isinstance(p, CampaignPlan) for p in self.plans):
            raise CampaignError(
                "CampaignPlans needs one or more CampaignPlan, like "
                f"CampaignPlans((plan_a, plan_b)); got {self.plans!r}."
            )
        if self.reused is None:
            object.__setattr__(self, "reused", all(p.reused for p in self.plans))

    @overload
    def __getitem__(self, i: int) -> CampaignPlan: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[CampaignPlan]: ...
    def __getitem__(self, i: int | slice) -> CampaignPlan | Sequence[CampaignPlan]:
        return self.plans[i]

    def __len__(self) -> int:
        return len(self.plans)

    def __iter__(self) -> Iterator[CampaignPlan]:
        return iter(self.plans)

    @property
    def campaign_ids(self) -> tuple[str, ...]:
        """The campaigns' ids, in order."""
        return tuple(p.campaign_id for p in self.plans)

    @property
    def recipients(self) -> int:
        """Recipients to send, over all plans."""
        return sum(len(p.to_send) for p in self.plans)

    @property
    def credits(self) -> int:
        """Credits, over all plans."""
        return sum(int(p.to_send["credits"].sum()) for p in self.plans)

    def states(self) -> list[str]:
        """Each campaign's state in the journal (``already sent``, ``partly sent``, ...)."""
        return [state_text(chunk_states(p)) for p in self.plans]

    @property
    def complete(self) -> bool:
        """True when the journal shows every chunk of every campaign sent (or failed or
        skipped): sending again sends nothing."""
        return all(s == "already sent" for s in self.states())

    def table(self, states: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per identity: campaign, recipients, credits, predicted iMessage, state."""
        rows = []
        weights = {a: w for a, (w, _) in self.experiment.arms.items()} if self.experiment else {}
        for i, p in enumerate(self.plans):
            row: dict[str, Any] = {
                "Identity": _label(p),
                "Campaign": p.campaign_id,
                "Recipients": len(p.to_send),
                "Credits": int(p.to_send["credits"].sum()),
            }
            if weights:
                row["Drawn share"] = f"{weights.get(p.sender_name or '', 0):.0%}"
            if any(q.predicted_imessage for q in self.plans):
                row["Predicted iMessage"] = share_text(p.predicted_imessage) or "–"
            if states is not None:
                row["State"] = states[i]
            rows.append(row)
        out: pd.DataFrame = pd.DataFrame(rows)
        return out

    @property
    def summary(self) -> dict[str, Any]:
        """Totals, each plan's ``summary`` (journal states included) and the experiment."""
        exp = self.experiment
        return {
            "campaign_ids": list(self.campaign_ids),
            "recipients": self.recipients,
            "credits": self.credits,
            "plans": [p.summary for p in self.plans],
            "experiment": None
            if exp is None
            else {"experiment_id": exp.experiment_id, "seed": exp.seed, "arms": dict(exp.arms)},
            "reused": self.reused,
        }

    def preview(self, n: int = 3) -> pd.DataFrame:
        """The first ``n`` recipients of each plan, with their identity."""
        parts = [p.preview(n).assign(identity=_label(p)) for p in self.plans]
        df = pd.concat(parts, ignore_index=True)
        out: pd.DataFrame = df[["identity", *[c for c in df.columns if c != "identity"]]]
        return out

    def facts(self) -> list[tuple[str, object]]:
        """Totals and the experiment as label/value pairs."""
        out: list[tuple[str, object]] = [
            ("Recipients", count(self.recipients, "recipient")),
            ("Credits", count(self.credits, "credit")),
        ]
        if self.experiment is not None:
            out.append(
                ("Experiment", f"{self.experiment.experiment_id} (seed {self.experiment.seed})")
            )
        if self.reused:
            out.append(("Planned before", "yes: the same campaigns were found in the journal"))
        return out

    def card_html(self, states: Sequence[str] | None = None) -> str:
        """The group's card; ``states`` (from the journal) adds each campaign's state."""
        what = "randomized split" if self.experiment is not None else "campaigns"
        title = f"{count(len(self), 'campaign')} ({what}): one send for all"
        if states is not None and all(s == "already sent" for s in states):
            title = f"{ALREADY_SENT}: {count(len(self), 'campaign')} complete"
        notes = [f"{_label(p)}: {w}" for p in self.plans for w in p.warnings]
        return card(
            title,
            self.facts(),
            tables=[
                ("Per identity", self.table(states)),
                ("Preview", preview_table(self.preview(2))),
            ],
            notes=notes,
            tone="warn" if notes else "neutral",
        )

    def as_html(self) -> str:
        """The group as one card (no journal read)."""
        return self.card_html()

    def __repr__(self) -> str:
        head = f"CampaignPlans({count(len(self), 'campaign')}, "
        head += f"{count(self.recipients, 'recipient')}, {count(self.credits, 'credit')})"
        rows = [
            f"  {_label(p)}: {p.campaign_id}, {count(len(p.to_send), 'recipient')}"
            for p in self.plans
        ]
        return "\n".join([head, *rows])

    # -- sending -----------------------------------------------------------------------------

    def test_send(self, client: CampaignClient, to: Sequence[str]) -> TestSends:
        """A test from each identity (its first recipient's text) to your own numbers."""
        return TestSends(tuple(p.test_send(client, to) for p in self.plans))

    def send(
        self, client: CampaignClient, *, confirm: bool = False, progress: bool = True, **kw: Any
    ) -> CampaignResults:
        """Send every plan (each as :meth:`CampaignPlan.send`, ``kw`` passed on).

        When the journal shows them all complete, nothing is sent and the results say
        "Already sent, nothing new to send".
        """
        labels = tuple(_label(p) for p in self.plans)
        if self.complete:
            return CampaignResults(self._journaled(), labels, already_sent=True)
        if confirm is not True:
            per = "; ".join(
                f"{_label(p)}: {count(len(p.to_send), 'recipient')}" for p in self.plans
            )
            raise CampaignError(
                f"Not sent: {count(len(self), 'campaign')} go to "
                f"{count(self.recipients, 'recipient')} for about "
                f"{count(self.credits, 'credit')} ({per}). Check them, then call "
                "plans.send(client, confirm=True)."
            )
        try:
            results = tuple(
                p.send(client, confirm=True, progress=progress, **kw) for p in self.plans
            )
        finally:
            self._notify()
        return CampaignResults(results, labels)

    def resume(self, client: CampaignClient, **kw: Any) -> CampaignResults:
        """:func:`resume_campaign` for each plan (``kw`` passed on): only chunks still planned
        are sent, unknown ones are settled from evidence first."""
        from ._engine import resume_campaign

        labels = tuple(_label(p) for p in self.plans)
        already = self.complete
        try:
            results = tuple(
                resume_campaign(p.campaign_id, client, journal=p.journal_path, **kw)
                for p in self.plans
            )
        finally:
            self._notify()
        return CampaignResults(results, labels, already_sent=already)

    def watch(self, redraw: Callable[[], None]) -> None:
        """Call ``redraw`` after every send of these plans (the confirm panel does)."""
        self._watchers.append(redraw)

    def _notify(self) -> None:
        for redraw in self._watchers:
            redraw()

    def _journaled(self) -> tuple[CampaignResult, ...]:
        out = []
        for p in self.plans:
            with Journal(p.journal_path) as jr:
                out.append(
                    CampaignResult(p.campaign_id, jr.sends(p.campaign_id), jr.chunks(p.campaign_id))
                )
        return tuple(out)

    def confirm(self, client: CampaignClient) -> Any:
        """One notebook panel for all plans (recipients and credits per identity, totals),
        with one Send button."""
        from ._confirm import confirm_panel

        return confirm_panel(self, client)
