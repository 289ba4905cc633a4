"""The delivery dashboard: filters, tiles, charts and a failures table as ipywidgets (and Voilà)."""

from __future__ import annotations

import base64
import html
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import numpy as np
import pandas as pd

from .analytics import NOT_SENT_LABELS, REPORT_COLUMNS, REPORT_OUTCOMES, wilson_bounds
from .campaigns import SENDS_COLUMNS
from .charts import NO_IDENTITY
from .contract.routes import MESSAGE_ROUTES, ROUTE_LABELS, MessageRoute
from .contract.statuses import OUTCOMES, status_label

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "NO_IDENTITY",
    "Dashboard",
    "DashboardFilters",
    "dashboard_notebook",
    "load_events",
    "load_sends",
    "serve_dashboard",
]

RouteFilter = Literal["all"] | MessageRoute
#: The route picker's choices: every route by its one label (``contract.routes``), and "all".
ROUTE_CHOICES: Final[dict[str, str]] = {"all": "All routes", **ROUTE_LABELS}
_ROUTE_ORDER: Final[dict[str, int]] = {r: i for i, r in enumerate(MESSAGE_ROUTES)}
#: Failure rows in the order the analytics list them: by outcome, then sends that did not go out.
_OUTCOME_ORDER: Final[dict[str, int]] = {o: i for i, o in enumerate((*OUTCOMES, "not-sent"))}
GRANULARITIES: Final[dict[str, str]] = {
    "Minute": "1min",
    "15 minutes": "15min",
    "Hour": "1h",
    "Day": "1D",
    "Week": "7D",
}
CHART_NAMES: Final = (
    "delivery_rates",
    "route_mix",
    "delivery_over_time",
    "failure_reasons",
    "replies",
)
TILE_NAMES: Final = (
    "messages",
    "imessage_rate",
    "fallback_rate",
    "fallback_share",
    "unconfirmed",
    "pending",
    "replies",
    "stop_rate",
)
FAILURE_COLUMNS: Final = (
    "phone",
    "identity",
    "route",
    "status",
    "status_code",
    "label",
    "outcome",
    "error",
    "campaign_id",
    "external_id",
    "message_id",
    "sent_at",
)


@dataclass(frozen=True)
class DashboardFilters:
    """What the dashboard shows: identities (``None`` = all), route, UTC dates, time bucket."""

    identities: tuple[str, ...] | None = None
    route: RouteFilter = "all"
    start: date | None = None
    end: date | None = None
    freq: str = "1h"


# ------------------------------------------------------------------------------ data helpers


def _frame(obj: Any) -> pd.DataFrame:
    """The DataFrame behind an ``EventLog``-like object (``.df``) or the frame itself."""
    df = getattr(obj, "df", obj)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a DataFrame or an EventLog, got {type(obj).__name__}")
    return df


def _blank(series: pd.Series) -> pd.Series:
    """True where a column holds nothing useful (missing or empty text)."""
    return series.isna() | (series.astype("string").str.strip() == "")


def _id_text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.replace(r"\.0$", "", regex=True)


def _keys(external_id: pd.Series, message_id: pd.Series, phone: pd.Series) -> pd.Series:
    """Key of one message to one recipient: (external_id, phone), else (message_id, phone)."""
    ph = phone.astype("string").fillna("")
    by_ext = "x:" + external_id.astype("string").fillna("") + "|" + ph
    by_mid = "m:" + _id_text(message_id).fillna("") + "|" + ph
    return cast("pd.Series", by_ext.where(~_blank(external_id), by_mid))


def _mid_keys(message_id: pd.Series, phone: pd.Series) -> pd.Series:
    return "m:" + _id_text(message_id).fillna("") + "|" + phone.astype("string").fillna("")


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, errors="coerce")


def _event_keys(events: pd.DataFrame, sends: pd.DataFrame) -> pd.Series:
    """Each event's message key, joined to the ledger like the analytics do ("" for opt-ins)."""
    send_keys = _keys(sends["external_id"], sends["message_id"], sends["phone"])
    by_mid = dict(zip(_mid_keys(sends["message_id"], sends["phone"]), send_keys, strict=True))
    has_message = ~(_blank(events["external_id"]) & _blank(events["message_id"]))
    keys = _keys(events["external_id"], events["message_id"], events["phone"])
    via_mid = _mid_keys(events["message_id"], events["phone"]).map(by_mid)
    keys = keys.where(keys.isin(set(send_keys)) | via_mid.isna(), via_mid)
    return cast("pd.Series", keys.where(has_message, ""))


def _status_labels(status: pd.Series) -> pd.Series:
    """``contract.statuses.status_label`` of each status ("no status yet" where there is none)."""
    return status.map(lambda v: status_label(v if isinstance(v, str) else None))


def _sort(df: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    order = [k if k != "route" else "_route_order" for k in keys]
    if "route" in keys:
        df = df.assign(_route_order=df["route"].map(_ROUTE_ORDER).fillna(len(_ROUTE_ORDER)))
    df = df.sort_values(order, na_position="last", kind="mergesort")
    df = df.drop(columns=["_route_order"], errors="ignore")
    return cast("pd.DataFrame", df.reset_index(drop=True))


_COUNTS: Final = ("messages", *REPORT_OUTCOMES, "unmatched")


def _summarise(msgs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Counts, delivery rate and Wilson interval per group (the analytics' report columns)."""
    counts = {
        f"_{col}": msgs["outcome"].isin(outcomes).astype("int64")
        for col, outcomes in REPORT_OUTCOMES.items()
    }
    parts = msgs.assign(**counts, _unmatched=msgs["unmatched"].fillna(False).astype("int64"))
    sums = {col: (f"_{col}", "sum") for col in _COUNTS if col != "messages"}
    g = (
        parts.groupby(list(keys), dropna=False, sort=False)
        .agg(messages=("_unmatched", "size"), **sums)
        .reset_index()
    )
    n = (g["delivered"] + g["failed"]).astype("float64").replace(0.0, np.nan)
    p = g["delivered"] / n
    g["delivery_rate"] = p
    g["ci_low"], g["ci_high"] = wilson_bounds(p, n, sqrt=np.sqrt)
    for col in _COUNTS:
        g[col] = g[col].astype("int64")
    return cast("pd.DataFrame", g)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _auto_freq(times: pd.Series) -> str:
    times = times.dropna()
    if times.empty:
        return "1h"
    span = times.max() - times.min()
    if span <= pd.Timedelta(hours=3):
        return "1min"
    if span <= pd.Timedelta(days=2):
        return "1h"
    if span <= pd.Timedelta(days=90):
        return "1D"
    return "7D"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


# --------------------------------------------------------------------------------- downloads

_DOWNLOAD_ESM: Final = """
function render({ model, el }) {
  el.style.display = "none";
  model.on("msg:custom", (msg) => {
    const bytes = Uint8Array.from(atob(msg.b64), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: msg.mime }));
    const a = document.createElement("a");
    a.href = url;
    a.download = msg.filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}
export default { render };
"""

_downloader_class: type[Any] | None = None


def _downloader() -> Any:
    """A hidden anywidget that saves bytes sent from Python as a browser download."""
    global _downloader_class
    if _downloader_class is None:
        import anywidget

        class _Downloader(anywidget.AnyWidget):
            _esm = _DOWNLOAD_ESM

        _downloader_class = _Downloader
    return _downloader_class()


# --------------------------------------------------------------------------------- dashboard


class Dashboard:
    """Interactive delivery dashboard over a webhook event log and a send ledger.

    Filters (identities, route, UTC date range, time bucket) recompute the tiles, the charts
    of :mod:`mta_notebook.charts` (plotly ``FigureWidget`` objects, redrawn in their place in
    the grid) and the table of failed recipients. Works in JupyterLab, VS Code, Colab and Voilà.

    The messages (one recipient of one send, with identity, route, outcome and the replies
    attributed to it) come from :func:`mta_notebook.analytics.message_table` once; every filter
    change aggregates the selected messages into the same columns as
    :func:`~mta_notebook.analytics.delivery_report`, ``delivery_timeseries``,
    ``failure_reasons`` and ``reply_report``, in memory.

    Parameters
    ----------
    events
        ``EventLog`` from :func:`mta_notebook.webhooks.read_webhook_log`, or its ``.df``.
    sends
        The send ledger (``Journal.sends()`` / ``CampaignResult.sends``). Without it, SMS
        fallback cannot be told apart from plain SMS (the route is ``unknown``).
    title
        Heading shown above the filters and used for the HTML report.
    reply_window
        How long after a message a reply is attributed to it (as in ``reply_report``).

    Examples
    --------
    >>> dash = Dashboard.from_files("data/webhooks_sample.jsonl", "data/sends_sample.csv")
    ... # doctest: +SKIP
    >>> dash.set_filters(identities=["Acme"], route="imessage")  # doctest: +SKIP
    >>> dash  # displays the widget  # doctest: +SKIP
    """

    def __init__(
        self,
        events: Any,
        sends: pd.DataFrame | None = None,
        *,
        title: str = "Delivery by Sender Identity",
        reply_window: str = "24h",
    ) -> None:
        import ipywidgets as w

        from .analytics import message_table

        self.title = title
        self.reply_window = reply_window
        self.events = _frame(events).reset_index(drop=True)
        if sends is None:
            sends = pd.DataFrame({c: pd.Series(dtype="object") for c in SENDS_COLUMNS})
        self.sends = sends.reset_index(drop=True)

        msgs = message_table(self.events, self.sends, reply_window=reply_window)
        msgs["key"] = _keys(msgs["external_id"], msgs["message_id"], msgs["phone"])
        msgs["identity"] = msgs["sender_name"].astype("string").fillna(NO_IDENTITY)
        msgs["at"] = _utc(msgs["sent_at"])
        self.messages: pd.DataFrame = msgs
        """One row per message (``analytics.message_table``) plus key, identity, replies, stops."""

        self._send_keys = _keys(
            self.sends["external_id"], self.sends["message_id"], self.sends["phone"]
        )
        self._event_keys = _event_keys(self.events, self.sends)
        self._not_sent = self._ledger_only_rows(set(msgs["key"]))

        ids = set(msgs["identity"]) | set(self._not_sent["identity"])
        optins = self.events.loc[self.events["event"] == "number-opt-in", "sender_name"]
        ids |= set(optins.dropna().astype(str))
        self.identities: tuple[str, ...] = tuple(
            sorted(ids - {NO_IDENTITY}) + ([NO_IDENTITY] if NO_IDENTITY in ids else [])
        )
        times = pd.concat([msgs["at"], self._not_sent["at"], _utc(self.events["occurred_at"])])
        first, last = times.min(), times.max()
        self._first: date | None = None if pd.isna(first) else first.date()
        self._last: date | None = None if pd.isna(last) else last.date()
        self._default_freq = _auto_freq(times)
        self._filters = DashboardFilters(start=self._first, end=self._last, freq=self._default_freq)

        routes = ["all", *(r for r in MESSAGE_ROUTES if r != "unknown")]
        if (msgs["route"] == "unknown").any() or (self._not_sent["route"] == "unknown").any():
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
        self.csv_button = w.Button(description="Download failures (CSV)", icon="download")
        self.report_button = w.Button(description="Download report (HTML)", icon="file")
        self.csv_button.on_click(lambda _b: self.download_csv())
        self.report_button.on_click(lambda _b: self.download_report())
        self._downloader = _downloader()
        self.last_download: tuple[str, bytes] | None = None
        """The last file handed to the browser: (file name, bytes)."""

        self._chart_grid: Any = None
        self._retired: list[Any] = []
        self.figures: dict[str, Any] = {}
        """The charts shown, by name (``CHART_NAMES``): plotly ``FigureWidget`` objects."""
        self._recompute()
        self.widget = self._layout(w)

    def _ledger_only_rows(self, message_keys: set[str]) -> pd.DataFrame:
        """Ledger rows that are not messages (the send failed, or was skipped)."""
        rows = self.sends[~self._send_keys.isin(message_keys) & (self.sends["state"] != "sent")]
        asked = rows["sender_name"].astype("string").where(~_blank(rows["sender_name"]))
        return cast(
            "pd.DataFrame",
            pd.DataFrame(
                {
                    "key": self._send_keys[rows.index],
                    "identity": asked.fillna(NO_IDENTITY),
                    "sender_name": asked,
                    "route": np.where(asked.isna(), "sms", "unknown"),
                    "at": _utc(rows["sent_at"]),
                    "state": rows["state"].astype("string"),
                    "error": rows["error"].astype("string"),
                    "phone": rows["phone"],
                    "campaign_id": rows["campaign_id"],
                    "external_id": rows["external_id"],
                    "message_id": rows["message_id"],
                }
            ).reset_index(drop=True),
        )

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
        return cls(events, sends, title=title)

    def _layout(self, w: Any) -> Any:
        heading = w.HTML(f"<h2 style='margin:4px 0'>{_escape(self.title)}</h2>")
        filters = w.HBox(
            [
                self.identity_picker,
                w.VBox([self.route_picker, self.freq_picker]),
                w.VBox([self.start_picker, self.end_picker]),
            ],
            layout=w.Layout(flex_flow="row wrap", align_items="flex-start"),
        )
        tiles = w.HBox(list(self.tile_widgets.values()), layout=w.Layout(flex_flow="row wrap"))
        charts = self._chart_grid = w.GridBox(
            [self.figures[name] for name in CHART_NAMES],
            layout=w.Layout(
                grid_template_columns="repeat(auto-fit, minmax(440px, 1fr))", grid_gap="8px"
            ),
        )
        failures = w.VBox(
            [w.HTML("<h3 style='margin:4px 0'>Failed recipients</h3>"), self.failures_table]
        )
        buttons = w.HBox([self.csv_button, self.report_button, self._downloader])
        root = w.VBox(
            [heading, filters, self.status, tiles, charts, failures, buttons],
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

    # -- the selection ------------------------------------------------------------------------

    def _mask(self, rows: pd.DataFrame) -> pd.Series:
        f = self._filters
        keep = pd.Series(True, index=rows.index)
        if f.identities is not None:
            keep &= rows["identity"].isin(f.identities)
        if f.route != "all":
            keep &= rows["route"] == f.route
        return cast("pd.Series", keep & self._in_dates(rows["at"]))

    def _in_dates(self, at: pd.Series) -> pd.Series:
        f = self._filters
        day = _utc(at).dt.normalize()
        keep = pd.Series(True, index=at.index)
        if f.start is not None:
            keep &= day >= pd.Timestamp(f.start, tz="UTC")
        if f.end is not None:
            keep &= day <= pd.Timestamp(f.end, tz="UTC")
        return cast("pd.Series", keep.fillna(False).astype(bool))

    @property
    def selected_messages(self) -> pd.DataFrame:
        """The messages the filters select (rows of :attr:`messages`)."""
        return cast("pd.DataFrame", self.messages[self._mask(self.messages)])

    def _selected_not_sent(self) -> pd.DataFrame:
        return cast("pd.DataFrame", self._not_sent[self._mask(self._not_sent)])

    def _selected_keys(self) -> set[str]:
        return set(self.selected_messages["key"]) | set(self._selected_not_sent()["key"])

    @property
    def filtered_events(self) -> pd.DataFrame:
        """Events of the selected messages, their replies, and opt-ins to selected identities."""
        f = self._filters
        keys = self._selected_keys()
        keep = self._event_keys.isin(keys)
        ev = self.events
        loose_reply = (ev["event"] == "message-reply") & (self._event_keys == "")
        keep |= loose_reply & ev["phone"].isin(set(self.selected_messages["phone"]))
        optin = ev["event"] == "number-opt-in"
        if optin.any() and f.route in ("all", "imessage"):
            named = ev["sender_name"].astype("string").fillna(NO_IDENTITY)
            ok = optin & self._in_dates(ev["occurred_at"])
            if f.identities is not None:
                ok &= named.isin(f.identities)
            keep |= ok
        return cast("pd.DataFrame", ev[keep])

    @property
    def filtered_sends(self) -> pd.DataFrame:
        """Ledger rows of the selected messages (and of selected sends that failed)."""
        return cast("pd.DataFrame", self.sends[self._send_keys.isin(self._selected_keys())])

    def _not_sent_rows(self) -> pd.DataFrame:
        """Selected ledger rows whose ``/send`` call did not go through (no status, a label)."""
        ns = self._selected_not_sent()
        ns = ns[ns["state"].isin(list(NOT_SENT_LABELS))]
        rows = ns.assign(
            status=pd.Series(pd.NA, index=ns.index, dtype="string"),
            status_code=pd.Series(pd.NA, index=ns.index, dtype="string"),
            label=ns["state"].map(NOT_SENT_LABELS),
            outcome="not-sent",
        )
        return cast("pd.DataFrame", rows)

    @property
    def failures(self) -> pd.DataFrame:
        """Failed recipients of the selection: the table shown, and the CSV download."""
        m = self.selected_messages
        bad = m[m["outcome"] == "failed"]
        rows = pd.DataFrame(
            {
                "phone": bad["phone"],
                "identity": bad["identity"],
                "route": bad["route"],
                "status": bad["status"],
                "status_code": bad["status_code"],
                "label": _status_labels(bad["status"]),
                "outcome": bad["outcome"],
                "error": pd.Series(pd.NA, index=bad.index, dtype="string"),
                "campaign_id": bad["campaign_id"],
                "external_id": bad["external_id"],
                "message_id": bad["message_id"],
                "sent_at": bad["at"],
            }
        )
        ns = self._not_sent_rows().rename(columns={"at": "sent_at"})
        send_rows = ns.loc[:, list(FAILURE_COLUMNS)]
        out = pd.concat([df for df in (rows, send_rows) if len(df)] or [rows], ignore_index=True)
        return _sort(out, ["identity", "route", "label", "phone"])

    # -- the tables behind the charts (same columns as the analytics functions) ----------------

    def report_table(self) -> pd.DataFrame:
        """``delivery_report`` of the selection: per identity × route."""
        g = _summarise(self.selected_messages, ["sender_name", "route"])
        totals = g.groupby("sender_name", dropna=False)["messages"].transform("sum")
        g["share"] = g["messages"] / totals
        return _sort(g[["sender_name", "route", *REPORT_COLUMNS]], ["sender_name", "route"])

    def timeseries_table(self) -> pd.DataFrame:
        """``delivery_timeseries`` of the selection, bucketed by the chosen granularity."""
        m = self.selected_messages
        step = pd.Timedelta(self._filters.freq)
        epoch = pd.Timestamp(0, tz="UTC")
        m = m.assign(bucket=epoch + ((m["at"] - epoch) // step) * step)
        g = _summarise(m, ["bucket", "sender_name", "route"])
        cols = ["bucket", "sender_name", "route", *_COUNTS, "delivery_rate", "ci_low", "ci_high"]
        return _sort(g[cols], ["bucket", "sender_name", "route"])

    def failure_reasons_table(self) -> pd.DataFrame:
        """``failure_reasons`` of the selection: why messages did not arrive."""
        m = self.selected_messages
        totals = m.groupby(["sender_name", "route"], dropna=False).size()
        bad = m[m["outcome"] != "delivered"]
        bad = bad.assign(label=_status_labels(bad["status"]), error=pd.NA)
        cols = ["sender_name", "route", "outcome", "status", "status_code", "label", "error"]
        both = pd.concat([bad[cols], self._not_sent_rows()[cols]], ignore_index=True)
        for col in ("status", "status_code", "error"):
            both[col] = both[col].astype("string")
        g = both.groupby(cols, dropna=False).size().rename("messages").reset_index()
        idx = pd.MultiIndex.from_frame(g[["sender_name", "route"]])
        g["share"] = g["messages"] / totals.reindex(idx).to_numpy(dtype="float64", na_value=np.nan)
        g["messages"] = g["messages"].astype("int64")
        g["_o"] = g["outcome"].map(_OUTCOME_ORDER)
        g["_r"] = g["route"].map(_ROUTE_ORDER).fillna(len(_ROUTE_ORDER))
        g = g.sort_values(
            ["sender_name", "_r", "_o", "messages", "status", "status_code", "error"],
            ascending=[True, True, True, False, True, True, True],
            na_position="last",
            kind="mergesort",
        )
        g = g.drop(columns=["_o", "_r"]).reset_index(drop=True)
        return cast("pd.DataFrame", g[[*cols, "messages", "share"]])

    def reply_table(self) -> pd.DataFrame:
        """``reply_report`` of the selection: replies and STOPs per identity × route."""
        m = self.selected_messages.assign(_replied=lambda d: (d["replies"] > 0).astype("int64"))
        g = (
            m.groupby(["sender_name", "route"], dropna=False, sort=False)
            .agg(
                messages=("key", "size"),
                replies=("replies", "sum"),
                replied=("_replied", "sum"),
                stops=("stops", "sum"),
            )
            .reset_index()
        )
        for col in ("messages", "replies", "replied", "stops"):
            g[col] = g[col].astype("int64")
        g["reply_rate"] = g["replied"] / g["messages"]
        g["stop_rate"] = g["stops"] / g["messages"]
        return _sort(g, ["sender_name", "route"])

    # -- recompute ----------------------------------------------------------------------------

    def _recompute(self) -> None:
        from . import charts

        self.report = self.report_table()
        replies = self.reply_table()
        self.tiles = self._tile_values(self.report, replies)
        figures: dict[str, go.Figure] = {
            "delivery_rates": charts.delivery_rates(self.report),
            "route_mix": charts.route_mix(self.report),
            "delivery_over_time": charts.delivery_over_time(self.timeseries_table()),
            "failure_reasons": charts.failure_reasons(self.failure_reasons_table()),
            "replies": charts.replies(replies),
        }
        # Widgets replaced one change ago are closed now: closing them as their views are
        # being removed makes the front end sync into a closed comm.
        for old in self._retired:
            old.close()
        self._retired = []
        for name, fig in figures.items():
            self._show_figure(name, fig)
        if self._chart_grid is not None:
            self._chart_grid.children = [self.figures[name] for name in CHART_NAMES]
        self._render_tiles()
        self._render_failures()
        f = self._filters
        ids = "all identities" if f.identities is None else ", ".join(f.identities)
        self.status.value = (
            f"<span class='mta-status' style='color:#57606a'>{len(self.selected_messages):,} "
            f"messages · {_escape(ids or 'no identity selected')} · {ROUTE_CHOICES[f.route]} · "
            f"{f.start or '…'} to {f.end or '…'} (UTC)</span>"
        )

    def _show_figure(self, name: str, fig: go.Figure) -> None:
        import plotly.graph_objects as go

        for trace in fig.data:
            # FigureWidget ships datetime64 arrays to the browser as integers (nanoseconds):
            # send ISO strings, which plotly.js reads as dates.
            for attr in ("x", "y"):
                values = getattr(trace, attr, None)
                if isinstance(values, np.ndarray) and values.dtype.kind == "M":
                    trace[attr] = np.datetime_as_string(values, unit="ms")
        # Each change puts a new FigureWidget in the chart's slot of the grid rather than
        # restyling the old one: under Voilà, plotly's anywidget front end dropped later
        # restyle/relayout messages for some of five figures (seen with plotly 7.1, Voilà
        # 0.5), while a new widget always draws from its initial state.
        old = self.figures.get(name)
        self.figures[name] = go.FigureWidget(fig)
        if old is not None:
            self._retired.append(old)

    @staticmethod
    def _tile_values(report: pd.DataFrame, replies: pd.DataFrame) -> dict[str, Any]:
        def rate(route: str) -> tuple[float | None, int, int]:
            rows = report[report["route"] == route]
            ok = int(rows["delivered"].sum())
            settled = ok + int(rows["failed"].sum())
            return (ok / settled if settled else None), ok, settled

        im_rate, im_ok, im_settled = rate("imessage")
        fb_rate, fb_ok, fb_settled = rate("sms_fallback")
        by_route = report.groupby("route")["messages"].sum()
        im_n = int(by_route.get("imessage", 0))
        fb_n = int(by_route.get("sms_fallback", 0))
        messages = int(report["messages"].sum())
        stops = int(replies["stops"].sum())
        return {
            "messages": messages,
            "imessage_rate": im_rate,
            "imessage_delivered": im_ok,
            "imessage_settled": im_settled,
            "fallback_rate": fb_rate,
            "fallback_delivered": fb_ok,
            "fallback_settled": fb_settled,
            "fallback_share": fb_n / (im_n + fb_n) if im_n + fb_n else None,
            "unconfirmed": int(report["unconfirmed"].sum()),
            "pending": int(report["pending"].sum()),
            "replies": int(replies["replies"].sum()),
            "stop_replies": stops,
            "stop_rate": stops / messages if messages else None,
        }

    def _render_tiles(self) -> None:
        t = self.tiles
        content = {
            "messages": ("Messages", f"{t['messages']:,}", "one per recipient of a send"),
            "imessage_rate": (
                "iMessage delivery",
                _pct(t["imessage_rate"]),
                f"{t['imessage_delivered']:,} of {t['imessage_settled']:,} settled",
            ),
            "fallback_rate": (
                "SMS fallback delivery",
                _pct(t["fallback_rate"]),
                f"{t['fallback_delivered']:,} of {t['fallback_settled']:,} settled",
            ),
            "fallback_share": (
                "Fallback share",
                _pct(t["fallback_share"]),
                "of messages sent with an identity",
            ),
            "unconfirmed": (
                "Unconfirmed",
                f"{t['unconfirmed']:,}",
                "no answer from the carrier: in neither side of the rates",
            ),
            "pending": (
                "Pending",
                f"{t['pending']:,}",
                "no final status yet, or no status at all",
            ),
            "replies": (
                "Replies",
                f"{t['replies']:,}",
                f"within {self.reply_window} of a message",
            ),
            "stop_rate": (
                "STOP rate",
                _pct(t["stop_rate"]),
                f"{t['stop_replies']:,} messages answered STOP",
            ),
        }
        for name, (label, value, note) in content.items():
            self.tile_widgets[name].value = (
                f"<div class='mta-tile' data-tile='{name}' style='border:1px solid #d0d7de;"
                "border-radius:8px;padding:8px 14px;margin:4px;min-width:150px;"
                "background:#f6f8fa'>"
                f"<div style='font-size:12px;color:#57606a'>{label}</div>"
                f"<div class='mta-tile-value' style='font-size:26px;font-weight:600'>{value}</div>"
                f"<div style='font-size:11px;color:#6e7781'>{_escape(note)}</div></div>"
            )

    def _render_failures(self, limit: int = 200) -> None:
        fail = self.failures
        if fail.empty:
            self.failures_table.value = "<p class='mta-failures'>No failed recipients.</p>"
            return
        more = (
            f"<p>Showing {limit:,} of {len(fail):,}; download the CSV for all.</p>"
            if len(fail) > limit
            else ""
        )
        shown = fail.head(limit).astype(object)
        shown = shown.where(shown.notna(), "")
        shown["route"] = shown["route"].map(lambda r: ROUTE_LABELS.get(r, r))
        table = shown.to_html(index=False, border=0, classes="mta-failures")
        self.failures_table.value = (
            f"<div style='max-height:320px;overflow:auto'>{table}</div>{more}"
        )

    # -- downloads ----------------------------------------------------------------------------

    def failures_csv(self) -> bytes:
        """The filtered failures table as CSV (UTF-8 bytes)."""
        return self.failures.to_csv(index=False).encode("utf-8")

    def report_html(self) -> str:
        """The HTML report (:func:`mta_notebook.report.save_report`) of the current selection."""
        from .report import save_report

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.html"
            save_report(path, self.filtered_events, self.filtered_sends, title=self.title)
            return path.read_text(encoding="utf-8")

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


# ------------------------------------------------------------------------------------ inputs


def load_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Events of a webhook log file, or of every ``*.jsonl`` log in a directory.

    Rows the reader could not use are in ``read_webhook_log(path).rejected``; the dashboard
    shows the events only.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"webhook log {p} does not exist; pass a .jsonl file or a directory"
        )
    files: Sequence[Path] = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    if not files:
        raise FileNotFoundError(f"no *.jsonl webhook log in directory {p}")
    from .events import read_webhook_log

    return _frame(read_webhook_log(list(files)))


def load_sends(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The send ledger from a SQLite journal, or from a CSV export of it (``.csv``)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"send journal {p} does not exist")
    if p.suffix.lower() == ".csv":
        df = pd.read_csv(
            p,
            dtype={"campaign_id": "string", "external_id": "string", "phone": "string"},
            keep_default_na=True,
        )
        df["sent_at"] = pd.to_datetime(df["sent_at"], utc=True, format="ISO8601")
        for col in ("message_id", "longcode_id", "chunk"):
            if col in df:
                df[col] = df[col].astype("Int64")
        return df
    from .campaigns import Journal

    journal = Journal(p)
    try:
        return journal.sends()
    finally:
        journal.close()


# ---------------------------------------------------------------------------------- serving


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops Voilà as cleanly as Ctrl-C


def dashboard_notebook() -> Path:
    """The dashboard page (notebook 03), from the wheel's package data or this checkout."""
    from ._samples import sample_path

    return sample_path("03_delivery_dashboard.ipynb")


def serve_dashboard(
    log: str | os.PathLike[str] | None = None,
    journal: str | os.PathLike[str] | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    startup_timeout: float = 120.0,
) -> int:
    """Serve notebook 03 with Voilà on ``host:port`` until Ctrl-C; returns the exit code.

    The notebook reads the paths from ``MTA_DASHBOARD_LOG`` and ``MTA_DASHBOARD_JOURNAL``.
    Without ``log`` it shows ``out/`` (from ``mta-notebook demo``) if there, else the sample.
    """
    import importlib.util
    import signal
    import socket
    import subprocess
    import sys
    import time

    from ._server import free_port

    if importlib.util.find_spec("voila") is None:
        print(
            "mta-notebook dashboard needs Voilà: .venv/bin/pip install voila",
            file=sys.stderr,
        )
        return 2
    notebook = dashboard_notebook()
    env = dict(os.environ)
    if log is None and Path("out/webhooks").is_dir() and Path("out/mta_journal.sqlite").exists():
        log, journal = "out/webhooks", journal or "out/mta_journal.sqlite"
    for name, value in (("MTA_DASHBOARD_LOG", log), ("MTA_DASHBOARD_JOURNAL", journal)):
        env.pop(name, None)
        if value is not None:
            path = Path(value).resolve()
            if not path.exists():
                print(f"{name.split('_')[-1].lower()} {path} does not exist", file=sys.stderr)
                return 2
            env[name] = str(path)
    port = port or free_port(host)
    with tempfile.TemporaryDirectory(prefix="mta-dashboard-") as out_dir:
        env["MTA_DASHBOARD_OUT"] = out_dir
        cmd = [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--port={port}",
            f"--Voila.ip={host}",
            "--Voila.port_retries=0",
            "--theme=light",
            "--show_tracebacks=True",
        ]
        proc = subprocess.Popen(cmd, env=env)
        previous = signal.signal(signal.SIGTERM, _interrupt)
        url = f"http://{host}:{port}/"
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    print(f"Voilà exited with code {proc.returncode}", file=sys.stderr)
                    return proc.returncode or 1
                try:  # listening is enough: a GET would start a kernel for nobody
                    with socket.create_connection((host, port), timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        print(f"Voilà did not answer on {url} in time", file=sys.stderr)
                        return 1
                    time.sleep(0.2)
            print(f"Dashboard at {url} (Ctrl-C to stop)", flush=True)
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
