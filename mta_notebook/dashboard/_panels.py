"""The dashboard's cost tiles and its "Identities compared" panel, as HTML.

The numbers are the reducers' rows (``cost_report``, ``compare_identities``) for the filters;
here they are only added up across the selected rows and put in words. Which comparison is
randomized is read off the journal's experiments (``read_experiments``): the identities of a
split were drawn at random only when every campaign shown belongs to one experiment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..analytics import _identities
from ..contract.routes import MESSAGE_ROUTES, ROUTE_LABELS
from ..display import escape
from ..display._words import count
from ._view import EMPTY, tile_html

__all__ = [
    "cost_tiles",
    "cost_values",
    "experiment_campaigns",
    "identities_html",
]


def _credits(value: Any) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _delivered_priced(row: Any) -> float:
    """Delivered messages whose credits are known: all of them when none is unpriced, else
    read back from ``credits_per_delivered`` (credits / delivered priced)."""
    if int(row.unpriced) == 0:
        return float(row.delivered)
    per = row.credits_per_delivered
    if pd.isna(row.credits) or pd.isna(per):  # nothing priced, or no priced one delivered
        return 0.0
    if float(per) == 0.0:  # free: 0 credits over any count is 0
        return float(row.delivered)
    return float(round(_credits(row.credits) / float(per)))


def cost_values(cost: pd.DataFrame) -> dict[str, Any]:
    """The cost tiles' numbers, read off ``cost_report`` rows (the selected ones).

    >>> cost = pd.DataFrame({"sender_name": ["Acme", "Acme"], "route": ["imessage", "sms_fallback"],
    ...     "messages": [4, 2], "delivered": [4, 1], "unpriced": [0, 0], "credits": [4, 4],
    ...     "credits_per_message": [1.0, 2.0], "credits_per_delivered": [1.0, 4.0],
    ...     "sms_credits": [8, 4], "saved_credits": [4, 0]})
    >>> v = cost_values(cost)
    >>> v["credits"], v["per_delivered"], v["by_route"], v["saved"]
    (8, 1.6, {'imessage': 1.0, 'sms_fallback': 4.0}, 4)
    """
    credits = sum(_credits(v) for v in cost["credits"]) if len(cost) else 0.0
    priced = int((cost["messages"] - cost["unpriced"]).sum()) if len(cost) else 0
    delivered = sum(_delivered_priced(r) for r in cost.itertuples(index=False))
    by_route: dict[str, float | None] = {}
    for route in [r for r in MESSAGE_ROUTES if r in set(cost["route"])]:
        rows = cost[cost["route"] == route]
        spent = sum(_credits(v) for v in rows["credits"])
        got = sum(_delivered_priced(r) for r in rows.itertuples(index=False))
        by_route[route] = spent / got if got else None
    return {
        "messages": int(cost["messages"].sum()) if len(cost) else 0,
        "priced": priced,
        "unpriced": int(cost["unpriced"].sum()) if len(cost) else 0,
        "credits": int(credits),
        "per_delivered": credits / delivered if delivered else None,
        "by_route": by_route,
        "saved": int(sum(_credits(v) for v in cost["saved_credits"])) if len(cost) else 0,
        "imessages": int(cost.loc[cost["route"] == "imessage", "messages"].sum()),
    }


def _number(x: float | None) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:,.2f}"


def cost_tiles(v: dict[str, Any], *, imessage_rule: object) -> dict[str, str]:
    """The HTML of the tiles ``credits``, ``credits_per_delivered`` and ``imessage_saved``."""
    if v["priced"] == 0:
        why = (
            "no message selected"
            if v["messages"] == 0
            else "the ledger has no credits for these messages"
        )
        spent, spent_note = "–", why
    else:
        spent = f"{v['credits']:,}"
        spent_note = f"by {count(v['priced'], 'message')}"
        if v["unpriced"]:
            spent_note += f"; {count(v['unpriced'], 'message')} without credits"
    routes = " · ".join(
        f"{ROUTE_LABELS.get(r, r)} {_number(x)}" for r, x in v["by_route"].items() if x is not None
    )
    if v["imessages"] == 0:
        saved_note = "no iMessage in the selection"
    elif imessage_rule == "as-sms":
        saved_note = "an iMessage is counted at its SMS credits (MTA does not document it)"
    else:
        saved_note = f"vs the same {count(v['imessages'], 'iMessage')} as SMS"
    content = {
        "credits": ("Credits spent", spent, spent_note),
        "credits_per_delivered": (
            "Credits per delivered message",
            _number(v["per_delivered"]),
            routes or "no delivered message with credits",
        ),
        "imessage_saved": (
            "Credits iMessage saved",
            f"{v['saved']:,}" if v["priced"] else "–",
            saved_note,
        ),
    }
    return {name: tile_html(name, *parts) for name, parts in content.items()}


def experiment_campaigns(
    experiments: pd.DataFrame | None, shown: Iterable[object]
) -> tuple[str, tuple[str, ...]] | None:
    """The experiment whose campaigns hold every campaign ``shown``, and its campaign ids.

    ``None`` when nothing is shown, or when a shown campaign is in no experiment (or the shown
    ones span several): the comparison is then observational.

    >>> exp = pd.DataFrame({"experiment_id": ["x", "x"], "campaign_id": ["x-acme", "x-deals"]})
    >>> experiment_campaigns(exp, ["x-acme"]), experiment_campaigns(exp, ["other"])
    (('x', ('x-acme', 'x-deals')), None)
    """
    wanted = {str(c) for c in pd.Series(list(shown), dtype="object").dropna()}
    if experiments is None or experiments.empty or not wanted:
        return None
    for exp_id, rows in experiments.groupby("experiment_id", sort=False):
        campaigns = tuple(dict.fromkeys(str(c) for c in rows["campaign_id"]))
        if wanted <= set(campaigns):
            return str(exp_id), campaigns
    return None


def _finding(row: Any) -> str:
    """The row's finding (its verdict without the design sentence, said once per panel), less
    the pair the line already starts with in bold."""
    text = str(row.finding)
    pair = f"{_pair(row)}, "
    if text.startswith(pair):  # "A vs B, overall: too few ..."
        text = text[len(pair) :]
        text = text[:1].upper() + text[1:]
    return text


def _pair(row: Any) -> str:
    return f"{row.sender_name} vs {row.reference}"


def identities_html(
    table: pd.DataFrame, *, messages: int, experiment: str | None, identities: int
) -> str:
    """The "Identities compared" panel: ``compare_identities``' verdicts, one line per scope."""
    if messages == 0:
        body = f"<p class='mta-verdict-line'>{escape(EMPTY)}.</p>"
    elif table.empty:
        body = (
            "<p class='mta-verdict-line'>Fewer than two Sender Identities in the selection: "
            "nothing to compare.</p>"
            if identities < 2
            else "<p class='mta-verdict-line'>No settled message to compare yet.</p>"
        )
    else:
        lines = [
            f"<li class='mta-verdict-line' data-identity='{escape(str(r.sender_name))}' "
            f"data-scope='{escape(str(r.scope))}' "
            f"data-significant='{str(bool(r.significant)).lower()}'>"
            f"<b>{escape(str(r.sender_name))} vs {escape(str(r.reference))}</b>. "
            f"{escape(_finding(r))}</li>"
            for r in table.itertuples(index=False)
        ]
        body = "<ul>" + "".join(lines) + "</ul>"
    design = (
        f"Randomized: the campaigns shown are the arms of experiment {experiment}, so "
        f"recipients were drawn to the identities at random (overall). {_identities.ROUTE_CAVEAT}"
        if experiment is not None
        else f"{_identities.IDENTITIES_OBSERVATIONAL} No experiment in the journal covers the "
        "campaigns shown: plan one with mta.plan_experiment for a randomized comparison."
    )
    # what the design allows only matters when there is a comparison to read
    note = "" if table.empty else f"<p class='mta-muted mta-design'>{escape(design)}</p>"
    return (
        "<div class='mta-verdict mta-identities' "
        f"data-randomized='{str(experiment is not None).lower()}'>"
        f"<h3>Identities compared</h3>{body}{note}</div>"
    )
