"""Run analytics SQL on a backend: the compiled-once cache, temporary relations, results.

Every expression of the analytics is built over placeholder tables with a fixed schema (the
events, the sends, the messages, ...) and compiled to SQL once per backend dialect and shape; a
call only swaps the placeholders for the names of its own temporary relations (or subqueries).
Building and compiling an ibis expression costs a tenth of a second, more than the query itself
on a notebook-sized log, so no call pays it twice.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
from collections.abc import Callable, Hashable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, cast

import pandas as pd

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

_EPOCH_MS_FUNCTIONS: Final[dict[str, str]] = {"duckdb": "epoch_ms", "pyspark": "unix_millis"}
# The backend the expression being built will run on (per thread/task), and the builtin
# functions already declared to ibis.
_BACKEND: ContextVar[str] = ContextVar("mta_analytics_backend", default="duckdb")
_udfs: dict[str, Any] = {}
_compiled: dict[tuple[str, Hashable], str] = {}
_names = itertools.count()
# A placeholder is a quoted identifier with this process's random mark in it, so that no value
# in the SQL (a sender name in a filter, a path) can be taken for one; a subquery may take its
# place, quotes included.
_MARK: Final = secrets.token_hex(6)
_PLACEHOLDER: Final = re.compile(rf"([\"`])__mta{_MARK}_([a-z_]+?)__\1")


def placeholder(schema: Mapping[str, Any], role: str) -> ir.Table:
    """An unbound table standing for one relation (``role``) of the given schema."""
    import ibis

    return ibis.table(dict(schema), name=f"__mta{_MARK}_{role}__")


def compiled(dialect: str, key: Hashable | None, build: Callable[[], ir.Table]) -> str:
    """The SQL of ``build()`` for ``dialect``, built and compiled on the first call only
    (``key`` None: not kept, for shapes that hold the caller's values)."""
    sql = _compiled.get((dialect, key)) if key is not None else None
    if sql is None:
        import ibis

        token = _BACKEND.set(dialect)
        try:
            sql = str(ibis.to_sql(build(), dialect=dialect, pretty=False))
        finally:
            _BACKEND.reset(token)
        if key is not None:
            _compiled[(dialect, key)] = sql
    return sql


def bind(sql: str, name_of: Callable[[str], str]) -> str:
    """``sql`` with each placeholder of ``role`` replaced by ``name_of(role)``."""
    return _PLACEHOLDER.sub(lambda m: name_of(m.group(2)), sql)


def temp_name(role: str) -> str:
    return f"mta_{role}_{os.getpid()}_{next(_names)}"


def dialect(con: BaseBackend) -> str:
    return str(con.name)


def execute(con: BaseBackend, sql: str) -> None:
    """Run a statement (DDL) for its effect."""
    if con.name == "pyspark":
        con._session.sql(sql)
    else:
        con.raw_sql(sql)


def fetch(con: BaseBackend, sql: str) -> pd.DataFrame:
    """The result of a query as a pandas DataFrame (dtypes are normalised by the reducers)."""
    if con.name == "duckdb":
        return cast("pd.DataFrame", con.con.execute(sql).df())
    if con.name == "pyspark":
        return cast("pd.DataFrame", con._session.sql(sql).toPandas())
    return cast("pd.DataFrame", con.sql(sql).to_pandas())


def create_view(con: BaseBackend, name: str, sql: str) -> None:
    execute(con, f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")


def create_table(con: BaseBackend, name: str, sql: str) -> None:
    """Compute ``sql`` once and keep the rows in the backend (Spark: a cached temporary view)."""
    if con.name == "pyspark":
        # A view made from a DataFrame keeps its resolved plan (SQL's CACHE TABLE ... AS keeps
        # the text, which names the inputs dropped next); cached, then counted to fill it now.
        session = con._session
        session.sql(sql).createOrReplaceTempView(name)
        session.catalog.cacheTable(name)
        session.table(name).count()
    else:
        execute(con, f"CREATE TEMPORARY TABLE {name} AS {sql}")


def drop(con: BaseBackend, name: str, kind: str) -> None:
    """Drop a relation made here (``kind``: view, table or arrow); never raises."""
    try:
        if kind == "arrow":
            con.con.unregister(name)
        elif kind == "table" and con.name == "pyspark":
            con._session.catalog.uncacheTable(name)
            con._session.catalog.dropTempView(name)
        else:
            execute(con, f"DROP {kind.upper()} IF EXISTS {name}")
    except Exception:  # a closed connection or a stopped session has dropped it already
        pass


def epoch_ms(ts: ir.TimestampValue) -> ir.IntegerValue:
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


def latest(value: ir.StringValue, key: ir.IntegerValue, *, nulls: bool = False) -> ir.StringScalar:
    """``value`` at the largest ``key``; with ``nulls``, a null there is the answer (else the
    value is never null here).

    ibis spells argmax as an ordered FIRST() on DuckDB, which sorts each group; DuckDB's own
    arg_max (arg_max_null: keeping nulls, as Spark's max_by does) is much faster.
    """
    import ibis
    import ibis.expr.datatypes as dt

    if _BACKEND.get() != "duckdb":
        return value.argmax(key)
    name = "arg_max_null" if nulls else "arg_max"
    udf = _udfs.get(name)
    if udf is None:
        udf = ibis.udf.agg.builtin(
            lambda v, k: None, name=name, signature=((dt.string, dt.int64), dt.string)
        )
        _udfs[name] = udf
    return udf(value, key)
