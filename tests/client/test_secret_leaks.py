"""A key pasted with a trailing newline or tab never leaks (issue 14, item 1), end to end.

Keys with ``\\n``, ``\\t`` and spaces around them are sent (stripped) to a sandbox, through
transport errors, and through a transport whose errors quote the Authorization header (as
h11's ``Illegal header value b'Bearer ...'`` did). In none of them may the key appear, raw,
stripped, repr-escaped, JSON-escaped or percent-encoded, in any exception of the chain (str,
repr, traceback), any DEBUG log record of httpx/httpcore/mta_notebook, the journal's files, or
a plan's or result's repr and HTML.
"""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pandas as pd
import pytest

from mta_notebook import Client
from mta_notebook._errors import APIConnectionError, SendOutcomeUnknown
from mta_notebook.campaigns import plan_campaign

CORE = "sk-test_A1b2+C3/d4=E5%f6"  # '+', '/', '=', '%' change when escaped
_FAILED = (APIConnectionError, SendOutcomeUnknown)
KEYS = [CORE + "\n", CORE + "\t", "  \t" + CORE + " \r\n"]


def _forms(key: str) -> set[str]:
    out = set()
    for k in (key, key.strip()):
        out |= {
            k,
            repr(k)[1:-1],
            json.dumps(k)[1:-1],
            repr(k.encode())[2:-1],
            quote(k, safe=""),
            quote_plus(k),
            quote(k),
            quote_plus(k, safe="/"),
        }
    return out


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() + repr(record.args) + repr(record.__dict__)
        if record.exc_info and record.exc_info[1] is not None:
            text += "".join(traceback.format_exception(record.exc_info[1]))
        self.texts.append(text)


@pytest.fixture
def records() -> Iterator[_Records]:
    handler = _Records()
    loggers = [logging.getLogger(n) for n in ("httpx", "httpcore", "mta_notebook", "h11")]
    old = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
    yield handler
    for lg, (level, _) in zip(loggers, old, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def _chain(exc: BaseException) -> str:
    """str, repr and the formatted traceback of every exception in the chain."""
    parts, seen = [], set()
    cur: BaseException | None = exc
    todo = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        parts += [str(cur), repr(cur), repr(cur.args)]
        todo += [cur.__cause__, cur.__context__]  # type: ignore[list-item]
    parts.append("".join(traceback.format_exception(exc)))
    return "\n".join(parts)


def _assert_clean(key: str, texts: list[str], blobs: list[bytes], where: str) -> None:
    for form in _forms(key):
        for text in texts:
            assert form not in text, f"{where}: the key ({form!r}) in {text[:300]!r}"
        for blob in blobs:
            assert form.encode() not in blob, f"{where}: the key ({form!r}) in a journal file"


def _journal_bytes(folder: Path) -> list[bytes]:
    # main file, and any -wal / -journal / -shm beside it
    return [p.read_bytes() for p in folder.glob("journal.sqlite*")]


def _plan(folder: Path, cid: str) -> Any:
    df = pd.DataFrame({"phone": [f"+1312555{i:04d}" for i in range(30)], "first_name": "Ann"})
    return plan_campaign(
        df,
        "Hi {{first_name}}",
        sender_name="Acme",
        chunk_size=10,
        campaign_id=cid,
        journal=folder / "journal.sqlite",
    )


def _shows(*objs: Any) -> list[str]:
    out = []
    for obj in objs:
        out.append(repr(obj))
        html = getattr(obj, "_repr_html_", None)
        if html is not None:
            out.append(str(html()))
    return out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quoting_transport(exc_type: type[httpx.TransportError]) -> httpx.MockTransport:
    """A transport whose errors quote the Authorization header, in several spellings."""

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        raise exc_type(
            f"Illegal header value {auth.encode()!r}; sent {quote(auth)}; {json.dumps(auth)}",
            request=request,
        )

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("key", KEYS, ids=["newline", "tab", "spaces-cr-lf"])
def test_a_key_with_whitespace_never_leaks(
    key: str, tmp_path: Path, start_sandbox: Any, records: _Records
) -> None:
    sb = start_sandbox(seed=1, time_scale=100, api_key=CORE)
    texts: list[str] = []

    # 1. the happy path: the stripped key works, the campaign is sent
    ok = tmp_path / "ok"
    plan = _plan(ok, "ok1")
    with Client(api_key=key, base_url=sb.base_url) as client:
        result = plan.send(client, confirm=True, progress=False)
        texts += _shows(client)
    assert result.counts == {"sent": 30}
    texts += _shows(plan, result, result.sends, result.chunks)

    # 2. transport errors: a closed port (nothing sent), a dropped answer (outcome unknown)
    down = tmp_path / "down"
    plan = _plan(down, "down1")
    url = f"http://127.0.0.1:{_closed_port()}/v3"
    with (
        Client(api_key=key, base_url=url, max_retries=1) as client,
        pytest.raises(APIConnectionError) as e,
    ):
        plan.send(client, confirm=True, progress=False)
    texts.append(_chain(e.value))
    texts += _shows(plan, plan.journal.chunks("down1"))
    sb.set_faults(drop_after=1.0)
    dropped = tmp_path / "dropped"
    plan = _plan(dropped, "drop1")
    with Client(api_key=key, base_url=sb.base_url, max_retries=1) as client:
        result = plan.send(client, confirm=True, progress=False, clock_margin_s=0.01)
    sb.set_faults(drop_after=0.0)
    moves = plan.journal.moves("drop1")
    assert (moves["to_state"] == "unknown").any()  # settled later from /deliveries
    texts += [*_shows(result, result.sends, result.chunks), result.note, moves.to_csv()]

    # 3. a transport whose errors quote the header (the h11 'Illegal header value' case)
    for exc_type in (httpx.LocalProtocolError, httpx.ConnectError, httpx.ReadError):
        folder = tmp_path / exc_type.__name__
        plan = _plan(folder, f"q-{exc_type.__name__}")
        transport = _quoting_transport(exc_type)
        with Client(api_key=key, base_url=sb.base_url, transport=transport, max_retries=1) as c:
            try:
                result = plan.send(c, confirm=True, progress=False)
                texts += [*_shows(result, result.sends, result.chunks), result.note]
            except Exception as exc:
                texts.append(_chain(exc))
            with pytest.raises(_FAILED) as e:  # the client's own call, outside a campaign
                c.send(subscribers=["+13125550000"], message="x", external_id="one-off")
            texts.append(_chain(e.value))
        moves = plan.journal.moves(plan.campaign_id)
        texts += [moves.to_csv(), plan.journal.chunks(plan.campaign_id).to_csv()]

    texts += records.texts
    assert records.texts, "DEBUG logging was captured"
    blobs = [b for f in (ok, down, dropped, *tmp_path.glob("*Error")) for b in _journal_bytes(f)]
    _assert_clean(key, texts, blobs, "end to end")
