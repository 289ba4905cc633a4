"""The dashboard in headless Chromium, driven by Playwright: in JupyterLab (notebook 03, Run All)
and on the Voilà page (``mta-notebook dashboard``).

Uses Debian's ``chromium`` package (``apt-get install -y chromium``); Playwright never downloads a
browser. Screenshots at 1280 and 1920 px go to ``test-artifacts/`` (kept by CI, ignored by git).
After each filter change the time from the change to the last chart redrawn is printed as
``BENCHMARK ...`` (a figure for the CI log, not a timed assertion: the machine is shared).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mta_notebook._server import free_port
from mta_notebook.dashboard import CHART_NAMES, TILE_NAMES, Dashboard
from mta_notebook.dashboard._view import _pct
from tests._benchmarks import report
from tests._jupyter import ensure_kernel

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_TIMEOUT_MS = 300_000  # first render starts a kernel and runs notebook 03 on a busy machine
CHARTS = ".mta-dashboard .mta-chart-slot .js-plotly-plot"
WIDTHS = (1280, 1920)
# what the kernel's channel printed above the dashboard when a NaN reached a widget's state
WARNINGS = ("Message serialization failed", "UserWarning", "not JSON compliant", "Traceback")
# every chart's slot, its legend and its title, as page rectangles
GEOMETRY_JS = """() => [...document.querySelectorAll('.mta-dashboard .mta-chart-slot')].map(s => {
  const box = e => { if (!e) return null; const r = e.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom]; };
  return {slot: box(s), legend: box(s.querySelector('g.legend')),
          title: box(s.querySelector('.gtitle')), legends: s.querySelectorAll('g.legend').length};
})"""


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. The browser test drives Debian's "
            "chromium package with Playwright (no browser download). Install it with: "
            "sudo apt-get update && sudo apt-get install -y chromium"
        )


def _sample_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTA_")}
    env["MTA_DASHBOARD_LOG"] = str(DATA / "webhooks_sample.jsonl")
    env["MTA_DASHBOARD_JOURNAL"] = str(DATA / "sends_sample.csv")
    return env


def _serve(cmd: list[str], cwd: Path, env: dict[str, str], ready: str) -> Iterator[Path]:
    """Run ``cmd`` in its own process group until its log shows ``ready``; stop it after."""
    log_path = cwd / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while ready not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{cmd[2:4]} did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield log_path
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def voila_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working directory ``mta-notebook dashboard`` runs in."""
    return tmp_path_factory.mktemp("voila")


@pytest.fixture(scope="module")
def dashboard_url(voila_work: Path) -> Iterator[str]:
    """``mta-notebook dashboard`` on the sample log, on a free loopback port."""
    _require_chromium()
    ensure_kernel()
    work = voila_work
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "mta_notebook", "dashboard", "--log"]
    cmd += [str(DATA / "webhooks_sample.jsonl"), "--journal", str(DATA / "sends_sample.csv")]
    cmd += ["--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTA_")}
    yield from (url for _ in _serve(cmd, work, env, f"Dashboard at {url}"))


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``jupyter lab --no-browser`` with a token, notebook 03 in its root, on a free port."""
    _require_chromium()
    ensure_kernel()
    work = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / "03_delivery_dashboard.ipynb", work)
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}"]
    cmd += ["--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0"]
    cmd += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}"]
    cmd += ["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    # no network (the extension manager would ask PyPI); root in CI containers is fine here
    cmd += ["--LabApp.extension_manager=readonly", "--allow-root"]
    env = _sample_env()
    env["JUPYTERLAB_SETTINGS_DIR"] = str(work / ".settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(work / ".workspaces")
    env["JUPYTER_RUNTIME_DIR"] = str(work / ".runtime")  # its cookie secret, not in $HOME
    url = f"http://127.0.0.1:{port}/lab/tree/03_delivery_dashboard.ipynb?token={token}"
    yield from (url for _ in _serve(cmd, work, env, f"127.0.0.1:{port}/lab"))


@pytest.fixture(scope="module")
def expected() -> Dashboard:
    """The same dashboard in-process, for the numbers the page must show."""
    return Dashboard.from_files(DATA / "webhooks_sample.jsonl", DATA / "sends_sample.csv")


def _tile_text(page: Any, name: str) -> str:
    loc = page.locator(f".mta-dashboard .mta-tile[data-tile='{name}'] .mta-tile-value")
    return str(loc.inner_text()).strip()


def _revisions(page: Any) -> list[int]:
    js = f"() => [...document.querySelectorAll('{CHARTS}')].map(g => +(g.dataset.revision ?? -1))"
    return list(page.evaluate(js))


def _wait_charts(page: Any) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('{CHARTS}[data-revision]').length === {len(CHART_NAMES)}",
        timeout=PAGE_TIMEOUT_MS,
    )


def _change_filter(page: Any, identities: list[str], where: str, width: int) -> float:
    """Pick ``identities``; wait for every chart to redraw; print and return the seconds."""
    before = _revisions(page)
    page.evaluate("() => { window.mtaChangedAt = performance.now(); }")
    page.locator(".mta-dashboard select[multiple]").first.select_option(identities)
    page.wait_for_function(
        f"before => [...document.querySelectorAll('{CHARTS}')]"
        ".every((g, i) => +(g.dataset.revision ?? -1) > before[i])",
        arg=before,
        timeout=120_000,
    )
    seconds = float(page.evaluate("() => (window.mtaChartDrawnAt - window.mtaChangedAt) / 1000"))
    report(f"BENCHMARK {where} {width}px: filter change to last chart redrawn {seconds:.2f} s")
    return seconds


def _print_load(where: str, opened: float) -> None:
    seconds = time.monotonic() - opened
    report(f"BENCHMARK {where}: page opened to every chart drawn {seconds:.1f} s")


def _check_layout(page: Any, where: str) -> None:
    """Every chart: one legend, inside its slot with its title; slots do not overlap."""
    page.wait_for_timeout(400)  # plotly redraws on resize after a short debounce
    boxes = page.evaluate(GEOMETRY_JS)
    assert len(boxes) == len(CHART_NAMES), boxes

    def inside(inner: list[float], outer: list[float]) -> bool:
        return all(
            (inner[i] >= outer[i] - 1) if i < 2 else (inner[i] <= outer[i] + 1) for i in range(4)
        )

    for name, b in zip(CHART_NAMES, boxes, strict=True):
        assert b["legends"] <= 1, (where, name, b)
        if b["legend"] is not None:
            assert inside(b["legend"], b["slot"]), (where, name, b)
        assert b["title"] is not None, (where, name, b)
        assert inside(b["title"], b["slot"]), (where, name, b)
    slots = [b["slot"] for b in boxes]
    for i, a in enumerate(slots):
        for c in slots[i + 1 :]:
            overlap = (
                min(a[2], c[2]) - max(a[0], c[0]) > 1 and min(a[3], c[3]) - max(a[1], c[1]) > 1
            )
            assert not overlap, (where, a, c)
    # the charts that have data show their key: a legend per chart, not lost off its side
    with_data = [b for b in boxes if b["legend"] is not None]
    assert len(with_data) == len(CHART_NAMES), boxes


def _check_no_warning(page: Any, errors: list[str], where: str) -> None:
    text = page.locator("body").inner_text()
    shown = [w for w in WARNINGS if w in text]
    assert shown == [], (where, shown)
    stderr = page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
    assert stderr.count() == 0, (where, stderr.all_inner_texts())
    assert [e for e in errors if "serializ" in e.lower() or "JSON" in e] == [], (where, errors)


def _drive(page: Any, where: str, errors: list[str]) -> dict[int, float]:
    """Both widths: screenshot, filter change (timed), layout and warning checks."""
    times: dict[int, float] = {}
    picks = (["Acme Deals"], ["Acme", "Acme Deals"])
    for width, identities in zip(WIDTHS, picks, strict=True):
        page.set_viewport_size({"width": width, "height": 1200})
        page.wait_for_timeout(600)
        # JupyterLab scrolls to the last cell after Run All: the screenshots show the dashboard
        page.evaluate("() => document.querySelector('.mta-dashboard').scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / f"{where}_{width}_all.png"), full_page=True)
        _check_layout(page, f"{where} {width}px before")
        times[width] = _change_filter(page, identities, where, width)
        page.screenshot(path=str(ARTIFACTS / f"{where}_{width}_filtered.png"), full_page=True)
        _check_layout(page, f"{where} {width}px after")
        # the newest chart on its own, scrolled to (a page screenshot stops at the first
        # screenful: JupyterLab and Voilà scroll inside their own panels)
        latency = page.locator(".mta-dashboard .mta-chart-time_to_deliver")
        latency.scroll_into_view_if_needed()
        latency.screenshot(path=str(ARTIFACTS / f"{where}_{width}_time_to_deliver.png"))
        _check_no_warning(page, errors, where)
    return times


def _open(pw: Any) -> tuple[Any, Any, list[str]]:
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1200})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(err.message))
    page.set_default_timeout(60_000)
    return browser, page, errors


def test_dashboard_in_jupyterlab(lab_url: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser, page, errors = _open(pw)
        try:
            opened = time.monotonic()
            page.goto(lab_url, timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=PAGE_TIMEOUT_MS)  # fmt: skip
            # Run All, as a new user would: Run menu, "Run All Cells"
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            page.wait_for_selector(".mta-dashboard .mta-verdict li", timeout=PAGE_TIMEOUT_MS)
            _wait_charts(page)
            _print_load("jupyterlab (open, Run All)", opened)
            no_news = page.get_by_role("button", name="No", exact=True)
            if no_news.count():  # JupyterLab's "notified about Jupyter news?" toast
                no_news.first.click()
            times = _drive(page, "jupyterlab", errors)
            assert set(times) == set(WIDTHS)
        finally:
            browser.close()


def test_dashboard_on_the_voila_page(
    dashboard_url: str, voila_work: Path, expected: Dashboard
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser, page, errors = _open(pw)
        try:
            opened = time.monotonic()
            page.goto(dashboard_url, timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".mta-dashboard .mta-tile", timeout=PAGE_TIMEOUT_MS)
            _wait_charts(page)
            _print_load("voila", opened)
            dash = page.locator(".mta-dashboard")

            # the dashboard comes first: its verdict panel is in the first screenful, and no
            # setup print, table or log is shown on the page
            top = page.evaluate(
                "() => document.querySelector('.mta-dashboard .mta-verdict')"
                ".getBoundingClientRect().top + window.scrollY"
            )
            assert top < 400, top
            body = page.locator("body").inner_text()
            assert "Talking to" not in body
            assert "ledger rows" not in body
            assert "delivery_rate" not in body

            # tiles: all of them, with the numbers the Python side computes
            names = dash.locator(".mta-tile").evaluate_all("els => els.map(e => e.dataset.tile)")
            assert names == list(TILE_NAMES)
            assert _tile_text(page, "messages") == f"{expected.tiles['messages']:,}"
            assert _tile_text(page, "imessage_rate") == _pct(expected.tiles["imessage_rate"])
            verdicts = dash.locator(".mta-verdict:not(.mta-identities) li").all_inner_texts()
            assert verdicts == list(expected.comparison["verdict"])
            # the identities compared (observational: a CSV ledger keeps no experiments), and
            # the cost tiles
            panel = dash.locator(".mta-identities")
            assert panel.locator("li").count() == len(expected.identity_comparison) > 0
            assert "Observational" in panel.inner_text()
            assert _tile_text(page, "credits") == f"{expected.cost['credits']:,}"

            times = _drive(page, "voila", errors)
            assert set(times) == set(WIDTHS)
            charts = page.locator(CHARTS)
            after = charts.nth(CHART_NAMES.index("delivery_rates")).evaluate(
                "gd => JSON.stringify(gd.data.map(t => t.x))"
            )
            xs = {x for trace in json.loads(after) for x in (trace or [])}
            assert xs == {"Acme", "Acme Deals"}, after

            expected.set_filters(identities=["Acme", "Acme Deals"])
            want = f"{expected.tiles['messages']:,}"
            page.wait_for_function(
                "([el, want]) => el.innerText.trim() === want",
                arg=[
                    page.locator(
                        ".mta-dashboard .mta-tile[data-tile='messages'] .mta-tile-value"
                    ).element_handle(),
                    want,
                ],
            )

            # the CSV button hands the browser the filtered failures table
            with page.expect_download(timeout=60_000) as info:
                dash.get_by_role("button", name="Download failures (CSV)").click()
            download = info.value
            assert download.suggested_filename == "failures.csv"
            csv = Path(download.path()).read_text(encoding="utf-8").splitlines()
            assert csv[0].startswith("phone,identity,route,status")
            assert len(csv) == 1 + len(expected.failures)
            # and the report table, as CSV
            with page.expect_download(timeout=60_000) as info:
                dash.get_by_role("button", name="Download report table (CSV)").click()
            assert info.value.suggested_filename == "delivery_report.csv"

            # "Save the report" writes to out/ of the directory the command ran in (not a
            # temporary folder) and says where
            target = voila_work / "out" / "report.html"
            # opening the page saved nothing: notebook 03's save cell skips itself under Voilà
            assert not target.exists(), target
            dash.get_by_role("button", name="Save the report").click()
            page.wait_for_function(
                "() => document.querySelector('.mta-dashboard').innerText.includes('Saved ')"
            )
            assert str(target) in dash.inner_text()
            assert target.stat().st_size > 10_000
            assert target.with_suffix(".csv").exists()
            assert errors == [], errors
        finally:
            browser.close()
