"""A built wheel, installed in a fresh virtualenv outside the checkout, runs the demo and serves
the dashboard: the samples and the dashboard notebook travel as package data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ROOT, "-w", base, cwd=base
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = base.glob("mta_notebook-*.whl")
    env = base / "venv"
    made = _run(sys.executable, "-m", "venv", env, cwd=base)
    assert made.returncode == 0, made.stderr
    pip = _run(env / "bin" / "pip", "install", "-q", f"{wheel}[dashboard]", cwd=base, timeout=1200)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return env


def test_the_demo_runs_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    found = _run(
        venv / "bin" / "python",
        "-c",
        "import mta_notebook; print(mta_notebook.__file__)",
        cwd=tmp_path,
    )
    assert str(venv) in found.stdout  # the installed package, not this checkout
    demo = _run(venv / "bin" / "mta-notebook", "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "Delivery per Sender Identity and route" in demo.stdout
    assert "iMessage" in demo.stdout
    assert "SMS fallback" in demo.stdout
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_dashboard_serves_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    log = tmp_path / "server.log"
    with log.open("w") as out:  # a file, not a pipe: a chatty server never blocks on it
        proc = subprocess.Popen(
            [str(venv / "bin" / "mta-notebook"), "dashboard", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        page = ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                # each GET runs notebook 03 in a new kernel: wait for it, never ask twice
                # while one is running (on a busy machine a cell may take more than 5 s)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=90) as resp:
                    page = resp.read().decode("utf-8", "replace")
                    break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, log.read_text()[-3000:]
        assert "voila" in page.lower()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
