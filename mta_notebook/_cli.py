"""The ``mta-notebook`` command: sandbox, webhooks serve, demo, send, report, dashboard."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mta-notebook",
        description="Mobile Text Alerts campaigns and iMessage delivery analytics.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run a whole campaign on the embedded sandbox (no account)")
    demo.add_argument("--out", default="out", help="where the report, journal and log go")
    demo.add_argument("--subscribers", help="subscriber file (default: data/subscribers.csv)")
    demo.add_argument("--seed", type=int, default=7)

    sb = sub.add_parser("sandbox", help="run the local MTA API sandbox until stopped")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8765)
    sb.add_argument(
        "--api-key-file", help="file holding the key clients must send (default: MTA_API_KEY)"
    )
    sb.add_argument("--api-key", help=argparse.SUPPRESS)  # visible in ps: warned about
    sb.add_argument("--seed", type=int, default=0)
    sb.add_argument("--time-scale", type=float, default=1.0)
    sb.add_argument("--config", help="JSON file of sandbox options (identities, rates, ...)")
    sb.add_argument("--webhook-log", help="append every dispatched event to this JSON Lines file")
    sb.add_argument("--faults", help='JSON object, e.g. {"error_before": 0.1}')

    wh = sub.add_parser("webhooks", help="webhook tools")
    wh_sub = wh.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    whs = wh_sub.add_parser("serve", help="run the signed-webhook receiver until stopped")
    whs.add_argument(
        "--secret-file", help="file holding the webhook secret (default: MTA_WEBHOOK_SECRET)"
    )
    whs.add_argument("--secret", help=argparse.SUPPRESS)  # visible in ps: warned about
    whs.add_argument("--out", required=True, help="directory for the daily JSON Lines files")
    whs.add_argument("--host", default="127.0.0.1")
    whs.add_argument("--port", type=int, default=8766)

    db = sub.add_parser("dashboard", help="serve the delivery dashboard (notebook 03) with Voila")
    db.add_argument("--log", help="webhook log file or directory (default: out/ or the sample)")
    db.add_argument("--journal", help="send journal (SQLite) or ledger CSV")
    db.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")

    return parser


def _secret(given: str | None, path: str | None, option: str, env: str) -> str | None:
    """A secret from its file, else from the command line (with a warning), else ``None``
    (the caller then reads ``env``). A file's surrounding whitespace (its newline) is dropped."""
    if path is not None:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SystemExit(
                f"mta-notebook: cannot read {option}-file {path}: {exc.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise SystemExit(f"mta-notebook: {option}-file {path} is not UTF-8 text") from None
    if given is not None:
        print(
            f"mta-notebook: warning: {option} on the command line is visible to every user of "
            f"this machine (ps); use {option}-file or the {env} environment variable",
            file=sys.stderr,
        )
    return given


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _build_parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(args.out, subscribers=args.subscribers, seed=args.seed)
        return 0
    if args.command == "sandbox":
        from .sandbox.server import serve_cli

        key = _secret(args.api_key, args.api_key_file, "--api-key", "MTA_API_KEY")
        args.api_key = key or os.environ.get("MTA_API_KEY", "").strip() or "sandbox-key"
        return serve_cli(args)
    if args.command == "webhooks":
        from .events._receiver import serve_cli as serve_webhooks

        args.secret = _secret(args.secret, args.secret_file, "--secret", "MTA_WEBHOOK_SECRET")
        return serve_webhooks(args)
    if args.command == "dashboard":
        from .dashboard import serve_dashboard

        return serve_dashboard(args.log, args.journal, port=args.port)
    raise AssertionError(f"unhandled command {args.command}")  # argparse rejects unknown ones


if __name__ == "__main__":
    sys.exit(main())
