"""The local MTA v3 emulator: MTA's documented contract (``mta_notebook.contract``) and nothing
more, plus admin routes under ``/_sandbox`` to set the scene and read the ground truth.

>>> from mta_notebook import sandbox
>>> with sandbox.running(seed=0, time_scale=1000) as sb:  # doctest: +SKIP
...     print(sb.base_url)
http://127.0.0.1:PORT/v3

It imports nothing of the package but ``contract`` (and the generic thread runner): phones
(``contract.phones``), rate limits (``contract.limits.RATE_LIMITS``; ``/_sandbox`` is never
limited), content limits, status codes, event types, ``X-Signature`` and STOP words all come
from there.

What it emits, per recipient of a ``/send``:

- ``delivery-status`` 1 QUEUED when the call is accepted (a scheduled send: at its
  ``scheduledDate``); ``message-send`` and 2 SENDING when the message is handed over (half of
  ``sent_after_s``); 3 SENT at ``sent_after_s``; one final status at ``final_after_s``: 4
  DELIVERED, a failure (5-6, 8-13) or 7 DELIVERY_UNCONFIRMED, drawn from ``outcomes`` (route ->
  {documented lower-snake key of a final status: p}, e.g. ``{"sms": {"delivered": 0.9,
  "delivery_failed": 0.1}}``; the defaults draw 4, 6, 7, 8, 9, 13). The number decides first:
  10 INVALID_NUMBER for a number-shaped recipient ``contract.phones`` rejects (it does not
  become a subscriber), 12 LANDLINE for ``landlines`` (config, or ``POST /_sandbox/landlines``),
  11 STOPPED_NUMBER once the subscriber has replied a STOP word. After 4, maybe a
  ``message-reply`` (``reply_rate``; a ``stop_share`` of them "STOP"). Times are the send time
  plus those unscaled offsets, jittered 0.5x-1.5x; the real wait is divided by ``time_scale``
  and ``settle()`` skips it. The ground truth (``/_sandbox/ground-truth``) gives each
  recipient's latest status by documented key and code; ``/deliveries`` lists it under
  ``contract.assumptions.DELIVERIES_NAME_FOR_CODE``.
- ``senderName`` only on the events of iMessage recipients (``message-send``,
  ``delivery-status``, ``message-reply``) and on ``number-opt-in``, whose ``optInType`` is the
  opt-in method (``inbound-message``, ``deeplink``; ``POST /_sandbox/opt-in``).
- Bodies in ``payload_version`` (default ``contract.events.DEFAULT_PAYLOAD_VERSION``, V3; one
  registration can be set apart with ``POST /_sandbox/payload-version``): V1 bodies have no
  date field; V2 and V3 (the same fields: their tables could not be read) carry the time in
  ``contract.events.DATE_FIELDS[0]``, as ``webhook_date_format`` says.
- Posts are signed with each webhook's secret; ``webhook_log`` lines (the receiver's JSONL
  format) with ``webhook_secret``. Failed posts are retried when ``retryOnError``
  (``webhook_max_attempts`` in all, backoff ``webhook_retry_base_s * 2**n / time_scale``)
  unless ``skipErrors`` or ``skipErrorCodes``; ``sendAlertEmail`` alerts go to
  ``GET /_sandbox/alerts``.

Which side of each assumption (``contract.assumptions``) it plays, by config key:

- ``sms_over_160`` (default ``contract.assumptions.SMS_OVER_160``): ``"reject"`` answers a
  non-MMS ``/send`` whose message, or any recipient's filled-in text, is over
  ``SMS_MAX_CHARS`` with 400 "Character Limit Exceeded"; ``"segments"`` sends it, billed per
  segment (``contract.segments``) in ``GET /_sandbox/usage``. MMS and segmented SMS take up to
  ``MMS_MAX_CHARS``.
- ``imessage_credits`` (default ``contract.assumptions.IMESSAGE_CREDITS``, ``"as-sms"``): an
  iMessage is billed in ``GET /_sandbox/usage`` as the SMS (or MMS) it replaces; a number
  (e.g. ``1``) bills every iMessage that flat (MTA does not document iMessage billing).
- ``webhook_date_format`` (dates of V2/V3): ``"utc"`` ``2026-11-27T05:02:57.123Z`` (default),
  ``"offset"`` ``2026-11-26T23:02:57.123-06:00`` and ``"naive"`` ``2026-11-26 23:02:57``
  (both in ``contract.assumptions.NAIVE_TIMEZONE``), ``"epoch"`` seconds.
- ``payload_version``: V1 plays "no date in the body" (readers fall back to ``received_at``).
- ``international`` (``DOMESTIC_COUNTRY_CODE``): non-US recipients count in
  ``totalFailedInternationalRecipients`` and get no events unless it is true.
- Route evidence: routing is decided per recipient when ``/send`` is called; an identity
  (``senderName``, or the one attached to ``longcodeId``) that is enabled, with the iMessage
  route up (``imessage_route_up``), to a phone that is iMessage-capable and opted in to that
  identity, gives iMessage unless the attempt fails (``imessage_attempt_fail_rate``); everyone
  else gets SMS, whose events carry no ``senderName``. Draws hash (seed, phone, identity,
  messageId), never the order requests arrive in.

Only documented request fields and query parameters take effect; others are ignored, as a real
server would. Faults: ``error_before``/``error_after``/``drop_after`` hit the path prefixes in
``paths`` (default ``["/send"]``), the ``after`` ones only when the request took effect;
``latency_ms`` delays every API answer; ``rate_limit_burst`` answers a spurious 429;
``webhook_duplicate`` posts an event twice; ``webhook_reorder`` delays an event past the
recipient's next one.
"""

from __future__ import annotations

from .app import SandboxApp, create_app
from .server import Sandbox, SandboxError, running, serve_cli
from .state import SandboxConfig

__all__ = [
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxError",
    "create_app",
    "running",
    "serve_cli",
]
