"""A plan's inputs, checked once (identity, template, window, schedule), and the typed
manifest they make with the plan's counts; a re-plan of a journaled campaign is checked
against the manifest already there."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from .._errors import CampaignError
from ..contract.assumptions import SmsOver160
from ..contract.limits import MMS_MAX_CHARS
from ._journal import Journal
from ._manifest import Manifest, shared_fields
from ._message import sms_over_160_mode, split_template
from ._recipients import CheckOptions, source_hash
from ._schedule import (
    RegionWindows,
    Window,
    WindowArg,
    as_utc,
    check_region_windows,
    parse_window,
    window_setting,
)


@dataclass(frozen=True)
class Inputs:
    """What the user asked for, checked: the template split into literals and names."""

    message: str
    sender_name: str | None
    longcode_id: int | None
    image: str | None
    tags: dict[str, str]
    window: Window | None
    send_window: tuple[str, str] | None
    us_only: bool
    region_windows: dict[str, tuple[str, str]]
    default_timezone: str | None
    scheduled_at: datetime | None
    chunk_size: int
    sms_over_160: SmsOver160
    defaults: dict[str, str]
    lits: list[str]
    names: list[str]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.names))

    @property
    def check_options(self) -> CheckOptions:
        """How texts are counted: as MMS or SMS, and what a long SMS does."""
        return {"mms": self.image is not None, "sms_over_160": self.sms_over_160}

    def id_key(self, digest: str) -> list[Any]:
        """What the default campaign id hashes: every input that decides who gets what."""
        return [
            *(self.message, self.sender_name, self.longcode_id, self.image, self.tags),
            # the default quiet hours hash as no window did, so re-planning a campaign
            # journaled before they were the default finds it (and never sends it twice)
            list(self.send_window) if self.send_window and not self.us_only else None,
            self.scheduled_at and self.scheduled_at.isoformat(),
            *(self.chunk_size, digest),
            # only when given, so the ids of campaigns planned without them do not change
            *([sorted(self.region_windows.items())] if self.region_windows else []),
        ]

    def manifest(
        self, cid: str, send_ok: pd.DataFrame, *, digest: str, source: str | None, **counts: int
    ) -> Manifest:
        """The manifest of the plan (``send_ok``: its rows that are sent; ``counts``: the
        ``skipped`` rows and the ``chunks``)."""
        return Manifest(
            **shared_fields(self, Manifest),
            campaign_id=cid,
            created_by=f"{_user()}@{socket.gethostname()}",
            input_hash=digest,
            input_source=source,
            source_sha256=source_hash(source),
            recipients=len(send_ok),
            credits=int(send_ok["credits"].sum()),
            encoding="UCS-2" if (send_ok["encoding"] == "UCS-2").any() else "GSM-7",
            skipped=counts["skipped"],
            chunks=counts["chunks"],
        )


def checked_inputs(
    message: str,
    sender_name: str | None,
    longcode_id: int | None,
    *,
    image: str | None,
    tags: Mapping[str, str] | None,
    send_window: WindowArg,
    region_windows: RegionWindows | None = None,
    default_timezone: str | None = None,
    scheduled_at: datetime | str | None,
    chunk_size: int,
    defaults: Mapping[str, str] | None,
    sms_over_160: str,
) -> Inputs:
    """Refuse a plan without an identity or a message, with a bad window or chunk size, or
    whose template alone is over MTA's limit."""
    mode = sms_over_160_mode(sms_over_160)
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
    lits, names = split_template(message)
    static_len = sum(len(x) for x in lits)
    if static_len > MMS_MAX_CHARS:
        raise CampaignError(
            f"The message is {static_len} characters before filling placeholders; MTA's limit "
            f"is {MMS_MAX_CHARS}. Shorten it."
        )
    effective, us_only = window_setting(send_window)
    if default_timezone is not None:
        _check_zone(default_timezone)
    return Inputs(
        message=message,
        sender_name=sender_name,
        longcode_id=longcode_id,
        image=image,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        window=parse_window(effective),
        send_window=effective,
        us_only=us_only,
        region_windows=check_region_windows(region_windows),
        default_timezone=default_timezone,
        scheduled_at=as_utc(scheduled_at),
        chunk_size=chunk_size,
        sms_over_160=mode,
        defaults=dict(defaults or {}),
        lits=lits,
        names=names,
    )


def check_reuse(jr: Journal, new: Manifest) -> str:
    """Refuse re-planning a journaled campaign id with other inputs; the reuse warning."""
    cid = new.campaign_id
    old = jr.read_manifest(cid)
    fields = ("input_hash", "message", "sender_name", "longcode_id", "image", "chunk_size")
    if any(getattr(old, f) != getattr(new, f) for f in fields):
        raise CampaignError(
            f"Campaign {cid!r} is already in the journal {jr.path} with a different message, "
            "identity or recipient list. Pass a new campaign_id=, or resume_campaign("
            f"{cid!r}, client) to finish the journaled one."
        )
    # Not part of the campaign id (re-planning must find the journaled campaign, never make
    # a second one for the same people), so a different choice is refused here instead.
    if old.sms_over_160 is not None and old.sms_over_160 != new.sms_over_160:
        raise CampaignError(
            f"Campaign {cid!r} was planned in {jr.path} with sms_over_160={old.sms_over_160!r}, "
            f"not {new.sms_over_160!r}; its chunks are fixed. Plan again with "
            f"sms_over_160={old.sms_over_160!r}, or plan the recipients it skipped "
            "(plan.skipped) as a new campaign."
        )
    kept = ""
    if old.send_window != new.send_window:
        kept = (
            f" Its chunks are fixed: it keeps the send window it was planned with "
            f"({old.send_window!r}, not {new.send_window!r})."
        )
    if dict(old.region_windows) != dict(new.region_windows):
        kept += (
            f" Its chunks are fixed: it keeps the region windows it was planned with "
            f"({dict(old.region_windows)!r}, not {dict(new.region_windows)!r})."
        )
    return (
        f"Campaign {cid!r} was already planned in {jr.path}; sending sends only chunks "
        "still planned." + kept
    )


def _check_zone(name: str) -> None:
    """Refuse a ``default_timezone`` that is not an IANA zone."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(str(name))
    except (KeyError, ValueError) as exc:
        raise CampaignError(
            f"default_timezone {name!r} is not a time zone; pass an IANA name like "
            "'America/New_York'."
        ) from exc


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
