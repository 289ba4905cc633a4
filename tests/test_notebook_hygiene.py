"""Notebook outputs stay out of git (issue 15): every notebook in notebooks/ is saved without
outputs, execution counts or widget state, and the repository carries the nbstripout setup."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# what nbstripout removes from cell metadata by default (timing and view state)
_CELL_KEYS = ("execution", "ExecuteTime", "collapsed", "scrolled")


def saved_state(notebook: dict[str, Any]) -> list[str]:
    """What a run left in ``notebook`` that nbstripout would strip, one line per finding."""
    found = []
    for i, cell in enumerate(notebook.get("cells", [])):
        where = f"cell {i} ({cell.get('id', 'no id')})"
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"{where}: {len(cell['outputs'])} outputs")
        if cell.get("execution_count") is not None:
            found.append(f"{where}: execution_count {cell['execution_count']}")
        found += [f"{where}: metadata.{k}" for k in _CELL_KEYS if k in cell.get("metadata", {})]
    if "widgets" in notebook.get("metadata", {}):
        found.append("metadata.widgets (saved widget state)")
    return found


def test_there_are_notebooks_to_check() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_load_subscribers.ipynb",
        "02_send_campaign.ipynb",
        "03_delivery_dashboard.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_saved_without_outputs(path: Path) -> None:
    found = saved_state(json.loads(path.read_text(encoding="utf-8")))
    assert found == [], (
        f"{path.relative_to(ROOT)} was saved after a run: {found}. Strip it with "
        "`python -m nbstripout --keep-id <file>` (or `pre-commit run nbstripout --all-files`)."
    )


def test_the_check_finds_what_a_run_leaves() -> None:
    run = {
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {}}},
        "cells": [
            {"cell_type": "markdown", "source": "# x", "metadata": {}},
            {
                "cell_type": "code",
                "id": "01-00",
                "execution_count": 3,
                "metadata": {"execution": {"iopub.status.idle": "2026-12-01T16:00:00Z"}},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "0.892683"}],
                "source": "subs.summary()",
            },
        ],
    }
    assert saved_state(run) == [
        "cell 1 (01-00): 1 outputs",
        "cell 1 (01-00): execution_count 3",
        "cell 1 (01-00): metadata.execution",
        "metadata.widgets (saved widget state)",
    ]


def test_git_strips_notebooks_on_commit() -> None:
    # the attribute applies to every notebook (git reads .gitattributes from the work tree)
    out = subprocess.run(
        ["git", "check-attr", "filter", "diff", "--", *(str(p) for p in NOTEBOOKS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(out) == 2 * len(NOTEBOOKS)
    assert all(line.endswith(("filter: nbstripout", "diff: ipynb")) for line in out), out
    hooks = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert "repo: https://github.com/kynan/nbstripout" in hooks
    assert "id: nbstripout" in hooks
    assert "--keep-id" in hooks  # the notebooks' cell ids ("03-00") stay as written
