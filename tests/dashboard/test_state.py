"""The dashboard's tables are the analytics reducers' own: on the sample, on DuckDB, on Spark."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import mta_notebook as mta
from mta_notebook import analytics
from mta_notebook.dashboard import NO_IDENTITY, Dashboard, DashboardFilters
from mta_notebook.dashboard._state import DashboardTables, analytics_tables, select

TABLES = ("messages", "report", "timeseries", "failure_reasons", "replies", "latency", "cost")


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    events = mta.read_webhook_log(mta.sample_path("webhooks_sample.jsonl")).df
    return events, mta.load_sends(mta.sample_path("sends_sample.csv"))


def _reducers(
    events: object, sends: object, f: DashboardFilters, engine: Any = None
) -> dict[str, pd.DataFrame]:
    """The analytics functions called directly, for the filters' window and bucket."""
    start, end = f.window()
    kw: dict[str, Any] = {"start": start, "end": end, "engine": engine}
    return {
        "messages": analytics.message_table(events, sends, reply_window="24h", **kw),
        "report": analytics.delivery_report(events, sends, **kw),
        "timeseries": analytics.delivery_timeseries(events, sends, freq=f.freq, **kw),
        "failure_reasons": analytics.failure_reasons(events, sends, **kw),
        "replies": analytics.reply_report(events, sends, **kw),
        "latency": analytics.time_to_deliver(events, sends, **kw),
        "cost": analytics.cost_report(events, sends, **kw),
    }


def _rows(df: pd.DataFrame, f: DashboardFilters) -> pd.DataFrame:
    """The rows of a reducer's table for the filters' identities and route."""
    keep = pd.Series(True, index=df.index)
    if f.identities is not None:
        keep &= df["sender_name"].astype("string").fillna(NO_IDENTITY).isin(f.identities)
    if f.route != "all":
        keep &= df["route"] == f.route
    return df[keep].reset_index(drop=True)


def _assert_same(tables: DashboardTables, expected: dict[str, pd.DataFrame]) -> None:
    for name in TABLES:
        ours = getattr(tables, name)
        if name == "messages":
            assert (ours["identity"] == ours["sender_name"].fillna(NO_IDENTITY)).all()
            ours = ours.drop(columns=["identity"])
        pd.testing.assert_frame_equal(ours, expected[name], check_exact=True, obj=name)


def test_the_dashboard_on_the_sample_shows_the_reducers_tables(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, sends = sample
    dash = Dashboard(events, sends)
    everything = _reducers(events, sends, DashboardFilters(freq=dash.filters.freq))
    shown = {
        "report": dash.report_table(),
        "timeseries": dash.timeseries_table(),
        "failure_reasons": dash.failure_reasons_table(),
        "replies": dash.reply_table(),
        "latency": dash.latency_table(),
        "cost": dash.cost_table(),
    }
    for name, table in shown.items():
        pd.testing.assert_frame_equal(table, everything[name], check_exact=True, obj=name)
    assert dash.tiles["messages"] == everything["report"]["messages"].sum() == 240

    # filtered: the reducers over the chosen days, then the chosen identity's and route's rows
    f = dash.set_filters(identities=["Acme"], route="sms_fallback", freq="15min")
    expected = {name: _rows(df, f) for name, df in _reducers(events, sends, f).items()}
    _assert_same(dash._selection, expected)
    assert dash.report["messages"].sum() == dash.tiles["messages"] > 0
    # every failed recipient listed is one the failure reasons count
    reasons = expected["failure_reasons"]
    failed = reasons.loc[reasons["outcome"].isin(["failed", "not-sent"]), "messages"].sum()
    assert len(dash.failures) == failed > 0
    assert set(dash.failures["identity"]) == {"Acme"}


def test_a_failed_send_counts_once_in_reasons_and_failures(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, sends = sample
    failed = sends.iloc[[0]].assign(
        external_id="x-00001",
        message_id=pd.array([pd.NA], dtype="Int64"),
        phone="+13125559999",
        state="failed",
        error="HTTP 500 from /send",
    )
    dash = Dashboard(events, pd.concat([sends, failed], ignore_index=True))
    reasons = dash.failure_reasons_table()
    not_sent = reasons[reasons["outcome"] == "not-sent"]
    rows = dash.failures[dash.failures["outcome"] == "not-sent"]
    assert not_sent["messages"].sum() == len(rows) == 1
    assert rows["label"].tolist() == not_sent["label"].tolist()
    assert rows["phone"].tolist() == ["+13125559999"]
    assert "+13125559999" in set(dash.filtered_sends["phone"])


def _window_filters() -> DashboardFilters:
    """Acme Deals by iMessage on the day of its campaign (the sample's second of three days)."""
    day = date(2026, 11, 21)
    return DashboardFilters(
        identities=("Acme Deals",), route="imessage", start=day, end=day, freq="1h"
    )


def _lake_frames(events: pd.DataFrame, sends: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The columns a warehouse table holds (no nested tags, no raw bodies)."""
    return events.drop(columns=["tags", "raw"]), sends.astype({"longcode_id": "Int64"})


def test_on_duckdb_tables(sample: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    events, sends = _lake_frames(*sample)
    events.to_parquet(tmp_path / "events.parquet")
    sends.to_parquet(tmp_path / "sends.parquet")
    con = ibis.duckdb.connect()
    # tables in the user's own connection (create_table from memory trips an ibis bug)
    for name in ("events", "sends"):
        con.raw_sql(
            f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{tmp_path}/{name}.parquet')"
        )
    ev_t, sd_t = con.table("events"), con.table("sends")
    f = _window_filters()
    got = select(analytics_tables(ev_t, sd_t, filters=f), f)
    expected = {name: _rows(df, f) for name, df in _reducers(ev_t, sd_t, f).items()}
    _assert_same(got, expected)
    # and the same numbers as the dashboard built on the pandas frames
    dash = Dashboard(*sample)
    dash.set_filters(identities=f.identities, route=f.route, start=f.start, end=f.end, freq="1h")
    _assert_same(dash._selection, expected)
    assert 0 < dash.tiles["messages"] < 80


# py4j leaves its gateway sockets to the garbage collector; that is Spark's, not ours.
@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local SparkSession for this module (the analytics tests' one if it is running)."""
    from pyspark.sql import SparkSession

    local = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    running = SparkSession.getActiveSession()
    if running is None:
        builder = SparkSession.builder.master("local[2]").appName("mta-notebook-dashboard")
        for key, value in local.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    else:
        session = running
    session.sparkContext.setLogLevel("ERROR")
    yield session
    if running is None:
        session.stop()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_on_spark_tables(
    spark: Any, sample: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    events, sends = _lake_frames(*sample)
    events.to_parquet(tmp_path / "events.parquet")
    sends.to_parquet(tmp_path / "sends.parquet")
    con = ibis.pyspark.connect(spark)
    ev_t = con.read_parquet(str(tmp_path / "events.parquet"))
    sd_t = con.read_parquet(str(tmp_path / "sends.parquet"))
    f = _window_filters()
    got = select(analytics_tables(ev_t, sd_t, filters=f), f)
    # Spark pays seconds per query: the reducers run once on it (through the dashboard), and
    # their DuckDB results on the same rows are the reference (tests/analytics shows the two
    # engines agree); the report is also asked of Spark directly.
    expected = {name: _rows(df, f) for name, df in _reducers(events, sends, f).items()}
    _assert_same(got, expected)
    direct = _rows(analytics.delivery_report(ev_t, sd_t, start=f.window()[0], end=f.window()[1]), f)
    pd.testing.assert_frame_equal(got.report, direct, check_exact=True)
    assert not got.report.empty
