"""The webhook receiver: a starlette app that keeps every signed MTA event on disk.

Each accepted POST becomes one JSON line in ``DIR/webhooks-YYYY-MM-DD.jsonl`` (UTC day)::

    {"received_at": "...Z", "event": "delivery-status", "headers": {"X-Signature": "..."},
     "raw_body": "<the exact body>"}

The answer is 200 only after the line is written, flushed and fsynced, so an acknowledged event
survives a crash. One writer task owns the files and commits whatever is queued in one write and
one fsync (group commit), so concurrent requests never interleave and stay fast. Bad signatures
(a header that is not ASCII hex included) get 401 and nothing is stored; bodies over
``max_body`` get 413; a signed body it cannot use (not UTF-8, not JSON, nested too deep to
parse, or JSON that is not an object) is kept in ``DIR/rejects-YYYY-MM-DD.jsonl`` with a
``reason`` and ``detail`` (the log reader's words) and answered 400, never 500. The ``event``
of a record is what the signed body says: its ``type``, else the fields only one event has
(``SHAPE_RULES``); the unsigned ``?event=`` of the URL only when the body says neither.
The server closes connections that stall their headers, idle too long or stall their body,
and answers 503 past a concurrency limit (:class:`ReceiverLimits`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from ..contract.events import event_name, infer_event
from ..contract.signature import SIGNATURE_HEADER, verify_signature
from ._guard import DEFAULT_BODY_TIMEOUT, ReceiverLimits

if TYPE_CHECKING:  # starlette and uvicorn load only when a receiver is made
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "DEFAULT_MAX_BODY",
    "Receiver",
    "ReceiverLimits",
    "create_receiver_app",
    "running_receiver",
    "serve",
]

DEFAULT_MAX_BODY: Final = 1 << 20  # 1 MiB; MTA bodies are a few hundred bytes


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class _Writer:
    """The single writer: appends queued lines to their daily files with group commit."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.files: dict[str, IO[bytes]] = {}
        self.queue: asyncio.Queue[tuple[str, bytes, asyncio.Future[None]]] | None = None
        self.task: asyncio.Task[None] | None = None

    def _ensure_started(self) -> asyncio.Queue[tuple[str, bytes, asyncio.Future[None]]]:
        if self.queue is None or self.task is None or self.task.done():
            self.queue = asyncio.Queue()
            self.task = asyncio.get_running_loop().create_task(self._run(self.queue))
        return self.queue

    async def append(self, name: str, line: bytes) -> None:
        """Queue ``line`` for file ``name``; returns once it is on disk (flushed and fsynced)."""
        queue = self._ensure_started()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await queue.put((name, line, done))
        await done

    async def _run(self, queue: asyncio.Queue[tuple[str, bytes, asyncio.Future[None]]]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await asyncio.to_thread(self._commit, [(n, line) for n, line, _ in batch])
            except Exception as exc:  # disk full, permissions: every waiter gets a 500
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _commit(self, items: list[tuple[str, bytes]]) -> None:
        by_file: dict[str, list[bytes]] = {}
        for name, line in items:
            by_file.setdefault(name, []).append(line)
        for name, lines in by_file.items():
            handle = self._file(name)
            handle.write(b"".join(lines))
            handle.flush()
            os.fsync(handle.fileno())

    def _file(self, name: str) -> IO[bytes]:
        handle = self.files.get(name)
        if handle is None:
            kind = name.split("-", 1)[0]
            for old in [k for k in self.files if k.split("-", 1)[0] == kind]:
                self.files.pop(old).close()  # the day changed
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / name
            created = not path.exists()
            handle = path.open("ab")
            if created:  # make the new directory entry durable too
                fd = os.open(self.out_dir, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self.files[name] = handle
        return handle

    async def close(self) -> None:
        if self.task is not None:
            while self.queue is not None and not self.queue.empty():
                await asyncio.sleep(0.01)
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        for handle in self.files.values():
            handle.close()
        self.files.clear()


def _parse(raw: bytes) -> tuple[Any, str | None, str]:
    """(the JSON value, None, "") of a body, or (None, reason, detail) when it cannot be read.

    The reasons are the log reader's (``not-json``), so a reject reads the same in both.
    """
    try:
        return json.loads(raw.decode("utf-8")), None, ""
    except UnicodeDecodeError:
        return None, "not-json", "the body is not UTF-8"
    except ValueError:  # JSONDecodeError
        return None, "not-json", "the body is not JSON"
    except RecursionError:  # nested deeper than the parser goes: never a 500
        return None, "not-json", "the body's JSON is nested too deep to read"


def _event_of(payload: dict[str, Any], hint: str | None) -> str | None:
    """The event of a signed body: what the body says (its ``type``, else the fields only one
    event has), and only when it says nothing the ``?event=`` hint. The hint is outside the
    signature: anyone replaying a captured body can change it, so it never relabels one."""
    return infer_event(payload) or event_name(hint)


def create_receiver_app(
    secret: str,
    out_dir: str | os.PathLike[str],
    *,
    max_body: int = DEFAULT_MAX_BODY,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Starlette:
    """The receiver as a starlette app (any path accepts ``POST``; ``GET /healthz`` answers ok).

    Parameters
    ----------
    secret : str
        The webhook secret; requests whose ``X-Signature`` does not match get 401.
    out_dir : path
        Directory for ``webhooks-YYYY-MM-DD.jsonl`` and ``rejects-YYYY-MM-DD.jsonl``.
    max_body : int
        Largest body accepted, in bytes (413 above).
    body_timeout : float
        Seconds a request has to send its body once its headers are in (408 after).

    Examples
    --------
    >>> app = create_receiver_app("s3cret", "/tmp/mta-hooks")
    >>> type(app).__name__
    'Starlette'
    """
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    if not secret:
        raise ValueError("the receiver needs a webhook secret (--secret or MTA_WEBHOOK_SECRET)")
    writer = _Writer(Path(out_dir))

    async def receive(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body:
            return JSONResponse({"error": f"body over {max_body} bytes"}, status_code=413)
        body = bytearray()

        async def read() -> bool:  # False: over max_body
            async for part in request.stream():
                body.extend(part)
                if len(body) > max_body:
                    return False
            return True

        try:  # a stalled body must not hold a connection slot for ever
            fits = await asyncio.wait_for(read(), body_timeout)
        except asyncio.TimeoutError:
            return JSONResponse(
                {"error": f"the body took over {body_timeout:g} s to arrive"}, status_code=408
            )
        if not fits:
            return JSONResponse({"error": f"body over {max_body} bytes"}, status_code=413)
        raw = bytes(body)
        # starlette decodes header bytes as latin-1: a non-ASCII header is simply no match
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not verify_signature(raw, signature, secret):
            return JSONResponse(
                {"error": f"{SIGNATURE_HEADER} does not match the body"}, status_code=401
            )
        moment = _now()
        hint = request.query_params.get("event")
        record: dict[str, Any] = {
            "received_at": _iso(moment),
            "event": hint,
            "headers": {SIGNATURE_HEADER: signature},
        }
        payload, reason, detail = _parse(raw)
        if reason is None and not isinstance(payload, dict):
            reason, detail = "not-an-event", "the body is JSON but not an object"
        if reason is not None:
            try:
                record["raw_body"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                record["raw_body_base64"] = base64.b64encode(raw).decode("ascii")
            record["reason"] = reason
            record["detail"] = detail
            line = json.dumps(record).encode() + b"\n"
            await writer.append(f"rejects-{moment:%Y-%m-%d}.jsonl", line)
            return JSONResponse({"error": f"{detail}; kept as a reject"}, 400)
        record["event"] = _event_of(payload, hint)
        record["raw_body"] = raw.decode("utf-8")
        line = json.dumps(record).encode() + b"\n"
        await writer.append(f"webhooks-{moment:%Y-%m-%d}.jsonl", line)
        return JSONResponse({"ok": True})

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await writer.close()

    return Starlette(
        routes=[
            Route("/healthz", health, methods=["GET"]),
            Route("/{path:path}", receive, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


@dataclass(frozen=True)
class Receiver:
    """A running receiver: where to POST and where the lines go."""

    url: str
    port: int
    out_dir: Path

    def files(self) -> list[Path]:
        """The event log files written so far (not the rejects)."""
        return sorted(self.out_dir.glob("webhooks-*.jsonl"))


@contextlib.contextmanager
def running_receiver(
    *,
    secret: str,
    out_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    max_body: int = DEFAULT_MAX_BODY,
    limits: ReceiverLimits | None = None,
) -> Iterator[Receiver]:
    """Run the receiver on a loopback port until the block ends.

    ``limits`` are the server's timeouts and concurrency limit (:class:`ReceiverLimits`; the
    defaults survive a thousand stalled connections).

    Examples
    --------
    >>> import tempfile
    >>> with running_receiver(secret="s3cret", out_dir=tempfile.mkdtemp()) as rx:
    ...     print(rx.url)
    http://127.0.0.1:.../
    """
    from .._server import serve_in_thread

    limits = limits or ReceiverLimits()
    app = create_receiver_app(secret, out_dir, max_body=max_body, body_timeout=limits.body_timeout)
    with serve_in_thread(app, host=host, port=port, **limits.uvicorn_options()) as bound:
        yield Receiver(url=f"http://{host}:{bound}/", port=bound, out_dir=Path(out_dir))


def serve(
    *,
    secret: str,
    out_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8766,
    max_body: int = DEFAULT_MAX_BODY,
    limits: ReceiverLimits | None = None,
) -> None:
    """Run the receiver in the foreground until interrupted (the CLI's ``webhooks serve``)."""
    import uvicorn

    limits = limits or ReceiverLimits()
    app = create_receiver_app(secret, out_dir, max_body=max_body, body_timeout=limits.body_timeout)
    print(
        f"mta-notebook webhook receiver on http://{host}:{port}/ writing to {out_dir}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        **limits.uvicorn_options(),
    )


def serve_cli(args: Any) -> int:
    """Entry point for ``mta-notebook webhooks serve`` (secret from --secret or the env)."""
    from .._config import Settings
    from .._errors import ConfigError

    try:
        secret = Settings.load(webhook_secret=args.secret).require_webhook_secret()
    except ConfigError as exc:
        print(f"mta-notebook webhooks serve: {exc}", file=sys.stderr)
        return 2
    serve(secret=secret, out_dir=args.out, host=args.host, port=args.port)
    return 0
