"""The analytics' inputs: the backend to run on, and each input as a relation of a fixed schema.

Inputs may be pandas DataFrames, an ``EventLog`` (anything with a ``.df``), Parquet paths or
ibis tables. Each becomes a temporary relation in the backend with exactly the columns the
analytics read (``EVENT_SCHEMA``, ``SEND_SCHEMA``), one clean type each, missing ones null; a
DataFrame goes to Arrow once and is registered as it is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from .._errors import ValidationError
from . import _sql

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

Engine = Any  # "duckdb" | "pyspark" | an ibis backend | a SparkSession | None

# Column -> ibis type of the two input contracts (only the columns the analytics read).
EVENT_SCHEMA: Final[dict[str, str]] = {
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
SEND_SCHEMA: Final[dict[str, str]] = {
    "campaign_id": "string",
    "external_id": "string",
    "message_id": "int64",
    "phone": "string",
    "sender_name": "string",
    "sent_at": "timestamp('UTC')",
    "state": "string",
    "error": "string",
}
# One in-process DuckDB per thread, made on first use: a connection costs as much as a small
# report, and a DuckDB connection is not for concurrent use.
_local = threading.local()


def default_duckdb() -> BaseBackend:
    con: BaseBackend | None = getattr(_local, "duckdb", None)
    if con is None:
        import ibis

        con = ibis.duckdb.connect()
        threads = os.environ.get("MTA_ANALYTICS_THREADS")
        if threads:
            con.raw_sql(f"SET threads = {int(threads)}")
        _local.duckdb = con
    return con


def resolve_backend(engine: Engine, inputs: Sequence[object]) -> BaseBackend:
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
        return default_duckdb()
    if isinstance(engine, str):
        name = engine.lower()
        if name == "duckdb":
            return default_duckdb()
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


def coerce_frame(df: pd.DataFrame, schema: Mapping[str, str]) -> pd.DataFrame:
    """Keep the columns the analytics read, with one clean dtype each (missing ones as nulls)."""
    out: dict[str, pd.Series[Any]] = {}
    n = len(df)
    for name, kind in schema.items():
        col = df[name] if name in df.columns else pd.Series([None] * n, index=df.index)
        if kind == "string":
            out[name] = _as_strings(col)
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


def _as_strings(col: pd.Series[Any]) -> pd.Series[Any]:
    if isinstance(col.dtype, pd.StringDtype) or pd.api.types.infer_dtype(col, skipna=True) in (
        "string",
        "empty",
    ):
        pass
    elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        try:  # codes as numbers (3 or 3.0) become "3", fast
            col = col.astype("Int64").astype("string")
        except (TypeError, ValueError):
            col = col.astype("object").where(col.notna(), None).map(_as_text)
    else:
        col = col.astype("object").where(col.notna(), None).map(_as_text)
    return col.astype("string")


def _as_text(value: object) -> str | None:
    """A cell as text; integral floats (a pandas int column with gaps) lose their ``.0``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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


def bind_input(
    con: BaseBackend, obj: object, schema: Mapping[str, str], what: str
) -> tuple[str, list[tuple[str, str]]]:
    """``obj`` as a relation of ``schema`` in ``con``: a temporary relation's name or a
    subquery, and what to drop afterwards ((name, kind) pairs, see ``_sql.drop``)."""
    import ibis

    drops: list[tuple[str, str]] = []

    if hasattr(obj, "df") and isinstance(obj.df, pd.DataFrame):
        obj = obj.df
    if isinstance(obj, pd.DataFrame):
        name, kind = _bind_frame(con, obj, schema, what)
        return name, [(name, kind)]
    if isinstance(obj, str | os.PathLike):
        path = os.fspath(obj)
        if not os.path.exists(path) and "://" not in path:
            raise ValidationError(
                f"{what}: no such Parquet file or directory {path!r}; pass a DataFrame, an "
                "EventLog, an ibis table or an existing Parquet path"
            )
        if con.name == "duckdb":
            return _bind_duckdb_parquet(con, path, schema, what)
        table = con.read_parquet(path)
        drops.append((table.get_name(), "view"))
        obj = table
    if isinstance(obj, ibis.Table):
        name = _sql.temp_name(what)
        con.create_view(name, _coerce_table(obj, schema), overwrite=True)
        return name, [(name, "view"), *drops]
    raise ValidationError(
        f"{what} must be a pandas DataFrame, an EventLog (with .df), a Parquet path or an ibis "
        f"table, not {type(obj).__name__}"
    )


def _bind_duckdb_parquet(
    con: BaseBackend, path: str, schema: Mapping[str, str], what: str
) -> tuple[str, list[tuple[str, str]]]:
    """A subquery casting the file's columns to ``schema``, compiled once per file schema
    (ibis's read_parquet would inspect the file and compile each time)."""
    source = "read_parquet('" + path.replace("'", "''") + "')"
    described = con.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    columns = tuple((str(row[0]), str(row[1])) for row in described)

    def build() -> ir.Table:
        types = {c: con.compiler.type_mapper.from_string(t) for c, t in columns}
        return _coerce_table(_sql.placeholder(types, "source"), schema)

    sql = _sql.compiled("duckdb", ("parquet", what, columns), build)
    return f"({_sql.bind(sql, lambda _role: source)})", []


def _bind_frame(
    con: BaseBackend, df: pd.DataFrame, schema: Mapping[str, str], what: str
) -> tuple[str, str]:
    import ibis
    import pyarrow as pa

    arrow_schema = ibis.schema(dict(schema)).to_pyarrow()
    table = pa.Table.from_pandas(
        coerce_frame(df, schema), schema=arrow_schema, preserve_index=False
    )
    name = _sql.temp_name(what)
    if con.name == "duckdb":
        con.con.register(name, table)
        return name, "arrow"
    if con.name == "pyspark":
        # Registered by hand: ibis's memtable goes through pandas, which loses nullable ints.
        con._session.createDataFrame(table).createOrReplaceTempView(name)
        return name, "view"
    con.create_view(name, ibis.memtable(table), overwrite=True)
    return name, "view"


def empty_sends() -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame({name: [] for name in SEND_SCHEMA})
    return frame


def to_ms(value: object, what: str) -> int | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what}={value!r} is not a date or time") from exc
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)
