"""Status progress and webhook delivery, run as one asyncio task in the server's event loop.

A heap holds timed items on a *virtual* monotonic clock (real time, which ``settle()`` may jump
forward): status transitions (which change the ground truth and emit events) and webhook posts.
Posts are signed with each webhook's secret (lowercase hex HMAC-SHA256 of the exact raw body),
retried with backoff when ``retryOnError`` is set, optionally duplicated or delayed (faults), and
appended to the ``webhook_log`` JSON Lines file in the receiver's format.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from ..contract.events import MTA_TYPES, EventName
from ..contract.keywords import is_stop
from ..contract.signature import SIGNATURE_HEADER, sign
from ..contract.statuses import STATUS_BY_NAME
from .payloads import render
from .routing import draw
from .state import MessageRow, SandboxState, Webhook, iso_ms, utcnow

__all__ = ["OPT_IN_TYPES", "Dispatcher"]

_TYPES = {event: mta_type for mta_type, event in MTA_TYPES.items()}
_QUEUED, _SENDING, _SENT = (STATUS_BY_NAME[k].code for k in ("queued", "sending", "sent"))
#: ``optInType`` values: the docs say it is the *method* of the opt-in and list none, so these
#: are plausible names, never a channel.
OPT_IN_TYPES = ("inbound-message", "deeplink")
_CONCURRENCY = 16
_log = logging.getLogger("mta_notebook.sandbox")


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    kind: str = field(compare=False)  # "transition" | "post"
    apply: Callable[[], None] | None = field(compare=False, default=None)
    event: str = field(compare=False, default="")
    body: bytes = field(compare=False, default=b"")
    webhook: Webhook | None = field(compare=False, default=None)  # None: the log channel
    key: str = field(compare=False, default="")
    attempt: int = field(compare=False, default=1)


class Dispatcher:
    """Schedules status progress and delivers webhook events; ``settle()`` finishes everything."""

    def __init__(self, state: SandboxState, webhook_log: str | Path | None = None) -> None:
        self.state = state
        self.webhook_log = Path(webhook_log) if webhook_log else None
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self._offset = 0.0
        self._in_flight = 0
        self._due = 0.0  # the due time of the transition being applied; its posts start there
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._log: IO[str] | None = None
        self.posts_made = 0

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="sandbox-dispatch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
        if self._log is not None:
            self._log.close()
            self._log = None

    def clear(self) -> None:
        """Drop everything pending (used by reset)."""
        self._heap.clear()

    def now(self) -> float:
        return time.monotonic() + self._offset

    def pending(self) -> int:
        return len(self._heap) + self._in_flight

    def _push(self, item: _Item) -> None:
        heapq.heappush(self._heap, item)
        if self._wake is not None:
            self._wake.set()

    def _scaled(self, seconds: float) -> float:
        return seconds / self.state.time_scale

    # -- scheduling ---------------------------------------------------------------------------
    def schedule_row(
        self, row: MessageRow, start_in_s: float, plan_times: dict[str, float]
    ) -> None:
        """Queue the life of ``row``: status 1, hand-over (message-send, 2), 3, final, reply.

        ``start_in_s`` is the real delay before the message is queued (scheduled sends);
        ``plan_times`` holds the unscaled offsets ``sending``, ``sent``, ``final``, ``reply``.
        """
        base = self.now() + start_in_s

        def at(offset: float, fn: Callable[[], None]) -> None:
            self._push(_Item(base + self._scaled(offset), next(self._seq), "transition", fn))

        sending, sent, final = plan_times["sending"], plan_times["sent"], plan_times["final"]
        at(0.0, lambda: self._on_status(row, _QUEUED, 0.0))
        at(sending, lambda: self._on_handover(row, sending))
        at(sent, lambda: self._on_status(row, _SENT, sent))
        at(final, lambda: self._on_status(row, row.final_code, final))
        if row.reply is not None:
            at(plan_times["reply"], lambda: self._on_reply(row, plan_times["reply"]))

    def schedule_opt_in(self, phone: str, sender_name: str, opt_in_type: str) -> None:
        """Emit number-opt-in for ``phone`` to ``sender_name`` now (``optInType`` the method)."""

        def fire() -> None:
            fields = {
                "type": _TYPES["number-opt-in"],
                "number": phone,
                "senderName": sender_name,
                "optInType": opt_in_type,
            }
            self._emit("number-opt-in", fields, utcnow(), f"opt-in|{phone}|{sender_name}")

        self._push(_Item(self.now(), next(self._seq), "transition", fire))

    # -- transitions ----------------------------------------------------------------------------
    def _outbound(self, row: MessageRow, event: EventName) -> dict[str, Any]:
        """The fields every outbound event of ``row`` shares; senderName only on iMessage."""
        fields: dict[str, Any] = {
            "type": _TYPES[event],
            "messageId": row.message_id,
            "externalId": row.external_id,
            "destinationNumber": row.phone,
        }
        if row.route == "imessage":
            fields["senderName"] = row.sender_name
        fields["tags"] = dict(row.tags)
        return fields

    def _on_handover(self, row: MessageRow, offset: float) -> None:
        at = row.created_at + timedelta(seconds=offset)
        self._emit("message-send", self._outbound(row, "message-send"), at, _row_key(row))
        self._on_status(row, _SENDING, offset)

    def _on_status(self, row: MessageRow, code: int | None, offset: float) -> None:
        at = row.created_at + timedelta(seconds=offset)
        row.sent = True
        row.status_code = code
        row.status_at = at
        fields = self._outbound(row, "delivery-status")
        fields["status"] = code
        self._emit("delivery-status", fields, at, _row_key(row))

    def _on_reply(self, row: MessageRow, offset: float) -> None:
        at = row.created_at + timedelta(seconds=offset)
        fields: dict[str, Any] = {
            "type": _TYPES["message-reply"],
            "replyId": self.state.next_id("reply"),
            "fromNumber": row.phone,
            "toNumber": row.from_number,
            "message": row.reply,
            "messageId": row.message_id,
            "externalId": row.external_id,
            "tags": dict(row.tags),
        }
        if row.route == "imessage":
            fields["senderName"] = row.sender_name
        sid = self.state.by_phone.get(row.phone)
        if sid is not None and is_stop(row.reply):  # later sends to it end in 11
            self.state.subscribers[sid].opted_out = True
        self._emit("message-reply", fields, at, _row_key(row))

    def _emit(self, event: str, fields: dict[str, Any], when: datetime, key: str) -> None:
        """Queue one post per registered webhook for ``event`` (plus the log), with faults.

        Each target gets the body in its own payload version; copies of a post are identical.
        """
        ident = f"{key}|{event}|{fields.get('status', '')}"
        seed = self.state.seed
        cfg = self.state.config
        delay = 0.0
        if _fault_fires(self.state, "webhook_reorder", draw(seed, "reorder", ident)):
            delay = self._scaled(cfg.final_after_s * 1.6 + 1.0)
        copies = 2 if _fault_fires(self.state, "webhook_duplicate", draw(seed, "dup", ident)) else 1
        targets: list[Webhook | None] = [
            w for w in self.state.webhooks.values() if w.event == event
        ]
        if self.webhook_log is not None:
            targets.append(None)
        due = self._due + delay
        for target in targets:
            wid = target.id if target is not None else 0
            version = (target.payload_version if target else None) or cfg.payload_version
            body = render(fields, when, version, cfg.webhook_date_format)
            for _ in range(copies):
                self._push(
                    _Item(due, next(self._seq), "post", None, event, body, target, f"{key}|{wid}")
                )

    # -- the worker -------------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            now = self.now()
            posts: list[_Item] = []
            applied = False
            # One item at a time in due order: the posts a transition queues join this round
            # at their own due time, so after settle() jumps the clock they still go out in
            # timeline order (a reordered post after the recipient's next event).
            while self._heap and self._heap[0].due <= now:
                item = heapq.heappop(self._heap)
                if item.kind == "transition" and item.apply is not None:
                    applied = True
                    self._due = item.due
                    try:
                        item.apply()
                    except Exception:  # a bug must not stop every later event
                        _log.exception("sandbox: status transition failed")
                else:
                    posts.append(item)
            if not posts and not applied:
                timeout = (self._heap[0].due - now) if self._heap else None
                with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            if posts:
                self._in_flight += len(posts)
                try:
                    await self._deliver(posts)
                finally:
                    self._in_flight -= len(posts)

    async def _deliver(self, posts: list[_Item]) -> None:
        chains: dict[str, list[_Item]] = {}
        for item in posts:
            chains.setdefault(item.key, []).append(item)
        sem = asyncio.Semaphore(_CONCURRENCY)

        async def run_chain(items: list[_Item]) -> None:
            async with sem:
                for item in items:
                    await self._post(item)

        await asyncio.gather(*(run_chain(c) for c in chains.values()))

    async def _post(self, item: _Item) -> None:
        webhook = item.webhook
        if webhook is None:
            secret = self.state.config.webhook_secret
            self._write_log(item.event, sign(item.body, secret), item.body)
            return
        signature = sign(item.body, webhook.secret)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            "User-Agent": "mta-notebook-sandbox",
        }
        status: int | None = None
        error = ""
        if self._client is None:  # created on first use: building its SSL context is slow
            self._client = httpx.AsyncClient(timeout=self.state.config.webhook_timeout_s)
        try:
            resp = await self._client.post(webhook.url, content=item.body, headers=headers)
            status = resp.status_code
        except Exception as exc:  # unreachable, timeout, bad URL: a failed delivery
            error = type(exc).__name__
        self.posts_made += 1
        if status == 200:
            return
        if webhook.skip_errors or (status is not None and str(status) in webhook.skip_error_codes):
            return
        if webhook.send_alert_email:
            self.state.alerts.append(
                {
                    "webhookId": webhook.id,
                    "email": webhook.alert_email or self.state.config.account["email"],
                    "url": webhook.url,
                    "status": status,
                    "error": error,
                    "attempt": item.attempt,
                }
            )
        if webhook.retry_on_error and item.attempt < self.state.config.webhook_max_attempts:
            backoff = self.state.config.webhook_retry_base_s * 2 ** (item.attempt - 1)
            item.due = self.now() + self._scaled(backoff)
            item.seq = next(self._seq)
            item.attempt += 1
            self._push(item)

    def _write_log(self, event: str, signature: str, body: bytes) -> None:
        if self.webhook_log is None:
            return
        if self._log is None:
            self.webhook_log.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.webhook_log.open("a", encoding="utf-8")
        line = {
            "received_at": iso_ms(utcnow()),
            "event": event,
            "headers": {SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
            "raw_body": body.decode(),
        }
        self._log.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._log.flush()

    # -- settle ---------------------------------------------------------------------------------
    async def settle(self, timeout: float = 30.0) -> int:
        """Jump the virtual clock past every pending item and wait until all are delivered.

        Returns the number of items that were pending; raises TimeoutError after ``timeout``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = self.pending()
        while self._heap or self._in_flight:
            if self._heap:
                latest = max(item.due for item in self._heap)
                gap = latest - self.now()
                if gap > 0:
                    self._offset += gap + 1e-6
                if self._wake is not None:
                    self._wake.set()
            if loop.time() > deadline:
                raise TimeoutError(f"{self.pending()} webhook items still pending")
            await asyncio.sleep(0.002)
        return pending


def _row_key(row: MessageRow) -> str:
    return f"{row.message_id}|{row.phone}"


def _fault_fires(state: SandboxState, key: str, u: float) -> bool:
    p = float(state.faults.get(key, 0.0) or 0.0)
    return p > 0 and u < p
