"""The loaded list (usable rows and rejected rows, accounted) and what an upload did."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pandas as pd

from ..contract.limits import BULK_MAX_RECORDS
from ..display._html import HtmlRepr, card
from ..display._words import percent
from ._read import _frame

Reason = Literal["missing-phone", "invalid-phone", "duplicate", "opted-out"]
#: Why a row is in ``SubscriberList.rejected``: one code per row.
REASONS: Final[tuple[Reason, ...]] = ("missing-phone", "invalid-phone", "duplicate", "opted-out")


@dataclass
class UploadResult(HtmlRepr):
    """What :meth:`SubscriberList.to_mta` did: one row per record in each table."""

    created: pd.DataFrame
    updated: pd.DataFrame
    errors: pd.DataFrame
    requests: int = 0

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter((self.created, self.updated, self.errors))

    def __repr__(self) -> str:
        return (
            f"UploadResult(created={len(self.created)}, updated={len(self.updated)}, "
            f"errors={len(self.errors)}, requests={self.requests})"
        )

    def as_html(self) -> str:
        facts = {
            "created": len(self.created),
            "updated": len(self.updated),
            "errors": len(self.errors),
            "requests": self.requests,
        }
        tables = [("Errors (first 10)", self.errors.head(10))] if len(self.errors) else []
        return card(
            "Upload to MTA", facts, tables=tables, tone="warn" if len(self.errors) else "ok"
        )


class _Summary(pd.DataFrame):
    """:meth:`SubscriberList.summary`: numbers for code, each share shown as a percentage.

    ``share`` stays a fraction (``0.892683``) for code that reads it; a notebook cell and
    ``repr`` show it as the list's card does (``89.3 %``). Any operation on it gives back a
    plain DataFrame (pandas builds results with the base class).
    """

    def _shown(self) -> pd.DataFrame:
        shown: pd.DataFrame = pd.DataFrame(self, copy=True)
        shown["share"] = shown["share"].map(percent)
        return shown

    def _repr_html_(self) -> str | None:
        html: str | None = self._shown()._repr_html_()  # type: ignore[operator]
        return html

    def __repr__(self) -> str:
        return repr(self._shown())


@dataclass
class SubscriberList(HtmlRepr):
    """A loaded subscriber list: usable rows in ``df``, the others in ``rejected``.

    ``df`` columns: ``phone`` (E.164), ``email``, ``first_name``, ``last_name``,
    ``subscriber_id`` (when known), ``source_row`` (1-based data row), ``region`` (ISO country),
    ``timezone`` (IANA, from the number; ``<NA>`` when it may be in several or none) and
    ``timezones`` (every zone it may be in, ``|``-joined), then every other source column in
    snake_case.
    ``rejected``: the original columns plus ``source_row``, ``reason`` and ``detail``.
    ``len(df) + len(rejected) == rows_read``.
    """

    df: pd.DataFrame
    rejected: pd.DataFrame
    rows_read: int
    source: str | None = None
    default_region: str | None = "US"
    columns: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.df)

    def summary(self) -> _Summary:
        """Rows by outcome: ``loaded`` and each rejection reason, with their share of rows read.

        ``share`` is a fraction; a notebook shows it as a percentage, as the list's card does.

        Examples
        --------
        >>> from mta_notebook import load_subscribers
        >>> subs = load_subscribers(pd.DataFrame({"phone": ["312-555-0123", "", "12"]}))
        >>> subs.summary()["rows"].to_dict()
        {'loaded': 1, 'missing-phone': 1, 'invalid-phone': 1, 'duplicate': 0, 'opted-out': 0}
        >>> subs.summary()["share"].tolist()[:2]  # fractions, for code
        [0.3333333333333333, 0.3333333333333333]
        >>> print(subs.summary())  # doctest: +NORMALIZE_WHITESPACE
                       rows   share
        outcome
        loaded            1  33.3 %
        missing-phone     1  33.3 %
        invalid-phone     1  33.3 %
        duplicate         0   0.0 %
        opted-out         0   0.0 %
        """
        reasons = self.rejected["reason"].tolist() if len(self.rejected) else []
        rows = {"loaded": len(self.df)} | {r: reasons.count(r) for r in REASONS}
        out: _Summary = _Summary({"rows": pd.Series(rows, dtype="int64")})
        out["share"] = out["rows"] / self.rows_read if self.rows_read else 0.0
        out.index.name = "outcome"
        return out

    def __repr__(self) -> str:
        where = f" from {self.source}" if self.source else ""
        parts = ", ".join(
            f"{k}={v}" for k, v in self.summary()["rows"].items() if k != "loaded" and v
        )
        return (
            f"SubscriberList({len(self.df)} of {self.rows_read} rows{where}"
            f"{'; rejected: ' + parts if parts else ''})"
        )

    def as_html(self) -> str:
        summary = self.summary()._shown().reset_index()
        facts: dict[str, object] = {"source": self.source} if self.source else {}
        facts |= {
            "usable": len(self.df),
            "rows read": self.rows_read,
            "rejected": len(self.rejected),
        }
        tables = [("By outcome", summary), ("Sample", self.df.head(5))]
        if len(self.rejected):
            cols = [c for c in ("source_row", "reason", "detail") if c in self.rejected]
            tables.append(("Rejected (first 5)", self.rejected[cols].head(5)))
        return card("Subscriber list", facts, tables=tables)

    def records(self, group_id: int | None = None) -> list[dict[str, Any]]:
        """The rows as MTA subscriber records (``e164Number``, ``firstName``, ...)."""
        records = []
        names = {"first_name": "firstName", "last_name": "lastName", "email": "email"}
        for row in self.df.to_dict("records"):
            rec: dict[str, Any] = {"e164Number": row["phone"]}
            for col, key in names.items():
                value = row.get(col)
                if isinstance(value, str) and value.strip():
                    rec[key] = value.strip()
            if group_id is not None:
                rec["groupIds"] = [int(group_id)]
            records.append(rec)
        return records

    def to_mta(
        self,
        client: Any,
        group_id: int | None = None,
        *,
        create_only: bool = False,
        progress: bool = True,
    ) -> UploadResult:
        """Create or update these subscribers on MTA, in batches of at most 1,000.

        Parameters
        ----------
        client
            A :class:`~mta_notebook.Client` (anything with ``bulk_upsert_subscribers``).
        group_id
            Also add every subscriber to this group.
        create_only
            Only create; existing numbers come back as errors.
        progress
            Show a progress bar.

        Returns
        -------
        UploadResult
            ``created``, ``updated`` and ``errors`` DataFrames (MTA's records, plus
            ``source_row`` where the number matches a row of ``df``; ``errors`` has ``error``).

        Examples
        --------
        >>> from mta_notebook import load_subscribers, sample_path
        >>> subs = load_subscribers(sample_path("subscribers.csv"))
        >>> result = subs.to_mta(client, progress=False)  # client: a Client (here on a sandbox)
        >>> len(result.created) + len(result.updated) == len(subs), len(result.errors)
        (True, 0)
        """
        from tqdm.auto import tqdm

        records = self.records(group_id)
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        requests = 0
        with tqdm(total=len(records), unit="sub", desc="upload", disable=not progress) as bar:
            for start in range(0, len(records), BULK_MAX_RECORDS):
                batch = records[start : start + BULK_MAX_RECORDS]
                result = client.bulk_upsert_subscribers(batch, create_only=create_only)
                created += list(result.created)
                updated += list(result.updated)
                errors += list(result.errors)
                requests += int(getattr(result, "requests", 1) or 1)
                bar.update(len(batch))
        rows = dict(zip(self.df["phone"], self.df["source_row"], strict=True))
        return UploadResult(
            created=_records_frame(created, rows),
            updated=_records_frame(updated, rows),
            errors=_records_frame(errors, rows),
            requests=requests,
        )

    upload = to_mta  # the same call under the name other tools use


def _records_frame(records: list[dict[str, Any]], rows: Mapping[Any, Any]) -> pd.DataFrame:
    frame = _frame(records)
    if "e164Number" in frame:
        frame.insert(0, "source_row", frame["e164Number"].map(rows).astype("Int64"))
    return frame
