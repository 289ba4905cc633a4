"""The recipients of a plan, checked row by row (vectorised): phone, placeholder values,
filled length and cost; a row that cannot be sent gets a ``skip_reason`` and a ``detail``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from .._errors import CampaignError
from ..contract.assumptions import SmsOver160
from ..contract.limits import SMS_MAX_CHARS
from ..contract.segments import segments
from ..display._words import count, verb
from ._message import (
    E164,
    ValueFacts,
    clean_strings,
    credits_of,
    max_chars,
    segment_counts,
    snake,
    value_facts,
)


class CheckOptions(TypedDict):
    """How texts are counted: as MMS (``mms``) or SMS, and what a long SMS does."""

    mms: bool
    sms_over_160: SmsOver160


#: Skip reasons, in the order the plan's warnings list them.
SKIP_REASONS = ("missing-value", "invalid-phone", "missing-phone", "duplicate", "too-long")


def recipients_frame(recipients: Any) -> tuple[pd.DataFrame, str | None]:
    """The recipients as a DataFrame with a ``phone`` column, and the file they came from."""
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


def source_hash(source: str | None) -> str | None:
    """The SHA-256 of the file the recipients were read from (None: not a file)."""
    if source is None or not os.path.isfile(source):
        return None
    h = hashlib.sha256()
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Checked:
    """Every recipient row, checked: phone text, the values sent per placeholder, their
    facts, and per row the encoding, segments, credits and skip reason."""

    phones: pd.Series
    values: dict[str, pd.Series]
    facts: dict[str, ValueFacts]
    is_gsm: np.ndarray[Any, Any]
    segments: np.ndarray[Any, Any]
    credits: np.ndarray[Any, Any]
    reason: np.ndarray[Any, Any]
    detail: np.ndarray[Any, Any]
    bad_chars: dict[str, tuple[str, ...]]
    max_chars: int

    @property
    def ok(self) -> np.ndarray[Any, Any]:
        """Rows that will be sent."""
        out: np.ndarray[Any, Any] = pd.isna(self.reason)
        return out


def placeholder_columns(
    df: pd.DataFrame, placeholders: tuple[str, ...], defaults: Mapping[str, str]
) -> dict[str, str]:
    """The column each placeholder reads (``firstName`` may read ``first_name``); an error
    names the placeholders with neither a column nor a default."""
    cols = {p: (p if p in df.columns else snake(p)) for p in placeholders}
    missing = [p for p, c in cols.items() if c not in df.columns and p not in defaults]
    if missing:
        raise CampaignError(
            f"The message uses {', '.join('{{' + p + '}}' for p in missing)} but recipients "
            f"has no such column (columns: {list(df.columns)[:15]}). Add the column, fix the "
            "placeholder, or pass defaults={...}."
        )
    return cols


def _phone_reasons(phones: pd.Series) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    # Plain object arrays: pandas' Arrow strings are slow to convert row by row at 1M rows.
    n = len(phones)
    reason: np.ndarray[Any, Any] = np.full(n, None, dtype=object)
    detail: np.ndarray[Any, Any] = np.full(n, None, dtype=object)
    is_missing = phones.isna().to_numpy()
    reason[is_missing] = "missing-phone"
    bad = ~is_missing & ~phones.str.fullmatch(E164.pattern).fillna(False).to_numpy(bool)
    reason[bad] = "invalid-phone"
    detail[bad] = "not E.164 (like +13125550123); normalise with load_subscribers()"
    dup = ~is_missing & ~bad & phones.duplicated(keep="first").to_numpy()
    reason[dup] = "duplicate"
    detail[dup] = "the same phone appears earlier; it is sent once"
    return reason, detail


def _values(
    df: pd.DataFrame,
    cols: Mapping[str, str],
    defaults: Mapping[str, str],
    reason: np.ndarray[Any, Any],
    detail: np.ndarray[Any, Any],
) -> dict[str, pd.Series]:
    """Per-placeholder values, with defaults; a recipient missing a value is skipped."""
    values: dict[str, pd.Series] = {}
    for p, c in cols.items():
        if c in df.columns:
            v = clean_strings(df[c])
        else:
            v = pd.Series(pd.NA, index=df.index, dtype="string")
        if p in defaults:
            v = v.fillna(str(defaults[p]))
        absent = v.isna().to_numpy() & pd.isna(reason)
        if absent.any():
            reason[absent] = "missing-value"
            detail[absent] = [f"{d} {{{{{p}}}}}" if d else f"{{{{{p}}}}}" for d in detail[absent]]
        values[p] = v.fillna("")
    miss = reason == "missing-value"
    detail[miss] = ["no value for " + str(d) for d in detail[miss]]
    return values


def _filled(
    lits: list[str], names: list[str], values: Mapping[str, pd.Series], rows: np.ndarray[Any, Any]
) -> list[str]:
    """The filled texts of ``rows``."""
    cols = [values[p].to_numpy(dtype=object)[rows] for p in names]
    out = []
    for i in range(len(rows)):
        parts = [lits[0]]
        for k in range(len(names)):
            parts += [str(cols[k][i]), lits[k + 1]]
        out.append("".join(parts))
    return out


def check_recipients(
    df: pd.DataFrame,
    lits: list[str],
    names: list[str],
    cols: Mapping[str, str],
    *,
    defaults: Mapping[str, str],
    mms: bool,
    sms_over_160: SmsOver160,
) -> Checked:
    """Check every row: phone, values, and the filled text's length, segments and credits
    (the literal parts once, each placeholder once per distinct value)."""
    phones = clean_strings(df["phone"])
    reason, detail = _phone_reasons(phones)
    values = _values(df, cols, defaults, reason, detail)
    n = len(df)
    lit = value_facts(np.array(["".join(lits)], dtype=object))
    gsm = np.full(n, int(lit.gsm[0]), dtype=np.int64)
    utf16 = np.full(n, int(lit.utf16[0]), dtype=np.int64)
    chars = np.full(n, int(lit.chars[0]), dtype=np.int64)
    bad_chars: dict[str, tuple[str, ...]] = dict(lit.bad)
    facts = {p: value_facts(values[p]) for p in cols}
    for p in names:  # every occurrence counts
        f = facts[p]
        gsm = np.where((gsm < 0) | (f.gsm < 0), -1, gsm + f.gsm)
        utf16 = utf16 + f.utf16
        chars = chars + f.chars
        bad_chars.update(f.bad)
    is_gsm = gsm >= 0
    segs = segment_counts(is_gsm, np.where(is_gsm, gsm, utf16))
    # Two-unit characters can push a concatenated text into one more segment (a character
    # never straddles two): those few texts are filled and counted by the contract.
    exact = np.flatnonzero((segs > 1) & np.where(is_gsm, gsm > chars, utf16 > chars))
    if len(exact):
        segs[exact] = [segments(t) for t in _filled(lits, names, values, exact)]
    limit = max_chars(mms, sms_over_160)
    too_long = (chars > limit) & pd.isna(reason)
    reason[too_long] = "too-long"
    what = "an SMS" if limit == SMS_MAX_CHARS else "MTA's limit"
    detail[too_long] = [
        f"{k} characters after filling; {what} is {limit}" for k in chars[too_long].tolist()
    ]
    return Checked(
        phones=phones,
        values=values,
        facts=facts,
        is_gsm=is_gsm,
        segments=segs,
        credits=credits_of(mms, sms_over_160, segs),
        reason=reason,
        detail=detail,
        bad_chars=bad_chars,
        max_chars=limit,
    )


def plan_frame(checked: Checked, chunk: np.ndarray[Any, Any], tz: pd.Series | None) -> pd.DataFrame:
    """The plan's ``recipients`` table: one row per input row."""
    ok = checked.ok
    df = pd.DataFrame(
        {
            "phone": checked.phones,
            "chunk": pd.array(np.where(chunk > 0, chunk, 0), dtype="Int64").copy(),
            "encoding": np.where(checked.is_gsm, "GSM-7", "UCS-2"),
            "segments": checked.segments,
            "credits": checked.credits,
            "skip_reason": checked.reason,
            "detail": checked.detail,
        }
    )
    df.loc[chunk <= 0, "chunk"] = pd.NA
    for p, v in checked.values.items():  # the values sent (stripped, defaults applied)
        if p not in df.columns:
            df[p] = v.where(ok)
    if tz is not None:
        df["timezone"] = tz
    df.loc[~ok, ["encoding", "segments", "credits"]] = [pd.NA, 0, 0]
    out: pd.DataFrame = df
    return out


def skipped_rows(checked: Checked) -> list[tuple[Any, ...]]:
    """``(seq, phone, reason, detail)`` of every row that is not sent, for the journal."""
    idx = np.flatnonzero(~checked.ok)
    phones = [None if pd.isna(x) else str(x) for x in checked.phones.iloc[idx].tolist()]
    return list(
        zip(
            idx.tolist(),
            phones,
            checked.reason[idx].tolist(),
            checked.detail[idx].tolist(),
            strict=True,
        )
    )


def plan_warnings(
    plan_df: pd.DataFrame, checked: Checked, *, mms: bool, sms_over_160: SmsOver160
) -> list[str]:
    """What the user should know before sending: UCS-2 texts, billed segments, international
    numbers, and the rows skipped by reason."""
    warnings: list[str] = []
    send_ok = plan_df[checked.ok]
    n_ucs2 = int((send_ok["encoding"] == "UCS-2").sum())
    if n_ucs2:
        chars = "".join(dict.fromkeys(ch for t in checked.bad_chars.values() for ch in t))[:20]
        warnings.append(
            f"{count(n_ucs2, 'message')} {verb(n_ucs2, 'is', 'are')} UCS-2 (70 characters per "
            "segment) because of "
            f"{chars!r}; replace those characters to use GSM-7 (160)."
        )
    multi = int((send_ok["segments"] > 1).sum()) if not mms and sms_over_160 == "segments" else 0
    if multi:
        warnings.append(
            f"{count(multi, 'message')} {verb(multi, 'is', 'are')} longer than one SMS "
            "segment (up to "
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
            f"{count(intl, 'recipient')} "
            + ("has a number" if intl == 1 else "have numbers")
            + " outside North America: MTA sends to them only if "
            "international messaging is enabled on the account; otherwise they are counted in "
            "totalFailedInternationalRecipients and get no delivery events (pending)."
        )
    for code in SKIP_REASONS:
        k = int((checked.reason == code).sum())
        if not k:
            continue
        if code == "too-long" and checked.max_chars == SMS_MAX_CHARS:
            warnings.append(
                f"{count(k, 'recipient')} skipped: too-long: their text is over {SMS_MAX_CHARS} "
                "characters "
                f"after filling, and MTA's developer docs say an SMS is {SMS_MAX_CHARS} "
                "characters (a longer one is refused: 400 'Character Limit Exceeded'). Shorten "
                "the message, send it as MMS with image=..., or plan with "
                "sms_over_160='segments' if your account splits long SMS into billed segments "
                "(see plan.skipped)."
            )
        else:
            warnings.append(f"{count(k, 'recipient')} skipped: {code} (see plan.skipped).")
    if not len(send_ok):
        warnings.append("No recipient can be sent to.")
    return warnings
