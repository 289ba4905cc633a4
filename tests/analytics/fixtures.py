"""Build Events and Sends tables that follow the data contracts (for the analytics tests).

Events have the columns of the Events table (``EventLog.df``), filled the way the log reader
fills them from MTA's documented payloads: ``status`` is the documented name in lower snake
case, ``status_code`` its documented code, ``outcome`` and ``is_final`` from the contract's
status table, ``route`` ``imessage`` when ``senderName`` is set (else ``sms``) unless an
explicit route is given, and ``dated`` False for bodies without a time of their own (V1), whose
``occurred_at`` is then the receiver's ``received_at``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mta_notebook.campaigns import SENDS_COLUMNS
from mta_notebook.contract.statuses import STATUS_BY_NAME, resolve_status
from mta_notebook.events import EVENT_COLUMNS

T0 = pd.Timestamp("2026-11-01 12:00:00", tz="UTC")
#: The report's count columns, in order.
COUNTS = ["messages", "delivered", "failed", "unconfirmed", "pending", "unmatched"]


def phone(i: int) -> str:
    return f"+1312555{i:04d}"


def code_of(status: str) -> str:
    """The documented code of a status name ("delivery_rejected" -> "8"); raw text if unmapped."""
    found = STATUS_BY_NAME.get(status)
    return str(found.code) if found is not None and found.code is not None else status


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

    def _event(
        self,
        event: str,
        external_id: str | None,
        message_id: int | None,
        to: str,
        *,
        at: float,
        sender: str | None,
        route: str | None,
        dated: bool,
        received_delay: float,
        **fields: Any,
    ) -> dict[str, Any]:
        received = T0 + pd.Timedelta(seconds=at + received_delay)
        body = {
            "type": event,
            "messageId": message_id,
            "externalId": external_id,
            "number": to,
            **({"senderName": sender} if sender else {}),
            **({"route": route} if route else {}),
        }
        row = {
            "event": event,
            "occurred_at": T0 + pd.Timedelta(seconds=at) if dated else received,
            "received_at": received,
            "dated": dated,
            "message_id": message_id,
            "external_id": external_id,
            "phone": to,
            "sender_name": sender,
            "status_code": None,
            "status": None,
            "outcome": None,
            "route": route or ("imessage" if sender else "sms"),
            "is_final": False,
            "text": None,
            "tags": json.dumps({"k": "v"}),
            "source": f"log.jsonl:{len(self.events) + 1}",
            "raw": json.dumps(body),
            **fields,
        }
        self.events.append(row)
        return row

    def status(
        self,
        external_id: str | None,
        message_id: int | None,
        to: str,
        status: str,
        *,
        at: float,
        sender: str | None = None,
        route: str | None = None,
        dated: bool = True,
        received_delay: float = 0.5,
    ) -> dict[str, Any]:
        """A delivery-status event; ``status`` is a documented name or an unmapped raw code."""
        info = resolve_status(code_of(status))
        return self._event(
            "delivery-status",
            external_id,
            message_id,
            to,
            at=at,
            sender=sender,
            route=route,
            dated=dated,
            received_delay=received_delay,
            status_code=info.status_code,
            status=info.status,
            outcome=info.outcome,
            is_final=info.is_final,
        )

    def message_send(
        self,
        external_id: str | None,
        message_id: int | None,
        to: str,
        *,
        at: float,
        sender: str | None = None,
        route: str | None = None,
        dated: bool = True,
    ) -> None:
        self._event(
            "message-send",
            external_id,
            message_id,
            to,
            at=at,
            sender=sender,
            route=route,
            dated=dated,
            received_delay=0.5,
            outcome="pending",
        )

    def reply(
        self,
        to_number: str,
        text: str,
        *,
        at: float,
        sender: str | None = None,
        external_id: str | None = None,
        message_id: int | None = None,
        route: str | None = None,
    ) -> None:
        self._event(
            "message-reply",
            external_id,
            message_id,
            to_number,
            at=at,
            sender=sender,
            route=route,
            dated=True,
            received_delay=0.2,
            text=text,
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
        """The documented sequence: message-send, QUEUED, SENDING, SENT, then the final status."""
        self.message_send(external_id, message_id, to, at=at, sender=sender)
        for i, step in enumerate(("queued", "sending", "sent")):
            self.status(external_id, message_id, to, step, at=at + 0.1 * (i + 1), sender=sender)
        self.status(external_id, message_id, to, final, at=at + 2.0, sender=sender)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        ev = pd.DataFrame(self.events, columns=EVENT_COLUMNS)
        ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
        ev["received_at"] = pd.to_datetime(ev["received_at"], utc=True)
        ev["dated"] = ev["dated"].astype(bool)
        ev["is_final"] = ev["is_final"].astype(bool)
        ev["message_id"] = ev["message_id"].astype("Int64")
        sd = pd.DataFrame(self.sends, columns=SENDS_COLUMNS)
        sd["sent_at"] = pd.to_datetime(sd["sent_at"], utc=True)
        sd["message_id"] = sd["message_id"].astype("Int64")
        return ev, sd


def scenario() -> Log:
    """Two identities, fallback, plain SMS, and the awkward cases the rules exist for."""
    log = Log()
    acme = [phone(i) for i in range(1, 9)]
    log.send("c1-00000", 1001, acme, sender="Acme")
    log.deliver("c1-00000", 1001, acme[0], "delivered", sender="Acme")
    log.deliver("c1-00000", 1001, acme[1], "delivered", sender="Acme")
    log.deliver("c1-00000", 1001, acme[2], "delivery_failed", sender="Acme")
    # SMS fallback: same send, events without senderName
    log.deliver("c1-00000", 1001, acme[3], "delivered")
    log.deliver("c1-00000", 1001, acme[4], "delivery_rejected")
    # acme[5]: in the ledger, no event yet -> pending, route unknown
    # DELIVERY_UNCONFIRMED: final, neither delivered nor failed
    log.deliver("c1-00000", 1001, acme[6], "delivery_unconfirmed", sender="Acme")
    # the deliveries carry no senderName, the reply naming the message does: iMessage
    log.deliver("c1-00000", 1001, acme[7], "delivered")
    log.reply(acme[7], "Yes", at=60, sender="Acme", external_id="c1-00000", message_id=1001)
    log.reply(acme[1], "Stop.", at=90, sender="Acme")  # a STOP, once normalised
    deals = [phone(i) for i in range(10, 15)]
    log.send("c2-00000", 2001, deals, sender="Acme Deals", at=3600)
    # duplicate delivery of the same webhooks
    log.deliver("c2-00000", 2001, deals[0], "delivered", at=3601, sender="Acme Deals")
    log.status("c2-00000", 2001, deals[0], "delivered", at=3603, sender="Acme Deals")
    # out of order: the final status arrives before "sent"
    log.status("c2-00000", 2001, deals[1], "undelivered", at=3605, sender="Acme Deals")
    log.status("c2-00000", 2001, deals[1], "sent", at=3601, sender="Acme Deals")
    # a late non-final after the final one
    log.status("c2-00000", 2001, deals[2], "delivered", at=3602)
    log.status("c2-00000", 2001, deals[2], "sent", at=3700)
    log.status("c2-00000", 2001, deals[2], "42", at=3800)
    # an unmapped code only: outcome unknown, counted as pending
    log.status("c2-00000", 2001, deals[3], "sent", at=3601)
    log.status("c2-00000", 2001, deals[3], "42", at=3610)
    # V1 bodies (no date): QUEUED arrives after SENT; precedence, not arrival, orders them
    log.status("c2-00000", 2001, deals[4], "sent", at=3601, sender="Acme Deals", dated=False)
    log.status("c2-00000", 2001, deals[4], "queued", at=3650, sender="Acme Deals", dated=False)
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


# The documented table (mta-api.md §0a, "MTA Delivery Status Codes"), written out by hand here
# rather than read from the contract: code -> (the Events table's status, outcome).
DOCUMENTED = {
    1: ("queued", "pending"),
    2: ("sending", "pending"),
    3: ("sent", "pending"),
    4: ("delivered", "delivered"),
    5: ("sending_failed", "failed"),
    6: ("delivery_failed", "failed"),
    7: ("delivery_unconfirmed", "unconfirmed"),
    8: ("delivery_rejected", "failed"),
    9: ("undelivered", "failed"),
    10: ("invalid_number", "failed"),
    11: ("stopped_number", "failed"),
    12: ("landline", "failed"),
    13: ("send_rejected", "failed"),
    42: ("42", "unknown"),  # not in the table: kept raw, outcome unknown
}


def every_code_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        {
            "event": "delivery-status",
            "occurred_at": T0 + pd.Timedelta(seconds=code),
            "received_at": T0 + pd.Timedelta(seconds=code + 1),
            "dated": True,
            "message_id": 5,
            "external_id": "codes-00000",
            "phone": phone(code),
            "sender_name": None,
            "status_code": str(code),
            "status": status,
            "outcome": outcome,
            "route": "sms",
        }
        for code, (status, outcome) in DOCUMENTED.items()
    ]
    events = pd.DataFrame(rows)
    sends = events[["external_id", "message_id", "phone"]].assign(
        sender_name="Acme", state="sent", sent_at=T0, campaign_id="codes"
    )
    return events, sends


def evidence_log() -> Log:
    """One message per kind of route evidence (``test_route_basis_for_each_kind_of_evidence``)."""
    log = Log()
    asked = [phone(i) for i in range(1, 10)]
    log.send("rb-00000", 7, asked, sender="Acme")
    log.send("rb-00001", 8, [phone(20), phone(21)])  # no identity asked for
    a, b, c, d, e, f, g, _, m = asked  # h (phone 8): no event at all
    log.message_send("rb-00000", 7, a, at=1, sender="Acme")
    log.status("rb-00000", 7, a, "delivered", at=2, sender="Acme")
    log.message_send("rb-00000", 7, b, at=1)
    log.status("rb-00000", 7, b, "delivered", at=2, sender="Acme")
    log.status("rb-00000", 7, c, "delivered", at=2)
    log.reply(c, "Yes", at=30, sender="Acme", external_id="rb-00000", message_id=7)
    log.status("rb-00000", 7, d, "delivered", at=2)
    log.reply(d, "Yes", at=30, sender="Acme", message_id=7)  # message_id and phone only
    log.status("rb-00000", 7, e, "delivered", at=2)
    log.reply(e, "Yes", at=30, sender="Acme")  # names no message: no evidence
    log.message_send("rb-00000", 7, f, at=1, sender="Acme")
    log.status("rb-00000", 7, f, "delivered", at=2, sender="Acme", route="sms")  # explicit
    log.status("rb-00000", 7, g, "delivered", at=2, route="imessage")  # explicit, no name
    log.reply(m, "Yes", at=30, sender="Acme", external_id="rb-00000")  # a reply, nothing else
    log.status("rb-00001", 8, phone(20), "delivered", at=2)
    # phone(21): no event, no identity
    log.status("zz-00000", 9, phone(30), "delivered", at=2)  # no ledger row, no name
    log.message_send("zz-00000", 9, phone(31), at=1)
    log.status("zz-00000", 9, phone(31), "delivered", at=2, sender="Acme Deals")
    return log


def rows(report: pd.DataFrame, cols: list[str]) -> list[tuple[Any, ...]]:
    """The rows of ``report`` as tuples, NaN as None (so that they compare equal)."""
    out = []
    for rec in report[cols].itertuples(index=False):
        out.append(tuple(None if (isinstance(v, float) and math.isnan(v)) else v for v in rec))
    return out
