"""Delivery analytics: join the webhook Events to the send ledger, per Sender Identity and route.

Every function is written once as an ibis expression and runs on any ibis backend: DuckDB
in-process by default, or Spark (through ibis's PySpark backend) for logs that live in a lake or
warehouse. Inputs may be pandas DataFrames, an ``EventLog`` (anything with a ``.df``), Parquet
paths, or ibis tables; results always come back as pandas DataFrames.

The rules (see ``design.md``, "Data contracts" and "Assumptions"):

* A **message** is one recipient of one send. Delivery events (``message-send`` and
  ``delivery-status``) are grouped per (``external_id``, ``message_id``, ``phone``) and joined to
  the ledger on (``external_id``, ``phone``), else on (``message_id``, ``phone``).
* Its **status** is the latest event by ``occurred_at`` (``received_at`` when missing), except that
  a final status (delivered, undelivered, undeliverable, rejected) is never replaced by a later
  non-final one. Duplicate deliveries of a webhook therefore count once. Ties at the same
  millisecond go to the status of higher precedence (final > sent > unknown).
* **Outcome**: ``delivered``; ``failed`` = undelivered, undeliverable or rejected; everything
  else is ``pending``: sent, no event yet, and ``unknown``, since MTA may still update an unknown
  status (``FINAL_STATUSES`` leaves it out for the same reason).
* **Route**: ``imessage`` when any of the message's events carries a ``senderName`` (or an
  explicit ``route`` of ``imessage``); otherwise ``sms_fallback`` when the ledger asked for an
  identity; otherwise ``sms``. A ledger row that has no event yet and asked for an identity has
  route ``unknown`` (nothing says yet whether it went by iMessage). Events without a ledger row
  count too, attributed to their own ``senderName``; without one, the identity is missing and
  the route ``unknown`` (plain SMS and SMS fallback cannot be told apart). They are flagged
  ``unmatched``.
* Ledger rows count as messages when their ``state`` is ``sent``; rows in state ``failed``,
  ``skipped`` or ``unknown`` count only if events show they were sent.
* ``delivery_rate`` = delivered / settled with settled = delivered + failed (NaN when nothing
  settled); ``ci_low``/``ci_high`` is the Wilson 95 % interval; ``share`` is the row's part of its
  identity's messages.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, cast

import pandas as pd

from .errors import ValidationError
from .models import FINAL_STATUSES

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

__all__ = [
    "FAILED_STATUSES",
    "REPORT_COLUMNS",
    "ROUTES",
    "STOP_WORDS",
    "delivery_report",
    "delivery_timeseries",
    "failure_reasons",
    "fallback_summary",
    "message_table",
    "reply_report",
    "wilson_interval",
]

ROUTES: Final[tuple[str, ...]] = ("imessage", "sms_fallback", "sms", "unknown")
FAILED_STATUSES: Final[tuple[str, ...]] = ("undelivered", "undeliverable", "rejected")
STOP_WORDS: Final[tuple[str, ...]] = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "OPT OUT",
)
REPORT_COLUMNS: Final[tuple[str, ...]] = (
    "messages",
    "delivered",
    "failed",
    "pending",
    "delivery_rate",
    "ci_low",
    "ci_high",
    "share",
    "unmatched",
)
_Z: Final[float] = 1.959963984540054  # two-sided 95 % normal quantile
_DELIVERY_EVENTS: Final[tuple[str, ...]] = ("message-send", "delivery-status")
# Ties at the same millisecond: final statuses beat "sent", which beats "unknown" (mta-api.md §7).
_PRECEDENCE: Final[dict[str, int]] = {
    "delivered": 7,
    "undelivered": 6,
    "undeliverable": 5,
    "rejected": 4,
    "sent": 2,
    "unknown": 1,
}
_FINAL_BONUS: Final[int] = 2**52

# Column -> ibis type of the two input contracts (only the columns the analytics read).
_EVENT_SCHEMA: Final[dict[str, str]] = {
    "event": "string",
    "occurred_at": "timestamp('UTC')",
    "received_at": "timestamp('UTC')",
    "message_id": "int64",
    "external_id": "string",
    "phone": "string",
    "sender_name": "string",
    "status_code": "string",
    "status": "string",
    "route": "string",
    "is_final": "boolean",
    "text": "string",
}
_SEND_SCHEMA: Final[dict[str, str]] = {
    "campaign_id": "string",
    "external_id": "string",
    "message_id": "int64",
    "phone": "string",
    "sender_name": "string",
    "sent_at": "timestamp('UTC')",
    "state": "string",
    "error": "string",
}
_MESSAGE_COLUMNS: Final[tuple[str, ...]] = (
    "campaign_id",
    "external_id",
    "message_id",
    "phone",
    "sender_name",
    "route",
    "status",
    "status_code",
    "outcome",
    "unmatched",
    "sent_ms",
)
_table_ids = itertools.count()

Engine = Any  # "duckdb" | "pyspark" | an ibis backend | a SparkSession | None


# --------------------------------------------------------------------------------------- inputs


def _default_duckdb() -> BaseBackend:
    import ibis

    threads = os.environ.get("MTA_ANALYTICS_THREADS")
    con = ibis.duckdb.connect()
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    return con


def _resolve_backend(engine: Engine, inputs: Sequence[object]) -> BaseBackend:
    import ibis
    from ibis.backends import BaseBackend as _Base

    if isinstance(engine, _Base):
        return engine
    if engine is None:
        for obj in inputs:
            if isinstance(obj, ibis.Table):
                try:
                    return ibis.get_backend(obj)
                except Exception:  # an unbound table (memtable): any backend will do
                    continue
        return _default_duckdb()
    if isinstance(engine, str):
        name = engine.lower()
        if name == "duckdb":
            return _default_duckdb()
        if name in ("pyspark", "spark"):
            from pyspark.sql import SparkSession

            return ibis.pyspark.connect(SparkSession.builder.getOrCreate())
        raise ValidationError(
            f"engine={engine!r} is not known; use 'duckdb', 'pyspark', an ibis backend "
            "(ibis.duckdb.connect(), ibis.pyspark.connect(session)) or a SparkSession"
        )
    if type(engine).__name__ == "SparkSession":
        return ibis.pyspark.connect(engine)
    raise ValidationError(
        f"engine must be 'duckdb', 'pyspark', an ibis backend or a SparkSession, "
        f"not {type(engine).__name__}"
    )


def _coerce_frame(df: pd.DataFrame, schema: Mapping[str, str]) -> pd.DataFrame:
    """Keep the columns the analytics read, with one clean dtype each (missing ones as nulls)."""
    out: dict[str, pd.Series[Any]] = {}
    n = len(df)
    for name, kind in schema.items():
        col = df[name] if name in df.columns else pd.Series([None] * n, index=df.index)
        if kind == "string":
            if isinstance(col.dtype, pd.StringDtype) or pd.api.types.infer_dtype(
                col, skipna=True
            ) in ("string", "empty"):
                pass
            elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                try:  # codes as numbers (3 or 3.0) become "3", fast
                    col = col.astype("Int64").astype("string")
                except (TypeError, ValueError):
                    col = col.astype("object").where(col.notna(), None).map(_as_text)
            else:
                col = col.astype("object").where(col.notna(), None).map(_as_text)
            out[name] = col.astype("string")
        elif kind == "int64":
            out[name] = pd.to_numeric(col, errors="coerce").astype("Int64")
        elif kind == "boolean":
            out[name] = col.astype("boolean")
        else:
            if not isinstance(col.dtype, pd.DatetimeTZDtype):
                col = pd.to_datetime(col, utc=True, format="ISO8601")
            out[name] = col.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    frame: pd.DataFrame = pd.DataFrame(out).reset_index(drop=True)
    return frame


def _as_text(value: object) -> str | None:
    """A cell as text; integral floats (a pandas int column with gaps) lose their ``.0``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _frame_to_table(df: pd.DataFrame, schema: Mapping[str, str], con: BaseBackend) -> ir.Table:
    import ibis
    import pyarrow as pa

    clean = _coerce_frame(df, schema)
    arrow_schema = ibis.schema(dict(schema)).to_pyarrow()
    table = pa.Table.from_pandas(clean, schema=arrow_schema, preserve_index=False)
    if con.name == "pyspark":
        # Registered by hand: ibis's memtable goes through pandas, which loses nullable ints.
        session = con._session
        name = f"mta_analytics_{os.getpid()}_{next(_table_ids)}"
        session.createDataFrame(table).createOrReplaceTempView(name)
        return con.table(name)
    return ibis.memtable(table)


def _coerce_table(t: ir.Table, schema: Mapping[str, str]) -> ir.Table:
    import ibis

    cols = {}
    for name, kind in schema.items():
        target = ibis.dtype(kind)
        if name not in t.columns:
            cols[name] = ibis.null().cast(target)
        elif t[name].type() == target or (
            target.is_timestamp()
            and t[name].type().is_timestamp()
            and t[name].type().timezone == target.timezone
        ):
            cols[name] = t[name]  # a timestamp's scale (ms, us) does not matter here
        else:
            cols[name] = t[name].cast(target)
    return t.select(**cols)


def _as_table(obj: object, schema: Mapping[str, str], con: BaseBackend, what: str) -> ir.Table:
    import ibis

    if hasattr(obj, "df") and isinstance(obj.df, pd.DataFrame):
        obj = obj.df
    if isinstance(obj, pd.DataFrame):
        return _coerce_table(_frame_to_table(obj, schema, con), schema)
    if isinstance(obj, str | os.PathLike):
        path = os.fspath(obj)
        if not os.path.exists(path) and "://" not in path:
            raise ValidationError(
                f"{what}: no such Parquet file or directory {path!r}; pass a DataFrame, an "
                "EventLog, an ibis table or an existing Parquet path"
            )
        return _coerce_table(con.read_parquet(path), schema)
    if isinstance(obj, ibis.Table):
        return _coerce_table(obj, schema)
    raise ValidationError(
        f"{what} must be a pandas DataFrame, an EventLog (with .df), a Parquet path or an ibis "
        f"table, not {type(obj).__name__}"
    )


def _inputs(
    events: object, sends: object | None, engine: Engine
) -> tuple[BaseBackend, ir.Table, ir.Table]:
    con = _resolve_backend(engine, [events, sends])
    _BACKEND.set(con.name)
    ev = _as_table(events, _EVENT_SCHEMA, con, "events")
    if sends is None:
        sends = pd.DataFrame({name: [] for name in _SEND_SCHEMA})
    sd = _as_table(sends, _SEND_SCHEMA, con, "sends")
    return con, ev, sd


def _to_ms(value: object, what: str) -> int | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what}={value!r} is not a date or time") from exc
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


_EPOCH_MS_FUNCTIONS: Final[dict[str, str]] = {"duckdb": "epoch_ms", "pyspark": "unix_millis"}
# The backend the expression being built will run on (per thread/task), and the builtin
# functions already declared to ibis.
_BACKEND: ContextVar[str] = ContextVar("mta_analytics_backend", default="duckdb")
_udfs: dict[str, Any] = {}


def _epoch_ms(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Milliseconds since the epoch: the one timestamp operation whose SQL differs per backend."""
    import ibis
    import ibis.expr.datatypes as dt

    fn = _EPOCH_MS_FUNCTIONS.get(_BACKEND.get())
    if fn is None:
        naive = ts.cast(dt.Timestamp())
        return naive.epoch_seconds().cast("int64") * 1000 + naive.millisecond().cast("int64")
    udf = _udfs.get(fn)
    if udf is None:
        udf = ibis.udf.scalar.builtin(
            lambda ts: None, name=fn, signature=((dt.Timestamp(timezone="UTC"),), dt.int64)
        )
        _udfs[fn] = udf
    return udf(ts)


# --------------------------------------------------------------------------------- the messages


def _latest(value: ir.StringValue, key: ir.IntegerValue) -> ir.StringScalar:
    """``value`` at the largest ``key`` (value is never null here).

    ibis spells argmax as an ordered FIRST() on DuckDB; DuckDB's own arg_max is faster.
    """
    import ibis
    import ibis.expr.datatypes as dt

    if _BACKEND.get() != "duckdb":
        return value.argmax(key)
    udf = _udfs.get("arg_max")
    if udf is None:
        udf = ibis.udf.agg.builtin(
            lambda v, k: None, name="arg_max", signature=((dt.string, dt.int64), dt.string)
        )
        _udfs["arg_max"] = udf
    return udf(value, key)


def _message_expr(
    ev: ir.Table, sd: ir.Table, *, codes: bool = False, times: bool = True
) -> ir.Table:
    """One row per message (recipient of a send) with its identity, route, status and outcome.

    ``codes`` adds the raw status code of the deciding event and ``times`` the send time; a
    report that needs neither skips their work (null columns instead).
    """
    import ibis

    final_names = sorted(FINAL_STATUSES)
    d = ev.filter(ev.event.isin(list(_DELIVERY_EVENTS)))
    is_send = d.event == "message-send"
    status = ibis.ifelse(is_send, "sent", d.status.fill_null("unknown"))
    final = ibis.ifelse(is_send, False, d.is_final.fill_null(d.status.isin(final_names)))
    prec = status.cases(*_PRECEDENCE.items(), else_=0)
    t_ms = ibis.coalesce(_epoch_ms(d.occurred_at), _epoch_ms(d.received_at), 0)
    key = ibis.ifelse(final, _FINAL_BONUS, 0) + t_ms * 8 + prec
    sender = d.sender_name.nullif("")
    imsg = ibis.ifelse((d.route == "imessage") | sender.notnull(), 1, 0)
    d = d.select(
        g_ext=d.external_id,
        g_mid=d.message_id,
        g_phone=d.phone,
        status=status,
        status_code=ibis.ifelse(is_send, ibis.null("string"), d.status_code),
        key=key,
        t_ms=t_ms,
        imsg=imsg,
        sender=sender,
    )
    g = d.group_by(["g_ext", "g_mid", "g_phone"]).aggregate(
        status=_latest(d.status, d.key),
        # ibis's argmax keeps a null code at the latest event (as Spark's max_by does)
        status_code=d.status_code.argmax(d.key) if codes else ibis.null("string"),
        ev_imsg=d.imsg.max(),
        ev_sender=d.sender.max(),
        first_ms=d.t_ms.min() if times else ibis.null("int64"),
    )

    led = sd.filter(sd.phone.notnull()).select(
        l_campaign=sd.campaign_id,
        l_ext=sd.external_id,
        l_mid=sd.message_id,
        l_phone=sd.phone,
        l_sender=sd.sender_name.nullif(""),
        l_state=sd.state,
        l_sent_ms=_epoch_ms(sd.sent_at) if times else ibis.null("int64"),
    )
    g_cols = list(g.columns)
    l_cols = list(led.columns)
    # (external_id, phone); (message_id, phone) only for events without an external id.
    g_ext = g.filter(g.g_ext.notnull())
    led_ext = led.filter(led.l_ext.notnull())
    by_ext = g_ext.left_join(
        led_ext, [g_ext.g_ext == led_ext.l_ext, g_ext.g_phone == led_ext.l_phone]
    )
    g_mid = g.filter(g.g_ext.isnull())
    led_mid = led.filter(led.l_mid.notnull())
    by_mid = g_mid.left_join(
        led_mid, [g_mid.g_mid == led_mid.l_mid, g_mid.g_phone == led_mid.l_phone]
    )
    joined = by_ext.select(*g_cols, *l_cols).union(by_mid.select(*g_cols, *l_cols))

    matched = joined.l_phone.notnull()
    evs = joined.select(
        campaign_id=joined.l_campaign,
        external_id=ibis.coalesce(joined.l_ext, joined.g_ext),
        message_id=ibis.coalesce(joined.l_mid, joined.g_mid),
        phone=joined.g_phone,
        sender_name=ibis.coalesce(joined.l_sender, joined.ev_sender),
        route=ibis.cases(
            (joined.ev_imsg == 1, "imessage"),
            (~matched, "unknown"),
            (joined.l_sender.notnull(), "sms_fallback"),
            else_="sms",
        ),
        status=joined.status,
        status_code=joined.status_code,
        unmatched=~matched,
        sent_ms=ibis.coalesce(joined.l_sent_ms, joined.first_ms),
    )

    seen = joined.filter(matched).select("l_ext", "l_mid", "l_phone").view()
    waiting = led.filter(led.l_state == "sent")
    waiting = waiting.anti_join(
        seen,
        [
            waiting.l_ext.identical_to(seen.l_ext),
            waiting.l_mid.identical_to(seen.l_mid),
            waiting.l_phone == seen.l_phone,
        ],
    )
    pend = waiting.select(
        campaign_id=waiting.l_campaign,
        external_id=waiting.l_ext,
        message_id=waiting.l_mid,
        phone=waiting.l_phone,
        sender_name=waiting.l_sender,
        route=ibis.ifelse(waiting.l_sender.notnull(), "unknown", "sms"),
        status=ibis.null("string"),
        status_code=ibis.null("string"),
        unmatched=ibis.literal(False),
        sent_ms=waiting.l_sent_ms,
    )
    msgs = evs.union(pend)
    outcome = ibis.cases(
        (msgs.status == "delivered", "delivered"),
        (msgs.status.isin(list(FAILED_STATUSES)), "failed"),
        else_="pending",
    )
    return msgs.mutate(outcome=outcome).select(*_MESSAGE_COLUMNS)


def _window(msgs: ir.Table, start: object, end: object) -> ir.Table:
    lo, hi = _to_ms(start, "start"), _to_ms(end, "end")
    if lo is not None:
        msgs = msgs.filter(msgs.sent_ms >= lo)
    if hi is not None:
        msgs = msgs.filter(msgs.sent_ms < hi)
    return msgs


def _counts(t: ir.Table) -> dict[str, ir.Value]:
    import ibis

    return {
        "messages": t.count(),
        "delivered": ibis.ifelse(t.outcome == "delivered", 1, 0).sum().cast("int64"),
        "failed": ibis.ifelse(t.outcome == "failed", 1, 0).sum().cast("int64"),
        "pending": ibis.ifelse(t.outcome == "pending", 1, 0).sum().cast("int64"),
        "unmatched": ibis.ifelse(t.unmatched, 1, 0).sum().cast("int64"),
    }


def _rates(t: ir.Table) -> dict[str, ir.Value]:
    """delivery_rate and its Wilson 95 % interval; null (NaN) when nothing settled."""
    n = (t.delivered + t.failed).cast("float64").nullif(0.0)
    p = t.delivered.cast("float64") / n
    low, high = wilson_bounds(p, n, sqrt=lambda v: v.sqrt())
    return {"delivery_rate": p, "ci_low": low, "ci_high": high}


def _route_order(route: pd.Series[Any]) -> pd.Series[Any]:
    order = {name: i for i, name in enumerate(ROUTES)}
    return route.map(lambda r: order.get(r, len(order)) if isinstance(r, str) else len(order) + 1)


def _finish(
    df: pd.DataFrame, columns: Sequence[str], ints: Sequence[str], keys: Sequence[str]
) -> pd.DataFrame:
    """The same dtypes and row order whatever the backend returned."""
    df = df.loc[:, list(columns)].copy()
    for col in columns:
        if col in ints:
            df[col] = df[col].fillna(0).astype("int64")
        elif pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        elif pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].astype("float64")
        elif pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].astype("bool")
        else:
            df[col] = df[col].astype("object").where(df[col].notna(), None).astype("str")
    sort_cols: list[str] = []
    for k in keys:
        if k == "route":
            df["_route_order"] = _route_order(df["route"])
            sort_cols.append("_route_order")
        else:
            sort_cols.append(k)
    if sort_cols:
        df = df.sort_values(sort_cols, na_position="last", kind="mergesort")
    df = df.drop(columns=["_route_order"], errors="ignore")
    return cast("pd.DataFrame", df.reset_index(drop=True))


def _check_by(by: Sequence[str] | str) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    allowed = ("campaign_id", "external_id", "sender_name", "route", "status", "unmatched")
    bad = [k for k in keys if k not in allowed]
    if bad:
        raise ValidationError(f"by={bad!r} is not a message column; choose from {list(allowed)}")
    return keys


# ----------------------------------------------------------------------------------- public API


def message_table(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """One row per message (recipient of a send): identity, route, status, outcome, unmatched.

    The building block of every report here, returned so a surprising number can be traced to
    its messages. ``sent_at`` comes from the ledger, else from the message's first event.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7], "external_id": ["c-1"],
    ...     "phone": ["+13125550000"], "status": ["delivered"], "sender_name": ["Acme"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")]})
    >>> message_table(ev)[["sender_name", "route", "outcome", "unmatched"]].to_dict("records")
    [{'sender_name': 'Acme', 'route': 'imessage', 'outcome': 'delivered', 'unmatched': True}]
    """
    con, ev, sd = _inputs(events, sends, engine)
    msgs = _window(_message_expr(ev, sd, codes=True), start, end)
    df = con.to_pandas(msgs)
    df["sent_at"] = pd.to_datetime(df["sent_ms"].astype("Float64"), unit="ms", utc=True)
    cols = [c for c in _MESSAGE_COLUMNS if c != "sent_ms"] + ["sent_at"]
    df = _finish(df, cols, ints=(), keys=("sender_name", "route", "external_id", "phone"))
    df["message_id"] = df["message_id"].astype("Int64")
    return df


def delivery_report(
    events: object,
    sends: object | None = None,
    *,
    by: Sequence[str] | str = ("sender_name", "route"),
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Delivery per Sender Identity and route (iMessage, SMS fallback, plain SMS).

    Parameters
    ----------
    events
        The Events table: a DataFrame, an ``EventLog``, a Parquet path or an ibis table.
    sends
        The send ledger (same kinds of input). Without it every message is ``unmatched``.
    by
        Message columns to group by; the default gives one row per identity × route.
    start, end
        Keep messages sent in ``[start, end)`` (UTC when naive).
    engine
        ``"duckdb"`` (the default, in-process), ``"pyspark"``, an ibis backend or a
        SparkSession. By default the backend of the ibis tables passed in.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, then ``messages``, ``delivered``, ``failed``, ``pending``,
        ``delivery_rate`` (delivered / settled; NaN when nothing settled), ``ci_low``,
        ``ci_high`` (Wilson 95 %), ``share`` (of the identity's messages) and ``unmatched``
        (messages whose events have no ledger row).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"] * 2, "message_id": [7, 7],
    ...     "external_id": ["c-1", "c-1"], "phone": ["+13125550000", "+13125550001"],
    ...     "status": ["delivered", "undelivered"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")] * 2})
    >>> sends = pd.DataFrame({"external_id": ["c-1", "c-1"], "message_id": [7, 7],
    ...     "phone": ["+13125550000", "+13125550001"], "sender_name": ["Acme", "Acme"],
    ...     "state": ["sent", "sent"]})
    >>> rep = delivery_report(ev, sends)
    >>> rep[["sender_name", "route", "messages", "delivered", "failed"]].to_dict("records")
    [{'sender_name': 'Acme', 'route': 'sms_fallback', 'messages': 2, 'delivered': 1, 'failed': 1}]
    """
    keys = _check_by(by)
    con, ev, sd = _inputs(events, sends, engine)
    timed = start is not None or end is not None
    msgs = _window(_message_expr(ev, sd, times=timed), start, end)
    agg = msgs.group_by(keys).aggregate(**_counts(msgs))
    agg = agg.mutate(**_rates(agg))
    part = [k for k in keys if k != "route"]
    total = agg.messages.sum().over(group_by=part) if part else agg.messages.sum().over()
    agg = agg.mutate(share=agg.messages.cast("float64") / total.cast("float64"))
    df = con.to_pandas(agg)
    ints = ("messages", "delivered", "failed", "pending", "unmatched")
    return _finish(df, [*keys, *REPORT_COLUMNS], ints=ints, keys=keys)


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
    ``delivered``, ``failed``, ``pending``, ``unmatched``, ``delivery_rate``, ``ci_low`` and
    ``ci_high``. A message falls in the bucket of its ``sent_at``.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["delivered"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01 10:20", tz="UTC")]})
    >>> delivery_timeseries(ev, freq="1h")["bucket"].tolist()
    [Timestamp('2026-01-01 10:00:00+0000', tz='UTC')]
    """
    keys = _check_by(by)
    try:
        step = int(pd.Timedelta(freq).total_seconds() * 1000)
    except ValueError as exc:
        raise ValidationError(f"freq={freq!r} is not a duration such as '1h' or '15min'") from exc
    if step <= 0:
        raise ValidationError(f"freq={freq!r} must be a positive duration")
    con, ev, sd = _inputs(events, sends, engine)
    msgs = _window(_message_expr(ev, sd), start, end)
    msgs = msgs.mutate(bucket_ms=(msgs.sent_ms // step) * step)
    agg = msgs.group_by(["bucket_ms", *keys]).aggregate(**_counts(msgs))
    agg = agg.mutate(**_rates(agg))
    df = con.to_pandas(agg)
    df["bucket"] = pd.to_datetime(df["bucket_ms"].astype("Float64"), unit="ms", utc=True)
    cols = ["bucket", *keys, "messages", "delivered", "failed", "pending", "unmatched"]
    cols += ["delivery_rate", "ci_low", "ci_high"]
    ints = ("messages", "delivered", "failed", "pending", "unmatched")
    return _finish(df, cols, ints=ints, keys=["bucket", *keys])


def failure_reasons(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Why messages did not arrive: statuses and codes per identity and route.

    One row per ``sender_name`` × ``route`` × ``status`` × ``status_code`` (the raw code of the
    event that set the status) for messages not delivered, with ``outcome`` (``failed`` or
    ``pending``; ``pending`` messages without any event have status ``no-event``), ``messages``
    and ``share`` (of that identity × route's messages). Ledger rows whose send itself failed
    (state ``failed`` or ``unknown``, no event) follow with status ``send-failed`` /
    ``send-unknown``, outcome ``not-sent`` and the ledger's ``error`` text.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["undeliverable"], "status_code": ["4"]})
    >>> failure_reasons(ev)[["status", "status_code", "messages"]].to_dict("records")
    [{'status': 'undeliverable', 'status_code': '4', 'messages': 1}]
    """
    import ibis

    con, ev, sd = _inputs(events, sends, engine)
    msgs = _window(_message_expr(ev, sd, codes=True), start, end)
    totals = msgs.group_by(["sender_name", "route"]).aggregate(total=msgs.count())
    totals = totals.select(t_sender=totals.sender_name, t_route=totals.route, total=totals.total)
    bad = msgs.filter(msgs.outcome != "delivered")
    bad = bad.mutate(status=bad.status.fill_null("no-event"), error=ibis.null("string"))
    reasons = bad.group_by(["sender_name", "route", "status", "status_code", "outcome"]).aggregate(
        messages=bad.count()
    )
    reasons = reasons.mutate(error=ibis.null("string"))

    lo, hi = _to_ms(start, "start"), _to_ms(end, "end")
    led = sd.filter(sd.state.isin(["failed", "unknown"]) & sd.phone.notnull())
    sent_ms = _epoch_ms(led.sent_at)
    if lo is not None:
        led = led.filter(sent_ms >= lo)
    if hi is not None:
        led = led.filter(sent_ms < hi)
    d = ev.filter(ev.event.isin(list(_DELIVERY_EVENTS)))
    led = led.anti_join(d, [led.external_id == d.external_id, led.phone == d.phone])
    d2 = d.view()
    led = led.anti_join(d2, [led.message_id == d2.message_id, led.phone == d2.phone])
    sender = led.sender_name.nullif("")
    led = led.select(
        sender_name=sender,
        route=ibis.ifelse(sender.notnull(), "unknown", "sms"),
        status=ibis.literal("send-") + led.state,
        status_code=ibis.null("string"),
        outcome=ibis.literal("not-sent"),
        error=led.error,
    )
    sendfail = led.group_by(list(led.columns)).aggregate(messages=led.count())
    both = reasons.select(*sendfail.columns).union(sendfail)
    # null identities (plain SMS) must meet their totals too: compare with a placeholder
    both = both.left_join(
        totals,
        [
            both.sender_name.fill_null("\x00") == totals.t_sender.fill_null("\x00"),
            both.route == totals.t_route,
        ],
    )
    both = both.select(
        sender_name=both.sender_name,
        route=both.route,
        status=both.status,
        status_code=both.status_code,
        error=both.error,
        outcome=both.outcome,
        messages=both.messages,
        share=both.messages.cast("float64") / both.total.cast("float64"),
    )
    df = con.to_pandas(both)
    cols = ["sender_name", "route", "status", "status_code", "error", "outcome", "messages"]
    df = _finish(df, [*cols, "share"], ints=("messages",), keys=())
    df["_o"] = df["outcome"].map({"failed": 0, "pending": 1, "not-sent": 2})
    df["_r"] = _route_order(df["route"])
    df = df.sort_values(
        ["sender_name", "_r", "_o", "messages", "status", "status_code", "error"],
        ascending=[True, True, True, False, True, True, True],
        na_position="last",
        kind="mergesort",
    )
    df = df.drop(columns=["_o", "_r"])
    return cast("pd.DataFrame", df.reset_index(drop=True))


def reply_report(
    events: object,
    sends: object | None = None,
    *,
    window: str = "24h",
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Reply rate and STOP rate per identity and route.

    A reply (``message-reply`` event, duplicates counted once) is attributed to the latest
    message sent to that number at most ``window`` before it. A reply whose text is a STOP
    keyword (``STOP_WORDS``, any case) counts as a STOP.

    Returns ``sender_name``, ``route``, ``messages``, ``replies`` (reply events attributed),
    ``replied`` (messages with at least one reply), ``stops`` (messages with a STOP reply),
    ``reply_rate`` (replied / messages) and ``stop_rate`` (stops / messages).

    Examples
    --------
    >>> import pandas as pd
    >>> t0 = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    >>> ev = pd.DataFrame({"event": ["delivery-status", "message-reply"], "message_id": [7, None],
    ...     "phone": ["+13125550000"] * 2, "status": ["delivered", None], "text": [None, "stop"],
    ...     "occurred_at": [t0, t0 + pd.Timedelta("1h")]})
    >>> reply_report(ev)[["messages", "replied", "stops", "stop_rate"]].to_dict("records")
    [{'messages': 1, 'replied': 1, 'stops': 1, 'stop_rate': 1.0}]
    """
    import ibis

    try:
        win = int(pd.Timedelta(window).total_seconds() * 1000)
    except ValueError as exc:
        raise ValidationError(f"window={window!r} is not a duration such as '24h'") from exc
    con, ev, sd = _inputs(events, sends, engine)
    msgs = _window(_message_expr(ev, sd), start, end)
    msgs = msgs.mutate(
        mkey=ibis.coalesce(msgs.external_id, "")
        + "|"
        + ibis.coalesce(msgs.message_id.cast("string"), "")
        + "|"
        + msgs.phone
    )
    r = ev.filter((ev.event == "message-reply") & ev.phone.notnull())
    r = r.select(
        r_phone=r.phone,
        r_ms=ibis.coalesce(_epoch_ms(r.occurred_at), _epoch_ms(r.received_at), 0),
        r_text=r.text.fill_null(""),
    ).distinct()
    stop = r.r_text.strip().upper().isin(list(STOP_WORDS))
    r = r.mutate(r_stop=ibis.ifelse(stop, 1, 0))
    m = msgs.select("mkey", "phone", "sent_ms").view()
    cand = r.join(
        m,
        [
            r.r_phone == m.phone,
            m.sent_ms <= r.r_ms,
            r.r_ms - m.sent_ms <= win,
        ],
    )
    rank = ibis.row_number().over(
        group_by=[cand.r_phone, cand.r_ms, cand.r_text],
        order_by=[ibis.desc(cand.sent_ms), ibis.desc(cand.mkey)],
    )
    best = cand.mutate(rk=rank).filter(lambda t: t.rk == 0)
    per_msg = best.group_by("mkey").aggregate(replies=best.count(), stops=best.r_stop.max())
    per_msg = per_msg.select(p_key=per_msg.mkey, replies=per_msg.replies, stops=per_msg.stops)
    j = msgs.left_join(per_msg, msgs.mkey == per_msg.p_key)
    j = j.select(
        sender_name=j.sender_name,
        route=j.route,
        replies=j.replies.fill_null(0),
        replied=ibis.ifelse(j.replies.notnull(), 1, 0),
        stops=j.stops.fill_null(0),
    )
    agg = j.group_by(["sender_name", "route"]).aggregate(
        messages=j.count(),
        replies=j.replies.sum().cast("int64"),
        replied=j.replied.sum().cast("int64"),
        stops=j.stops.sum().cast("int64"),
    )
    agg = agg.mutate(
        reply_rate=agg.replied.cast("float64") / agg.messages.cast("float64"),
        stop_rate=agg.stops.cast("float64") / agg.messages.cast("float64"),
    )
    df = con.to_pandas(agg)
    cols = ["sender_name", "route", "messages", "replies", "replied", "stops"]
    return _finish(
        df,
        [*cols, "reply_rate", "stop_rate"],
        ints=("messages", "replies", "replied", "stops"),
        keys=("sender_name", "route"),
    )


def fallback_summary(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Per Sender Identity: how many recipients, and what share went by iMessage or fell back.

    Returns ``sender_name``, ``recipients`` (distinct numbers), ``messages``, ``imessage``,
    ``sms_fallback``, ``unknown_route`` (messages with no event yet), ``imessage_share`` and
    ``fallback_share`` (of the identity's messages whose route is known) and
    ``recipients_imessage`` (numbers reached by iMessage at least once).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["message-send"] * 2, "message_id": [7, 7],
    ...     "phone": ["+13125550000", "+13125550001"], "sender_name": ["Acme", None]})
    >>> sends = pd.DataFrame({"message_id": [7, 7], "phone": ["+13125550000", "+13125550001"],
    ...     "sender_name": ["Acme", "Acme"], "state": ["sent", "sent"]})
    >>> fallback_summary(ev, sends)[["sender_name", "imessage", "sms_fallback"]].to_dict("records")
    [{'sender_name': 'Acme', 'imessage': 1, 'sms_fallback': 1}]
    """
    import ibis

    con, ev, sd = _inputs(events, sends, engine)
    timed = start is not None or end is not None
    msgs = _window(_message_expr(ev, sd, times=timed), start, end)
    msgs = msgs.filter(msgs.sender_name.notnull())
    is_im = msgs.route == "imessage"
    agg = msgs.group_by("sender_name").aggregate(
        recipients=msgs.phone.nunique(),
        messages=msgs.count(),
        imessage=ibis.ifelse(is_im, 1, 0).sum().cast("int64"),
        sms_fallback=ibis.ifelse(msgs.route == "sms_fallback", 1, 0).sum().cast("int64"),
        unknown_route=ibis.ifelse(msgs.route == "unknown", 1, 0).sum().cast("int64"),
        recipients_imessage=msgs.phone.nunique(where=is_im),
    )
    known = (agg.imessage + agg.sms_fallback).cast("float64").nullif(0.0)
    agg = agg.mutate(
        imessage_share=agg.imessage.cast("float64") / known,
        fallback_share=agg.sms_fallback.cast("float64") / known,
    )
    df = con.to_pandas(agg)
    cols = ["sender_name", "recipients", "messages", "imessage", "sms_fallback", "unknown_route"]
    cols += ["imessage_share", "fallback_share", "recipients_imessage"]
    ints = ("recipients", "messages", "imessage", "sms_fallback", "unknown_route")
    df = _finish(df, cols, ints=(*ints, "recipients_imessage"), keys=("sender_name",))
    return df


def wilson_interval(delivered: int, settled: int, z: float = _Z) -> tuple[float, float]:
    """The Wilson score interval for ``delivered`` out of ``settled`` (NaN, NaN when 0).

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if settled <= 0:
        return (math.nan, math.nan)
    n = float(settled)
    low, high = wilson_bounds(delivered / n, n, z=z)
    return (float(low), float(high))


def wilson_bounds(p: Any, n: Any, *, z: float = _Z, sqrt: Callable[[Any], Any] = math.sqrt) -> Any:
    """Wilson score bounds ``(low, high)`` for a rate ``p`` over ``n`` trials.

    One formula for every engine: ``p`` and ``n`` may be floats, numpy arrays or pandas Series
    (pass ``sqrt=numpy.sqrt``) or ibis values (``sqrt=lambda v: v.sqrt()``).

    >>> [round(x, 4) for x in wilson_bounds(0.8, 10.0)]
    [0.4902, 0.9433]
    """
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return (centre - half, centre + half)
