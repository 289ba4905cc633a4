"""The report's answers beyond delivery: identities compared, time to deliver, cost and reach.

Each section is computed from the same messages as the rest of the page and rendered with a
short heading, one or two sentences that say what the numbers mean, and an empty state that
says why there is nothing to show (never an empty table).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._errors import ValidationError
from ..contract.assumptions import IMESSAGE_CREDITS, ImessageCredits
from ..contract.routes import ROUTE_LABELS
from ._tables import readable_html, seconds_text
from ._words import count

if TYPE_CHECKING:
    from ..analytics import Messages, OptInReach

__all__ = ["Answers", "answer_sections", "answers", "split_of", "test_sends"]


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _table(df: pd.DataFrame, **labels: str) -> str:
    return f'<div class="scroll">{readable_html(df, labels=labels)}</div>'


# -- the randomized split ----------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """The experiment whose campaigns are in the report: its id, seed, arms and campaigns."""

    experiment_id: str
    seed: int
    arms: tuple[tuple[str, float], ...]
    campaigns: tuple[str, ...]

    def text(self) -> str:
        shares = ", ".join(f"{name} {100 * w:.0f} %" for name, w in self.arms)
        return (
            f"Randomized experiment {self.experiment_id} (seed {self.seed}): each recipient was "
            f"drawn at random to one identity ({shares}), so the overall difference is caused "
            "by the identity. Per route it is not randomized: who gets iMessage depends on "
            "opting in to each identity."
        )


def split_of(experiments: pd.DataFrame | None, journal: object, present: set[str]) -> Split | None:
    """The latest experiment (``read_experiments``' frame, or read from ``journal``) with a
    campaign among ``present``; None when the messages come from no experiment."""
    if experiments is not None and journal is not None:
        raise ValidationError(
            "save_report: pass experiments= (read_experiments(journal)) or journal=, not both"
        )
    if journal is not None:
        from ..campaigns import read_experiments

        if not isinstance(journal, str | os.PathLike) and not hasattr(journal, "path"):
            raise ValidationError(
                f"save_report: journal= must be a Journal or its path, not {type(journal).__name__}"
            )
        experiments = read_experiments(journal)  # type: ignore[arg-type]
    if experiments is None or experiments.empty:
        return None
    needed = {"experiment_id", "arm", "campaign_id", "weight", "seed"}
    if not needed <= set(experiments.columns):
        raise ValidationError(
            f"save_report: experiments= lacks {sorted(needed - set(experiments.columns))}; pass "
            "the frame of read_experiments(journal)"
        )
    hits = experiments[experiments["campaign_id"].astype(str).isin(present)]
    if hits.empty:
        return None
    order = "created_at" if "created_at" in hits.columns else "experiment_id"
    latest = str(hits.sort_values(order, kind="mergesort")["experiment_id"].iloc[-1])
    arms = experiments[experiments["experiment_id"] == latest]
    return Split(
        latest,
        int(arms["seed"].iloc[0]),
        tuple((str(a), float(w)) for a, w in zip(arms["arm"], arms["weight"], strict=True)),
        tuple(str(c) for c in arms["campaign_id"]),
    )


# -- computing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    """The tables of the four sections, and what the page needs to say about them."""

    identities: pd.DataFrame
    split: Split | None
    latency: pd.DataFrame
    cost: pd.DataFrame
    has_ledger: bool
    price_per_credit: float | None
    imessage_credits: ImessageCredits
    reach: OptInReach | None
    reach_why: str


def answers(
    msgs: Messages,
    events: object,
    sends: object | None,
    *,
    experiments: pd.DataFrame | None = None,
    journal: object = None,
    subscribers: object = None,
    price_per_credit: float | None = None,
    imessage_credits: ImessageCredits = IMESSAGE_CREDITS,
) -> Answers:
    """Compute the four sections' tables from the report's messages."""
    from .. import analytics

    present = {str(c) for c in msgs.df["campaign_id"].dropna().unique()}
    split = split_of(experiments, journal, present)
    identities = analytics.compare_identities(
        msgs, campaigns=split.campaigns if split is not None else None
    )
    cost = analytics.cost_report(
        msgs, sends, price_per_credit=price_per_credit, imessage_credits=imessage_credits
    )
    reach = None
    if subscribers is None:
        why = (
            "Pass subscribers= (the list you sent to) to save_report to see what share of it "
            "each Sender Identity can reach by iMessage."
        )
    elif isinstance(events, analytics.Messages):
        why = (
            "The report was given joined messages, not the events: pass the events "
            "(read_webhook_log(...)) to read the number-opt-in events."
        )
    else:
        names = sorted({str(n) for n in msgs.df["sender_name"].dropna().unique()})
        reach = analytics.optin_reach(events, subscribers)
        known = set(reach.summary["sender_name"])
        if set(names) - known:  # an identity with no opt-in yet reaches 0 %, said as such
            reach = analytics.optin_reach(
                events, subscribers, sender_names=sorted(known | set(names))
            )
        why = ""
    return Answers(
        identities=identities,
        split=split,
        latency=analytics.time_to_deliver(msgs),
        cost=cost,
        has_ledger=sends is not None,
        price_per_credit=price_per_credit,
        imessage_credits=imessage_credits,
        reach=reach,
        reach_why=why,
    )


# -- rendering ---------------------------------------------------------------------------------


def identities_section(a: Answers) -> list[str]:
    """Each identity against the first by name: randomized when the split is known."""
    parts = ["<h2>Identities compared</h2>"]
    df = a.identities
    if df.empty:
        parts.append(
            _note(
                "Only one Sender Identity (or none) sent these messages: there is no other "
                "identity to compare with. Send through two, e.g. with plan_experiment(..., "
                'split={"Acme": 0.5, "Acme Deals": 0.5}, seed=...).'
            )
        )
        return parts
    design = (
        a.split.text()
        if a.split is not None
        else (
            "Observational: the identities went to recipients chosen by you, so a difference "
            "may come from who they are, not from the identity. For a fair test, plan the send "
            "with plan_experiment(...) and pass experiments= or journal= to save_report."
        )
    )
    # the design sentences are said once above the list, not in every finding
    items = "".join(f"<li>{html.escape(str(f))}</li>" for f in df["finding"])
    shown = df.drop(columns=["finding", "verdict", "randomized"])
    parts += [
        _note(design),
        f'<ul class="verdicts">{items}</ul>',
        _table(shown, scope="Messages compared"),
        _note(
            "Delivery rate = delivered / settled with its Wilson 95 % interval; the difference "
            "has Newcombe's 95 % interval and is significant when it leaves out 0; the p-value "
            "is the two-proportion z-test."
        ),
    ]
    return parts


def latency_section(a: Answers, chart: str) -> list[str]:
    """Median and p90 from message-send to the final status, per identity and route."""
    parts = ["<h2>Time to deliver</h2>"]
    timed = a.latency[a.latency["timed"] > 0]
    if timed.empty:
        parts.append(
            _note(
                "No delivered message has both its send time (message-send, or the ledger's "
                "sent_at) and the time of its final status: nothing to time yet."
            )
        )
        return parts
    fastest = timed.sort_values("median_s", kind="mergesort").iloc[0]
    route = ROUTE_LABELS.get(str(fastest["route"]), str(fastest["route"]))
    who = "(no identity)" if pd.isna(fastest["sender_name"]) else str(fastest["sender_name"])
    parts += [
        _note(
            "Seconds from a message's message-send event to its final delivery status, over "
            f"the delivered messages. Fastest median: {who} by {route}, "
            f"{seconds_text(fastest['median_s'])} "
            f"({count(int(fastest['timed']), 'message')} timed)."
        ),
        chart,
        _table(timed),
    ]
    return parts


def _credits_rule(rule: ImessageCredits) -> str:
    if rule == "as-sms":
        return (
            "MTA does not document what an iMessage costs: it is counted as the SMS it "
            "replaces (contract.assumptions.IMESSAGE_CREDITS), so iMessage saves nothing here; "
            "pass imessage_credits=1 to save_report if your plan bills an iMessage at 1 credit."
        )
    return (
        f"An iMessage is counted at {count(int(rule), 'credit')} (imessage_credits={rule!r}; "
        "MTA does not document it, contract.assumptions.IMESSAGE_CREDITS)."
    )


def cost_section(a: Answers) -> list[str]:
    """Credits per message by route, credits spent, cost per delivered message, the saving."""
    parts = ["<h2>Cost</h2>"]
    df = a.cost
    if not a.has_ledger:
        parts.append(
            _note(
                "No send ledger was given: credits come from it. Pass sends=journal.sends() "
                "to save_report."
            )
        )
        return parts
    priced = df[df["credits"].notna()]
    if priced.empty:
        messages = int(df["messages"].sum()) if len(df) else 0
        parts.append(
            _note(
                f"None of the {count(messages, 'message')} has planned credits in the send "
                "ledger (a campaign planned before the journal kept credits, or events without "
                "a ledger row): nothing is counted, nothing is guessed."
            )
        )
        return parts
    spent = int(priced["credits"].sum())
    delivered = int(priced["delivered"].sum())
    saved = int(priced["saved_credits"].sum())
    text = f"Credits spent: {spent:,}"
    if delivered:
        text += f", {spent / delivered:,.2f} per delivered message"
    if a.price_per_credit is not None:
        cost = spent * a.price_per_credit
        text += f". At {a.price_per_credit:g} per credit: {cost:,.2f}"
        if delivered:
            text += f", {cost / delivered:,.2f} per delivered message"
    text += f". iMessage saved {count(saved, 'credit')}"
    if a.price_per_credit is not None:
        text += f" ({saved * a.price_per_credit:,.2f})"
    text += "."
    shown = df.drop(columns=["unpriced"]) if int(df["unpriced"].sum()) == 0 else df
    parts += [
        _note(text),
        _table(shown),
        _note(
            "Every message sent counts, delivered or not (nothing in MTA's docs says a failed "
            "message is refunded); SMS credits are the ledger's, by segments (MMS 3). "
            + _credits_rule(a.imessage_credits)
        ),
    ]
    return parts


def reach_section(a: Answers) -> list[str]:
    """Share of the audience each identity can reach by iMessage, and new opt-ins per day."""
    parts = ["<h2>Reach</h2>"]
    if a.reach is None:
        parts.append(_note(a.reach_why))
        return parts
    summary = a.reach.summary
    if summary.empty or int(summary["audience"].max()) == 0:
        parts.append(_note("The audience given has no phone number: no share to show."))
        return parts
    parts.append(
        _note(
            "A number can get iMessage from an identity once it opted in to it (a "
            "number-opt-in event) or got an iMessage from it (it opted in before the log "
            "began). Share of the audience with its Wilson 95 % interval."
        )
    )
    if int(summary["reachable"].sum()) == 0:
        parts.append(
            _note(
                "No number of the audience has opted in to an identity or got an iMessage yet: "
                "every message goes as SMS fallback."
            )
        )
    parts.append(_table(summary.drop(columns=["label"]), share="Share of the audience"))
    daily = a.reach.daily
    days = daily["period"].nunique() if len(daily) else 0
    if days > 1:
        parts += [
            "<h3>New opt-ins per day</h3>",
            _table(daily, share="Share of the audience by then"),
        ]
    elif days == 1:
        day = pd.Timestamp(daily["period"].iloc[0]).strftime("%Y-%m-%d")
        parts.append(
            _note(f"Every opt-in seen is from one day ({day}): no per-day series to show yet.")
        )
    return parts


def answer_sections(a: Answers, latency_chart: str) -> dict[str, list[str]]:
    """The four sections' markup by name, for the page to place."""
    return {
        "identities": identities_section(a),
        "latency": latency_section(a, latency_chart),
        "cost": cost_section(a),
        "reach": reach_section(a),
    }


def latency_figure(a: Answers) -> Any:
    """The time-to-deliver chart, or None when nothing is timed (the section says why)."""
    from ._latency_chart import time_to_deliver_chart

    if (a.latency["timed"] > 0).any():
        return time_to_deliver_chart(a.latency)
    return None


def test_sends(events: object) -> int | None:
    """How many test messages (``CampaignPlan.test_send``: an externalId ending in ``-test``)
    the events hold, each left out of every figure; None when the events are not in pandas."""
    from ..campaigns._schema import TEST_SUFFIX

    df: Any = getattr(events, "df", events)
    if not isinstance(df, pd.DataFrame) or not {"external_id", "phone"} <= set(df.columns):
        return None
    ext = df["external_id"].astype("string")
    tests = df.loc[
        ext.str.endswith(TEST_SUFFIX).fillna(False).astype(bool), ["external_id", "phone"]
    ]
    return len(tests.drop_duplicates())
