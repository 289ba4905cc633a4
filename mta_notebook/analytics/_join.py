"""The one message join: webhook events and the send ledger -> one row per message.

Built once over placeholder tables (``_sql.placeholder``) and compiled once per backend; see the
package docstring for the rules. Beside the messages, two small relations the reducers need:
the distinct replies (for reply attribution) and the ledger rows whose send did not go through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ..campaigns._schema import TEST_SUFFIX
from ..contract import keywords, routes, statuses
from . import _sql
from ._inputs import EVENT_SCHEMA, SEND_SCHEMA

if TYPE_CHECKING:
    import ibis.expr.types as ir

#: Labels of ledger rows whose ``/send`` call did not go through (state -> label); these are the
#: toolkit's own states, not MTA statuses, so they are not in the contract.
NOT_SENT_LABELS: Final[Mapping[str, str]] = {
    "failed": "not sent: the /send call failed",
    "unknown": "not sent: the /send outcome is unknown",
}
DELIVERY_EVENTS: Final[tuple[str, ...]] = ("message-send", "delivery-status")
#: Route evidence of equal strength: the event type of higher preference wins.
_PREFERENCE: Final[Mapping[routes.RouteBasis, int]] = {
    "message-send": 3,
    "delivery-status": 2,
    "message-reply": 1,
}
# The deciding event of a message is the one with the largest int64 key: final (bit 55),
# dated (bit 54), occurred_at ms if dated (bits 7-53), precedence (3-6), outcome (0-2).
# Precedence is contract.statuses.precedence + 1, so that a message-send (0) ranks below any status.
_FINAL_BIT: Final = 2**55
_DATED_BIT: Final = 2**54
_TIME_SHIFT: Final = 2**7
_PREC_SHIFT: Final = 2**3
_OUTCOME_MOD: Final = 2**3
_OUTCOME_INDEX: Final[Mapping[str, int]] = {o: i for i, o in enumerate(statuses.OUTCOMES)}
#: An outcome's part of the key: the final bit (a final outcome is never overwritten) and its
#: index, in one lookup.
_OUTCOME_KEYS: Final[Mapping[str, int]] = {
    o: (_FINAL_BIT if o in statuses.FINAL_OUTCOMES else 0) + i for o, i in _OUTCOME_INDEX.items()
}
# Route evidence of one event, as an int: strength * 8 + preference * 2 + (1 if iMessage), with
# strength 2 for an explicit route field, 1 for senderName, 0 for none (the whole value is 0).
_EXPLICIT: Final = 16
_SENDER: Final = 8

# The evidence columns of a message that no event names yet (all null).
_NO_EVENT: Final[dict[str, str]] = {
    "ev_sender": "string",
    "ev_enc": "int64",
    "status": "string",
    "top": "int64",
    "status_code": "string",
}
#: Column -> type of a message row (the join's output; ``sent_ms``: ms since the epoch).
MESSAGE_SCHEMA: Final[dict[str, str]] = {
    "campaign_id": "string",
    "external_id": "string",
    "message_id": "int64",
    "phone": "string",
    "sender_name": "string",
    "route": "string",
    "route_basis": "string",
    "status": "string",
    "status_code": "string",
    "outcome": "string",
    "unmatched": "boolean",
    "test": "boolean",
    "sent_ms": "int64",
}
#: The kept messages: the message columns and two times (ms) that only the latency reads:
#: ``handed_ms`` (the first message-send event, else the ledger's sent_at) and ``final_ms``
#: (the deciding event's occurred_at when that event is a final, dated status).
KEPT_SCHEMA: Final[dict[str, str]] = {**MESSAGE_SCHEMA, "handed_ms": "int64", "final_ms": "int64"}
#: Distinct reply events: number, time (ms), text, and 1 when the text is a STOP keyword.
REPLY_SCHEMA: Final[dict[str, str]] = {
    "r_phone": "string",
    "r_ms": "int64",
    "r_text": "string",
    "r_stop": "int64",
}
#: Ledger rows whose ``/send`` did not go through and that no delivery event names.
NOT_SENT_SCHEMA: Final[dict[str, str]] = {
    "sender_name": "string",
    "route": "string",
    "state": "string",
    "error": "string",
    "sent_ms": "int64",
}


def messages_sql(
    dialect: str, *, detail: bool = True, times: bool = True, tests: bool = False
) -> str:
    """The join's SQL over the placeholders of the events and the sends (compiled once)."""
    return _sql.compiled(
        dialect,
        ("messages", detail, times, tests),
        lambda: message_expr(
            _sql.placeholder(EVENT_SCHEMA, "events"),
            _sql.placeholder(SEND_SCHEMA, "sends"),
            detail=detail,
            times=times,
            tests=tests,
        ),
    )


def replies_sql(dialect: str, *, tests: bool = False) -> str:
    return _sql.compiled(
        dialect,
        ("replies", tests),
        lambda: reply_expr(_sql.placeholder(EVENT_SCHEMA, "events"), tests=tests),
    )


def not_sent_sql(dialect: str) -> str:
    return _sql.compiled(
        dialect,
        "not_sent",
        lambda: not_sent_expr(
            _sql.placeholder(EVENT_SCHEMA, "events"), _sql.placeholder(SEND_SCHEMA, "sends")
        ),
    )


def _derived_outcome(status: ir.StringValue) -> ir.StringValue:
    """The contract's outcome of a documented status name (``unknown`` for anything else)."""
    pairs = [(name, s.outcome) for name, s in statuses.STATUS_BY_NAME.items()]
    return status.cases(*pairs, else_="unknown")


def _precedence(status: ir.StringValue) -> ir.IntegerValue:
    """``contract.statuses.precedence`` of a status name, plus one (0 is a message-send's)."""
    pairs = [(name, statuses.precedence(name) + 1) for name in statuses.STATUS_BY_NAME]
    return status.cases(*pairs, else_=statuses.precedence(None) + 1)


def _evidence(
    route: ir.StringValue, sender: ir.StringValue, preference: ir.IntegerValue | int
) -> ir.IntegerValue:
    """One event's route evidence as an int (0: none); the larger wins within a message.

    An explicit route field beats ``senderName``: the Events table's ``route`` is ``imessage``
    when ``senderName`` is set unless an explicit field said otherwise, so ``sms`` next to a
    ``senderName`` (or ``imessage`` without one) can only come from an explicit field.
    """
    import ibis

    has_sender = sender.notnull()
    is_imessage, is_sms = route == "imessage", route == "sms"
    return ibis.cases(
        (is_imessage & ~has_sender, _EXPLICIT + preference * 2 + 1),
        (is_sms & has_sender, _EXPLICIT + preference * 2),
        (is_imessage | has_sender, _SENDER + preference * 2 + 1),
        else_=0,
    )


def _reply_evidence(ev: ir.Table, key: str) -> ir.Table:
    """Route evidence of the replies that name a message by ``key`` (external_id or message_id).

    A reply belongs to the message whose ``external_id`` and phone it carries, else (no
    ``external_id``) whose ``message_id`` and phone.
    """
    r = ev.filter((ev.event == "message-reply") & ev.phone.notnull())
    if key == "external_id":
        r = r.filter(r.external_id.notnull())
    else:
        r = r.filter(r.external_id.isnull() & r.message_id.notnull())
    sender = r.sender_name.nullif("")
    r = r.select(
        k=r[key],
        k_phone=r.phone,
        enc=_evidence(r.route, sender, _PREFERENCE["message-reply"]),
        sender=sender,
    )
    p = "x" if key == "external_id" else "y"
    g = r.group_by(["k", "k_phone"]).aggregate(enc=r.enc.max(), sender=r.sender.max())
    return g.select(
        **{f"{p}_key": g.k, f"{p}_phone": g.k_phone, f"{p}_enc": g.enc, f"{p}_sender": g.sender}
    )


def _deliveries(ev: ir.Table, *, detail: bool, times: bool) -> ir.Table:
    """The delivery events grouped per (external_id, message_id, phone): deciding key, evidence."""
    import ibis

    d = ev.filter(ev.event.isin(list(DELIVERY_EVENTS)))
    is_send = d.event == "message-send"
    outcome = ibis.ifelse(is_send, "pending", ibis.coalesce(d.outcome, _derived_outcome(d.status)))
    dated = d.dated.fill_null(True) & d.occurred_at.notnull()
    key = (
        outcome.cases(*_OUTCOME_KEYS.items(), else_=_OUTCOME_KEYS["unknown"])
        + ibis.ifelse(dated, _DATED_BIT + _sql.epoch_ms(d.occurred_at) * _TIME_SHIFT, 0)
        + ibis.ifelse(is_send, 0, _precedence(d.status)) * _PREC_SHIFT
    )
    sender = d.sender_name.nullif("")
    d = d.select(
        g_ext=d.external_id,
        g_mid=d.message_id,
        g_phone=d.phone,
        # "" stands for "no status" (a message-send): DuckDB's arg_max skips null values
        status=ibis.ifelse(is_send, "", d.status.fill_null("")),
        status_code=ibis.ifelse(is_send, ibis.null("string"), d.status_code),
        key=key,
        t_ms=ibis.coalesce(_sql.epoch_ms(d.occurred_at), _sql.epoch_ms(d.received_at), 0),
        enc=_evidence(d.route, sender, d.event.cases(*_PREFERENCE.items(), else_=0)),
        sender=sender,
        is_send=is_send,
    )
    return d.group_by(["g_ext", "g_mid", "g_phone"]).aggregate(
        status=_sql.latest(d.status, d.key) if detail else ibis.null("string"),
        top=d.key.max(),
        # a null code at the deciding event stays null
        status_code=_sql.latest(d.status_code, d.key, nulls=True)
        if detail
        else ibis.null("string"),
        ev_enc=d.enc.max(),
        ev_sender=d.sender.max(),
        first_ms=d.t_ms.min() if times else ibis.null("int64"),
        send_ms=d.t_ms.min(where=d.is_send) if times else ibis.null("int64"),
    )


def _ledger(sd: ir.Table, *, times: bool) -> ir.Table:
    import ibis

    led = sd.filter(sd.phone.notnull()).rename(
        l_campaign="campaign_id", l_ext="external_id", l_mid="message_id", l_phone="phone"
    )
    return led.select(
        "l_campaign",
        "l_ext",
        "l_mid",
        "l_phone",
        l_sender=led.sender_name.nullif(""),
        l_state=led.state,
        l_sent_ms=_sql.epoch_ms(led.sent_at) if times else ibis.null("int64"),
    )


def _matched(g: ir.Table, led: ir.Table) -> ir.Table:
    """Grouped events beside their ledger row: by (external_id, phone); by (message_id, phone)
    only for events without an external id."""
    g_cols, l_cols = list(g.columns), list(led.columns)
    g_ext = g.filter(g.g_ext.notnull())
    led_ext = led.filter(led.l_ext.notnull())
    by_ext = g_ext.left_join(
        led_ext, [g_ext.g_ext == led_ext.l_ext, g_ext.g_phone == led_ext.l_phone]
    )
    g_mid = g.filter(g.g_ext.isnull())
    led_mid = led.filter(led.l_mid.notnull())
    by_mid = g_mid.left_join(
        led_mid, [g_mid.g_mid == led_mid.l_mid, g_mid.g_phone == led_mid.l_phone]
    )
    return by_ext.select(*g_cols, *l_cols).union(by_mid.select(*g_cols, *l_cols))


def message_expr(
    ev: ir.Table, sd: ir.Table, *, detail: bool = True, times: bool = True, tests: bool = False
) -> ir.Table:
    """One row per message (recipient of a send) with its identity, route, status and outcome.

    ``detail`` adds the status name and raw code of the deciding event (the outcome is always
    there) and ``times`` the send times; a report that needs neither skips their work (null
    columns instead). Test sends (``test``) are left out unless ``tests``.
    """
    import ibis

    led = _ledger(sd, times=times)
    joined = _matched(_deliveries(ev, detail=detail, times=times), led)
    evs = joined.select(
        campaign_id=joined.l_campaign,
        external_id=ibis.coalesce(joined.l_ext, joined.g_ext),
        message_id=ibis.coalesce(joined.l_mid, joined.g_mid),
        phone=joined.g_phone,
        l_sender=joined.l_sender,
        ev_sender=joined.ev_sender,
        ev_enc=joined.ev_enc,
        status=joined.status.nullif(""),
        top=joined.top,
        status_code=joined.status_code,
        matched=joined.l_phone.notnull(),
        sent_ms=ibis.coalesce(joined.l_sent_ms, joined.first_ms),
        handed_ms=ibis.coalesce(joined.send_ms, joined.l_sent_ms),
    )
    seen = joined.filter(joined.l_phone.notnull()).select("l_ext", "l_mid", "l_phone").view()
    waiting = led.filter(led.l_state == "sent")
    waiting = waiting.anti_join(
        seen,
        [
            waiting.l_ext.identical_to(seen.l_ext),
            waiting.l_mid.identical_to(seen.l_mid),
            waiting.l_phone == seen.l_phone,
        ],
    )
    # ledger rows that no event names yet: messages without evidence
    pend = waiting.rename(
        campaign_id="l_campaign", external_id="l_ext", message_id="l_mid", phone="l_phone"
    )
    pend = pend.select(
        "campaign_id",
        "external_id",
        "message_id",
        "phone",
        "l_sender",
        **{col: ibis.null(kind) for col, kind in _NO_EVENT.items()},
        matched=ibis.literal(True),
        sent_ms=pend.l_sent_ms,
        handed_ms=pend.l_sent_ms,
    )
    msgs = _decide(_with_replies(evs.union(pend), ev), times=times)
    msgs = _with_test(msgs, ev)
    return msgs if tests else msgs.filter(~msgs.test)


def _is_test_id(external_id: ir.StringValue) -> ir.BooleanValue:
    # the externalId marks a test send, not tags: MTA echoes the externalId in every later
    # webhook and in /deliveries rows, which carry no tags
    return external_id.endswith(TEST_SUFFIX).fill_null(False)


def _with_test(msgs: ir.Table, ev: ir.Table) -> ir.Table:
    """``test``: the message's externalId is a test send's, or it shares the ``messageId`` of one
    (a test /send answers one messageId; an event without the externalId still belongs to it)."""
    t = ev.filter(_is_test_id(ev.external_id) & ev.message_id.notnull())
    ids = t.select(t_mid=t.message_id).distinct()
    j = msgs.left_join(ids, msgs.message_id == ids.t_mid)
    cols = [c for c in msgs.columns if c != "test"]
    out = j.select(*cols, test=_is_test_id(j.external_id) | j.t_mid.notnull())
    return out.select(*KEPT_SCHEMA)


def _with_replies(msgs: ir.Table, ev: ir.Table) -> ir.Table:
    """The messages with the route evidence of the replies that name them."""
    by_ext = _reply_evidence(ev, "external_id")
    by_mid = _reply_evidence(ev, "message_id")
    j = msgs.left_join(by_ext, [msgs.external_id == by_ext.x_key, msgs.phone == by_ext.x_phone])
    j = j.left_join(by_mid, [j.message_id == by_mid.y_key, j.phone == by_mid.y_phone])
    return j.select(*msgs.columns, "x_enc", "x_sender", "y_enc", "y_sender")


def _decide(m: ir.Table, *, times: bool) -> ir.Table:
    """Route, route_basis, status and outcome of each message from its evidence."""
    import ibis

    enc = ibis.greatest(m.ev_enc.fill_null(0), m.x_enc.fill_null(0), m.y_enc.fill_null(0))
    has_event = m.ev_enc.notnull() | m.x_enc.notnull() | m.y_enc.notnull()
    evidence = enc >= _SENDER
    imessage = evidence & (enc % 2 == 1)
    route = ibis.cases(
        (imessage, "imessage"),
        (~m.matched, ibis.ifelse(evidence, "sms_fallback", "unknown")),
        (m.l_sender.isnull(), "sms"),
        (has_event, "sms_fallback"),
        else_="unknown",
    )
    preference = (enc // 2) % 4
    basis = ibis.cases(
        (evidence, preference.cases(*[(v, e) for e, v in _PREFERENCE.items()])),
        (m.matched, "ledger"),
        else_="none",
    )
    outcome_of = (m.top % _OUTCOME_MOD).cases(*[(i, o) for o, i in _OUTCOME_INDEX.items()])
    return m.select(
        campaign_id=m.campaign_id,
        external_id=m.external_id,
        message_id=m.message_id,
        phone=m.phone,
        sender_name=ibis.coalesce(m.l_sender, m.ev_sender, m.x_sender, m.y_sender),
        route=route,
        route_basis=basis,
        status=m.status,
        status_code=m.status_code,
        outcome=ibis.ifelse(m.top.isnull(), "pending", outcome_of),
        unmatched=~m.matched,
        test=ibis.literal(False),  # set by _with_test
        sent_ms=m.sent_ms,
        handed_ms=m.handed_ms,
        final_ms=_final_ms(m.top) if times else ibis.null("int64"),
    )


def _final_ms(top: ir.IntegerValue) -> ir.IntegerValue:
    """The occurred_at (ms) of the deciding event when it is a final, dated status (else null):
    the key keeps it in its bits 7-53 (see ``_FINAL_BIT``)."""
    import ibis

    rest = top - _FINAL_BIT - _DATED_BIT
    return ibis.ifelse(
        (top >= _FINAL_BIT) & (rest >= 0), rest // _TIME_SHIFT, ibis.null("int64")
    ).cast("int64")


def _is_stop(text: ir.StringValue) -> ir.BooleanValue:
    """``contract.keywords.is_stop`` in SQL: upper case, drop the pattern, look the word up."""
    word = text.upper().re_replace(keywords.KEYWORD_DROP_PATTERN, "")
    return word.isin(sorted(keywords.STOP_WORDS))


def reply_expr(ev: ir.Table, *, tests: bool = False) -> ir.Table:
    """The reply events, duplicates once: number, time, text and whether it is a STOP.

    Replies to a test send are left out unless ``tests``: with the test message gone they would
    otherwise go to an earlier campaign message to the same number."""
    import ibis

    r = ev.filter((ev.event == "message-reply") & ev.phone.notnull())
    if not tests:
        r = r.filter(~_is_test_id(r.external_id))
    r = r.select(
        r_phone=r.phone,
        r_ms=ibis.coalesce(_sql.epoch_ms(r.occurred_at), _sql.epoch_ms(r.received_at), 0),
        r_text=r.text.fill_null(""),
    ).distinct()
    return r.mutate(r_stop=ibis.ifelse(_is_stop(r.r_text), 1, 0).cast("int64"))


def not_sent_expr(ev: ir.Table, sd: ir.Table) -> ir.Table:
    """Ledger rows in state failed/unknown that no delivery event names: sends that did not go."""
    import ibis

    led = sd.filter(sd.state.isin(list(NOT_SENT_LABELS)) & sd.phone.notnull())
    d = ev.filter(ev.event.isin(list(DELIVERY_EVENTS)))
    led = led.anti_join(d, [led.external_id == d.external_id, led.phone == d.phone])
    d2 = d.view()
    led = led.anti_join(d2, [led.message_id == d2.message_id, led.phone == d2.phone])
    sender = led.sender_name.nullif("")
    return led.select(
        sender_name=sender,
        route=ibis.ifelse(sender.notnull(), "unknown", "sms"),
        state=led.state,
        error=led.error,
        sent_ms=_sql.epoch_ms(led.sent_at),
    )
