"""compare_routes: per Sender Identity, how much of the audience iMessage reaches and whether it
delivers better than the SMS fallback, with intervals and a verdict in words.

Reach is the share of an identity's messages that went by iMessage (Wilson 95 %). Each route's
delivery rate is delivered / (delivered + failed) with its Wilson interval; their difference has
Newcombe's hybrid score interval (method 10), and is *significant* when that interval leaves
out 0. The comparison is observational: people chose iMessage by opting in to the identity, so
a difference may come from who they are, not from the route.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import pandas as pd

from ..display._words import percent
from ._intervals import wilson_interval
from ._report import delivery_report

__all__ = ["COMPARE_COLUMNS", "MIN_SETTLED", "OBSERVATIONAL", "compare_routes", "newcombe_interval"]

#: Fewer settled messages than this on either route: too few to compare.
MIN_SETTLED: Final = 10
#: What every verdict reminds the reader of.
OBSERVATIONAL: Final = (
    "Observational: recipients get iMessage because they opted in to the identity, so a "
    "difference between the routes may come from who they are, not from the route."
)
COMPARE_COLUMNS: Final = (
    "sender_name",
    "messages",
    "imessage",
    "reach",
    "reach_low",
    "reach_high",
    "imessage_delivered",
    "imessage_settled",
    "imessage_rate",
    "imessage_low",
    "imessage_high",
    "fallback_delivered",
    "fallback_settled",
    "fallback_rate",
    "fallback_low",
    "fallback_high",
    "difference",
    "difference_low",
    "difference_high",
    "significant",
    "verdict",
)


def newcombe_interval(
    delivered1: int, settled1: int, delivered2: int, settled2: int
) -> tuple[float, float]:
    """Newcombe's hybrid score 95 % interval for rate 1 minus rate 2 (NaN when either is empty).

    >>> [round(x, 4) for x in newcombe_interval(43, 45, 38, 45)]
    [-0.0188, 0.2473]
    """
    if settled1 <= 0 or settled2 <= 0:
        return (math.nan, math.nan)
    p1, p2 = delivered1 / settled1, delivered2 / settled2
    l1, u1 = wilson_interval(delivered1, settled1)
    l2, u2 = wilson_interval(delivered2, settled2)
    d = p1 - p2
    return (d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2))


def _verdict(name: str, n: int, reached: int, i: _Route, f: _Route, diff: _Diff) -> str:
    head = f"{name}: {percent(reached / n)} reached by iMessage ({reached}/{n})."
    if min(i.settled, f.settled) < MIN_SETTLED:
        return (
            f"{head} Too few settled messages to compare the routes ({i.settled} by iMessage, "
            f"{f.settled} by SMS fallback; at least {MIN_SETTLED} each)."
        )
    says = "significant at 95 %" if diff.significant else "not significant at 95 %"
    return (
        f"{head} Delivered {percent(i.rate, low=i.low, high=i.high)} by iMessage vs "
        f"{percent(f.rate, low=f.low, high=f.high)} by SMS fallback: {100 * diff.value:+.1f} pts "
        f"[{100 * diff.low:+.1f}, {100 * diff.high:+.1f}], {says}."
    )


@dataclass(frozen=True)
class _Route:
    delivered: int
    settled: int

    @property
    def rate(self) -> float:
        return self.delivered / self.settled if self.settled else math.nan

    @property
    def low(self) -> float:
        return wilson_interval(self.delivered, self.settled)[0]

    @property
    def high(self) -> float:
        return wilson_interval(self.delivered, self.settled)[1]


@dataclass(frozen=True)
class _Diff:
    value: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def compare_routes(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: object = None,
) -> pd.DataFrame:
    """One row per Sender Identity: iMessage reach, delivery by iMessage and by SMS fallback,
    their difference with its interval, whether it is significant, and a verdict in words.

    Rates and differences are fractions; ``*_low``/``*_high`` are 95 % intervals (Wilson for
    rates, Newcombe for the difference). Inputs are those of :func:`delivery_report`, or a
    :class:`Messages`. See ``OBSERVATIONAL`` for what the comparison can and cannot say.

    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"] * 2, "message_id": [1, 2],
    ...     "phone": ["+13125550000", "+13125550001"], "status": ["delivered", "delivered"],
    ...     "sender_name": ["Acme", None],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")] * 2})
    >>> sends = pd.DataFrame({"message_id": [1, 2], "phone": ["+13125550000", "+13125550001"],
    ...     "sender_name": ["Acme", "Acme"], "state": ["sent", "sent"]})
    >>> compare_routes(ev, sends)["verdict"].iloc[0]  # doctest: +NORMALIZE_WHITESPACE
    'Acme: 50.0 % reached by iMessage (1/2). Too few settled messages to compare the routes (1 by
    iMessage, 1 by SMS fallback; at least 10 each).'
    """
    report = delivery_report(events, sends, start=start, end=end, engine=engine)
    report = report[report["sender_name"].notna()]
    rows = [_row(str(name), part) for name, part in report.groupby("sender_name", sort=True)]
    out: pd.DataFrame = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    return out


def _row(name: str, part: pd.DataFrame) -> dict[str, object]:
    sums = part.groupby("route")[["messages", "delivered", "failed"]].sum()
    totals = {(str(r), str(c)): int(v) for c, col in sums.items() for r, v in col.items()}

    def route(key: str) -> _Route:
        delivered = totals.get((key, "delivered"), 0)
        return _Route(delivered, delivered + totals.get((key, "failed"), 0))

    n = int(part["messages"].sum())
    reached = totals.get(("imessage", "messages"), 0)
    i, f = route("imessage"), route("sms_fallback")
    diff = _Diff(
        i.rate - f.rate, *newcombe_interval(i.delivered, i.settled, f.delivered, f.settled)
    )
    reach_low, reach_high = wilson_interval(reached, n)
    return {
        "sender_name": name,
        "messages": n,
        "imessage": reached,
        "reach": reached / n if n else math.nan,
        "reach_low": reach_low,
        "reach_high": reach_high,
        **{f"imessage_{k}": getattr(i, k) for k in ("delivered", "settled", "rate", "low", "high")},
        **{f"fallback_{k}": getattr(f, k) for k in ("delivered", "settled", "rate", "low", "high")},
        "difference": diff.value,
        "difference_low": diff.low,
        "difference_high": diff.high,
        "significant": diff.significant,
        "verdict": _verdict(name, n, reached, i, f, diff),
    }
