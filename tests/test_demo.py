"""The README's first command: the whole demo on the embedded sandbox."""

from __future__ import annotations

import io
from pathlib import Path

from mta_notebook._demo import IDENTITIES, run_demo


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = io.StringIO()
    result = run_demo(tmp_path / "out", stream=out)
    text = out.getvalue()
    report = result.report
    assert set(IDENTITIES) <= set(report["sender_name"])
    assert {"imessage", "sms_fallback"} <= set(report["route"])
    # every usable subscriber was sent exactly one message, and each one is in the report
    assert report["messages"].sum() == len(result.sends)
    assert (result.sends["state"] == "sent").all()
    html = result.report_path.read_text(encoding="utf-8")
    assert "plotly" in html.lower()
    assert "Delivery per Sender Identity and route" in text
    assert "sandbox-key" not in text + html
