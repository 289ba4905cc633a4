"""Regenerate data/webhooks_sample.jsonl and data/sends_sample.csv from a sandbox run.

Run: ``.venv/bin/python tests/events/make_webhooks_sample.py`` (about 30 s). Three campaigns go
through the embedded sandbox (seed 7): "fall-sale" with the identity Acme, "weekly-deals" with
Acme Deals, and "store-hours" from the plain longcode (no identity); six subscribers opt in to
an identity first. The sandbox writes every webhook it dispatches in the receiver's format (V3
bodies, MTA's documented status codes: 1 QUEUED, 2 SENDING, 3 SENT, then 4 DELIVERED or a
failure code); this script then moves the times onto a fixed calendar (20-22 November 2026, one
campaign a day) and re-signs each body, so the output is the same on every run and the dates
make sense in a date filter. The ids, routes, statuses and replies are the sandbox's own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from mta_notebook.contract.events import DATE_FIELDS, MTA_TYPES
from mta_notebook.contract.statuses import STATUS_BY_NAME

# The sandbox's default webhook secret (SandboxConfig.webhook_secret): a public test value.
SECRET = "sandbox-webhook-secret"
BASE = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
_TYPE_OF = {event: mta_type for mta_type, event in MTA_TYPES.items()}
#: The lifecycle codes before a final one (QUEUED, SENDING, SENT), in order.
_LIFECYCLE = [STATUS_BY_NAME[k].code for k in ("queued", "sending", "sent")]
CAMPAIGNS: list[dict[str, Any]] = [
    {
        "campaign_id": "fall-sale",
        "rows": slice(0, 120),
        "message": "Hi {{first_name}}, our fall sale starts today: 20% off in store and online.",
        "sender_name": "Acme",
        "longcode_id": 101,
        "day": 0,
    },
    {
        "campaign_id": "weekly-deals",
        "rows": slice(120, 200),
        "message": "{{first_name}}, this week's deals are live. Reply STOP to opt out.",
        "sender_name": "Acme Deals",
        "longcode_id": 102,
        "day": 1,
    },
    {
        "campaign_id": "store-hours",
        "rows": slice(200, 240),
        "message": "Our stores close at 6pm on Thanksgiving. See you Friday!",
        "sender_name": None,
        "longcode_id": 100,
        "day": 2,
    },
]
FIRST_NAMES = ["Ann", "Bob", "Zoë", "Li", "Maria", "José", "Sam", "Priya"]
AREAS = [312, 415, 646, 213, 512, 206]


def recipients() -> pd.DataFrame:
    n = 240
    return pd.DataFrame(
        {
            "phone": [f"+1{AREAS[i % len(AREAS)]}555{1000 + i:04d}" for i in range(n)],
            "first_name": [FIRST_NAMES[i % len(FIRST_NAMES)] for i in range(n)],
        }
    )


def _jitter(*parts: object, spread: float) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 * spread


def _iso(ts: datetime) -> str:
    return (
        ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{ts.microsecond // 1000:03d}Z"
    )


def run_sandbox(tmp: Path) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    from mta_notebook import Client, sandbox
    from mta_notebook.campaigns import Journal, plan_campaign

    log = tmp / "sandbox_log.jsonl"
    subs = recipients()
    with (
        sandbox.running(
            seed=7, time_scale=50, webhook_log=log, faults={"webhook_duplicate": 0.03}
        ) as sb,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
    ):
        # a few subscribers text the identities' keyword first: opted in, they get iMessage
        for i in (3, 11, 29, 47, 130, 151):
            sb.opt_in(subs["phone"].iloc[i], "Acme" if i < 120 else "Acme Deals")
        for c in CAMPAIGNS:
            plan = plan_campaign(
                subs.iloc[c["rows"]],
                c["message"],
                sender_name=c["sender_name"],
                longcode_id=c["longcode_id"],
                chunk_size=40,
                campaign_id=c["campaign_id"],
                journal=tmp / "journal.sqlite",
                send_window=False,  # deliver now, whatever the hour (no quiet hours)
            )
            # one chunk at a time: the sandbox's draws depend on the message ids, so the order
            # of the /send calls must not depend on thread timing
            plan.send(client, confirm=True, progress=False, max_in_flight=1)
        sb.settle(timeout=120)
    journal = Journal(tmp / "journal.sqlite")
    try:
        sends = journal.sends()
    finally:
        journal.close()
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
    return lines, sends


def normalise(lines: list[dict[str, Any]], sends: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """Fixed calendar times for the ledger and the events; bodies re-signed."""
    day = {c["campaign_id"]: c["day"] for c in CAMPAIGNS}
    sends = sends.copy()
    sends["sent_at"] = [
        BASE + timedelta(days=day[cid], seconds=20 * int(chunk))
        for cid, chunk in zip(sends["campaign_id"], sends["chunk"], strict=True)
    ]
    sent_at = {
        (int(mid), str(phone)): ts
        for mid, phone, ts in zip(
            sends["message_id"], sends["phone"], sends["sent_at"], strict=True
        )
        if pd.notna(mid)
    }
    timed: list[tuple[datetime, dict[str, Any], dict[str, Any], tuple[Any, ...]]] = []
    for line in lines:
        body = json.loads(line["raw_body"])
        mid = body.get("messageId")
        phone = body.get("destinationNumber") or body.get("fromNumber") or body.get("number")
        start = sent_at.get((int(mid), str(phone))) if mid is not None else None
        kind = body.get("type", "")
        ident = (kind, mid, phone, body.get("status"), body.get("message"))
        if start is None:  # opt-ins and anything outside the ledger: the evening before
            start = BASE - timedelta(hours=2)
            offset = _jitter(*ident, spread=3600.0)
        elif kind == _TYPE_OF["message-send"]:
            offset = 1.0 + _jitter(*ident, spread=1.0)
        elif kind == _TYPE_OF["delivery-status"] and body.get("status") in _LIFECYCLE:
            step = _LIFECYCLE.index(body["status"])
            offset = 2.0 + step + _jitter(*ident, spread=1.0)
        elif kind == _TYPE_OF["delivery-status"]:
            offset = 6.0 + _jitter(*ident, spread=90.0)
        else:  # replies
            offset = 120.0 + _jitter(*ident, spread=3 * 3600.0)
        occurred = start + timedelta(seconds=round(offset, 3))
        timed.append((occurred, line, body, ident))
    # reply ids follow the order the sandbox's threads happened to run: number them by time
    first_seen: dict[Any, tuple[datetime, str]] = {}
    for occurred, _, body, _ in timed:
        if "replyId" in body:
            key = (occurred, str(body.get("fromNumber")))
            first_seen[body["replyId"]] = min(first_seen.get(body["replyId"], key), key)
    reply_ids = {old: n for n, old in enumerate(sorted(first_seen, key=first_seen.get), 1)}
    out: list[tuple[datetime, int, str]] = []
    for n, (occurred, line, body, ident) in enumerate(timed):
        if "replyId" in body:
            body["replyId"] = reply_ids[body["replyId"]]
        for name in DATE_FIELDS:
            if name in body:
                body[name] = _iso(occurred)
        raw = json.dumps(body, separators=(",", ":"))
        received = occurred + timedelta(milliseconds=200 + int(_jitter(*ident, spread=300.0)))
        record = {
            "received_at": _iso(received),
            "event": line["event"],
            "headers": {
                "X-Signature": hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest(),
                "Content-Type": "application/json",
            },
            "raw_body": raw,
        }
        out.append((received, n, json.dumps(record, separators=(",", ":"))))
    # a stable order that does not depend on the run's thread timing
    out.sort(key=lambda item: (item[0], item[2]))
    sends["sent_at"] = pd.to_datetime(sends["sent_at"], utc=True)
    sends = sends.sort_values(["campaign_id", "chunk", "phone"], kind="stable")
    return [text for _, _, text in out], sends.reset_index(drop=True)


def main(out_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lines, sends = run_sandbox(Path(tmp))
    records, ledger = normalise(lines, sends)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "webhooks_sample.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    ledger.to_csv(out_dir / "sends_sample.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    print(f"wrote {len(records)} webhook lines and {len(ledger)} ledger rows to {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "data")
