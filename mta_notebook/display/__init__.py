"""What people read: shared HTML cards and one stylesheet, charts, the offline report."""

from __future__ import annotations

from ._html import STYLESHEET, HtmlRepr, card, escape, frame_html

__all__ = ["STYLESHEET", "HtmlRepr", "card", "escape", "frame_html"]
