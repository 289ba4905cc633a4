"""Tests for mta_notebook.events._receiver: the signed-webhook receiver over real loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from mta_notebook import read_webhook_log, running_receiver
from mta_notebook._server import free_port
from mta_notebook.events import create_receiver_app, sign

SECRET = "receiver-secret"


def _body(i: int, **extra: Any) -> bytes:
    payload = {
        "type": "MTAWebhook.DELIVERY_STATUS",
        "messageId": 100000 + i,
        "externalId": f"camp-{i:05d}",
        "destinationNumber": f"+1312555{i % 10000:04d}",
        "status": 4,
        "timestamp": "2026-11-27T05:00:00.000Z",
        **extra,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _lines(out: Path, kind: str = "webhooks") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(out.glob(f"{kind}-*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text().splitlines())
    return rows


def _headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": sign(body, secret), "Content-Type": "application/json"}


def test_stores_the_exact_body_and_event(tmp_path: Path) -> None:
    body = (
        b'{"type":"MTAWebhook.MESSAGE_SEND", "messageId":1,\n "destinationNumber":"+13125550123"}'
    )
    untyped = b'{"messageId":2,"number":"+13125550123"}'
    with running_receiver(secret=SECRET, out_dir=tmp_path) as rx, httpx.Client() as http:
        # the signed body's type wins over the unsigned ?event= hint
        hinted = http.post(
            rx.url + "hooks?event=delivery-status", content=body, headers=_headers(body)
        )
        inferred = http.post(rx.url, content=body, headers=_headers(body))
        # without a type, the hint says what the body is
        by_hint = http.post(
            rx.url + "?event=number-opt-in", content=untyped, headers=_headers(untyped)
        )
        assert http.get(rx.url + "healthz").text == "ok"
        assert rx.files() == sorted(tmp_path.glob("webhooks-*.jsonl"))
    assert [hinted.status_code, inferred.status_code, by_hint.status_code] == [200, 200, 200]
    rows = _lines(tmp_path)
    assert [r["event"] for r in rows] == ["message-send", "message-send", "number-opt-in"]
    assert [r["raw_body"].encode() for r in rows] == [body, body, untyped]
    log = read_webhook_log(tmp_path, secret=SECRET)
    assert log.df["event"].tolist() == ["message-send", "number-opt-in"]
    assert log.rejected["reason"].tolist() == ["duplicate"]
    assert rows[0]["headers"] == {"X-Signature": sign(body, SECRET)}
    assert set(rows[0]) == {"received_at", "event", "headers", "raw_body"}
    assert rows[0]["received_at"].endswith("Z")
    day = rows[0]["received_at"][:10]
    assert (tmp_path / f"webhooks-{day}.jsonl").exists()


def test_rejects_bad_signatures_oversize_and_non_json(tmp_path: Path) -> None:
    body = _body(1)
    with (
        running_receiver(secret=SECRET, out_dir=tmp_path, max_body=2000) as rx,
        httpx.Client() as http,
    ):
        forged = http.post(rx.url, content=body, headers=_headers(body, "wrong"))
        missing = http.post(rx.url, content=body)
        tampered = http.post(rx.url, content=body + b" ", headers=_headers(body))
        good = sign(body, SECRET)
        # headers that are not ASCII (or not hex at all): 401, never a 500
        odd = [
            ("é" + good[1:]).encode("utf-8"),
            ("é" + good[1:]).encode("latin-1"),
            b"\xff" * 64,
            good.encode() + b"\x80",
            b"sha256=" + good.encode(),
            b"not-hex",
        ]
        unreadable = [
            http.post(rx.url, content=body, headers={"X-Signature": v}).status_code for v in odd
        ]
        big = b"{" + b" " * 3000 + b"}"
        too_big = http.post(rx.url, content=big, headers=_headers(big))

        def chunks() -> Any:
            yield big[:1000]
            yield big[1000:]

        streamed = http.post(rx.url, content=chunks(), headers=_headers(big))
        text = b"hello, not json"
        not_json = http.post(rx.url, content=text, headers=_headers(text))
        binary = b"\xff\xfe\x00"
        not_utf8 = http.post(
            rx.url + "?event=message-reply", content=binary, headers=_headers(binary)
        )
        get = http.get(rx.url + "hooks")
    assert [forged.status_code, missing.status_code, tampered.status_code] == [401, 401, 401]
    assert unreadable == [401] * len(odd)
    assert [too_big.status_code, streamed.status_code] == [413, 413]
    assert [not_json.status_code, not_utf8.status_code] == [400, 400]
    assert get.status_code == 405
    assert _lines(tmp_path) == []
    rejects = _lines(tmp_path, "rejects")
    assert [r["reason"] for r in rejects] == ["not-json", "not-json"]
    assert rejects[0]["raw_body"] == "hello, not json"
    assert base64.b64decode(rejects[1]["raw_body_base64"]) == binary
    assert rejects[1]["event"] == "message-reply"


def test_app_refuses_an_empty_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        create_receiver_app("", tmp_path)


async def _post_all(
    url: str,
    bodies: list[bytes],
    secret: str,
    concurrency: int,
    on_status: Callable[[bytes, int], None] | None = None,
) -> list[int]:
    """POST every body, ``concurrency`` at a time, over raw HTTP/1.1 keep-alive connections.

    A deliberately small client: httpx's pool costs ~20x more CPU per request, which on a shared
    2-core machine makes the load test measure the client. Status 0 means no answer.
    """
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    codes = [0] * len(bodies)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)

    async def worker() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        try:
            while not queue.empty():
                i = queue.get_nowait()
                body = bodies[i]
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                head = (
                    f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"X-Signature: {sign(body, secret)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                await writer.drain()
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                codes[i] = int(status.split()[1])
                if on_status is not None:
                    on_status(body, codes[i])
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            return  # the server went away: this body and the rest of this worker stay at 0
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return codes


def test_under_load_every_signed_post_is_stored_once(tmp_path: Path) -> None:
    good = [_body(i) for i in range(10_000)]
    bad = [_body(i, status=6) for i in range(1_000)]
    with running_receiver(secret=SECRET, out_dir=tmp_path) as rx:
        codes = asyncio.run(_post_all(rx.url + "?event=delivery-status", good, SECRET, 50))
        bad_codes = asyncio.run(_post_all(rx.url, bad, "attacker", 50))
    assert codes == [200] * 10_000
    assert bad_codes == [401] * 1_000
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("webhooks-*.jsonl"))
    assert raw.count(b"\n") == 10_000
    rows = [json.loads(line) for line in raw.splitlines()]  # no interleaved or torn lines
    assert sorted(r["raw_body"].encode() for r in rows) == sorted(good)
    log = read_webhook_log(tmp_path, secret=SECRET)
    assert len(log.df) == 10_000
    assert log.rejected.empty


def _start_cli(out: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MTA_WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mta_notebook",
            "webhooks",
            "serve",
            "--out",
            str(out),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"receiver exited: {proc.stderr.read() if proc.stderr else ''!r}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("receiver did not start within 60 s")


def test_sigkill_mid_load_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    port = free_port()
    proc = _start_cli(tmp_path, port)
    acked: list[bytes] = []

    def on_status(body: bytes, status: int) -> None:
        if status == 200:
            acked.append(body)
            if len(acked) == 1500:
                os.kill(proc.pid, signal.SIGKILL)

    bodies = [_body(i) for i in range(6_000)]
    try:
        codes = asyncio.run(
            _post_all(
                f"http://127.0.0.1:{port}/?event=delivery-status", bodies, SECRET, 50, on_status
            )
        )
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert codes.count(0) > 0  # the kill really happened mid-load
    assert len(acked) >= 1500
    assert set(codes) <= {0, 200}
    stored = {r["raw_body"].encode() for r in _lines(tmp_path)}
    assert set(acked) <= stored


def test_cli_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MTA_WEBHOOK_SECRET"}
    done = subprocess.run(
        [sys.executable, "-m", "mta_notebook", "webhooks", "serve", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "MTA_WEBHOOK_SECRET" in done.stderr
