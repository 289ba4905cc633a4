"""delivery_timeseries: messages and their outcome per time bucket of sending."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import pandas as pd

from .._errors import ValidationError
from ._inputs import Engine
from ._messages import opened, run
from ._reduce import COUNT_COLUMNS, check_by, counts, finish, message_rows, rates

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["BUCKETS", "auto_freq", "delivery_timeseries"]


def delivery_timeseries(
    events: object,
    sends: object | None = None,
    *,
    freq: str = "1h",
    by: Sequence[str] | str = ("sender_name", "route"),
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Messages and their outcome per time bucket of sending (``freq``, e.g. ``"15min"``).

    Returns ``bucket`` (UTC start of the bucket), the ``by`` columns, ``messages``,
    ``delivered``, ``failed``, ``unconfirmed``, ``pending``, ``unmatched``, ``delivery_rate``,
    ``ci_low`` and ``ci_high`` (as in :func:`delivery_report`, which also describes the inputs;
    ``events`` may be a ``Messages``). A message falls in the bucket of its ``sent_at``.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["delivered"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01 10:20", tz="UTC")]})
    >>> delivery_timeseries(ev, freq="1h")["bucket"].tolist()
    [Timestamp('2026-01-01 10:00:00+0000', tz='UTC')]
    """
    keys = check_by(by)
    try:
        step = int(pd.Timedelta(freq).total_seconds() * 1000)
    except ValueError as exc:
        raise ValidationError(f"freq={freq!r} is not a duration such as '1h' or '15min'") from exc
    if step <= 0:
        raise ValidationError(f"freq={freq!r} must be a positive duration")

    def build() -> ir.Table:
        msgs = message_rows()
        msgs = msgs.mutate(bucket_ms=(msgs.sent_ms // step) * step)
        agg = msgs.group_by(["bucket_ms", *keys]).aggregate(**counts(msgs))
        return agg.mutate(**rates(agg))

    with opened(events, sends, engine, start=start, end=end, detail="status" in keys) as msgs:
        df = run(msgs, ("timeseries", step, tuple(keys)), build)
    df["bucket"] = pd.to_datetime(df["bucket_ms"].astype("Float64"), unit="ms", utc=True)
    cols = ["bucket", *keys, *COUNT_COLUMNS, "delivery_rate", "ci_low", "ci_high"]
    return finish(df, cols, ints=COUNT_COLUMNS, keys=["bucket", *keys])


#: Bucket widths :func:`auto_freq` picks from, narrowest first.
BUCKETS: Final = ("1min", "5min", "15min", "1h", "6h", "1D", "7D")


def auto_freq(sent_at: pd.Series, *, choices: Sequence[str] = BUCKETS, most: int = 48) -> str:
    """The narrowest bucket in ``choices`` giving at most ``most`` buckets over the span of the
    send times, so a series over minutes is not one dot and one over months not thousands.

    >>> times = pd.Series(pd.to_datetime(["2026-01-01 10:00", "2026-01-01 13:00"], utc=True))
    >>> auto_freq(times), auto_freq(times[:1]), auto_freq(times, choices=("1min", "1h"))
    ('5min', '1min', '1h')
    """
    times = pd.to_datetime(sent_at, utc=True, errors="coerce").dropna()
    span = times.max() - times.min() if len(times) else pd.Timedelta(0)
    for freq in choices:
        if span / pd.Timedelta(freq) <= most:
            return freq
    return choices[-1]
