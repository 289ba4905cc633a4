"""The dashboard's object logic, without a browser: filters, tiles, figures, failures, downloads."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mta_notebook.dashboard import FAILURE_COLUMNS, NO_IDENTITY, Dashboard

# Statuses used below with their code and outcome, from MTA's documented table (mta-api.md §0a).
DOCUMENTED = {
    "sent": ("3", "pending"),
    "delivered": ("4", "delivered"),
    "delivery_unconfirmed": ("7", "unconfirmed"),
    "delivery_rejected": ("8", "failed"),
    "undelivered": ("9", "failed"),
    "invalid_number": ("10", "failed"),
}
DAY = {"c1": datetime(2026, 11, 20, 14, tzinfo=timezone.utc)}
DAY["c2"] = DAY["c1"] + timedelta(days=1)
DAY["c3"] = DAY["c1"] + timedelta(days=2)


def _phone(i: int) -> str:
    return f"+1312555{i:04d}"


def synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three sends: Acme (6 iMessage, 4 fallback), Acme Deals (3 + 4), plain SMS (4).

    Final statuses: Acme iMessage 5 delivered + 1 invalid number, Acme fallback 3 delivered +
    1 undelivered; Deals iMessage 2 delivered + 1 unconfirmed, Deals fallback 2 delivered +
    1 rejected + 1 still pending; plain SMS 3 delivered + 1 undelivered. Replies: "STOP" and
    "Thanks" on Acme, " stop." on plain SMS. One opt-in to Acme. One duplicated webhook and one
    late "sent".
    """
    plan = {
        # campaign: (identity, message_id, [(route, final status or None)])
        "c1": ("Acme", 501, [("imessage", "delivered")] * 5 + [("imessage", "invalid_number")]
               + [("sms", "delivered")] * 3 + [("sms", "undelivered")]),
        "c2": ("Acme Deals", 502, [("imessage", "delivered")] * 2
               + [("imessage", "delivery_unconfirmed")] + [("sms", "delivered")] * 2
               + [("sms", "delivery_rejected"), ("sms", None)]),
        "c3": (None, 503, [("sms", "delivered")] * 3 + [("sms", "undelivered")]),
    }  # fmt: skip
    sends: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    n = 0

    def event(kind: str, at: datetime, **fields: Any) -> None:
        row = {
            "event": kind,
            "occurred_at": at,
            "received_at": at + timedelta(seconds=1),
            "message_id": None,
            "external_id": None,
            "phone": None,
            "sender_name": None,
            "status_code": None,
            "status": None,
            "outcome": "pending" if kind == "message-send" else None,
            "route": "sms",
            "is_final": False,
            "text": None,
            "tags": None,
            "source": f"synthetic.jsonl:{len(events) + 1}",
        }
        row.update(fields)
        row["raw"] = json.dumps({k: str(v) for k, v in row.items()})
        events.append(row)

    for campaign, (identity, message_id, recipients) in plan.items():
        sent_at = DAY[campaign]
        for route, final in recipients:
            n += 1
            phone = _phone(n)
            ext = f"{campaign}-00000"
            sends.append(
                {
                    "campaign_id": campaign,
                    "chunk": 0,
                    "external_id": ext,
                    "message_id": message_id,
                    "phone": phone,
                    "sender_name": identity,
                    "longcode_id": None if identity else 100,
                    "sent_at": sent_at,
                    "state": "sent",
                    "error": None,
                }
            )
            name = identity if route == "imessage" else None
            common = {"message_id": message_id, "external_id": ext, "phone": phone}
            common["sender_name"] = name
            common["route"] = route
            at = sent_at + timedelta(seconds=n)
            event("message-send", at, **common)
            event("delivery-status", at + timedelta(seconds=2), status="sent", status_code="3",
                  outcome="pending", **common)  # fmt: skip
            if final is not None:
                final_at = at + timedelta(seconds=30)
                code, outcome = DOCUMENTED[final]
                fin = {**common, "status": final, "status_code": code, "outcome": outcome}
                event("delivery-status", final_at, is_final=outcome != "pending", **fin)
    # a duplicated final webhook and a late, reordered "sent" after a final "undelivered"
    events.append(dict(events[-1], source="synthetic.jsonl:dup"))
    late = dict(events[-1], status="sent", status_code="3", outcome="pending", is_final=False)
    late["source"] = "late"
    late["occurred_at"] = late["occurred_at"] + timedelta(minutes=5)
    events.append(late)
    for phone_n, text, campaign in ((1, "STOP", "c1"), (2, "Thanks!", "c1"), (18, " stop.", "c3")):
        ext = f"{campaign}-00000"
        event(
            "message-reply",
            DAY[campaign] + timedelta(minutes=10),
            message_id={"c1": 501, "c3": 503}[campaign],
            external_id=ext,
            phone=_phone(phone_n),
            sender_name="Acme" if phone_n == 1 else None,
            route="imessage" if phone_n == 1 else "sms",
            text=text,
        )
    event("number-opt-in", DAY["c1"] - timedelta(hours=1), phone=_phone(99), sender_name="Acme")

    ev = pd.DataFrame(events)
    ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
    ev["received_at"] = pd.to_datetime(ev["received_at"], utc=True)
    ev["message_id"] = ev["message_id"].astype("Int64")
    ev["is_final"] = ev["is_final"].astype(bool)
    sd = pd.DataFrame(sends)
    sd["sent_at"] = pd.to_datetime(sd["sent_at"], utc=True)
    sd["message_id"] = sd["message_id"].astype("Int64")
    sd["longcode_id"] = sd["longcode_id"].astype("Int64")
    return ev, sd


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic()


@pytest.fixture(scope="module")
def shared_dash(data: tuple[pd.DataFrame, pd.DataFrame]) -> Dashboard:
    events, sends = data
    return Dashboard(events, sends, title="Test dashboard")


@pytest.fixture
def dash(shared_dash: Dashboard) -> Dashboard:
    """One dashboard for the module (building it runs the analytics), reset for each test."""
    shared_dash.reset_filters()
    assert shared_dash.filters.identities is None
    assert shared_dash.tiles["messages"] == 21
    return shared_dash


def _fig_data(dash: Dashboard) -> dict[str, list[Any]]:
    return {
        name: [(tuple(t.x if t.x is not None else ()), tuple(t.y if t.y is not None else ()))
               for t in fig.data]
        for name, fig in dash.figures.items()
    }  # fmt: skip


def test_identities_and_default_filters(dash: Dashboard) -> None:
    assert dash.identities == ("Acme", "Acme Deals", NO_IDENTITY)
    assert dash.filters.identities is None
    assert dash.filters.route == "all"
    assert dash.start_picker.value == date(2026, 11, 20)
    assert dash.end_picker.value == date(2026, 11, 22)
    assert dash.filters.freq == "1D"  # two days of data
    assert set(dash.figures) == {
        "delivery_rates",
        "route_mix",
        "delivery_over_time",
        "failure_reasons",
        "replies",
        "time_to_deliver",
    }


def test_tiles_all(dash: Dashboard) -> None:
    t = dash.tiles
    assert t["messages"] == 21
    # the unconfirmed Deals message is in neither side of the iMessage rate
    assert t["imessage_rate"] == pytest.approx(7 / 8)
    assert t["fallback_rate"] == pytest.approx(5 / 7)
    assert t["fallback_share"] == pytest.approx(8 / 17)
    assert (t["unconfirmed"], t["pending"]) == (1, 1)
    assert t["replies"] == 3
    assert t["stop_replies"] == 2  # "STOP" and " stop." (contract.keywords normalises it)
    assert t["stop_rate"] == pytest.approx(2 / 21)
    html = dash.tile_widgets["imessage_rate"].value
    assert "iMessage delivery" in html
    assert "87.5 %" in html
    assert "7 of 8 settled" in html
    assert "no answer from the carrier" in dash.tile_widgets["unconfirmed"].value


def test_identity_filter_changes_tiles_and_figures_in_place(dash: Dashboard) -> None:
    before = _fig_data(dash)
    widgets = dict(dash.chart_widgets)
    revisions = {n: w.revision for n, w in widgets.items()}
    dash.identity_picker.value = ("Acme",)  # as a user clicking in the browser would
    assert dash.filters.identities == ("Acme",)
    t = dash.tiles
    assert t["messages"] == 10
    assert t["imessage_rate"] == pytest.approx(5 / 6)
    assert t["fallback_rate"] == pytest.approx(3 / 4)
    assert t["fallback_share"] == pytest.approx(4 / 10)
    assert t["replies"] == 2
    assert t["stop_rate"] == pytest.approx(1 / 10)
    after = _fig_data(dash)
    assert after["delivery_rates"] != before["delivery_rates"]
    assert after["route_mix"] != before["route_mix"]
    # each chart's widget is the one built with the dashboard, redrawn in its slot
    assert list(dash._chart_grid.children) == [widgets[n] for n in widgets]
    assert dash.chart_widgets == widgets
    assert all(w.revision == revisions[n] + 1 for n, w in widgets.items())
    assert widgets["delivery_rates"].figure["data"][0]["x"] == ["Acme"]
    dash.set_filters(route="imessage")
    xs = {x for trace in dash.figures["delivery_rates"].data for x in trace.x}
    assert xs == {"Acme"}
    assert set(dash.report["sender_name"].dropna()) <= {"Acme"}


def test_route_filter(dash: Dashboard) -> None:
    dash.set_filters(route="imessage")
    assert dash.route_picker.value == "imessage"
    t = dash.tiles
    assert t["messages"] == 9
    assert t["unconfirmed"] == 1
    assert t["fallback_rate"] is None
    assert t["fallback_share"] == 0
    assert set(dash.report["route"]) == {"imessage"}
    assert "–" in dash.tile_widgets["fallback_rate"].value
    dash.set_filters(route="sms")
    assert dash.tiles["messages"] == 4
    assert set(dash.filtered_sends["campaign_id"]) == {"c3"}


def test_date_filter_and_granularity(dash: Dashboard) -> None:
    dash.set_filters(start=date(2026, 11, 22), end=date(2026, 11, 22), freq="1h")
    assert dash.freq_picker.value == "1h"
    assert dash.tiles["messages"] == 4
    assert dash.tiles["replies"] == 1
    assert set(dash.filtered_sends["campaign_id"]) == {"c3"}
    dash.end_picker.value = date(2026, 11, 21)  # start after end: nothing selected
    assert dash.tiles["messages"] == 0
    assert dash.tiles["imessage_rate"] is None
    assert dash.failures.empty
    assert "No failed recipients" in dash.failures_table.value


def test_no_identity_selected_is_empty_not_an_error(dash: Dashboard) -> None:
    dash.identity_picker.value = ()
    assert dash.tiles["messages"] == 0
    assert dash.filtered_events["event"].tolist() == []


def test_unknown_filter_values_are_rejected(dash: Dashboard) -> None:
    with pytest.raises(ValueError, match="unknown identities"):
        dash.set_filters(identities=["Nope"])
    with pytest.raises(ValueError, match="route must be one of"):
        dash.set_filters(route="fax")  # type: ignore[arg-type]


def test_failures_table_final_status_wins(dash: Dashboard) -> None:
    fail = dash.failures
    assert list(fail.columns) == list(FAILURE_COLUMNS)
    # the late "sent" after the final "undelivered" does not hide that failure; dup counts once
    statuses = ["delivery_rejected", "invalid_number", "undelivered", "undelivered"]
    assert sorted(fail["status"]) == statuses
    assert dict(zip(fail["status"], fail["route"], strict=True))["invalid_number"] == "imessage"
    assert set(fail["identity"]) == {"Acme", "Acme Deals", NO_IDENTITY}
    assert set(fail["outcome"]) == {"failed"}  # unconfirmed and pending are no failures
    shown = dash.failures_table.value
    assert "mta-failures" in shown
    assert "INVALID_NUMBER (not a valid number)" in shown
    assert "<td>iMessage</td>" in shown  # routes by their one label table
    dash.set_filters(identities=["Acme Deals"])
    assert dash.failures["status"].tolist() == ["delivery_rejected"]
    assert dash.failures["label"].tolist() == ["DELIVERY_REJECTED (blocked by the carrier)"]
    assert dash.failures["route"].tolist() == ["sms_fallback"]


def test_failed_send_call_is_listed(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, sends = data
    failed = sends.iloc[[0]].assign(
        external_id="c1-00001", message_id=pd.array([pd.NA], dtype="Int64"), phone=_phone(50),
        state="failed", error="HTTP 500 from /send",
    )  # fmt: skip
    dash = Dashboard(events, pd.concat([sends, failed], ignore_index=True))
    rows = dash.failures[dash.failures["outcome"] == "not-sent"]
    assert rows["phone"].tolist() == [_phone(50)]
    assert rows["error"].tolist() == ["HTTP 500 from /send"]
    assert rows["label"].tolist() == ["not sent: the /send call failed"]
    assert rows["status"].isna().all()


def test_csv_download_is_the_filtered_table(dash: Dashboard) -> None:
    dash.set_filters(identities=["Acme"])
    dash.csv_button.click()
    assert dash.last_download is not None
    name, content = dash.last_download
    assert name == "failures.csv"
    back = pd.read_csv(io.BytesIO(content))
    assert list(back.columns) == list(FAILURE_COLUMNS)
    assert sorted(back["status"]) == ["invalid_number", "undelivered"]
    assert set(back["identity"]) == {"Acme"}


def test_report_download(dash: Dashboard) -> None:
    dash.report_button.click()
    assert dash.last_download is not None
    name, content = dash.last_download
    assert name == "delivery_report.html"
    text = content.decode("utf-8")
    assert "Test dashboard" in text
    assert "<html" in text.lower()


def test_displays_as_a_widget(dash: Dashboard) -> None:
    bundle = dash._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dash.widget.model_id
    assert "Dashboard(messages=21" in repr(dash)


def test_events_without_ledger(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, _ = data
    dash = Dashboard(events)
    # without the ledger, SMS fallback cannot be told from plain SMS: the route is unknown
    assert dash.tiles["messages"] == 21
    assert dash.tiles["fallback_share"] == 0
    assert set(dash.report["route"]) == {"imessage", "unknown"}
    assert "unknown" in [value for _, value in dash.route_picker.options]
    assert dash.identities == ("Acme", "Acme Deals", NO_IDENTITY)


def test_tables_match_the_analytics(
    dash: Dashboard, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Unfiltered, the in-memory aggregates equal what mta_notebook.analytics computes."""
    from mta_notebook import analytics

    events, sends = data
    dash.set_filters(freq="1D")
    pairs = {
        "report": (dash.report_table(), analytics.delivery_report(events, sends)),
        "timeseries": (
            dash.timeseries_table(),
            analytics.delivery_timeseries(events, sends, freq="1D"),
        ),
        "failures": (dash.failure_reasons_table(), analytics.failure_reasons(events, sends)),
        "replies": (dash.reply_table(), analytics.reply_report(events, sends)),
    }
    for name, (ours, theirs) in pairs.items():
        assert list(ours.columns) == list(theirs.columns), name
        pd.testing.assert_frame_equal(
            ours.astype(object).where(ours.notna(), None),
            theirs.astype(object).where(theirs.notna(), None),
            check_dtype=False,
            obj=name,
        )


def test_from_files_missing_paths_say_what(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="webhook log"):
        Dashboard.from_files(tmp_path / "nope.jsonl")
    (tmp_path / "logs").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \*\.jsonl"):
        Dashboard.from_files(tmp_path / "logs")


DATA = Path(__file__).resolve().parents[2] / "data"


def test_from_files_on_the_sample_log(tmp_path: Path) -> None:
    from mta_notebook import analytics
    from mta_notebook.dashboard import load_events, load_sends

    logs = tmp_path / "hooks"
    logs.mkdir()
    (logs / "webhooks-2026-11-20.jsonl").write_bytes((DATA / "webhooks_sample.jsonl").read_bytes())
    dash = Dashboard.from_files(logs, DATA / "sends_sample.csv")
    assert dash.identities == ("Acme", "Acme Deals", NO_IDENTITY)
    assert dash.tiles["messages"] == 240
    events = load_events(DATA / "webhooks_sample.jsonl")
    sends = load_sends(DATA / "sends_sample.csv")
    expected = analytics.delivery_report(events, sends)
    pd.testing.assert_frame_equal(dash.report, expected, check_dtype=False)
    by_route = expected.groupby("route")["messages"].sum()
    share = by_route["sms_fallback"] / (by_route["sms_fallback"] + by_route["imessage"])
    assert dash.tiles["fallback_share"] == pytest.approx(share)
    assert dash.tiles["stop_replies"] > 0
    before = dash.tiles["messages"]
    dash.set_filters(identities=["Acme Deals"])
    assert dash.tiles["messages"] == 80 < before


def test_dates_reach_the_browser_as_dates(dash: Dashboard) -> None:
    over_time = dash.figures["delivery_over_time"]
    xs = [x for trace in over_time.data for x in trace.x]
    assert xs
    assert all(isinstance(x, str) and x.startswith("2026-11-2") for x in xs), xs[:3]


def test_route_picker_and_status_use_the_contract_labels(dash: Dashboard) -> None:
    from mta_notebook.contract.routes import ROUTE_LABELS

    labels = {value: label for label, value in dash.route_picker.options}
    assert labels.pop("all") == "All routes"
    assert labels == {route: ROUTE_LABELS[route] for route in labels}
    dash.set_filters(route="sms_fallback")
    assert ROUTE_LABELS["sms_fallback"] in dash.status.value
