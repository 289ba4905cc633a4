"""The dashboard's selection: the rows the filters keep, and the reducers' tables behind it.

A mixin of :class:`~mta_notebook.dashboard.Dashboard` (which sets ``_selection``, the tables
of :func:`._state.select`, on every recompute): the messages, events and ledger rows of the
selection (the downloads and the report read them), and each reducer's rows.
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from ..display import NO_IDENTITY
from . import _state as state
from ._panels import experiment_campaigns
from ._state import DashboardFilters, DashboardTables

__all__ = ["Selection"]


class Selection:
    """The selected rows (the dashboard's filters applied to its tables)."""

    events: pd.DataFrame
    sends: pd.DataFrame
    _filters: DashboardFilters
    _not_sent: pd.DataFrame
    _selection: DashboardTables
    _joined: Any  # the kept message join (analytics.messages)
    experiments: pd.DataFrame | None
    _identity_cache: dict[tuple[Any, ...], pd.DataFrame]

    # -- the selection ------------------------------------------------------------------------

    @property
    def selected_messages(self) -> pd.DataFrame:
        """The messages the filters select (rows of ``analytics.message_table``)."""
        return self._selection.messages

    def _selected_not_sent(self) -> pd.DataFrame:
        return state.selected_not_sent(self._not_sent, self._filters)

    def _selected_rows(self) -> pd.DataFrame:
        """Keys of the selected messages and of selected sends that did not go out."""
        cols = ["external_id", "message_id", "phone"]
        rows = pd.concat([self.selected_messages[cols], self._selected_not_sent()[cols]])
        return cast("pd.DataFrame", rows)

    @property
    def filtered_events(self) -> pd.DataFrame:
        """Events of the selected messages, their replies, and opt-ins to selected identities."""
        f, ev = self._filters, self.events
        keep = state.matches(ev, self._selected_rows())
        loose = ev["external_id"].isna() & ev["message_id"].isna()
        keep |= (
            (ev["event"] == "message-reply")
            & loose
            & ev["phone"].isin(set(self.selected_messages["phone"]))
        )
        optin = ev["event"] == "number-opt-in"
        if optin.any() and f.route in ("all", "imessage"):
            ok = optin & state.in_dates(ev["occurred_at"], f)
            if f.identities is not None:
                named = ev["sender_name"].astype("string").fillna(NO_IDENTITY)
                ok &= named.isin(f.identities)
            keep |= ok
        return cast("pd.DataFrame", ev[keep])

    @property
    def filtered_sends(self) -> pd.DataFrame:
        """Ledger rows of the selected messages (and of selected sends that failed)."""
        return cast("pd.DataFrame", self.sends[state.matches(self.sends, self._selected_rows())])

    @property
    def failures(self) -> pd.DataFrame:
        """Failed recipients of the selection: the table shown, and the CSV download."""
        return state.failures(self.selected_messages, self._selected_not_sent())

    # -- the tables behind the charts (the analytics reducers' rows for the filters) ----------

    def report_table(self) -> pd.DataFrame:
        """``delivery_report`` of the selection: per identity × route."""
        return self._selection.report

    def timeseries_table(self) -> pd.DataFrame:
        """``delivery_timeseries`` of the selection, bucketed by the chosen granularity."""
        return self._selection.timeseries

    def failure_reasons_table(self) -> pd.DataFrame:
        """``failure_reasons`` of the selection: why messages did not arrive."""
        return self._selection.failure_reasons

    def reply_table(self) -> pd.DataFrame:
        """``reply_report`` of the selection: replies and STOPs per identity × route."""
        return self._selection.replies

    def latency_table(self) -> pd.DataFrame:
        """``time_to_deliver`` of the selection: median and p90 seconds per identity × route."""
        return self._selection.latency

    def cost_table(self) -> pd.DataFrame:
        """``cost_report`` of the selection: credits per identity × route."""
        return self._selection.cost

    def _compare_identities(self) -> tuple[pd.DataFrame, str | None]:
        """``compare_identities`` for the dates (kept per window and campaigns), and the
        experiment it is randomized by (``None``: observational)."""
        from ..analytics import compare_identities

        f = self._filters
        shown = self._selection.messages  # plain SMS (no identity) is in no comparison
        found = experiment_campaigns(
            self.experiments, shown.loc[shown["sender_name"].notna(), "campaign_id"]
        )
        campaigns = None if found is None else found[1]
        key = (f.start, f.end, campaigns)
        if key not in self._identity_cache:
            start, end = f.window()
            self._identity_cache[key] = compare_identities(
                self._joined, campaigns=campaigns, start=start, end=end
            )
        rows = self._identity_cache[key]
        if f.identities is not None:  # a pair is shown when both of its identities are chosen
            keep = rows["sender_name"].isin(f.identities) & rows["reference"].isin(f.identities)
            rows = rows[keep]
        return cast("pd.DataFrame", rows.reset_index(drop=True)), None if found is None else found[
            0
        ]
