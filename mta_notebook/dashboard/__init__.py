"""The delivery dashboard: filter state over the analytics reducers, widgets, the Voilà page.

``_state`` holds the filters and the one call into :mod:`mta_notebook.analytics`; ``_widgets``
draws it (ipywidgets, plotly), with ``_selection`` (the selected rows and tables), ``_view`` and
``_panels`` (tiles, verdicts, cost, identities as HTML), ``_chart_widget`` (charts redrawn in
place) and ``_exports`` (downloads); ``_server`` serves notebook 03 with Voilà; ``_loaders``
reads a webhook log, a send ledger and its experiments from files.
"""

from __future__ import annotations

from ..display import NO_IDENTITY
from ._loaders import load_events, load_sends
from ._server import dashboard_notebook, serve_dashboard
from ._state import FAILURE_COLUMNS, GRANULARITIES, ROUTE_CHOICES, DashboardFilters
from ._view import CHART_NAMES, TILE_NAMES
from ._widgets import Dashboard

__all__ = [
    "CHART_NAMES",
    "FAILURE_COLUMNS",
    "GRANULARITIES",
    "NO_IDENTITY",
    "ROUTE_CHOICES",
    "TILE_NAMES",
    "Dashboard",
    "DashboardFilters",
    "dashboard_notebook",
    "load_events",
    "load_sends",
    "serve_dashboard",
]
