"""The local MTA v3 emulator: send, subscribers, deliveries, signed webhooks, rate limits,
iMessage opt-in routing with SMS fallback, fault injection and a ground-truth ledger.

>>> from mta_notebook import sandbox
>>> with sandbox.running(seed=0, time_scale=1000) as sb:  # doctest: +SKIP
...     print(sb.base_url)
http://127.0.0.1:PORT/v3

What it decides where MTA's docs are silent (one place each):

- Routing is decided per recipient when ``/send`` is called: an identity (``senderName``, or the
  identity attached to ``longcodeId``) that is enabled, with the iMessage route up
  (``imessage_route_up``), to a phone that is iMessage-capable and opted in to that identity,
  gives iMessage unless the attempt fails (``imessage_attempt_fail_rate``); everyone else gets
  SMS. All events of a recipient carry one route; ``senderName`` appears only on iMessage events.
- Draws hash (seed, phone, identity, messageId), never the order requests arrive in.
- Status codes follow ``mta_notebook.models.DELIVERY_STATUS_CODES``; each recipient gets
  ``message-send``, ``delivery-status`` 1 (sent), one final ``delivery-status``, and, when
  delivered, maybe a ``message-reply`` (``reply_rate``; a ``stop_share`` of them "STOP").
  Event timestamps are the send time plus unscaled offsets (``sent_after_s``,
  ``final_after_s``, ``reply_after_s``, jittered 0.5x-1.5x); the real wait is divided by
  ``time_scale``, and ``settle()`` skips it.
- Non-US recipients fail (``totalFailedInternationalRecipients``) unless ``international``.
- ``webhook_log`` lines are signed with the config's ``webhook_secret``
  (default ``"sandbox-webhook-secret"``); posts to registered webhooks use each one's secret.
- Failed posts (non-200 or no answer) are retried when ``retryOnError`` (``webhook_max_attempts``
  in all, backoff ``webhook_retry_base_s * 2**n / time_scale``) unless ``skipErrors`` or the code
  is in ``skipErrorCodes``; with ``sendAlertEmail`` the alert is recorded at
  ``GET /_sandbox/alerts``.
- Faults: ``error_before``/``error_after``/``drop_after`` hit the path prefixes in ``paths``
  (default ``["/send"]``), the ``after`` ones only when the request succeeded (took effect);
  ``latency_ms`` delays every API answer; ``rate_limit_burst`` answers a spurious 429;
  ``webhook_duplicate`` posts an event twice; ``webhook_reorder`` delays an event past the
  recipient's next one.
"""

from __future__ import annotations

from .app import SandboxApp, create_app
from .server import Sandbox, running, serve_cli
from .state import SandboxConfig

__all__ = ["Sandbox", "SandboxApp", "SandboxConfig", "create_app", "running", "serve_cli"]
