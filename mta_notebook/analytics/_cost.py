"""cost_report: credits spent per Sender Identity and route, cost per delivered message, and
what iMessage saved.

A message's SMS credits are the ledger's, as planned (``Journal.sends()``: ``credits`` per
recipient, counted as SMS or MMS, ``contract.segments``). SMS and SMS fallback cost those; an
iMessage costs what ``imessage_credits`` says (``contract.assumptions.IMESSAGE_CREDITS``: MTA
does not document it). A message with no event yet (route ``unknown``) is counted at its SMS
credits, the most it can cost. Every message sent counts, delivered or not: nothing in MTA's
docs says a failed message is refunded. Messages whose ledger row has no credits (events without a
ledger row, a campaign planned before the journal kept them) are counted as ``unpriced``, never
guessed.
"""

from __future__ import annotations

import os
from typing import Any, Final

import numpy as np
import pandas as pd

from .._errors import ValidationError
from ..contract.assumptions import IMESSAGE_CREDITS, ImessageCredits, check_imessage_credits
from ._inputs import Engine
from ._messages import Messages
from ._table import message_table

__all__ = ["COST_COLUMNS", "cost_report"]

#: The columns of :func:`cost_report` after ``sender_name`` and ``route`` (the ``cost`` ones
#: only with a price per credit).
COST_COLUMNS: Final[tuple[str, ...]] = (
    "messages",
    "delivered",
    "unpriced",
    "credits",
    "credits_per_message",
    "credits_per_delivered",
    "sms_credits",
    "saved_credits",
    "cost",
    "cost_per_delivered",
    "saved_cost",
)
_COST_ONLY: Final = ("cost", "cost_per_delivered", "saved_cost")
_LEDGER_COLUMNS: Final = ("external_id", "message_id", "phone", "credits")


def cost_report(
    events: object,
    sends: object | None = None,
    *,
    price_per_credit: float | None = None,
    imessage_credits: ImessageCredits = IMESSAGE_CREDITS,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Credits and cost per Sender Identity and route, and what iMessage saved.

    Parameters
    ----------
    events
        The Events table (as for :func:`delivery_report`), or the ``Messages`` of
        :func:`messages`; with a ``Messages``, ``sends`` is only read for its credits.
    sends
        The send ledger (``Journal.sends()`` or ``CampaignResult.sends``: a DataFrame, a Parquet
        path or an ibis table) with its ``credits`` column.
    price_per_credit
        What one credit costs (any currency); adds ``cost``, ``cost_per_delivered`` and
        ``saved_cost``.
    imessage_credits
        What an iMessage costs: ``"as-sms"`` (the default, ``IMESSAGE_CREDITS``: the credits of
        the SMS it replaces, so nothing is saved) or a flat whole number such as ``1``.
    start, end, engine
        As for :func:`delivery_report`.

    Returns
    -------
    pandas.DataFrame
        One row per ``sender_name`` × ``route``: ``messages``, ``delivered``, ``unpriced``
        (messages without planned credits, left out of what follows), ``credits`` (spent by the
        priced messages; NA when none is priced), ``credits_per_message``,
        ``credits_per_delivered`` (over the priced messages delivered; NaN when none),
        ``sms_credits`` (what they would have cost as SMS), ``saved_credits`` (``sms_credits``
        minus ``credits``: iMessage's saving, 0 for SMS rows); with a price also ``cost``,
        ``cost_per_delivered`` and ``saved_cost``.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"] * 3, "message_id": [7, 7, 7],
    ...     "external_id": ["c-1"] * 3, "phone": ["+13125550000", "+13125550001", "+13125550002"],
    ...     "status": ["delivered", "delivered", "delivery_failed"],
    ...     "sender_name": ["Acme", "Acme", None]})
    >>> sends = ev[["external_id", "message_id", "phone"]].assign(
    ...     sender_name="Acme", state="sent", credits=[2, 2, 2])
    >>> rep = cost_report(ev, sends, imessage_credits=1, price_per_credit=0.02)
    >>> rep[["route", "messages", "credits", "saved_credits", "cost_per_delivered"]].to_dict(
    ...     "records")  # doctest: +NORMALIZE_WHITESPACE
    [{'route': 'imessage', 'messages': 2, 'credits': 2, 'saved_credits': 2,
      'cost_per_delivered': 0.02},
     {'route': 'sms_fallback', 'messages': 1, 'credits': 2, 'saved_credits': 0,
      'cost_per_delivered': nan}]
    """
    try:
        rule = check_imessage_credits(imessage_credits)
    except ValueError as exc:
        raise ValidationError(f"cost_report: {exc}") from exc
    price = _price(price_per_credit)
    if isinstance(events, Messages):
        table = message_table(events, start=start, end=end)
    else:
        table = message_table(events, sends, start=start, end=end, engine=engine)
    sms = _planned_credits(table, _ledger(sends))
    is_imessage = (table["route"] == "imessage").to_numpy()
    charged = sms.copy()
    if rule != "as-sms":
        charged[is_imessage] = rule  # a flat price is known even without the ledger's credits
    frame = pd.DataFrame(
        {
            "sender_name": table["sender_name"],
            "route": table["route"],
            "delivered": (table["outcome"] == "delivered").to_numpy(),
            "delivered_priced": ((table["outcome"] == "delivered") & ~np.isnan(charged)).to_numpy(),
            "credits": charged,
            "sms_credits": sms.where(~np.isnan(charged), np.nan),
        }
    )
    frame["saved_credits"] = np.where(is_imessage, frame["sms_credits"] - frame["credits"], 0.0)
    keys = ["sender_name", "route"]
    agg = frame.groupby(keys, dropna=False, sort=False).agg(
        messages=("route", "size"),
        delivered=("delivered", "sum"),
        delivered_priced=("delivered_priced", "sum"),
        priced=("credits", "count"),
        credits=("credits", "sum"),
        sms_credits=("sms_credits", "sum"),
        saved_credits=("saved_credits", "sum"),
    )
    out = agg.reset_index()
    out["unpriced"] = out["messages"] - out["priced"]
    for col in ("messages", "delivered", "unpriced"):
        out[col] = out[col].astype("int64")
    for col in ("credits", "sms_credits", "saved_credits"):  # NA: no message of the row priced
        out[col] = out[col].where(out["priced"] > 0).astype("Int64")
    out["credits_per_message"] = _ratio(out["credits"], out["priced"])
    # per delivered message among the priced ones: an unpriced message is neither spent nor won
    out["credits_per_delivered"] = _ratio(out["credits"], out["delivered_priced"])
    columns = [c for c in COST_COLUMNS if price is not None or c not in _COST_ONLY]
    if price is not None:
        out["cost"] = out["credits"].astype("Float64").astype("float64") * price
        out["cost_per_delivered"] = _ratio(out["cost"], out["delivered_priced"])
        out["saved_cost"] = out["saved_credits"].astype("Float64").astype("float64") * price
    order = table[keys].drop_duplicates().reset_index(drop=True)  # message_table's row order
    result: pd.DataFrame = order.merge(out, on=keys, how="left").loc[:, [*keys, *columns]]
    return result


def _price(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValidationError(
            f"cost_report: price_per_credit={value!r} must be a number >= 0 (what one credit "
            "costs), or None for credits only"
        )
    return float(value)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """``num / den`` as floats, NaN where ``den`` is 0 or ``num`` is NA."""
    top = num.astype("Float64").astype("float64") if num.dtype == "Int64" else num
    ratio: pd.Series = top.astype("float64") / den.astype("float64").where(den > 0)
    return ratio


def _ledger(sends: object | None) -> pd.DataFrame | None:
    """The ledger's join keys and credits as pandas, or None when it has no credits."""
    if sends is None:
        return None
    obj: Any = sends
    for attr in ("sends", "df"):  # a CampaignResult, an object holding the frame
        if not isinstance(obj, pd.DataFrame) and isinstance(getattr(obj, attr, None), pd.DataFrame):
            obj = getattr(obj, attr)
    if isinstance(obj, str | os.PathLike):
        import pyarrow.parquet as pq

        names = set(pq.read_schema(os.fspath(obj)).names)
        obj = pd.read_parquet(obj, columns=[c for c in _LEDGER_COLUMNS if c in names])
    elif not isinstance(obj, pd.DataFrame) and hasattr(obj, "to_pandas"):
        cols = [c for c in _LEDGER_COLUMNS if c in obj.columns]
        obj = obj.select(cols).to_pandas()
    if not isinstance(obj, pd.DataFrame) or "credits" not in obj.columns:
        return None
    df = obj.reindex(columns=list(_LEDGER_COLUMNS))
    ledger: pd.DataFrame = pd.DataFrame(
        {
            "external_id": df["external_id"].astype("string"),
            "message_id": pd.to_numeric(df["message_id"], errors="coerce").astype("Int64"),
            "phone": df["phone"].astype("string"),
            "credits": pd.to_numeric(df["credits"], errors="coerce").astype("float64"),
        }
    )
    return ledger


def _planned_credits(table: pd.DataFrame, ledger: pd.DataFrame | None) -> pd.Series:
    """Each message's SMS credits from its ledger row: on (external_id, phone), else on
    (message_id, phone) when the events had no external id (NaN when neither matches)."""
    out: pd.Series = pd.Series(np.nan, index=table.index, dtype="float64")
    if ledger is None or table.empty:
        return out
    keys = pd.DataFrame(
        {
            "external_id": table["external_id"].astype("string"),
            "message_id": table["message_id"].astype("Int64"),
            "phone": table["phone"].astype("string"),
        }
    )
    for on in (["external_id", "phone"], ["message_id", "phone"]):
        side = ledger.dropna(subset=[*on, "credits"]).drop_duplicates(on)[[*on, "credits"]]
        todo = out.isna() & keys[on].notna().all(axis=1)
        if not todo.any() or side.empty:
            continue
        found = keys.loc[todo, on].merge(side, on=on, how="left")["credits"].to_numpy()
        out.loc[todo] = found
    return out
