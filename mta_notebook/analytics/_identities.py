"""compare_identities: a fair test between Sender Identities, overall and per route.

Each identity is compared with a **reference** identity (the first by name, or ``reference=``):
one row per other identity and scope (``overall``, then each route both identities used). With
two identities, as in a 50/50 split, that is the one pair. Delivery rates are delivered /
(delivered + failed) with Wilson 95 % intervals; the difference (identity - reference) has
Newcombe's hybrid score interval and is *significant* when that interval leaves out 0. The
two-sided ``p_value`` is the pooled two-proportion z-test (the score test at difference 0).

With ``campaigns=`` (the campaign ids of a randomized split, ``plan_campaign(split=...)``) the
recipients were assigned to the identities at random, so the overall difference is caused by
the identity. Per route it is not randomized: who gets iMessage depends on opting in to each
identity, so a route compares groups of people who may differ. Without ``campaigns`` the whole
comparison is observational.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

import pandas as pd

from .._errors import ValidationError
from ..contract.routes import ROUTE_LABELS
from ..display._words import percent
from ._compare import MIN_SETTLED, newcombe_interval
from ._inputs import Engine
from ._intervals import wilson_interval
from ._report import delivery_report

__all__ = [
    "IDENTITIES_OBSERVATIONAL",
    "IDENTITY_COLUMNS",
    "RANDOMIZED",
    "ROUTE_CAVEAT",
    "compare_identities",
    "design_note",
    "two_proportion_p_value",
]

IDENTITY_COLUMNS: Final = (
    "sender_name",
    "reference",
    "scope",
    "delivered",
    "settled",
    "rate",
    "rate_low",
    "rate_high",
    "reference_delivered",
    "reference_settled",
    "reference_rate",
    "reference_low",
    "reference_high",
    "difference",
    "difference_low",
    "difference_high",
    "p_value",
    "significant",
    "randomized",
    "finding",
    "verdict",
)
RANDOMIZED: Final = "Randomized: recipients were assigned to the identities at random."
ROUTE_CAVEAT: Final = (
    "Per route not randomized: who gets iMessage depends on opting in to each identity."
)
IDENTITIES_OBSERVATIONAL: Final = (
    "Observational: the identities went to different recipients, chosen by you, so a "
    "difference may come from who they are, not from the identity."
)


def two_proportion_p_value(delivered1: int, settled1: int, delivered2: int, settled2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test of rate 1 = rate 2 (NaN if empty).

    >>> round(two_proportion_p_value(43, 45, 38, 45), 4)
    0.0789
    """
    if settled1 <= 0 or settled2 <= 0:
        return math.nan
    pooled = (delivered1 + delivered2) / (settled1 + settled2)
    var = pooled * (1.0 - pooled) * (1.0 / settled1 + 1.0 / settled2)
    diff = delivered1 / settled1 - delivered2 / settled2
    if var <= 0.0:  # every message delivered (or none) on both sides: no difference to test
        return 1.0
    return math.erfc(abs(diff) / math.sqrt(2.0 * var))


def _rate_text(name: str, delivered: int, settled: int, low: float, high: float) -> str:
    return f"{name} {percent(delivered / settled, delivered, settled, low, high)}"


def design_note(scope: str, randomized: bool) -> str:
    """What a row's comparison can say, by how its recipients were chosen."""
    if not randomized:
        return IDENTITIES_OBSERVATIONAL
    return RANDOMIZED if scope == "overall" else f"{RANDOMIZED} {ROUTE_CAVEAT}"


def _finding(row: dict[str, object]) -> str:
    scope = str(row["scope"])
    where = "Overall" if scope == "overall" else f"By {ROUTE_LABELS.get(scope, scope)}"
    name, ref = str(row["sender_name"]), str(row["reference"])
    n1, n2 = int(str(row["settled"])), int(str(row["reference_settled"]))
    if min(n1, n2) < MIN_SETTLED:
        return (
            f"{name} vs {ref}, {where[0].lower()}{where[1:]}: too few settled messages to "
            f"compare ({n1} and {n2}; at least {MIN_SETTLED} each)."
        )
    says = "significant at 95 %" if row["significant"] else "not significant at 95 %"
    d, lo, hi = (float(str(row[k])) for k in ("difference", "difference_low", "difference_high"))
    first = _rate_text(name, int(str(row["delivered"])), n1, *_floats(row, "rate"))
    second = _rate_text(ref, int(str(row["reference_delivered"])), n2, *_floats(row, "reference"))
    return (
        f"{where}: delivered {first} vs {second}: {100 * d:+.1f} pts "
        f"[{100 * lo:+.1f}, {100 * hi:+.1f}], {says}."
    )


def _floats(row: dict[str, object], prefix: str) -> tuple[float, float]:
    return float(str(row[f"{prefix}_low"])), float(str(row[f"{prefix}_high"]))


def compare_identities(
    events: object,
    sends: object | None = None,
    *,
    campaigns: Iterable[str] | None = None,
    reference: str | None = None,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Each Sender Identity's delivery against a reference identity's, overall and per route.

    One row per identity other than ``reference`` (default: the first by name) and ``scope``
    (``overall``, then ``imessage`` and ``sms_fallback`` when both identities have messages
    there): ``delivered``, ``settled`` (delivered + failed), ``rate`` with ``rate_low``/
    ``rate_high`` (Wilson 95 %), the same for the reference (``reference_*``), ``difference``
    (rate - reference rate, a fraction) with ``difference_low``/``difference_high`` (Newcombe
    95 %), ``p_value`` (pooled two-proportion z-test), ``significant`` (the interval leaves out
    0), ``randomized`` and a ``verdict`` in words.

    ``campaigns`` keeps only those campaign ids: pass the campaigns of a randomized split
    (``plan_campaign(split={"Acme": .5, "Acme Deals": .5}, seed=...)``) and the verdict says the
    overall comparison is randomized; without it the verdict says it is observational. Messages
    without an identity (plain SMS) are left out. Other inputs as for :func:`delivery_report`.

    >>> import pandas as pd
    >>> phones = [f"+1312555{i:04d}" for i in range(40)]
    >>> sends = pd.DataFrame({"campaign_id": ["a"] * 20 + ["b"] * 20, "message_id": [1] * 20
    ...     + [2] * 20, "phone": phones, "sender_name": ["Acme"] * 20 + ["Acme Deals"] * 20,
    ...     "state": "sent"})
    >>> ev = sends[["message_id", "phone"]].assign(event="delivery-status",
    ...     status=["delivered"] * 19 + ["delivery_failed"] + ["delivered"] * 12
    ...     + ["delivery_failed"] * 8, occurred_at=pd.Timestamp("2026-01-01", tz="UTC"))
    >>> row = compare_identities(ev, sends, campaigns=["a", "b"]).iloc[0]
    >>> row.sender_name, row.reference, row.scope, round(float(row.difference), 2)
    ('Acme Deals', 'Acme', 'overall', -0.35)
    >>> print(row.verdict)  # doctest: +NORMALIZE_WHITESPACE
    Overall: delivered Acme Deals 60.0 % (12/20) [39-78] vs Acme 95.0 % (19/20) [76-99]: -35.0 pts
    [-56.7, -9.0], significant at 95 %. Randomized: recipients were assigned to the identities at
    random.
    """
    chosen = None if campaigns is None else [str(c) for c in campaigns]
    if chosen is not None and not chosen:
        raise ValidationError("campaigns=[] names no campaign; pass the split's campaign ids")
    report = delivery_report(
        events,
        sends,
        by=("campaign_id", "sender_name", "route"),
        start=start,
        end=end,
        engine=engine,
    )
    report = report[report["sender_name"].notna()]
    if chosen is not None:
        report = report[report["campaign_id"].isin(chosen)]
    sums = report.groupby(["sender_name", "route"])[["delivered", "failed"]].sum()
    names = sorted({str(n) for n, _ in sums.index})
    if reference is None:
        reference = names[0] if names else None
    elif reference not in names:
        raise ValidationError(
            f"reference={reference!r} has no messages here; choose one of {names}"
        )
    rows = []
    for name in names:
        if name == reference or reference is None:
            continue
        for scope in ("overall", "imessage", "sms_fallback"):
            a, b = _counts(sums, name, scope), _counts(sums, reference, scope)
            if scope != "overall" and (a is None or b is None):
                continue
            rows.append(_row(name, reference, scope, a or (0, 0), b or (0, 0), chosen is not None))
    out: pd.DataFrame = pd.DataFrame(rows, columns=list(IDENTITY_COLUMNS))
    return out


def _counts(sums: pd.DataFrame, name: str, scope: str) -> tuple[int, int] | None:
    """(delivered, settled) of ``name`` in ``scope``; None when it has no message there."""
    part = sums.loc[
        [k for k in sums.index if k[0] == name and (scope == "overall" or k[1] == scope)]
    ]
    if part.empty:
        return None
    delivered, failed = int(part["delivered"].sum()), int(part["failed"].sum())
    return delivered, delivered + failed


def _row(
    name: str, ref: str, scope: str, a: tuple[int, int], b: tuple[int, int], randomized: bool
) -> dict[str, object]:
    low, high = wilson_interval(*a)
    ref_low, ref_high = wilson_interval(*b)
    d_low, d_high = newcombe_interval(a[0], a[1], b[0], b[1])
    rate = a[0] / a[1] if a[1] else math.nan
    ref_rate = b[0] / b[1] if b[1] else math.nan
    row: dict[str, object] = {
        "sender_name": name,
        "reference": ref,
        "scope": scope,
        "delivered": a[0],
        "settled": a[1],
        "rate": rate,
        "rate_low": low,
        "rate_high": high,
        "reference_delivered": b[0],
        "reference_settled": b[1],
        "reference_rate": ref_rate,
        "reference_low": ref_low,
        "reference_high": ref_high,
        "difference": rate - ref_rate,
        "difference_low": d_low,
        "difference_high": d_high,
        "p_value": two_proportion_p_value(a[0], a[1], b[0], b[1]),
        "significant": bool(d_low > 0 or d_high < 0),
        "randomized": randomized,
    }
    row["finding"] = _finding(row)
    row["verdict"] = f"{row['finding']} {design_note(str(row['scope']), randomized)}"
    return row
