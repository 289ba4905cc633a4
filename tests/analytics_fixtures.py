"""Build Events and Sends tables that follow the data contracts (for the analytics tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mta_notebook.models import DELIVERY_STATUS_CODES, FINAL_STATUSES

T0 = pd.Timestamp("2026-11-01 12:00:00", tz="UTC")
CODES = {name: code for code, name in DELIVERY_STATUS_CODES.items()}
EVENT_COLUMNS = [
    "event",
    "occurred_at",
    "received_at",
    "message_id",
    "external_id",
    "phone",
    "sender_name",
    "status_code",
    "status",
    "route",
    "is_final",
    "text",
    "tags",
    "source",
    "raw",
]
SEND_COLUMNS = [
    "campaign_id",
    "chunk",
    "external_id",
    "message_id",
    "phone",
    "sender_name",
    "longcode_id",
    "sent_at",
    "state",
    "error",
]


def phone(i: int) -> str:
    return f"+1312555{i:04d}"


@dataclass
class Log:
    """Build a webhook log and a send ledger; times are seconds after ``T0``."""

    events: list[dict[str, Any]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)

    def send(
        self,
        external_id: str | None,
        message_id: int | None,
        phones: list[str],
        *,
        sender: str | None = None,
        state: str = "sent",
        at: float = 0.0,
        error: str | None = None,
        campaign: str = "cmp",
    ) -> None:
        for p in phones:
            self.sends.append(
                {
                    "campaign_id": campaign,
                    "chunk": 0,
                    "external_id": external_id,
                    "message_id": message_id,
                    "phone": p,
                    "sender_name": sender,
                    "longcode_id": None,
                    "sent_at": T0 + pd.Timedelta(seconds=at),
                    "state": state,
                    "error": error,
                }
            )

    def status(
        self,
        external_id: str | None,
        message_id: int | None,
        to: str,
        status: str,
        *,
        at: float,
        sender: str | None = None,
        received_delay: float = 0.5,
    ) -> dict[str, Any]:
        body = {
            "type": "MTAWebhook.DELIVERY_STATUS",
            "messageId": message_id,
            "externalId": external_id,
            "destinationNumber": to,
            "status": CODES.get(status, 99),
            **({"senderName": sender} if sender else {}),
            "tags": {"k": "v"},
        }
        row = {
            "event": "delivery-status",
            "occurred_at": T0 + pd.Timedelta(seconds=at),
            "received_at": T0 + pd.Timedelta(seconds=at + received_delay),
            "message_id": message_id,
            "external_id": external_id,
            "phone": to,
            "sender_name": sender,
            "status_code": CODES.get(status, 99),
            "status": status,
            "route": "imessage" if sender else "unknown",
            "is_final": status in FINAL_STATUSES,
            "text": None,
            "tags": {"k": "v"},
            "source": f"log.jsonl:{len(self.events) + 1}",
            "raw": json.dumps(body),
        }
        self.events.append(row)
        return row

    def message_send(
        self,
        external_id: str | None,
        message_id: int | None,
        to: str,
        *,
        at: float,
        sender: str | None = None,
    ) -> None:
        row = self.status(external_id, message_id, to, "sent", at=at, sender=sender)
        row.update(event="message-send", status=None, status_code=None, is_final=False)

    def reply(self, to_number: str, text: str, *, at: float, sender: str | None = None) -> None:
        self.events.append(
            {
                "event": "message-reply",
                "occurred_at": T0 + pd.Timedelta(seconds=at),
                "received_at": T0 + pd.Timedelta(seconds=at + 0.2),
                "message_id": None,
                "external_id": None,
                "phone": to_number,
                "sender_name": sender,
                "status_code": None,
                "status": None,
                "route": "imessage" if sender else "unknown",
                "is_final": False,
                "text": text,
                "tags": {},
                "source": f"log.jsonl:{len(self.events) + 1}",
                "raw": "{}",
            }
        )

    def deliver(
        self,
        external_id: str | None,
        message_id: int | None,
        to: str,
        final: str,
        *,
        at: float = 1.0,
        sender: str | None = None,
    ) -> None:
        """The usual sequence: message-send, sent, then the final status."""
        self.message_send(external_id, message_id, to, at=at, sender=sender)
        self.status(external_id, message_id, to, "sent", at=at + 0.1, sender=sender)
        self.status(external_id, message_id, to, final, at=at + 2.0, sender=sender)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        ev = pd.DataFrame(self.events, columns=EVENT_COLUMNS)
        ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
        ev["received_at"] = pd.to_datetime(ev["received_at"], utc=True)
        ev["message_id"] = ev["message_id"].astype("Int64")
        sd = pd.DataFrame(self.sends, columns=SEND_COLUMNS)
        sd["sent_at"] = pd.to_datetime(sd["sent_at"], utc=True)
        sd["message_id"] = sd["message_id"].astype("Int64")
        return ev, sd


def scenario() -> Log:
    """Two identities, fallback, plain SMS, and the awkward cases the rules exist for."""
    log = Log()
    acme = [phone(i) for i in range(1, 7)]
    log.send("c1-00000", 1001, acme, sender="Acme")
    log.deliver("c1-00000", 1001, acme[0], "delivered", sender="Acme")
    log.deliver("c1-00000", 1001, acme[1], "delivered", sender="Acme")
    log.deliver("c1-00000", 1001, acme[2], "undelivered", sender="Acme")
    # SMS fallback: same send, events without senderName
    log.deliver("c1-00000", 1001, acme[3], "delivered")
    log.deliver("c1-00000", 1001, acme[4], "rejected")
    # acme[5]: in the ledger, no event yet -> pending, route unknown
    deals = [phone(i) for i in range(10, 14)]
    log.send("c2-00000", 2001, deals, sender="Acme Deals", at=3600)
    # duplicate delivery of the same webhooks
    log.deliver("c2-00000", 2001, deals[0], "delivered", at=3601, sender="Acme Deals")
    log.status("c2-00000", 2001, deals[0], "delivered", at=3603, sender="Acme Deals")
    # out of order: the final status arrives before "sent"
    log.status("c2-00000", 2001, deals[1], "undeliverable", at=3605, sender="Acme Deals")
    log.status("c2-00000", 2001, deals[1], "sent", at=3601, sender="Acme Deals")
    # a late non-final after the final one
    log.status("c2-00000", 2001, deals[2], "delivered", at=3602)
    log.status("c2-00000", 2001, deals[2], "sent", at=3700)
    log.status("c2-00000", 2001, deals[2], "unknown", at=3800)
    # unknown only -> pending
    log.status("c2-00000", 2001, deals[3], "sent", at=3601)
    log.status("c2-00000", 2001, deals[3], "unknown", at=3610)
    # plain SMS (no identity); one joins by message_id only (no externalId in the payload)
    plain = [phone(i) for i in range(20, 23)]
    log.send("c3-00000", 3001, plain[:2])
    log.deliver("c3-00000", 3001, plain[0], "delivered", at=7200)
    log.deliver(None, 3001, plain[1], "delivered", at=7200)
    # a failed send: not a message, no events
    log.send("c3-00001", None, plain[2:], state="failed", error="HTTP 400: bad number")
    # events with no ledger row: one by iMessage, one without any identity
    log.deliver("zz-00000", 9001, phone(90), "delivered", at=7300, sender="Acme Deals")
    log.deliver("zz-00000", 9001, phone(91), "undelivered", at=7300)
    return log
