"""Pacing of POST /send against the sandbox: 429 answers and achieved / allowed rate.

Run: ``.venv/bin/python benchmarks/bench_pacing.py [--time-scale 50 ...] [--requests 251]``
(default: time scales 50 and 10, one after the other).

The sandbox divides MTA's /send window (25 requests per 15 s) by ``--time-scale``. Each run sends
``--requests`` messages (default 251 = 10 full windows + 1) and a wrapping transport records every
request that actually went out and every 429 answer. The achieved rate is measured from the
first to the last accepted request: with a fixed window anchored at its first request, 10 full
windows take at least 10 x window, so ratio = 1.00 is the ceiling. "steady state" leaves out
the first window, whose requests also open the connections.

The sandbox runs in its own process (as MTA would), started from the ``mta-notebook sandbox``
command. Baseline (same run, same sandbox): pacing off, the client only reacts to 429 with
Retry-After, as most hand-written scripts do.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from mta_notebook import AsyncClient, Client
from mta_notebook._server import free_port

LIMIT, WINDOW = 25, 15.0


@dataclass
class Record:
    sent_at: list[float] = field(default_factory=list)  # request leaves (after pacing)
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def note(self, start: float, status: int) -> None:
        self.sent_at.append(start)
        self.statuses.append(status)
        self.latencies.append(time.perf_counter() - start)


class CountingTransport(httpx.HTTPTransport):
    def __init__(self, record: Record) -> None:
        super().__init__()
        self.record = record

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        response = super().handle_request(request)
        self.record.note(start, response.status_code)
        return response


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, record: Record) -> None:
        super().__init__()
        self.record = record

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        response = await super().handle_async_request(request)
        self.record.note(start, response.status_code)
        return response


def _sync_run(sb: SandboxProcess, n: int, pacing: bool) -> tuple[Record, float]:
    record = Record()
    transport = CountingTransport(record)
    with Client(
        api_key=sb.api_key, base_url=sb.base_url, pacing=pacing, transport=transport, max_retries=50
    ) as client:
        start = time.perf_counter()
        for i in range(n):
            client.send(subscribers=["+13125552000"], message="bench", external_id=f"s{i}")
        return record, time.perf_counter() - start


def _async_run(sb: SandboxProcess, n: int, pacing: bool) -> tuple[Record, float]:
    record = Record()

    async def main() -> float:
        transport = AsyncCountingTransport(record)
        async with AsyncClient(
            api_key=sb.api_key,
            base_url=sb.base_url,
            pacing=pacing,
            transport=transport,
            max_retries=50,
        ) as client:
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    client.send(subscribers=["+13125552000"], message="bench", external_id=f"a{i}")
                    for i in range(n)
                )
            )
            return time.perf_counter() - start

    elapsed = asyncio.run(main())
    return record, elapsed


def _rate(times: list[float]) -> float:
    return (
        (len(times) - 1) / (times[-1] - times[0])
        if len(times) > 1 and times[-1] > times[0]
        else 0.0
    )


def _report(label: str, record: Record, elapsed: float, window: float) -> float:
    ok = [t for t, s in zip(record.sent_at, record.statuses, strict=True) if s < 400]
    rejected = sum(1 for s in record.statuses if s == 429)
    allowed = LIMIT / window
    ratio = _rate(ok) / allowed
    steady = _rate(ok[LIMIT:]) / allowed  # without the first (cold-connection) window
    print(
        f"{label:<27} requests made {len(record.statuses):4d} | 429 answers {rejected:3d} | "
        f"elapsed {elapsed:6.2f} s | achieved {_rate(ok):5.1f}/s / allowed {allowed:5.1f}/s "
        f"= ratio {ratio:.3f} (steady state {steady:.3f}) | "
        f"median latency {statistics.median(record.latencies) * 1000:.1f} ms"
    )
    return ratio


@contextmanager
def sandbox_process(time_scale: float, api_key: str) -> Iterator[SandboxProcess]:
    """The sandbox CLI in its own process (like MTA, the server does not share our CPU/GIL)."""
    port = free_port()
    cmd = [sys.executable, "-m", "mta_notebook", "sandbox", "--port", str(port)]
    cmd += ["--time-scale", str(time_scale), "--api-key", api_key]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"sandbox did not start: {line!r}")
        yield SandboxProcess(f"http://127.0.0.1:{port}", api_key)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@dataclass
class SandboxProcess:
    root_url: str
    api_key: str

    @property
    def base_url(self) -> str:
        return self.root_url + "/v3"

    def reset(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        httpx.post(self.root_url + "/_sandbox/reset", headers=headers).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, action="append")
    parser.add_argument("--requests", type=int, default=10 * LIMIT + 1)
    args = parser.parse_args()
    runs = [
        ("baseline async (no pacing)", _async_run, False),
        ("paced async (gather)", _async_run, True),
        ("baseline sync (no pacing)", _sync_run, False),
        ("paced sync (sequential)", _sync_run, True),
    ]
    for time_scale in args.time_scale or [50.0, 10.0]:
        window = WINDOW / time_scale
        print(
            f"/send limit {LIMIT} per {WINDOW:g} s / time_scale {time_scale:g} = "
            f"{LIMIT} per {window:.3f} s; {args.requests} sends per run"
        )
        with sandbox_process(time_scale, "bench-key") as sb:
            for label, fn, pacing in runs:
                sb.reset()
                record, elapsed = fn(sb, args.requests, pacing)
                _report(label, record, elapsed, window)
    print(
        "note: a sequential client cannot exceed 1/latency requests per second; when "
        "median latency x 25 > window the sync ratio is latency-bound, not pacing-bound."
    )


if __name__ == "__main__":
    main()
