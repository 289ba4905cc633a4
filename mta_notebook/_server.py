"""Serve an ASGI app with uvicorn on a loopback port in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from ._errors import MTAError

__all__ = ["free_port", "serve_in_thread"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    **options: Any,
) -> Iterator[int]:
    """Run ``app`` until the block ends; yields the port it listens on.

    ``options`` go to ``uvicorn.Config`` (timeouts, limits, the protocol class).

    ``port=0`` binds a free port chosen by the OS, so parallel test runs never collide.
    """
    # IPPROTO_TCP (not 0) makes asyncio set TCP_NODELAY on accepted connections; without it
    # every answer waits ~40 ms on the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise MTAError(f"server on {host}:{bound_port} did not start within {startup_timeout}s")
        time.sleep(0.01)
    try:
        yield bound_port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
