"""The README's quickstart runs as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme, re.S)
    assert code is not None
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    report = namespace["mta"].delivery_report(  # type: ignore[attr-defined]
        namespace["events"],
        namespace["result"].sends,  # type: ignore[attr-defined]
    )
    assert {"imessage", "sms_fallback"} <= set(report["route"])
    assert set(report["sender_name"].dropna()) == {"Acme", "Acme Deals"}
    # the test send to our own phone is not counted: one message per recipient
    assert report["messages"].sum() == len(namespace["sends"])  # type: ignore[arg-type]
    # the report it writes compares the identities as the randomized split they came from
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Randomized experiment" in page
    assert "1 test send is left out of every figure" in page
    for heading in ("Identities compared", "Reach", "Time to deliver", "Cost"):
        assert f"<h2>{heading}</h2>" in page
    assert (tmp_path / "out" / "report.csv").exists()


def test_readme_names_the_answers() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    answers = readme[readme.index("## What the report answers") :]
    answers = answers[: answers.index("\n## ", 3)]
    for name in (
        "plan_experiment",
        "compare_routes",
        "compare_identities",
        "time_to_deliver",
        "cost_report",
        "optin_reach",
        "reachable",
        "readable",
    ):
        assert re.search(rf"`(mta\.)?{name}\b", answers), name
    # the two commands at the top stay as they are
    assert ".venv/bin/mta-notebook demo" in readme.split("## ", 1)[0]
    assert ".venv/bin/python -m pytest" in readme.split("## ", 1)[0]
