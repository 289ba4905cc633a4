"""readable(): any analytics table as people read it, in a notebook, the report or the dashboard.

The analytics reducers return data: snake_case columns, fractions (``0.955556``), route codes
(``sms_fallback``), ``<NA>`` for "no identity" and NaN where a rate is undefined. That is what
code wants and not what a marketer reads. :func:`readable` turns such a frame into text with
plain headers ("Delivery rate", "Sender Identity", "Route"), route labels from the contract,
"(no identity)", percentages with their counts and intervals ("95.6 % (43/45) [85-99]"), no
index and an en dash where there is no value. Rates keep their n/N: a 100 % bar from one
message reads "100.0 % (1/1)".

>>> import pandas as pd
>>> rep = pd.DataFrame({"sender_name": ["Acme", None], "route": ["imessage", "unknown"],
...     "messages": [45, 1], "delivered": [43, 0], "failed": [2, 0], "pending": [0, 1],
...     "delivery_rate": [43 / 45, float("nan")], "ci_low": [0.85, float("nan")],
...     "ci_high": [0.99, float("nan")]})
>>> readable_frame(rep).to_dict("records")[0]["Delivery rate"]
'95.6 % (43/45) [85-99]'
>>> readable_frame(rep).iloc[1].tolist()
['(no identity)', 'Route unknown', '1', '0', '0', '1', 'pending']
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from ..contract.routes import ROUTE_LABELS
from ._charts import NO_IDENTITY
from ._labels import (
    COLUMN_LABELS,
    CREDIT_COLUMNS,
    CREDIT_RATIOS,
    HEADER_WORDS,
    MONEY_COLUMNS,
    SCOPE_LABELS,
)
from ._words import DASH, percent
from ._words import missing as _missing

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

__all__ = [
    "COLUMN_LABELS",
    "readable",
    "readable_frame",
    "readable_html",
]

#: What a table shows where there is no value (NaN, ``<NA>``, an undefined rate).


@dataclass(frozen=True)
class _Rate:
    """A rate column: its count (n), how to get its base (N) and its interval columns."""

    n: str
    base: Callable[[pd.DataFrame], pd.Series] | None
    low: str | None = None
    high: str | None = None
    # columns folded into the rate's text, so not shown on their own
    folded: tuple[str, ...] = ()


def _cols(*names: str) -> Callable[[pd.DataFrame], pd.Series]:
    def base(df: pd.DataFrame) -> pd.Series:
        total: pd.Series = df[list(names)].sum(axis=1)
        return total

    return base


def _from_share(n: str, rate: str) -> Callable[[pd.DataFrame], pd.Series]:
    # a share's base is not a column (of the identity's messages, or of the route's): n / share
    # gives it back exactly for counts, and a zero share says nothing about the base
    def base(df: pd.DataFrame) -> pd.Series:
        share = pd.to_numeric(df[rate], errors="coerce")
        out: pd.Series = (df[n] / share.where(share > 0)).round()
        return out

    return base


_RATES: Final[Mapping[str, _Rate]] = {
    "delivery_rate": _Rate("delivered", _cols("delivered", "failed"), "ci_low", "ci_high"),
    # compare_identities: each side's delivered of settled, the counts folded into the text
    "rate": _Rate("delivered", _cols("settled"), "rate_low", "rate_high", ("delivered", "settled")),
    "reference_rate": _Rate(
        "reference_delivered",
        _cols("reference_settled"),
        "reference_low",
        "reference_high",
        ("reference_delivered", "reference_settled"),
    ),
    "reach": _Rate("imessage", _cols("messages"), "reach_low", "reach_high"),
    "imessage_rate": _Rate(
        "imessage_delivered",
        _cols("imessage_settled"),
        "imessage_low",
        "imessage_high",
        ("imessage_delivered", "imessage_settled"),
    ),
    "fallback_rate": _Rate(
        "fallback_delivered",
        _cols("fallback_settled"),
        "fallback_low",
        "fallback_high",
        ("fallback_delivered", "fallback_settled"),
    ),
    "reply_rate": _Rate("replied", _cols("messages"), "reply_low", "reply_high"),
    "stop_rate": _Rate("stops", _cols("messages"), "stop_low", "stop_high"),
    "imessage_share": _Rate("imessage", _cols("imessage", "sms_fallback")),
    "fallback_share": _Rate("sms_fallback", _cols("imessage", "sms_fallback")),
    "share": _Rate("messages", _from_share("messages", "share")),
}

#: A share of an audience (optin_reach's summary and daily tables): reachable of the audience,
#: whose size is a column in the summary and comes back from the share in the daily table.
_AUDIENCE_SHARE: Final = (
    _Rate("reachable", _cols("audience"), "ci_low", "ci_high"),
    _Rate("reachable", _from_share("reachable", "share"), "ci_low", "ci_high"),
)


def _spec(df: pd.DataFrame, name: str) -> _Rate | None:
    """The rate rule of column ``name`` in ``df``: a share of an audience when the frame has
    ``reachable`` (optin_reach), else the rule by name."""
    if name == "share" and "reachable" in df.columns and "messages" not in df.columns:
        return _AUDIENCE_SHARE[0] if "audience" in df.columns else _AUDIENCE_SHARE[1]
    return _RATES.get(name)


def _points(value: Any, low: Any = None, high: Any = None) -> str:
    if _missing(value):
        return DASH
    text = f"{100 * float(value):+.1f} pts"
    if not _missing(low) and not _missing(high):
        text += f" [{100 * float(low):+.1f}, {100 * float(high):+.1f}]"
    return text


def _header(name: object) -> str:
    key = str(name)
    if key in COLUMN_LABELS:
        return COLUMN_LABELS[key]
    words = [HEADER_WORDS.get(w.lower(), w) for w in key.replace("_", " ").split()]
    if words and words[0] == words[0].lower():
        words[0] = words[0].capitalize()
    return " ".join(words) or key


def _duration(value: Any) -> str:
    return seconds_text(pd.Timedelta(value).total_seconds())


def seconds_text(value: Any) -> str:
    """A number of seconds as people read it: ``"3.4 s"``, ``"12 s"``, ``"3.4 min"``, ``"2.0 h"``.

    >>> seconds_text(3.44), seconds_text(12.3), seconds_text(204), seconds_text(float("nan"))
    ('3.4 s', '12 s', '3.4 min', '–')
    """
    if _missing(value):
        return DASH
    seconds = float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _number(value: Any, decimals: int) -> str:
    if _missing(value) or math.isinf(float(value)):
        return DASH
    return f"{float(value):,.{decimals}f}"


def _p_value(value: Any) -> str:
    if _missing(value):
        return DASH
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def _dates(col: pd.Series) -> list[str] | None:
    """A column of UTC midnights (a per-day table) as dates, without a time that says nothing."""
    if not isinstance(col.dtype, pd.DatetimeTZDtype):
        return None
    times = col.dropna()
    if times.empty or not (times == times.dt.floor("1D")).all():
        return None
    return [DASH if _missing(v) else str(pd.Timestamp(v).strftime("%Y-%m-%d")) for v in col]


def _scalar(value: Any) -> str:
    """One cell that no rule above claimed."""
    if _missing(value):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        stamp: pd.Timestamp = value
        if stamp.tzinfo is not None:
            return str(stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC"))
        return str(stamp.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, pd.Timedelta):
        return _duration(value)
    kind = getattr(getattr(value, "dtype", None), "kind", "")
    if isinstance(value, int) or kind in ("i", "u"):
        return f"{int(value):,}"
    if isinstance(value, float) or kind == "f":
        number = float(value)
        if math.isinf(number):
            return DASH
        if number.is_integer():
            return f"{int(number):,}"
        return f"{number:,.3g}" if abs(number) < 1000 else f"{number:,.0f}"
    return str(value)


def _rate_column(df: pd.DataFrame, name: str) -> list[str]:
    spec = _spec(df, name)
    if spec is None:
        prefix = name.rsplit("_", 1)[0]
        spec = _Rate("", None, f"{prefix}_low", f"{prefix}_high")
    has_n = spec.n in df.columns
    try:
        base = spec.base(df) if spec.base is not None and has_n else None
    except KeyError:
        base = None
    lows = df[spec.low] if spec.low in df.columns else None
    highs = df[spec.high] if spec.high in df.columns else None
    out: list[str] = []
    for i in range(len(df)):
        value = df[name].iloc[i]
        if name == "delivery_rate" and _missing(value):
            # nothing settled: a row of messages still waiting reads "pending", not a dash
            waiting = df["pending"].iloc[i] if "pending" in df.columns else 0
            out.append("pending" if not _missing(waiting) and waiting > 0 else DASH)
            continue
        out.append(
            percent(
                value,
                df[spec.n].iloc[i] if base is not None else None,
                base.iloc[i] if base is not None else None,
                lows.iloc[i] if lows is not None else None,
                highs.iloc[i] if highs is not None else None,
            )
        )
    return out


def _is_rate(name: str) -> bool:
    return name in _RATES or name.endswith(("_rate", "_share"))


def _folded(df: pd.DataFrame) -> set[str]:
    """Columns shown inside another column's text (interval bounds, a rate's n and N)."""
    out: set[str] = set()
    for name in df.columns:
        key = str(name)
        if _is_rate(key):
            spec = _spec(df, key)
            prefix = key.rsplit("_", 1)[0]
            out |= {f"{prefix}_low", f"{prefix}_high"}
            if spec is not None:
                out |= {c for c in (spec.low, spec.high) if c} | set(spec.folded)
        elif key == "difference":
            out |= {"difference_low", "difference_high"}
    return out & {str(c) for c in df.columns}


def _significant(df: pd.DataFrame) -> list[str]:
    from ..analytics._compare import MIN_SETTLED

    out: list[str] = []
    for i in range(len(df)):
        settled = [
            df[c].iloc[i]
            for c in ("imessage_settled", "fallback_settled", "settled", "reference_settled")
            if c in df.columns
        ]
        if settled and min(settled) < MIN_SETTLED:
            out.append("too few to say")
        else:
            out.append(_scalar(bool(df["significant"].iloc[i])))
    return out


def _cells(data: pd.DataFrame, key: str) -> list[str]:
    """The text of column ``key`` by the rule its name calls for."""
    col = data[key]
    if key == "sender_name" or key == "reference":
        return [NO_IDENTITY if _missing(v) else str(v) for v in col]
    if key == "route":
        return [DASH if _missing(v) else ROUTE_LABELS.get(str(v), str(v)) for v in col]
    if key == "scope":
        labels = {**ROUTE_LABELS, **SCOPE_LABELS}
        return [DASH if _missing(v) else labels.get(str(v), str(v)) for v in col]
    if key.endswith("_s") and col.dtype.kind in "iuf":
        return [seconds_text(v) for v in col]
    if key in CREDIT_COLUMNS:
        return [_number(v, 0) for v in col]
    if key in CREDIT_RATIOS:
        return [_number(v, 2) for v in col]
    if key in MONEY_COLUMNS:
        return [_number(v, 2) for v in col]
    if key == "p_value":
        return [_p_value(v) for v in col]
    return _dates(col) or [_scalar(v) for v in col]


def readable_frame(df: pd.DataFrame, *, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``df`` as text: plain headers, labels, percentages with n/N and intervals, no NaN.

    Interval bounds (``ci_low``, ``ci_high``, ``*_low``, ``*_high``) are folded into their
    rate's text and not shown on their own. Seconds (``*_s``) read "12 s" or "3.4 min",
    credits are whole numbers (per message two decimals), money has two decimals. ``labels``
    overrides headers by column name. The index is dropped (a fresh 0..n-1).
    """
    folded = _folded(df)
    data = df.reset_index(drop=True)
    columns: dict[str, list[str]] = {}
    for name in data.columns:
        key = str(name)
        if key in folded:
            continue
        col = data[name]
        if key == "difference":
            lows = data.get("difference_low")
            highs = data.get("difference_high")
            cells = [
                _points(
                    col.iloc[i],
                    lows.iloc[i] if lows is not None else None,
                    highs.iloc[i] if highs is not None else None,
                )
                for i in range(len(data))
            ]
        elif key == "significant" and "difference" in data.columns:
            cells = _significant(data)
        elif _is_rate(key) and col.dtype.kind == "f":
            cells = _rate_column(data, key)
        else:
            cells = _cells(data, key)
        header = _header(key)
        if key == "difference" and "reference" in data.columns:  # compare_identities
            header = "Difference (identity − compared with)"
        columns[(labels or {}).get(key) or header] = cells
    out: pd.DataFrame = pd.DataFrame(columns, dtype="object")
    return out


def readable(df: pd.DataFrame, *, labels: Mapping[str, str] | None = None) -> Styler:
    """``df`` ready to be read in a notebook: :func:`readable_frame` shown without its index.

    Returns a pandas ``Styler`` (Jupyter renders it as a table; ``.data`` is the text frame,
    ``.to_html()`` the markup). For the numbers themselves keep using ``df``.

    >>> import pandas as pd
    >>> shown = readable(pd.DataFrame({"route": ["sms_fallback"], "stop_rate": [2 / 38],
    ...     "messages": [38], "stops": [2]}))
    >>> shown.data.to_dict("records")
    [{'Route': 'SMS fallback', 'STOP rate': '5.3 % (2/38)', 'Messages': '38', 'STOPs': '2'}]
    """
    frame = readable_frame(df, labels=labels)
    styler: Styler = frame.style.hide(axis="index").set_table_attributes('class="mta"')
    return styler


def readable_html(
    df: pd.DataFrame, *, empty: str = "No rows.", labels: Mapping[str, str] | None = None
) -> str:
    """:func:`readable_frame` as one escaped ``<table class="mta">`` (numbers right-aligned)."""
    frame = readable_frame(df, labels=labels)
    if frame.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    numeric = [_numeric(df, str(c)) for c in df.columns if str(c) not in _folded(df)]
    head = "".join(
        f'<th class="num">{html.escape(str(c))}</th>' if num else f"<th>{html.escape(str(c))}</th>"
        for c, num in zip(frame.columns, numeric, strict=True)
    )
    rows = []
    for record in frame.itertuples(index=False, name=None):
        cells = "".join(
            f'<td class="num">{html.escape(str(v))}</td>'
            if num
            else f"<td>{html.escape(str(v))}</td>"
            for v, num in zip(record, numeric, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="mta"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _numeric(df: pd.DataFrame, name: str) -> bool:
    kind = df[name].dtype.kind
    return (kind in "iuf" or str(df[name].dtype) in ("Int64", "Float64")) and name not in (
        "status_code",
    )
