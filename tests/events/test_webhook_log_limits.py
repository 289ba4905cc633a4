"""Issue 14 item 3 (the log reader): bounded work and memory on hostile files.

A rejected line keeps at most 4,096 characters (with its length); a gzip bomb ends fast with
a WebhookLogError naming the file; deep nesting in a line is a rejected line with a reason.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from mta_notebook import ValidationError, WebhookLogError, read_webhook_log
from mta_notebook.events import REJECTED_COLUMNS
from tests.bounded import run_bounded

GOOD = (
    '{"type":"MTAWebhook.DELIVERY_STATUS","messageId":1,'
    '"destinationNumber":"+13125550123","status":4}'
)


def test_rejected_lines_keep_a_few_kib_and_their_length(tmp_path: Path) -> None:
    big = 5 << 20
    lines = [
        b"x" * big,  # not JSON
        b"[" + b"1," * (big // 2) + b"1]",  # JSON, not an object
        b'{"type":"MTAWebhook.DELIVERY_STATUS","pad":"' + b"y" * big + b'"}',  # no phone
        b"\xff" + b"z" * big,  # not UTF-8
        GOOD.encode(),
        "é".encode() * (big // 2),  # two bytes a character
    ]
    path = tmp_path / "hooks.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    log = read_webhook_log(path)
    assert len(log.df) == 1
    assert list(log.rejected.columns) == list(REJECTED_COLUMNS)
    rejected = log.rejected.sort_values(
        "source", key=lambda s: s.str.split(":").str[-1].astype(int)
    )
    assert rejected["reason"].tolist() == [
        "not-json",
        "not-an-event",
        "missing-field",
        "not-utf8",
        "not-json",
    ]
    assert rejected["raw"].str.len().max() <= 4096
    assert rejected["raw_bytes"].tolist() == [len(x) for i, x in enumerate(lines) if i != 4]
    assert rejected["raw"].iloc[0] == "x" * 4096  # the start of the line, to see what it was
    # 25 MB of rejected lines cost kilobytes in the table, not their size again
    assert log.rejected.memory_usage(deep=True).sum() < 200_000


def test_deep_nesting_in_a_line_is_a_rejected_line(tmp_path: Path) -> None:
    deep_list = "[" * 100_000 + "]" * 100_000
    deep_object = '{"a":' * 100_000 + "1" + "}" * 100_000
    record = json.dumps(
        {"received_at": "2026-11-27T05:00:00Z", "event": "x", "raw_body": deep_list}
    )
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([deep_list, deep_object, record, GOOD]) + "\n")
    log = read_webhook_log(path)
    assert len(log.df) == 1
    assert log.rejected["reason"].tolist() == ["not-an-event"] * 3
    assert log.rejected["detail"].str.len().min() > 0


def _bomb(path: Path, fill: bytes = b"\0") -> Path:
    """A gzip expanding to 1 GiB of ``fill`` (1,024 members of 1 MiB each: ~1 MB on disk)."""
    path.write_bytes(gzip.compress(fill * (1 << 20)) * 1024)
    return path


@pytest.mark.parametrize(
    ("name", "fill"),
    [("bomb.jsonl.gz", b"\0"), ("bomb.csv.gz", b"\0"), ("a.jsonl.gz", b"a"), ("a.csv.gz", b"a")],
)
def test_a_gzip_bomb_ends_fast_with_a_webhook_log_error(
    tmp_path: Path, name: str, fill: bytes
) -> None:
    bomb = _bomb(tmp_path / name, fill)
    out = run_bounded("read_webhook_log", bomb)  # a fresh process: the read's own peak
    assert out["error"] is not None, out
    assert out["error"][0] == "WebhookLogError", out
    assert str(bomb) in out["error"][1]
    assert out["seconds"] < 10, out
    assert out["peak_mb"] < 1000, out


def test_max_bytes_caps_what_a_gzip_may_expand_to(tmp_path: Path) -> None:
    path = tmp_path / "hooks.jsonl.gz"
    lines = [GOOD.replace('"messageId":1', f'"messageId":{i}') for i in range(20_000)]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert len(read_webhook_log(path)) == 20_000
    with pytest.raises(WebhookLogError, match=r"hooks\.jsonl\.gz: decompresses to more than"):
        read_webhook_log(path, max_bytes=100_000)
    with pytest.raises(ValidationError, match="max_bytes"):
        read_webhook_log(path, max_bytes=0)
