"""The one-command demo: a whole campaign on the embedded sandbox, from list to report."""

from __future__ import annotations

import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DemoResult", "run_demo"]

# The two Sender Identities the sandbox ships with; half of the list goes through each.
IDENTITIES = ("Acme", "Acme Deals")
MESSAGE = (
    "Hi {{first_name}}, our winter sale starts today: 20% off in store. Reply STOP to opt out."
)


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced: the delivery report and where the files are."""

    report: pd.DataFrame
    sends: pd.DataFrame
    report_path: Path
    journal_path: Path
    log_dir: Path
    seconds: float


def run_demo(
    out_dir: str | Path = "out",
    *,
    subscribers: str | Path | None = None,
    seed: int = 7,
    time_scale: float = 200.0,
    stream: TextIO = sys.stdout,
) -> DemoResult:
    """Run the demo: sandbox + receiver, load, plan, send through two identities, report.

    Everything runs on loopback against the embedded sandbox; no account is needed. ``out_dir``
    is emptied of earlier demo files first, so each run is a fresh campaign.
    """
    import pandas as pd

    from . import sandbox
    from ._client import Client
    from ._samples import sample_path
    from .analytics import delivery_report
    from .campaigns import Journal, plan_campaign
    from .display import save_report
    from .events import read_webhook_log, register_webhooks, running_receiver
    from .subscribers import load_subscribers

    started = time.monotonic()
    out = Path(out_dir)
    log_dir = out / "webhooks"
    journal_path = out / "mta_journal.sqlite"
    report_path = out / "report.html"
    shutil.rmtree(log_dir, ignore_errors=True)
    for stale in (journal_path, report_path, report_path.with_suffix(".csv")):
        stale.unlink(missing_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    source = Path(subscribers) if subscribers is not None else sample_path("subscribers.csv")
    subs = load_subscribers(source)
    say(f"Loaded {source}: {len(subs)} usable subscribers, {len(subs.rejected)} rejected")
    for reason, count in subs.summary()["rows"].items():
        if reason != "loaded" and count:
            say(f"  rejected as {reason}: {count}")

    hook_secret = secrets.token_hex(32)
    with (
        sandbox.running(seed=seed, time_scale=time_scale) as sb,
        running_receiver(secret=hook_secret, out_dir=log_dir) as rx,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
        Journal(journal_path) as journal,
    ):
        say(f"Sandbox at {sb.base_url}; webhook receiver at {rx.url}")
        register_webhooks(client, rx.url, hook_secret)
        halves = [subs.df.iloc[i :: len(IDENTITIES)] for i in range(len(IDENTITIES))]
        for identity, part in zip(IDENTITIES, halves, strict=True):
            # the sandbox rehearses at once; a real audience gets quiet hours (08:00-21:00 local)
            plan = plan_campaign(
                part,
                MESSAGE,
                sender_name=identity,
                chunk_size=25,
                journal=journal,
                send_window=False,
            )
            s = plan.summary
            say(
                f"Sending {plan.campaign_id} via {identity!r}: {s['recipients']} recipients, "
                f"{s['chunks']} chunks, {s['credits']} credits"
            )
            for warning in s["warnings"]:
                say(f"  note: {warning}")
            result = plan.send(client, confirm=True, progress=False)
            say(f"  sent: {result.counts}")
        say("Waiting for the webhooks ...")
        sb.settle()
        sends = journal.sends()

    events = read_webhook_log(log_dir, secret=hook_secret)
    say(f"Received {len(events.df)} webhook events ({len(events.rejected)} rejected)")
    report = delivery_report(events, sends)
    save_report(
        report_path, events, sends, title="mta-notebook demo: delivery per identity", csv=True
    )
    from .analytics import compare_routes
    from .contract.statuses import status_label
    from .display._tables import readable_frame

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        say("\nDelivery per Sender Identity and route:")
        say(readable_frame(report).to_string(index=False))
    for verdict in compare_routes(events, sends)["verdict"]:
        say(f"  {verdict}")
    say(
        f"Delivery rate = delivered / (delivered + failed); "
        f"{int(report['unconfirmed'].sum())} unconfirmed "
        f"({status_label('delivery_unconfirmed')}) and {int(report['pending'].sum())} pending "
        "are in neither side"
    )
    seconds = time.monotonic() - started
    say(
        f"\nReport: {report_path} (table: {report_path.with_suffix('.csv').name})   "
        f"Journal: {journal_path}   ({seconds:.1f} s)"
    )
    return DemoResult(report, sends, report_path, journal_path, log_dir, seconds)
