"""failure_reasons: why messages did not arrive, per identity and route."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pandas as pd

from ..contract import statuses
from . import _join, _sql
from ._inputs import Engine
from ._join import NOT_SENT_LABELS
from ._messages import opened, run
from ._reduce import finish, message_rows, route_order

if TYPE_CHECKING:
    import ibis.expr.types as ir

_GROUP = ["sender_name", "route", "outcome", "status", "status_code"]


def _reasons() -> ir.Table:
    """Messages not delivered and ledger rows not sent, grouped, with their share."""
    import ibis

    msgs = message_rows()
    totals = msgs.group_by(["sender_name", "route"]).aggregate(total=msgs.count())
    totals = totals.select(t_sender=totals.sender_name, t_route=totals.route, total=totals.total)
    bad = msgs.filter(msgs.outcome != "delivered")
    reasons = bad.group_by(_GROUP).aggregate(messages=bad.count())
    reasons = reasons.mutate(state=ibis.null("string"), error=ibis.null("string"))
    led = _sql.placeholder(_join.NOT_SENT_SCHEMA, "not_sent")
    led = led.select(
        "sender_name",
        "route",
        outcome=ibis.literal("not-sent"),
        status=ibis.null("string"),
        status_code=ibis.null("string"),
        state=led.state,
        error=led.error,
    )
    sendfail = led.group_by(list(led.columns)).aggregate(messages=led.count())
    both = reasons.select(*sendfail.columns).union(sendfail)
    # null identities (plain SMS) must meet their totals too: compare with a placeholder
    both = both.left_join(
        totals,
        [
            both.sender_name.fill_null("\x00") == totals.t_sender.fill_null("\x00"),
            both.route == totals.t_route,
        ],
    )
    return both.select(
        *sendfail.columns,
        share=both.messages.cast("float64") / both.total.cast("float64"),
    )


def failure_reasons(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Why messages did not arrive: outcomes and documented statuses per identity and route.

    One row per ``sender_name`` × ``route`` × ``outcome`` × ``status`` × ``status_code`` (the
    deciding event's documented name and raw code) for messages not delivered, with ``label``
    (``contract.statuses.status_label``, e.g. "DELIVERY_REJECTED (blocked by the carrier)";
    "no status yet" for messages without a delivery status), ``messages`` and ``share`` (of that
    identity × route's messages). Ledger rows whose send itself did not go through (state
    ``failed`` or ``unknown``, no event) follow with outcome ``not-sent``, no status, a label
    from ``NOT_SENT_LABELS`` and the ledger's ``error`` text. Inputs as for
    :func:`delivery_report` (``events`` may be a ``Messages``).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"], "message_id": [7],
    ...     "phone": ["+13125550000"], "status": ["delivery_rejected"], "status_code": ["8"]})
    >>> failure_reasons(ev)[["outcome", "status_code", "label", "messages"]].to_dict("records")
    [{'outcome': 'failed', 'status_code': '8', 'label': 'DELIVERY_REJECTED (blocked by the \
carrier)', 'messages': 1}]
    """
    with opened(events, sends, engine, start=start, end=end) as msgs:
        df = run(msgs, "failures", _reasons)
    df["label"] = [
        NOT_SENT_LABELS[state]
        if isinstance(state, str)
        else statuses.status_label(status if isinstance(status, str) else None)
        for state, status in zip(df["state"], df["status"], strict=True)
    ]
    cols = [*_GROUP, "label", "error", "messages", "share"]
    df = finish(df, cols, ints=("messages",), keys=())
    order = {o: i for i, o in enumerate((*statuses.OUTCOMES, "not-sent"))}
    df["_o"] = df["outcome"].map(order)
    df["_r"] = route_order(df["route"])
    df = df.sort_values(
        ["sender_name", "_r", "_o", "messages", "status", "status_code", "error"],
        ascending=[True, True, True, False, True, True, True],
        na_position="last",
        kind="mergesort",
    )
    df = df.drop(columns=["_o", "_r"])
    return cast("pd.DataFrame", df.reset_index(drop=True))
