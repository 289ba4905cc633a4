"""The predicted iMessage share of a send: which planned numbers can get iMessage from it.

``reachable`` is a DataFrame with ``phone`` and ``sender_name``: one row per number that can
get iMessage from that identity now (``mta.reachable(events)`` builds it from the
``number-opt-in`` events). The prediction is a count over this send's own recipients, not an
estimate from a sample, so it has no interval.

>>> import pandas as pd
>>> reach = pd.DataFrame({"phone": ["+13125550101", "+13125550102"], "sender_name": "Acme"})
>>> predicted_imessage(reach, pd.Series(["+13125550101", "+13125550199"]), "Acme")
(1, 2)
>>> share_text((1, 2))
'50.0 % (1/2)'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .._errors import CampaignError
from ..display._words import percent

__all__ = ["predicted_imessage", "share_text"]


def predicted_imessage(
    reachable: Any, phones: pd.Series, sender_name: str | None
) -> tuple[int, int] | None:
    """``(n, N)``: how many of the ``N`` distinct ``phones`` are in ``reachable`` for
    ``sender_name``; None without ``reachable`` or an identity name."""
    if reachable is None or sender_name is None:
        return None
    if not isinstance(reachable, pd.DataFrame) or not {"phone", "sender_name"} <= set(
        reachable.columns
    ):
        got = list(reachable.columns) if isinstance(reachable, pd.DataFrame) else type(reachable)
        raise CampaignError(
            "reachable= must be a DataFrame with 'phone' and 'sender_name' columns (one row per "
            f"number that can get iMessage from that identity), got {got!r}. Build it with "
            "mta.reachable(events) from the webhook log."
        )
    mine = reachable.loc[reachable["sender_name"].astype("string") == sender_name, "phone"]
    audience = pd.Series(phones, dtype="string").dropna().drop_duplicates()
    n = int(audience.isin(set(mine.astype("string").dropna())).sum())
    return n, len(audience)


def share_text(pair: tuple[int, int] | None) -> str | None:
    """``'48.9 % (45/92)'``; None when there is nothing to say."""
    if pair is None:
        return None
    n, total = pair
    if total == 0:
        return f"no recipients ({n}/{total})"
    return percent(n / total, n, total)
