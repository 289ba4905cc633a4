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
