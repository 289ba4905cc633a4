"""The log reader's SQL, generated from the contract's tables (nothing about MTA is written here).

One DuckDB query turns a chunk of lines (``chunk(line, text)``) into one row per line: receiver
record or bare body, flat or ``{"data": {...}}`` (``contract.events.unwrap``); the event
(``infer_event``: the body's ``type``, else the ``?event=`` hint, else ``SHAPE_RULES``); the
phone field of that event (``PHONE_FIELDS``); the status through the code and name tables
(``resolve_status``); the body's own time (``DATE_FIELDS``, ``parse_time``); the default route.

Each expression equals its contract function on the inputs it decides and leaves the rest to
Python (``NULL``, and a column saying what is left), where the loader calls that very function:

* times: SQL reads epoch seconds and milliseconds written as plain digits (seconds also with a
  fraction of up to six digits), and ISO 8601
  ``YYYY-MM-DD[T ]HH:MM[:SS[.fff|.ffffff]]`` with ``Z`` or ``±HH:MM`` (as given) or without
  (in the naive zone, unless a zone transition is within a day of it); the rest goes to
  ``parse_time``;
* statuses: JSON integers and strings are mapped here; other numbers go to ``resolve_status``;
* explicit route fields (none is documented) go to ``route_of_field``;
* phones: "+1" and ten digits starting 2-9 (E.164 as MTA writes it) that phonenumbers' US
  patterns accept are valid here (the first step of the test ``normalize_phones`` runs on them,
  ``phones.nanp_validity_steps``); every other phone goes to ``normalize_phones``.

Text rules are Python's: whitespace is what ``str.isspace`` says, and lower case is DuckDB's
``lower`` after spelling U+0130 the way Python lowers it (the one code point where the two
differ in ASCII letters; a test enumerates every code point).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Final

from ..contract import dates, events, phones, routes, statuses
from ..contract.signature import SIGNATURE_HEADER
from ._statuses import StatusTables

__all__ = [
    "BODY_FIELDS",
    "ENUM_COLUMNS",
    "EPOCH_MS_EXACT_LIMIT",
    "EXPLICIT_ROUTE_COLUMNS",
    "LOWER_FIXES",
    "MISSING_PHONE",
    "MISSING_STATUS",
    "WS_CHARS",
    "bad_message_id",
    "build_sql",
    "macros",
    "quote_ident",
]

# -- Python's text rules, as SQL -------------------------------------------------------------

#: The characters ``str.strip`` and ``str.split`` take for whitespace (none is above U+3000).
WS_CHARS: Final = tuple(c for c in map(chr, range(0x3001)) if c.isspace())
# One literal (control characters and all): DuckDB plans it far faster than chr() || chr()...
_WS: Final = "'" + "".join(WS_CHARS) + "'"
_WS_CLASS: Final = "".join(f"\\x{{{ord(c):x}}}" for c in WS_CHARS)
#: DuckDB lowers U+0130 to "i", Python to "i" + U+0307: spell it Python's way first.
LOWER_FIXES: Final = {"\u0130": "\u0130".lower()}

#: Epoch seconds below 2**33 (year 2242) that Python reads through a float (``ms / 1000.0``, or
#: a written fraction) are exact in SQL: the double is then within 0.48 us of the written value
#: (half its spacing, 2**-21 s), so Python's round-half-even ``fromtimestamp`` lands on the
#: microseconds written. Above it a float can be a microsecond off (8615030400.001 reads as
#: .000999): those go to Python.
EPOCH_FLOAT_EXACT_S: Final = 2**33
EPOCH_MS_EXACT_LIMIT: Final = EPOCH_FLOAT_EXACT_S * 1000
#: Two zone transitions are never this close, so a naive time with the same offset this far on
#: either side has exactly one reading (the largest shift in tzdata is 24 h, Samoa 2011).
_TRANSITION_WINDOW: Final = "INTERVAL 26 HOUR"


#: Result columns with a fixed set of values, handed over as ENUMs (Arrow dictionaries: one
#: byte a row instead of the text).
ENUM_COLUMNS: Final = {
    "event": ("mta_event", events.EVENTS),
    "outcome": ("mta_outcome", statuses.OUTCOMES),
    "route": ("mta_route", routes.EVENT_ROUTES),
}


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _strip(x: str) -> str:
    """``x.strip()``; a text starting and ending in printable ASCII skips the (slow) trim."""
    return (
        f"CASE WHEN ord({x}) BETWEEN 33 AND 126 AND ord(({x})[-1]) BETWEEN 33 AND 126 THEN {x} "
        f"ELSE trim({x}, {_WS}) END"
    )


def _lower(x: str) -> str:
    """``x.lower()`` as far as ASCII letters go (every key in the contract is ASCII)."""
    for c, low in LOWER_FIXES.items():
        x = f"replace({x}, {_q(c)}, {_q(low)})"
    return f"lower({x})"


def _enum(value: str, column: str) -> str:
    """``value`` as a constant of ``column``'s ENUM (so a CASE yields the ENUM, no cast a row)."""
    return f"{_q(value)}::{ENUM_COLUMNS[column][0]}"


def _lookup(x: str, pairs: Iterable[tuple[str, str]], then: Callable[[str], str] = _q) -> str:
    """The value ``pairs`` gives for ``x`` (``NULL`` if none): one constant MAP, which DuckDB
    plans far faster than a ``CASE`` with as many arms."""
    entries = ", ".join(f"{_q(k)}: {then(v)}" for k, v in pairs)
    return f"map_extract_value(MAP {{{entries}}}, {x})"


def _first(fields: Iterable[str]) -> str:
    """The first of ``fields`` that is present and not null."""
    cols = [f"f_{f}" for f in fields]
    return cols[0] if len(cols) == 1 else f"coalesce({', '.join(cols)})"


# -- pieces of the query ----------------------------------------------------------------------

_ALWAYS: Final = ("type", "event", "messageId", "externalId", "status", "tags", "data")
#: Body fields read as JSON (their type matters); the rest are read as text.
_JSON_FIELDS: Final = ("status", "tags", "data", *routes.EXPLICIT_ROUTE_FIELDS)


def _body_fields() -> tuple[str, ...]:
    names: list[str] = list(_ALWAYS)
    names += [f for fields in events.PHONE_FIELDS.values() for f in fields]
    names += [f for fields, _ in events.SHAPE_RULES for f in fields]
    names += [*events.DATE_FIELDS, *events.REPLY_TEXT_FIELDS, *routes.EXPLICIT_ROUTE_FIELDS]
    names.append(routes.ROUTE_EVIDENCE_FIELD)
    return tuple(dict.fromkeys(names))


BODY_FIELDS: Final = _body_fields()
#: The explicit route fields as result columns, in the contract's order.
EXPLICIT_ROUTE_COLUMNS: Final = tuple(f"x_{f}" for f in routes.EXPLICIT_ROUTE_FIELDS)

_RECORD: Final = json.dumps(
    {
        "received_at": "VARCHAR",
        "event": "VARCHAR",
        "raw_body": "VARCHAR",
        "body": "JSON",
        "signature": "VARCHAR",
        "headers": {SIGNATURE_HEADER: "VARCHAR"},
        "reason": "VARCHAR",
        "detail": "VARCHAR",
    }
)
#: The reasons the receiver files a signed body under in its ``rejects-*.jsonl``.
_RECEIVER_REASONS: Final = ("not-json", "not-an-event")
_BODY: Final = json.dumps({f: "JSON" if f in _JSON_FIELDS else "VARCHAR" for f in BODY_FIELDS})


def _event_sql() -> str:
    """``infer_event``: the ``type``, else the hint (both via ``event_name``), else the shape.

    Nested ``CASE ... ELSE`` rather than ``coalesce``: each fallback is evaluated only for the
    rows still open, and the documented spellings (nearly every line) match first, without
    trim or lower.
    """
    exact = [*events.MTA_TYPES.items(), *((e, e) for e in events.EVENTS)]
    aliases = sorted(events.EVENT_ALIASES.items())
    shapes = " ".join(
        f"WHEN {' AND '.join(f'f_{f} IS NOT NULL' for f in fields)} THEN {_enum(event, 'event')}"
        for fields, event in events.SHAPE_RULES
    )

    def event(value: str) -> str:
        return _enum(value, "event")

    def named(x: str, otherwise: str) -> str:
        spelled = _lookup(_lower(_strip(x)), aliases, then=event)
        return f"coalesce({_lookup(x, exact, then=event)}, {spelled}, {otherwise})"

    return named("f_type", named("f_hint", f"CASE {shapes} END"))


def _phone_sql() -> str:
    """The first present field of ``PHONE_FIELDS[event]``."""
    whens = " ".join(
        f"WHEN {_q(event)} THEN {_first(fields)}" for event, fields in events.PHONE_FIELDS.items()
    )
    return f"CASE ev {whens} END"


#: The phone spelling SQL judges: E.164 of a NANP number (phonenumbers reads it as country
#: code 1 and exactly these ten digits).
E164_NANP_RE: Final = r"\+1[2-9][0-9]{9}"


def _phone_ok_sql() -> str:
    """TRUE for a valid "+1" number that the first steps of ``normalize_phones``' NANP test
    decide (the US patterns: nearly every number of a US account); NULL for everything else,
    which Python decides (other NANP regions, invalid numbers, other spellings).

    Only the leading pattern steps: each is one compiled regex per query, and the later steps
    (two dozen regions) would cost more to plan than their rare numbers cost in Python.
    """
    steps = phones.nanp_validity_steps() or ()
    nsn = "substr(phone_raw, 3)"
    tests: list[str] = []
    for kind, rule in steps:
        if kind != "pattern":
            break
        if rule is None:
            continue
        general, types = rule
        test = f"regexp_full_match({nsn}, {_q(types)})"
        tests.append(
            test if general is None else f"regexp_full_match({nsn}, {_q(general)}) AND {test}"
        )
    if not tests:
        return "NULL::BOOLEAN"
    whens = " ".join(f"WHEN {t} THEN TRUE" for t in tests)
    return f"CASE WHEN regexp_full_match(phone_raw, {_q(E164_NANP_RE)}) THEN CASE {whens} END END"


def _status_key_sql(x: str) -> str:
    """``status_key(x)``: lower case, words joined by "_" (x is stripped already)."""
    return f"trim(regexp_replace({_lower(x)}, '[-_{_WS_CLASS}]+', '_', 'g'), '_')"


def _status_sql(tables: StatusTables) -> tuple[str, str, str]:
    """Expressions of the fast key (JSON integer text), the full key and the outcome."""
    codes = [(str(c), s.key) for c, s in sorted(tables.codes.items())]
    names = [(k, s.key) for k, s in sorted(tables.names.items())]
    key = (
        f"CASE WHEN s_str IS NULL OR s_str = '' THEN NULL "
        f"WHEN regexp_full_match(s_str, {_q(statuses.CODE_PATTERN)}) "
        f"THEN {_lookup('try_cast(s_str AS BIGINT)::VARCHAR', codes)} "
        f"ELSE {_lookup(_status_key_sql('s_str'), names)} END"
    )
    outcomes = sorted(tables.outcomes().items())
    outcome = _lookup("k", outcomes, then=lambda v: _enum(v, "outcome"))
    return _lookup("s_txt", codes), key, outcome


_DATE_RE: Final = r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME_RE: Final = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{3}|\.[0-9]{6})?)?"
#: ISO 8601 shapes SQL reads (the ones every supported Python's ``fromisoformat`` reads).
ISO_OFFSET_RE: Final = _DATE_RE + "[T ]" + _TIME_RE + r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
ISO_NAIVE_RE: Final = _DATE_RE + "[T ]" + _TIME_RE
#: Epoch numbers SQL reads: plain digits (no sign or exponent), or seconds with a fraction of up
#: to six digits (below ``EPOCH_FLOAT_EXACT_S``).
EPOCH_RE: Final = "[0-9]{1,13}"
EPOCH_FRACTION_RE: Final = r"[0-9]{1,10}\.[0-9]{1,6}"


def macros() -> str:
    """The types and macros :func:`build_sql` uses (create them once per connection).

    ``mta_time(text, zone)``: the time ``parse_time(text, naive_timezone=zone)`` gives, for the
    shapes above; ``NULL`` for everything else (then Python decides). ``mta_time_utc(text)``:
    the same for a receiver's ``received_at`` (ISO only; UTC has no transitions to guard).
    """
    threshold = int(dates.EPOCH_MS_THRESHOLD)
    types = "\n".join(
        f"CREATE TYPE {name} AS ENUM ({', '.join(map(_q, values))});"
        for name, values in ENUM_COLUMNS.values()
    )
    return f"""
{types}
CREATE OR REPLACE MACRO mta_local(w, zone) AS CASE
  WHEN timezone(zone, timezone(zone, w)) = w
   AND timezone(zone, timezone(zone, w) - {_TRANSITION_WINDOW}) = w - {_TRANSITION_WINDOW}
   AND timezone(zone, timezone(zone, w) + {_TRANSITION_WINDOW}) = w + {_TRANSITION_WINDOW}
  THEN timezone(zone, w) END;
CREATE OR REPLACE MACRO mta_time(x, zone) AS CASE
  WHEN x IS NULL THEN NULL
  WHEN regexp_full_match(x, {_q(ISO_OFFSET_RE)}) THEN try_cast(x AS TIMESTAMPTZ)
  WHEN regexp_full_match(x, {_q(EPOCH_RE)}) THEN CASE
    WHEN x::BIGINT < {threshold} THEN make_timestamp(x::BIGINT * 1000000)::TIMESTAMPTZ
    WHEN x::BIGINT < {EPOCH_MS_EXACT_LIMIT} THEN make_timestamp(x::BIGINT * 1000)::TIMESTAMPTZ
    END
  WHEN regexp_full_match(x, {_q(EPOCH_FRACTION_RE)})
   AND split_part(x, '.', 1)::BIGINT < {EPOCH_FLOAT_EXACT_S} THEN make_timestamp(
    split_part(x, '.', 1)::BIGINT * 1000000 + rpad(split_part(x, '.', 2), 6, '0')::BIGINT
  )::TIMESTAMPTZ
  WHEN regexp_full_match(x, {_q(ISO_NAIVE_RE)}) THEN mta_local(try_cast(x AS TIMESTAMP), zone)
  END;
CREATE OR REPLACE MACRO mta_time_utc(x) AS CASE
  WHEN x IS NULL THEN NULL
  WHEN regexp_full_match(x, {_q(ISO_OFFSET_RE)}) THEN try_cast(x AS TIMESTAMPTZ)
  WHEN regexp_full_match(x, {_q(ISO_NAIVE_RE)}) THEN try_cast(x AS TIMESTAMP)::TIMESTAMPTZ
  END;
"""


def _route_sql() -> str:
    """The route when no explicit route field decides: ``senderName``, else by event."""
    return (
        f"CASE WHEN sender IS NOT NULL THEN {_enum('imessage', 'route')} "
        f"WHEN ev = 'number-opt-in' THEN {_enum('unknown', 'route')} "
        f"ELSE {_enum('sms', 'route')} END"
    )


#: The ``missing-field`` details, after the event's name.
MISSING_PHONE: Final = " has no phone number field"
MISSING_STATUS: Final = " has no status"
_BAD_ID: Final = ("messageId ", " is not an integer")


def bad_message_id(text: str) -> str:
    """The ``bad-field`` detail of a ``messageId`` that is not an integer (as the SQL says it)."""
    return f"{_BAD_ID[0]}{text[:40]}{_BAD_ID[1]}"


def build_sql(tables: StatusTables, verify: bool, naive_timezone: str) -> str:
    """The query over ``chunk(line, text)``; one row per line, in line order."""
    return f"""
{_parse_sql(verify)}), {_read_sql(tables, naive_timezone)})
{_result_sql(tables)}"""


def _starts_object(x: str) -> str:
    """Whether text ``x`` starts with ``{`` after blanks and a BOM (the cheap test first)."""
    blanks = "' ' || chr(9) || chr(13) || chr(10) || chr(65279)"
    return (
        f"CASE WHEN starts_with({x}, '{{') THEN TRUE "
        f"ELSE starts_with(ltrim({x}, {blanks}), '{{') END"
    )


def _parse_sql(verify: bool) -> str:
    """Each line's JSON: a receiver record or a bare body, flat or wrapped; its fields."""
    fields = ",\n    ".join(f"e.{quote_ident(f)} AS f_{f}" for f in BODY_FIELDS if f != "event")
    lower_header = SIGNATURE_HEADER.lower()
    sig = (
        f"""coalesce(o.headers[{_q(SIGNATURE_HEADER)}], o.signature,
        CASE WHEN contains(text, '"{lower_header}"')
             THEN json_extract_string(text, '$.headers."{lower_header}"') END)"""
        if verify
        else "NULL::VARCHAR"
    )
    return f"""WITH p1 AS (
  SELECT line, text,
    {_starts_object("text")} AS is_obj,
    try(from_json(text, {_q(_RECORD)})) AS o
  FROM chunk
), p2 AS (
  SELECT *,
    (o.raw_body IS NOT NULL OR o.body IS NOT NULL) AS is_rec,
    coalesce(o.raw_body, o.body::VARCHAR) AS rb
  FROM p1
), p3 AS (
  SELECT *,
    CASE WHEN o IS NULL OR NOT is_obj THEN NULL WHEN is_rec THEN rb ELSE text END AS src
  FROM p2
), p4 AS (
  SELECT *,
    {_starts_object("src")} AS src_obj,
    try(from_json(src, {_q(_BODY)})) AS b
  FROM p3
), p5 AS (
  SELECT *,
    CASE WHEN b.data IS NOT NULL AND json_type(b.data) = 'OBJECT'
         THEN try(from_json(b.data, {_q(_BODY)})) ELSE b END AS e
  FROM p4
), f AS (
  SELECT line, text, is_obj, o, is_rec, rb, src_obj, b,
    {sig} AS sig,
    o.raw_body IS NOT NULL AS has_raw,
    CASE WHEN is_rec THEN o.event ELSE e.event END AS f_hint,
    -- a line of the receiver's rejects file keeps the receiver's reason
    CASE WHEN o.received_at IS NOT NULL AND o.headers IS NOT NULL
              AND o.reason IN {tuple(_RECEIVER_REASONS)!r} THEN o.reason END AS rx_reason,
    CASE WHEN is_rec THEN nullif({_strip("o.received_at")}, '') END AS r_raw,
    e.tags AS f_tags,
    {fields}
  FROM p5
"""


def _read_sql(tables: StatusTables, naive_timezone: str) -> str:
    """The event, phone, times and status of each parsed line, and why a line is rejected."""
    fast_key, key, _ = _status_sql(tables)
    date_cols = [f"nullif({_strip(f'f_{f}')}, '')" for f in events.DATE_FIELDS]
    return f"""g AS (
  SELECT *,
    {_event_sql()} AS ev,
    CASE WHEN {_strip(f"f_{routes.ROUTE_EVIDENCE_FIELD}")} <> ''
         THEN f_{routes.ROUTE_EVIDENCE_FIELD} END AS sender,
    coalesce({", ".join(date_cols)}) AS t_raw,
    try_cast(f_messageId AS BIGINT) AS mid,
    f_status::VARCHAR AS s_txt
  FROM f
), h AS (
  SELECT *,
    {_phone_sql()} AS phone_raw,
    CASE WHEN ev = 'delivery-status' THEN {fast_key} END AS k_fast,
    mta_time(t_raw, {_q(naive_timezone)}) AS ts_fast,
    mta_time_utc(r_raw) AS recv_fast
  FROM g
), s1 AS (
  SELECT *,
    CASE WHEN ev = 'delivery-status' AND k_fast IS NULL AND f_status IS NOT NULL
         THEN json_type(f_status) END AS s_type
  FROM h
), s2 AS (
  SELECT *,
    CASE WHEN k_fast IS NOT NULL THEN s_txt
         WHEN s_type = 'VARCHAR' THEN {_strip("f_status->>'$'")}
         WHEN s_type IN ('UBIGINT', 'BIGINT') THEN s_txt END AS s_str
  FROM s1
), s3 AS (
  SELECT *, CASE WHEN k_fast IS NOT NULL THEN k_fast ELSE {key} END AS k,
    {_phone_ok_sql()} AS phone_ok,
    CASE
      WHEN rx_reason IS NOT NULL THEN rx_reason
      WHEN o IS NULL THEN 'not-json'
      WHEN NOT is_obj THEN 'not-an-event'
      WHEN is_rec AND b IS NULL THEN 'not-json'
      WHEN is_rec AND NOT src_obj THEN 'not-an-event'
      WHEN ev IS NULL THEN 'not-an-event'
      WHEN f_messageId IS NOT NULL AND mid IS NULL THEN 'bad-field'
      WHEN s_type IN ('ARRAY', 'OBJECT') THEN 'bad-field'
    END AS reason,
    CASE WHEN is_rec THEN rb ELSE rtrim(text, chr(13) || chr(10)) END AS raw
  FROM s2
"""


def _result_sql(tables: StatusTables) -> str:
    """The result columns :class:`~._rows.Rows` finishes."""
    _, _, outcome = _status_sql(tables)
    explicit = ",\n    ".join(
        f"CASE WHEN f_{f} IS NOT NULL THEN f_{f}::VARCHAR END AS x_{f}"
        for f in routes.EXPLICIT_ROUTE_FIELDS
    )
    return f"""SELECT
  line, sig, has_raw, reason,
  CASE WHEN reason IS NOT NULL THEN CASE
    WHEN rx_reason IS NOT NULL
      THEN 'the receiver kept it as a reject: ' || coalesce(left(o.detail, 200), rx_reason)
    WHEN o IS NULL THEN CASE WHEN is_rec THEN 'the record''s body is not valid JSON'
                             ELSE 'the line is not valid JSON' END
    WHEN NOT is_obj THEN 'the line is JSON but not an object'
    WHEN is_rec AND b IS NULL THEN 'the record''s body is not valid JSON'
    WHEN is_rec AND NOT src_obj THEN 'the record''s body is JSON but not an object'
    WHEN ev IS NULL THEN 'no event name, type or known event fields'
    WHEN f_messageId IS NOT NULL AND mid IS NULL
      THEN {_q(_BAD_ID[0])} || left(f_messageId, 40) || {_q(_BAD_ID[1])}
    ELSE 'status ' || left(s_txt, 40) || ' is neither a code nor a name'
  END END AS detail,
  CASE
    WHEN phone_raw IS NULL THEN ev::VARCHAR || {_q(MISSING_PHONE)}
    WHEN ev = 'delivery-status' AND nullif(s_str, '') IS NULL AND s_type IS DISTINCT FROM 'DOUBLE'
      THEN ev::VARCHAR || {_q(MISSING_STATUS)}
  END AS missing,
  ev AS event,
  ts_fast, recv_fast,
  -- the texts SQL did not read, for Python (and for the message when none can)
  CASE WHEN ts_fast IS NULL THEN t_raw END AS t_raw,
  CASE WHEN recv_fast IS NULL THEN r_raw END AS r_raw,
  mid AS message_id,
  f_externalId AS external_id,
  phone_raw, phone_ok,
  sender AS sender_name,
  nullif(s_str, '') AS status_code,
  coalesce(k, nullif(s_str, '')) AS status,
  CASE WHEN k IS NOT NULL THEN {outcome}
       WHEN nullif(s_str, '') IS NOT NULL THEN {_enum("unknown", "outcome")}
       WHEN ev = 'message-send' THEN {_enum("pending", "outcome")} END AS outcome,
  CASE WHEN s_type = 'DOUBLE' THEN s_txt END AS s_slow,
  {_route_sql()} AS route,
  {explicit},
  CASE WHEN ev = 'message-reply' THEN {_first(events.REPLY_TEXT_FIELDS)} END AS reply_text,
  f_tags::VARCHAR AS tags,
  raw,
  hash(raw) AS dkey
FROM s3
"""
