"""What people read: HTML cards and one stylesheet, readable tables, charts, the report, CSVs.

The charts and the report load on first use (they bring pandas, and plotly when drawn), so
the cards stay light for the objects that render through them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._html import STYLESHEET, HtmlRepr, card, escape, frame_html

if TYPE_CHECKING:
    from ._charts import (
        NO_IDENTITY,
        ROUTE_COLORS,
        delivery_over_time,
        delivery_rates,
        failure_reasons,
        plot_text,
        replies,
        route_mix,
    )
    from ._csv import safe_csv
    from ._latency_chart import time_to_deliver_chart
    from ._report import save_report
    from ._tables import readable

__all__ = [
    "NO_IDENTITY",
    "ROUTE_COLORS",
    "STYLESHEET",
    "HtmlRepr",
    "card",
    "delivery_over_time",
    "delivery_rates",
    "escape",
    "failure_reasons",
    "frame_html",
    "plot_text",
    "readable",
    "replies",
    "route_mix",
    "safe_csv",
    "save_report",
    "time_to_deliver_chart",
]

_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "NO_IDENTITY",
            "ROUTE_COLORS",
            "delivery_over_time",
            "delivery_rates",
            "failure_reasons",
            "plot_text",
            "replies",
            "route_mix",
        ),
        "._charts",
    ),
    "safe_csv": "._csv",
    "save_report": "._report",
    "time_to_deliver_chart": "._latency_chart",
    "readable": "._tables",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
