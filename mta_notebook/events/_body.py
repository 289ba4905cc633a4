"""Where one webhook body keeps each value, read in Python by the contract's field tables.

The log reader's SQL (:mod:`._sql`) applies the same tables to millions of lines; these are the
single-body readers the models (:mod:`._models`) and the reader's error messages use, so the
"first present field" rule is written once for Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..contract.events import DATE_FIELDS, PHONE_FIELDS, REPLY_TEXT_FIELDS, EventName

__all__ = ["first_present", "phone_value", "reply_text_value", "time_field"]


def first_present(body: Mapping[str, Any], fields: Iterable[str]) -> Any:
    """The value of the first of ``fields`` that ``body`` has and is not null (else ``None``)."""
    return next((body[f] for f in fields if body.get(f) is not None), None)


def phone_value(body: Mapping[str, Any], event: EventName) -> Any:
    """The subscriber's phone as written: the first present field of ``PHONE_FIELDS[event]``."""
    return first_present(body, PHONE_FIELDS[event])


def reply_text_value(body: Mapping[str, Any]) -> Any:
    """A reply's text: the first present field of ``REPLY_TEXT_FIELDS``."""
    return first_present(body, REPLY_TEXT_FIELDS)


def time_field(body: Mapping[str, Any]) -> str | None:
    """The field of ``DATE_FIELDS`` the body's own time is in: the first present one that is
    not blank text (``None`` for a body without a time, such as a V1 delivery-status).

    >>> time_field({"date": " ", "timestamp": 1764200000}), time_field({"status": 4})
    ('timestamp', None)
    """
    for name in DATE_FIELDS:
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return name
    return None
