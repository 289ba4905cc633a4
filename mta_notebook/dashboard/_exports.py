"""The dashboard's downloads and "Save the report": files of the current selection.

A mixin of :class:`~mta_notebook.dashboard.Dashboard`: it reads the selection through the
dashboard's properties and hands bytes to the browser through its hidden download widget.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..display import escape
from ..display._csv import safe_csv

__all__ = ["Exports"]


class Exports:
    """Downloads (failures CSV, HTML report, report table CSV) and saving to a path."""

    title: str
    save_to: Path
    report: pd.DataFrame
    save_path: Any
    save_status: Any
    _downloader: Any
    last_download: tuple[str, bytes] | None

    @property
    def failures(self) -> pd.DataFrame:
        raise NotImplementedError

    @property
    def filtered_events(self) -> pd.DataFrame:
        raise NotImplementedError

    @property
    def filtered_sends(self) -> pd.DataFrame:
        raise NotImplementedError

    def failures_csv(self) -> bytes:
        """The filtered failures table as CSV (UTF-8 bytes), safe to open in a spreadsheet.

        Written by :func:`mta_notebook.display.safe_csv`: a cell that would start a formula
        gets a leading ``'``, phones are text.
        """
        return safe_csv(self.failures).encode("utf-8")

    def report_html(self) -> str:
        """The HTML report (:func:`mta_notebook.save_report`) of the current selection."""
        from ..display import save_report

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.html"
            save_report(path, self.filtered_events, self.filtered_sends, title=self.title)
            return path.read_text(encoding="utf-8")

    def report_table_csv(self) -> bytes:
        """The report table of the selection (``delivery_report`` rows) as spreadsheet-safe
        CSV (:func:`mta_notebook.display.safe_csv`)."""
        return safe_csv(self.report).encode("utf-8")

    def save(self, path: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
        """Write the HTML report of the selection to ``path`` (default: ``save_to``) and its
        table as CSV beside it; returns both paths, absolute.

        Raises ``OSError`` (with the path) if the folder cannot be made or written.
        """
        from ..display import save_report

        target = Path(path if path is not None else self.save_to).expanduser()
        if target.suffix.lower() not in (".html", ".htm"):
            target = target / "report.html"  # a folder was given: the report goes inside
        target = target.resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        save_report(target, self.filtered_events, self.filtered_sends, title=self.title)
        table = target.with_suffix(".csv")
        table.write_bytes(self.report_table_csv())
        return target, table

    def _save_clicked(self) -> None:
        try:
            html, table = self.save(self.save_path.value.strip() or self.save_to)
        except OSError as exc:
            self.save_status.value = (
                f"<span class='mta-error'>Could not save to {escape(str(exc.filename or ''))}: "
                f"{escape(exc.strerror or str(exc))}. Choose a folder you can write to.</span>"
            )
            return
        self.save_status.value = (
            f"<span class='mta-status'>Saved {escape(str(html))} and the table as "
            f"{escape(table.name)} beside it.</span>"
        )

    def download_table(self) -> None:
        """Hand the report table of the selection to the browser as ``delivery_report.csv``."""
        self._send_download("delivery_report.csv", self.report_table_csv(), "text/csv")

    def download_csv(self) -> None:
        """Hand the filtered failures table to the browser as ``failures.csv``."""
        self._send_download("failures.csv", self.failures_csv(), "text/csv")

    def download_report(self) -> None:
        """Hand the HTML report of the current selection to the browser."""
        self._send_download("delivery_report.html", self.report_html().encode("utf-8"), "text/html")

    def _send_download(self, filename: str, content: bytes, mime: str) -> None:
        self.last_download = (filename, content)
        payload = base64.b64encode(content).decode("ascii")
        self._downloader.send({"filename": filename, "mime": mime, "b64": payload})
