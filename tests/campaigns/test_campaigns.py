"""Campaigns: message checks, planning, the send engine, and a real send to the sandbox."""

from __future__ import annotations

import os
import signal
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mta_notebook import (
    APIConnectionError,
    BadRequestError,
    CampaignError,
    Client,
    RateLimitError,
    SendOutcomeUnknown,
    ServerError,
)
from mta_notebook.campaigns import (
    SENDS_COLUMNS,
    CampaignPlan,
    Journal,
    check_message,
    next_in_window,
    plan_campaign,
    resume_campaign,
    utcnow,
)
from mta_notebook.campaigns._engine import _request
from mta_notebook.campaigns._results import ALREADY_SENT
from mta_notebook.contract.assumptions import DELIVERIES_DATE_MARGIN_DAYS
from mta_notebook.contract.dates import format_scheduled_date
from mta_notebook.contract.limits import MMS_CREDITS, MMS_MAX_CHARS, SMS_MAX_CHARS

ROOT = Path(__file__).resolve().parents[2]

# -- message checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 2),
        ("ж" * 70, "UCS-2", 1),
        ("ж" * 71, "UCS-2", 2),
        ("ж" * 134, "UCS-2", 2),
        ("ж" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segments(text: str, encoding: str, segments: int) -> None:
    chk = check_message(text, sms_over_160="segments")
    assert (chk.encoding, chk.segments, chk.credits) == (encoding, segments, segments)
    assert not chk.too_long


def test_check_names_the_ucs2_characters_and_mms_credits() -> None:
    chk = check_message("Don’t miss it — 20% off ✨")
    assert chk.encoding == "UCS-2"
    assert chk.ucs2_chars == ("’", "—", "✨")
    assert check_message("x" * 500, mms=True).credits == MMS_CREDITS
    assert check_message("x" * (MMS_MAX_CHARS + 1), mms=True).too_long
    assert not check_message("x" * MMS_MAX_CHARS, mms=True).too_long
    assert check_message("x" * (MMS_MAX_CHARS + 1), sms_over_160="segments").too_long
    assert not check_message("x" * MMS_MAX_CHARS, sms_over_160="segments").too_long


def test_sms_over_160_reject_is_the_documented_default() -> None:
    # MTA's developer docs: an SMS is 160 characters and 1 credit; longer ones get a 400
    assert not check_message("x" * SMS_MAX_CHARS).too_long
    assert check_message("x" * (SMS_MAX_CHARS + 1)).too_long
    # 71 UCS-2 characters are two carrier segments, but one SMS of under 160 characters
    chk = check_message("ж" * 71)
    assert (chk.segments, chk.credits, chk.too_long) == (2, 1, False)
    with pytest.raises(CampaignError, match="sms_over_160"):
        check_message("hi", sms_over_160="split")  # type: ignore[arg-type]


# -- planning --------------------------------------------------------------------------------


def _people(n: int = 5) -> pd.DataFrame:
    names = ["Ann", "Bob", "Zoë", "Li", "Maria"]
    return pd.DataFrame(
        {
            "phone": [f"+1312555{i:04d}" for i in range(n)],
            "first_name": [names[i % len(names)] for i in range(n)],
        }
    )


def test_identity_is_required(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="Sender Identity is required"):
        plan_campaign(_people(), "Hi", journal=tmp_path / "j.sqlite")


def test_plan_chunks_credits_and_external_ids(tmp_path: Path) -> None:
    plan = plan_campaign(
        _people(5),
        "Hi {{first_name}}!",
        sender_name="Acme",
        longcode_id=101,
        chunk_size=2,
        campaign_id="spring",
        journal=tmp_path / "j.sqlite",
    )
    s = plan.summary
    assert (s["recipients"], s["chunks"], s["credits"], s["skipped"]) == (5, 3, 5, 0)
    assert s["ucs2_recipients"] == 1  # Zoë
    assert any("UCS-2" in w and "ë" in w for w in s["warnings"])
    chunks = plan.journal.chunks("spring")
    assert chunks["external_id"].tolist() == ["spring-00001", "spring-00002", "spring-00003"]
    assert chunks["recipients"].tolist() == [2, 2, 1]
    assert (chunks["state"] == "planned").all()
    prev = plan.preview(3)
    assert prev["text"].tolist() == ["Hi Ann!", "Hi Bob!", "Hi Zoë!"]
    assert prev["encoding"].tolist() == ["GSM-7", "GSM-7", "UCS-2"]
    assert prev["ucs2_chars"].tolist() == ["", "", "ë"]
    html = plan._repr_html_()
    assert "spring" in html
    assert "Hi Ann!" in html
    man = plan.journal.manifest("spring")
    assert man["sender_name"] == "Acme"
    assert man["longcode_id"] == 101
    assert man["recipients"] == 5
    assert man["credits"] == 5
    assert man["input_hash"]
    assert "@" in man["created_by"]


def test_missing_values_invalid_and_duplicate_phones_are_skipped(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "phone": ["+13125550001", "+13125550002", "3125550003", None, "+13125550001"],
            "first_name": ["Ann", "  ", "Cy", "Di", "Ann"],
        }
    )
    plan = plan_campaign(df, "Hi {{first_name}}", sender_name="Acme", journal=tmp_path / "j")
    assert plan.skipped["skip_reason"].tolist() == [
        "missing-value",
        "invalid-phone",
        "missing-phone",
        "duplicate",
    ]
    assert "{{first_name}}" in plan.skipped["detail"].iloc[0]
    sends = plan.journal.sends(plan.campaign_id)
    assert sends["state"].tolist() == ["planned"] + ["skipped"] * 4
    assert sends["error"].iloc[1].startswith("missing-value")
    assert any("missing-value" in w for w in plan.warnings)
    # with a default, nobody is skipped for a missing value, and no placeholder stays unfilled
    plan2 = plan_campaign(
        df.head(2),
        "Hi {{first_name}}",
        sender_name="Acme",
        journal=tmp_path / "j",
        defaults={"first_name": "there"},
    )
    assert plan2.preview(2)["text"].tolist() == ["Hi Ann", "Hi there"]


def test_placeholder_without_column_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match=r"\{\{city\}\}.*no such column"):
        plan_campaign(_people(), "Hi {{city}}", sender_name="Acme", journal=tmp_path / "j")


def test_camel_case_placeholder_uses_snake_case_column(tmp_path: Path) -> None:
    plan = plan_campaign(_people(1), "Hi {{firstName}}", sender_name="Acme", journal=tmp_path / "j")
    assert plan.preview(1)["text"].iloc[0] == "Hi Ann"
    journal = plan.journal
    req = _request(journal, journal.read_manifest(plan.campaign_id), 1)
    assert req["properties"] == {"+13125550000": {"firstName": "Ann"}}


def test_length_limit(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="1550"):
        plan_campaign(_people(), "x" * 1551, sender_name="Acme", journal=tmp_path / "j")
    df = pd.DataFrame({"phone": ["+13125550001", "+13125550002"], "note": ["ok", "y" * 1500]})
    plan = plan_campaign(df, "x" * 60 + "{{note}}", longcode_id=101, journal=tmp_path / "j")
    assert plan.skipped["skip_reason"].tolist() == ["too-long"]
    assert "1560 characters" in plan.skipped["detail"].iloc[0]


def _long_texts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone": ["+13125550001", "+13125550002", "+13125550003"],
            "note": ["short", "y" * 150, "z" * 300],
        }
    )


def test_long_sms_are_skipped_under_reject_with_the_reason_and_the_fix(tmp_path: Path) -> None:
    plan = plan_campaign(_long_texts(), "Hi {{note}}", sender_name="Acme", journal=tmp_path / "j")
    assert plan.sms_over_160 == "reject"
    # "Hi " + 150 = 153 characters fits one SMS; "Hi " + 300 does not
    assert plan.skipped["phone"].tolist() == ["+13125550003"]
    assert plan.skipped["skip_reason"].tolist() == ["too-long"]
    assert "303 characters" in plan.skipped["detail"].iloc[0]
    assert plan.summary["credits"] == 2
    (warning,) = [w for w in plan.warnings if "too-long" in w]
    assert warning.startswith("1 recipient skipped")
    for words in (
        "developer docs",
        "400",
        "Character Limit Exceeded",
        "Shorten",
        "image=",
        "sms_over_160='segments'",
    ):
        assert words in warning
    sends = plan.journal.sends(plan.campaign_id)
    assert sends.set_index("phone").loc["+13125550003", "state"] == "skipped"
    assert plan.journal.manifest(plan.campaign_id)["extra"]["sms_over_160"] == "reject"


def test_long_sms_are_billed_per_segment_under_segments(tmp_path: Path) -> None:
    plan = plan_campaign(
        _long_texts(),
        "Hi {{note}}",
        sender_name="Acme",
        journal=tmp_path / "j",
        sms_over_160="segments",
    )
    assert plan.skipped.empty
    assert plan.recipients["segments"].tolist() == [1, 1, 2]  # 303 GSM-7 characters: 2 x 153
    assert plan.summary["credits"] == 4
    (warning,) = [w for w in plan.warnings if "segment" in w]
    assert "help center" in warning
    assert "sms_over_160='segments'" in warning
    assert "400" in warning
    assert plan.preview(3)["credits"].tolist() == [1, 1, 2]
    # the ledger keeps each recipient's segments and credits as planned (cost_report bills them)
    sends = plan.journal.sends(plan.campaign_id)
    assert sends["segments"].tolist() == [1, 1, 2]
    assert sends["credits"].tolist() == [1, 1, 2]
    # the journaled campaign keeps its choice: planning it again the other way is refused
    with pytest.raises(CampaignError, match="sms_over_160='segments'"):
        plan_campaign(
            _long_texts(),
            "Hi {{note}}",
            sender_name="Acme",
            campaign_id=plan.campaign_id,
            journal=tmp_path / "j",
        )


def test_long_text_goes_as_mms(tmp_path: Path) -> None:
    plan = plan_campaign(
        _long_texts(),
        "Hi {{note}}",
        sender_name="Acme",
        image="https://example.com/a.png",
        journal=tmp_path / "j",
    )
    assert plan.skipped.empty
    assert plan.summary["credits"] == 3 * MMS_CREDITS
    assert not any("too-long" in w or "segment" in w for w in plan.warnings)


def test_mms_credits(tmp_path: Path) -> None:
    plan = plan_campaign(
        _people(4),
        "Sale!",
        sender_name="Acme",
        image="https://example.com/a.png",
        journal=tmp_path / "j",
    )
    assert plan.summary["credits"] == 12
    assert plan.journal.sends(plan.campaign_id)["credits"].tolist() == [MMS_CREDITS] * 4


def test_send_needs_confirm(tmp_path: Path) -> None:
    plan = plan_campaign(_people(), "Hi", sender_name="Acme", journal=tmp_path / "j")
    with pytest.raises(CampaignError, match=r"confirm=True"):
        plan.send(object())
    assert (plan.journal.chunks(plan.campaign_id)["state"] == "planned").all()


def test_replanning_reuses_and_conflicts_are_refused(tmp_path: Path) -> None:
    a = plan_campaign(_people(), "Hi {{first_name}}", sender_name="Acme", journal=tmp_path / "j")
    b = plan_campaign(_people(), "Hi {{first_name}}", sender_name="Acme", journal=tmp_path / "j")
    assert a.campaign_id == b.campaign_id
    assert b.reused
    assert not a.reused
    c = plan_campaign(_people(), "Hello {{first_name}}", sender_name="Acme", journal=tmp_path / "j")
    assert c.campaign_id != a.campaign_id
    with pytest.raises(CampaignError, match="different message"):
        plan_campaign(
            _people(),
            "Yo",
            sender_name="Acme",
            campaign_id=a.campaign_id,
            journal=tmp_path / "j",
        )


def test_subscriber_list_like_object_is_accepted(tmp_path: Path) -> None:
    @dataclass
    class Subs:
        df: pd.DataFrame

    plan = plan_campaign(Subs(_people(3)), "Hi", sender_name="Acme", journal=tmp_path / "j")
    assert plan.summary["recipients"] == 3
    with pytest.raises(CampaignError, match="'phone' column"):
        plan_campaign(pd.DataFrame({"x": [1]}), "Hi", sender_name="Acme", journal=tmp_path / "j")


# -- send windows ----------------------------------------------------------------------------


def test_next_in_window() -> None:
    w = (dtime(9), dtime(20))
    noon_utc = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)
    assert next_in_window(noon_utc, "Europe/Paris", window=w) is None  # 13:00 local
    chicago = next_in_window(noon_utc, "America/Chicago", window=w)  # 06:00 local
    assert chicago == datetime(2025, 3, 6, 15, 0, tzinfo=timezone.utc)
    tokyo = next_in_window(noon_utc, "Asia/Tokyo", window=w)  # 21:00 local -> tomorrow 09:00
    assert tokyo == datetime(2025, 3, 7, 0, 0, tzinfo=timezone.utc)
    assert format_scheduled_date(tokyo) == "20250307T000000-0000"


def test_send_window_groups_by_time_zone(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "phone": ["+13125550001", "+12125550002", "+14155550003", "+13125550004"],
            "first_name": ["A", "B", "C", "D"],
        }
    )
    plan = plan_campaign(
        df,
        "Hi {{first_name}}",
        sender_name="Acme",
        send_window=("09:00", "20:00"),
        chunk_size=10,
        journal=tmp_path / "j",
    )
    chunks = plan.journal.chunks(plan.campaign_id)
    # Chicago (312, twice), New York (212), Los Angeles (415): one chunk per zone
    assert sorted(chunks["timezone"]) == [
        "America/Chicago",
        "America/Los_Angeles",
        "America/New_York",
    ]
    chi = chunks[chunks["timezone"] == "America/Chicago"]
    assert chi["recipients"].tolist() == [2]
    journal = plan.journal
    man = journal.read_manifest(plan.campaign_id)
    assert man.send_window == ("09:00", "20:00")
    for ch in chunks["chunk"]:
        req = _request(journal, man, int(ch))
        tz = chunks.set_index("chunk").loc[ch, "timezone"]
        expected = next_in_window(datetime.now(timezone.utc), str(tz), window=(dtime(9), dtime(20)))
        if expected is None:
            assert req["scheduled_date"] is None
        else:
            assert req["scheduled_date"] == format_scheduled_date(expected)
            assert req["scheduled_date"].endswith("-0000")


def test_bad_window_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="HH:MM"):
        plan_campaign(
            _people(), "Hi", sender_name="A", send_window=("9am", "8pm"), journal=tmp_path / "j"
        )


# -- the send engine with a scripted client (no HTTP) ----------------------------------------


@dataclass
class _Res:
    message_id: int


@dataclass
class _Delivery:
    message_id: int
    external_id: str
    number: str
    date: str


class ScriptedClient:
    """Answers /send from a script; lists deliveries as MTA would (no externalId filter)."""

    def __init__(self, script: list[str] | None = None, deliveries_fail: bool = False) -> None:
        self.script = list(script or [])
        self.calls: list[dict[str, Any]] = []
        self.delivered: list[_Delivery] = []
        self.deliveries_fail = deliveries_fail
        self.listing_queries: list[dict[str, Any]] = []
        self.hidden = False  # the listing lags: nothing is listed yet
        self.on_send: Any = None

    def send(self, **req: Any) -> _Res:
        self.calls.append(req)
        action = self.script.pop(0) if self.script else "ok"
        mid = len(self.calls)
        if self.on_send is not None:
            self.on_send(len(self.calls))
        if action == "not_sent":
            raise APIConnectionError("POST /send could not be sent (LocalProtocolError)")
        if action in ("ok", "unknown_after"):
            at = utcnow().isoformat()
            for p in req["subscribers"]:
                self.delivered.append(_Delivery(mid, req["external_id"], p, at))
        if action == "unknown_after":
            raise SendOutcomeUnknown("dropped", external_id=req["external_id"])
        if action == "unknown_before":
            raise SendOutcomeUnknown("500", external_id=req["external_id"])
        if action == "bad":
            raise BadRequestError("bad", status_code=400)
        if action == "5xx":
            raise ServerError("boom", status_code=500)
        if action == "429":  # what the client raises once its own retries are spent
            raise RateLimitError("429 Too Many Requests", status_code=429, retry_after=15)
        return _Res(mid)

    def iter_deliveries(
        self,
        *,
        start: Any = None,
        end: Any = None,
        status: str | None = None,
        type: str | None = None,
        query: str | None = None,
        sort_direction: str = "DESC",
        page_size: int = 1000,
    ) -> Any:
        self.listing_queries.append({"start": start, "end": end, "sort": sort_direction})
        if self.deliveries_fail:
            raise ServerError("deliveries down", status_code=503)
        if self.hidden:
            return iter([])
        lo, hi = start.date().isoformat(), end.date().isoformat()
        return iter([d for d in self.delivered if lo <= d.date[:10] <= hi])


def _plan(tmp_path: Path, n: int = 6, chunk_size: int = 2) -> CampaignPlan:
    return plan_campaign(
        _people(n),
        "Hi {{first_name}}",
        sender_name="Acme",
        chunk_size=chunk_size,
        campaign_id="c",
        tags={"team": "growth"},
        journal=tmp_path / "j.sqlite",
        send_window=False,  # these tests are about sending: no quiet hours, whatever the hour
    )


def _receipts(client: ScriptedClient) -> Counter[str]:
    return Counter(d.number for d in client.delivered)


#: The scripted client and the journal share this machine's clock: no skew to allow for.
SAME_CLOCK = 0.0


def test_send_requests_carry_identity_ids_tags_properties(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient()
    result = plan.send(client, confirm=True, progress=False, max_in_flight=1)
    assert [c["external_id"] for c in client.calls] == ["c-00001", "c-00002", "c-00003"]
    first = client.calls[0]
    assert first["sender_name"] == "Acme"
    assert first["message"] == "Hi {{first_name}}"
    assert first["subscribers"] == ["+13125550000", "+13125550001"]
    assert first["properties"] == {
        "+13125550000": {"first_name": "Ann"},
        "+13125550001": {"first_name": "Bob"},
    }
    assert first["tags"] == {"team": "growth", "campaign_id": "c", "chunk": "1"}
    assert "scheduled_date" not in first
    assert result.counts == {"sent": 6}
    assert tuple(result.sends.columns) == SENDS_COLUMNS
    assert result.sends["message_id"].tolist() == [1, 1, 2, 2, 3, 3]
    assert result.complete
    assert result.note == ""
    assert client.listing_queries == []  # nothing unknown: nothing to look up
    assert "Sent" in result._repr_html_()
    # sending again sends nothing
    again = plan.send(client, confirm=True, progress=False)
    assert len(client.calls) == 3
    assert again.counts == {"sent": 6}


def test_unknown_outcomes_are_reconciled_not_resent_blindly(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    # chunk 1 took effect but the answer was lost; chunk 2 never took effect
    client = ScriptedClient(["unknown_after", "unknown_before", "ok"])
    result = plan.send(
        client, confirm=True, progress=False, max_in_flight=1, clock_margin_s=SAME_CLOCK
    )
    assert _receipts(client) == dict.fromkeys(_people(6)["phone"], 1)
    assert [c["external_id"] for c in client.calls] == ["c-00001", "c-00002", "c-00003", "c-00002"]
    assert result.counts == {"sent": 6}
    moves = plan.journal.moves("c")
    details = " ".join(moves["detail"].dropna())
    assert "lists 2 messages with externalId c-00001" in details
    assert "externalId c-00002 is not in GET /deliveries" in details
    # one listing per reconciliation, paged oldest first over the chunks' dates +- a day
    query = client.listing_queries[0]
    assert query["sort"] == "ASC"
    now = utcnow()
    day, hour = pd.Timedelta(days=DELIVERIES_DATE_MARGIN_DAYS), pd.Timedelta(hours=1)
    assert day - hour < now - query["start"] < day + hour
    assert day - hour < query["end"] - now < day + hour


def test_not_listed_means_not_sent_only_once_the_listing_caught_up(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["unknown_before"])
    # the later chunks are listed, but not yet more than the default margin after chunk 1
    result = plan.send(client, confirm=True, progress=False, max_in_flight=1)
    assert result.counts == {"sent": 4, "unknown": 2}
    assert len(client.calls) == 3  # nothing is re-sent on a timer
    (error,) = result.unknown_chunks["error"].tolist()
    assert "not in GET /deliveries yet" in error
    assert "120s" in error
    # a lagging listing shows nothing at all: still no evidence
    client.hidden = True
    result = resume_campaign("c", client, journal=plan.journal, progress=False, clock_margin_s=0)
    assert result.counts == {"sent": 4, "unknown": 2}
    assert len(client.calls) == 3
    # caught up: the listing shows messages sent after chunk 1, and not chunk 1
    client.hidden = False
    result = resume_campaign("c", client, journal=plan.journal, progress=False, clock_margin_s=0)
    assert result.counts == {"sent": 6}
    assert result.complete
    assert _receipts(client) == dict.fromkeys(_people(6)["phone"], 1)


def test_unknown_stays_unknown_when_deliveries_cannot_tell(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["5xx"], deliveries_fail=True)
    result = plan.send(
        client, confirm=True, progress=False, max_in_flight=1, clock_margin_s=SAME_CLOCK
    )
    assert result.counts == {"sent": 4, "unknown": 2}
    assert result.unknown_chunks["chunk"].tolist() == [1]
    assert "cannot check GET /deliveries" in result.unknown_chunks["error"].iloc[0]
    path = str(plan.journal.path)
    for policy in ("resend", "skip"):
        call = f"mta.resume_campaign('c', client, journal={path!r}, unknown=\"{policy}\")"
        assert call in result.note
    assert "2 recipients" in result.note
    assert "unknown outcome" in result._repr_html_()
    assert len(client.calls) == 3  # never re-sent without evidence
    # later, deliveries work again and show nothing after later sends: sent once more, once
    client.deliveries_fail = False
    result = resume_campaign(
        "c", client, journal=plan.journal, progress=False, clock_margin_s=SAME_CLOCK
    )
    assert result.counts == {"sent": 6}
    assert _receipts(client) == dict.fromkeys(_people(6)["phone"], 1)


def test_webhook_log_events_settle_a_chunk_as_sent(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["unknown_after"], deliveries_fail=True)
    result = plan.send(client, confirm=True, progress=False, max_in_flight=1)
    assert result.counts == {"sent": 4, "unknown": 2}
    # the receiver logged MTA's message-send events for chunk 1 (Events columns)
    events = pd.DataFrame(
        {
            "event": ["number-opt-in", "message-send", "message-send"],
            "external_id": pd.array([None, "c-00001", "c-00001"], dtype="string"),
            "message_id": pd.array([None, 1, 1], dtype="Int64"),
            "phone": ["+13125550009", "+13125550000", "+13125550001"],
        }
    )

    @dataclass
    class Log:  # an EventLog: its .df is the Events table
        df: pd.DataFrame

    result = resume_campaign("c", client, journal=plan.journal, progress=False, events=Log(events))
    assert result.counts == {"sent": 6}
    assert result.sends["message_id"].tolist() == [1, 1, 2, 2, 3, 3]
    assert "webhook log has events with externalId c-00001" in " ".join(
        plan.journal.moves("c")["detail"].dropna()
    )
    assert len(client.calls) == 3
    assert len(client.listing_queries) == 1  # the first run's; the resume needed no listing
    with pytest.raises(CampaignError, match="Events columns"):
        resume_campaign("c", client, journal=plan.journal, progress=False, events=[1, 2])


def test_an_event_of_another_chunk_or_an_opt_in_is_no_evidence(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["unknown_before"], deliveries_fail=True)
    plan.send(client, confirm=True, progress=False, max_in_flight=1)
    events = pd.DataFrame(
        {
            "event": ["message-send", "number-opt-in"],
            "external_id": ["c-00002", "c-00001"],
            "message_id": pd.array([2, None], dtype="Int64"),
        }
    )
    result = resume_campaign("c", client, journal=plan.journal, progress=False, events=events)
    assert result.unknown_chunks["chunk"].tolist() == [1]


def test_unknown_skip_records_the_recipients_as_skipped(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["unknown_after"], deliveries_fail=True)
    plan.send(client, confirm=True, progress=False, max_in_flight=1)
    result = resume_campaign("c", client, journal=plan.journal, progress=False, unknown="skip")
    assert result.counts == {"sent": 4, "skipped": 2}
    assert result.complete
    assert result.unknown_chunks.empty
    skipped = result.sends[result.sends["state"] == "skipped"]
    assert skipped["phone"].tolist() == ["+13125550000", "+13125550001"]
    assert skipped["error"].str.contains("unknown='skip'").all()
    assert "recorded as skipped" in result.note
    assert plan.journal.chunk("c", 1)["state"] == "skipped"
    assert len(client.calls) == 3
    # a skipped chunk stays skipped: nothing sends it later
    again = resume_campaign("c", client, journal=plan.journal, progress=False, unknown="resend")
    assert again.counts == {"sent": 4, "skipped": 2}
    assert len(client.calls) == 3


def test_unknown_resend_sends_again_but_only_without_evidence(tmp_path: Path) -> None:
    plan = _plan(tmp_path, n=8)
    # chunk 1 did arrive (the webhook log says so), chunk 2 did not; the listing is down
    client = ScriptedClient(["unknown_after", "unknown_before"], deliveries_fail=True)
    plan.send(client, confirm=True, progress=False, max_in_flight=1)
    events = pd.DataFrame({"event": ["message-send"], "external_id": ["c-00001"]})
    result = resume_campaign(
        "c", client, journal=plan.journal, progress=False, events=events, unknown="resend"
    )
    assert result.counts == {"sent": 8}
    assert [c["external_id"] for c in client.calls] == [
        "c-00001",
        "c-00002",
        "c-00003",
        "c-00004",
        "c-00002",
    ]
    assert _receipts(client) == dict.fromkeys(_people(8)["phone"], 1)
    assert "sent again, as asked" in result.note
    with pytest.raises(CampaignError, match="'keep', 'resend' or 'skip'"):
        resume_campaign("c", client, journal=plan.journal, unknown="retry")  # type: ignore[arg-type]


def test_unknown_policy_spares_chunks_that_turn_unknown_in_the_same_run(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["unknown_before", "not_sent"], deliveries_fail=True)
    with pytest.raises(APIConnectionError):
        plan.send(client, confirm=True, progress=False, max_in_flight=1)
    # chunk 1 is unknown; chunk 2 is still planned and turns unknown in the resuming run
    client.script = ["unknown_before"]
    result = resume_campaign(
        "c", client, journal=plan.journal, progress=False, unknown="skip", max_in_flight=1
    )
    assert plan.journal.chunks("c")["state"].tolist() == ["skipped", "unknown", "sent"]
    assert result.unknown_chunks["chunk"].tolist() == [2]


def test_overlapping_chunks_send_each_once_and_stop_cleanly(tmp_path: Path) -> None:
    plan = _plan(tmp_path, n=40, chunk_size=2)
    client = ScriptedClient(["ok", "unknown_after", "ok", "unknown_before"] * 3)
    client.on_send = lambda k: os.kill(os.getpid(), signal.SIGINT) if k == 12 else None
    result = plan.send(
        client, confirm=True, progress=False, max_in_flight=3, clock_margin_s=SAME_CLOCK
    )
    assert result.interrupted
    assert 12 <= len(client.calls) <= 16  # only the chunks already in flight finish
    # what the listing shows was settled before stopping: the ones that arrived are sent
    sent_ids = set(plan.journal.chunks("c").query("state == 'sent'")["external_id"])
    assert {c["external_id"] for c in client.calls[1:12:4]} <= sent_ids
    client.on_send = None
    result = resume_campaign(
        "c", client, journal=plan.journal, progress=False, max_in_flight=3, clock_margin_s=0
    )
    assert result.counts == {"sent": 40}
    assert _receipts(client) == dict.fromkeys(_people(40)["phone"], 1)


def test_a_request_that_never_left_goes_back_to_planned(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["ok", "not_sent"])
    with pytest.raises(APIConnectionError, match="could not be sent"):
        plan.send(client, confirm=True, progress=False, max_in_flight=1)
    chunks = plan.journal.chunks("c")
    assert chunks["state"].tolist() == ["sent", "planned", "planned"]
    assert "could not be sent" in chunks["error"].iloc[1]
    result = resume_campaign("c", client, journal=plan.journal, progress=False)
    assert result.counts == {"sent": 6}
    assert _receipts(client) == dict.fromkeys(_people(6)["phone"], 1)


def test_a_rate_limited_chunk_is_not_sent_again_in_the_same_run(tmp_path: Path) -> None:
    # One retry policy, the client's: the engine sends each chunk once per run, and a 429
    # (raised once the client's retries are spent) leaves it planned for the next run.
    plan = _plan(tmp_path)
    client = ScriptedClient(["ok", "429", "ok"])
    result = plan.send(client, confirm=True, progress=False, max_in_flight=1)
    assert [c["external_id"] for c in client.calls] == ["c-00001", "c-00002", "c-00003"]
    assert plan.journal.chunks("c")["state"].tolist() == ["sent", "planned", "sent"]
    assert "rate limited" in plan.journal.chunk("c", 2)["error"]
    assert not result.complete
    assert "1 chunk (2 recipients) is still planned" in result.note
    assert "mta.resume_campaign('c', client" in result.note
    again = resume_campaign("c", client, journal=plan.journal, progress=False)
    assert [c["external_id"] for c in client.calls][3:] == ["c-00002"]
    assert again.counts == {"sent": 6}


def test_bad_request_fails_the_chunk_and_goes_on(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient(["ok", "bad"])
    result = plan.send(client, confirm=True, progress=False, max_in_flight=1)
    assert result.counts == {"sent": 4, "failed": 2}
    assert result.sends.loc[result.sends["state"] == "failed", "error"].str.contains("400").all()


def test_stop_button_ends_after_the_chunk_in_flight(tmp_path: Path, capsys: Any) -> None:
    plan = _plan(tmp_path, n=10)
    client = ScriptedClient()
    handler_before = signal.getsignal(signal.SIGINT)  # not always Python's: Spark installs its own
    # Jupyter's stop button is a SIGINT while the request for chunk 2 is in flight
    client.on_send = lambda k: os.kill(os.getpid(), signal.SIGINT) if k == 2 else None
    result = plan.send(client, confirm=True, progress=False, max_in_flight=1)
    assert result.interrupted
    assert len(client.calls) == 2
    assert result.counts == {"sent": 4, "planned": 6}
    err = capsys.readouterr().err
    assert "resume_campaign('c'" in err
    assert signal.getsignal(signal.SIGINT) is handler_before
    result = resume_campaign("c", client, journal=plan.journal, progress=False)
    assert result.counts == {"sent": 10}
    assert _receipts(client) == dict.fromkeys(_people(10)["phone"], 1)


def test_resume_unknown_campaign_names_the_journal(tmp_path: Path) -> None:
    from mta_notebook import JournalError

    with pytest.raises(JournalError, match="No campaign 'zz'"):
        resume_campaign("zz", ScriptedClient(), journal=tmp_path / "j.sqlite")


# -- against the sandbox ---------------------------------------------------------------------


def test_campaign_to_the_sandbox_is_received_exactly_once(
    tmp_path: Path, start_sandbox: Any
) -> None:
    n = 3000
    names = ["Ann", "Bob", "Zoë", "Li", "Maria", "José"]
    df = pd.DataFrame(
        {
            "phone": [f"+1{312 + i % 7}555{i:04d}" for i in range(n)],
            "first_name": [names[i % len(names)] for i in range(n)],
        }
    )
    sb = start_sandbox(seed=3, time_scale=50)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plan = plan_campaign(
            df,
            "Hi {{first_name}}, spring sale today",
            sender_name="Acme",
            longcode_id=101,
            chunk_size=100,
            journal=tmp_path / "j.sqlite",
        )
        test = plan.test_send(client, to=["+13125559999"])
        assert test.total_sent == 1
        result = plan.send(client, confirm=True, progress=False)
        truth = pd.DataFrame(sb.ground_truth())
    assert result.counts == {"sent": n}
    camp = truth[truth["external_id"].str.startswith(plan.campaign_id + "-0")]
    # exactly once each, nobody else
    assert camp["phone"].value_counts().max() == 1
    assert set(camp["phone"]) == set(df["phone"])
    assert (camp["times_received"] == 1).all()
    # personalised texts arrive filled
    expected = dict(zip(df["phone"], "Hi " + df["first_name"] + ", spring sale today", strict=True))
    assert (camp["text"] == camp["phone"].map(expected)).all()
    assert not camp["text"].str.contains("{{", regex=False).any()
    # identity and external ids on every send, matching the ledger
    assert (camp["sender_name"] == "Acme").all()
    ledger = result.sends.set_index("phone")
    assert (
        camp["external_id"].to_numpy() == ledger.loc[camp["phone"], "external_id"].to_numpy()
    ).all()
    assert (
        camp["message_id"].to_numpy() == ledger.loc[camp["phone"], "message_id"].to_numpy()
    ).all()
    assert set(camp["route"]) == {"imessage", "sms"}
    # the test send went to our own number only, outside the campaign's chunks
    tests = truth[truth["external_id"] == plan.campaign_id + "-test"]
    assert tests["phone"].tolist() == ["+13125559999"]
    assert tests["text"].iloc[0] == "Hi Ann, spring sale today"
    assert Journal(tmp_path / "j.sqlite").campaigns()["finished_at"].notna().all()


def test_sending_a_complete_campaign_again_says_already_sent_and_sends_nothing(
    tmp_path: Path, start_sandbox: Any
) -> None:
    df = pd.DataFrame({"phone": [f"+1312555{i:04d}" for i in range(30)]})
    sb = start_sandbox(seed=4, time_scale=50)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plan = plan_campaign(df, "Spring sale", sender_name="Acme", journal=tmp_path / "j.sqlite")
        first = plan.send(client, confirm=True, progress=False)
        received = len(sb.ground_truth())
        again = plan.send(client, confirm=True, progress=False)
        assert len(sb.ground_truth()) == received == 30  # the sandbox's own record: nothing new
    assert first.note == ""
    assert again.note == ALREADY_SENT
    assert again.counts == {"sent": 30}
    assert ALREADY_SENT in again._repr_html_()


def test_confirm_panel_sends_only_on_click(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    client = ScriptedClient()
    panel = plan.confirm(client)
    info, button, _out = panel.children
    assert "Campaign c" in info.value
    assert "6 recipients" in button.description
    assert client.calls == []  # showing the panel sends nothing
    button.click()
    assert len(client.calls) == 3
    assert button.disabled
    assert plan.journal.chunk_ids("c", "sent") == [1, 2, 3]


def test_plan_from_a_loaded_subscriber_file(tmp_path: Path) -> None:
    import hashlib

    from mta_notebook import load_subscribers

    subs = load_subscribers(ROOT / "data" / "subscribers.csv")
    plan = plan_campaign(
        subs,
        "Hi {{first_name}}, see you at {{favorite_store}}",
        sender_name="Acme",
        send_window=("09:00", "20:00"),
        journal=tmp_path / "j",
        defaults={"favorite_store": "our store"},
    )
    man = plan.journal.manifest(plan.campaign_id)
    expected = hashlib.sha256((ROOT / "data" / "subscribers.csv").read_bytes()).hexdigest()
    assert man["extra"]["source_sha256"] == expected
    assert man["input_source"].endswith("subscribers.csv")
    chunks = plan.journal.chunks(plan.campaign_id)
    # the timezones column from load_subscribers decides the groups: one zone set per chunk
    zones = subs.df.set_index("phone")["timezones"]
    for ch, zone in chunks[["chunk", "timezone"]].itertuples(index=False):
        phones, _ = plan.journal.chunk_recipients(plan.campaign_id, int(ch))
        assert set(zones[phones]) == {zone}
    assert plan.summary["recipients"] + plan.summary["skipped"] == len(subs.df)
    assert not plan.preview(20)["text"].str.contains("{{", regex=False).any()


def test_international_recipients_are_warned_about(tmp_path: Path) -> None:
    df = pd.DataFrame({"phone": ["+13125550142", "+442079460958"], "first_name": ["A", "B"]})
    plan = plan_campaign(df, "Hi {{first_name}}", sender_name="Acme", journal=tmp_path / "j")
    assert any(
        "1 recipient has a number outside North America" in w for w in plan.summary["warnings"]
    )
    us_only = plan_campaign(df[:1], "Hi", sender_name="Acme", journal=tmp_path / "j")
    assert not any("North-American" in w for w in us_only.summary["warnings"])
