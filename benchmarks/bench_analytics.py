"""Benchmark delivery_report on 5,000,000 webhook events and their send ledger.

Three ways to the same table, in one process, reading the same Parquet files:

* ``ibis``      - ``mta_notebook.delivery_report`` (ibis expression, DuckDB in-process);
* ``reference`` - a hand-written DuckDB SQL query computing the same table;
* ``naive``     - plain pandas: read, sort, drop_duplicates, merge, groupby.

Prints both ratios (targets: ibis within 1.25x of the reference, at least 5x faster than
naive) and the peak memory each needed (resident set growth over its start, sampled every 5 ms),
and checks the three tables agree. Data is generated once under benchmarks/_data/.

Run: ``nice .venv/bin/python benchmarks/bench_analytics.py [--events N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from mta_notebook.analytics import REPORT_COLUMNS, delivery_report

DATA = Path(__file__).resolve().parent / "_data"
Z = 1.959963984540054
FINAL = ("delivered", "undelivered", "undeliverable", "rejected")
FAILED = ("undelivered", "undeliverable", "rejected")
PREC = {
    "delivered": 7,
    "undelivered": 6,
    "undeliverable": 5,
    "rejected": 4,
    "sent": 2,
    "unknown": 1,
}


# ---------------------------------------------------------------------------------- the data


def generate(n_events: int) -> tuple[Path, Path]:
    """Events (contract columns, shuffled) and a ledger; about 3 events per message."""
    DATA.mkdir(parents=True, exist_ok=True)
    ev_path = DATA / f"events_{n_events}.parquet"
    sd_path = DATA / f"sends_{n_events}.parquet"
    if ev_path.exists() and sd_path.exists():
        return ev_path, sd_path
    n_msg = int(n_events / 2.9)
    con = duckdb.connect()
    con.execute(
        f"""
        CREATE TABLE ledger AS
        SELECT
            'cmp' || (i // 50000)::VARCHAR AS campaign_id,
            (i // 1000)::BIGINT AS chunk,
            'cmp' || (i // 50000)::VARCHAR || '-' || lpad(((i // 1000) % 100000)::VARCHAR, 5, '0')
                AS external_id,
            (100000 + i // 1000)::BIGINT AS message_id,
            '+1' || (2000000000 + i)::VARCHAR AS phone,
            CASE (i // 50000) % 3 WHEN 0 THEN 'Acme' WHEN 1 THEN 'Acme Deals' ELSE NULL END
                AS sender_name,
            CASE (i // 50000) % 3 WHEN 0 THEN 101 WHEN 1 THEN 102 ELSE 100 END::BIGINT
                AS longcode_id,
            TIMESTAMPTZ '2026-11-01 12:00:00+00' + to_seconds((i // 1000)::BIGINT) AS sent_at,
            CASE WHEN hash(i, 1) % 100 = 0 THEN 'failed' ELSE 'sent' END AS state,
            CASE WHEN hash(i, 1) % 100 = 0 THEN 'HTTP 400: invalid number' END AS error,
            hash(i, 2) % 100 AS r_route,
            hash(i, 3) % 100 AS r_status,
            hash(i, 4) % 100 AS r_events
        FROM range({n_msg}) t(i)
        """
    )
    con.execute(
        """
        CREATE TABLE msgs AS
        SELECT *,
            sender_name IS NOT NULL AND r_route < 60 AS imsg,
            CASE WHEN r_status < 85 THEN 'delivered' WHEN r_status < 90 THEN 'undelivered'
                 WHEN r_status < 93 THEN 'undeliverable' WHEN r_status < 95 THEN 'rejected'
                 ELSE 'unknown' END AS final_status
        FROM ledger WHERE state = 'sent' AND r_events >= 1  -- 1 %: no event yet (pending)
        """
    )
    con.execute(
        """
        CREATE TABLE ev AS
        WITH base AS (
            SELECT m.*, k.k FROM msgs m, (VALUES (0), (1), (2)) k(k)
            UNION ALL  -- 2 % of final statuses delivered twice
            SELECT m.*, 2 FROM msgs m WHERE r_events BETWEEN 1 AND 2
            UNION ALL  -- 0.5 %: a late non-final "sent" after the final one
            SELECT m.*, 3 FROM msgs m WHERE r_events = 3
        ), shaped AS (
            SELECT
                CASE WHEN k = 0 THEN 'message-send' ELSE 'delivery-status' END AS event,
                sent_at + to_milliseconds(CASE k WHEN 0 THEN 900 WHEN 1 THEN 1200
                    WHEN 2 THEN 4000 + r_status * 37 ELSE 90000 END) AS occurred_at,
                CASE WHEN r_events = 4 THEN 'zz-' || external_id ELSE external_id END
                    AS external_id,  -- 1 %: no ledger row (another tool's send)
                message_id, phone,
                CASE WHEN imsg THEN sender_name END AS sender_name,
                CASE k WHEN 0 THEN NULL WHEN 2 THEN final_status ELSE 'sent' END AS status,
                imsg, hash(phone, k) AS shuffle_key
            FROM base
        )
        SELECT event, occurred_at,
            occurred_at + to_milliseconds(150 + shuffle_key % 3000) AS received_at,
            message_id, external_id, phone, sender_name,
            CASE status WHEN 'sent' THEN '1' WHEN 'delivered' THEN '2' WHEN 'undelivered' THEN '3'
                WHEN 'undeliverable' THEN '4' WHEN 'unknown' THEN '5' WHEN 'rejected' THEN '6'
                END AS status_code,
            status,
            CASE WHEN imsg THEN 'imessage' ELSE 'unknown' END AS route,
            status IN ('delivered', 'undelivered', 'undeliverable', 'rejected') AS is_final,
            NULL::VARCHAR AS text,
            '{}' AS tags,
            'webhooks.jsonl:' || (shuffle_key % 100000000)::VARCHAR AS source,
            shuffle_key
        FROM shaped
        """
    )
    total = con.execute("SELECT count(*) FROM ev").fetchone()
    assert total is not None
    if total[0] < n_events:
        raise SystemExit(f"generated {total[0]} events, fewer than {n_events}; raise n_msg")
    con.execute(
        f"""
        COPY (SELECT * EXCLUDE (shuffle_key) FROM ev ORDER BY shuffle_key LIMIT {n_events})
        TO '{ev_path}' (FORMAT parquet, ROW_GROUP_SIZE 200000)
        """
    )
    con.execute(
        f"""
        COPY (SELECT * EXCLUDE (r_route, r_status, r_events) FROM ledger)
        TO '{sd_path}' (FORMAT parquet, ROW_GROUP_SIZE 200000)
        """
    )
    con.close()
    return ev_path, sd_path


# ----------------------------------------------------------------------------- the reference


def reference_sql(ev_path: Path, sd_path: Path) -> pd.DataFrame:
    """The same table, written by hand in DuckDB SQL."""
    prec = " ".join(f"WHEN '{k}' THEN {v}" for k, v in PREC.items())
    z2 = Z * Z
    sql = f"""
    WITH d AS (
        SELECT external_id, message_id, phone,
            CASE WHEN event = 'message-send' THEN 'sent' ELSE coalesce(status, 'unknown') END
                AS st,
            coalesce(epoch_ms(occurred_at), epoch_ms(received_at), 0) AS t,
            event <> 'message-send'
                AND coalesce(is_final, status IN {FINAL}) AS fin,
            nullif(sender_name, '') AS sn,
            route
        FROM read_parquet('{ev_path}')
        WHERE event IN ('message-send', 'delivery-status')
    ), g AS (
        SELECT external_id, message_id, phone,
            arg_max(st, CASE WHEN fin THEN 4503599627370496 ELSE 0 END + t * 8
                + CASE st {prec} ELSE 0 END) AS status,
            max(CASE WHEN route = 'imessage' OR sn IS NOT NULL THEN 1 ELSE 0 END) AS imsg,
            max(sn) AS ev_sender
        FROM d GROUP BY external_id, message_id, phone
    ), l AS (
        SELECT external_id, message_id, phone, nullif(sender_name, '') AS sn, state
        FROM read_parquet('{sd_path}') WHERE phone IS NOT NULL
    ), j AS (
        SELECT g.*, l.external_id AS l_ext, l.message_id AS l_mid, l.phone AS l_phone,
            l.sn AS l_sn
        FROM g LEFT JOIN l ON g.external_id = l.external_id AND g.phone = l.phone
        WHERE g.external_id IS NOT NULL
        UNION ALL
        SELECT g.*, l.external_id, l.message_id, l.phone, l.sn
        FROM g LEFT JOIN l ON g.message_id = l.message_id AND g.phone = l.phone
        WHERE g.external_id IS NULL
    ), m AS (
        SELECT coalesce(l_sn, ev_sender) AS sender_name,
            CASE WHEN imsg = 1 THEN 'imessage' WHEN l_phone IS NULL THEN 'unknown'
                 WHEN l_sn IS NOT NULL THEN 'sms_fallback' ELSE 'sms' END AS route,
            status, l_phone IS NULL AS unmatched
        FROM j
        UNION ALL
        SELECT l.sn, CASE WHEN l.sn IS NOT NULL THEN 'unknown' ELSE 'sms' END, NULL, FALSE
        FROM l
        WHERE l.state = 'sent' AND NOT EXISTS (
            SELECT 1 FROM j WHERE j.l_phone = l.phone
                AND j.l_ext IS NOT DISTINCT FROM l.external_id
                AND j.l_mid IS NOT DISTINCT FROM l.message_id)
    ), a AS (
        SELECT sender_name, route, count(*) AS messages,
            count(*) FILTER (WHERE status = 'delivered') AS delivered,
            count(*) FILTER (WHERE status IN {FAILED}) AS failed,
            count(*) FILTER (WHERE status IS NULL OR status NOT IN {FINAL}) AS pending,
            count(*) FILTER (WHERE unmatched) AS unmatched
        FROM m GROUP BY sender_name, route
    ), r AS (
        SELECT *, delivered + failed AS n,
            delivered::DOUBLE / nullif(delivered + failed, 0) AS p
        FROM a
    )
    SELECT sender_name, route, messages, delivered, failed, pending, p AS delivery_rate,
        (p + {z2} / (2 * n)) / (1 + {z2} / n)
            - {Z} * sqrt(p * (1 - p) / n + {z2} / (4 * n * n)) / (1 + {z2} / n) AS ci_low,
        (p + {z2} / (2 * n)) / (1 + {z2} / n)
            + {Z} * sqrt(p * (1 - p) / n + {z2} / (4 * n * n)) / (1 + {z2} / n) AS ci_high,
        messages / sum(messages) OVER (PARTITION BY sender_name) AS share,
        unmatched
    FROM r
    """
    con = duckdb.connect()
    try:
        return con.execute(sql).df()
    finally:
        con.close()


# --------------------------------------------------------------------------------- the naive


def naive_pandas(ev_path: Path, sd_path: Path) -> pd.DataFrame:
    """What one writes first in pandas: sort, keep the last row per message, merge, group."""
    ev = pd.read_parquet(
        ev_path,
        columns=[
            "event",
            "occurred_at",
            "received_at",
            "message_id",
            "external_id",
            "phone",
            "sender_name",
            "status",
            "route",
            "is_final",
        ],
    )
    sd = pd.read_parquet(
        sd_path, columns=["external_id", "message_id", "phone", "sender_name", "state"]
    )
    d = ev[ev["event"].isin(["message-send", "delivery-status"])].copy()
    d["st"] = d["status"].fillna("unknown").where(d["event"] != "message-send", "sent")
    d["fin"] = (d["event"] != "message-send") & d["is_final"].fillna(d["status"].isin(FINAL))
    d["t"] = d["occurred_at"].fillna(d["received_at"])
    d["prec"] = d["st"].map(PREC).fillna(0)
    d["sn"] = d["sender_name"].replace("", None)
    d["im"] = (d["route"] == "imessage") | d["sn"].notna()
    keys = ["external_id", "message_id", "phone"]
    d = d.sort_values([*keys, "fin", "t", "prec"])
    last = d.drop_duplicates(keys, keep="last")[[*keys, "st"]]
    agg = d.groupby(keys, dropna=False).agg(imsg=("im", "max"), ev_sender=("sn", "max"))
    g = last.merge(agg.reset_index(), on=keys, how="left")
    led = sd.rename(columns={"external_id": "l_ext", "message_id": "l_mid", "sender_name": "l_sn"})
    led["l_phone"] = led["phone"]
    has_ext = g["external_id"].notna()
    j1 = g[has_ext].merge(
        led[led["l_ext"].notna()],
        left_on=["external_id", "phone"],
        right_on=["l_ext", "phone"],
        how="left",
    )
    j2 = g[~has_ext].merge(
        led[led["l_mid"].notna()],
        left_on=["message_id", "phone"],
        right_on=["l_mid", "phone"],
        how="left",
    )
    j = pd.concat([j1, j2], ignore_index=True)
    matched = j["l_phone"].notna()
    j["sender_name"] = j["l_sn"].fillna(j["ev_sender"])
    j["route"] = np.select(
        [j["imsg"].astype(bool), ~matched, j["l_sn"].notna()],
        ["imessage", "unknown", "sms_fallback"],
        "sms",
    )
    j["unmatched"] = ~matched
    seen = j.loc[matched, ["l_ext", "l_mid", "l_phone"]].drop_duplicates()
    waiting = led[led["state"] == "sent"].merge(
        seen, on=["l_ext", "l_mid", "l_phone"], how="left", indicator=True
    )
    waiting = waiting[waiting["_merge"] == "left_only"]
    pend = pd.DataFrame(
        {
            "sender_name": waiting["l_sn"],
            "route": np.where(waiting["l_sn"].notna(), "unknown", "sms"),
            "st": None,
            "unmatched": False,
        }
    )
    m = pd.concat([j[["sender_name", "route", "st", "unmatched"]], pend], ignore_index=True)
    m["delivered"] = m["st"] == "delivered"
    m["failed"] = m["st"].isin(FAILED)
    m["pending"] = ~(m["delivered"] | m["failed"])
    rep = (
        m.groupby(["sender_name", "route"], dropna=False)
        .agg(
            messages=("route", "size"),
            delivered=("delivered", "sum"),
            failed=("failed", "sum"),
            pending=("pending", "sum"),
            unmatched=("unmatched", "sum"),
        )
        .reset_index()
    )
    n = (rep["delivered"] + rep["failed"]).astype(float).replace(0.0, np.nan)
    p = rep["delivered"] / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    rep["delivery_rate"], rep["ci_low"], rep["ci_high"] = p, centre - half, centre + half
    totals = rep.groupby("sender_name", dropna=False)["messages"].transform("sum")
    rep["share"] = rep["messages"] / totals
    return rep


# ------------------------------------------------------------------------------ measurements


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(fn: Callable[[], pd.DataFrame]) -> tuple[float, int, pd.DataFrame]:
    """Wall time and peak resident-set growth (sampled every 5 ms) of one call."""
    start_rss = _rss()
    peak = [start_rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t0
    stop.set()
    th.join()
    return elapsed, max(peak[0], _rss()) - start_rss, out


def canonical(df: pd.DataFrame) -> pd.DataFrame:
    out = df.loc[:, ["sender_name", "route", *REPORT_COLUMNS]].copy()
    out["sender_name"] = out["sender_name"].astype("object").where(out["sender_name"].notna(), "")
    for col in ("messages", "delivered", "failed", "pending", "unmatched"):
        out[col] = out[col].astype("int64")
    for col in ("delivery_rate", "ci_low", "ci_high", "share"):
        out[col] = out[col].astype("float64")
    out["sender_name"] = out["sender_name"].astype(str)
    out["route"] = out["route"].astype(str)
    return out.sort_values(["sender_name", "route"]).reset_index(drop=True)


def agree(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(canonical(a), canonical(b), rtol=1e-12, atol=0)
    except AssertionError as exc:
        print(exc)
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    ev_path, sd_path = generate(args.events)
    meta = duckdb.connect()
    n_ev = meta.execute(f"SELECT count(*) FROM read_parquet('{ev_path}')").fetchone()
    n_sd = meta.execute(f"SELECT count(*) FROM read_parquet('{sd_path}')").fetchone()
    meta.close()
    assert n_ev is not None
    assert n_sd is not None
    print(
        f"data: {n_ev[0]:,} events, {n_sd[0]:,} ledger rows "
        f"({(time.perf_counter() - t0):.1f} s to generate or find; {ev_path.parent})"
    )

    runs: dict[str, list[tuple[float, int]]] = {"reference": [], "ibis": [], "naive": []}
    results: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, fn in (
            ("reference", lambda: reference_sql(ev_path, sd_path)),
            ("ibis", lambda: delivery_report(ev_path, sd_path)),
        ):
            secs, mem, out = measure(fn)
            runs[name].append((secs, mem))
            results[name] = out
    if not args.skip_naive:
        secs, mem, out = measure(lambda: naive_pandas(ev_path, sd_path))
        runs["naive"].append((secs, mem))
        results["naive"] = out

    best = {k: min(s for s, _ in v) for k, v in runs.items() if v}
    peak = {k: max(m for _, m in v) for k, v in runs.items() if v}
    for name in ("ibis", "reference", "naive"):
        if name in best:
            times = ", ".join(f"{s:.2f}" for s, _ in runs[name])
            print(
                f"{name:>9}: best {best[name]:.2f} s of [{times}]  "
                f"peak memory +{peak[name] / 2**20:,.0f} MiB"
            )
    ratio_ref = best["ibis"] / best["reference"]
    print(f"delivery_report / DuckDB reference = {ratio_ref:.2f}x (target <= 1.25x)")
    if "naive" in best:
        speedup = best["naive"] / best["ibis"]
        print(f"naive pandas / delivery_report = {speedup:.1f}x faster (target >= 5x)")
    ok = agree(results["ibis"], results["reference"])
    if "naive" in results:
        ok = ok and agree(results["ibis"], results["naive"])
    rows = len(results["ibis"])
    print(f"tables agree: {ok} ({rows} rows; {int(results['ibis']['messages'].sum()):,} messages)")
    if not math.isfinite(ratio_ref):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
