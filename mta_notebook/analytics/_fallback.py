"""fallback_summary: per Sender Identity, the share of messages that went by iMessage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ._inputs import Engine
from ._messages import opened, run
from ._reduce import finish, message_rows

if TYPE_CHECKING:
    import ibis.expr.types as ir

_COUNTS = ("recipients", "messages", "imessage", "sms_fallback", "unknown_route")


def fallback_summary(
    events: object,
    sends: object | None = None,
    *,
    start: object = None,
    end: object = None,
    engine: Engine = None,
) -> pd.DataFrame:
    """Per Sender Identity: how many recipients, and what share went by iMessage or fell back.

    Returns ``sender_name``, ``recipients`` (distinct numbers), ``messages``, ``imessage``,
    ``sms_fallback``, ``unknown_route`` (messages with no event yet), ``imessage_share`` and
    ``fallback_share`` (of the identity's messages whose route is known) and
    ``recipients_imessage`` (numbers reached by iMessage at least once). Inputs as for
    :func:`delivery_report` (``events`` may be a ``Messages``).

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["message-send"] * 2, "message_id": [7, 7],
    ...     "phone": ["+13125550000", "+13125550001"], "sender_name": ["Acme", None]})
    >>> sends = pd.DataFrame({"message_id": [7, 7], "phone": ["+13125550000", "+13125550001"],
    ...     "sender_name": ["Acme", "Acme"], "state": ["sent", "sent"]})
    >>> fallback_summary(ev, sends)[["sender_name", "imessage", "sms_fallback"]].to_dict("records")
    [{'sender_name': 'Acme', 'imessage': 1, 'sms_fallback': 1}]
    """

    def build() -> ir.Table:
        import ibis

        msgs = message_rows()
        msgs = msgs.filter(msgs.sender_name.notnull())
        is_im = msgs.route == "imessage"
        agg = msgs.group_by("sender_name").aggregate(
            recipients=msgs.phone.nunique(),
            messages=msgs.count(),
            imessage=ibis.ifelse(is_im, 1, 0).sum().cast("int64"),
            sms_fallback=ibis.ifelse(msgs.route == "sms_fallback", 1, 0).sum().cast("int64"),
            unknown_route=ibis.ifelse(msgs.route == "unknown", 1, 0).sum().cast("int64"),
            recipients_imessage=msgs.phone.nunique(where=is_im),
        )
        known = (agg.imessage + agg.sms_fallback).cast("float64").nullif(0.0)
        return agg.mutate(
            imessage_share=agg.imessage.cast("float64") / known,
            fallback_share=agg.sms_fallback.cast("float64") / known,
        )

    timed = start is not None or end is not None
    with opened(events, sends, engine, start=start, end=end, detail=False, times=timed) as msgs:
        df = run(msgs, "fallback", build)
    cols = [*_COUNTS, "imessage_share", "fallback_share", "recipients_imessage"]
    return finish(
        df, ["sender_name", *cols], ints=(*_COUNTS, "recipients_imessage"), keys=("sender_name",)
    )
