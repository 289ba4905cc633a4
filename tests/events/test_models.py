"""The single-body models and the log reader apply one set of rules: on any body they agree on
the event, the phone (as ``normalize_phone`` gives it), the time, the status, the reply text
and the sender name."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mta_notebook.contract import events, routes
from mta_notebook.contract.phones import normalize_phone
from mta_notebook.events import (
    DeliveryStatusEvent,
    MessageReplyEvent,
    parse_event,
    read_bodies,
)
from mta_notebook.events._body import first_present, time_field

_PHONE_FIELDS = sorted({f for fields in events.PHONE_FIELDS.values() for f in fields})
_PHONES = ["+13125550123", "(312) 555-0124", "3125550125", "+13125550126", "12", ""]
_TIMES = ["2026-11-27T05:00:00Z", "2026-11-27 05:00:00", "1764200000", "", " ", "soon"]


def _optional(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(values))


def _bodies() -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = dict.fromkeys(_PHONE_FIELDS, _optional(_PHONES))
    optional |= dict.fromkeys(
        events.DATE_FIELDS, st.one_of(_optional(_TIMES), st.integers(0, 2 * 10**12))
    )
    optional |= dict.fromkeys(events.REPLY_TEXT_FIELDS, _optional(["STOP", "hi", ""]))
    optional[routes.ROUTE_EVIDENCE_FIELD] = _optional(["Acme", "", " "])
    optional["optInType"] = _optional(["inbound-message"])
    optional["status"] = st.one_of(
        st.none(), st.integers(1, 8), st.sampled_from(["Delivered", "sent", "bounced"])
    )
    optional["type"] = _optional(sorted(events.MTA_TYPES))
    return st.fixed_dictionaries({}, optional=optional)


@settings(max_examples=80, deadline=None)
@given(st.lists(_bodies(), min_size=1, max_size=20))
def test_models_and_reader_agree(bodies: list[dict[str, Any]]) -> None:
    log = read_bodies([json.dumps(b) for b in bodies])
    kept = {int(r["source"].rsplit(":", 1)[1]) - 1: r for r in log.df.to_dict("records")}
    for i, body in enumerate(bodies):
        if events.infer_event(body) is None:
            assert i not in kept
            continue
        try:
            model = parse_event(body)
        except ValueError:  # the models check types too (a number where text is due)
            continue
        if i not in kept:
            continue
        row = kept[i]
        assert row["event"] == model.EVENT
        assert row["phone"] == normalize_phone(model.phone)
        when = model.occurred_at()
        assert row["dated"] == (when is not None)
        if when is not None:
            assert row["occurred_at"] == pd.Timestamp(when)
        sender = model.sender_name
        want_sender = sender if sender is not None and str(sender).strip() else None
        assert (None if pd.isna(row["sender_name"]) else row["sender_name"]) == (
            None if want_sender is None else str(want_sender)
        )
        if isinstance(model, DeliveryStatusEvent):
            assert row["status"] == model.status_info.status
            assert row["outcome"] == model.status_info.outcome
        if isinstance(model, MessageReplyEvent):
            assert (None if pd.isna(row["text"]) else row["text"]) == model.reply_text


def test_first_present_and_time_field() -> None:
    assert first_present({"a": None, "b": 0, "c": 1}, ["a", "b", "c"]) == 0
    assert first_present({}, ["a"]) is None
    assert time_field({"date": "", "timestamp": "x"}) == "timestamp"
    assert time_field({"date": 0}) == "date"
    assert time_field({"date": None, "timestamp": " "}) is None
