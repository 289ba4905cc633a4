"""Issue 14 item 4: the receiver under hostile input, over real loopback HTTP.

Signed bodies it cannot use (nested 100,000 deep, JSON that is not an object) are rejects
answered 400, never 500; the unsigned ``?event=`` never relabels a signed body; stalled
connections that send half a header are closed while real posts keep getting 200.
"""

from __future__ import annotations

import asyncio
import json
import selectors
import socket
import time
from pathlib import Path

import httpx
import pytest

from mta_notebook import read_webhook_log, running_receiver
from mta_notebook.events import ReceiverLimits, sign
from mta_notebook.events._guard import DEFAULT_HEADER_TIMEOUT
from tests.events.test_receiver import SECRET, _body, _headers, _lines, _post_all

DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def test_unreadable_or_non_object_bodies_are_rejects_answered_400(tmp_path: Path) -> None:
    bodies = [DEEP_LIST, DEEP_OBJECT, b"[1,2]", b"123", b"null", b'"text"']
    with running_receiver(secret=SECRET, out_dir=tmp_path) as rx, httpx.Client() as http:
        codes = [
            http.post(rx.url + "?event=delivery-status", content=b, headers=_headers(b))
            for b in bodies
        ]
        good = http.post(rx.url, content=_body(1), headers=_headers(_body(1)))
    assert [c.status_code for c in codes] == [400] * len(bodies)
    assert "nested too deep" in codes[0].json()["error"]
    assert good.status_code == 200  # the server is fine after them
    assert [r["raw_body"].encode() for r in _lines(tmp_path)] == [_body(1)]
    rejects = _lines(tmp_path, "rejects")
    assert [r["raw_body"].encode() for r in rejects] == bodies  # every one kept, exactly
    assert [r["reason"] for r in rejects] == ["not-json"] * 2 + ["not-an-event"] * 4
    assert all(r["detail"] and r["headers"]["X-Signature"] for r in rejects)
    # the log reader reads the rejects file into its rejected table, without a crash
    log = read_webhook_log(sorted(tmp_path.glob("rejects-*.jsonl")), secret=SECRET)
    assert log.df.empty
    assert log.rejected["reason"].tolist() == [r["reason"] for r in rejects]
    assert log.rejected["detail"].str.startswith("the receiver kept it as a reject").all()


def test_the_query_hint_never_relabels_a_signed_body(tmp_path: Path) -> None:
    # a captured V1 delivery-status (documented without a date; seen with and without type)
    v1 = b'{"messageId":7,"destinationNumber":"+13125550123","status":4}'
    typed = _body(2)
    bare = b'{"messageId":3,"number":"+13125550123"}'  # says nothing of itself
    with running_receiver(secret=SECRET, out_dir=tmp_path) as rx, httpx.Client() as http:
        for body in (v1, typed, bare):
            answer = http.post(
                rx.url + "?event=number-opt-in", content=body, headers=_headers(body)
            )
            assert answer.status_code == 200
    assert [r["event"] for r in _lines(tmp_path)] == [
        "delivery-status",
        "delivery-status",
        "number-opt-in",  # the hint only where the body has no type and no telling fields
    ]
    log = read_webhook_log(tmp_path, secret=SECRET)
    assert log.df["event"].tolist() == ["delivery-status", "delivery-status", "number-opt-in"]


def _wait_closed(socks: list[socket.socket], seconds: float) -> int:
    """How many of ``socks`` the server closed (EOF or reset) within ``seconds``."""
    closed = 0
    with selectors.DefaultSelector() as sel:
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        while closed < len(socks) and (left := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(timeout=left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionError:
                    data = b""
                if not data:
                    sel.unregister(sock)
                    closed += 1
    return closed


def test_stalled_connections_are_closed_while_good_posts_get_200(tmp_path: Path) -> None:
    stalled: list[socket.socket] = []
    try:
        with running_receiver(secret=SECRET, out_dir=tmp_path) as rx:  # the defaults
            started = time.monotonic()
            for i in range(1_000):
                sock = socket.create_connection(("127.0.0.1", rx.port), timeout=10)
                stalled.append(sock)
                # half a request head, then nothing (a few send nothing at all)
                if i % 10:
                    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Signat")
            good = [_body(i) for i in range(200)]
            codes = asyncio.run(_post_all(rx.url, good, SECRET, 20))
            assert codes == [200] * 200
            closed = _wait_closed(stalled, DEFAULT_HEADER_TIMEOUT + 8)
            waited = time.monotonic() - started
        assert closed == len(stalled), f"{len(stalled) - closed} stalled sockets still open"
        assert waited < DEFAULT_HEADER_TIMEOUT + 8
    finally:
        for sock in stalled:
            sock.close()
    assert sorted(r["raw_body"].encode() for r in _lines(tmp_path)) == sorted(good)


def _response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line, body) of one HTTP response read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head.split(b"\r\n")[0], body


def test_a_kept_alive_connection_cannot_stall_its_next_head(tmp_path: Path) -> None:
    limits = ReceiverLimits(header_timeout=0.5, idle_timeout=30, body_timeout=0.5)
    body = _body(1)
    head = (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        f"X-Signature: {sign(body, SECRET)}\r\n\r\n"
    ).encode()
    with (
        running_receiver(secret=SECRET, out_dir=tmp_path, limits=limits) as rx,
        socket.create_connection(("127.0.0.1", rx.port), timeout=10) as sock,
        socket.create_connection(("127.0.0.1", rx.port), timeout=10) as slow_body,
    ):
        sock.sendall(head + body)
        assert _response(sock)[0].startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST / HTTP/1.1\r\nHo")  # the next request's head stalls
        slow_body.sendall(head + body[:10])  # a head, then a body that stalls
        assert _wait_closed([sock], 5) == 1
        status, answer = _response(slow_body)
    assert status.startswith(b"HTTP/1.1 408")
    assert json.loads(answer)["error"].startswith("the body took")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="header_timeout"):
        ReceiverLimits(header_timeout=0)
