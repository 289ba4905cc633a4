"""Run the sandbox: ``running()`` in a background thread, ``serve_cli()`` for the command."""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from .._server import serve_in_thread
from .app import SandboxApp, create_app
from .state import SandboxConfig, SandboxState

__all__ = ["Sandbox", "SandboxError", "running", "serve_cli"]


class SandboxError(RuntimeError):
    """An admin call to the sandbox failed (the answer's status and text are in the message)."""


class Sandbox:
    """A running sandbox: its URLs, key, and helpers that call the admin endpoints.

    The API key is kept but never shown in the repr.
    """

    def __init__(self, app: SandboxApp, root_url: str, api_key: str) -> None:
        self.app = app
        self.root_url = root_url
        self.api_key = api_key
        # plain http on loopback: verify=False only skips loading CA certificates (slow)
        self._http = httpx.Client(
            base_url=root_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=60,
            verify=False,
        )

    def __repr__(self) -> str:
        return f"Sandbox(base_url={self.base_url!r}, api_key='***')"

    def _repr_html_(self) -> str:
        st = self.app.state
        cells = {
            "base_url": self.base_url,
            "api_key": "***",
            "seed": st.seed,
            "time_scale": st.time_scale,
            "subscribers": len(st.subscribers),
            "messages sent (rows)": len(st.rows),
            "webhooks": len(st.webhooks),
            "pending events": self.app.dispatcher.pending(),
            "faults": ", ".join(f"{k}={v}" for k, v in st.faults.items()) or "none",
        }
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in cells.items()
        )
        return f"<table><caption>MTA sandbox</caption>{rows}</table>"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v3``: what a Client takes as base_url."""
        return f"{self.root_url}/v3"

    @property
    def state(self) -> SandboxState:
        """The in-memory state (read it from tests; change it through the admin methods)."""
        return self.app.state

    def close(self) -> None:
        self._http.close()

    def _admin(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        resp = self._http.request(method, f"/_sandbox/{path}", json=body, timeout=timeout)
        if resp.status_code != 200:
            raise SandboxError(
                f"sandbox admin {method} /_sandbox/{path} failed with {resp.status_code}: "
                f"{resp.text[:300]}"
            )
        return resp.json()

    def ground_truth(self) -> list[dict[str, Any]]:
        """One row per recipient per send: message_id, external_id, phone, sender_name, route,
        status (documented key, e.g. ``delivery_failed``; ``scheduled`` before it is queued),
        status_code (1-13, ``None`` before it is queued), text, times_received."""
        rows: list[dict[str, Any]] = self._admin("GET", "ground-truth")["rows"]
        return rows

    def settle(self, timeout: float = 30) -> None:
        """Finish every message's status progress now and wait until all webhooks went out."""
        self._admin("POST", "settle", {"timeout": timeout}, timeout=timeout + 30)

    def set_faults(self, **faults: Any) -> None:
        """Merge faults: error_before, error_after, drop_after, latency_ms, rate_limit_burst,
        webhook_duplicate, webhook_reorder (probabilities; latency in ms), paths."""
        self._admin("POST", "faults", faults)

    def opt_in(self, phone: str, sender_name: str, opt_in_type: str = "inbound-message") -> None:
        """Simulate an opt-in of ``phone`` to ``sender_name`` by ``opt_in_type``
        (``inbound-message`` or ``deeplink``); posts number-opt-in."""
        body = {"phone": phone, "sender_name": sender_name, "opt_in_type": opt_in_type}
        self._admin("POST", "opt-in", body)

    def add_landlines(self, *phones: str) -> None:
        """Mark numbers as landlines: sends to them end in 12 LANDLINE."""
        self._admin("POST", "landlines", {"phones": list(phones)})

    def set_payload_version(self, webhook_id: int, version: str | None) -> None:
        """The payload version (V1/V2/V3) of one registered webhook; None: the config's."""
        self._admin("POST", "payload-version", {"webhookId": webhook_id, "version": version})

    def set_capability(self, phone: str, imessage: bool) -> None:
        """Say whether ``phone`` can receive iMessage."""
        self._admin("POST", "capability", {"phone": phone, "imessage": imessage})

    def set_identities(self, identities: list[dict[str, Any]], *, replace: bool = False) -> None:
        """Add/update identities ({name, longcodeId, number, enabled})."""
        self._admin("POST", "identities", {"identities": identities, "replace": replace})

    def configure(self, **options: Any) -> None:
        """Change config options at run time (opt_in_rate, reply_rate, outcomes, ...)."""
        self._admin("POST", "config", options)

    def reset(self) -> None:
        """Forget all subscribers, messages, webhooks, overrides and faults."""
        self._admin("POST", "reset")


@contextmanager
def running(
    api_key: str = "sandbox-key",
    seed: int = 0,
    time_scale: float = 1.0,
    config: SandboxConfig | dict[str, Any] | str | Path | None = None,
    webhook_log: str | Path | None = None,
    faults: dict[str, Any] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Sandbox]:
    """Run the sandbox on a free loopback port until the block ends.

    Examples
    --------
    >>> from mta_notebook import sandbox
    >>> with sandbox.running(seed=1, time_scale=100) as sb:  # doctest: +SKIP
    ...     sb.base_url
    'http://127.0.0.1:PORT/v3'
    """
    app = create_app(
        api_key=api_key,
        seed=seed,
        time_scale=time_scale,
        config=config,
        webhook_log=webhook_log,
        faults=faults,
    )
    with serve_in_thread(app, host=host, port=port) as bound:
        sb = Sandbox(app, f"http://{host}:{bound}", api_key)
        try:
            yield sb
        finally:
            sb.close()


def serve_cli(args: argparse.Namespace) -> int:
    """``mta-notebook sandbox``: print the base URL and serve until Ctrl-C."""
    try:
        faults = json.loads(args.faults) if args.faults else None
        if faults is not None and not isinstance(faults, dict):
            raise ValueError("--faults must be a JSON object")
        app = create_app(
            api_key=args.api_key,
            seed=args.seed,
            time_scale=args.time_scale,
            config=args.config,
            webhook_log=args.webhook_log,
            faults=faults,
        )
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"mta-notebook sandbox: {exc}", file=sys.stderr)
        return 2
    with serve_in_thread(app, host=args.host, port=args.port) as bound:
        print(f"MTA sandbox listening: http://{args.host}:{bound}/v3", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            print("sandbox stopped", file=sys.stderr)
    return 0
