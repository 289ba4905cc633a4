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
    assert set(report["sender_name"].dropna()) <= {"Acme"}
