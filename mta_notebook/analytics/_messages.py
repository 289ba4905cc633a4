"""``Messages``: the message join of one data load, kept in the backend, and its filtered views.

``messages(events, sends)`` runs the join once and keeps it (a temporary table in DuckDB, a
cached view in Spark) with the two small relations the reducers need beside it (the distinct
replies; the ledger rows whose send did not go through). ``Messages.where(...)`` narrows it
without running the join again, and every reducer takes a ``Messages`` in place of
``(events, sends)``. Called with raw inputs, a reducer builds the same join as views for one
query (nothing is computed that the query does not read) and drops them when it returns.
"""

from __future__ import annotations

import functools
import operator
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._errors import ValidationError
from ..contract import routes as _routes
from . import _join, _sql
from ._inputs import EVENT_SCHEMA, SEND_SCHEMA, Engine, bind_input, empty_sends, resolve_backend
from ._inputs import to_ms as _to_ms

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

__all__ = ["Messages", "messages"]

_ROLES = ("messages", "replies", "not_sent")


class _Relations:
    """Names of the temporary relations behind a ``Messages``; dropped with the last reference.

    ``pending`` holds the SQL (or what makes it) of relations made on first use: the join of
    a one-query call, the filtered views of ``where``. ``inline`` relations (one query's) are
    subqueries of the query that reads them, not views: nothing to create, and the backend plans
    the whole. A filtered view names its parent's relation ``role`` as ``parent_<role>``;
    ``parent`` keeps the relations it reads alive.
    """

    def __init__(
        self,
        con: BaseBackend,
        names: dict[str, str],
        pending: dict[str, str | Callable[[], str]] | None = None,
        parent: _Relations | None = None,
        *,
        inline: bool = False,
    ) -> None:
        self.con = con
        self.names = names
        self.pending = pending or {}
        self.parent = parent
        self.inline = inline
        self.drops: list[tuple[str, str]] = []
        self._finalizer = weakref.finalize(self, _drop_all, con, self.drops)

    def name(self, role: str) -> str:
        if role in self.names:
            return self.names[role]
        if role in self.pending:
            made = self.pending[role]
            if not isinstance(made, str):
                made = self.pending[role] = made()
            sql = _sql.bind(made, self.name)
            if self.inline:
                return f"({sql})"
            del self.pending[role]
            name = _sql.temp_name(role)
            _sql.create_view(self.con, name, sql)
            self.drops.insert(0, (name, "view"))
            self.names[role] = name
            return name
        if role == "timed":  # not narrowed by identity or route: the messages themselves
            return self.name("messages")
        if self.parent is not None:
            return self.parent.name(role.removeprefix("parent_"))
        raise KeyError(role)

    def close(self) -> None:
        self._finalizer()


def _drop_all(con: BaseBackend, drops: list[tuple[str, str]]) -> None:
    for name, kind in drops:
        _sql.drop(con, name, kind)
    drops.clear()


@dataclass(frozen=True, eq=False, repr=False)
class Messages:
    """One row per message (recipient of a send), joined once and kept in ``backend``.

    Made by :func:`messages`; pass it to any reducer (``delivery_report(msgs)``,
    ``failure_reasons(msgs.where(routes=["sms_fallback"]))``, ...) in place of
    ``(events, sends)``. ``where`` filters without running the join again; ``df`` (or
    ``to_pandas()``) is :func:`message_table` of the selection.
    """

    backend: BaseBackend
    _relations: _Relations
    sender_names: tuple[str | None, ...] | None = None
    routes: tuple[str, ...] | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    _base: _Relations | None = None

    def where(
        self,
        *,
        sender_names: Iterable[str | None] | str | None = None,
        routes: Iterable[str] | str | None = None,
        start: object = None,
        end: object = None,
    ) -> Messages:
        """The messages of these identities (``None`` in the list: no identity), routes and
        send times ``[start, end)`` (UTC when naive); each filter narrows the current one.

        ``start``/``end`` select as the reducers' own do. A reply stays with the message it goes
        to among all those sent in the window: narrowing by identity or route does not hand it
        to another message."""
        if sender_names is None and routes is None and start is None and end is None:
            return self
        names = _narrow(self.sender_names, _as_tuple(sender_names))
        chosen = _narrow(self.routes, _as_tuple(routes))
        bad = [r for r in chosen or () if r not in _routes.MESSAGE_ROUTES]
        if bad:
            raise ValidationError(
                f"routes={bad!r} are not routes; choose from {list(_routes.MESSAGE_ROUTES)}"
            )
        lo, hi = _stamp(start, "start"), _stamp(end, "end")
        if self.start is not None and (lo is None or lo < self.start):
            lo = self.start
        if self.end is not None and (hi is None or hi > self.end):
            hi = self.end
        base = self._base or self._relations
        if names is None and chosen is None and lo is None and hi is None:
            return Messages(self.backend, base, _base=base)
        rel = _filtered(base, names, chosen, _ms(lo), _ms(hi))
        return Messages(self.backend, rel, names, chosen, lo, hi, _base=base)

    def to_pandas(self, *, reply_window: str | None = None) -> pd.DataFrame:
        """:func:`message_table` of these messages (with ``replies``/``stops`` if asked)."""
        from ._table import message_table  # the table's shaping lives beside its docs

        return message_table(self, reply_window=reply_window)

    @property
    def df(self) -> pd.DataFrame:
        """:func:`message_table` of these messages."""
        return self.to_pandas()

    def _name(self, role: str) -> str:
        return self._relations.name(role)

    def __repr__(self) -> str:
        parts = [repr(self.backend.name)]
        for label in ("sender_names", "routes", "start", "end"):
            value = getattr(self, label)
            if value is not None:
                parts.append(f"{label}={value!r}")
        return f"Messages({', '.join(parts)})"


def _as_tuple(value: Iterable[Any] | str | None) -> tuple[Any, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def _narrow(current: tuple[Any, ...] | None, new: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    if current is None or new is None:
        return new if current is None else current
    return tuple(v for v in current if v in new)


def _stamp(value: object, what: str) -> pd.Timestamp | None:
    ms = _to_ms(value, what)
    return None if ms is None else pd.Timestamp(ms, unit="ms", tz="UTC")


def _ms(ts: pd.Timestamp | None) -> int | None:
    return None if ts is None else int(ts.value // 1_000_000)


def _filtered(
    base: _Relations,
    names: tuple[str | None, ...] | None,
    chosen: tuple[str, ...] | None,
    lo: int | None,
    hi: int | None,
) -> _Relations:
    """Views of ``base``'s messages and not-sent rows narrowed to the filters (made on use)."""
    import ibis

    dialect = _sql.dialect(base.con)

    def narrowed(schema: dict[str, str], role: str, *, timed: bool = False) -> Callable[[], str]:
        def build() -> ir.Table:
            t = _sql.placeholder(schema, f"parent_{role}")
            if names is not None and not timed:
                known = [n for n in names if n is not None]
                parts = [t.sender_name.isin(known)] if known else []
                if None in names:
                    parts.append(t.sender_name.isnull())
                t = t.filter(functools.reduce(operator.or_, parts, ibis.literal(False)))
            if chosen is not None and not timed:
                t = t.filter(t.route.isin(list(chosen)))
            # a send that failed before it went has no time: no date range leaves it out
            undated = t.sent_ms.isnull() if role == "not_sent" else ibis.literal(False)
            if lo is not None:
                t = t.filter((t.sent_ms >= lo) | undated)
            if hi is not None:
                t = t.filter((t.sent_ms < hi) | undated)
            return t

        # the values are the caller's: compiled when first read, never kept
        return lambda: _sql.compiled(dialect, None, build)

    pending: dict[str, str | Callable[[], str]] = {
        "messages": narrowed(_join.KEPT_SCHEMA, "messages"),
        "not_sent": narrowed(_join.NOT_SENT_SCHEMA, "not_sent"),
    }
    if names is not None or chosen is not None:
        # replies are attributed among the messages of the time window (_replies)
        pending["timed"] = narrowed(_join.KEPT_SCHEMA, "messages", timed=True)
    return _Relations(base.con, {}, pending, parent=base, inline=base.inline)


def messages(
    events: object,
    sends: object | None = None,
    *,
    engine: Engine = None,
    include_tests: bool = False,
) -> Messages:
    """Join ``events`` to the send ledger ``sends`` once and keep the messages in the backend.

    Inputs and ``engine`` as for :func:`delivery_report`. Every reducer accepts the result in
    place of ``(events, sends)``; ``where`` filters it without running the join again.

    Test sends (``CampaignPlan.test_send``: an externalId ending in ``-test``, or the messageId
    of such a send) and the replies to them are left out, as every reducer leaves them out of
    campaign figures. With ``include_tests=True`` they are kept, flagged ``test`` in
    :func:`message_table` (``msgs.df``), and every reducer given these messages counts them.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"event": ["delivery-status"] * 2, "message_id": [7, 7],
    ...     "phone": ["+13125550000", "+13125550001"], "status": ["delivered", "undelivered"],
    ...     "sender_name": ["Acme", None]})
    >>> msgs = messages(ev)
    >>> msgs.df[["phone", "route", "outcome"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'phone': '+13125550000', 'route': 'imessage', 'outcome': 'delivered'},
     {'phone': '+13125550001', 'route': 'unknown', 'outcome': 'failed'}]
    >>> len(msgs.where(routes="imessage").df)
    1
    >>> ev = ev.assign(external_id=["c-00000", "c-test"], message_id=[7, 8])
    >>> len(messages(ev).df), messages(ev, include_tests=True).df["test"].tolist()
    (1, [False, True])
    """
    con, inputs, drops = _bind_inputs(events, sends, engine)
    dialect = _sql.dialect(con)
    rel = _Relations(con, {})
    try:
        for role, sql in (
            ("messages", _join.messages_sql(dialect, tests=include_tests)),
            ("replies", _join.replies_sql(dialect, tests=include_tests)),
            ("not_sent", _join.not_sent_sql(dialect)),
        ):
            name = _sql.temp_name(role)
            _sql.create_table(con, name, _sql.bind(sql, inputs.__getitem__))
            rel.drops.insert(0, (name, "table"))
            rel.names[role] = name
    except BaseException:
        rel.close()
        raise
    finally:
        _drop_all(con, drops)  # the kept tables no longer read the inputs
    return Messages(con, rel, _base=rel)


def _bind_inputs(
    events: object, sends: object | None, engine: Engine
) -> tuple[BaseBackend, dict[str, str], list[tuple[str, str]]]:
    con = resolve_backend(engine, [events, sends])
    names: dict[str, str] = {}
    drops: list[tuple[str, str]] = []
    try:
        for role, obj, schema in (
            ("events", events, EVENT_SCHEMA),
            ("sends", empty_sends() if sends is None else sends, SEND_SCHEMA),
        ):
            names[role], dropped = bind_input(con, obj, schema, role)
            drops[:0] = dropped
    except BaseException:
        _drop_all(con, drops)
        raise
    return con, names, drops


@contextmanager
def opened(
    events: object,
    sends: object | None,
    engine: Engine,
    *,
    start: object = None,
    end: object = None,
    detail: bool = True,
    times: bool = True,
) -> Iterator[Messages]:
    """The messages a reducer reads: ``events`` itself if a ``Messages`` (narrowed to
    ``[start, end)``), else the join of (events, sends) as views, dropped on exit (test sends
    left out: a ``Messages`` made with ``include_tests=True`` is the way to count them)."""
    if isinstance(events, Messages):
        if sends is not None or engine is not None:
            raise ValidationError(
                "with a Messages (from messages()), sends and engine must be None: the "
                "messages already hold the ledger and their backend"
            )
        yield events.where(start=start, end=end) if start is not None or end is not None else events
        return
    times = times or start is not None or end is not None
    con, inputs, drops = _bind_inputs(events, sends, engine)
    dialect = _sql.dialect(con)
    rel = _Relations(
        con,
        dict(inputs),
        {
            "messages": _join.messages_sql(dialect, detail=detail, times=times),
            "replies": _join.replies_sql(dialect),
            "not_sent": _join.not_sent_sql(dialect),
        },
        inline=True,
    )
    rel.drops.extend(drops)
    msgs = Messages(con, rel, _base=rel)
    try:
        if start is not None or end is not None:
            narrowed = msgs.where(start=start, end=end)
            try:
                yield narrowed
            finally:
                narrowed._relations.close()
        else:
            yield msgs
    finally:
        rel.close()


def run(msgs: Messages, key: Hashable, build: Callable[[], ir.Table]) -> pd.DataFrame:
    """Run the reducer ``build()`` (over placeholders, compiled once per ``key``) on ``msgs``."""
    sql = _sql.compiled(_sql.dialect(msgs.backend), key, build)
    return _sql.fetch(msgs.backend, _sql.bind(sql, msgs._name))
