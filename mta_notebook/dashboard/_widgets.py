"""The delivery dashboard as ipywidgets: filters, tiles, charts and a failures table.

Every number comes from :mod:`._state` (the analytics reducers, then the filters' rows); this
module only builds widgets, draws and hands downloads to the browser. ipywidgets, anywidget and
plotly load when a dashboard is built.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from ..analytics import OBSERVATIONAL, auto_freq, messages
from ..campaigns import SENDS_COLUMNS
from ..contract.assumptions import IMESSAGE_CREDITS
from ..contract.routes import MESSAGE_ROUTES
from ..display import NO_IDENTITY, STYLESHEET, escape
from . import _state as state
from ._chart_widget import plotly_loader
from ._exports import Exports
from ._loaders import frame, load_events, load_experiments, load_sends
from ._panels import cost_tiles, cost_values, identities_html
from ._selection import Selection
from ._state import GRANULARITIES, ROUTE_CHOICES, DashboardFilters, DashboardTables, RouteFilter
from ._view import (
    CHART_NAMES,
    EMPTY,
    TILE_NAMES,
    downloader,
    failures_html,
    status_html,
    tiles,
    verdict_html,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["VOILA_HIDE", "Dashboard"]

#: Cell tag of notebook 03's setup and table cells: hidden on the Voilà page, which puts a
#: cell's tags on it as ``celltag_<tag>`` classes (JupyterLab adds no such class: the notebook
#: reads as before there).
VOILA_HIDE = "mta-voila-hide"
VOILA_HIDE_CSS = f".celltag_{VOILA_HIDE}{{display:none !important}}"


class Dashboard(Selection, Exports):
    """Interactive delivery dashboard over a webhook event log and a send ledger.

    Filters (identities, route, UTC date range, time bucket) recompute the verdict panel
    (:func:`~mta_notebook.compare_routes` per identity), the "Identities compared" panel
    (:func:`~mta_notebook.compare_identities`), the tiles (with credits from
    ``cost_report``), the charts of
    :mod:`mta_notebook.charts` (``figures``; each drawn by one widget built once and redrawn in
    place, ``chart_widgets``) and the table of failed recipients. Works in JupyterLab, VS Code,
    Colab and Voilà.

    The numbers are the analytics reducers' (:func:`~mta_notebook.analytics.delivery_report`,
    ``delivery_timeseries``, ``failure_reasons``, ``reply_report``, ``time_to_deliver``,
    ``cost_report`` and ``message_table``) over
    the chosen dates, computed once per date range and bucket; the identities and route then
    keep their rows.

    Parameters
    ----------
    events
        ``EventLog`` from :func:`mta_notebook.read_webhook_log`, or its ``.df``.
    sends
        The send ledger (``Journal.sends()`` / ``CampaignResult.sends``). Without it, SMS
        fallback cannot be told apart from plain SMS (the route is ``unknown``).
    title
        Heading shown above the filters and used for the HTML report.
    reply_window
        How long after a message a reply is attributed to it (as in ``reply_report``).
    save_to
        The path "Save the report" offers (the page's field changes it): the HTML report, with
        the report table as CSV beside it (same name, ``.csv``). Relative paths are from the
        kernel's working directory.
    experiments
        The journal's experiments (:func:`mta_notebook.read_experiments`): when every campaign
        shown is an arm of one of them, the identities comparison is randomized (it compares
        that experiment's campaigns); otherwise it says it is observational.
        :meth:`from_files` reads them from a SQLite journal.

    Examples
    --------
    >>> import mta_notebook as mta
    >>> dash = Dashboard.from_files(mta.sample_path("webhooks_sample.jsonl"),
    ...     mta.sample_path("sends_sample.csv"))
    >>> dash.set_filters(identities=["Acme"], route="imessage").route
    'imessage'
    >>> set(dash.report["route"])
    {'imessage'}
    """

    def __init__(
        self,
        events: Any,
        sends: pd.DataFrame | None = None,
        *,
        title: str = "Delivery by Sender Identity",
        reply_window: str = "24h",
        save_to: str | os.PathLike[str] = "out/report.html",
        experiments: pd.DataFrame | None = None,
    ) -> None:
        self.title = title
        self.experiments = experiments
        """The journal's experiments (``read_experiments``), or ``None``."""
        self.save_to = Path(save_to)
        """Where "Save the report" writes (the path field's first value)."""
        self.reply_window = reply_window
        self.events = frame(events).reset_index(drop=True)
        if sends is None:
            sends = pd.DataFrame({c: pd.Series(dtype="object") for c in SENDS_COLUMNS})
        self.sends = sends.reset_index(drop=True)

        occurred = pd.to_datetime(self.events["occurred_at"], utc=True, errors="coerce")
        sent = pd.to_datetime(self.sends["sent_at"], utc=True, errors="coerce")
        times = pd.concat([occurred, sent])
        first, last = times.min(), times.max()
        self._first: date | None = None if pd.isna(first) else first.date()
        self._last: date | None = None if pd.isna(last) else last.date()
        # buckets of send time (what delivery_timeseries groups by), among the dashboard's choices
        handed = occurred[self.events["event"] == "message-send"]
        self._default_freq = auto_freq(
            pd.concat([sent, handed]), choices=tuple(GRANULARITIES.values())
        )
        self._filters = DashboardFilters(start=self._first, end=self._last, freq=self._default_freq)
        self._cache: dict[tuple[date | None, date | None, str], DashboardTables] = {}
        self._compare_cache: dict[tuple[date | None, date | None], pd.DataFrame] = {}
        self._identity_cache: dict[tuple[Any, ...], pd.DataFrame] = {}
        # the message join runs once per data load; every filter change reduces the kept join
        self._joined = messages(self.events, self.sends)
        # the default window holds every message: its tables are the whole data's
        everything = self._tables()
        self.messages: pd.DataFrame = everything.messages
        """One row per message (``analytics.message_table``, with replies, stops, identity)."""
        self._not_sent = state.ledger_only_rows(self.sends, self.messages)
        self.identities: tuple[str, ...] = self._find_identities()
        self._build_widgets()
        self._recompute()
        self.widget = self._layout()

    def _tables(self) -> DashboardTables:
        """The reducers' tables for the filters' dates and bucket (kept per window)."""
        f = self._filters
        key = (f.start, f.end, f.freq)
        if key not in self._cache:
            self._cache[key] = state.analytics_tables(
                self._joined, self.sends, filters=f, reply_window=self.reply_window
            )
        return self._cache[key]

    def _compare(self) -> pd.DataFrame:
        """``compare_routes`` for the filters' dates (kept per window), selected identities."""
        from ..analytics import compare_routes

        f = self._filters
        key = (f.start, f.end)
        if key not in self._compare_cache:
            start, end = f.window()
            self._compare_cache[key] = compare_routes(self._joined, start=start, end=end)
        rows = self._compare_cache[key]
        if f.identities is not None:
            rows = rows[rows["sender_name"].isin(f.identities)]
        return cast("pd.DataFrame", rows.reset_index(drop=True))

    def _find_identities(self) -> tuple[str, ...]:
        ids = set(self.messages["identity"]) | set(self._not_sent["identity"])
        optins = self.events.loc[self.events["event"] == "number-opt-in", "sender_name"]
        ids |= set(optins.dropna().astype(str))
        named = sorted(ids - {NO_IDENTITY})
        return tuple(named + ([NO_IDENTITY] if NO_IDENTITY in ids else []))

    def _build_widgets(self) -> None:
        import ipywidgets as w

        # a button as wide as its label ("Download failure…" was cut at the default width)
        fit = w.Layout(width="auto")

        routes = ["all", *(r for r in MESSAGE_ROUTES if r != "unknown")]
        if (self.messages["route"] == "unknown").any() or (
            self._not_sent["route"] == "unknown"
        ).any():
            routes.append("unknown")
        self.identity_picker = w.SelectMultiple(
            options=self.identities,
            value=self.identities,
            rows=min(max(len(self.identities), 2), 6),
            description="Identity",
        )
        self.route_picker = w.Dropdown(
            options=[(ROUTE_CHOICES[r], r) for r in routes], value="all", description="Route"
        )
        self.start_picker = w.DatePicker(value=self._first, description="From (UTC)")
        self.end_picker = w.DatePicker(value=self._last, description="To (UTC)")
        self.freq_picker = w.Dropdown(
            options=list(GRANULARITIES.items()), value=self._filters.freq, description="Bucket"
        )
        self._updating = False
        for picker in self._pickers():
            picker.observe(self._on_filter_change, names="value")

        self.tile_widgets: dict[str, Any] = {name: w.HTML() for name in TILE_NAMES}
        self.failures_table = w.HTML()
        self.status = w.HTML()
        self.verdict = w.HTML()
        """The top panel: ``compare_routes`` verdicts of the selection, one per identity."""
        self.identities_panel = w.HTML()
        """``compare_identities`` of the selection: randomized or observational, it says."""
        self.csv_button = w.Button(
            description="Download failures (CSV)", icon="download", layout=fit
        )
        self.report_button = w.Button(description="Download report (HTML)", icon="file", layout=fit)
        self.table_button = w.Button(
            description="Download report table (CSV)", icon="table", layout=fit
        )
        self.csv_button.on_click(lambda _b: self.download_csv())
        self.report_button.on_click(lambda _b: self.download_report())
        self.table_button.on_click(lambda _b: self.download_table())
        self.save_path = w.Text(
            value=str(self.save_to),
            description="Save to",
            layout=w.Layout(width="min(100%, 560px)"),
        )
        self.save_button = w.Button(description="Save the report", icon="save", layout=fit)
        self.save_button.on_click(lambda _b: self._save_clicked())
        self.save_status = w.HTML()
        self._downloader = downloader()
        self.last_download: tuple[str, bytes] | None = None
        """The last file handed to the browser: (file name, bytes)."""

        self._chart_grid: Any = None
        self.figures: dict[str, go.Figure] = {}
        """The charts shown, by name (``CHART_NAMES``): the plotly figures drawn."""
        self.chart_widgets: dict[str, Any] = {}
        """The widget of each chart, built once; a filter change redraws it in place."""
        self._plotly = plotly_loader()

    def _pickers(self) -> tuple[Any, ...]:
        return (
            self.identity_picker,
            self.route_picker,
            self.start_picker,
            self.end_picker,
            self.freq_picker,
        )

    # -- construction helpers -----------------------------------------------------------------

    @classmethod
    def from_files(
        cls,
        log_dir: str | os.PathLike[str],
        journal_path: str | os.PathLike[str] | None = None,
        *,
        title: str = "Delivery by Sender Identity",
    ) -> Dashboard:
        """Build the dashboard from a webhook log (file or directory) and a send journal.

        Parameters
        ----------
        log_dir
            A JSON Lines log written by the webhook receiver, or a directory of them
            (every ``*.jsonl`` inside, in name order).
        journal_path
            The SQLite send journal, or a CSV export of the send ledger (``.csv``).
            ``None`` shows the events alone.
        title
            Heading of the dashboard and of its HTML report.
        """
        events = load_events(log_dir)
        sends = load_sends(journal_path) if journal_path is not None else None
        experiments = load_experiments(journal_path) if journal_path is not None else None
        return cls(events, sends, title=title, experiments=experiments)

    def _layout(self) -> Any:
        import ipywidgets as w

        heading = w.HTML(
            f"<style>{STYLESHEET}{VOILA_HIDE_CSS}</style><h2>{escape(self.title)}</h2>"
        )
        filters = w.HBox(
            [
                self.identity_picker,
                w.VBox([self.route_picker, self.freq_picker]),
                w.VBox([self.start_picker, self.end_picker]),
            ],
            layout=w.Layout(flex_flow="row wrap", align_items="flex-start"),
        )
        tile_row = w.HBox(list(self.tile_widgets.values()), layout=w.Layout(flex_flow="row wrap"))
        charts = self._chart_grid = w.GridBox(
            [self.chart_widgets[name] for name in CHART_NAMES],
            layout=w.Layout(
                grid_template_columns="repeat(auto-fit, minmax(440px, 1fr))", grid_gap="8px"
            ),
        )
        charts.add_class("mta-charts")
        failures = w.VBox([w.HTML("<h3>Failed recipients</h3>"), self.failures_table])
        buttons = w.HBox(
            [self.csv_button, self.report_button, self.table_button, self._downloader],
            layout=w.Layout(flex_flow="row wrap"),
        )
        save = w.HBox(
            [self.save_path, self.save_button, self.save_status],
            layout=w.Layout(flex_flow="row wrap", align_items="center"),
        )
        panels = [
            heading,
            self.verdict,
            self.identities_panel,
            filters,
            self.status,
            tile_row,
            charts,
            failures,
        ]
        root = w.VBox(
            [*panels, buttons, save, self._plotly],
            layout=w.Layout(width="100%"),
        )
        root.add_class("mta-dashboard")
        return root

    # -- display ------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        return (
            f"Dashboard(messages={len(self.messages)}, events={len(self.events)}, "
            f"identities={list(self.identities)!r}, filters={self._filters!r})"
        )

    # -- filters ------------------------------------------------------------------------------

    @property
    def filters(self) -> DashboardFilters:
        """The filters in effect."""
        return self._filters

    def set_filters(
        self,
        *,
        identities: Iterable[str] | None = None,
        route: RouteFilter | None = None,
        start: date | None = None,
        end: date | None = None,
        freq: str | None = None,
    ) -> DashboardFilters:
        """Change some filters (the widgets follow) and redraw once; returns the new filters.

        Raises ``ValueError`` for an identity, route or bucket the dashboard does not offer.
        """
        if identities is not None:
            chosen = tuple(identities)
            unknown = sorted(set(chosen) - set(self.identities))
            if unknown:
                raise ValueError(
                    f"unknown identities {unknown}; the data has {list(self.identities)}"
                )
        routes = [value for _, value in self.route_picker.options]
        if route is not None and route not in routes:
            raise ValueError(f"route must be one of {routes}, got {route!r}")
        if freq is not None:
            try:
                pd.Timedelta(freq)
            except ValueError as exc:
                raise ValueError(f"freq={freq!r} is not a duration such as '1h'") from exc
        self._updating = True
        try:
            if identities is not None:
                self.identity_picker.value = chosen
            if route is not None:
                self.route_picker.value = route
            if start is not None:
                self.start_picker.value = start
            if end is not None:
                self.end_picker.value = end
            if freq is not None:
                if freq not in [value for _, value in self.freq_picker.options]:
                    self.freq_picker.options = [*self.freq_picker.options, (freq, freq)]
                self.freq_picker.value = freq
        finally:
            self._updating = False
        self._read_widgets()
        self._recompute()
        return self._filters

    def reset_filters(self) -> DashboardFilters:
        """Show everything again: all identities and routes, the whole period, default bucket."""
        return self.set_filters(
            identities=self.identities,
            route="all",
            start=self._first,
            end=self._last,
            freq=self._default_freq,
        )

    def _read_widgets(self) -> None:
        chosen = tuple(self.identity_picker.value)
        self._filters = replace(
            self._filters,
            identities=None if set(chosen) == set(self.identities) else chosen,
            route=self.route_picker.value,
            start=self.start_picker.value,
            end=self.end_picker.value,
            freq=self.freq_picker.value,
        )

    def _on_filter_change(self, _change: Any) -> None:
        if self._updating:
            return
        self._read_widgets()
        self._recompute()

    # -- recompute ----------------------------------------------------------------------------

    def _recompute(self) -> None:
        from ..display import _charts as charts
        from ..display._latency_chart import time_to_deliver_chart

        self._selection = state.select(self._tables(), self._filters)
        self.report = self._selection.report
        replies = self._selection.replies
        self.tiles = state.tile_values(self.report, replies)
        figures: dict[str, go.Figure] = {
            "delivery_rates": charts.delivery_rates(self.report),
            "route_mix": charts.route_mix(self.report),
            "delivery_over_time": charts.delivery_over_time(self._selection.timeseries),
            "failure_reasons": charts.failure_reasons(self._selection.failure_reasons),
            "replies": charts.replies(replies),
            "time_to_deliver": time_to_deliver_chart(self._selection.latency),
        }
        n = len(self.selected_messages)
        self.comparison = self._compare()
        """``compare_routes`` of the selection (identities and dates; both routes)."""
        for name, fig in figures.items():
            self._show_figure(name, charts.nothing_selected(fig, EMPTY) if n == 0 else fig)
        self.verdict.value = verdict_html(
            self.comparison,
            messages=n,
            route_filtered=self._filters.route != "all",
            observational=OBSERVATIONAL,
        )
        self.identity_comparison, experiment = self._compare_identities()
        """``compare_identities`` of the selection (pairs of chosen identities; both routes)."""
        self.identities_panel.value = identities_html(
            self.identity_comparison,
            messages=n,
            experiment=experiment,
            identities=len(self.identity_picker.value),
        )
        self.cost = cost_values(self._selection.cost)
        """The cost tiles' numbers (``cost_report`` rows of the selection, added up)."""
        shown = tiles(self.tiles, reply_window=self.reply_window)
        shown |= cost_tiles(self.cost, imessage_rule=IMESSAGE_CREDITS)
        for name, html in shown.items():
            self.tile_widgets[name].value = html
        self.failures_table.value = failures_html(self.failures)
        self.status.value = status_html(self._filters, n)

    def _show_figure(self, name: str, fig: go.Figure) -> None:
        from ._chart_widget import draw

        self.figures[name] = fig
        draw(self.chart_widgets, name, fig)
