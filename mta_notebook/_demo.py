"""The one-command demo: a whole campaign on the embedded sandbox, from list to report."""

from __future__ import annotations

import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DemoResult", "run_demo"]

# The two Sender Identities the sandbox ships with; the list is split at random between them.
IDENTITIES = ("Acme", "Acme Deals")
SPLIT = {"Acme": 0.5, "Acme Deals": 0.5}
MESSAGE = (
    "Hi {{first_name}}, our winter sale starts today: 20% off in store. Reply STOP to opt out."
)
#: Your own phone, for the test message before the campaign (not on the list).
OWN_NUMBER = "+13125550999"
#: Subscribers who text each identity before the campaign (the sandbox's opt-in endpoint), so
#: the plan can predict its iMessage share from the number-opt-in events in the log.
OPT_INS = {"Acme": 8, "Acme Deals": 4}
PRICE_PER_CREDIT = 0.02


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced: the delivery report, its inputs and where the files are."""

    report: pd.DataFrame
    sends: pd.DataFrame
    report_path: Path
    journal_path: Path
    log_dir: Path
    seconds: float
    events: pd.DataFrame
    experiments: pd.DataFrame
    audience: tuple[str, ...]
    test_recipients: tuple[str, ...]


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
    from .analytics import compare_identities, cost_report, delivery_report
    from .analytics._reach import percent_label
    from .campaigns import Journal, plan_experiment, read_experiments
    from .display import save_report
    from .display._words import count
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
    say(f"Loaded {source}: {count(len(subs), 'usable subscriber')}, {len(subs.rejected)} rejected")
    for reason, n in subs.summary()["rows"].items():
        if reason != "loaded" and n:
            say(f"  rejected as {reason}: {n}")

    hook_secret = secrets.token_hex(32)
    with (
        sandbox.running(seed=seed, time_scale=time_scale) as sb,
        running_receiver(secret=hook_secret, out_dir=log_dir) as rx,
        Client(api_key=sb.api_key, base_url=sb.base_url) as client,
        Journal(journal_path) as journal,
    ):
        say(f"Sandbox at {sb.base_url}; webhook receiver at {rx.url}")
        register_webhooks(client, rx.url, hook_secret)
        reach = _opt_in_some(sb, list(subs.df["phone"]), log_dir, hook_secret)
        say(
            "Before the campaign: "
            + ", ".join(f"{count(n, 'subscriber')} texted {name}" for name, n in OPT_INS.items())
            + f" to opt in ({count(len(reach), 'number-opt-in event')} in the log)"
        )
        # the sandbox rehearses at once; a real audience gets quiet hours (08:00-21:00 local)
        plans = plan_experiment(
            subs,
            MESSAGE,
            split=SPLIT,
            seed=seed,
            journal=journal,
            reachable=reach,
            chunk_size=25,
            send_window=False,
        )
        assert plans.experiment is not None  # plan_experiment always records one
        say(
            f"Randomized split {plans.experiment.experiment_id} (seed {seed}): "
            f"{count(plans.recipients, 'recipient')}, {count(plans.credits, 'credit')}"
        )
        for plan in plans:
            predicted = plan.predicted_imessage
            share = percent_label(*predicted) if predicted is not None else "unknown"
            say(
                f"  {plan.sender_name}: {count(len(plan.to_send), 'recipient')} in "
                f"{count(int(plan.to_send['chunk'].nunique()), 'chunk')}, "
                f"{count(int(plan.to_send['credits'].sum()), 'credit')}; "
                f"predicted by iMessage: {share} (opted in before the send)"
            )
            for warning in plan.warnings:
                say(f"    note: {warning}")
        test = plans[0].test_send(client, [OWN_NUMBER])
        say(f"Test message from {plans[0].sender_name} to {OWN_NUMBER} (left out of the report)")
        results = plans.send(client, confirm=True, progress=False)
        for result in results:
            sent = result.counts.get("sent", 0)
            say(f"  sent {count(sent, 'message')} via {result.sends['sender_name'].iloc[0]}")
        say("Waiting for the webhooks ...")
        sb.settle()
        sends = journal.sends()
        experiments = read_experiments(journal)

    events = read_webhook_log(log_dir, secret=hook_secret)
    say(f"Received {count(len(events.df), 'webhook event')} ({len(events.rejected)} rejected)")
    save_report(
        report_path,
        events,
        sends,
        title="mta-notebook demo: delivery per identity",
        csv=True,
        experiments=experiments,
        subscribers=subs,
        price_per_credit=PRICE_PER_CREDIT,
    )
    report = delivery_report(events, sends)
    from .analytics import compare_routes, optin_reach
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
        f"[{status_label('delivery_unconfirmed')}] and {int(report['pending'].sum())} pending "
        "(no final status yet) are in neither side"
    )
    campaigns = list(experiments["campaign_id"])
    overall = compare_identities(events, sends, campaigns=campaigns)
    say("\nIdentities compared (randomized split):")
    for verdict in overall.loc[overall["scope"] == "overall", "verdict"]:
        say(f"  {verdict}")
    cost = cost_report(events, sends, price_per_credit=PRICE_PER_CREDIT)
    spent, delivered = int(cost["credits"].sum()), int(cost["delivered"].sum())
    say(
        f"Cost: {count(spent, 'credit')} spent ({spent * PRICE_PER_CREDIT:.2f} at "
        f"{PRICE_PER_CREDIT} per credit), {spent / max(delivered, 1):.2f} credits per "
        "delivered message"
    )
    for label in optin_reach(events, subs).summary["label"]:
        say(f"Reach: {label}")
    seconds = time.monotonic() - started
    say(
        f"\nReport: {report_path} (table: {report_path.with_suffix('.csv').name})   "
        f"Journal: {journal_path}   ({seconds:.1f} s)"
    )
    return DemoResult(
        report,
        sends,
        report_path,
        journal_path,
        log_dir,
        seconds,
        events.df,
        experiments,
        tuple(str(p) for p in subs.df["phone"]),
        tuple(test.to),
    )


def _opt_in_some(sb: Any, phones: list[str], log_dir: Path, secret: str) -> pd.DataFrame:
    """Opt the first few subscribers in to each identity through the sandbox, wait for their
    number-opt-in webhooks, and return :func:`reachable` of the log."""
    from .analytics import reachable
    from .events import read_webhook_log

    wanted = 0
    offset = 0
    for name, n in OPT_INS.items():
        for phone in phones[offset : offset + n]:
            sb.opt_in(phone, name)
            wanted += 1
        offset += n
    sb.settle()
    deadline = time.monotonic() + 10
    while True:  # the receiver writes each webhook as it comes; settle waits for them to go out
        df = read_webhook_log(log_dir, secret=secret).df
        got = int((df["event"] == "number-opt-in").sum()) if len(df) else 0
        if got >= wanted or time.monotonic() > deadline:
            return reachable(df)
        time.sleep(0.05)
