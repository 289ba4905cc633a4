"""The three notebooks run top to bottom against the embedded sandbox, without an error."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests._jupyter import KERNEL, ensure_kernel

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_load_subscribers.ipynb", "02_send_campaign.ipynb", "03_delivery_dashboard.ipynb"]


@pytest.fixture(scope="session")
def kernel_name() -> str:
    return ensure_kernel()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working directory for the three, in order: notebook 3 charts what notebook 2 sent."""
    return tmp_path_factory.mktemp("notebooks")


# Appended to notebook 2 in the tests: the sandbox's own record of what /send received (one
# row per recipient per call, test sends included), the ground truth of "sent nothing".
GROUND_TRUTH = 'print("SANDBOX_SEND_ROWS", len(sb.state.rows))'


def _run(name: str, workdir: Path, kernel_name: str, extra: str | None = None) -> Any:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    if extra is not None:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    return nb


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def _text(nb: Any) -> str:
    return _joined(_outputs(nb))


def _joined(outputs: list[dict[str, Any]]) -> str:
    parts = []
    for out in outputs:
        parts.append(out.get("text", ""))
        parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_stripped_in_git(name: str) -> None:
    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert nb["metadata"]["kernelspec"]["name"] == KERNEL
    markdown = " ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "sandbox" in markdown


def test_01_load_subscribers(workdir: Path, kernel_name: str) -> None:
    nb = _run(NAMES[0], workdir, kernel_name)
    text = _text(nb)
    assert "embedded sandbox" in text
    assert "invalid-phone" in text  # the rejected rows are shown with their reasons
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]


def _cell_text(nb: Any, needle: str) -> str:
    """The outputs of the one code cell whose source holds ``needle``."""
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and needle in c.source]
    return _joined(cell.outputs)


def _sandbox_rows(nb: Any) -> int:
    found = re.findall(r"SANDBOX_SEND_ROWS (\d+)", _text(nb))
    assert len(found) == 1, found
    return int(found[0])


def test_02_send_campaign(workdir: Path, kernel_name: str) -> None:
    nb = _run(NAMES[1], workdir, kernel_name, extra=GROUND_TRUTH)
    text = _text(nb)
    sent = _cell_text(nb, "plans.send(")
    # one send for both identities' campaigns, shown as a card and a readable text
    assert re.search(r"Sent \d+ messages in 2 campaigns\.", sent)
    assert "Already sent" not in sent
    assert "CampaignResult(" not in text
    assert "CampaignPlan(" not in text
    assert _sandbox_rows(nb) > 100  # the sample list went out (and the two test messages)
    logs = sorted((workdir / "out" / "webhooks").glob("webhooks-*.jsonl"))
    assert logs, "the webhook receiver wrote no log"
    assert sum(len(p.read_text(encoding="utf-8").splitlines()) for p in logs) > 0
    assert (workdir / "out" / "mta_journal.sqlite").exists()


def _table_cells(nb: Any) -> list[str]:
    """The HTML tables notebook 03 shows through ``mta.readable(...)``, one per cell."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "mta.readable(" in c.source]
    html = [str(o.get("data", {}).get("text/html", "")) for c in cells for o in c.outputs]
    return [h for h in html if "<table" in h]


def test_03_delivery_dashboard(workdir: Path, kernel_name: str) -> None:
    nb = _run(NAMES[2], workdir, kernel_name)
    text = _text(nb)
    # it charted notebook 2's campaign (out/), not the sample in data/
    assert "out/webhooks" in text
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    out = workdir / "out"
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "report.csv").exists()  # the report table beside it (csv=True)
    views = [
        o for o in _outputs(nb) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert views, "the dashboard did not display as a widget"

    # issue 15: tables people read, not 0.955556, NaN, snake_case headers and an index
    tables = _table_cells(nb)
    assert len(tables) >= 6, len(tables)  # report, routes, identities, latency, cost, reach
    for html in tables:
        assert "row_heading" not in html  # the index is hidden
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", html)]
        heads = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>.*?</th>", html)]
        assert not [h for h in heads if "_" in h], heads
        assert not [c for c in cells if c.strip() in ("NaN", "nan", "<NA>", "None")], cells
        # a bare fraction where a percentage belongs (a p-value is one: its column is left out)
        skip = heads.index("p-value") if "p-value" in heads else None
        rows = re.findall(r"<tr>.*?</tr>", html, flags=re.S)
        assert len(rows) > 1, html[:300]  # the header and at least one row
        for row in rows:
            tds = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>.*?</td>", row)]
            raw = [c for i, c in enumerate(tds) if i != skip and re.fullmatch(r"\s*-?0\.\d+\s*", c)]
            assert raw == [], (heads, tds)
    report = tables[0]  # rates as "95.6 % (43/45) [85-99]", routes by their labels
    assert "SMS fallback" in report
    assert re.search(r"\d+\.\d % \(\d+/\d+\) \[\d+-\d+\]", report)

    # the new cells: a verdict per identity, a randomized identity test on notebook 2's
    # experiment, time to deliver with its chart, credits, opt-in reach
    routes = _cell_text(nb, "mta.compare_routes(")
    assert re.search(r"Acme: [\d.]+ % reached by iMessage \(\d+/\d+\)", routes)
    ids = _cell_text(nb, "mta.compare_identities(")
    assert re.search(r"Experiment \S+ - campaigns \S+", ids)
    assert "Randomized: recipients were assigned to the identities at random" in ids
    assert "Observational" not in ids
    latency = [c for c in nb.cells if c.cell_type == "code" and "time_to_deliver(" in c.source]
    kinds = {k for o in latency[0].outputs for k in o.get("data", {})}
    assert "application/vnd.plotly.v1+json" in kinds
    assert "Median" in _cell_text(nb, "time_to_deliver(")
    assert "Credits per delivered" in _cell_text(nb, "mta.cost_report(")
    reach = _cell_text(nb, "mta.optin_reach(")
    assert re.search(r"<td[^>]*>[\d.]+ % \(\d+/\d+\) \[\d+-\d+\]</td>", reach), reach[:500]


def test_02_run_again_in_a_new_kernel_says_already_sent_and_sends_nothing(
    workdir: Path, kernel_name: str
) -> None:
    # after 01-03: the same folder, a new kernel and so a new sandbox; only the journal in
    # out/mta_journal.sqlite knows the campaigns went out
    assert (workdir / "out" / "mta_journal.sqlite").exists()
    nb = _run(NAMES[1], workdir, kernel_name, extra=GROUND_TRUTH)
    text = _text(nb)
    assert "Already sent, nothing new to send" in _cell_text(nb, "plans.send(")
    assert "Already sent, nothing new to send" in _cell_text(nb, "plans.test_send(")
    assert not re.search(r"Sent \d+ messages", text)
    assert _sandbox_rows(nb) == 0  # the new sandbox received no /send, not even a test
