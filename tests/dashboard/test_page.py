"""The Voilà page (notebook 03) shows the dashboard first; "Save the report" writes where the
user says and says where; the report table downloads as CSV (issue 15)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import mta_notebook as mta
from mta_notebook.dashboard import Dashboard
from mta_notebook.dashboard._server import _environment
from mta_notebook.dashboard._widgets import VOILA_HIDE, VOILA_HIDE_CSS

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_delivery_dashboard.ipynb"


@pytest.fixture(scope="module")
def dash() -> Dashboard:
    return Dashboard.from_files(
        mta.sample_path("webhooks_sample.jsonl"), mta.sample_path("sends_sample.csv")
    )


def test_notebook_03_shows_the_dashboard_first_on_the_voila_page() -> None:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    shown = [c for c in cells if VOILA_HIDE not in c.get("metadata", {}).get("tags", [])]
    # the title, then the dashboard: setup text, code output and tables are hidden there
    assert [c["cell_type"] for c in shown] == ["markdown", "code"]
    assert "mta.Dashboard(" in "".join(shown[1]["source"])
    assert len("".join(shown[0]["source"]).splitlines()) <= 8
    # in JupyterLab every cell is still there, in reading order: setup, dashboard, tables
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert "import mta_notebook" in code[0]
    assert "mta.Dashboard(" in code[2]
    assert "mta.delivery_report(" in code[3]
    assert "save_report(" in code[-1]
    # every cell runs on each Voilà page load: the save cell skips itself there (the page has
    # its button), and the setup cell tells the two apart by what Voilà sets
    assert code[-1].startswith("if UNDER_VOILA:")
    assert "VOILA_KERNEL_ID" in code[0]
    assert VOILA_HIDE_CSS == ".celltag_mta-voila-hide{display:none !important}"


def test_the_dashboard_page_style_hides_the_tagged_cells(dash: Dashboard) -> None:
    heading = dash.widget.children[0].value
    assert VOILA_HIDE_CSS in heading


def test_save_writes_where_the_user_says_and_says_where(dash: Dashboard, tmp_path: Path) -> None:
    dash.save_path.value = str(tmp_path / "mine" / "delivery.html")
    dash._save_clicked()
    html = tmp_path / "mine" / "delivery.html"
    table = tmp_path / "mine" / "delivery.csv"
    assert html.stat().st_size > 10_000
    assert str(html) in dash.save_status.value
    assert "delivery.csv" in dash.save_status.value
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert len(rows) == len(dash.report)
    assert {r["sender_name"] for r in rows} >= {"Acme", "Acme Deals"}
    # a folder: the report goes inside it
    html2, _ = dash.save(tmp_path / "folder")
    assert html2 == tmp_path / "folder" / "report.html"


def test_save_into_a_file_says_what_failed(dash: Dashboard, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    dash.save_path.value = str(blocker / "report.html")
    dash._save_clicked()
    assert "Could not save to" in dash.save_status.value
    assert "Choose a folder you can write to" in dash.save_status.value


def test_the_report_table_downloads_as_safe_csv(dash: Dashboard) -> None:
    dash.download_table()
    assert dash.last_download is not None
    name, body = dash.last_download
    assert name == "delivery_report.csv"
    header = body.decode("utf-8").splitlines()[0]
    assert header.startswith("sender_name,route,messages,delivered")


def test_the_server_saves_to_out_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = _environment(mta.sample_path("webhooks_sample.jsonl"), None)
    assert env is not None
    assert env["MTA_DASHBOARD_OUT"] == str(tmp_path / "out")
    env = _environment(mta.sample_path("webhooks_sample.jsonl"), None, tmp_path / "reports")
    assert env is not None
    assert env["MTA_DASHBOARD_OUT"] == str(tmp_path / "reports")
