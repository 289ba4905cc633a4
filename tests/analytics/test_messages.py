"""Messages: the join kept in the backend; reducers on it (and on its filtered views) equal the
reducers on the raw inputs."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

import mta_notebook
from mta_notebook import ValidationError, analytics
from mta_notebook.analytics import Messages, _sql, delivery_report, failure_reasons, messages
from mta_notebook.analytics._inputs import default_duckdb
from tests.analytics.fixtures import T0, Log, phone

Frames = tuple[pd.DataFrame, pd.DataFrame]
# every reducer with the arguments that change its SQL most
CALLS: list[tuple[Callable[..., pd.DataFrame], dict[str, Any]]] = [
    (delivery_report, {}),
    (delivery_report, {"by": ["status", "route_basis"]}),
    (delivery_report, {"by": "outcome"}),
    (analytics.delivery_timeseries, {"freq": "30min"}),
    (failure_reasons, {}),
    (analytics.reply_report, {}),
    (analytics.reply_report, {"window": "48h"}),
    (analytics.fallback_summary, {}),
    (analytics.message_table, {}),
    (analytics.message_table, {"reply_window": "24h"}),
]
reply_report, fallback_summary, message_table = (
    analytics.reply_report,
    analytics.fallback_summary,
    analytics.message_table,
)
IDS = [f"{fn.__name__}-{i}" for i, (fn, _) in enumerate(CALLS)]
LATER = {"start": T0 + pd.Timedelta("30min"), "end": "2026-11-01 13:30"}


def _mta_relations(con: Any) -> set[str]:
    rows = con.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'mta_%'"
    ).fetchall()
    return {r[0] for r in rows}


def _replied_log() -> Frames:
    """Two identities, replies to both, and a send that failed."""
    log = Log()
    a, b, c = phone(1), phone(2), phone(3)
    log.send("r-1", 1, [a, b], sender="Acme", at=0)
    log.deliver("r-1", 1, a, "delivered", sender="Acme")
    log.deliver("r-1", 1, b, "delivered")
    log.send("r-2", 2, [a, c], sender="Acme Deals", at=600)
    log.deliver("r-2", 2, a, "delivered", at=600, sender="Acme Deals")
    log.reply(a, "thanks", at=700, sender="Acme Deals")
    log.reply(b, "STOP", at=800)
    log.send("r-3", 3, [phone(4)], sender="Acme", state="failed", at=900)
    return log.frames()


@pytest.fixture(scope="module")
def kept(frames: Frames) -> Messages:
    return messages(*frames)


@pytest.mark.parametrize(("fn", "kwargs"), CALLS, ids=IDS)
def test_reducers_on_messages_equal_reducers_on_inputs(
    fn: Callable[..., pd.DataFrame], kwargs: dict[str, Any], frames: Frames, kept: Messages
) -> None:
    expected = fn(*frames, **kwargs)
    assert not expected.empty
    pd.testing.assert_frame_equal(fn(kept, **kwargs), expected, check_exact=True)
    # start/end on a Messages, or where(start, end): the reducer's own window
    windowed = fn(*frames, **kwargs, **LATER)
    assert len(windowed) < len(expected) or fn is fallback_summary
    pd.testing.assert_frame_equal(fn(kept, **kwargs, **LATER), windowed, check_exact=True)
    pd.testing.assert_frame_equal(fn(kept.where(**LATER), **kwargs), windowed, check_exact=True)


def test_where_by_identity_and_route_keeps_those_rows(frames: Frames, kept: Messages) -> None:
    full = delivery_report(*frames)
    acme = delivery_report(kept.where(sender_names=["Acme"]))
    pd.testing.assert_frame_equal(acme, full[full.sender_name == "Acme"].reset_index(drop=True))
    no_identity = delivery_report(kept.where(sender_names=[None]))
    assert no_identity["sender_name"].isna().all()
    assert no_identity["messages"].sum() == full.loc[full.sender_name.isna(), "messages"].sum()
    both = kept.where(sender_names=["Acme Deals", None])
    assert set(message_table(both)["sender_name"].fillna("-")) == {"Acme Deals", "-"}
    # a route: the same counts; shares are of what is left
    counts = ["sender_name", "route", "messages", "delivered", "failed", "pending", "unmatched"]
    im = delivery_report(kept.where(routes="imessage"))
    expected = full.loc[full.route == "imessage", counts].reset_index(drop=True)
    pd.testing.assert_frame_equal(im[counts], expected)
    assert im["share"].tolist() == [1.0, 1.0]
    # the failures of one identity, the send that did not go out with its identity
    fr = failure_reasons(*frames)
    pd.testing.assert_frame_equal(
        failure_reasons(kept.where(sender_names=[None])),
        fr[fr.sender_name.isna()].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(
        failure_reasons(kept.where(routes=["sms"])), fr[fr.route == "sms"].reset_index(drop=True)
    )
    fs = fallback_summary(*frames)
    pd.testing.assert_frame_equal(
        fallback_summary(kept.where(sender_names="Acme Deals")),
        fs[fs.sender_name == "Acme Deals"].reset_index(drop=True),
    )
    assert delivery_report(kept.where(sender_names=[])).empty
    # a name that spells a placeholder of the SQL is only a name
    spelled = f'"{_sql.placeholder({"a": "string"}, "messages").get_name()}"'
    assert spelled.startswith('"__mta')
    assert delivery_report(kept.where(sender_names=["__mta_messages__", spelled[:12]])).empty


def test_where_narrows_step_by_step(kept: Messages) -> None:
    step = kept.where(sender_names=["Acme", "Acme Deals"], start=T0).where(
        sender_names=["Acme Deals", None], routes=["imessage", "sms"], end=LATER["end"]
    )
    once = kept.where(
        sender_names=["Acme Deals"], routes=["imessage", "sms"], start=T0, end=LATER["end"]
    )
    pd.testing.assert_frame_equal(step.df, once.df)
    assert step.sender_names == ("Acme Deals",)
    assert step.routes == ("imessage", "sms")
    assert (step.start, step.end) == (T0, pd.Timestamp(LATER["end"], tz="UTC"))
    assert repr(once).startswith("Messages('duckdb', sender_names=('Acme Deals',)")
    # where() without filters is the same selection; the kept table is not copied
    assert kept.where() is kept
    assert once.where() is once
    assert kept.where(start=T0).where(start=T0 - pd.Timedelta("1D")).start == T0


def test_filtered_replies_and_failures_on_a_small_log() -> None:
    events, sends = _replied_log()
    kept = messages(events, sends)
    for fn in (reply_report, failure_reasons, message_table):
        pd.testing.assert_frame_equal(fn(kept), fn(events, sends), check_exact=True)
    later = {"start": T0 + pd.Timedelta("5min")}
    pd.testing.assert_frame_equal(
        reply_report(kept.where(**later)), reply_report(events, sends, **later)
    )
    acme = reply_report(kept.where(sender_names="Acme"))
    assert acme[["route", "replies", "stops"]].to_dict("records") == [
        {"route": "imessage", "replies": 0, "stops": 0},
        {"route": "sms_fallback", "replies": 1, "stops": 1},
    ]
    not_sent = failure_reasons(kept.where(sender_names="Acme"))
    assert not_sent["outcome"].tolist() == ["not-sent"]
    assert failure_reasons(kept.where(start=T0 + pd.Timedelta("1h"))).empty


def test_the_join_is_kept_and_dropped_with_the_last_reference(
    frames: Frames, tmp_path: Path
) -> None:
    events, sends = frames
    ev_path, sd_path = tmp_path / "events.parquet", tmp_path / "sends.parquet"
    events.drop(columns=["tags", "raw"]).to_parquet(ev_path)
    sends.to_parquet(sd_path)
    con = default_duckdb()
    before = _mta_relations(con)
    kept = messages(ev_path, sd_path)
    expected = delivery_report(*frames)
    # the files are gone: the reducers read the kept messages, not the inputs
    ev_path.unlink()
    sd_path.unlink()
    pd.testing.assert_frame_equal(delivery_report(kept), expected)
    view = kept.where(routes="sms_fallback")
    assert len(view.df) == expected.loc[expected.route == "sms_fallback", "messages"].sum()
    made = _mta_relations(con) - before
    assert kept._name("messages") in made
    assert kept._name("replies") in made
    del kept, view
    gc.collect()
    assert not made & _mta_relations(con)
    # a call on raw inputs leaves nothing behind either
    before = _mta_relations(con)
    delivery_report(*frames, start=T0)
    failure_reasons(*frames)
    assert _mta_relations(con) <= before


def test_messages_on_a_connection_of_ones_own(frames: Frames, tmp_path: Path) -> None:
    events, sends = frames
    con = ibis.duckdb.connect()
    kept = messages(events, sends, engine=con)
    assert kept.backend is con
    pd.testing.assert_frame_equal(delivery_report(kept), delivery_report(*frames))
    events.drop(columns=["tags", "raw"]).to_parquet(tmp_path / "events.parquet")
    from_table = messages(con.read_parquet(tmp_path / "events.parquet"), sends)
    assert from_table.backend is con
    pd.testing.assert_frame_equal(message_table(from_table), message_table(events, sends))


def test_messages_refuse_a_second_ledger_or_engine(frames: Frames, kept: Messages) -> None:
    sends = frames[1]
    with pytest.raises(ValidationError, match="sends and engine must be None"):
        delivery_report(kept, sends)
    with pytest.raises(ValidationError, match="sends and engine must be None"):
        failure_reasons(kept, engine="duckdb")
    with pytest.raises(ValidationError, match="not routes"):
        kept.where(routes=["carrier pigeon"])
    with pytest.raises(ValidationError, match="start"):
        kept.where(start="not a date")
    with pytest.raises(ValidationError, match="DataFrame"):
        messages([1, 2])
    assert mta_notebook.Messages is Messages
    assert mta_notebook.messages is messages
