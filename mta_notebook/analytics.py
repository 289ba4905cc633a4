"""Delivery analytics: join the webhook Events to the send ledger, per Sender Identity and route.

Every function is written once as an ibis expression and runs on any ibis backend: DuckDB
in-process by default, or Spark (through ibis's PySpark backend) for logs that live in a lake or
warehouse. Inputs may be pandas DataFrames, an ``EventLog`` (anything with a ``.df``), Parquet
paths, or ibis tables; results always come back as pandas DataFrames.

MTA's facts (status names, outcomes, precedence, route evidence, keywords) come from
:mod:`mta_notebook.contract`; the rules below are how the reports use them (``design.md``,
"Data contracts" and "Assumptions"):

* A **message** is one recipient of one send. Delivery events (``message-send`` and
  ``delivery-status``) are grouped per (``external_id``, ``message_id``, ``phone``) and joined to
  the ledger on (``external_id``, ``phone``), else on (``message_id``, ``phone``).
* Its **status** and **outcome** come from one deciding event: a final outcome
  (``contract.statuses.FINAL_OUTCOMES``) is never replaced by a later non-final one; among the
  rest, dated events go by ``occurred_at``; undated ones (``dated`` False: the body had no time,
  e.g. V1) rank below dated ones and among themselves by ``contract.statuses.precedence``, never
  by arrival; ties go to the higher precedence. Duplicate deliveries of a webhook count once. A
  ``message-send`` alone gives no status (null) and outcome ``pending``; so does a ledger row
  without events. Frames without ``outcome`` (older Parquet, hand-made) get it from ``status``
  through the contract's table; without ``dated``, a present ``occurred_at`` counts as dated.
* **Route** (``contract.routes``): an explicit route field on an event first, then
  ``senderName`` on any of the message's ``message-send``, ``delivery-status`` or
  ``message-reply`` events (a reply belongs to the message whose ``external_id``, else
  ``message_id``, and phone it carries) means ``imessage``; ``route_basis`` names the event type
  that carried it (``message-send`` preferred, then ``delivery-status``, then ``message-reply``).
  Without such evidence: ``sms_fallback`` when the ledger asked for an identity, ``sms`` when it
  did not (basis ``ledger``). A ledger row without any event that asked for an identity has route
  ``unknown`` (nothing says yet whether it went by iMessage). Events without a ledger row count
  too, attributed to their own ``senderName``; without one the route is ``unknown`` (plain SMS
  and SMS fallback cannot be told apart) and the basis ``none``. They are flagged ``unmatched``.
* Ledger rows count as messages when their ``state`` is ``sent``; rows in state ``failed``,
  ``skipped`` or ``unknown`` count only if events show they were sent.
* Reports count ``delivered``, ``failed``, ``unconfirmed`` (final, neither) and ``pending``
  (pending, unknown, or no event yet: MTA may still update them). ``delivery_rate`` =
  delivered / (delivered + failed) (NaN when nothing settled); ``ci_low``/``ci_high`` is the
  Wilson 95 % interval; ``share`` is the row's part of its identity's messages.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, cast

import pandas as pd

from ._errors import ValidationError
from .contract import keywords, routes, statuses

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

__all__ = [
    "NOT_SENT_LABELS",
    "REPORT_COLUMNS",
    "REPORT_OUTCOMES",
    "delivery_report",
    "delivery_timeseries",
    "failure_reasons",
    "fallback_summary",
    "message_table",
    "reply_report",
    "wilson_bounds",
    "wilson_interval",
]

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
#: Labels of ledger rows whose ``/send`` call did not go through (state -> label); these are the
#: toolkit's own states, not MTA statuses, so they are not in the contract.
NOT_SENT_LABELS: Final[Mapping[str, str]] = {
    "failed": "not sent: the /send call failed",
    "unknown": "not sent: the /send outcome is unknown",
}
_Z: Final[float] = 1.959963984540054  # two-sided 95 % normal quantile
_DELIVERY_EVENTS: Final[tuple[str, ...]] = ("message-send", "delivery-status")
#: Route evidence of equal strength: the event type of higher preference wins.
_PREFERENCE: Final[Mapping[routes.RouteBasis, int]] = {
    "message-send": 3,
    "delivery-status": 2,
    "message-reply": 1,
}
# The deciding event of a message is the one with the largest int64 key: final (bit 55),
# dated (bit 54), occurred_at ms if dated (bits 7-53), precedence (3-6), outcome (0-2).
# Precedence is contract.statuses.precedence + 1, so that a message-send (0) ranks below any status.
_FINAL_BIT: Final = 2**55
_DATED_BIT: Final = 2**54
_TIME_SHIFT: Final = 2**7
_PREC_SHIFT: Final = 2**3
_OUTCOME_MOD: Final = 2**3
_OUTCOME_INDEX: Final[Mapping[str, int]] = {o: i for i, o in enumerate(statuses.OUTCOMES)}
#: An outcome's part of the key: the final bit (a final outcome is never overwritten) and its
#: index, in one lookup.
_OUTCOME_KEYS: Final[Mapping[str, int]] = {
    o: (_FINAL_BIT if o in statuses.FINAL_OUTCOMES else 0) + i for o, i in _OUTCOME_INDEX.items()
}
# Route evidence of one event, as an int: strength * 8 + preference * 2 + (1 if iMessage), with
# strength 2 for an explicit route field, 1 for senderName, 0 for none (the whole value is 0).
_EXPLICIT: Final = 16
_SENDER: Final = 8

# Column -> ibis type of the two input contracts (only the columns the analytics read).
_EVENT_SCHEMA: Final[dict[str, str]] = {
    "event": "string",
    "occurred_at": "timestamp('UTC')",
    "received_at": "timestamp('UTC')",
    "dated": "boolean",
    "message_id": "int64",
    "external_id": "string",
    "phone": "string",
    "sender_name": "string",
    "status_code": "string",
    "status": "string",
    "outcome": "string",
    "route": "string",
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
    "route_basis",
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


def _derived_outcome(status: ir.StringValue) -> ir.StringValue:
    """The contract's outcome of a documented status name (``unknown`` for anything else)."""
    pairs = [(name, s.outcome) for name, s in statuses.STATUS_BY_NAME.items()]
    return status.cases(*pairs, else_="unknown")


def _precedence(status: ir.StringValue) -> ir.IntegerValue:
    """``contract.statuses.precedence`` of a status name, plus one (0 is a message-send's)."""
    pairs = [(name, statuses.precedence(name) + 1) for name in statuses.STATUS_BY_NAME]
    return status.cases(*pairs, else_=statuses.precedence(None) + 1)


def _evidence(
    route: ir.StringValue, sender: ir.StringValue, preference: ir.IntegerValue | int
) -> ir.IntegerValue:
    """One event's route evidence as an int (0: none); the larger wins within a message.

    An explicit route field beats ``senderName``: the Events table's ``route`` is ``imessage``
    when ``senderName`` is set unless an explicit field said otherwise, so ``sms`` next to a
    ``senderName`` (or ``imessage`` without one) can only come from an explicit field.
    """
    import ibis

    has_sender = sender.notnull()
    is_imessage, is_sms = route == "imessage", route == "sms"
    return ibis.cases(
        (is_imessage & ~has_sender, _EXPLICIT + preference * 2 + 1),
        (is_sms & has_sender, _EXPLICIT + preference * 2),
        (is_imessage | has_sender, _SENDER + preference * 2 + 1),
        else_=0,
    )


def _reply_evidence(ev: ir.Table, key: str) -> ir.Table:
    """Route evidence of the replies that name a message by ``key`` (external_id or message_id).

    A reply belongs to the message whose ``external_id`` and phone it carries, else (no
    ``external_id``) whose ``message_id`` and phone.
    """
    r = ev.filter((ev.event == "message-reply") & ev.phone.notnull())
    if key == "external_id":
        r = r.filter(r.external_id.notnull())
    else:
        r = r.filter(r.external_id.isnull() & r.message_id.notnull())
    sender = r.sender_name.nullif("")
    r = r.select(
        k=r[key],
        k_phone=r.phone,
        enc=_evidence(r.route, sender, _PREFERENCE["message-reply"]),
        sender=sender,
    )
    p = "x" if key == "external_id" else "y"
    g = r.group_by(["k", "k_phone"]).aggregate(enc=r.enc.max(), sender=r.sender.max())
    return g.select(
        **{f"{p}_key": g.k, f"{p}_phone": g.k_phone, f"{p}_enc": g.enc, f"{p}_sender": g.sender}
    )


def _message_expr(
    ev: ir.Table, sd: ir.Table, *, detail: bool = False, times: bool = True
) -> ir.Table:
    """One row per message (recipient of a send) with its identity, route, status and outcome.

    ``detail`` adds the status name and raw code of the deciding event (the outcome is always
    there) and ``times`` the send time; a report that needs neither skips their work (null
    columns instead).
    """
    import ibis

    d = ev.filter(ev.event.isin(list(_DELIVERY_EVENTS)))
    is_send = d.event == "message-send"
    outcome = ibis.ifelse(is_send, "pending", ibis.coalesce(d.outcome, _derived_outcome(d.status)))
    dated = d.dated.fill_null(True) & d.occurred_at.notnull()
    key = (
        outcome.cases(*_OUTCOME_KEYS.items(), else_=_OUTCOME_KEYS["unknown"])
        + ibis.ifelse(dated, _DATED_BIT + _epoch_ms(d.occurred_at) * _TIME_SHIFT, 0)
        + ibis.ifelse(is_send, 0, _precedence(d.status)) * _PREC_SHIFT
    )
    sender = d.sender_name.nullif("")
    d = d.select(
        g_ext=d.external_id,
        g_mid=d.message_id,
        g_phone=d.phone,
        # "" stands for "no status" (a message-send): DuckDB's arg_max skips null values
        status=ibis.ifelse(is_send, "", d.status.fill_null("")),
        status_code=ibis.ifelse(is_send, ibis.null("string"), d.status_code),
        key=key,
        t_ms=ibis.coalesce(_epoch_ms(d.occurred_at), _epoch_ms(d.received_at), 0),
        enc=_evidence(d.route, sender, d.event.cases(*_PREFERENCE.items(), else_=0)),
        sender=sender,
    )
    g = d.group_by(["g_ext", "g_mid", "g_phone"]).aggregate(
        status=_latest(d.status, d.key) if detail else ibis.null("string"),
        top=d.key.max(),
        # ibis's argmax keeps a null code at the latest event (as Spark's max_by does)
        status_code=d.status_code.argmax(d.key) if detail else ibis.null("string"),
        ev_enc=d.enc.max(),
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

    evs = joined.select(
        campaign_id=joined.l_campaign,
        external_id=ibis.coalesce(joined.l_ext, joined.g_ext),
        message_id=ibis.coalesce(joined.l_mid, joined.g_mid),
        phone=joined.g_phone,
        l_sender=joined.l_sender,
        ev_sender=joined.ev_sender,
        ev_enc=joined.ev_enc,
        status=joined.status.nullif(""),
        top=joined.top,
        status_code=joined.status_code,
        matched=joined.l_phone.notnull(),
        sent_ms=ibis.coalesce(joined.l_sent_ms, joined.first_ms),
    )

    seen = joined.filter(joined.l_phone.notnull()).select("l_ext", "l_mid", "l_phone").view()
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
        l_sender=waiting.l_sender,
        ev_sender=ibis.null("string"),
        ev_enc=ibis.null("int64"),
        status=ibis.null("string"),
        top=ibis.null("int64"),
        status_code=ibis.null("string"),
        matched=ibis.literal(True),
        sent_ms=waiting.l_sent_ms,
    )
    msgs = evs.union(pend)
    return _decide(_with_replies(msgs, ev))


def _with_replies(msgs: ir.Table, ev: ir.Table) -> ir.Table:
    """The messages with the route evidence of the replies that name them."""
    by_ext = _reply_evidence(ev, "external_id")
    by_mid = _reply_evidence(ev, "message_id")
    j = msgs.left_join(by_ext, [msgs.external_id == by_ext.x_key, msgs.phone == by_ext.x_phone])
    j = j.left_join(by_mid, [j.message_id == by_mid.y_key, j.phone == by_mid.y_phone])
    return j.select(*msgs.columns, "x_enc", "x_sender", "y_enc", "y_sender")


def _decide(m: ir.Table) -> ir.Table:
    """Route, route_basis, status and outcome of each message from its evidence."""
    import ibis

    enc = ibis.greatest(m.ev_enc.fill_null(0), m.x_enc.fill_null(0), m.y_enc.fill_null(0))
    has_event = m.ev_enc.notnull() | m.x_enc.notnull() | m.y_enc.notnull()
    evidence = enc >= _SENDER
    imessage = evidence & (enc % 2 == 1)
    route = ibis.cases(
        (imessage, "imessage"),
        (~m.matched, ibis.ifelse(evidence, "sms_fallback", "unknown")),
        (m.l_sender.isnull(), "sms"),
        (has_event, "sms_fallback"),
        else_="unknown",
    )
    preference = (enc // 2) % 4
    basis = ibis.cases(
        (evidence, preference.cases(*[(v, e) for e, v in _PREFERENCE.items()])),
        (m.matched, "ledger"),
        else_="none",
    )
    outcome_of = (m.top % _OUTCOME_MOD).cases(*[(i, o) for o, i in _OUTCOME_INDEX.items()])
    return m.select(
        campaign_id=m.campaign_id,
        external_id=m.external_id,
        message_id=m.message_id,
        phone=m.phone,
        sender_name=ibis.coalesce(m.l_sender, m.ev_sender, m.x_sender, m.y_sender),
        route=route,
        route_basis=basis,
        status=m.status,
        status_code=m.status_code,
        outcome=ibis.ifelse(m.top.isnull(), "pending", outcome_of),
        unmatched=~m.matched,
        sent_ms=m.sent_ms,
    )


def _window(msgs: ir.Table, start: object, end: object) -> ir.Table:
    lo, hi = _to_ms(start, "start"), _to_ms(end, "end")
    if lo is not None:
        msgs = msgs.filter(msgs.sent_ms >= lo)
    if hi is not None:
        msgs = msgs.filter(msgs.sent_ms < hi)
    return msgs


def _counts(t: ir.Table) -> dict[str, ir.Value]:
    import ibis

    counts: dict[str, ir.Value] = {"messages": t.count()}
    for column, outcomes in REPORT_OUTCOMES.items():
        hit = t.outcome.isin(list(outcomes)) if len(outcomes) > 1 else t.outcome == outcomes[0]
        counts[column] = ibis.ifelse(hit, 1, 0).sum().cast("int64")
    counts["unmatched"] = ibis.ifelse(t.unmatched, 1, 0).sum().cast("int64")
    return counts


_COUNT_COLUMNS: Final[tuple[str, ...]] = ("messages", *REPORT_OUTCOMES, "unmatched")


def _rates(t: ir.Table) -> dict[str, ir.Value]:
    """delivery_rate and its Wilson 95 % interval; null (NaN) when nothing settled."""
    n = (t.delivered + t.failed).cast("float64").nullif(0.0)
    p = t.delivered.cast("float64") / n
    low, high = wilson_bounds(p, n, sqrt=lambda v: v.sqrt())
    return {"delivery_rate": p, "ci_low": low, "ci_high": high}


def _route_order(route: pd.Series[Any]) -> pd.Series[Any]:
    order: dict[str, int] = {name: i for i, name in enumerate(routes.MESSAGE_ROUTES)}
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


_BY_COLUMNS: Final[tuple[str, ...]] = (
    "campaign_id",
    "external_id",
    "sender_name",
    "route",
    "route_basis",
    "status",
    "outcome",
    "unmatched",
)


def _check_by(by: Sequence[str] | str) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    bad = [k for k in keys if k not in _BY_COLUMNS]
    if bad:
        raise ValidationError(
            f"by={bad!r} is not a message column; choose from {list(_BY_COLUMNS)}"
        )
    return keys


def _is_stop(text: ir.StringValue) -> ir.BooleanValue:
    """``contract.keywords.is_stop`` in SQL: upper case, drop the pattern, look the word up."""
    word = text.upper().re_replace(keywords.KEYWORD_DROP_PATTERN, "")
    return word.isin(sorted(keywords.STOP_WORDS))


def _window_ms(window: str) -> int:
    try:
        return int(pd.Timedelta(window).total_seconds() * 1000)
    except ValueError as exc:
        raise ValidationError(f"window={window!r} is not a duration such as '24h'") from exc


def _with_reply_counts(msgs: ir.Table, ev: ir.Table, window_ms: int) -> ir.Table:
    """The messages with ``replies`` (reply events attributed) and ``stops`` (0 or 1).

    A reply (duplicates counted once) goes to the latest message sent to its number at most
    ``window_ms`` before it.
    """
    import ibis

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
    r = r.mutate(r_stop=ibis.ifelse(_is_stop(r.r_text), 1, 0))
    m = msgs.select("mkey", "phone", "sent_ms").view()
    cand = r.join(
        m,
        [
            r.r_phone == m.phone,
            m.sent_ms <= r.r_ms,
            r.r_ms - m.sent_ms <= window_ms,
        ],
    )
    rank = ibis.row_number().over(
        group_by=[cand.r_phone, cand.r_ms, cand.r_text],
        order_by=[ibis.desc(cand.sent_ms), ibis.desc(cand.mkey)],
    )
    best = cand.mutate(rk=rank).filter(lambda t: t.rk == 0)
    per_msg = best.group_by("mkey").aggregate(replies=best.count(), stops=best.r_stop.max())
    per_msg = per_msg.select(p_key=per_msg.mkey, p_replies=per_msg.replies, p_stops=per_msg.stops)
    j = msgs.left_join(per_msg, msgs.mkey == per_msg.p_key)
    return j.select(
        *[c for c in msgs.columns if c != "mkey"],
        replies=j.p_replies.fill_null(0).cast("int64"),
        stops=j.p_stops.fill_null(0).cast("int64"),
    )


# ----------------------------------------------------------------------------------- public API


def message_table(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    reply_window: str | None = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """One row per message (recipient of a send): identity, route and its basis, status, outcome.

    The building block of every report here, returned so a surprising number can be traced to
    its messages. Columns: ``campaign_id``, ``external_id``, ``message_id``, ``phone``,
    ``sender_name``, ``route``, ``route_basis`` (the evidence that decided the route),
    ``status`` (documented name of the deciding event; null when none yet), ``status_code``,
    ``outcome``, ``unmatched`` and ``sent_at`` (from the ledger, else the first event). With
    ``reply_window`` (e.g. ``"24h"``) also ``replies`` and ``stops``, attributed as in
    :func:`reply_report`.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7], "external_id": ["c-1"],
    ...     "phone": ["+13125550000"], "status": ["delivered"], "sender_name": ["Acme"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")]})
    >>> row = message_table(ev).iloc[0]
    >>> row.route, row.route_basis, row.outcome, bool(row.unmatched)
    ('imessage', 'delivery-status', 'delivered', True)
    """
    con, ev, sd = _inputs(events, sends, engine)
    msgs = _window(_message_expr(ev, sd, detail=True), start, end)
    extra: list[str] = []
    if reply_window is not None:
        msgs = _with_reply_counts(msgs, ev, _window_ms(reply_window))
        extra = ["replies", "stops"]
    df = con.to_pandas(msgs)
    df["sent_at"] = pd.to_datetime(df["sent_ms"].astype("Float64"), unit="ms", utc=True)
    cols = [c for c in _MESSAGE_COLUMNS if c != "sent_ms"] + ["sent_at", *extra]
    df = _finish(df, cols, ints=extra, keys=("sender_name", "route", "external_id", "phone"))
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
        ``by`` columns, then ``messages``, ``delivered``, ``failed``, ``unconfirmed``
        (DELIVERY_UNCONFIRMED: final, neither delivered nor failed), ``pending`` (pending,
        unknown, or no event yet), ``delivery_rate`` (delivered / (delivered + failed); NaN
        when nothing settled), ``ci_low``, ``ci_high`` (Wilson 95 %), ``share`` (of the
        identity's messages) and ``unmatched`` (messages whose events have no ledger row).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"] * 3, "message_id": [7, 7, 7],
    ...     "external_id": ["c-1"] * 3, "phone": ["+13125550000", "+13125550001", "+13125550002"],
    ...     "status": ["delivered", "delivery_failed", "delivery_unconfirmed"],
    ...     "occurred_at": [pd.Timestamp("2026-01-01", tz="UTC")] * 3})
    >>> sends = ev[["external_id", "message_id", "phone"]].assign(sender_name="Acme", state="sent")
    >>> rep = delivery_report(ev, sends)
    >>> rep[["route", "messages", "delivered", "failed", "unconfirmed", "delivery_rate"]].to_dict(
    ...     "records")
    [{'route': 'sms_fallback', 'messages': 3, 'delivered': 1, 'failed': 1, 'unconfirmed': 1, \
'delivery_rate': 0.5}]
    """
    keys = _check_by(by)
    con, ev, sd = _inputs(events, sends, engine)
    timed = start is not None or end is not None
    msgs = _window(_message_expr(ev, sd, detail="status" in keys, times=timed), start, end)
    agg = msgs.group_by(keys).aggregate(**_counts(msgs))
    agg = agg.mutate(**_rates(agg))
    part = [k for k in keys if k != "route"]
    total = agg.messages.sum().over(group_by=part) if part else agg.messages.sum().over()
    agg = agg.mutate(share=agg.messages.cast("float64") / total.cast("float64"))
    df = con.to_pandas(agg)
    return _finish(df, [*keys, *REPORT_COLUMNS], ints=_COUNT_COLUMNS, keys=keys)


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
    ``ci_low`` and ``ci_high`` (as in :func:`delivery_report`). A message falls in the bucket of
    its ``sent_at``.

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
    msgs = _window(_message_expr(ev, sd, detail="status" in keys), start, end)
    msgs = msgs.mutate(bucket_ms=(msgs.sent_ms // step) * step)
    agg = msgs.group_by(["bucket_ms", *keys]).aggregate(**_counts(msgs))
    agg = agg.mutate(**_rates(agg))
    df = con.to_pandas(agg)
    df["bucket"] = pd.to_datetime(df["bucket_ms"].astype("Float64"), unit="ms", utc=True)
    cols = ["bucket", *keys, *_COUNT_COLUMNS, "delivery_rate", "ci_low", "ci_high"]
    return _finish(df, cols, ints=_COUNT_COLUMNS, keys=["bucket", *keys])


def failure_reasons(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Why messages did not arrive: outcomes and documented statuses per identity and route.

    One row per ``sender_name`` × ``route`` × ``outcome`` × ``status`` × ``status_code`` (the
    deciding event's documented name and raw code) for messages not delivered, with ``label``
    (``contract.statuses.status_label``, e.g. "DELIVERY_REJECTED (blocked by the carrier)";
    "no status yet" for messages without a delivery status), ``messages`` and ``share`` (of that
    identity × route's messages). Ledger rows whose send itself did not go through (state
    ``failed`` or ``unknown``, no event) follow with outcome ``not-sent``, no status, a label
    from ``NOT_SENT_LABELS`` and the ledger's ``error`` text.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["delivery_rejected"], "status_code": ["8"]})
    >>> failure_reasons(ev)[["outcome", "status_code", "label", "messages"]].to_dict("records")
    [{'outcome': 'failed', 'status_code': '8', 'label': 'DELIVERY_REJECTED (blocked by the \
carrier)', 'messages': 1}]
    """
    import ibis

    con, ev, sd = _inputs(events, sends, engine)
    msgs = _window(_message_expr(ev, sd, detail=True), start, end)
    totals = msgs.group_by(["sender_name", "route"]).aggregate(total=msgs.count())
    totals = totals.select(t_sender=totals.sender_name, t_route=totals.route, total=totals.total)
    bad = msgs.filter(msgs.outcome != "delivered")
    cols = ["sender_name", "route", "outcome", "status", "status_code"]
    reasons = bad.group_by(cols).aggregate(messages=bad.count())
    reasons = reasons.mutate(state=ibis.null("string"), error=ibis.null("string"))

    lo, hi = _to_ms(start, "start"), _to_ms(end, "end")
    led = sd.filter(sd.state.isin(list(NOT_SENT_LABELS)) & sd.phone.notnull())
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
        outcome=ibis.literal("not-sent"),
        status=ibis.null("string"),
        status_code=ibis.null("string"),
        state=led.state,
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
        *sendfail.columns,
        share=both.messages.cast("float64") / both.total.cast("float64"),
    )
    df = con.to_pandas(both)
    df["label"] = [
        NOT_SENT_LABELS[state]
        if isinstance(state, str)
        else statuses.status_label(status if isinstance(status, str) else None)
        for state, status in zip(df["state"], df["status"], strict=True)
    ]
    cols = [*cols, "label", "error", "messages", "share"]
    df = _finish(df, cols, ints=("messages",), keys=())
    order = {o: i for i, o in enumerate((*statuses.OUTCOMES, "not-sent"))}
    df["_o"] = df["outcome"].map(order)
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
    keyword by ``contract.keywords`` (upper-cased, everything but A-Z dropped: ``"Stop."``)
    counts as a STOP.

    Returns ``sender_name``, ``route``, ``messages``, ``replies`` (reply events attributed),
    ``replied`` (messages with at least one reply), ``stops`` (messages with a STOP reply),
    ``reply_rate`` (replied / messages) and ``stop_rate`` (stops / messages).

    Examples
    --------
    >>> import pandas as pd
    >>> t0 = pd.Timestamp("2026-01-01 10:00", tz="UTC")
    >>> ev = pd.DataFrame({"event": ["delivery-status", "message-reply"], "message_id": [7, None],
    ...     "phone": ["+13125550000"] * 2, "status": ["delivered", None], "text": [None, "Stop."],
    ...     "occurred_at": [t0, t0 + pd.Timedelta("1h")]})
    >>> reply_report(ev)[["messages", "replied", "stops", "stop_rate"]].to_dict("records")
    [{'messages': 1, 'replied': 1, 'stops': 1, 'stop_rate': 1.0}]
    """
    import ibis

    win = _window_ms(window)
    con, ev, sd = _inputs(events, sends, engine)
    msgs = _window(_message_expr(ev, sd), start, end)
    j = _with_reply_counts(msgs, ev, win)
    j = j.mutate(replied=ibis.ifelse(j.replies > 0, 1, 0))
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
