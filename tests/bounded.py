"""Run one loader on one file in a fresh process, so its time and peak memory are its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_SCRIPT = """
import json, resource, sys, time
import mta_notebook
start = time.monotonic()
try:
    getattr(mta_notebook, sys.argv[1])(sys.argv[2])
    error = None
except Exception as exc:
    error = [type(exc).__name__, str(exc)]
print(json.dumps({"error": error, "seconds": time.monotonic() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_bounded(loader: str, path: Path) -> dict[str, Any]:
    """``mta_notebook.<loader>(path)`` in a new interpreter: its ``error`` ([type, message] or
    None), ``seconds`` and ``peak_mb``."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, loader, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out
