"""The curated namespace: complete, sorted, and light to import."""

from __future__ import annotations

import subprocess
import sys

import mta_notebook


def test_all_is_complete_and_importable() -> None:
    # ruff (RUF022, run by test_quality) keeps __all__ sorted; here: no duplicates, no gaps
    names = mta_notebook.__all__
    assert len(names) == len(set(names))
    public = {n for n in vars(mta_notebook) if not n.startswith("_")}
    modules = {"analytics", "campaigns", "cli", "client", "config", "dashboard", "demo", "errors"}
    modules |= {"journal", "models", "receiver", "report", "subscribers", "webhook_log"}
    assert public - modules - {"webhooks"} <= set(names)
    for name in names:
        assert hasattr(mta_notebook, name), name


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, mta_notebook; "
        "print(','.join(m for m in ('plotly', 'ipywidgets', 'ibis', 'duckdb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
