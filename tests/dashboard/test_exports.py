"""Issue 14, item 5: the failures CSV starts no formula, and failed sends without sent_at stay.

The hostile values are the issue's: identity names, external ids, errors and campaign ids
such as ``=HYPERLINK("http://x")`` that ran as formulas when the failures CSV was opened in a
spreadsheet; and 3 real failures with no ``sent_at`` that the default date filter dropped.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd

from mta_notebook.campaigns._schema import sends_frame
from mta_notebook.dashboard import FAILURE_COLUMNS, Dashboard
from mta_notebook.dashboard import _state as state
from mta_notebook.display import safe_csv
from mta_notebook.display._csv import FORMULA_STARTS

from .test_dashboard import synthetic

HOSTILE = ('=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3")
UNSENT_PHONES = ("+13125559001", "+13125559002", "+13125559003")


def _with_unsent_failures() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic data plus 3 sends that failed before going out: no sent_at, hostile text."""
    events, sends = synthetic()
    rows: list[dict[str, Any]] = []
    for i, phone in enumerate(UNSENT_PHONES):
        rows.append(
            {
                "campaign_id": HOSTILE[i],
                "chunk": 0,
                "external_id": HOSTILE[(i + 1) % 4],
                "message_id": None,
                "phone": phone,
                "sender_name": HOSTILE[(i + 2) % 4],
                "longcode_id": None,
                "sent_at": None,
                "state": ("failed", "unknown", "failed")[i],
                "error": HOSTILE[(i + 3) % 4],
            }
        )
    extra = sends_frame(pd.DataFrame(rows))
    return events, pd.concat([sends_frame(sends), extra], ignore_index=True)


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _assert_no_formula(rows: list[list[str]]) -> None:
    starts = [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert starts == []


def test_failures_without_sent_at_stay_in_the_table_functions_and_their_csv() -> None:
    events, sends = _with_unsent_failures()
    messages = state.analytics_tables(events, sends).messages
    not_sent = state.ledger_only_rows(sends, messages)
    # the dashboard's default filters: the data's first to last day
    times = pd.concat([events["occurred_at"], sends["sent_at"]]).dropna()
    filters = state.DashboardFilters(start=times.min().date(), end=times.max().date())

    table = state.failures(messages, state.selected_not_sent(not_sent, filters))

    unsent = table[table["phone"].isin(UNSENT_PHONES)]
    assert sorted(unsent["phone"]) == list(UNSENT_PHONES)
    assert set(unsent["outcome"]) == {"not-sent"}
    assert unsent["sent_at"].isna().all()
    rows = _cells(safe_csv(table))
    assert rows[0] == list(FAILURE_COLUMNS)
    phones = [row[0] for row in rows[1:]]
    assert sorted(p for p in phones if p[1:] in UNSENT_PHONES) == [f"'{p}" for p in UNSENT_PHONES]
    _assert_no_formula(rows)


def test_a_narrow_date_range_still_drops_dated_failures_but_keeps_undated_ones() -> None:
    events, sends = _with_unsent_failures()
    messages = state.analytics_tables(events, sends).messages
    not_sent = state.ledger_only_rows(sends, messages)
    dated = not_sent.assign(sent_at=pd.Timestamp("2026-01-01", tz="UTC"))
    later = state.DashboardFilters(start=pd.Timestamp("2026-06-01").date())
    assert state.selected_not_sent(dated, later).empty
    assert sorted(state.selected_not_sent(not_sent, later)["phone"]) == list(UNSENT_PHONES)


def test_the_dashboard_failures_csv_starts_no_formula_and_keeps_the_unsent() -> None:
    events, sends = _with_unsent_failures()
    dash = Dashboard(events, sends)

    assert set(UNSENT_PHONES) <= set(dash.failures["phone"])
    dash.download_csv()
    assert dash.last_download is not None
    name, content = dash.last_download
    assert name == "failures.csv"
    rows = _cells(content.decode("utf-8"))
    header, body = rows[0], rows[1:]
    _assert_no_formula(rows)
    assert len(body) == len(dash.failures)
    # every hostile value is there, as text: the leading ' and then the value unchanged
    text_cells = {cell for row in body for cell in row}
    assert {f"'{v}" for v in HOSTILE} <= text_cells
    phone = header.index("phone")
    assert all(row[phone].startswith("'+1312555") for row in body)
    assert {row[phone][1:] for row in body} == set(dash.failures["phone"])


def test_an_identity_named_like_a_link_is_text_in_every_dashboard_chart() -> None:
    evil = '<a href="https://evil.example">Acme</a>'
    events, sends = synthetic()
    events["sender_name"] = events["sender_name"].replace("Acme", evil)
    sends["sender_name"] = sends["sender_name"].replace("Acme", evil)
    dash = Dashboard(events, sends)
    assert evil in dash.identities

    for name, fig in dash.figures.items():
        shown = fig.to_plotly_json()
        texts = [t for t in _strings(shown) if "<a" in t.lower()]
        assert texts == [], name
    assert evil not in dash.failures_table.value


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (str(k), *_strings(v))]
    if isinstance(obj, (list, tuple)):
        return [s for v in obj for s in _strings(v)]
    tolist = getattr(obj, "tolist", None)
    return _strings(tolist()) if callable(tolist) else []


def test_the_failure_reasons_chart_counts_undated_failures_under_the_default_window() -> None:
    events, sends = _with_unsent_failures()
    dash = Dashboard(events, sends)
    reasons = dash.failure_reasons_table()
    assert int(reasons.loc[reasons["outcome"] == "not-sent", "messages"].sum()) == 3
