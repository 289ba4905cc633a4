"""save_report: one self-contained HTML file that opens with the verdict, then charts and tables."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from mta_notebook.analytics._compare import OBSERVATIONAL
from mta_notebook.display import save_report
from tests.analytics.fixtures import Log, phone, scenario


def _script_sources(text: str) -> list[str]:
    """src= of every <script> tag (script bodies are not parsed as markup)."""
    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "script":
                found.extend(v or "" for k, v in attrs if k == "src")

    Parser().feed(text)
    return found


def _tables(text: str) -> list[list[list[str]]]:
    """Every <table> of the page as rows of cell texts (header row first)."""
    tables: list[list[list[str]]] = []

    class Parser(HTMLParser):
        cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "table":
                tables.append([])
            elif tag == "tr":
                tables[-1].append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.cell is not None:
                tables[-1][-1].append("".join(self.cell))
                self.cell = None

    Parser().feed(text)
    return tables


def _section(text: str, heading: str) -> str:
    """The page from ``<h2>heading</h2>`` to the next ``<h2>``."""
    start = text.index(f"<h2>{heading}</h2>")
    end = text.find("<h2>", start + 1)
    return text[start : end if end > 0 else None]


def _routes_apart(n: int = 40) -> Log:
    """Acme: n by iMessage all delivered, n by SMS fallback half failed (a clear difference);
    Acme Deals: 3 and 3 (too few to compare); two Acme messages still without any event."""
    log = Log()
    for i in range(n):
        log.send(f"a-{i}", 1, [phone(i)], sender="Acme")
        log.deliver(f"a-{i}", 1, phone(i), "delivered", sender="Acme")
    for i in range(n, 2 * n):
        log.send(f"a-{i}", 1, [phone(i)], sender="Acme")
        log.deliver(f"a-{i}", 1, phone(i), "delivered" if i % 2 else "undelivered")
    for i in range(2 * n, 2 * n + 6):
        log.send(f"d-{i}", 2, [phone(i)], sender="Acme Deals")
        log.deliver(f"d-{i}", 2, phone(i), "delivered", sender="Acme Deals" if i % 2 else None)
    log.send("p-1", 3, [phone(900), phone(901)], sender="Acme")  # sent, no event yet
    return log


def test_save_report_is_self_contained(tmp_path: Path) -> None:
    events, sends = scenario().frames()
    out = save_report(tmp_path / "sub" / "report.html", events, sends, title="Spring <sale>")
    text = out.read_text(encoding="utf-8")
    assert out == tmp_path / "sub" / "report.html"
    # the title is escaped, the page opens offline: plotly.js inline, no external scripts
    assert "<title>Spring &lt;sale&gt;</title>" in text
    assert _script_sources(text) == []
    assert text.count("Plotly.newPlot") >= 4
    assert len(text) > 1_000_000  # the embedded plotly.js
    # tables with the report's numbers, routes by their one label table
    assert re.search(r"<td>Acme Deals</td><td>iMessage</td><td class=\"num\">4</td>", text)
    assert "<td>SMS fallback</td>" in text
    assert "<td>sms_fallback</td>" not in text
    assert "(no identity)" in text
    # Acme iMessage: 3 of 4 settled (the unconfirmed one is not), with n/N and Wilson interval
    assert "75.0 % (3/4) [30-95]" in text
    assert "17 messages · 1 unconfirmed · 3 pending" in text
    assert "2 without a send-ledger row" in text
    assert "Unconfirmed = DELIVERY_UNCONFIRMED (no answer from the carrier)" in text
    # the failure table shows the documented code and its meaning, and the outcome
    assert re.search(
        r"<td>failed</td><td>8</td><td>DELIVERY_REJECTED \(blocked by the carrier\)</td>",
        text,
    )
    # nothing from the raw payloads (or anything secret) leaks into the page
    assert "MTAWebhook" not in text
    assert not Path(out.with_suffix(".csv")).exists()  # a CSV only when asked for


def test_report_opens_with_the_verdict_per_identity(tmp_path: Path) -> None:
    events, sends = _routes_apart().frames()
    text = save_report(tmp_path / "r.html", events, sends).read_text(encoding="utf-8")
    verdict = _section(text, "Verdict per Sender Identity")
    # before every chart and table: the answer comes first
    assert text.index("Verdict per Sender Identity") < text.index("Plotly.newPlot")
    assert text.index("Verdict per Sender Identity") < text.index("<table")
    items = re.findall(r"<li>(.*?)</li>", verdict)
    assert len(items) == 2
    # 40 of the 82 Acme messages went by iMessage; 40/40 vs 20/40 delivered: significant
    assert items[0].startswith("Acme: 48.8 % reached by iMessage (40/82). Delivered 100.0 %")
    assert "vs 50.0 % [35-65] by SMS fallback: +50.0 pts" in items[0]
    assert items[0].endswith("significant at 95 %.")
    assert "not significant" not in items[0]
    assert "Too few settled messages to compare" in items[1]
    assert OBSERVATIONAL in verdict


def test_pending_messages_are_kept_apart_from_failures(tmp_path: Path) -> None:
    events, sends = _routes_apart().frames()
    text = save_report(tmp_path / "r.html", events, sends).read_text(encoding="utf-8")
    # the delivery table says "pending" for the row with nothing settled, never NaN
    delivery = _tables(_section(text, "Delivery per Sender Identity and route"))[0]
    header = delivery[0]
    assert header[:3] == ["Sender Identity", "Route", "Messages"]
    assert "Delivery rate" in header
    assert "delivery_rate" not in header
    unknown = next(r for r in delivery if r[1] == "Route unknown")
    assert unknown[header.index("Delivery rate")] == "pending"
    assert unknown[header.index("Pending")] == "2"
    # its own section, and not among the reasons for non-delivery
    pending = _section(text, "Still pending")
    assert "2 messages are not final yet" in pending
    assert ["Acme", "Route unknown", "no status yet", "2"] in _tables(pending)[0]
    failures = _section(text, "Why messages were not delivered")
    assert "no status yet" not in failures
    assert "pending" not in failures
    # the delivery chart draws no bar for a route with nothing settled (it would be NaN)
    first_chart = text[text.index("Plotly.newPlot") : text.index("Plotly.newPlot") + 20_000]
    first_chart = first_chart[: first_chart.find("</script>")]
    assert "Route unknown" not in first_chart
    for table in _tables(text):
        for row in table:
            assert not {"nan", "NaN", "<NA>", "None"} & set(row), row


def test_report_table_is_written_as_a_safe_csv_and_linked(tmp_path: Path) -> None:
    log = _routes_apart(12)
    for row in log.sends:  # a name from a user's file that a spreadsheet would run
        if row["sender_name"] == "Acme Deals":
            row["sender_name"] = "=HYPERLINK(1)"
    events, sends = log.frames()
    out = save_report(tmp_path / "r.html", events, sends, csv=True)
    table = out.with_suffix(".csv")
    text = out.read_text(encoding="utf-8")
    assert '<a href="r.csv" download>' in text
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert list(rows[0])[:3] == ["sender_name", "route", "messages"]
    assert {r["sender_name"] for r in rows} >= {"Acme", "'=HYPERLINK(1)"}
    acme_i = next(r for r in rows if r["sender_name"] == "Acme" and r["route"] == "imessage")
    assert (acme_i["messages"], acme_i["delivered"], float(acme_i["delivery_rate"])) == (
        "12",
        "12",
        1.0,
    )


def test_one_send_time_bucket_is_said_not_drawn(tmp_path: Path) -> None:
    events, sends = _routes_apart(12).frames()  # everything sent within a minute
    text = save_report(tmp_path / "r.html", events, sends).read_text(encoding="utf-8")
    over_time = _section(text, "Over time")
    assert "Plotly.newPlot" not in over_time
    assert "Every message was sent within one 1min bucket" in over_time
    # spread over two days: hourly buckets are drawn
    log = _routes_apart(12)
    for i, row in enumerate(log.sends):
        row["sent_at"] = pd.Timestamp("2026-11-01", tz="UTC") + pd.Timedelta(hours=i)
    events, sends = log.frames()
    text = save_report(tmp_path / "r2.html", events, sends).read_text(encoding="utf-8")
    assert "Plotly.newPlot" in _section(text, "Over time")


def _split(n: int = 30) -> Log:
    """A 50/50 split: Acme's campaign delivers 29 of 30, Acme Deals' 18 of 30 (a clear,
    significant difference), each message 2 credits; a test send to one own number."""
    log = Log()
    for i in range(n):
        log.send(f"ca-{i // 10}", 1 + i // 10, [phone(i)], sender="Acme", campaign="ca")
        log.deliver(
            f"ca-{i // 10}",
            1 + i // 10,
            phone(i),
            "delivered" if i else "undelivered",
            sender="Acme" if i % 2 else None,
            at=float(i),
        )
    for i in range(n, 2 * n):
        ok = i < n + 18
        log.send(f"cd-{i // 10}", 10 + i // 10, [phone(i)], sender="Acme Deals", campaign="cd")
        log.deliver(
            f"cd-{i // 10}",
            10 + i // 10,
            phone(i),
            "delivered" if ok else "undelivered",
            sender="Acme Deals" if i % 3 else None,
            at=float(i),
        )
    # the test send: MTA's events for it, no ledger row; left out of every figure
    log.deliver("ca-test", 99, phone(999), "delivered", sender="Acme")
    return log


def _experiments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "experiment_id": ["exp-1", "exp-1"],
            "arm": ["Acme", "Acme Deals"],
            "campaign_id": ["ca", "cd"],
            "weight": [0.5, 0.5],
            "seed": [7, 7],
            "recipients": [30, 30],
            "created_at": pd.to_datetime(["2026-11-01", "2026-11-01"], utc=True),
        }
    )


def _frames(log: Log) -> tuple[pd.DataFrame, pd.DataFrame]:
    events, sends = log.frames()
    sends["segments"] = 2
    sends["credits"] = 2
    return events, sends


def test_identities_are_compared_as_the_randomized_split_they_came_from(tmp_path: Path) -> None:
    from mta_notebook import analytics

    events, sends = _frames(_split())
    text = save_report(tmp_path / "r.html", events, sends, experiments=_experiments()).read_text(
        encoding="utf-8"
    )
    section = _section(text, "Identities compared")
    assert "Randomized experiment exp-1 (seed 7)" in section
    assert "Acme 50 %, Acme Deals 50 %" in section
    assert "Observational" not in section
    expected = analytics.compare_identities(events, sends, campaigns=["ca", "cd"])
    overall = expected.iloc[0]
    assert (overall["delivered"], overall["settled"]) == (18, 30)
    table = _tables(section)[0]
    header = table[0]
    assert header[:3] == ["Sender Identity", "Compared with", "Messages compared"]
    row = table[1]
    assert row[:3] == ["Acme Deals", "Acme", "All messages"]
    assert row[header.index("Delivery rate")] == "60.0 % (18/30) [42-75]"
    assert row[header.index("Delivery rate (compared with)")] == "96.7 % (29/30) [83-99]"
    assert row[header.index("Significant at 95 %")] == "yes"
    assert [r[2] for r in table[1:]] == ["All messages", "iMessage", "SMS fallback"]
    # the design is said once, above the findings; each route reads by its label
    items = re.findall(r"<li>(.*?)</li>", section)
    assert items[0].startswith("Overall: delivered Acme Deals 60.0 % (18/30)")
    assert items[1].startswith("By iMessage: ")
    assert items[2].startswith("By SMS fallback: ")
    assert not any("Randomized:" in i for i in items)
    # the same from the journal's own record
    from mta_notebook.campaigns import Journal

    journal = Journal(tmp_path / "j.sqlite")
    from mta_notebook.campaigns._split import Experiment, record_experiment

    record_experiment(
        journal, Experiment("exp-1", 7, {"Acme": (0.5, "ca"), "Acme Deals": (0.5, "cd")}), {}
    )
    text = save_report(tmp_path / "j.html", events, sends, journal=journal).read_text("utf-8")
    assert "Randomized experiment exp-1 (seed 7)" in _section(text, "Identities compared")
    journal.close()


def test_identities_without_an_experiment_are_observational(tmp_path: Path) -> None:
    events, sends = _frames(_split())
    text = save_report(tmp_path / "r.html", events, sends).read_text(encoding="utf-8")
    section = _section(text, "Identities compared")
    assert "Observational" in section
    assert "plan_experiment" in section
    # an experiment whose campaigns are not in these messages says nothing about them
    other = _experiments().assign(campaign_id=["x", "y"])
    text = save_report(tmp_path / "o.html", events, sends, experiments=other).read_text("utf-8")
    assert "Observational" in _section(text, "Identities compared")
    # one identity: nothing to compare, said so
    one = events[events["sender_name"].fillna("Acme") == "Acme"]
    text = save_report(tmp_path / "one.html", one, sends[sends["campaign_id"] == "ca"])
    section = _section(text.read_text("utf-8"), "Identities compared")
    assert "no other identity to compare with" in section
    assert "<table" not in section


def test_time_to_deliver_cost_and_test_sends(tmp_path: Path) -> None:
    from mta_notebook import analytics

    events, sends = _frames(_split())
    text = save_report(tmp_path / "r.html", events, sends, price_per_credit=0.05).read_text(
        encoding="utf-8"
    )
    # one test send, said in the head and counted nowhere
    assert "1 test send is left out of every figure" in text
    assert "60 messages" in text
    latency = _section(text, "Time to deliver")
    assert "Plotly.newPlot" in latency
    timed = analytics.time_to_deliver(events, sends)
    table = _tables(latency)[0]
    header = table[0]
    assert header[-2:] == ["Median time to deliver", "90 % delivered within"]
    assert [r[header.index("Median time to deliver")] for r in table[1:]] == [
        f"{v:.1f} s" for v in timed["median_s"]
    ]
    cost = _section(text, "Cost")
    # 60 messages at 2 credits, 47 delivered; 0.05 per credit
    assert "Credits spent: 120, 2.55 per delivered message" in cost
    assert "At 0.05 per credit: 6.00, 0.13 per delivered message" in cost
    assert "IMESSAGE_CREDITS" in cost
    assert "counted as the SMS it replaces" in cost
    table = _tables(cost)[0]
    header = table[0]
    assert "Credits" in header
    assert "Cost per delivered message" in header
    expected = analytics.cost_report(events, sends, price_per_credit=0.05).iloc[0]
    first = dict(zip(header, table[1], strict=True))
    assert first["Credits"] == str(int(expected["credits"]))  # a whole number of credits
    assert first["Credits per message"] == f"{expected['credits_per_message']:.2f}"
    assert first["Cost"] == f"{expected['cost']:.2f}"  # money: two decimals
    assert "Without planned credits" not in header  # every message priced: no column of zeros
    # an iMessage billed at 1 credit: what iMessage saved is counted
    text = save_report(tmp_path / "one.html", events, sends, imessage_credits=1).read_text(
        encoding="utf-8"
    )
    saved = int(analytics.cost_report(events, sends, imessage_credits=1)["saved_credits"].sum())
    assert saved > 0
    assert f"iMessage saved {saved} credits" in _section(text, "Cost")


def test_empty_states_say_why(tmp_path: Path) -> None:
    events, sends = _frames(_split())
    # no ledger: no cost, no reach without subscribers
    text = save_report(tmp_path / "r.html", events).read_text(encoding="utf-8")
    assert "No send ledger was given" in _section(text, "Cost")
    assert "Pass subscribers=" in _section(text, "Reach")
    # a ledger without credits (planned before the journal kept them)
    text = save_report(tmp_path / "n.html", events, sends.drop(columns=["credits"])).read_text(
        encoding="utf-8"
    )
    assert "has planned credits" in _section(text, "Cost")
    # nothing delivered and timed
    text = save_report(
        tmp_path / "t.html", events[events["event"] == "message-send"], sends
    ).read_text(encoding="utf-8")
    latency = _section(text, "Time to deliver")
    assert "nothing to time yet" in latency
    assert "Plotly.newPlot" not in latency


def test_reach_per_identity_with_opt_ins_per_day(tmp_path: Path) -> None:
    from mta_notebook import analytics

    log = _split(10)
    for i, day in ((0, 0), (1, 0), (2, 2)):  # opt-ins on two days with a quiet day between
        log._event(
            "number-opt-in",
            None,
            None,
            phone(100 + i),
            at=day * 86400.0,
            sender="Acme",
            route=None,
            dated=True,
            received_delay=0.5,
        )
    events, sends = _frames(log)
    audience = [phone(i) for i in (*range(20), 100, 101, 102, 103)]
    text = save_report(tmp_path / "r.html", events, sends, subscribers=audience).read_text(
        encoding="utf-8"
    )
    section = _section(text, "Reach")
    expected = analytics.optin_reach(events, audience).summary.set_index("sender_name")
    table = _tables(section)
    header = table[0][0]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in table[0][1:]}
    acme = expected.loc["Acme"]
    assert rows["Acme"]["Share of the audience"].startswith(
        f"{100 * acme['share']:.1f} % ({acme['reachable']}/24) ["
    )
    assert rows["Acme"]["Opted in (number-opt-in)"] == "3"
    assert set(rows) == {"Acme", "Acme Deals"}
    # more than one day: new opt-ins per day, every day from the first to the last
    assert "New opt-ins per day" in section
    daily = table[1]
    assert daily[0][:3] == ["Sender Identity", "Day", "New opt-ins"]
    acme_days = [r[1] for r in daily[1:] if r[0] == "Acme"]
    assert acme_days == ["2026-11-01", "2026-11-02", "2026-11-03"]
