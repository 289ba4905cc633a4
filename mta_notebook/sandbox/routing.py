"""Deterministic draws: iMessage capability, opt-in, route, final status and reply.

Every draw hashes (seed, what, phone, identity, message id), so it does not depend on the order in
which requests arrive: the same seed gives the same answers in every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..contract.statuses import STATUS_BY_NAME
from .state import Longcode, SandboxState

__all__ = ["Plan", "draw", "draws", "is_capable", "is_opted_in", "plan_recipient"]

_DELIVERED = STATUS_BY_NAME["delivered"]
_NOT_CAPABLE = frozenset({STATUS_BY_NAME["invalid_number"].code, STATUS_BY_NAME["landline"].code})
REPLY_TEXTS = ("Thanks!", "Yes", "What time does it start?", "Sounds good", "Is this still on?")


def draw(seed: int, *parts: object) -> float:
    """A uniform number in [0, 1) determined by ``seed`` and ``parts``."""
    return draws(seed, *parts)[0]


def draws(seed: int, *parts: object) -> tuple[float, ...]:
    """Eight independent uniforms in [0, 1) determined by ``seed`` and ``parts``."""
    key = "|".join([str(seed), *map(str, parts)]).encode()
    digest = hashlib.sha512(key).digest()
    return tuple(int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in range(0, 64, 8))


def is_capable(state: SandboxState, phone: str) -> bool:
    """Whether the phone can receive iMessage (admin override, else a seeded draw)."""
    if phone in state.capability:
        return state.capability[phone]
    return draw(state.seed, "capable", phone) < state.config.imessage_capable


def is_opted_in(state: SandboxState, phone: str, identity: str) -> bool:
    """Whether the phone has opted in to ``identity`` (admin override, else a seeded draw)."""
    key = (phone, identity)
    if key in state.opt_ins:
        return state.opt_ins[key]
    return draw(state.seed, "opt-in", phone, identity) < state.config.opt_in_rate


@dataclass(frozen=True)
class Plan:
    """What will happen to one recipient of one send, decided up front.

    Offsets are unscaled seconds after the send: handed over (``message-send`` and status 2
    SENDING) at ``sending_after_s``, 3 SENT at ``sent_after_s``, ``final_code`` at
    ``final_after_s``, the reply (only after 4 DELIVERED) at ``reply_after_s``.
    """

    route: str
    final_code: int
    sending_after_s: float
    sent_after_s: float
    final_after_s: float
    reply: str | None
    reply_after_s: float


def _pick(probs: dict[str, float], u: float) -> str:
    total = sum(max(p, 0.0) for p in probs.values())
    if total <= 0:
        return _DELIVERED.key
    acc = 0.0
    for status, p in probs.items():
        acc += max(p, 0.0) / total
        if u < acc:
            return status
    return next(reversed(list(probs)))


def plan_recipient(
    state: SandboxState,
    phone: str,
    identity: Longcode | None,
    message_id: int,
    *,
    forced_code: int | None = None,
) -> Plan:
    """Route, final status, timings and reply for one recipient.

    ``forced_code`` is the status the number itself decides (10 INVALID_NUMBER, 11
    STOPPED_NUMBER, 12 LANDLINE); invalid numbers and landlines cannot take iMessage.
    """
    cfg = state.config
    name = identity.sender_name if identity is not None else None
    route = "sms"
    if (
        identity is not None
        and name is not None
        and identity.enabled
        and cfg.imessage_route_up
        and forced_code not in _NOT_CAPABLE
        and is_capable(state, phone)
        and is_opted_in(state, phone, name)
    ):
        attempt_fails = (
            draw(state.seed, "attempt", phone, name, message_id) < cfg.imessage_attempt_fail_rate
        )
        route = "sms" if attempt_fails else "imessage"
    u = draws(state.seed, "recipient", phone, name, message_id)
    code = forced_code
    if code is None:
        code = STATUS_BY_NAME[_pick(cfg.outcomes.get(route, {}), u[0])].code
        assert code is not None  # config outcomes are validated against the webhook codes
    sent_after = cfg.sent_after_s * (0.5 + u[1])
    final_after = max(sent_after, cfg.final_after_s * (0.5 + u[2]))
    reply: str | None = None
    if code == _DELIVERED.code and u[3] < cfg.reply_rate:
        reply = "STOP" if u[4] < cfg.stop_share else REPLY_TEXTS[int(u[5] * len(REPLY_TEXTS))]
    reply_after = final_after + cfg.reply_after_s * (0.5 + u[6])
    return Plan(route, code, sent_after / 2, sent_after, final_after, reply, reply_after)
