"""subscribers: every source format, every row accounted for, upload to the sandbox."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mta_notebook
from mta_notebook import Client, SubscriberLoadError, sandbox
from mta_notebook.subscribers import REASONS, SubscriberList, load_subscribers
from tests.bounded import run_bounded

DATA = Path(__file__).resolve().parents[2] / "data" / "subscribers.csv"
KEY = "sk-sandbox-subscribers-4471"

ROWS = [
    {
        "First Name": "Ana",
        "Last Name": "Diaz",
        "Email": "ana@example.com",
        "Phone": "(312) 555-0123",
    },
    {"First Name": "Zoë", "Last Name": "Müller", "Email": "", "Phone": "+1 415 555 0134"},
    {"First Name": "Bo", "Last Name": "Kim", "Email": "bo@example.com", "Phone": "312.555.0123"},
    {"First Name": "Cy", "Last Name": "Lee", "Email": "cy@example.com", "Phone": "N/A"},
    {"First Name": "Di", "Last Name": "Ng", "Email": "di@example.com", "Phone": "123"},
    {"First Name": "Ed", "Last Name": "Oz", "Email": "ed@example.com", "Phone": "+44 20 7946 0958"},
]
EXPECTED_PHONES = ["+13125550123", "+14155550134", "+442079460958"]
EXPECTED_REJECTED = [(3, "duplicate"), (4, "missing-phone"), (5, "invalid-phone")]


def frame() -> pd.DataFrame:
    return pd.DataFrame(ROWS)


def write_csv(path: Path, sep: str = ",", encoding: str = "utf-8") -> Path:
    frame().to_csv(path, sep=sep, index=False, encoding=encoding)
    return path


def write_gz(path: Path, inner: Callable[[Path], Path]) -> Path:
    plain = inner(path.with_suffix(""))
    path.write_bytes(gzip.compress(plain.read_bytes()))
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "list.csv": write_csv,
    "bom.csv": lambda p: write_csv(p, encoding="utf-8-sig"),
    "utf16.csv": lambda p: write_csv(p, encoding="utf-16"),
    "latin1.csv": lambda p: write_csv(p, encoding="latin-1"),
    "semicolon.csv": lambda p: write_csv(p, sep=";"),
    "pipe.txt": lambda p: write_csv(p, sep="|"),
    "tabs.tsv": lambda p: write_csv(p, sep="\t"),
    "tabs.txt": lambda p: write_csv(p, sep="\t"),
    "list.xlsx": lambda p: (frame().to_excel(p, index=False), p)[1],
    "list.json": lambda p: (p.write_text(json.dumps(ROWS), encoding="utf-8"), p)[1],
    "wrapped.json": lambda p: (p.write_text(json.dumps({"data": {"rows": ROWS}})), p)[1],
    "list.jsonl": lambda p: (p.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n"), p)[1],
    "list.parquet": lambda p: (frame().to_parquet(p), p)[1],
    "list.csv.gz": lambda p: write_gz(p, write_csv),
    "list.jsonl.gz": lambda p: write_gz(p, WRITERS["list.jsonl"]),
    "list.xlsx.gz": lambda p: write_gz(p, WRITERS["list.xlsx"]),
    "list.parquet.gz": lambda p: write_gz(p, WRITERS["list.parquet"]),
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_file_variants(tmp_path: Path, name: str) -> None:
    path = WRITERS[name](tmp_path / name)
    subs = load_subscribers(path)
    assert subs.df["phone"].tolist() == EXPECTED_PHONES
    assert subs.df["first_name"].tolist() == ["Ana", "Zoë", "Ed"]
    assert subs.df["last_name"].tolist()[1] == "Müller"
    assert pd.isna(subs.df["email"].iloc[1])
    assert list(zip(subs.rejected["source_row"], subs.rejected["reason"], strict=True)) == (
        EXPECTED_REJECTED
    )
    assert "Phone" in subs.rejected.columns  # original columns kept
    assert subs.source == str(path)
    assert len(subs.df) + len(subs.rejected) == subs.rows_read == len(ROWS)


def test_dataframe_source_and_columns() -> None:
    subs = load_subscribers(frame())
    assert list(subs.df.columns) == [
        "phone",
        "email",
        "first_name",
        "last_name",
        "source_row",
        "region",
        "timezone",
        "timezones",
    ]
    assert subs.df["region"].tolist() == ["US", "US", "GB"]
    assert subs.df["timezone"].tolist() == [
        "America/Chicago",
        "America/Los_Angeles",
        "Europe/London",
    ]
    assert subs.df["source_row"].tolist() == [1, 2, 6]
    assert {"phone", "email", "first_name", "last_name", "source_row", "region", "timezone"} <= set(
        subs.df.columns
    )
    dup = subs.rejected.set_index("source_row").loc[3, "detail"]
    assert "source_row 1" in dup
    assert "+13125550123" in dup


@pytest.mark.parametrize(
    "header",
    [
        "phone",
        "Phone Number",
        "MOBILE",
        "Cell Phone",
        "e164Number",
        "msisdn",
        "number",
        "Mobile_Phone",
    ],
)
def test_phone_column_detected(header: str) -> None:
    subs = load_subscribers(pd.DataFrame({"Name": ["x"], header: ["312-555-0123"]}))
    assert subs.df["phone"].tolist() == ["+13125550123"]
    assert subs.columns["phone"] == header


def test_overrides_and_other_columns() -> None:
    source = pd.DataFrame(
        {
            "Home": ["312-555-0123"],
            "Work Phone": ["415-555-0134"],
            "Given": ["Ann"],
            "Signup Date": ["2025-01-02"],
            "Region": ["Midwest"],
            "Favorite Store": [""],
        }
    )
    subs = load_subscribers(source, phone_col="Home", first_name_col="given")
    row = subs.df.iloc[0]
    assert row["phone"] == "+13125550123"
    assert row["first_name"] == "Ann"
    assert row["work_phone"] == "415-555-0134"
    assert row["signup_date"] == "2025-01-02"
    assert row["region"] == "US"
    assert row["region_source"] == "Midwest"
    assert pd.isna(row["favorite_store"])
    with pytest.raises(SubscriberLoadError, match=r"no column 'Cell'.*Columns found: \['Home'"):
        load_subscribers(source, phone_col="Cell")


def test_repeated_column_names_and_column_order() -> None:
    source = pd.DataFrame(
        [["Ann", "312-555-0123", "415-555-0134", "7"]],
        columns=["first", "phone", "phone", "subscriber_id"],
    )
    subs = load_subscribers(source)
    assert list(subs.df.columns) == [
        "phone",
        "email",
        "first_name",
        "last_name",
        "subscriber_id",
        "source_row",
        "region",
        "timezone",
        "timezones",
        "phone_2",
    ]
    assert subs.df["phone"].tolist() == ["+13125550123"]
    assert subs.df["subscriber_id"].tolist() == [7]


def test_numbers_are_read_as_text(tmp_path: Path) -> None:
    source = pd.DataFrame({"phone": [3125550123, 14155550134], "zip": ["02134", "60601"]})
    source.to_parquet(tmp_path / "n.parquet")
    source.to_excel(tmp_path / "n.xlsx", index=False)
    floats = pd.DataFrame({"phone": [3125550123.0, float("nan")]})
    for subs in (
        load_subscribers(source),
        load_subscribers(tmp_path / "n.parquet"),
        load_subscribers(tmp_path / "n.xlsx"),
    ):
        assert subs.df["phone"].tolist() == ["+13125550123", "+14155550134"]
    assert load_subscribers(tmp_path / "n.parquet").df["zip"].tolist() == ["02134", "60601"]
    subs = load_subscribers(floats)
    assert subs.df["phone"].tolist() == ["+13125550123"]
    assert subs.rejected["reason"].tolist() == ["missing-phone"]


def test_csv_keeps_leading_plus_and_zeros(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("phone,zip\n+13125550123,02134\n3125550123.0,60601\n", encoding="utf-8")
    subs = load_subscribers(path)
    assert subs.df["phone"].tolist() == ["+13125550123"]
    assert subs.df["zip"].tolist() == ["02134"]
    assert subs.rejected["reason"].tolist() == ["duplicate"]  # "3125550123.0": a float's text


@pytest.mark.parametrize("value", ["1.31256E+10", "3.12555E+09", "1.3125550123E10"])
def test_excel_scientific_notation_rejected_with_detail(value: str) -> None:
    subs = load_subscribers(pd.DataFrame({"phone": [value]}))
    assert len(subs.df) == 0
    assert subs.rejected["reason"].tolist() == ["invalid-phone"]
    assert "Excel scientific notation" in subs.rejected["detail"].iloc[0]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "missing-phone"),
        ("   ", "missing-phone"),
        (None, "missing-phone"),
        ("N/A", "missing-phone"),
        ("none", "missing-phone"),
        ("-", "missing-phone"),
        ("000-000-0000", "invalid-phone"),
        ("555-0134", "invalid-phone"),
        ("call me", "invalid-phone"),
        ("+999 1234", "invalid-phone"),
    ],
)
def test_unusable_phones(value: str | None, reason: str) -> None:
    subs = load_subscribers(pd.DataFrame({"phone": [value], "name": ["x"]}))
    assert subs.rejected["reason"].tolist() == [reason]
    assert isinstance(subs.rejected["detail"].iloc[0], str)
    assert subs.rejected["name"].tolist() == ["x"]


def test_file_level_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(SubscriberLoadError, match=r"nope\.csv: no such file"):
        load_subscribers(missing)
    nophone = tmp_path / "names.csv"
    nophone.write_text("First Name,Email\nAnn,a@example.com\n", encoding="utf-8")
    with pytest.raises(
        SubscriberLoadError, match=r"names.csv: no phone column.*\['First Name', 'Email'\]"
    ):
        load_subscribers(nophone)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(SubscriberLoadError, match=r"empty\.csv"):
        load_subscribers(empty)
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\xff\xfe\x00" * 50 + b"\xd8\x00" * 10)
    with pytest.raises(SubscriberLoadError, match=r"blob\.csv"):
        load_subscribers(binary)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"phone": "312-555-0123"', encoding="utf-8")
    with pytest.raises(SubscriberLoadError, match=r"broken.json: not valid JSON"):
        load_subscribers(broken)
    badgz = tmp_path / "bad.csv.gz"
    badgz.write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(SubscriberLoadError, match=r"bad\.csv\.gz"):
        load_subscribers(badgz)
    with pytest.raises(SubscriberLoadError, match="source must be"):
        load_subscribers(42)


def test_ragged_csv_and_bad_jsonl_lines_are_rows(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("name,phone\nAnn,312-555-0123,extra\nBo\nCy,415-555-0134\n", encoding="utf-8")
    subs = load_subscribers(ragged)
    assert subs.rows_read == 3
    assert subs.df["phone"].tolist() == ["+14155550134"]
    assert subs.rejected["reason"].tolist() == ["invalid-phone", "missing-phone"]
    lines = tmp_path / "l.jsonl"
    lines.write_text('{"phone": "312-555-0123"}\nnot json\n\n{"phone": "415-555-0134"}\n')
    subs = load_subscribers(lines)
    assert subs.rows_read == 3
    assert subs.rejected["reason"].tolist() == ["missing-phone"]
    assert "line 2 is not JSON" in subs.rejected["detail"].iloc[0]


def test_suppress_variants(tmp_path: Path) -> None:
    source = frame()
    by_list = load_subscribers(source, suppress=["415.555.0134"])
    assert by_list.df["phone"].tolist() == ["+13125550123", "+442079460958"]
    out = by_list.rejected.set_index("source_row")
    assert out.loc[2, "reason"] == "opted-out"
    by_frame = load_subscribers(source, suppress=pd.DataFrame({"Mobile": ["+14155550134"]}))
    assert by_frame.df["phone"].tolist() == by_list.df["phone"].tolist()
    path = tmp_path / "dnc.csv"
    path.write_text("phone\n(415) 555-0134\n", encoding="utf-8")
    assert (
        load_subscribers(source, suppress=path).df["phone"].tolist() == by_list.df["phone"].tolist()
    )
    # opt-out wins over duplicate: both rows of a STOPped number are opted-out
    both = load_subscribers(source, suppress=["312-555-0123"])
    assert both.rejected.set_index("source_row").loc[[1, 3], "reason"].tolist() == ["opted-out"] * 2


def test_suppress_from_events() -> None:
    events = pd.DataFrame(
        {
            "event": ["message-reply", "message-reply", "message-reply", "delivery-status"],
            "phone": ["+13125550123", "+14155550134", "+14155550134", "+442079460958"],
            "text": ["Stop.", "STOP", "start", None],
            "occurred_at": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-01"]),
        }
    )

    class Log:
        df = events

    for suppress in (events, Log()):
        subs = load_subscribers(frame(), suppress=suppress)
        assert subs.df["phone"].tolist() == ["+14155550134", "+442079460958"]
        rejected = subs.rejected.set_index("source_row")
        assert rejected.loc[1, "reason"] == "opted-out"
        assert "Stop." in rejected.loc[1, "detail"]
        assert rejected.loc[3, "reason"] == "opted-out"


def test_suppress_from_webhook_log_file() -> None:
    log = Path(__file__).resolve().parents[2] / "data" / "webhooks_sample.jsonl"
    events = mta_notebook.read_webhook_log(log).df
    stops = events[(events["event"] == "message-reply") & events["text"].str.upper().eq("STOP")]
    assert len(stops)
    source = pd.DataFrame({"phone": stops["phone"].unique()})
    subs = load_subscribers(source, suppress=log)
    assert len(subs.df) == 0
    assert set(subs.rejected["reason"]) == {"opted-out"}


def test_sample_file_and_display() -> None:
    subs = load_subscribers(DATA)
    summary = subs.summary()["rows"].to_dict()
    assert summary == {
        "loaded": 183,
        "missing-phone": 6,
        "invalid-phone": 8,
        "duplicate": 8,
        "opted-out": 0,
    }
    assert len(subs) == 183
    assert subs.rows_read == 205
    assert subs.df["phone"].is_unique
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in subs.df["phone"])
    assert {"signup_date", "favorite_store"} <= set(subs.df.columns)
    html = subs._repr_html_()
    for text in ("Subscriber list", "183", "duplicate", "invalid-phone", "Sample"):
        assert text in html
    assert "183 of 205" in repr(subs)
    assert mta_notebook.load_subscribers is load_subscribers
    assert mta_notebook.SubscriberList is SubscriberList


# -- hypothesis: random rows -----------------------------------------------------------------

CELL = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(min_value=-(10**12), max_value=10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["312-555-0123", "(415) 555-0134", "+44 20 7946 0958", "N/A", "1.3E+10"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.fixed_dictionaries({"phone": CELL, "email": CELL, "misc": CELL}), max_size=25),
    st.lists(CELL, max_size=3),
)
def test_random_rows_account_for_everything(
    rows: list[dict[str, Any]], suppress: list[Any]
) -> None:
    source = pd.DataFrame(rows, columns=["phone", "email", "misc"])
    try:
        subs = load_subscribers(source, suppress=suppress)
    except SubscriberLoadError:
        return
    assert len(subs.df) + len(subs.rejected) == subs.rows_read == len(rows)
    assert set(subs.rejected["reason"]) <= set(REASONS)
    assert subs.rejected["detail"].notna().all()
    assert subs.df["phone"].is_unique
    assert sorted([*subs.df["source_row"], *subs.rejected["source_row"]]) == list(
        range(1, len(rows) + 1)
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=300), st.sampled_from(["x.csv", "x.json", "x.jsonl", "x.txt", "x.csv.gz"])
)
def test_random_files_raise_only_typed_errors(tmp_path: Path, data: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        subs = load_subscribers(path)
    except SubscriberLoadError as exc:
        message = str(exc)
    else:
        assert len(subs.df) + len(subs.rejected) == subs.rows_read
        return
    assert name in message


# -- integration: the sandbox over loopback --------------------------------------------------


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with sandbox.running(api_key=KEY, time_scale=50.0) as running:
        yield running


def valid_numbers(n: int) -> list[str]:
    out = []
    for area in ("312", "415", "646", "212"):
        for exchange in range(201, 1000):
            number = f"+1{area}{exchange:03d}0100"
            if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                out.append(number)
            if len(out) == n:
                return out
    raise AssertionError("not enough valid numbers")


def test_upload_in_batches_and_read_back(sb: Any) -> None:
    sb.reset()
    numbers = valid_numbers(1200)
    source = pd.DataFrame(
        {"Mobile": numbers, "First Name": [f"N{i}" for i in range(1200)], "Email": [""] * 1200}
    )
    source.loc[5, "Mobile"] = "not a number"
    subs = load_subscribers(source)
    assert len(subs) == 1199
    group = httpx.post(
        f"{sb.base_url}/groups",
        json={"name": "VIP"},
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()["data"]["id"]
    with Client(api_key=KEY, base_url=sb.base_url) as client:
        first = subs.to_mta(client, group_id=group, progress=False)
        assert first.requests == 2  # 1,000 + 199
        assert (len(first.created), len(first.updated), len(first.errors)) == (1199, 0, 0)
        assert first.created["source_row"].tolist()[:3] == [1, 2, 3]
        again = subs.to_mta(client, progress=False)
        assert (len(again.created), len(again.updated), len(again.errors)) == (0, 1199, 0)
        created_only = subs.to_mta(client, create_only=True, progress=False)
        assert len(created_only.errors) == 1199
        assert created_only.errors["source_row"].notna().all()
        assert "error" in created_only.errors.columns
        back = load_subscribers(client, progress=False)
    assert sorted(back.df["phone"]) == sorted(subs.df["phone"])
    assert back.df["subscriber_id"].notna().all()
    assert set(back.df["first_name"]) == set(subs.df["first_name"])


def test_async_client_is_refused_clearly(sb: Any) -> None:
    async_client = mta_notebook.AsyncClient(api_key=KEY, base_url=sb.base_url)
    try:
        with pytest.raises(SubscriberLoadError, match="AsyncClient"):
            load_subscribers(async_client, progress=False)
    finally:
        asyncio.run(async_client.aclose())


def test_sample_file_upload_has_no_errors(sb: Any) -> None:
    sb.reset()
    subs = load_subscribers(DATA)
    with Client(api_key=KEY, base_url=sb.base_url) as client:
        result = subs.upload(client)  # another name for to_mta, with its progress bar
    assert (len(result.created), len(result.errors)) == (183, 0)
    assert result.created["source_row"].notna().all()
    assert "<th>created</th><td>183</td>" in result._repr_html_()


@pytest.mark.parametrize(
    "text",
    [
        "phone,name\n312-555-0123,Ann\n\n415-555-0134,Bo\n",
        '\n\nPhone;Name;Name\r\n(312) 555-0123;"Ann; Jr";x\r\n ; ; \r\n415.555.0134;Bo;y\r\n',
        'phone,note\n3125550123,"two\nlines"\n4155550134,"say ""hi"""\n',
        "phone,,phone\n1,2,3\n4,5,6\n",
        "phone\tname\n3125550123\tZoë\n",
    ],
    ids=["blank-line", "crlf-quoted-delimiter-blank-row", "quoted-newline", "unnamed-dup", "tab"],
)
def test_arrow_csv_reader_gives_the_row_by_row_frame(text: str) -> None:
    from mta_notebook.subscribers import _read

    delimiter = _read._sniff_delimiter(text)
    fast = _read._read_delimited_arrow(text.encode(), text, delimiter)
    assert fast is not None
    slow = _read._read_rows(text, delimiter, "x.csv")
    assert list(fast.columns) == list(slow.columns)
    assert fast.astype(object).values.tolist() == slow.values.tolist()


def test_rows_with_too_many_fields_go_the_repairing_way() -> None:
    from mta_notebook.subscribers import _read

    text = "phone,note\n3125550123,a,b\n4155550134\n"
    assert _read._read_delimited_arrow(text.encode(), text, ",") is None
    frame = _read._read_delimited(text, "x.csv", ".csv")
    assert frame.values.tolist() == [["3125550123", "a,b"], ["4155550134", ""]]


# -- hostile files end fast with a typed error -------------------------------------------------


def test_max_bytes_caps_what_a_gzip_may_expand_to(tmp_path: Path) -> None:
    import gzip as gz

    path = tmp_path / "list.csv.gz"
    path.write_bytes(gz.compress(b"phone\n" + b"312-555-0123\n" * 100_000))
    assert len(load_subscribers(path)) == 1
    with pytest.raises(SubscriberLoadError, match=r"expands to more than 100,000 bytes"):
        load_subscribers(path, max_bytes=100_000)
    with pytest.raises(SubscriberLoadError, match="max_bytes"):
        load_subscribers(path, max_bytes=0)


def _nul_bomb(path: Path, gib: int = 1) -> Path:
    import zlib

    squeeze = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing
    block = b"\x00" * (1 << 24)
    with path.open("wb") as out:
        for _ in range(gib * 64):
            out.write(squeeze.compress(block))
        out.write(squeeze.flush())
    return path


@pytest.mark.parametrize("case", ["nul-bomb", "deep-json", "wide"])
def test_hostile_files_end_fast_in_bounded_memory(tmp_path: Path, case: str) -> None:
    if case == "nul-bomb":
        path = _nul_bomb(tmp_path / "list.csv.gz")  # 1 GiB of NUL bytes, about 1 MB on disk
    elif case == "deep-json":
        path = tmp_path / "deep.json"
        path.write_text("[" * 200_000 + "]" * 200_000)
    else:
        path = tmp_path / "wide.csv"
        header = ",".join(["phone", *(f"c{i}" for i in range(10_000))])
        rows = [",".join([f"312555{i:04d}", *["x"] * 10_000]) for i in range(50)]
        path.write_text("\n".join([header, *rows]) + "\n")
    out = run_bounded("load_subscribers", path)  # a fresh process: the load's own peak
    if case == "wide":
        assert out["error"] is None, out
    else:
        assert out["error"][0] == "SubscriberLoadError", out
        assert str(path) in out["error"][1]
    assert out["seconds"] < 30, out
    assert out["peak_mb"] < 1500, out


def test_gzip_members_truncation_and_nul_files(tmp_path: Path) -> None:
    import gzip as gz

    two = tmp_path / "two.csv.gz"
    two.write_bytes(gz.compress(b"phone\n312-555-0123\n") + gz.compress(b"415-555-0134\n"))
    assert len(load_subscribers(two)) == 2
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gz.compress(b"phone\n" + b"312-555-0123\n" * 1000)[:-40])
    with pytest.raises(SubscriberLoadError, match="not a valid gzip"):
        load_subscribers(cut)
    nul = tmp_path / "nul.csv.gz"
    nul.write_bytes(gz.compress(b"\x00" * (32 * 1024**2), compresslevel=1))
    with pytest.raises(SubscriberLoadError, match="binary data"):
        load_subscribers(nul)


def test_json_nested_200000_deep_is_a_typed_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(SubscriberLoadError, match="nested too deeply"):
        load_subscribers(deep)
    lines = tmp_path / "deep.jsonl"
    lines.write_text('{"phone": "312-555-0123"}\n' + "[" * 200_000 + "]" * 200_000 + "\n")
    subs = load_subscribers(lines)
    assert len(subs) == 1
    assert "nested too deeply" in subs.rejected["detail"].iloc[0]


def test_latin1_csv_goes_the_decoding_way(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("phone,first_name\n312-555-0123,Zoë\n".encode("cp1252"))
    subs = load_subscribers(path)
    assert subs.df["first_name"].tolist() == ["Zoë"]


def test_summary_shows_shares_as_the_card_does_and_keeps_the_fractions() -> None:
    # issue 15: subs.summary() showed 0.892683 where the list's card showed 89.3 %
    subs = load_subscribers(DATA)
    summary = subs.summary()
    assert summary.loc["loaded", "share"] == 183 / 205  # code still reads a fraction
    assert summary["share"].dtype.kind == "f"
    shown = summary._repr_html_()
    assert shown is not None
    assert "89.3 %" in shown
    assert "0.892683" not in shown
    assert "89.3 %" in repr(summary)
    assert "0.89" not in repr(summary)
    card = subs._repr_html_()
    assert "89.3 %" in card  # one formatter for both
    assert type(summary[["rows"]]) is pd.DataFrame  # results are plain frames
