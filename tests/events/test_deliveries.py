"""``fetch_deliveries`` builds Events rows directly; they equal what reading the same rows as
delivery-status bodies gives (the way it worked before, kept here as the reference)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta_notebook import Client, EventLog, fetch_deliveries
from mta_notebook._models import Delivery
from mta_notebook.contract import routes, statuses
from mta_notebook.contract.assumptions import DELIVERIES_NAME_FOR_CODE
from mta_notebook.contract.events import DATE_FIELDS, MTA_TYPES
from mta_notebook.events import read_bodies
from mta_notebook.events._deliveries import deliveries_log
from mta_notebook.events._register import field_of

_DS_TYPE = next(t for t, e in MTA_TYPES.items() if e == "delivery-status")


def _as_bodies(rows: list[Any]) -> EventLog:
    """The former ``fetch_deliveries``: each row written as a delivery-status body and read."""
    bodies = []
    for row in rows:
        date = field_of(row, "date")
        body = {
            "type": _DS_TYPE,
            "messageId": field_of(row, "message_id"),
            "externalId": field_of(row, "external_id"),
            "destinationNumber": field_of(row, "number"),
            "status": field_of(row, "status"),
            DATE_FIELDS[0]: date.isoformat() if hasattr(date, "isoformat") else date,
            routes.EXPLICIT_ROUTE_FIELDS[0]: "unknown",
        }
        bodies.append(json.dumps(body, separators=(",", ":")))
    return read_bodies(bodies, source="deliveries")


def _raw(row: Any) -> str:
    body = row.to_dict() if hasattr(row, "to_dict") else dict(row)
    return json.dumps(body, separators=(",", ":"), default=str)


def _assert_same(rows: list[Any]) -> EventLog:
    """Every column equal to the reference's; ``raw`` is the row as MTA sent it."""
    got, want = deliveries_log(rows), _as_bodies(rows)
    kept = [int(s.rsplit(":", 1)[1]) - 1 for s in got.df["source"]]
    assert got.df["raw"].tolist() == [_raw(rows[i]) for i in kept]
    pd.testing.assert_frame_equal(got.df.drop(columns="raw"), want.df.drop(columns="raw"))
    # raw_bytes is the length of raw, which differs by design
    unlike = ["raw", "raw_bytes"]
    pd.testing.assert_frame_equal(
        got.rejected.drop(columns=unlike), want.rejected.drop(columns=unlike)
    )
    return got


ROWS: list[dict[str, Any]] = [
    {
        "message_id": 1,
        "external_id": "a",
        "number": "+13125550123",
        "status": "Delivered",
        "date": "2026-11-27T05:02:57Z",
    },
    {
        "message_id": 2,
        "external_id": None,
        "number": "(312) 555-0124",
        "status": 4,
        "date": "2026-11-27 05:02:57",
    },  # naive: the contract's zone
    {
        "message_id": 3,
        "external_id": "c",
        "number": "3125550125",
        "status": "undeliverable",
        "date": "2026-11-27T05:02:57-05:00",
    },
    {
        "message_id": 4,
        "external_id": "d",
        "number": "+13125550126",
        "status": "bounced",
        "date": None,
    },  # an unknown name: kept, outcome unknown; no date: not dated
    {
        "message_id": 5,
        "external_id": "e",
        "number": "+13125550127",
        "status": None,
        "date": "2026-11-27T05:02:57Z",
    },  # missing-field
    {
        "message_id": 6,
        "external_id": "f",
        "number": None,
        "status": "sent",
        "date": "2026-11-27T05:02:57Z",
    },  # missing-field
    {
        "message_id": 7,
        "external_id": "g",
        "number": "12",
        "status": "sent",
        "date": "2026-11-27T05:02:57Z",
    },  # bad-field: not a phone
    {
        "message_id": 8,
        "external_id": "h",
        "number": "+13125550128",
        "status": "sent",
        "date": "yesterday",
    },  # bad-field: not a time
    {
        "message_id": "9",
        "external_id": 42,
        "number": 3125550129,
        "status": " 7 ",
        "date": "1764200000",
    },  # text id, numeric external id and number, epoch seconds
    {
        "message_id": "x9",
        "external_id": "i",
        "number": "+13125550129",
        "status": "sent",
        "date": "2026-11-27T05:02:57Z",
    },  # bad-field: not an integer id
    {
        "message_id": 1,
        "external_id": "a",
        "number": "+13125550123",
        "status": "Delivered",
        "date": "2026-11-27T05:02:57Z",
    },  # the first row again: a duplicate
    {"message_id": 10, "external_id": "j", "number": "", "status": "", "date": " "},
]


def test_rows_equal_the_bodies_reading_on_every_case() -> None:
    log = _assert_same(ROWS)
    assert sorted(set(log.rejected["reason"])) == [
        "bad-field",
        "duplicate",
        "missing-field",
    ]
    assert len(log.df) + len(log.rejected) == len(ROWS)
    assert log.df["route"].eq("unknown").all()


def test_models_equal_the_bodies_reading() -> None:
    models = [
        Delivery.model_validate(
            {
                "messageId": 7,
                "toNumber": 3125550123,
                "externalId": 42,
                "status": "Undeliverable",
                "date": "2026-11-27T05:02:57Z",
                "extra": [1],
            }
        ),
        Delivery.model_validate({"messageId": 8, "number": "+13125550124", "status": 3}),
    ]
    log = _assert_same(models)
    assert json.loads(log.df["raw"].iloc[0])["toNumber"] == 3125550123


def test_no_rows_is_an_empty_log() -> None:
    log = deliveries_log([])
    assert log.df.empty
    assert log.rejected.empty
    assert list(log.df.columns) == list(_as_bodies([]).df.columns)


_values = st.one_of(st.none(), st.integers(-3, 40), st.text(max_size=12))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "message_id": st.one_of(st.none(), st.integers(0, 10**12)),
                "external_id": st.one_of(st.none(), st.text(max_size=8)),
                "number": st.one_of(
                    st.none(), st.sampled_from(["+13125550123", "3125550199", "555", ""])
                ),
                "status": _values,
                "date": st.one_of(
                    st.none(),
                    st.sampled_from(["2026-11-27T05:02:57Z", "2026-03-08 02:30:00", "x", ""]),
                    st.integers(0, 2 * 10**12).map(str),
                ),
            }
        ),
        max_size=12,
    )
)
def test_arbitrary_rows_equal_the_bodies_reading(rows: list[dict[str, Any]]) -> None:
    _assert_same(rows)


@pytest.fixture(scope="module")
def sb(start_module_sandbox: Any) -> Any:
    return start_module_sandbox(seed=11, time_scale=1000)


def test_sandbox_deliveries_equal_the_bodies_reading(sb: Any) -> None:
    sb.reset()
    phones = [f"+1312555{n:04d}" for n in range(2000, 2030)]
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        client.send(subscribers=phones[:20], message="hi", external_id="eq-1")
        client.send(subscribers=phones[20:], message="hi", sender_name="Acme", external_id="eq-2")
        sb.settle()
        rows = list(client.iter_deliveries(start="2000-01-01", end="2100-01-01"))
        log = fetch_deliveries(client, "2000-01-01", "2100-01-01")
    assert len(rows) == 30
    pd.testing.assert_frame_equal(log.df, deliveries_log(rows).df)
    _assert_same(rows)


def test_fetch_deliveries_fills_the_events_table(sb: Any) -> None:
    sb.reset()
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        client.send(subscribers=["+13125550123", "+13125550124"], message="hi", external_id="d-1")
        sb.settle()
        log = fetch_deliveries(client, "2000-01-01", "2100-01-01")
    # /deliveries lists a message under one of its six filter names, not the webhook code
    truth = {r["phone"]: DELIVERIES_NAME_FOR_CODE[r["status_code"]] for r in sb.ground_truth()}
    assert (len(log.df), len(log.rejected)) == (2, 0)
    assert dict(zip(log.df["phone"], log.df["status"], strict=True)) == truth
    outcomes = {s.key: s.outcome for s in statuses.DELIVERIES_FILTER_STATUSES}
    assert log.df["outcome"].tolist() == [outcomes[s] for s in log.df["status"]]
    assert log.df["route"].eq("unknown").all()
    assert log.df["external_id"].eq("d-1").all()
    assert log.df["dated"].all()
