"""The Voilà dashboard (``mta-notebook dashboard``) in headless Chromium, driven by Playwright.

Uses Debian's ``chromium`` package (``apt-get install -y chromium``); Playwright never downloads a
browser. Screenshots go to ``test-artifacts/`` (kept by CI, ignored by git).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mta_notebook._server import free_port
from mta_notebook.dashboard import CHART_NAMES, TILE_NAMES, Dashboard
from mta_notebook.dashboard._view import _pct
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
TRACES_JS = "gd => JSON.stringify((gd.data || []).map(t => [t.name, t.x, t.y]))"


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}. The browser test drives Debian's "
            "chromium package with Playwright (no browser download). Install it with: "
            "sudo apt-get update && sudo apt-get install -y chromium"
        )


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mta-notebook dashboard`` on the sample log, on a free loopback port."""
    _require_chromium()
    ensure_kernel()
    work = tmp_path_factory.mktemp("voila")
    log_path = work / "dashboard.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTA_")}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mta_notebook",
                "dashboard",
                "--log",
                str(DATA / "webhooks_sample.jsonl"),
                "--journal",
                str(DATA / "sends_sample.csv"),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
            env=env,
            start_new_session=True,  # its own process group: Voilà and its kernels stop with it
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120
        while f"Dashboard at {url}" not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mta-notebook dashboard did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def expected() -> Dashboard:
    """The same dashboard in-process, for the numbers the page must show."""
    return Dashboard.from_files(DATA / "webhooks_sample.jsonl", DATA / "sends_sample.csv")


def _tile_text(page: object, name: str) -> str:
    loc = page.locator(f".mta-dashboard .mta-tile[data-tile='{name}'] .mta-tile-value")  # type: ignore[attr-defined]
    return str(loc.inner_text()).strip()


def test_dashboard_in_chromium(dashboard_url: str, expected: Dashboard) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page_errors: list[str] = []
            page.on("pageerror", lambda err: page_errors.append(err.message))
            page.set_default_timeout(60_000)
            page.goto(dashboard_url, timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".mta-dashboard .js-plotly-plot", timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".mta-dashboard .mta-tile", timeout=PAGE_TIMEOUT_MS)
            dash = page.locator(".mta-dashboard")

            # tiles: all six, with the numbers the Python side computes
            names = dash.locator(".mta-tile").evaluate_all("els => els.map(e => e.dataset.tile)")
            assert names == list(TILE_NAMES)
            assert _tile_text(page, "messages") == f"{expected.tiles['messages']:,}"
            assert _tile_text(page, "imessage_rate") == _pct(expected.tiles["imessage_rate"])
            assert _tile_text(page, "fallback_rate") == _pct(expected.tiles["fallback_rate"])

            # charts: the five of mta_notebook.charts, drawn by plotly.js, in CHART_NAMES order
            charts = dash.locator(".js-plotly-plot")
            charts.nth(len(CHART_NAMES) - 1).wait_for(timeout=PAGE_TIMEOUT_MS)
            assert charts.count() == len(CHART_NAMES)
            rates = charts.nth(CHART_NAMES.index("delivery_rates"))
            page.wait_for_function(
                "gd => gd.data && gd.data.length > 0", arg=rates.element_handle()
            )
            before = [charts.nth(i).evaluate(TRACES_JS) for i in range(len(CHART_NAMES))]
            assert "Acme Deals" in before[0]
            assert '"Acme"' in before[0]
            page.screenshot(path=str(ARTIFACTS / "dashboard_all.png"), full_page=True)

            # choose another identity: every chart, the tiles and the table follow
            dash.locator("select[multiple]").first.select_option(["Acme Deals"])
            for i, name in enumerate(CHART_NAMES):
                try:
                    page.wait_for_function(
                        "([gd, before]) => JSON.stringify("
                        "(gd.data || []).map(t => [t.name, t.x, t.y])) !== before",
                        arg=[charts.nth(i).element_handle(), before[i]],
                        timeout=120_000,
                    )
                except PlaywrightTimeoutError:
                    pytest.fail(f"chart {name} did not change; page errors: {page_errors}")
            after = rates.evaluate(TRACES_JS)
            xs = {x for trace in json.loads(after) for x in (trace[1] or [])}
            assert xs == {"Acme Deals"}, (after, page_errors)

            expected.set_filters(identities=["Acme Deals"])
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
            assert _tile_text(page, "imessage_rate") == _pct(expected.tiles["imessage_rate"])

            # the CSV button hands the browser the filtered failures table
            with page.expect_download(timeout=60_000) as info:
                dash.get_by_role("button", name="Download failures (CSV)").click()
            download = info.value
            assert download.suggested_filename == "failures.csv"
            csv = Path(download.path()).read_text(encoding="utf-8").splitlines()
            assert csv[0].startswith("phone,identity,route,status")
            assert len(csv) == 1 + len(expected.failures)
            assert all(",Acme Deals," in line for line in csv[1:])

            dash.screenshot(path=str(ARTIFACTS / "dashboard_acme_deals.png"))
        finally:
            browser.close()
