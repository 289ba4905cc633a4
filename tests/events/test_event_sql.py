"""The log reader's SQL agrees with the contract's own functions, input for input.

Each test runs the generated query itself (``_event_sql.build_sql``) where the reader could
hide a wrong SQL answer behind its Python fallback, and the whole reader where it cannot.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mta_notebook.contract import events, routes, statuses
from mta_notebook.contract.dates import parse_time
from mta_notebook.contract.phones import normalize_phone, normalize_phones
from mta_notebook.events import _loader, read_bodies
from mta_notebook.events import _sql as _event_sql
from mta_notebook.events._statuses import status_tables
from tests.contract.test_phones import nanp_ish

DS = "MTAWebhook.DELIVERY_STATUS"
ZONES = ["America/Chicago", "UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Apia"]


_CON: dict[str, duckdb.DuckDBPyConnection] = {}


def sql_rows(lines: list[str], zone: str = "America/Chicago") -> list[dict[str, Any]]:
    """The generated query's rows for ``lines`` (no Python step after it)."""
    if "con" not in _CON:
        _CON["con"] = duckdb.connect()
        _CON["con"].execute("SET TimeZone = 'UTC'")
        _CON["con"].execute(_event_sql.macros())
    con = _CON["con"]
    chunk = pa.table(
        {"line": pa.array(range(1, len(lines) + 1), pa.int64()), "text": pa.array(lines)}
    )
    con.register("chunk", chunk)
    try:
        sql = _event_sql.build_sql(status_tables(), False, zone)
        rows: list[dict[str, Any]] = con.sql(sql).to_arrow_table().to_pylist()
    finally:
        con.unregister("chunk")
    return rows


def body(**fields: Any) -> str:
    return json.dumps(
        {"type": DS, "destinationNumber": "+13125550123", "status": 4, **fields}, sort_keys=True
    )


def by_source(log: Any) -> dict[int, dict[str, Any]]:
    rows = log.df.to_dict("records")
    return {int(r["source"].rsplit(":", 1)[1]): r for r in rows}


# -- Python's text rules ----------------------------------------------------------------------


def test_whitespace_is_what_python_strips() -> None:
    assert tuple(c for c in map(chr, range(0x110000)) if c.isspace()) == _event_sql.WS_CHARS


def test_lower_case_agrees_with_python_on_ascii_letters() -> None:
    """For every code point, DuckDB's lower (after the fixes) and Python's agree, or neither
    has an ASCII character in it, so no ASCII key can match one way and not the other."""
    points = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    con = duckdb.connect()
    try:
        con.register("cp", pa.table({"c": pa.array([chr(c) for c in points])}))
        fixed = "c"
        for k, v in _event_sql.LOWER_FIXES.items():
            fixed = f"replace({fixed}, '{k}', '{v}')"
        duck = con.sql(f"SELECT lower({fixed}) AS l FROM cp").to_arrow_table()
    finally:
        con.close()
    lowered = duck.column("l").to_pylist()
    for c, low in zip(points, lowered, strict=True):
        py = chr(c).lower()
        if py != low:
            assert not any(ch.isascii() for ch in py + low), hex(c)


# -- times ------------------------------------------------------------------------------------

# Days with a zone transition in one of ZONES (US, India has none, Lord Howe 30 min, Samoa 2011's
# skipped day and its 2021 end of DST).
_TRANSITION_DAYS = [
    datetime(2026, 3, 8),
    datetime(2026, 11, 1),
    datetime(2026, 4, 5),
    datetime(2026, 10, 4),
    datetime(2011, 12, 29),
    datetime(2021, 4, 4),
]
_moments = st.one_of(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(2999, 12, 31)),
    st.sampled_from(_TRANSITION_DAYS).flatmap(
        lambda d: st.datetimes(min_value=d - timedelta(days=1), max_value=d + timedelta(days=2))
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
)


@st.composite
def iso_text(draw: st.DrawFn) -> str:
    when = draw(_moments)
    sep = draw(st.sampled_from(["T", " ", "t", "_"]))
    text = f"{when:%Y-%m-%d}{sep}{when:%H:%M}"
    if draw(st.booleans()):
        text += f":{when:%S}"
        digits = draw(st.sampled_from([0, 0, 3, 6, 1, 2, 4, 7, 9]))
        if digits:
            text += "." + f"{when:%f}000"[:digits]
    tz = draw(st.sampled_from(["", "", "Z", "z", "+hh:mm", "-hh:mm", "+hhmm", "+hh", "+24:00"]))
    if "hh" in tz:
        hh = draw(st.integers(0, 23))
        mm = draw(st.sampled_from([0, 30, 45, draw(st.integers(0, 59))]))
        tz = tz.replace("hh", f"{hh:02d}").replace("mm", f"{mm:02d}")
    pad = draw(st.sampled_from(["", " ", "\u3000", "\t"]))
    return pad + text + tz + pad


@st.composite
def epoch_value(draw: st.DrawFn) -> Any:
    when = draw(_moments).replace(tzinfo=timezone.utc)
    seconds = (when - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()
    value: Any = draw(
        st.sampled_from(
            [int(seconds), int(seconds * 1000), seconds, round(seconds, 3), round(seconds, 6)]
        )
    )
    if draw(st.booleans()):
        value = draw(st.sampled_from([str(value), f" {value} ", f"+{value}", f"{value}.0"]))
    return value


time_values = st.one_of(
    iso_text(),
    epoch_value(),
    st.integers(-(10**14), 10**14),
    st.sampled_from(["20250306T193000-0000", "2026-11-27 05:00:00 +0100", "1_764_200_000"]),
    st.text(max_size=12),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(time_values, min_size=1, max_size=30), st.sampled_from(ZONES))
@example(["2026-11-27T05:00:00Z\r", "\t1764200000", "2026-11-26 23:00:00\u3000"], "UTC")
def test_sql_times_equal_parse_time(values: list[Any], zone: str) -> None:
    lines = [body(date=v, messageId=i) for i, v in enumerate(values)]
    for v, row in zip(values, sql_rows(lines, zone), strict=True):
        if row["ts_fast"] is not None:  # SQL decided it: it must be parse_time's answer
            assert row["ts_fast"] == parse_time(v, naive_timezone=zone), v
    log = by_source(read_bodies(lines, naive_timezone=zone))
    for i, v in enumerate(values, 1):
        want = parse_time(v, naive_timezone=zone)
        blank = v is None or (isinstance(v, str) and not v.strip())
        if blank:
            assert log[i]["dated"] is False
        elif want is None:
            assert i not in log  # rejected as bad-field
        else:
            assert log[i]["occurred_at"] == pd.Timestamp(want), v
            assert log[i]["dated"] is True


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(2**33 - 10**7, 2**33 + 10**7), st.integers(0, 999_999)),
        min_size=1,
        max_size=40,
    )
)
def test_sql_epoch_floats_near_the_exact_limit(parts: list[tuple[int, int]]) -> None:
    """Around 2**33 s a float is a microsecond off: SQL must stop reading them itself there."""
    values = [f"{s}.{f:06d}" for s, f in parts] + [s * 1000 + f % 1000 for s, f in parts]
    rows = sql_rows([body(date=v, messageId=i) for i, v in enumerate(values)])
    for v, row in zip(values, rows, strict=True):
        if row["ts_fast"] is not None:
            assert row["ts_fast"] == parse_time(v), v


def test_sql_reads_the_usual_shapes_itself() -> None:
    values = [
        "2026-11-27T05:02:57.123Z",
        "2026-11-26T23:02:57.123-06:00",
        "2026-11-26 23:02:57",
        "2026-11-27T05:02:57.123456+00:00",
        "1764200000",
        "1764200000123",
        "1764200000.5",
    ]
    rows = sql_rows([body(date=v) for v in values] + [body(timestamp=1764200000)])
    assert [r["ts_fast"] for r in rows] == [
        datetime(2026, 11, 27, 5, 2, 57, 123000, tzinfo=timezone.utc),
        datetime(2026, 11, 27, 5, 2, 57, 123000, tzinfo=timezone.utc),
        datetime(2026, 11, 27, 5, 2, 57, tzinfo=timezone.utc),
        datetime(2026, 11, 27, 5, 2, 57, 123456, tzinfo=timezone.utc),
        datetime(2025, 11, 26, 23, 33, 20, tzinfo=timezone.utc),
        datetime(2025, 11, 26, 23, 33, 20, 123000, tzinfo=timezone.utc),
        datetime(2025, 11, 26, 23, 33, 20, 500000, tzinfo=timezone.utc),
        datetime(2025, 11, 26, 23, 33, 20, tzinfo=timezone.utc),
    ]


def test_an_ambiguous_local_time_is_left_to_python() -> None:
    # 01:30 happens twice in Chicago on 2026-11-01; DuckDB's ICU picks the second, Python
    # (fold=0) the first: SQL must not decide it.
    row = sql_rows([body(date="2026-11-01 01:30:00")])[0]
    assert row["ts_fast"] is None
    (got,) = read_bodies([body(date="2026-11-01 01:30:00")]).df["occurred_at"]
    assert (
        got
        == pd.Timestamp("2026-11-01T06:30:00Z")
        == pd.Timestamp(parse_time("2026-11-01 01:30:00"))
    )


# -- statuses ---------------------------------------------------------------------------------

_names = [s.name for s in statuses.DELIVERY_STATUSES + statuses.DELIVERIES_FILTER_STATUSES]


@st.composite
def status_name(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_names))
    name = draw(st.sampled_from([name, name.lower(), name.title(), name.swapcase()]))
    sep = draw(st.sampled_from(["_", "-", " ", "  ", "\u3000", "__", "\t"]))
    name = name.replace("_", sep)
    if draw(st.booleans()):
        name = name.replace("K", "\u212a").replace("I", "\u0130")
    pad = draw(st.sampled_from(["", " ", "\u00a0", "_", "\n"]))
    return pad + name + pad


status_values = st.one_of(
    st.integers(-3, 20),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([4.0, 13.0, 1e3, 2**70]),
    st.booleans(),
    st.none(),
    status_name(),
    st.integers(-3, 20)
    .map(lambda n: st.sampled_from([str(n), f" {n} ", f"+{n}", f"0{n}"]))
    .flatmap(lambda s: s),
    st.sampled_from(["٣", "²", "+-4", "4.0", "", "  "]),
    st.text(max_size=10),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(status_values, min_size=1, max_size=30))
@example(["0\r", " DELIVERED\t", "\u3000Sent\u3000", "4\n", "\x1cqueued", "x\x85"])
def test_statuses_equal_resolve_status(values: list[Any]) -> None:
    lines = [body(status=v, messageId=i) for i, v in enumerate(values)]
    rows = sql_rows(lines)
    log = by_source(read_bodies(lines))
    for i, (v, row) in enumerate(zip(values, rows, strict=True), 1):
        info = statuses.resolve_status(v)
        sql_own = isinstance(v, str) or (type(v) is int and -(2**63) <= v < 2**64)
        if sql_own and info.status is not None:
            # strings and 64-bit JSON integers are SQL's own work (other numbers go to Python)
            assert (row["status_code"], row["status"], row["outcome"]) == (
                info.status_code,
                info.status,
                info.outcome,
            ), v
        if info.status is None:
            assert i not in log, v  # missing-field
            continue
        got = log[i]
        assert (got["status_code"], got["status"], got["outcome"], got["is_final"]) == (
            info.status_code,
            info.status,
            info.outcome,
            info.is_final,
        ), v


# -- events and routes ------------------------------------------------------------------------

_spellings = [*events.MTA_TYPES, *events.EVENTS, "delivery_status", "MTAWEBHOOK.message_reply"]


@st.composite
def event_word(draw: st.DrawFn) -> Any:
    word = draw(st.sampled_from(_spellings))
    word = draw(st.sampled_from([word, word.upper(), word.lower(), word.title()]))
    word = draw(
        st.sampled_from(
            [word, f" {word}\u2003", word.replace("k", "\u212a"), word.replace("I", "\u0130")]
        )
    )
    return draw(st.one_of(st.just(word), st.none(), st.integers(0, 3), st.text(max_size=4)))


_shape_fields = {
    "status": st.one_of(st.none(), st.just(4)),
    "fromNumber": st.one_of(st.none(), st.just("+13125550123")),
    "message": st.one_of(st.none(), st.just("STOP")),
    "text": st.one_of(st.none(), st.just("hi")),
    "optInType": st.one_of(st.none(), st.just("deeplink")),
    "destinationNumber": st.one_of(st.none(), st.just("+13125550123")),
    "number": st.one_of(st.none(), st.just("+13125550124")),
    "senderName": st.sampled_from([None, "", " ", "\u3000", "Acme"]),
    "route": st.sampled_from([None, "", "SMS", "iMessage", "\u0130MESSAGE", 5, "pigeon"]),
    "channel": st.sampled_from([None, "mms", " ", "IMESSAGE"]),
}


@st.composite
def event_body(draw: st.DrawFn) -> dict[str, Any]:
    fields = draw(st.dictionaries(st.sampled_from(list(_shape_fields)), st.none(), max_size=8))
    out: dict[str, Any] = {k: draw(_shape_fields[k]) for k in fields}
    kind = draw(event_word())
    if kind is not None or draw(st.booleans()):
        out["type"] = kind
    return out


def expected_route(payload: dict[str, Any], event: str) -> str:
    """Section A of the interfaces: explicit field, else senderName, else by event."""
    for name in routes.EXPLICIT_ROUTE_FIELDS:
        named = routes.route_of_field(payload.get(name))
        if named is not None:
            return named
    sender = payload.get(routes.ROUTE_EVIDENCE_FIELD)
    if sender is not None and str(sender).strip():
        return "imessage"
    return "unknown" if event == "number-opt-in" else "sms"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(event_body(), event_word(), st.booleans()), min_size=1, max_size=25))
def test_events_and_routes_equal_the_contract(cases: list[tuple[Any, Any, bool]]) -> None:
    lines = []
    for i, (payload, hint, wrap) in enumerate(cases):
        raw = json.dumps({"data": payload} if wrap else payload)
        lines.append(
            json.dumps(
                {"received_at": f"2026-11-27T05:00:{i:02d}Z", "event": hint, "raw_body": raw}
            )
        )
    rows = sql_rows(lines)
    log = by_source(read_bodies(lines))
    for i, ((payload, hint, wrap), row) in enumerate(zip(cases, rows, strict=True), 1):
        want = events.infer_event({"data": payload} if wrap else payload, hint)
        assert row["event"] == want, (payload, hint)
        if i in log:
            assert log[i]["route"] == expected_route(payload, log[i]["event"])


# -- phones -----------------------------------------------------------------------------------


@contextlib.contextmanager
def phones_row_for_row() -> Iterator[None]:
    """The reader as on a log whose blocks do not repeat numbers: no distinct-value step."""
    original = _loader.Loader.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.context.phones_repeat, self.context.blocks = False, 1

    _loader.Loader.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        _loader.Loader.__init__ = original  # type: ignore[method-assign]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(nanp_ish(), st.text(max_size=30)), min_size=1, max_size=40),
    st.booleans(),
)
def test_phones_equal_normalize_phones(values: list[str], row_for_row: bool) -> None:
    """The reader's phone is ``normalize_phones`` of the raw field, on test_phones' corpus."""
    lines = [body(destinationNumber=v, messageId=i) for i, v in enumerate(values)]
    with phones_row_for_row() if row_for_row else contextlib.nullcontext():
        log = read_bodies(lines)
    got = by_source(log)
    want = normalize_phones(values).tolist()
    for i, (v, w) in enumerate(zip(values, want, strict=True), 1):
        if pd.isna(w):
            assert i not in got, v
        else:
            assert got[i]["phone"] == w, v
    reasons = dict(zip(log.rejected["source"], log.rejected["reason"], strict=True))
    for i, v in enumerate(values, 1):
        if i not in got:
            assert reasons[f"bodies:{i}"] == ("missing-field" if not v.strip() else "bad-field")


# Area codes of the US, Canada and the Caribbean regions (leading-digit tables), toll free,
# premium, N11 and unassigned ones.
_AREAS = [312, 415, 212, 555, 800, 900, 211, 999, 268, 809, 876, 441, 204, 416, 671, 787, 340]
_e164 = st.one_of(
    st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True),
    st.builds(lambda a, r: f"+1{a}{r:07d}", st.sampled_from(_AREAS), st.integers(0, 9_999_999)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_e164, min_size=1, max_size=60))
def test_sql_judges_e164_as_normalize_phones(values: list[str]) -> None:
    """SQL calls "+1" and ten digits valid only when normalize_phone keeps it; what SQL leaves
    open (other NANP regions, invalid numbers) the reader gets from normalize_phones."""
    lines = [body(destinationNumber=v, messageId=i) for i, v in enumerate(values)]
    rows = sql_rows(lines)
    for v, row in zip(values, rows, strict=True):
        kept = normalize_phone(v)
        assert kept in (None, v)
        assert row["phone_ok"] in (None, True)
        if row["phone_ok"]:
            assert kept == v
        if kept and v[2:5] in ("312", "415", "212"):  # US numbers are SQL's own work
            assert row["phone_ok"] is True, v
    got = by_source(read_bodies(lines))
    for i, v in enumerate(values, 1):
        assert (got[i]["phone"] if i in got else None) == normalize_phone(v), v


def test_the_issue_phone_is_rejected() -> None:
    # "(555) 234-5678": accepted by the old SQL regex, not a valid number for phonenumbers
    log = read_bodies([body(destinationNumber="(555) 234-5678")])
    assert log.df.empty
    assert log.rejected["reason"].tolist() == ["bad-field"]


@pytest.mark.parametrize("field", ["number", "to", "toNumber"])
def test_the_first_present_phone_field(field: str) -> None:
    payload = json.loads(body(destinationNumber=None))
    payload[field] = "312-555-0199"
    (phone,) = read_bodies([json.dumps(payload)]).df["phone"]
    assert phone == "+13125550199"
