"""In-memory state of the sandbox: config, numbers and identities, subscribers, groups, messages.

Everything here is plain data mutated from the server's single event loop (handlers do not await
between reading and writing), so no locks are needed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, get_args

import phonenumbers

from ..contract.assumptions import (
    DELIVERIES_NAME_FOR_CODE,
    IMESSAGE_CREDITS,
    SMS_OVER_160,
    ImessageCredits,
    SmsOver160,
    check_imessage_credits,
)
from ..contract.events import DEFAULT_PAYLOAD_VERSION, PAYLOAD_VERSIONS
from ..contract.phones import normalize_phone
from ..contract.statuses import STATUS_BY_CODE

__all__ = [
    "DATE_FORMATS",
    "FAULT_KEYS",
    "OUTCOME_KEYS",
    "Longcode",
    "MessageRow",
    "SandboxConfig",
    "SandboxState",
    "Subscriber",
    "Webhook",
    "iso_ms",
    "utcnow",
]

DEFAULT_IDENTITIES: list[dict[str, Any]] = [
    {"name": "Acme", "longcodeId": 101, "number": "+13125550101", "enabled": True},
    {"name": "Acme Deals", "longcodeId": 102, "number": "+13125550102", "enabled": True},
    {"name": "Legacy Brand", "longcodeId": 103, "number": "+13125550103", "enabled": False},
]
DEFAULT_PLAIN_LONGCODES: list[dict[str, Any]] = [{"longcodeId": 100, "number": "+13125550100"}]
#: The final statuses a recipient can be drawn to, by documented key (codes 4-13).
OUTCOME_KEYS: tuple[str, ...] = tuple(s.key for s in STATUS_BY_CODE.values() if s.is_final)
DEFAULT_OUTCOMES: dict[str, dict[str, float]] = {
    "imessage": {
        "delivered": 0.95,
        "undelivered": 0.02,
        "delivery_failed": 0.01,
        "delivery_rejected": 0.01,
        "delivery_unconfirmed": 0.01,
    },
    "sms": {
        "delivered": 0.88,
        "undelivered": 0.04,
        "delivery_failed": 0.03,
        "delivery_rejected": 0.02,
        "send_rejected": 0.01,
        "delivery_unconfirmed": 0.02,
    },
}
#: ``webhook_date_format``: how V2/V3 bodies write their date (see ``payloads.py``).
DATE_FORMATS: tuple[str, ...] = ("utc", "offset", "naive", "epoch")
FAULT_KEYS: tuple[str, ...] = (
    "error_before",
    "error_after",
    "drop_after",
    "latency_ms",
    "rate_limit_burst",
    "webhook_duplicate",
    "webhook_reorder",
    "paths",
)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def iso_ms(dt: datetime) -> str:
    """``2026-11-27T05:02:57.123Z``: ISO 8601 UTC with milliseconds, as MTA writes dates."""
    return (
        dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{dt.microsecond // 1000:03d}Z"
    )


@dataclass
class SandboxConfig:
    """Options of the simulated account (all optional; see ``from_mapping`` for the JSON keys)."""

    identities: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_IDENTITIES))
    plain_longcodes: list[dict[str, Any]] = field(
        default_factory=lambda: list(DEFAULT_PLAIN_LONGCODES)
    )
    imessage_capable: float = 0.7
    opt_in_rate: float = 0.6
    imessage_route_up: bool = True
    imessage_attempt_fail_rate: float = 0.05
    outcomes: dict[str, dict[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_OUTCOMES.items()}
    )
    landlines: list[str] = field(default_factory=list)
    payload_version: str = DEFAULT_PAYLOAD_VERSION
    webhook_date_format: str = "utc"
    sms_over_160: SmsOver160 = SMS_OVER_160
    #: What an iMessage is billed in ``GET /_sandbox/usage`` (``contract.assumptions``).
    imessage_credits: ImessageCredits = IMESSAGE_CREDITS
    reply_rate: float = 0.1
    stop_share: float = 0.2
    sent_after_s: float = 1.0
    final_after_s: float = 5.0
    reply_after_s: float = 30.0
    #: A message is listed in ``GET /deliveries`` only this long (unscaled) after it was handed
    #: over: MTA's listing is meant for settled data and may lag behind.
    deliveries_lag_s: float = 0.0
    webhook_secret: str = "sandbox-webhook-secret"
    webhook_max_attempts: int = 5
    webhook_retry_base_s: float = 2.0
    webhook_timeout_s: float = 10.0
    international: bool = False
    template_only: bool = False
    templates: dict[str, str] = field(
        default_factory=lambda: {
            "1": "Hi {{firstName}}, thanks for subscribing! Reply STOP to end."
        }
    )
    account: dict[str, str] = field(
        default_factory=lambda: {"name": "Sandbox Account", "email": "sandbox@example.com"}
    )

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> SandboxConfig:
        """Defaults overridden by ``data`` (unknown keys raise ValueError)."""
        cfg = cls()
        cfg.update(data or {})
        return cfg

    @classmethod
    def load(cls, source: SandboxConfig | dict[str, Any] | str | Path | None) -> SandboxConfig:
        """A config from an object, a mapping, a JSON file path, or defaults for None."""
        if source is None:
            return cls()
        if isinstance(source, SandboxConfig):
            return source
        if isinstance(source, dict):
            return cls.from_mapping(source)
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"sandbox config {path}: cannot read JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ValueError(f"sandbox config {path}: expected a JSON object at the top level")
        return cls.from_mapping(data)

    def update(self, data: dict[str, Any]) -> None:
        """Merge ``data`` into this config; raise ValueError naming a bad key or value."""
        known = set(self.__dataclass_fields__)
        for key, value in data.items():
            if key not in known:
                raise ValueError(
                    f"unknown sandbox config key {key!r}; known keys: {', '.join(sorted(known))}"
                )
            if key == "outcomes":
                self._set_outcomes(value)
                continue
            if key == "landlines":
                self.landlines = _phones(value, "landlines")
                continue
            if key == "imessage_credits":  # a rule name or a number: not one type
                self.imessage_credits = check_imessage_credits(value)
                continue
            if key in _CHOICES and value not in _CHOICES[key]:
                raise ValueError(f"config {key!r} must be one of {', '.join(_CHOICES[key])}")
            default = getattr(self, key)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"config {key!r} must be true or false")
            elif isinstance(default, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"config {key!r} must be a number")
                value = type(default)(value)
                if key in _PROBABILITY_KEYS and not 0.0 <= value <= 1.0:
                    raise ValueError(f"config {key!r} must be a probability in [0, 1]")
                if value < 0:
                    raise ValueError(f"config {key!r} must not be negative")
            elif isinstance(default, (list, dict, str)) and not isinstance(value, type(default)):
                raise ValueError(f"config {key!r} must be a {type(default).__name__}")
            setattr(self, key, value)

    def _set_outcomes(self, value: object) -> None:
        if not isinstance(value, dict):
            raise ValueError("config 'outcomes' must map route -> {status: probability}")
        for route, probs in value.items():
            if route not in ("imessage", "sms") or not isinstance(probs, dict):
                raise ValueError(f"config outcomes: bad route {route!r} (imessage or sms)")
            bad = set(probs) - set(OUTCOME_KEYS)
            if bad:
                raise ValueError(
                    f"config outcomes[{route}]: {sorted(bad)} are not final statuses; "
                    f"use the documented keys {', '.join(OUTCOME_KEYS)}"
                )
            self.outcomes[route] = {k: float(v) for k, v in probs.items()}


def _phones(value: object, what: str) -> list[str]:
    """Each entry of ``value`` in E.164, deduplicated; ValueError naming a bad entry."""
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list of phone numbers (E.164)")
    out: dict[str, None] = {}
    for i, item in enumerate(value):
        phone = normalize_phone(item)
        if phone is None:
            raise ValueError(f"{what}[{i}] = {item!r} is not a valid phone number")
        out[phone] = None
    return list(out)


_CHOICES: dict[str, tuple[str, ...]] = {
    "payload_version": tuple(PAYLOAD_VERSIONS),
    "webhook_date_format": DATE_FORMATS,
    "sms_over_160": get_args(SmsOver160),
}
_PROBABILITY_KEYS = {
    "imessage_capable",
    "opt_in_rate",
    "imessage_attempt_fail_rate",
    "reply_rate",
    "stop_share",
}


@dataclass
class Longcode:
    """A dedicated number, with the iMessage Sender Identity attached to it (if any)."""

    id: int
    number: str
    sender_name: str | None = None
    enabled: bool = True

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "senderName": self.sender_name,
            "senderIdentityEnabled": self.enabled if self.sender_name else None,
        }


@dataclass
class Subscriber:
    id: int
    e164: str | None
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    date: datetime = field(default_factory=utcnow)
    groups: dict[int, datetime] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    opted_out: bool = False

    def public(self, group_names: dict[int, str]) -> dict[str, Any]:
        national = 0
        if self.e164:
            national = int(str(phonenumbers.parse(self.e164).national_number))
        return {
            "id": self.id,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "number": national,
            "e164Number": self.e164,
            "date": iso_ms(self.date),
            "countryId": 1,
            "groups": [
                {"id": gid, "name": group_names.get(gid, ""), "addedToGroupAt": iso_ms(at)}
                for gid, at in sorted(self.groups.items())
            ],
            "subscriberFieldData": [
                {"id": i + 1, "subscriberFieldId": int(k) if k.isdigit() else k, "data": v}
                for i, (k, v) in enumerate(sorted(self.fields.items()))
            ],
            "signupMethod": 0,
            "optedOut": self.opted_out,
        }


@dataclass
class Group:
    id: int
    name: str
    description: str | None = None
    created_at: datetime = field(default_factory=utcnow)

    def public(self, member_count: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": "static",
            "createdAt": iso_ms(self.created_at),
            "memberCount": member_count,
        }


@dataclass
class Webhook:
    id: int
    event: str
    url: str
    secret: str
    retry_on_error: bool = True
    alert_email: str | None = None
    send_alert_email: bool = False
    skip_errors: bool = False
    skip_error_codes: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    #: V1/V2/V3 for this registration; ``None``: the config's ``payload_version``. How an
    #: account asks MTA for an earlier version is not documented, so this is set through
    #: ``/_sandbox/payload-version``, never through ``/v3/webhooks``.
    payload_version: str | None = None

    def public(self) -> dict[str, Any]:
        """The webhook as the API shows it; the secret is never echoed."""
        return {
            "id": self.id,
            "webhookId": self.id,
            "event": self.event,
            "url": self.url,
            "retryOnError": self.retry_on_error,
            "alertEmail": self.alert_email,
            "sendAlertEmail": self.send_alert_email,
            "skipErrors": self.skip_errors,
            "skipErrorCodes": list(self.skip_error_codes),
            "createdAt": iso_ms(self.created_at),
        }

    def __repr__(self) -> str:
        return f"Webhook(id={self.id}, event={self.event!r}, url={self.url!r}, secret='***')"


@dataclass
class MessageRow:
    """One recipient of one /send call: the ground truth the sandbox judges by.

    ``status_code`` is the latest webhook status (``None`` while a scheduled send waits);
    ``status`` is the name ``/deliveries`` lists it under.
    """

    message_id: int
    external_id: str | None
    phone: str
    sender_name: str | None
    route: str
    text: str
    tags: dict[str, str]
    from_number: str
    created_at: datetime
    is_mms: bool
    final_code: int
    reply: str | None
    credits: int
    status_code: int | None = None
    status_at: datetime | None = None
    sent: bool = False

    @property
    def status(self) -> str:
        if self.status_code is None:
            return "scheduled"
        return DELIVERIES_NAME_FOR_CODE[self.status_code]

    @property
    def status_key(self) -> str:
        """The documented name of ``status_code`` in lower snake case (``delivery_failed``)."""
        if self.status_code is None:
            return "scheduled"
        return STATUS_BY_CODE[self.status_code].key

    def ground_truth(self, times_received: int) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "external_id": self.external_id,
            "phone": self.phone,
            "sender_name": self.sender_name,
            "route": self.route,
            "status": self.status_key,
            "status_code": self.status_code,
            "text": self.text,
            "times_received": times_received,
        }


class SandboxState:
    """Everything the sandbox knows; ``reset()`` brings it back to the start."""

    def __init__(
        self,
        *,
        api_key: str,
        seed: int = 0,
        time_scale: float = 1.0,
        config: SandboxConfig | None = None,
        faults: dict[str, Any] | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.api_key = api_key
        self.seed = seed
        self.time_scale = float(time_scale)
        self.base_config = config or SandboxConfig()
        self._initial_faults = dict(faults or {})
        self.reset()

    def __repr__(self) -> str:
        return (
            f"SandboxState(seed={self.seed}, time_scale={self.time_scale}, "
            f"subscribers={len(self.subscribers)}, rows={len(self.rows)}, api_key='***')"
        )

    def reset(self) -> None:
        """Forget everything (subscribers, messages, webhooks, overrides, faults, counters)."""
        self.config = SandboxConfig.from_mapping({})
        self.config.update(
            {k: getattr(self.base_config, k) for k in self.base_config.__dataclass_fields__}
        )
        self.numbers: dict[int, Longcode] = {}
        self.set_identities(self.config.identities, replace=True)
        self.subscribers: dict[int, Subscriber] = {}
        self.by_phone: dict[str, int] = {}
        self.by_email: dict[str, int] = {}
        self.groups: dict[int, Group] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.rows: list[MessageRow] = []
        self.capability: dict[str, bool] = {}
        self.opt_ins: dict[tuple[str, str], bool] = {}
        self.alerts: list[dict[str, Any]] = []
        self.faults: dict[str, Any] = {}
        self.set_faults(self._initial_faults)
        self.fault_rng = random.Random(f"{self.seed}|faults")
        self._next = {"subscriber": 1, "group": 1, "webhook": 1, "message": 100001, "reply": 1}

    def next_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # -- identities -------------------------------------------------------------------------
    def set_identities(self, identities: list[dict[str, Any]], *, replace: bool = False) -> None:
        """Add or update identities ({name, longcodeId, number, enabled}); raise ValueError."""
        parsed: list[Longcode] = []
        for i, item in enumerate(identities):
            if not isinstance(item, dict):
                raise ValueError(f"identities[{i}] must be an object")
            name = item.get("name", item.get("senderName"))
            lid = item.get("longcodeId", item.get("longcode_id"))
            number = normalize_phone(item.get("number"))
            if not isinstance(name, str) or not name:
                raise ValueError(f"identities[{i}]: 'name' must be a non-empty string")
            if isinstance(lid, bool) or not isinstance(lid, int):
                raise ValueError(f"identities[{i}]: 'longcodeId' must be an integer")
            if number is None:
                raise ValueError(f"identities[{i}]: 'number' must be a phone number")
            enabled = item.get("enabled", True)
            if not isinstance(enabled, bool):
                raise ValueError(f"identities[{i}]: 'enabled' must be true or false")
            parsed.append(Longcode(lid, number, name, enabled))
        if replace:
            self.numbers = {}
            for item in self.config.plain_longcodes:
                number = normalize_phone(item.get("number"))
                lid = item.get("longcodeId")
                if number is None or not isinstance(lid, int):
                    raise ValueError(f"plain_longcodes: bad entry {item!r}")
                self.numbers[lid] = Longcode(lid, number)
        for code in parsed:
            for other in list(self.numbers.values()):
                if other.sender_name == code.sender_name and other.id != code.id:
                    del self.numbers[other.id]
            self.numbers[code.id] = code

    def identity(self, name: str) -> Longcode | None:
        for code in self.numbers.values():
            if code.sender_name == name:
                return code
        return None

    def default_longcode(self) -> Longcode:
        plain = [c for c in self.numbers.values() if c.sender_name is None]
        pool = plain or list(self.numbers.values())
        return min(pool, key=lambda c: c.id)

    # -- faults -----------------------------------------------------------------------------
    def set_faults(self, faults: dict[str, Any]) -> None:
        """Merge fault settings; raise ValueError on an unknown key or a bad value."""
        for key, value in faults.items():
            if key not in FAULT_KEYS:
                raise ValueError(f"unknown fault {key!r}; known faults: {', '.join(FAULT_KEYS)}")
            if key == "paths":
                if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                    raise ValueError("fault 'paths' must be a list of path prefixes like '/send'")
            elif key == "latency_ms":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError("fault 'latency_ms' must be a number >= 0")
            elif (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0.0 <= float(value) <= 1.0
            ):
                raise ValueError(f"fault {key!r} must be a probability in [0, 1], got {value!r}")
        self.faults.update(faults)

    def fault(self, key: str) -> bool:
        """Draw whether the fault ``key`` fires now."""
        p = float(self.faults.get(key, 0.0) or 0.0)
        return p > 0 and self.fault_rng.random() < p

    # -- subscribers ------------------------------------------------------------------------
    def find_subscriber(self, key: str) -> Subscriber | None:
        """By id, E.164/national number, or email."""
        key = key.strip()
        if key.isdigit() and int(key) in self.subscribers and len(key) < 10:
            return self.subscribers[int(key)]
        if "@" in key:
            sid = self.by_email.get(key.lower())
            return self.subscribers.get(sid) if sid is not None else None
        phone = normalize_phone(key)
        if phone is not None and phone in self.by_phone:
            return self.subscribers[self.by_phone[phone]]
        if key.isdigit() and int(key) in self.subscribers:
            return self.subscribers[int(key)]
        return None

    def add_subscriber(self, e164: str | None, email: str | None) -> Subscriber:
        sub = Subscriber(self.next_id("subscriber"), e164, email.lower() if email else None)
        self.subscribers[sub.id] = sub
        if e164:
            self.by_phone[e164] = sub.id
        if sub.email:
            self.by_email[sub.email] = sub.id
        return sub

    def reindex(self, sub: Subscriber, e164: str | None, email: str | None) -> None:
        if sub.e164 and self.by_phone.get(sub.e164) == sub.id:
            del self.by_phone[sub.e164]
        if sub.email and self.by_email.get(sub.email) == sub.id:
            del self.by_email[sub.email]
        sub.e164, sub.email = e164, email.lower() if email else None
        if sub.e164:
            self.by_phone[sub.e164] = sub.id
        if sub.email:
            self.by_email[sub.email] = sub.id

    def delete_subscriber(self, sub: Subscriber) -> None:
        self.reindex(sub, None, None)
        del self.subscribers[sub.id]

    def group_members(self, gid: int) -> list[Subscriber]:
        return [s for s in self.subscribers.values() if gid in s.groups]

    def group_names(self) -> dict[int, str]:
        return {g.id: g.name for g in self.groups.values()}

    # -- ground truth -----------------------------------------------------------------------
    def ground_truth(self) -> list[dict[str, Any]]:
        counts: dict[tuple[str, str], int] = {}
        for row in self.rows:
            counts[(row.phone, row.text)] = counts.get((row.phone, row.text), 0) + 1
        return [row.ground_truth(counts[(row.phone, row.text)]) for row in self.rows]
