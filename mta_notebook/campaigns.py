"""Campaigns: plan a message to a list, check it, send it in journaled chunks, resume safely.

A campaign is planned once (``plan_campaign``) and written to the SQLite journal; sending moves
each chunk ``planned -> in_flight -> sent | failed | unknown`` with a commit before every request.
A chunk whose outcome is unknown (a crash, a dropped connection, a 5xx after processing) is never
re-sent blindly, and never on a timer: it is settled from evidence (the receiver's webhook log,
``GET /v3/deliveries`` paged over the chunk's dates and matched on its ``externalId``), or it
stays ``unknown`` until the user says ``resume_campaign(..., unknown="resend" | "skip")``.
"""

from __future__ import annotations

import getpass
import hashlib
import html
import json
import math
import os
import re
import signal
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    CampaignError,
    ConfigError,
    JournalError,
    PermissionDeniedError,
    RateLimitError,
    SendOutcomeUnknown,
)
from .contract.assumptions import (
    DELIVERIES_DATE_MARGIN_DAYS,
    RECONCILE_CLOCK_MARGIN_S,
    SMS_OVER_160,
    SmsOver160,
)
from .contract.dates import format_scheduled_date, parse_scheduled_date, parse_time
from .contract.limits import MMS_CREDITS, MMS_MAX_CHARS, RATE_LIMITS, SMS_CREDITS, SMS_MAX_CHARS
from .journal import Journal, utcnow

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENDED",
    "CampaignPlan",
    "CampaignResult",
    "MessageCheck",
    "UnknownPolicy",
    "check_message",
    "plan_campaign",
    "resume_campaign",
]

# -- message checks --------------------------------------------------------------------------

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Characters of the GSM-7 extension table: each costs two septets (escape + char).
GSM7_EXTENDED: Final = frozenset("^{}\\[~]|€\f")
_SMS_OVER_160_VALUES: Final = ("segments", "reject")

Encoding = Literal["GSM-7", "UCS-2"]
#: What ``resume_campaign`` does with a chunk no evidence settles: keep it ``unknown`` (listed,
#: with the call that resolves it), send it again, or record it as skipped.
UnknownPolicy = Literal["keep", "resend", "skip"]


@dataclass(frozen=True)
class MessageCheck:
    """What one filled message costs: encoding, length, segments and credits.

    ``ucs2_chars`` lists the characters that force UCS-2 (70/67 characters per segment instead of
    160/153); replacing them (curly quotes, emoji, dashes) often halves the credits.
    """

    text: str
    encoding: Encoding
    length: int
    segments: int
    credits: int
    ucs2_chars: tuple[str, ...]
    too_long: bool


def _gsm_units(ch: str) -> int:
    """Septets for one character in GSM-7 (0 when it is not GSM-7)."""
    if ch in GSM7_BASIC:
        return 1
    if ch in GSM7_EXTENDED:
        return 2
    return 0


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _segments(encoding: Encoding, units: int) -> int:
    if units == 0:
        return 1
    if encoding == "GSM-7":
        return 1 if units <= 160 else math.ceil(units / 153)
    return 1 if units <= 70 else math.ceil(units / 67)


def _sms_over_160(value: str) -> SmsOver160:
    if value == "segments":
        return "segments"
    if value == "reject":
        return "reject"
    raise CampaignError(
        f"sms_over_160 must be one of {_SMS_OVER_160_VALUES}, got {value!r}: 'reject' (MTA's "
        "developer docs: an SMS is 160 characters) or 'segments' (the account splits longer "
        "SMS into billed segments)."
    )


def _max_chars(mms: bool, sms_over_160: SmsOver160) -> int:
    """The longest text MTA takes: 1,550 for MMS (and split SMS), else one SMS of 160."""
    return MMS_MAX_CHARS if mms or sms_over_160 == "segments" else SMS_MAX_CHARS


def check_message(
    text: str, *, mms: bool = False, sms_over_160: SmsOver160 = SMS_OVER_160
) -> MessageCheck:
    """Encoding, segments and credits of one message as MTA would bill it.

    Parameters
    ----------
    text
        The message as the recipient gets it (placeholders filled).
    mms
        True when it goes as MMS (an image or ``isMMS``): 3 credits, up to 1,550 characters.
    sms_over_160
        What the account does with an SMS over 160 characters
        (``contract.assumptions.SMS_OVER_160``): ``"reject"``, as MTA's developer docs say
        (400 "Character Limit Exceeded"; such a text is ``too_long``, any other is 1 credit),
        or ``"segments"`` (split into segments, each billed).

    Examples
    --------
    >>> check_message("Hi Ann, 20% off today!").segments
    1
    >>> c = check_message("Hi Ann, 20% off today ✨")
    >>> c.encoding, c.ucs2_chars
    ('UCS-2', ('✨',))
    >>> check_message("x" * 161).too_long
    True
    >>> long = check_message("x" * 161, sms_over_160="segments")
    >>> long.too_long, long.segments, long.credits
    (False, 2, 2)
    """
    mode = _sms_over_160(sms_over_160)
    bad = tuple(dict.fromkeys(ch for ch in text if _gsm_units(ch) == 0))
    if bad:
        encoding: Encoding = "UCS-2"
        units = _utf16_units(text)
    else:
        encoding = "GSM-7"
        units = sum(_gsm_units(ch) for ch in text)
    segments = _segments(encoding, units)
    return MessageCheck(
        text=text,
        encoding=encoding,
        length=units,
        segments=segments,
        credits=int(_credits(mms, mode, np.array([segments]))[0]),
        ucs2_chars=bad,
        too_long=len(text) > _max_chars(mms, mode),
    )


def _credits(mms: bool, sms_over_160: SmsOver160, segments: np.ndarray[Any, Any]) -> Any:
    """Credits per message: an MMS 3, an SMS 1, or 1 per segment when the account splits long
    SMS (``contract.limits``)."""
    if mms:
        return np.full_like(segments, MMS_CREDITS)
    if sms_over_160 == "segments":
        return segments * SMS_CREDITS
    return np.full_like(segments, SMS_CREDITS)


# -- templates -------------------------------------------------------------------------------

_PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")
_HHMM: Final = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


def _split_template(message: str) -> tuple[list[str], list[str]]:
    """Literal parts and placeholder names: ``lits[0] name[0] lits[1] ... lits[-1]``."""
    lits: list[str] = []
    names: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(message):
        lits.append(message[pos : m.start()])
        names.append(m.group(1))
        pos = m.end()
    lits.append(message[pos:])
    return lits, names


def _fill(message: str, values: Mapping[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), message)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass(frozen=True)
class _Parts:
    """Per-value facts for vectorised checks: GSM septets (-1: not GSM), UTF-16 units, chars."""

    gsm: np.ndarray[Any, Any]
    utf16: np.ndarray[Any, Any]
    chars: np.ndarray[Any, Any]
    bad: dict[str, tuple[str, ...]]
    codes: np.ndarray[Any, Any]
    uniques: np.ndarray[Any, Any]


def _value_facts(values: np.ndarray[Any, Any] | pd.Series) -> _Parts:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    gsm_u = np.empty(len(uniques), dtype=np.int64)
    utf_u = np.empty(len(uniques), dtype=np.int64)
    len_u = np.empty(len(uniques), dtype=np.int64)
    bad: dict[str, tuple[str, ...]] = {}
    for i, v in enumerate(uniques):
        s = str(v)
        units = [_gsm_units(ch) for ch in s]
        b = tuple(dict.fromkeys(ch for ch, u in zip(s, units, strict=True) if u == 0))
        gsm_u[i] = -1 if b else sum(units)
        utf_u[i] = _utf16_units(s)
        len_u[i] = len(s)
        if b:
            bad[s] = b
    return _Parts(
        gsm=gsm_u[codes],
        utf16=utf_u[codes],
        chars=len_u[codes],
        bad=bad,
        codes=codes,
        uniques=np.asarray(uniques, dtype=object),
    )


def _clean_strings(col: pd.Series) -> pd.Series:
    """A column as stripped strings (Arrow string kernels), NA where missing or blank."""
    text = col.astype("string").str.strip()
    return text.mask(text == "")


def _arrow(series: pd.Series) -> Any:
    import pyarrow as pa

    arr = pa.array(series, from_pandas=True)
    return arr.cast(pa.large_string())


def _join_chunks(rows: Any, offsets: Any, sep: str) -> list[str]:
    """Join consecutive runs of an Arrow string array (``offsets`` bounds each run) with ``sep``,
    in C: no Python string per recipient."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = rows.cast(pa.large_string())
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), rows)
    out: list[str] = pc.binary_join(lists, pa.scalar(sep, pa.large_string())).to_pylist()
    return out


# -- recipients ------------------------------------------------------------------------------


def _recipients_frame(recipients: Any) -> tuple[pd.DataFrame, str | None]:
    source = None
    if isinstance(recipients, pd.DataFrame):
        df = recipients
    elif hasattr(recipients, "df") and isinstance(recipients.df, pd.DataFrame):
        df = recipients.df
        for attr in ("source", "path"):
            val = getattr(recipients, attr, None)
            if isinstance(val, (str, os.PathLike)):
                source = os.fspath(val)
                break
    else:
        raise CampaignError(
            f"recipients must be a SubscriberList or a DataFrame with a 'phone' column, got "
            f"{type(recipients).__name__}. Load a file with mta_notebook.load_subscribers()."
        )
    if "phone" not in df.columns:
        raise CampaignError(
            f"recipients has no 'phone' column (columns: {list(df.columns)[:12]}). Rename the "
            "phone column to 'phone' (E.164, like +13125550123) or use load_subscribers()."
        )
    return df.reset_index(drop=True), source


def _source_hash(source: str | None) -> str | None:
    if source is None or not os.path.isfile(source):
        return None
    h = hashlib.sha256()
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _timezones(phones: pd.Series) -> pd.Series:
    """Time zone per E.164 phone via phonenumbers, cached per country code + area code prefix."""
    import phonenumbers
    from phonenumbers import timezone as pn_tz

    keys = phones.str.slice(0, 8)
    first = phones.groupby(keys, sort=False).first()
    zone_of: dict[str, str | None] = {}
    for key, phone in first.items():
        zone: str | None = None
        try:
            num = phonenumbers.parse(str(phone), None)
            zones = [z for z in pn_tz.time_zones_for_number(num) if z != "Etc/Unknown"]
            zone = zones[0] if zones else None
        except phonenumbers.NumberParseException:
            zone = None
        zone_of[str(key)] = zone
    return keys.map(zone_of)


# -- scheduling ------------------------------------------------------------------------------


def _parse_window(window: Sequence[str] | None) -> tuple[dtime, dtime] | None:
    if window is None:
        return None
    if isinstance(window, str) or len(window) != 2:
        raise CampaignError(
            f"send_window must be two 'HH:MM' strings like ('09:00', '20:00'), got {window!r}."
        )
    out = []
    for part in window:
        m = _HHMM.match(str(part))
        if not m:
            raise CampaignError(f"send_window time {part!r} is not 'HH:MM' (24-hour clock).")
        out.append(dtime(int(m.group(1)), int(m.group(2))))
    if out[0] >= out[1]:
        raise CampaignError(
            f"send_window {tuple(window)!r} must start before it ends within one day."
        )
    return out[0], out[1]


def next_in_window(
    now: datetime, tz: str, window: tuple[dtime, dtime], not_before: datetime | None = None
) -> datetime | None:
    """The UTC time to schedule a send for ``tz``'s window, or None to send right away.

    Examples
    --------
    >>> from datetime import datetime, time, timezone
    >>> now = datetime(2025, 3, 6, 12, 0, tzinfo=timezone.utc)  # 06:00 in Chicago
    >>> next_in_window(now, "America/Chicago", (time(9), time(20))).isoformat()
    '2025-03-06T15:00:00+00:00'
    >>> next_in_window(now, "Europe/Paris", (time(9), time(20))) is None
    True
    """
    zone = ZoneInfo(tz)
    start_at = max(now, not_before) if not_before is not None else now
    local = start_at.astimezone(zone)
    if window[0] <= local.time() < window[1]:
        return None if start_at <= now else start_at.astimezone(timezone.utc)
    day: date = local.date() if local.time() < window[0] else local.date() + timedelta(days=1)
    return datetime.combine(day, window[0], tzinfo=zone).astimezone(timezone.utc)


# -- the plan --------------------------------------------------------------------------------


@dataclass
class CampaignPlan:
    """A planned campaign, already in the journal: look at it, test it, then send it.

    Build it with :func:`plan_campaign`. ``recipients`` has one row per input row with its
    ``chunk``, filled-text ``encoding``, ``segments``, ``credits`` and ``skip_reason`` (rows that
    will not be sent: ``missing-phone``, ``invalid-phone``, ``duplicate``, ``missing-value``,
    ``too-long``); ``skipped`` is those rows. ``sms_over_160`` is what the plan assumed the
    account does with a longer SMS.
    """

    campaign_id: str
    message: str
    sender_name: str | None
    longcode_id: int | None
    journal: Journal
    recipients: pd.DataFrame
    placeholders: tuple[str, ...]
    chunk_size: int
    image: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    send_window: tuple[str, str] | None = None
    scheduled_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    reused: bool = False
    sms_over_160: SmsOver160 = SMS_OVER_160

    @property
    def skipped(self) -> pd.DataFrame:
        """Rows that will not be sent, with ``skip_reason`` and ``detail``."""
        out: pd.DataFrame = self.recipients[self.recipients["skip_reason"].notna()]
        return out

    @property
    def to_send(self) -> pd.DataFrame:
        """Rows that will be sent."""
        out: pd.DataFrame = self.recipients[self.recipients["skip_reason"].isna()]
        return out

    @property
    def summary(self) -> dict[str, Any]:
        """Recipients, chunks, credits, encoding, expected duration, progress and warnings."""
        send = self.to_send
        n_chunks = int(send["chunk"].nunique()) if len(send) else 0
        rate = RATE_LIMITS["send"]
        seconds = max(0, n_chunks - rate.requests) * rate.window_s / rate.requests
        chunk_states = self.journal.chunks(self.campaign_id)["state"].value_counts().to_dict()
        return {
            "campaign_id": self.campaign_id,
            "sender_name": self.sender_name,
            "longcode_id": self.longcode_id,
            "recipients": len(send),
            "skipped": int(len(self.recipients) - len(send)),
            "chunks": n_chunks,
            "chunk_size": self.chunk_size,
            "credits": int(send["credits"].sum()),
            "mms": self.image is not None,
            "sms_over_160": self.sms_over_160,
            "ucs2_recipients": int((send["encoding"] == "UCS-2").sum()),
            "max_segments": int(send["segments"].max()) if len(send) else 0,
            "expected_duration_s": round(seconds, 1),
            "chunk_states": {str(k): int(v) for k, v in chunk_states.items()},
            "send_window": self.send_window,
            "journal": str(self.journal.path),
            "warnings": list(self.warnings),
        }

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` recipients' filled texts with encoding, segments and credits."""
        rows = []
        for rec in self.to_send.head(n).to_dict("records"):
            text = _fill(self.message, {p: rec.get(p) for p in self.placeholders})
            chk = check_message(text, mms=self.image is not None, sms_over_160=self.sms_over_160)
            rows.append(
                {
                    "phone": rec["phone"],
                    "chunk": rec["chunk"],
                    "text": text,
                    "encoding": chk.encoding,
                    "length": chk.length,
                    "segments": chk.segments,
                    "credits": chk.credits,
                    "ucs2_chars": "".join(chk.ucs2_chars),
                }
            )
        cols = ["phone", "chunk", "text", "encoding", "length", "segments", "credits", "ucs2_chars"]
        out: pd.DataFrame = pd.DataFrame(rows, columns=cols)
        return out

    def first_text(self) -> str:
        """The first recipient's filled message (what ``test_send`` sends)."""
        prev = self.preview(1)
        if prev.empty:
            raise CampaignError(f"Campaign {self.campaign_id!r} has no recipient to send to.")
        return str(prev["text"].iloc[0])

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"CampaignPlan({s['campaign_id']!r}, recipients={s['recipients']}, "
            f"chunks={s['chunks']}, credits={s['credits']}, sender_name={self.sender_name!r}, "
            f"longcode_id={self.longcode_id!r})"
        )

    def _repr_html_(self) -> str:
        s = self.summary
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
            for k, v in s.items()
            if k != "warnings"
        )
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        warn_html = f"<p><b>Warnings</b></p><ul>{warn}</ul>" if warn else ""
        prev = self.preview(3).to_html(index=False, escape=True)
        return (
            f"<div><p><b>Campaign {html.escape(self.campaign_id)}</b> (planned, not sent until "
            f"<code>plan.send(client, confirm=True)</code>)</p><table>{rows}</table>"
            f"{warn_html}<p><b>Preview</b></p>{prev}</div>"
        )

    # -- sending -----------------------------------------------------------------------------

    def test_send(self, client: Any, to: Sequence[str]) -> Any:
        """Send the first recipient's filled message to your own numbers, outside the campaign.

        Uses the campaign's identity and image; ``externalId`` is ``{campaign_id}-test``.
        Nothing is recorded in the campaign's chunks.
        """
        if isinstance(to, str):
            to = [to]
        bad = [p for p in to if not _E164.match(str(p))]
        if not to or bad:
            raise CampaignError(
                f"test_send needs your own numbers in E.164 (like +13125550123); got {list(to)!r}."
            )
        return client.send(
            subscribers=list(to),
            message=self.first_text(),
            image=self.image,
            sender_name=self.sender_name,
            longcode_id=self.longcode_id,
            external_id=f"{self.campaign_id}-test",
            tags={**self.tags, "campaign_id": self.campaign_id, "test": "true"},
        )

    def send(
        self,
        client: Any,
        *,
        confirm: bool = False,
        progress: bool = True,
        events: Any = None,
        clock_margin_s: float = RECONCILE_CLOCK_MARGIN_S,
        max_in_flight: int = 2,
    ) -> CampaignResult:
        """Send the campaign's planned chunks (each one ``/send``), journaling every move.

        Parameters
        ----------
        client
            A :class:`mta_notebook.Client`.
        confirm
            Must be True: sending costs credits and reaches real phones.
        progress
            Show a ``tqdm`` progress bar.
        events, clock_margin_s
            Evidence for chunks whose outcome is unknown; see :func:`resume_campaign`.
        max_in_flight
            Chunks whose requests may overlap (each journaled ``in_flight`` first); 2 hides
            each answer's latency, 1 sends strictly one after another. The client's pacer keeps
            the rate within MTA's limit either way.

        Running it again (or :func:`resume_campaign`) sends only chunks still planned.
        """
        if confirm is not True:
            s = self.summary
            raise CampaignError(
                f"Not sent: campaign {self.campaign_id!r} goes to {s['recipients']} recipients "
                f"for about {s['credits']} credits. Check plan.summary and plan.preview(), then "
                "call plan.send(client, confirm=True)."
            )
        return _run(
            self.journal,
            self.campaign_id,
            client,
            progress=progress,
            events=events,
            clock_margin_s=clock_margin_s,
            max_in_flight=max_in_flight,
        )

    def confirm(self, client: Any) -> Any:
        """A notebook panel (recipients, identity, credits, preview) with a Send button."""
        import ipywidgets as widgets

        s = self.summary
        info = widgets.HTML(self._repr_html_())
        button = widgets.Button(
            description=f"Send to {s['recipients']} recipients",
            button_style="danger",
            icon="paper-plane",
            tooltip=f"{s['credits']} credits, identity {self.sender_name or self.longcode_id}",
        )
        out = widgets.Output()

        def _on_click(_: Any) -> None:
            button.disabled = True
            with out:
                result = self.send(client, confirm=True)
                from IPython.display import display

                display(result)  # type: ignore[no-untyped-call]

        button.on_click(_on_click)
        return widgets.VBox([info, button, out])


# -- planning --------------------------------------------------------------------------------


def plan_campaign(
    recipients: Any,
    message: str,
    *,
    sender_name: str | None = None,
    longcode_id: int | None = None,
    chunk_size: int = 500,
    campaign_id: str | None = None,
    image: str | None = None,
    tags: Mapping[str, str] | None = None,
    send_window: Sequence[str] | None = None,
    scheduled_at: datetime | str | None = None,
    journal: Journal | str | os.PathLike[str] | None = None,
    defaults: Mapping[str, str] | None = None,
    sms_over_160: SmsOver160 = SMS_OVER_160,
) -> CampaignPlan:
    """Plan a campaign: check every filled message, split into chunks, write the journal.

    Parameters
    ----------
    recipients
        A ``SubscriberList`` or a DataFrame with a ``phone`` column (E.164).
    message
        The text; ``{{first_name}}``-style placeholders are filled per recipient from their
        columns (sent through MTA ``properties``).
    sender_name, longcode_id
        The iMessage Sender Identity (one is required; both are sent when given).
    chunk_size
        Recipients per ``/send`` call.
    campaign_id
        Defaults to a hash of the inputs, so planning the same campaign again reuses it (and
        never sends it twice).
    image
        Public image URL: the message goes as MMS (3 credits per recipient).
    tags
        Tags echoed in webhooks; ``campaign_id`` and ``chunk`` are added.
    send_window
        ``("09:00", "20:00")``: each recipient's time zone group is scheduled to arrive inside
        this local window.
    scheduled_at
        Do not deliver before this time (naive means UTC).
    journal
        A :class:`Journal` or its path; default ``./mta_journal.sqlite``.
    defaults
        Values for placeholders a recipient has no value for (else that recipient is skipped).
    sms_over_160
        What the account does with an SMS over 160 characters; MTA's docs disagree
        (``contract.assumptions.SMS_OVER_160``). ``"reject"`` (default, the developer docs:
        400 "Character Limit Exceeded") skips such recipients as ``too-long``; ``"segments"``
        (the help center: split into billed segments) sends them and counts a credit per
        segment. Either way the plan warns. MMS (``image=``) takes 1,550 characters.

    Returns
    -------
    CampaignPlan

    Raises
    ------
    CampaignError
        No identity, an empty message, a placeholder with no column, a template longer than
        1,550 characters, or a campaign id already used for different inputs.
    """
    sms_mode = _sms_over_160(sms_over_160)
    if sender_name is None and longcode_id is None:
        raise CampaignError(
            "A Sender Identity is required: pass sender_name='Acme' and/or longcode_id=101. "
            "MTA routes iMessage only through an identity (recipients who cannot get iMessage "
            "from it get SMS from its longcode)."
        )
    if sender_name is not None and not str(sender_name).strip():
        raise CampaignError("sender_name is empty; pass the Sender Identity name MTA set up.")
    if not isinstance(message, str) or not message.strip():
        raise CampaignError("The message is empty; pass the text to send.")
    if chunk_size < 1:
        raise CampaignError(f"chunk_size must be at least 1, got {chunk_size}.")
    lits, names = _split_template(message)
    placeholders = tuple(dict.fromkeys(names))
    static_len = sum(len(x) for x in lits)
    if static_len > MMS_MAX_CHARS:
        raise CampaignError(
            f"The message is {static_len} characters before filling placeholders; MTA's limit "
            f"is {MMS_MAX_CHARS}. Shorten it."
        )
    window = _parse_window(send_window)
    sched_dt: datetime | None = None
    if scheduled_at is not None:
        sched_dt = (
            datetime.fromisoformat(scheduled_at) if isinstance(scheduled_at, str) else scheduled_at
        )
        if sched_dt.tzinfo is None:
            sched_dt = sched_dt.replace(tzinfo=timezone.utc)
        sched_dt = sched_dt.astimezone(timezone.utc)
    tags_d = {str(k): str(v) for k, v in (tags or {}).items()}
    defaults_d = dict(defaults or {})
    mms = image is not None

    df, source = _recipients_frame(recipients)
    n = len(df)
    cols = {p: (p if p in df.columns else _snake(p)) for p in placeholders}
    missing_cols = [p for p, c in cols.items() if c not in df.columns and p not in defaults_d]
    if missing_cols:
        raise CampaignError(
            f"The message uses {', '.join('{{' + p + '}}' for p in missing_cols)} but recipients "
            f"has no such column (columns: {list(df.columns)[:15]}). Add the column, fix the "
            "placeholder, or pass defaults={...}."
        )

    # Plain object arrays: pandas' Arrow strings are slow to convert row by row at 1M rows.
    phone_text = _clean_strings(df["phone"])
    reason: np.ndarray[Any, Any] = np.full(n, None, dtype=object)
    detail: np.ndarray[Any, Any] = np.full(n, None, dtype=object)
    is_missing = phone_text.isna().to_numpy()
    reason[is_missing] = "missing-phone"
    bad = ~is_missing & ~phone_text.str.fullmatch(_E164.pattern).fillna(False).to_numpy(bool)
    reason[bad] = "invalid-phone"
    detail[bad] = "not E.164 (like +13125550123); normalise with load_subscribers()"
    dup = ~is_missing & ~bad & phone_text.duplicated(keep="first").to_numpy()
    reason[dup] = "duplicate"
    detail[dup] = "the same phone appears earlier; it is sent once"

    # Per-placeholder values, with defaults; a recipient missing a value is skipped.
    values: dict[str, pd.Series] = {}
    for p in placeholders:
        c = cols[p]
        if c in df.columns:
            v = _clean_strings(df[c])
        else:
            v = pd.Series(pd.NA, index=df.index, dtype="string")
        if p in defaults_d:
            v = v.fillna(str(defaults_d[p]))
        absent = v.isna().to_numpy() & pd.isna(reason)
        if absent.any():
            reason[absent] = "missing-value"
            detail[absent] = [f"{d} {{{{{p}}}}}" if d else f"{{{{{p}}}}}" for d in detail[absent]]
        values[p] = v.fillna("")
    miss = reason == "missing-value"
    detail[miss] = ["no value for " + str(d) for d in detail[miss]]

    # Vectorised length checks: literal parts once, each placeholder per unique value.
    lit_facts = _value_facts(np.array(["".join(lits)], dtype=object))
    gsm = np.full(n, int(lit_facts.gsm[0]), dtype=np.int64)
    utf16 = np.full(n, int(lit_facts.utf16[0]), dtype=np.int64)
    chars = np.full(n, int(lit_facts.chars[0]), dtype=np.int64)
    bad_chars: dict[str, tuple[str, ...]] = dict(lit_facts.bad)
    facts = {p: _value_facts(values[p]) for p in placeholders}
    for p in names:  # every occurrence counts
        f = facts[p]
        gsm = np.where((gsm < 0) | (f.gsm < 0), -1, gsm + f.gsm)
        utf16 = utf16 + f.utf16
        chars = chars + f.chars
        bad_chars.update(f.bad)
    is_gsm = gsm >= 0
    units = np.where(is_gsm, gsm, utf16)
    segs = np.where(
        is_gsm,
        np.where(units <= 160, 1, np.ceil(units / 153)),
        np.where(units <= 70, 1, np.ceil(units / 67)),
    ).astype(np.int64)
    segs = np.maximum(segs, 1)
    credits = _credits(mms, sms_mode, segs)
    max_chars = _max_chars(mms, sms_mode)
    too_long = (chars > max_chars) & pd.isna(reason)
    reason[too_long] = "too-long"
    what = "an SMS" if max_chars == SMS_MAX_CHARS else "MTA's limit"
    detail[too_long] = [
        f"{k} characters after filling; {what} is {max_chars}" for k in chars[too_long].tolist()
    ]

    ok = pd.isna(reason)
    tz: pd.Series | None = None
    warnings: list[str] = []
    if window is not None:
        if "timezone" in df.columns:
            tz = df["timezone"].astype("string")
        else:
            tz = pd.Series(pd.NA, index=df.index, dtype="string")
        need = tz.isna() & pd.Series(ok, index=df.index)
        if need.any():
            tz[need] = _timezones(phone_text[need]).astype("string").to_numpy()
        unknown_tz = tz.isna() & pd.Series(ok, index=df.index)
        if unknown_tz.any():
            warnings.append(
                f"{int(unknown_tz.sum())} recipients have no known time zone; they are "
                "scheduled in UTC."
            )
        tz = tz.fillna("UTC")
        for z in pd.unique(tz[pd.Series(ok, index=df.index)]):
            try:
                ZoneInfo(str(z))
            except (KeyError, ValueError) as exc:
                raise CampaignError(f"Unknown time zone {z!r} in the timezone column.") from exc

    # Chunks: in input order; with a window, grouped by time zone (a chunk has one zone).
    chunk = np.full(n, -1, dtype=np.int64)
    ok_idx = np.flatnonzero(ok)
    chunk_rows: list[dict[str, Any]] = []
    if tz is not None:
        tz_ok = tz.to_numpy()[ok_idx]
        order = np.argsort(pd.factorize(tz_ok, sort=False)[0], kind="stable")
        ok_idx = ok_idx[order]
        groups = tz_ok[order]
    else:
        groups = None
    next_chunk = 1
    start = 0
    while start < len(ok_idx):
        end = min(start + chunk_size, len(ok_idx))
        zone = None
        if groups is not None:
            zone = str(groups[start])
            same = np.flatnonzero(groups[start:end] != zone)
            if len(same):
                end = start + int(same[0])
        chunk[ok_idx[start:end]] = next_chunk
        chunk_rows.append({"chunk": next_chunk, "rows": ok_idx[start:end], "timezone": zone})
        next_chunk += 1
        start = end

    # The input hash: every field that decides who gets what.
    h = hashlib.sha256()
    for col_values in [phone_text.fillna(""), *(values[p] for p in placeholders)]:
        buffers = _arrow(col_values).buffers()  # validity, offsets, characters
        h.update(memoryview(buffers[1]))
        h.update(memoryview(buffers[2]) if buffers[2] is not None else b"")
        h.update(b"\x1e")
    input_hash = h.hexdigest()
    inputs_key = json.dumps(
        [
            message,
            sender_name,
            longcode_id,
            image,
            tags_d,
            window and list(send_window or ()),
            sched_dt and sched_dt.isoformat(),
            chunk_size,
            input_hash,
        ],
        default=str,
    )
    cid = campaign_id or "cmp-" + hashlib.sha256(inputs_key.encode()).hexdigest()[:12]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", cid):
        raise CampaignError(
            f"campaign_id {cid!r} must be 1-64 letters, digits, '_', '.', ':' or '-'."
        )
    for row in chunk_rows:
        row["external_id"] = f"{cid}-{row['chunk']:05d}"

    jr = journal if isinstance(journal, Journal) else Journal(journal)
    plan_df = pd.DataFrame(
        {
            "phone": phone_text,
            "chunk": pd.array(np.where(chunk > 0, chunk, 0), dtype="Int64").copy(),
            "encoding": np.where(is_gsm, "GSM-7", "UCS-2"),
            "segments": segs,
            "credits": credits,
            "skip_reason": reason,
            "detail": detail,
        }
    )
    plan_df.loc[chunk <= 0, "chunk"] = pd.NA
    for p in placeholders:  # the values sent (stripped, defaults applied)
        if p not in plan_df.columns:
            plan_df[p] = values[p].where(ok)
    if tz is not None:
        plan_df["timezone"] = tz
    plan_df.loc[~ok, ["encoding", "segments", "credits"]] = [pd.NA, 0, 0]

    send_ok = plan_df[ok]
    n_ucs2 = int((send_ok["encoding"] == "UCS-2").sum())
    if n_ucs2:
        chars_list = "".join(dict.fromkeys(ch for t in bad_chars.values() for ch in t))[:20]
        warnings.append(
            f"{n_ucs2} messages are UCS-2 (70 characters per segment) because of "
            f"{chars_list!r}; replace those characters to use GSM-7 (160)."
        )
    multi = int((send_ok["segments"] > 1).sum()) if not mms and sms_mode == "segments" else 0
    if multi:
        warnings.append(
            f"{multi} messages are longer than one SMS segment (up to "
            f"{int(send_ok['segments'].max())} segments, each billed). This assumes your account "
            "splits long SMS into billed segments (sms_over_160='segments', as MTA's help center "
            f"says); MTA's developer docs say an SMS is {SMS_MAX_CHARS} characters and answer 400 "
            "'Character Limit Exceeded' past it. Check with MTA, or plan with "
            "sms_over_160='reject'."
        )
    intl = int((~send_ok["phone"].astype(str).str.startswith("+1")).sum())
    if intl:
        # MTA answers these in totalFailedInternationalRecipients, without saying which ones
        warnings.append(
            f"{intl} recipients have non-North-American numbers: MTA sends to them only if "
            "international messaging is enabled on the account; otherwise they are counted in "
            "totalFailedInternationalRecipients and get no delivery events (pending)."
        )
    for code in ("missing-value", "invalid-phone", "missing-phone", "duplicate", "too-long"):
        k = int((reason == code).sum())
        if not k:
            continue
        if code == "too-long" and max_chars == SMS_MAX_CHARS:
            warnings.append(
                f"{k} recipients skipped: too-long: their text is over {SMS_MAX_CHARS} characters "
                f"after filling, and MTA's developer docs say an SMS is {SMS_MAX_CHARS} "
                "characters (a longer one is refused: 400 'Character Limit Exceeded'). Shorten "
                "the message, send it as MMS with image=..., or plan with "
                "sms_over_160='segments' if your account splits long SMS into billed segments "
                "(see plan.skipped)."
            )
        else:
            warnings.append(f"{k} recipients skipped: {code} (see plan.skipped).")
    if not len(send_ok):
        warnings.append("No recipient can be sent to.")

    manifest = {
        "campaign_id": cid,
        "created_by": f"{_user()}@{socket.gethostname()}",
        "message": message,
        "sender_name": sender_name,
        "longcode_id": longcode_id,
        "image": image,
        "tags": tags_d,
        "send_window": list(send_window) if window is not None and send_window else None,
        "scheduled_at": sched_dt.isoformat() if sched_dt else None,
        "chunk_size": chunk_size,
        "input_hash": input_hash,
        "input_source": source,
        "recipients": len(send_ok),
        "skipped": int(n - len(send_ok)),
        "chunks": len(chunk_rows),
        "credits": int(send_ok["credits"].sum()),
        "encoding": "UCS-2" if n_ucs2 else "GSM-7",
        "extra": {
            "source_sha256": _source_hash(source),
            "placeholders": list(placeholders),
            "sms_over_160": sms_mode,
        },
    }
    plan = CampaignPlan(
        campaign_id=cid,
        message=message,
        sender_name=sender_name,
        longcode_id=longcode_id,
        journal=jr,
        recipients=plan_df,
        placeholders=placeholders,
        chunk_size=chunk_size,
        image=image,
        tags=tags_d,
        send_window=(str(send_window[0]), str(send_window[1])) if window and send_window else None,
        scheduled_at=sched_dt,
        warnings=warnings,
        sms_over_160=sms_mode,
    )
    if jr.has_campaign(cid):
        old = jr.manifest(cid)
        same = (
            old["input_hash"] == input_hash
            and old["message"] == message
            and old["sender_name"] == sender_name
            and old["longcode_id"] == longcode_id
            and old["image"] == image
            and old["chunk_size"] == chunk_size
        )
        if not same:
            raise CampaignError(
                f"Campaign {cid!r} is already in the journal {jr.path} with a different message, "
                "identity or recipient list. Pass a new campaign_id=, or resume_campaign("
                f"{cid!r}, client) to finish the journaled one."
            )
        # Not part of the campaign id (re-planning must find the journaled campaign, never make
        # a second one for the same people), so a different choice is refused here instead.
        old_mode = (old.get("extra") or {}).get("sms_over_160")
        if old_mode is not None and old_mode != sms_mode:
            raise CampaignError(
                f"Campaign {cid!r} was planned in {jr.path} with sms_over_160={old_mode!r}, not "
                f"{sms_mode!r}; its chunks are fixed. Plan again with sms_over_160={old_mode!r}, "
                "or plan the recipients it skipped (plan.skipped) as a new campaign."
            )
        plan.reused = True
        plan.warnings.append(
            f"Campaign {cid!r} was already planned in {jr.path}; sending sends only chunks "
            "still planned."
        )
        return plan

    # Each chunk's phones and personalisation JSON, joined by Arrow kernels (fast at 1M rows).
    import pyarrow as pa
    import pyarrow.compute as pc

    take = pa.array(ok_idx)
    offsets = np.zeros(len(chunk_rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(row["rows"]) for row in chunk_rows])
    phone_texts = _join_chunks(_arrow(phone_text).take(take), offsets, "\n")
    props_texts: list[str] | None = None
    if placeholders:
        parts: list[Any] = []
        for i, p in enumerate(placeholders):
            f = facts[p]
            enc = pa.array(
                [json.dumps(str(v), ensure_ascii=False) for v in f.uniques.tolist()],
                type=pa.large_string(),
            )
            key = ("{" if i == 0 else ",") + json.dumps(p) + ":"
            parts += [pa.scalar(key, pa.large_string()), enc.take(f.codes[ok_idx])]
        large = pa.large_string()
        props_rows = pc.binary_join_element_wise(
            *parts, pa.scalar("}", large), pa.scalar("", large)
        )
        props_texts = ["[" + t + "]" for t in _join_chunks(props_rows, offsets, ",")]
    for i, row in enumerate(chunk_rows):
        row["recipients"] = len(row.pop("rows"))
        row["phones"] = phone_texts[i]
        row["props"] = props_texts[i] if props_texts is not None else None
    skip_idx = np.flatnonzero(~ok)
    skipped_rows = zip(
        skip_idx.tolist(),
        [None if pd.isna(x) else str(x) for x in phone_text.iloc[skip_idx].tolist()],
        reason[skip_idx].tolist(),
        detail[skip_idx].tolist(),
        strict=True,
    )
    jr.create_campaign(manifest, chunk_rows, skipped_rows)
    return plan


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# -- the result ------------------------------------------------------------------------------


@dataclass
class CampaignResult:
    """The outcome of a send run: the send ledger (``.sends``) and counts by state.

    ``unknown_chunks`` lists chunks whose outcome no evidence could settle (MTA's answer, the
    webhook log, ``GET /v3/deliveries``); ``note`` names the call that resolves them.
    """

    campaign_id: str
    sends: pd.DataFrame
    chunks: pd.DataFrame
    interrupted: bool = False
    note: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Recipients per state (sent, failed, unknown, skipped, planned)."""
        vc = self.sends["state"].value_counts()
        return {str(k): int(v) for k, v in vc.items()}

    @property
    def unknown_chunks(self) -> pd.DataFrame:
        """Chunks still unknown (or in flight): listed for the user, never re-sent silently."""
        out: pd.DataFrame = self.chunks[self.chunks["state"].isin(["unknown", "in_flight"])]
        return out

    @property
    def complete(self) -> bool:
        """True when every chunk is sent, failed or skipped (nothing planned or unknown left)."""
        return bool(self.chunks["state"].isin(["sent", "failed", "skipped"]).all())

    def __repr__(self) -> str:
        return f"CampaignResult({self.campaign_id!r}, {self.counts})"

    def _repr_html_(self) -> str:
        counts = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{v}</td></tr>"
            for k, v in self.counts.items()
        )
        unk = self.unknown_chunks
        unk_html = (
            "<p><b>Unknown chunks</b> (not re-sent; see the note):</p>"
            + unk[["chunk", "external_id", "recipients", "error"]].to_html(index=False)
            if len(unk)
            else ""
        )
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return (
            f"<div><p><b>Campaign {html.escape(self.campaign_id)}</b></p>"
            f"<table>{counts}</table>{note}{unk_html}</div>"
        )


# -- the send engine -------------------------------------------------------------------------


class _StopFlag:
    """The first Ctrl-C (or Jupyter's stop button) asks to stop after the chunk in flight."""

    def __init__(self) -> None:
        self.stop = False
        self._old: Any = None
        self._installed = False

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.getsignal(signal.SIGINT)
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except ValueError:
                self._installed = False
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        if self.stop:  # second interrupt: stop now
            raise KeyboardInterrupt
        self.stop = True
        print(
            "Stopping after the chunks in flight (interrupt again to stop at once)...",
            file=sys.stderr,
        )

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._old)


def _request(journal: Journal, manifest: Mapping[str, Any], chunk: int) -> dict[str, Any]:
    cid = str(manifest["campaign_id"])
    row = journal.chunk(cid, chunk)
    phones, props = journal.chunk_recipients(cid, chunk)
    properties = dict(zip(phones, props, strict=True)) if props else {}
    req: dict[str, Any] = {
        "subscribers": phones,
        "message": manifest["message"],
        "external_id": row["external_id"],
        "tags": {**(manifest.get("tags") or {}), "campaign_id": cid, "chunk": str(chunk)},
    }
    if manifest.get("sender_name") is not None:
        req["sender_name"] = manifest["sender_name"]
    if manifest.get("longcode_id") is not None:
        req["longcode_id"] = int(manifest["longcode_id"])
    if manifest.get("image"):
        req["image"] = manifest["image"]
    if properties:
        req["properties"] = properties
    now = utcnow()
    not_before = (
        datetime.fromisoformat(manifest["scheduled_at"]) if manifest.get("scheduled_at") else None
    )
    window = _parse_window(manifest.get("send_window"))
    when: datetime | None
    if window is not None:
        when = next_in_window(now, row["timezone"] or "UTC", window, not_before)
    else:
        when = not_before if not_before is not None and not_before > now else None
    req["scheduled_date"] = format_scheduled_date(when) if when is not None else None
    return req


# -- reconciliation --------------------------------------------------------------------------

#: Events that exist only once MTA took a ``/send``: one with a chunk's externalId shows the
#: chunk went out (number-opt-in carries no externalId).
_OUTBOUND_EVENTS: Final = frozenset({"message-send", "delivery-status", "message-reply"})


def _events_frame(events: Any) -> pd.DataFrame | None:
    """The Events table of ``events=``: an ``EventLog`` (its ``.df``) or a DataFrame with the
    Events columns (``external_id``; ``event`` and ``message_id`` are used when present)."""
    if events is None:
        return None
    df = getattr(events, "df", events)
    if not isinstance(df, pd.DataFrame) or "external_id" not in df.columns:
        raise CampaignError(
            "events= must be the receiver's webhook log: an EventLog (read_webhook_log(...)) or "
            "a DataFrame with the Events columns (external_id, event, message_id); got "
            f"{type(events).__name__}."
        )
    return df


def _logged(df: pd.DataFrame | None, wanted: set[str]) -> dict[str, int | None]:
    """externalId -> a messageId (or None) for each of ``wanted`` that the webhook log shows."""
    if df is None:
        return {}
    ext = df["external_id"].astype("string")
    keep = ext.isin(wanted).fillna(False).to_numpy(bool)
    if "event" in df.columns:
        keep = keep & df["event"].isin(_OUTBOUND_EVENTS).to_numpy(bool)
    ids = df["message_id"] if "message_id" in df.columns else pd.Series(pd.NA, index=df.index)
    out: dict[str, int | None] = {}
    for key, mid in zip(ext[keep].tolist(), ids[keep].tolist(), strict=True):
        if out.get(key) is None:
            out[key] = None if pd.isna(mid) else int(mid)
    return out


@dataclass
class _Listing:
    """What ``GET /v3/deliveries`` showed for a date window."""

    by_external_id: dict[str, list[Any]]
    #: The latest row date up to now (plus the clock margin): how far the listing has caught up.
    latest: datetime | None
    #: Whether any row carries an externalId: without them, "not listed" proves nothing.
    shows_external_ids: bool


def _read_listing(
    client: Any, start: datetime, end: datetime, wanted: set[str], horizon: datetime
) -> _Listing:
    by_ext: dict[str, list[Any]] = {}
    latest: datetime | None = None
    shows = False
    # Oldest first: rows listed while we page land on later pages instead of shifting these.
    for row in client.iter_deliveries(start=start, end=end, sort_direction="ASC"):
        ext = getattr(row, "external_id", None)
        if ext:
            shows = True
            if ext in wanted:
                by_ext.setdefault(str(ext), []).append(row)
        when = parse_time(getattr(row, "date", None))
        # A row dated in the future (a scheduled message) says nothing about catching up.
        if when is not None and when <= horizon and (latest is None or when > latest):
            latest = when
    return _Listing(by_ext, latest, shows)


def _went_out_by(journal: Journal, campaign_id: str, row: Mapping[str, Any]) -> datetime:
    """The latest time a chunk's messages can have gone out: when its outcome became unknown
    (its request, held by the pacer or by retries, left at some point before that), or its
    ``scheduledDate`` if later."""
    at = journal.unknown_since(campaign_id, int(row["chunk"])) or datetime.fromisoformat(
        str(row["updated_at"])
    )
    if row.get("scheduled_date"):
        at = max(at, parse_scheduled_date(str(row["scheduled_date"])))
    return at


def _reconcile(
    journal: Journal,
    campaign_id: str,
    client: Any,
    *,
    events: pd.DataFrame | None,
    clock_margin_s: float,
) -> None:
    """Settle unknown chunks from evidence.

    Evidence: an event of the webhook log with the chunk's externalId (sent); a row of
    ``GET /v3/deliveries`` with it, paged over the chunks' dates +-
    ``DELIVERIES_DATE_MARGIN_DAYS`` (sent); no such row although the listing already shows a
    message dated more than ``clock_margin_s`` after the chunk can last have gone out (not
    sent: planned again). Anything else leaves the chunk unknown, with the reason in its
    ``error``.
    """
    unknown = {
        ch: journal.chunk(campaign_id, ch) for ch in journal.chunk_ids(campaign_id, "unknown")
    }
    ext_of = {ch: str(row["external_id"]) for ch, row in unknown.items()}
    logged = _logged(events, set(ext_of.values()))
    for ch, ext in list(ext_of.items()):
        if ext in logged:
            journal.move(
                campaign_id,
                ch,
                "sent",
                message_id=logged[ext],
                detail=f"reconciled: the webhook log has events with externalId {ext}",
            )
            del ext_of[ch]
    if not ext_of:
        return
    now = utcnow()
    margin = timedelta(seconds=clock_margin_s)
    went_out = {ch: _went_out_by(journal, campaign_id, unknown[ch]) for ch in ext_of}
    earliest = min(datetime.fromisoformat(str(unknown[ch]["in_flight_at"])) for ch in ext_of)
    days = timedelta(days=DELIVERIES_DATE_MARGIN_DAYS)
    try:
        listing = _read_listing(
            client,
            earliest - days,
            max(went_out.values()) + days,
            set(ext_of.values()),
            now + margin,
        )
    except APIError as exc:
        for ch in ext_of:
            journal.move(
                campaign_id, ch, "unknown", error=f"cannot check GET /deliveries: {exc}"[:500]
            )
        return
    for ch, ext in ext_of.items():
        at = went_out[ch]
        found = listing.by_external_id.get(ext)
        if found:
            journal.move(
                campaign_id,
                ch,
                "sent",
                message_id=_message_id(found[0]),
                detail=f"reconciled: GET /deliveries lists {len(found)} messages with "
                f"externalId {ext}",
            )
        elif at > now:
            journal.move(
                campaign_id,
                ch,
                "unknown",
                error=f"scheduled for {unknown[ch]['scheduled_date']}: GET /deliveries cannot "
                "show it before then. Check the MTA dashboard (scheduled messages), or resume "
                "after that time",
            )
        elif listing.latest is None or listing.latest <= at + margin:
            journal.move(
                campaign_id,
                ch,
                "unknown",
                error=f"externalId {ext} is not in GET /deliveries yet, and the listing shows "
                f"nothing dated more than {clock_margin_s:g}s after this chunk can last have "
                f"gone out ({at.isoformat()}): it may still appear",
            )
        elif not listing.shows_external_ids:
            journal.move(
                campaign_id,
                ch,
                "unknown",
                error="no row of GET /deliveries around its send time carries an externalId, "
                "so the listing cannot show whether this chunk went out",
            )
        else:
            journal.move(
                campaign_id,
                ch,
                "planned",
                detail=f"reconciled: externalId {ext} is not in GET /deliveries, which already "
                f"lists a message dated {listing.latest.isoformat()}, more than "
                f"{clock_margin_s:g}s after this chunk can last have gone out "
                f"({at.isoformat()}): not sent",
            )


def _resume_call(campaign_id: str, journal: Journal, unknown: str) -> str:
    return (
        f"mta.resume_campaign({campaign_id!r}, client, journal={str(journal.path)!r}, "
        f'unknown="{unknown}")'
    )


def _run(
    journal: Journal,
    campaign_id: str,
    client: Any,
    *,
    progress: bool = True,
    events: Any = None,
    unknown: UnknownPolicy = "keep",
    clock_margin_s: float = RECONCILE_CLOCK_MARGIN_S,
    max_rounds: int = 3,
    max_unknown_in_a_row: int = 5,
    max_in_flight: int = 2,
) -> CampaignResult:
    from tqdm.auto import tqdm

    if max_in_flight < 1:
        raise CampaignError(f"max_in_flight must be at least 1, got {max_in_flight}.")
    if unknown not in ("keep", "resend", "skip"):
        raise CampaignError(f"unknown must be 'keep', 'resend' or 'skip', got {unknown!r}.")
    if not clock_margin_s >= 0:
        raise CampaignError(f"clock_margin_s must be >= 0 seconds, got {clock_margin_s!r}.")
    log = _events_frame(events)
    manifest = journal.manifest(campaign_id)
    journal.acquire(campaign_id)
    interrupted = False
    decided: list[int] = []
    note = ""

    def settle() -> None:
        _reconcile(journal, campaign_id, client, events=log, clock_margin_s=clock_margin_s)

    try:
        journal.set_times(campaign_id, started=True)
        for ch in journal.chunk_ids(campaign_id, "in_flight"):
            journal.move(
                campaign_id, ch, "unknown", error="in flight when the previous run stopped"
            )
        # unknown= decides only the chunks that were unknown when the user asked.
        asked = set(journal.chunk_ids(campaign_id, "unknown"))
        chunks = journal.chunks(campaign_id)
        todo = int(chunks.loc[chunks["state"] == "planned", "recipients"].sum())
        with (
            _StopFlag() as flag,
            tqdm(total=todo, unit="msg", desc=campaign_id, disable=not progress, leave=True) as bar,
        ):

            def send(planned: Sequence[int]) -> bool:
                try:
                    return _send_round(
                        journal,
                        manifest,
                        planned,
                        client,
                        flag=flag,
                        bar=bar,
                        max_in_flight=max_in_flight,
                        max_unknown_in_a_row=max_unknown_in_a_row,
                    )
                except KeyboardInterrupt:  # no SIGINT handler (not the main thread)
                    return True

            for _round in range(max_rounds):
                # Planned chunks go first: their recipients are not the unknown chunks', and
                # once they are out the listing holds messages dated after the unknown ones,
                # which is what lets "not listed" mean "not sent".
                planned = journal.chunk_ids(campaign_id, "planned")
                if planned and (interrupted := send(planned)):
                    break
                if journal.chunk_ids(campaign_id, "unknown"):
                    settle()
                if not journal.chunk_ids(campaign_id, "planned"):
                    break
            if interrupted:
                settle()  # record what the evidence already shows; nothing more is sent
            elif unknown != "keep":
                decided = [c for c in journal.chunk_ids(campaign_id, "unknown") if c in asked]
                for ch in decided:
                    if unknown == "skip":
                        journal.move(
                            campaign_id,
                            ch,
                            "skipped",
                            error="outcome unknown; skipped as asked (unknown='skip'), not "
                            "re-sent: its recipients may or may not have received it",
                        )
                    else:
                        journal.move(
                            campaign_id,
                            ch,
                            "planned",
                            detail="outcome unknown; sent again as asked (unknown='resend')",
                        )
                if unknown == "resend" and decided:
                    interrupted = send(decided)
                    settle()
    finally:
        if interrupted:
            note = (
                f"Stopped by the user after the chunks in flight. Resume with "
                f"mta.resume_campaign({campaign_id!r}, client, "
                f"journal={str(journal.path)!r}) or run plan.send(client, confirm=True) again: "
                "only chunks still planned are sent."
            )
            print(note, file=sys.stderr)
        else:
            journal.set_times(campaign_id, finished=True)
        journal.release(campaign_id)
    result = CampaignResult(
        campaign_id=campaign_id,
        sends=journal.sends(campaign_id),
        chunks=journal.chunks(campaign_id),
        interrupted=interrupted,
        note=note,
    )
    if not interrupted:
        result.note = _note(result, journal, unknown, decided)
    return result


def _note(
    result: CampaignResult, journal: Journal, unknown: UnknownPolicy, decided: Sequence[int]
) -> str:
    """What the user must know after a run: decisions taken, and what is still open."""
    cid = result.campaign_id
    chunks = result.chunks
    parts: list[str] = []
    if decided:
        n = int(chunks.loc[chunks["chunk"].isin(decided), "recipients"].sum())
        if unknown == "skip":
            parts.append(
                f"{len(decided)} chunks of unknown outcome ({n} recipients) were recorded as "
                "skipped, as asked: result.sends shows their recipients as 'skipped' (they may "
                "or may not have received the message)."
            )
        else:
            parts.append(
                f"{len(decided)} chunks of unknown outcome ({n} recipients) were sent again, "
                "as asked."
            )
    unk = result.unknown_chunks
    if len(unk):
        parts.append(
            f"{len(unk)} chunks ({int(unk['recipients'].sum())} recipients) have an unknown "
            "outcome and were not re-sent: neither MTA's answer, the webhook log (events=) nor "
            "GET /v3/deliveries shows whether they went out (see result.unknown_chunks and "
            "their error). Resume later with events= the receiver's log, or once /deliveries "
            "lists messages sent after them; or check them in the MTA dashboard and decide: "
            f"{_resume_call(cid, journal, 'resend')} sends them again, "
            f"{_resume_call(cid, journal, 'skip')} records them as skipped."
        )
    planned = chunks[chunks["state"] == "planned"]
    if len(planned):
        parts.append(
            f"{len(planned)} chunks ({int(planned['recipients'].sum())} recipients) are still "
            "planned (see their error, e.g. rate limited); "
            f"mta.resume_campaign({cid!r}, client, journal={str(journal.path)!r}) sends them."
        )
    return " ".join(parts)


def _send_round(
    journal: Journal,
    manifest: Mapping[str, Any],
    planned: Sequence[int],
    client: Any,
    *,
    flag: _StopFlag,
    bar: Any,
    max_in_flight: int,
    max_unknown_in_a_row: int,
) -> bool:
    """Send ``planned`` chunks, at most ``max_in_flight`` at once; True when stopped by the user.

    Each chunk is journaled ``in_flight`` before its own request, so overlapping requests keep
    the crash guarantees; overlap hides each answer's latency (the pacer still caps the rate).
    """
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    todo = iter(planned)
    pending: dict[Future[tuple[str, int]], int] = {}
    unknown_in_a_row = 0
    stop = False
    interrupted = False
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="mta-send") as pool:
        while True:
            while not stop and len(pending) < max_in_flight:
                if flag.stop:
                    stop = interrupted = True
                    break
                ch = next(todo, None)
                if ch is None:
                    break
                fut = pool.submit(_send_chunk, journal, manifest, ch, client)
                pending[fut] = ch
            if not pending:
                break
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                pending.pop(fut)
                try:
                    state, count = fut.result()
                except BaseException as exc:  # nothing can be sent (auth, network): stop
                    error = error or exc
                    stop = True
                    continue
                if state == "sent":
                    bar.update(count)
                    unknown_in_a_row = 0
                elif state == "unknown":
                    unknown_in_a_row += 1
                    if unknown_in_a_row >= max_unknown_in_a_row:
                        stop = True
    if error is not None:
        raise error
    return interrupted


def _send_chunk(
    journal: Journal, manifest: Mapping[str, Any], ch: int, client: Any
) -> tuple[str, int]:
    """Send one chunk; returns the state it ends in and its recipient count."""
    cid = str(manifest["campaign_id"])
    req = _request(journal, manifest, ch)
    if req.get("scheduled_date"):
        journal.set_scheduled_date(cid, ch, req["scheduled_date"])
    else:
        req.pop("scheduled_date")
    count = len(req["subscribers"])
    journal.move(cid, ch, "in_flight")
    try:
        res = client.send(**req)
    except RateLimitError as exc:
        # A 429 means MTA did not process the request (the client already waited and retried):
        # planned again, for the next round.
        journal.move(cid, ch, "planned", error=f"rate limited: {exc}"[:500])
        return "planned", count
    except SendOutcomeUnknown as exc:
        journal.move(cid, ch, "unknown", error=str(exc)[:500])
        return "unknown", count
    except (AuthenticationError, PermissionDeniedError, APIConnectionError, ConfigError) as exc:
        # A definite refusal, or the request never left (a refused connection, an illegal
        # header value, a bad URL): nothing was sent, and the next chunk would fare the same.
        journal.move(cid, ch, "planned", error=str(exc)[:500])
        raise
    except APIStatusError as exc:
        if exc.status_code < 500:
            journal.move(cid, ch, "failed", error=str(exc)[:500])
            return "failed", count
        journal.move(cid, ch, "unknown", error=str(exc)[:500])
        return "unknown", count
    except KeyboardInterrupt:
        journal.move(cid, ch, "unknown", error="interrupted while the request was in flight")
        return "interrupted", count
    except Exception as exc:  # any other failure after the request may have left: unknown
        journal.move(cid, ch, "unknown", error=f"{type(exc).__name__}: {exc}"[:500])
        return "unknown", count
    journal.move(cid, ch, "sent", message_id=_message_id(res))
    return "sent", count


def _message_id(res: Any) -> int | None:
    mid = getattr(res, "message_id", None)
    if mid is None and isinstance(res, Mapping):
        mid = res.get("messageId") or (res.get("data") or {}).get("messageId")
    return int(mid) if mid is not None else None


def resume_campaign(
    campaign_id: str,
    client: Any,
    *,
    journal: Journal | str | os.PathLike[str] | None = None,
    events: Any = None,
    unknown: UnknownPolicy = "keep",
    clock_margin_s: float = RECONCILE_CLOCK_MARGIN_S,
    progress: bool = True,
    max_in_flight: int = 2,
) -> CampaignResult:
    """Finish a journaled campaign: send the planned chunks, settle the unknown ones.

    A chunk in flight at a crash, or answered ambiguously, has an unknown outcome. It is never
    re-sent on a timer, only on evidence, looked for after the planned chunks are sent:

    - the receiver's webhook log (``events=``) has an event with its ``externalId``: sent;
    - ``GET /v3/deliveries``, paged over its send date +- ``DELIVERIES_DATE_MARGIN_DAYS``
      (the listing has no externalId filter), has a row with its ``externalId``: sent;
    - no such row, but the listing already shows a message dated more than ``clock_margin_s``
      after the chunk went out: not sent, so it is sent now.

    Otherwise it stays ``unknown``, listed in ``result.unknown_chunks`` with the calls that
    resolve it in ``result.note``.

    Parameters
    ----------
    campaign_id, client
        The campaign and a :class:`mta_notebook.Client`.
    journal
        The journal (or its path) the campaign was planned in.
    events
        The receiver's webhook log: an ``EventLog`` or a DataFrame with the Events columns.
    unknown
        What to do with chunks that were unknown when called and that no evidence settles:
        ``"keep"`` them unknown (default), ``"resend"`` them, or ``"skip"`` them (journaled
        ``skipped``; their recipients show as ``skipped`` in ``result.sends``).
    clock_margin_s
        How far past a chunk's send time ``/deliveries`` must list messages before "not
        listed" means "not sent" (``contract.assumptions.RECONCILE_CLOCK_MARGIN_S``).
    progress, max_in_flight
        As for :meth:`CampaignPlan.send`.
    """
    jr = journal if isinstance(journal, Journal) else Journal(journal)
    if not jr.has_campaign(campaign_id):
        raise JournalError(
            f"No campaign {campaign_id!r} in the journal {jr.path}. Pass journal= the file the "
            "campaign was planned in."
        )
    return _run(
        jr,
        campaign_id,
        client,
        progress=progress,
        events=events,
        unknown=unknown,
        clock_margin_s=clock_margin_s,
        max_in_flight=max_in_flight,
    )
