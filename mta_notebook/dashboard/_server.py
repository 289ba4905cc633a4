"""The dashboard as a web page: notebook 03 served by Voilà (``mta-notebook dashboard``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

__all__ = ["dashboard_notebook", "serve_dashboard"]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops Voilà as cleanly as Ctrl-C


def dashboard_notebook() -> Path:
    """The dashboard page (notebook 03), from the wheel's package data or this checkout."""
    from .._samples import sample_path

    return sample_path("03_delivery_dashboard.ipynb")


def _environment(
    log: str | os.PathLike[str] | None,
    journal: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None = None,
) -> dict[str, str] | None:
    """The notebook's environment: the paths it reads, absolute; ``None`` if one is missing.

    ``MTA_DASHBOARD_OUT`` (where "Save the report" writes) is ``out``, else ``out/`` of this
    working directory, absolute: Voilà runs the notebook in the notebook's own folder (inside
    the installed package), and a temporary folder would vanish with the server.
    """
    env = dict(os.environ)
    env["MTA_DASHBOARD_OUT"] = str(Path(out if out is not None else "out").resolve())
    if log is None and Path("out/webhooks").is_dir() and Path("out/mta_journal.sqlite").exists():
        log, journal = "out/webhooks", journal or "out/mta_journal.sqlite"
    for name, value in (("MTA_DASHBOARD_LOG", log), ("MTA_DASHBOARD_JOURNAL", journal)):
        env.pop(name, None)
        if value is not None:
            path = Path(value).resolve()
            if not path.exists():
                print(f"{name.split('_')[-1].lower()} {path} does not exist", file=sys.stderr)
                return None
            env[name] = str(path)
    return env


def _wait_listening(proc: subprocess.Popen[bytes], host: str, port: int, timeout: float) -> int:
    """0 once Voilà listens on ``host:port``; else the exit code to return (and why, printed)."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            print(f"Voilà exited with code {proc.returncode}", file=sys.stderr)
            return proc.returncode or 1
        try:  # listening is enough: a GET would start a kernel for nobody
            with socket.create_connection((host, port), timeout=2):
                return 0
        except OSError:
            if time.monotonic() > deadline:
                print(f"Voilà did not answer on http://{host}:{port}/ in time", file=sys.stderr)
                return 1
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate Voilà; kill it if it has not stopped 15 s later."""
    import contextlib
    import subprocess

    for stop in (proc.terminate, proc.kill):
        if proc.poll() is not None:
            return
        stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)


def serve_dashboard(
    log: str | os.PathLike[str] | None = None,
    journal: str | os.PathLike[str] | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    startup_timeout: float = 120.0,
    out: str | os.PathLike[str] | None = None,
) -> int:
    """Serve notebook 03 with Voilà on ``host:port`` until Ctrl-C; returns the exit code.

    The notebook reads the paths from ``MTA_DASHBOARD_LOG`` and ``MTA_DASHBOARD_JOURNAL``.
    Without ``log`` it shows ``out/`` (from ``mta-notebook demo``) if there, else the sample.
    "Save the report" writes to ``out`` (default: ``out/`` of the working directory this
    command runs in, made absolute: Voilà runs the notebook in its own folder), and the page
    says where.
    """
    import importlib.util
    import signal
    import subprocess

    from .._server import free_port

    if importlib.util.find_spec("voila") is None:
        print("mta-notebook dashboard needs Voilà: .venv/bin/pip install voila", file=sys.stderr)
        return 2
    notebook = dashboard_notebook()
    env = _environment(log, journal, out)
    if env is None:
        return 2
    port = port or free_port(host)
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}"]
    cmd += [f"--Voila.ip={host}", "--Voila.port_retries=0", "--theme=light"]
    cmd += ["--show_tracebacks=True"]
    proc = subprocess.Popen(cmd, env=env)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        failed = _wait_listening(proc, host, port, startup_timeout)
        if failed:
            return failed
        print(f"Dashboard at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(proc)
