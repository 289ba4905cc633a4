"""The status tables one read maps ``status`` with: MTA's documented codes and names
(``contract.statuses``), with a user's ``status_map`` added or read differently."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ValidationError
from ..contract import statuses
from ..contract.statuses import Status

__all__ = ["StatusTables", "status_tables"]


@dataclass(frozen=True)
class StatusTables:
    """The code and name tables the reader maps ``status`` with."""

    codes: Mapping[int, Status]
    names: Mapping[str, Status]

    def outcomes(self) -> dict[str, str]:
        """Documented lower-snake name -> outcome, for every status the tables can give.

        A name means one outcome wherever it appears (``contract.statuses``: the ``/deliveries``
        names that are also webhook statuses agree with them).
        """
        return {s.key: s.outcome for s in (*self.codes.values(), *self.names.values())}


def status_tables(status_map: Mapping[Any, str] | None = None) -> StatusTables:
    """The contract's status tables, with ``status_map``'s codes and names added or replaced.

    Keys are codes (ints or digit strings) or names (any case); each value must be a documented
    status (its name in any case, or its code), whose outcome comes with it.

    >>> t = status_tables({14: "delivery_failed", "Bounced": "Undeliverable"})
    >>> t.codes[14].key, t.names["bounced"].key, t.names["bounced"].outcome
    ('delivery_failed', 'undeliverable', 'failed')
    """
    codes = dict(statuses.STATUS_BY_CODE)
    names = dict(statuses.STATUS_BY_NAME)
    for key, value in (status_map or {}).items():
        text = str(value).strip()
        target = (
            statuses.STATUS_BY_CODE.get(int(text))
            if re.fullmatch(statuses.CODE_PATTERN, text)
            else statuses.STATUS_BY_NAME.get(statuses.status_key(text))
        )
        if target is None:
            known = ", ".join(sorted(statuses.STATUS_BY_NAME))
            raise ValidationError(
                f"status_map: {value!r} is not a documented status name; use one of {known}"
            )
        if isinstance(key, str) and not re.fullmatch(statuses.CODE_PATTERN, key.strip()):
            if not statuses.status_key(key):
                raise ValidationError("status_map: a key is blank")
            names[statuses.status_key(key)] = target
        elif isinstance(key, bool) or (not isinstance(key, str) and not hasattr(key, "__index__")):
            raise ValidationError(f"status_map: key {key!r} is neither a code nor a name")
        else:
            codes[int(key)] = target
    return StatusTables(codes, names)
