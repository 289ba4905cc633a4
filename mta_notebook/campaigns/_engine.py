"""The send engine: send a journaled campaign chunk by chunk, stop cleanly, resume safely.

Each chunk is journaled ``in_flight`` before its request and moved by its answer. The engine
never retries: the client's request pipeline is the one retry policy. A chunk refused for the
rate limit (after the client's own retries) goes back to ``planned`` and waits for the next
run; a chunk of unknown outcome is settled from evidence (:mod:`._reconcile`) and sent again
only when that evidence shows it was not sent, or when the user says ``unknown="resend"``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from .._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    CampaignError,
    ConfigError,
    JournalError,
    PermissionDeniedError,
    RateLimitError,
    SendOutcomeUnknown,
)
from ..contract.assumptions import RECONCILE_CLOCK_MARGIN_S
from ._journal import Journal
from ._manifest import Manifest
from ._reconcile import ListsDeliveries, events_frame, message_id, reconcile
from ._results import ALREADY_SENT, CampaignResult, UnknownPolicy, run_note
from ._schedule import chunk_window, parse_window, scheduled_date
from ._schema import ChunkState, utcnow

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._models import SendFields

__all__ = ["CampaignClient", "resume_campaign"]


class CampaignClient(ListsDeliveries, Protocol):
    """What the engine needs of a client (:class:`mta_notebook.Client` has it): ``send`` one
    chunk, and list ``GET /v3/deliveries`` to reconcile."""

    def send(self, **fields: Unpack[SendFields]) -> Any: ...


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


# -- one chunk -------------------------------------------------------------------------------


def _request(journal: Journal, manifest: Manifest, chunk: int) -> dict[str, Any]:
    """The ``client.send`` fields of one chunk, with its ``scheduled_date`` (None: right away)."""
    cid = manifest.campaign_id
    row = journal.chunk(cid, chunk)
    phones, props = journal.chunk_recipients(cid, chunk)
    req: dict[str, Any] = {
        "subscribers": phones,
        "message": manifest.message,
        "external_id": row["external_id"],
        "tags": {**manifest.tags, "campaign_id": cid, "chunk": str(chunk)},
    }
    if manifest.sender_name is not None:
        req["sender_name"] = manifest.sender_name
    if manifest.longcode_id is not None:
        req["longcode_id"] = manifest.longcode_id
    if manifest.image:
        req["image"] = manifest.image
    if props:
        req["properties"] = dict(zip(phones, props, strict=True))
    # a chunk has one window: its region's (by its first number's prefix), else send_window
    first = phones[0] if phones else None
    window = parse_window(chunk_window(first, manifest.send_window, manifest.region_windows))
    req["scheduled_date"] = scheduled_date(utcnow(), row["timezone"], window, manifest.scheduled_at)
    return req


def _send_chunk(
    journal: Journal, manifest: Manifest, ch: int, client: CampaignClient
) -> tuple[str, int]:
    """Send one chunk, once; returns the state it ends in and its recipient count."""
    cid = manifest.campaign_id
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
        # planned again, for the next run.
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
        state: ChunkState = "failed" if exc.status_code < 500 else "unknown"
        journal.move(cid, ch, state, error=str(exc)[:500])
        return state, count
    except KeyboardInterrupt:
        journal.move(cid, ch, "unknown", error="interrupted while the request was in flight")
        return "interrupted", count
    except Exception as exc:  # any other failure after the request may have left: unknown
        journal.move(cid, ch, "unknown", error=f"{type(exc).__name__}: {exc}"[:500])
        return "unknown", count
    journal.move(cid, ch, "sent", message_id=message_id(res))
    return "sent", count


# -- a run -----------------------------------------------------------------------------------


@dataclass
class _Run:
    """One send run of a campaign: its settings, its stop flag and progress bar, and the
    chunks the rate limit refused in it (they are not sent again until the next run)."""

    journal: Journal
    manifest: Manifest
    client: CampaignClient
    events: pd.DataFrame | None
    clock_margin_s: float
    max_in_flight: int
    max_unknown_in_a_row: int
    flag: _StopFlag = field(default_factory=_StopFlag)
    bar: Any = None
    refused: set[int] = field(default_factory=set)

    @property
    def cid(self) -> str:
        return self.manifest.campaign_id

    def settle(self) -> None:
        reconcile(
            self.journal,
            self.cid,
            self.client,
            events=self.events,
            clock_margin_s=self.clock_margin_s,
        )

    def send(self, chunks: Sequence[int]) -> bool:
        """Send ``chunks``; True when stopped by the user."""
        try:
            return self._send_round(chunks)
        except KeyboardInterrupt:  # no SIGINT handler (not the main thread)
            return True

    def _send_round(self, planned: Sequence[int]) -> bool:
        """Send ``planned`` chunks, at most ``max_in_flight`` at once; True when stopped.

        Each chunk is journaled ``in_flight`` before its own request, so overlapping requests
        keep the crash guarantees; overlap hides each answer's latency (the pacer still caps
        the rate).
        """
        todo = iter(planned)
        pending: dict[Future[tuple[str, int]], int] = {}
        unknown_in_a_row = 0
        stop = interrupted = False
        error: BaseException | None = None
        with ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="mta-send") as pool:
            while True:
                while not stop and len(pending) < self.max_in_flight:
                    if self.flag.stop:
                        stop = interrupted = True
                        break
                    ch = next(todo, None)
                    if ch is None:
                        break
                    args = (self.journal, self.manifest, ch, self.client)
                    pending[pool.submit(_send_chunk, *args)] = ch
                if not pending:
                    break
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    ch = pending.pop(fut)
                    try:
                        state, count = fut.result()
                    except BaseException as exc:  # nothing can be sent (auth, network): stop
                        error = error or exc
                        stop = True
                        continue
                    if state == "sent":
                        self.bar.update(count)
                        unknown_in_a_row = 0
                    elif state == "planned":
                        self.refused.add(ch)
                    elif state == "unknown":
                        unknown_in_a_row += 1
                        stop = stop or unknown_in_a_row >= self.max_unknown_in_a_row
        if error is not None:
            raise error
        return interrupted

    def rounds(self, max_rounds: int) -> bool:
        """Send the planned chunks, settle the unknown ones, and send those found not sent;
        True when stopped by the user."""
        for _round in range(max_rounds):
            # Planned chunks go first: their recipients are not the unknown chunks', and once
            # they are out the listing holds messages dated after the unknown ones, which is
            # what lets "not listed" mean "not sent".
            planned = self._sendable()
            if planned and self.send(planned):
                return True
            if self.journal.chunk_ids(self.cid, "unknown"):
                self.settle()
            if not self._sendable():
                break
        return False

    def _sendable(self) -> list[int]:
        return [c for c in self.journal.chunk_ids(self.cid, "planned") if c not in self.refused]

    def decide(self, unknown: UnknownPolicy, asked: set[int]) -> tuple[list[int], bool]:
        """Apply ``unknown=`` to the chunks that were unknown when the user asked; returns them
        and whether the user stopped the resend."""
        decided = [c for c in self.journal.chunk_ids(self.cid, "unknown") if c in asked]
        for ch in decided:
            if unknown == "skip":
                self.journal.move(
                    self.cid,
                    ch,
                    "skipped",
                    error="outcome unknown; skipped as asked (unknown='skip'), not re-sent: "
                    "its recipients may or may not have received it",
                )
            else:
                self.journal.move(
                    self.cid,
                    ch,
                    "planned",
                    detail="outcome unknown; sent again as asked (unknown='resend')",
                )
        interrupted = False
        if unknown == "resend" and decided:
            interrupted = self.send(decided)
            self.settle()
        return decided, interrupted


def _check_run(max_in_flight: int, unknown: str, clock_margin_s: float) -> None:
    if max_in_flight < 1:
        raise CampaignError(f"max_in_flight must be at least 1, got {max_in_flight}.")
    if unknown not in ("keep", "resend", "skip"):
        raise CampaignError(f"unknown must be 'keep', 'resend' or 'skip', got {unknown!r}.")
    if not clock_margin_s >= 0:
        raise CampaignError(f"clock_margin_s must be >= 0 seconds, got {clock_margin_s!r}.")


def run(
    journal: Journal,
    campaign_id: str,
    client: CampaignClient,
    *,
    progress: bool = True,
    events: Any = None,
    unknown: UnknownPolicy = "keep",
    clock_margin_s: float = RECONCILE_CLOCK_MARGIN_S,
    max_rounds: int = 3,
    max_unknown_in_a_row: int = 5,
    max_in_flight: int = 2,
) -> CampaignResult:
    """Send a journaled campaign's planned chunks and settle its unknown ones (one run)."""
    from tqdm.auto import tqdm

    _check_run(max_in_flight, unknown, clock_margin_s)
    log = events_frame(events)
    manifest = journal.read_manifest(campaign_id)
    journal.check_states(campaign_id)  # an unknown state is an error, never a skipped chunk
    journal.acquire(campaign_id)
    job = _Run(journal, manifest, client, log, clock_margin_s, max_in_flight, max_unknown_in_a_row)
    interrupted = False
    decided: list[int] = []
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
        already = not todo and not asked  # a re-run of a complete campaign: say so, send nothing
        with (
            job.flag,
            tqdm(total=todo, unit="msg", desc=campaign_id, disable=not progress, leave=True) as bar,
        ):
            job.bar = bar
            interrupted = job.rounds(max_rounds)
            if interrupted:
                job.settle()  # record what the evidence already shows; nothing more is sent
            elif unknown != "keep":
                decided, interrupted = job.decide(unknown, asked)
    finally:
        if not interrupted:
            journal.set_times(campaign_id, finished=True)
        journal.release(campaign_id)
    result = _result(journal, campaign_id, interrupted, unknown, decided)
    if already and not result.note:
        return replace(result, note=ALREADY_SENT)
    return result


def _result(
    journal: Journal,
    campaign_id: str,
    interrupted: bool,
    unknown: UnknownPolicy,
    decided: Sequence[int],
) -> CampaignResult:
    chunks = journal.chunks(campaign_id)
    path = str(journal.path)
    if interrupted:
        note = (
            f"Stopped by the user after the chunks in flight. Resume with "
            f"mta.resume_campaign({campaign_id!r}, client, journal={path!r}) or run "
            "plan.send(client, confirm=True) again: only chunks still planned are sent."
        )
        print(note, file=sys.stderr)
    else:
        note = run_note(campaign_id, chunks, path, unknown, decided)
    result = CampaignResult(campaign_id, journal.sends(campaign_id), chunks, interrupted)
    return replace(result, note=note)


def resume_campaign(
    campaign_id: str,
    client: CampaignClient,
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
    resolve it in ``result.note``. A chunk the rate limit refuses (after the client's retries)
    stays ``planned`` for the next run: the engine does not retry.

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
    return run(
        jr,
        campaign_id,
        client,
        progress=progress,
        events=events,
        unknown=unknown,
        clock_margin_s=clock_margin_s,
        max_in_flight=max_in_flight,
    )
