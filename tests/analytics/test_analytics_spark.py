"""The same analytics on Spark (ibis's PySpark backend, local mode) give identical tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from mta_notebook import analytics
from mta_notebook.analytics._inputs import resolve_backend
from tests.analytics.fixtures import DOCUMENTED, every_code_frames, evidence_log, phone

# py4j leaves its gateway sockets to the garbage collector; that is Spark's, not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local SparkSession for the whole run (it takes about 10 s to start)."""
    session = (
        SparkSession.builder.master("local[2]")
        .appName("mta-notebook-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_every_function_gives_identical_tables_on_spark(
    spark: SparkSession, frames: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    events, sends = frames
    con = ibis.pyspark.connect(spark)
    # Spark pays seconds per query even on tiny data: the report, the message table (status
    # ordering, undated events, route evidence, and with replies: a window function and the
    # keyword rule), and the functions whose SQL differs most (time buckets, reply attribution).
    calls: list[tuple[Any, dict[str, Any]]] = [
        (analytics.delivery_report, {}),
        (analytics.message_table, {"reply_window": "24h"}),
        (analytics.delivery_timeseries, {"freq": "30min"}),
        (analytics.reply_report, {}),
        (analytics.time_to_deliver, {}),
    ]
    results = {}
    for fn, kwargs in calls:
        on_duckdb = fn(events, sends, **kwargs)
        on_spark = fn(events, sends, engine=con, **kwargs)
        assert not on_duckdb.empty
        pd.testing.assert_frame_equal(on_spark, on_duckdb, check_exact=True, obj=fn.__name__)
        results[fn.__name__] = on_spark
    # "Stop." is a STOP on Spark too (contract.keywords, in Spark's SQL)
    msgs = results["message_table"].set_index("phone")
    assert msgs.loc[phone(2), "stops"] == 1
    assert msgs["stops"].sum() == 1


def test_evidence_and_derived_outcomes_on_spark(spark: SparkSession) -> None:
    con = ibis.pyspark.connect(spark)
    events, sends = evidence_log().frames()
    pd.testing.assert_frame_equal(
        analytics.message_table(events, sends, engine=con),
        analytics.message_table(events, sends),
        check_exact=True,
    )
    # without outcome and dated, Spark derives them from status through the contract's table
    events, sends = every_code_frames()
    got = analytics.message_table(events.drop(columns=["outcome", "dated"]), sends, engine=con)
    got = got.set_index("phone")
    for code, (status, outcome) in DOCUMENTED.items():
        assert (got.loc[phone(code), "status"], got.loc[phone(code), "outcome"]) == (
            status,
            outcome,
        ), code


def test_spark_tables_from_a_lake(
    spark: SparkSession, frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    events, sends = frames
    expected = analytics.delivery_report(events, sends)
    events.drop(columns=["tags", "raw"]).to_parquet(tmp_path / "events.parquet")
    sends.astype({"longcode_id": "Int64"}).to_parquet(tmp_path / "sends.parquet")
    con = ibis.pyspark.connect(spark)
    ev_t = con.read_parquet(str(tmp_path / "events.parquet"))
    sd_t = con.read_parquet(str(tmp_path / "sends.parquet"))
    # ibis tables of the Spark backend, no engine=: the functions follow their backend
    got = analytics.delivery_report(ev_t, sd_t)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got["unmatched"].sum() == 2
    # an older lake without outcome and dated gives the same report
    events.drop(columns=["tags", "raw", "outcome", "dated"]).to_parquet(tmp_path / "old.parquet")
    old_t = con.read_parquet(str(tmp_path / "old.parquet"))
    pd.testing.assert_frame_equal(analytics.delivery_report(old_t, sd_t), expected)
    # engine="pyspark" picks up the active session
    assert resolve_backend("pyspark", []).name == "pyspark"


def test_messages_kept_in_spark(
    spark: SparkSession, frames: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The join cached in Spark once; reducers on it and on a filtered view equal DuckDB's."""
    events, sends = frames
    kept = analytics.messages(events, sends, engine=ibis.pyspark.connect(spark))
    on_duckdb = analytics.messages(events, sends)
    later = {"start": "2026-11-01 12:30", "end": "2026-11-01 14:30"}
    view, duck_view = (
        m.where(sender_names=["Acme Deals", None], **later) for m in (kept, on_duckdb)
    )
    pd.testing.assert_frame_equal(
        analytics.delivery_report(kept), analytics.delivery_report(events, sends), check_exact=True
    )
    for fn in (analytics.failure_reasons, analytics.reply_report):
        got = fn(view)
        assert not got.empty
        pd.testing.assert_frame_equal(got, fn(duck_view), check_exact=True, obj=fn.__name__)
    pd.testing.assert_frame_equal(
        analytics.message_table(view, reply_window="24h"),
        analytics.message_table(duck_view, reply_window="24h"),
        check_exact=True,
    )
