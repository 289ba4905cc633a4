"""The local MTA v3 emulator: send, subscribers, deliveries, signed webhooks, rate limits,
iMessage opt-in routing with SMS fallback, fault injection and a ground-truth ledger.

>>> from mta_notebook import sandbox
>>> with sandbox.running(seed=0, time_scale=1000) as sb:  # doctest: +SKIP
...     print(sb.base_url)
http://127.0.0.1:PORT/v3
"""

from __future__ import annotations

from .app import SandboxApp, create_app
from .dispatch import sign
from .server import Sandbox, running, serve_cli
from .state import SandboxConfig

__all__ = ["Sandbox", "SandboxApp", "SandboxConfig", "create_app", "running", "serve_cli", "sign"]
