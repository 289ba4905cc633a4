"""What the reducers share: the report's count columns, rates, and one output shape per backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

import pandas as pd

from .._errors import ValidationError
from ..contract import routes
from . import _join, _sql
from ._intervals import wilson_bounds

if TYPE_CHECKING:
    import ibis.expr.types as ir

#: Report column -> the message outcomes it counts. MTA may still update ``unknown``, so it
#: waits with ``pending`` (a message with no event yet is ``pending`` too).
REPORT_OUTCOMES: Final[Mapping[str, tuple[str, ...]]] = {
    "delivered": ("delivered",),
    "failed": ("failed",),
    "unconfirmed": ("unconfirmed",),
    "pending": ("pending", "unknown"),
}
REPORT_COLUMNS: Final[tuple[str, ...]] = (
    "messages",
    *REPORT_OUTCOMES,
    "delivery_rate",
    "ci_low",
    "ci_high",
    "share",
    "unmatched",
)
COUNT_COLUMNS: Final[tuple[str, ...]] = ("messages", *REPORT_OUTCOMES, "unmatched")
BY_COLUMNS: Final[tuple[str, ...]] = (
    "campaign_id",
    "external_id",
    "sender_name",
    "route",
    "route_basis",
    "status",
    "outcome",
    "unmatched",
)


def message_rows() -> ir.Table:
    """The placeholder of the messages a reducer reads."""
    return _sql.placeholder(_join.MESSAGE_SCHEMA, "messages")


def check_by(by: Sequence[str] | str) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    bad = [k for k in keys if k not in BY_COLUMNS]
    if bad:
        raise ValidationError(f"by={bad!r} is not a message column; choose from {list(BY_COLUMNS)}")
    return keys


def counts(t: ir.Table) -> dict[str, ir.Value]:
    import ibis

    out: dict[str, ir.Value] = {"messages": t.count()}
    for column, outcomes in REPORT_OUTCOMES.items():
        hit = t.outcome.isin(list(outcomes)) if len(outcomes) > 1 else t.outcome == outcomes[0]
        out[column] = ibis.ifelse(hit, 1, 0).sum().cast("int64")
    out["unmatched"] = ibis.ifelse(t.unmatched, 1, 0).sum().cast("int64")
    return out


def rates(t: ir.Table) -> dict[str, ir.Value]:
    """delivery_rate and its Wilson 95 % interval; null (NaN) when nothing settled."""
    n = (t.delivered + t.failed).cast("float64").nullif(0.0)
    p = t.delivered.cast("float64") / n
    low, high = wilson_bounds(p, n, sqrt=lambda v: v.sqrt())
    return {"delivery_rate": p, "ci_low": low, "ci_high": high}


def route_order(route: pd.Series[Any]) -> pd.Series[Any]:
    order: dict[str, int] = {name: i for i, name in enumerate(routes.MESSAGE_ROUTES)}
    return route.map(lambda r: order.get(r, len(order)) if isinstance(r, str) else len(order) + 1)


def finish(
    df: pd.DataFrame, columns: Sequence[str], ints: Sequence[str], keys: Sequence[str]
) -> pd.DataFrame:
    """The same dtypes and row order whatever the backend returned."""
    df = df.loc[:, list(columns)].copy()
    for col in columns:
        if col in ints:
            df[col] = df[col].fillna(0).astype("int64")
        elif pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        elif pd.api.types.is_bool_dtype(df[col]) or col == "unmatched":
            df[col] = df[col].astype("bool")
        elif pd.api.types.is_numeric_dtype(df[col]):
            df[col] = df[col].astype("float64")
        else:
            df[col] = df[col].astype("object").where(df[col].notna(), None).astype("str")
    sort_cols: list[str] = []
    for k in keys:
        if k == "route":
            df["_route_order"] = route_order(df["route"])
            sort_cols.append("_route_order")
        else:
            sort_cols.append(k)
    if sort_cols:
        df = df.sort_values(sort_cols, na_position="last", kind="mergesort")
    df = df.drop(columns=["_route_order"], errors="ignore")
    return cast("pd.DataFrame", df.reset_index(drop=True))
