"""Benchmark: read_webhook_log on 5,000,000 receiver-format events.

Contenders (each timed in its own subprocess, so its peak RSS is its own):

* ``read_webhook_log``   - the toolkit (every check, dedupe, phones, rejected accounting);
* ``duckdb-reference``   - a hand-written DuckDB SQL read of the same file into the same columns
                            (read_json + from_json of raw_body; no checks, no dedupe);
* ``pandas-naive``       - ``pandas.read_json(lines=True)`` + ``json.loads`` of each raw_body +
                            ``json_normalize``, timed on a 500,000-line slice and scaled x10.

Run: ``nice .venv/bin/python benchmarks/bench_webhooks.py`` (add ``--events N`` for a smaller run).
Generated data lives in benchmarks/_data/ (gitignored) and is reused. The data is generated in a
subprocess too: a child's peak RSS on Linux starts from its parent's at fork time.

Statuses follow MTA's documented lifecycle (1 QUEUED, 2 SENDING, 3 SENT, then 4 DELIVERED or a
failure code); every delivery has its own phone number, so normalising phones once per distinct
value saves nothing here (a real log has several events per number).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
SECRET = "bench-secret"
NAIVE_LINES = 500_000
DATA_VERSION = 2  # bump when the generated lines change


def generate(path: Path, n: int) -> None:
    """Receiver JSON Lines via DuckDB (signed bodies; about 1 % exact duplicate deliveries)."""
    import duckdb

    key = SECRET.encode().ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    tmp = path.with_suffix(".tmp")
    con.execute(
        f"""
        COPY (
          WITH base AS (
            SELECT i, CASE WHEN i % 100 = 99 THEN i - 1 ELSE i END AS j FROM range({n}) t(i)
          ), f AS (
            SELECT i, j,
              j % 20 AS k,
              100001 + j // 40 AS mid,
              '+1312' || (200 + j % 800)::VARCHAR || lpad(((j // 800) % 10000)::VARCHAR, 4, '0')
                AS phone,
              CASE WHEN j % 3 = 0 THEN NULL ELSE 'Acme' END AS sender,
              TIMESTAMPTZ '2026-11-26 00:00:00+00' + to_milliseconds(j * 17) AS ts0
            FROM base
          ), b AS (
            SELECT i, ts0,
              CASE WHEN k < 6 THEN 'message-send' WHEN k < 18 THEN 'delivery-status'
                   WHEN k < 19 THEN 'message-reply' ELSE 'number-opt-in' END AS event,
              '{{' ||
              CASE
                WHEN k < 6 THEN '"type":"MTAWebhook.MESSAGE_SEND","messageId":' || mid ||
                  ',"externalId":"camp-' || lpad((mid % 1000)::VARCHAR, 5, '0') ||
                  '","destinationNumber":"' || phone || '"' ||
                  coalesce(',"senderName":"' || sender || '"', '')
                WHEN k < 18 THEN '"type":"MTAWebhook.DELIVERY_STATUS","messageId":' || mid ||
                  ',"externalId":"camp-' || lpad((mid % 1000)::VARCHAR, 5, '0') ||
                  '","destinationNumber":"' || phone || '","status":' ||
                  (CASE WHEN k < 12 THEN 1 + (k - 6) // 2 ELSE [4, 4, 4, 6, 9, 8][(j % 6) + 1]
                   END)::VARCHAR ||
                  coalesce(',"senderName":"' || sender || '"', '')
                WHEN k < 19 THEN '"type":"MTAWebhook.MESSAGE_REPLY","replyId":' || j ||
                  ',"fromNumber":"' || phone || '","toNumber":"+13125550101","message":"' ||
                  CASE WHEN j % 7 = 0 THEN 'STOP' ELSE 'Thanks, see you there' END ||
                  '","messageId":' || mid || ',"externalId":"camp-' ||
                  lpad((mid % 1000)::VARCHAR, 5, '0') || '"' ||
                  coalesce(',"senderName":"' || sender || '"', '')
                ELSE '"type":"MTAWebhook.NUMBER_OPT_IN","number":"' || phone ||
                  '","senderName":"Acme","optInType":"inbound-message"'
              END ||
              ',"tags":{{"campaign":"black-friday","segment":"s' || (j % 7) || '"}},' ||
              '"timestamp":"' || strftime(ts0, '%Y-%m-%dT%H:%M:%S.%g') || 'Z"}}' AS body
            FROM f
          )
          SELECT strftime(ts0 + INTERVAL 2 SECOND, '%Y-%m-%dT%H:%M:%S.%fZ') AS received_at,
                 event,
                 {{'X-Signature': sha256($opad || unhex(sha256($ipad || encode(body))))}}
                   AS headers,
                 body AS raw_body
          FROM b ORDER BY i
        ) TO '{tmp}' (FORMAT json)
        """,
        {"ipad": ipad, "opad": opad},
    )
    tmp.rename(path)


def reference_sql() -> str:
    """A direct DuckDB read into the Events columns: no checks, no dedupe, no phone parsing."""
    from mta_notebook.contract.statuses import FINAL_OUTCOMES, STATUS_BY_CODE

    def case(pairs: list[tuple[str, str]]) -> str:
        return " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in pairs)

    key = case([(str(c), s.key) for c, s in STATUS_BY_CODE.items()])
    outcome = case([(str(c), s.outcome) for c, s in STATUS_BY_CODE.items()])
    final = ", ".join(f"'{o}'" for o in sorted(FINAL_OUTCOMES))
    return f"""
WITH r AS (
  SELECT row_number() OVER () AS line, received_at, event, raw_body,
    from_json(raw_body, '{{"type":"VARCHAR","messageId":"BIGINT","externalId":"VARCHAR",
      "destinationNumber":"VARCHAR","fromNumber":"VARCHAR","number":"VARCHAR",
      "status":"VARCHAR","senderName":"VARCHAR","message":"VARCHAR","tags":"JSON",
      "timestamp":"VARCHAR"}}') AS b
  FROM read_json(?, format = 'newline_delimited',
                 columns = {{received_at: 'VARCHAR', event: 'VARCHAR', headers: 'JSON',
                            raw_body: 'VARCHAR'}})
), s AS (
  SELECT *, CASE WHEN b.status IS NULL THEN CASE WHEN event = 'message-send' THEN 'pending' END
                 ELSE CASE b.status {outcome} ELSE 'unknown' END END AS outcome
  FROM r
)
SELECT
  event,
  coalesce(try_cast(b.timestamp AS TIMESTAMPTZ), try_cast(received_at AS TIMESTAMPTZ))
    AS occurred_at,
  try_cast(received_at AS TIMESTAMPTZ) AS received_at,
  b.timestamp IS NOT NULL AS dated,
  b.messageId AS message_id,
  b.externalId AS external_id,
  coalesce(b.destinationNumber, b.fromNumber, b.number) AS phone,
  b.senderName AS sender_name,
  b.status AS status_code,
  CASE b.status {key} ELSE b.status END AS status,
  outcome,
  CASE WHEN b.senderName IS NOT NULL THEN 'imessage'
       WHEN event = 'number-opt-in' THEN 'unknown' ELSE 'sms' END AS route,
  coalesce(outcome IN ({final}), false) AS is_final,
  b.message AS text,
  b.tags::VARCHAR AS tags,
  ? || ':' || line AS source,
  raw_body AS raw
FROM s
"""


def run_contender(name: str, path: Path) -> dict[str, float]:
    """Time one contender in this process; returns seconds, rows and peak RSS (MiB)."""
    if name == "read_webhook_log":
        from mta_notebook import read_webhook_log

        t0 = time.perf_counter()
        log = read_webhook_log(path)
        seconds = time.perf_counter() - t0
        rows, extra = len(log.df), len(log.rejected)
    elif name == "read_webhook_log+secret":
        from mta_notebook import read_webhook_log

        t0 = time.perf_counter()
        log = read_webhook_log(path, secret=SECRET)
        seconds = time.perf_counter() - t0
        rows, extra = len(log.df), len(log.rejected)
    elif name == "duckdb-reference":
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        t0 = time.perf_counter()
        df = con.sql(reference_sql(), params=[str(path), str(path)]).to_arrow_table().to_pandas()
        seconds = time.perf_counter() - t0
        rows, extra = len(df), 0
    elif name == "pandas-naive":
        import pandas as pd

        t0 = time.perf_counter()
        df = pd.read_json(path, lines=True, dtype=False)
        bodies = pd.json_normalize([json.loads(b) for b in df["raw_body"]])
        df = pd.concat([df.drop(columns=["raw_body"]), bodies], axis=1)
        seconds = time.perf_counter() - t0
        rows, extra = len(df), 0
    else:
        raise SystemExit(f"unknown contender {name}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "rejected": extra, "peak_mib": peak}


def in_subprocess(name: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--contender", name, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--contender")
    parser.add_argument("--file")
    parser.add_argument("--generate", action="store_true")
    args = parser.parse_args()
    if args.contender:
        print(json.dumps(run_contender(args.contender, Path(args.file))))
        return
    if args.generate:
        generate(Path(args.file), args.events)
        return

    DATA.mkdir(exist_ok=True)
    path = DATA / f"webhooks_{args.events}_v{DATA_VERSION}.jsonl"
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--generate", "--events", str(args.events), "--file", path],
            check=True,
        )
        print(f"generated {path.name} in {time.perf_counter() - t0:.1f}s")
    size = path.stat().st_size
    slice_lines = min(NAIVE_LINES, args.events)
    slice_path = DATA / f"webhooks_{args.events}_v{DATA_VERSION}_head{slice_lines}.jsonl"
    if not slice_path.exists():
        with path.open("rb") as src, slice_path.open("wb") as dst:
            for _, line in zip(range(slice_lines), src, strict=False):
                dst.write(line)
    print(f"input: {args.events:,} events, {size / 2**30:.2f} GiB ({path})")
    # Same footing for every contender: the files are in the page cache before the first one
    # runs (otherwise whoever goes first also pays the disk reads).
    for p in (path, slice_path):
        with p.open("rb") as f:
            while f.read(64 << 20):
                pass

    ours = in_subprocess("read_webhook_log", path)
    ref = in_subprocess("duckdb-reference", path)
    naive = in_subprocess("pandas-naive", slice_path)
    scale = args.events / slice_lines
    naive_s = naive["seconds"] * scale
    secret_slice = in_subprocess("read_webhook_log+secret", slice_path)
    plain_slice = in_subprocess("read_webhook_log", slice_path)

    def line(label: str, r: dict[str, float], seconds: float, note: str = "") -> None:
        rate = args.events / seconds
        print(
            f"{label:<22} {seconds:8.2f} s  {rate:>12,.0f} events/s  "
            f"peak RSS {r['peak_mib']:>7,.0f} MiB{note}"
        )

    line(
        "read_webhook_log",
        ours,
        ours["seconds"],
        f"  ({ours['rows']:,.0f} events, {ours['rejected']:,.0f} rejected)",
    )
    line("duckdb reference", ref, ref["seconds"], f"  ({ref['rows']:,.0f} rows)")
    line("pandas naive", naive, naive_s, f"  (measured on {slice_lines:,} lines x{scale:g})")
    print(
        f"ratio read_webhook_log / duckdb reference: {ours['seconds'] / ref['seconds']:.2f}x "
        "(target <= 1.5x)"
    )
    print(f"speed-up over pandas naive: {naive_s / ours['seconds']:.1f}x (target >= 10x)")
    print(f"peak memory read_webhook_log: {ours['peak_mib'] / 1024:.2f} GiB (target < 3 GiB)")
    print(
        f"secret= re-verification on {slice_lines:,} lines: {secret_slice['seconds']:.2f} s vs "
        f"{plain_slice['seconds']:.2f} s without"
    )


if __name__ == "__main__":
    main()
