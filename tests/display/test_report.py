"""save_report: one self-contained HTML file with tables and interactive charts."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from mta_notebook.display import save_report
from tests.analytics.fixtures import scenario


def _script_sources(text: str) -> list[str]:
    """src= of every <script> tag (script bodies are not parsed as markup)."""
    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "script":
                found.extend(v or "" for k, v in attrs if k == "src")

    Parser().feed(text)
    return found


def test_save_report_is_self_contained(tmp_path: Path) -> None:
    events, sends = scenario().frames()
    out = save_report(tmp_path / "sub" / "report.html", events, sends, title="Spring <sale>")
    text = out.read_text(encoding="utf-8")
    assert out == tmp_path / "sub" / "report.html"
    # the title is escaped, the page opens offline: plotly.js inline, no external scripts
    assert "<title>Spring &lt;sale&gt;</title>" in text
    assert _script_sources(text) == []
    assert text.count("Plotly.newPlot") == 5
    assert len(text) > 1_000_000  # the embedded plotly.js
    # tables with the report's numbers, routes by their one label table
    assert text.count('<table class="dataframe mta"') == 4
    assert re.search(r"<td>Acme Deals</td>\s*<td>iMessage</td>\s*<td>4</td>", text)
    assert "<td>SMS fallback</td>" in text
    assert "<td>sms_fallback</td>" not in text
    assert "(no identity)" in text
    assert "75.0%" in text  # Acme iMessage: 3 of 4 settled (the unconfirmed one is not)
    assert "17 messages · 1 unconfirmed · 3 pending" in text
    assert "2 without a send-ledger row" in text
    assert "Unconfirmed = DELIVERY_UNCONFIRMED (no answer from the carrier)" in text
    # the failure table shows the documented status and its meaning, and the outcome
    assert re.search(
        r"<td>failed</td>\s*<td>delivery_rejected</td>\s*<td>8</td>\s*"
        r"<td>DELIVERY_REJECTED \(blocked by the carrier\)</td>",
        text,
    )
    # nothing from the raw payloads (or anything secret) leaks into the page
    assert "MTAWebhook" not in text
