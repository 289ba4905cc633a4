"""Child process for tests/test_campaign_crash.py: plan (reusing the journaled campaign) and send.

Usage: python tests/campaigns/_crash_child.py CSV JOURNAL BASE_URL CAMPAIGN_ID CLOCK_MARGIN_S
(API key in MTA_API_KEY). It imports everything, prints READY, and waits for a line on stdin
before it starts, so the test can warm the next child up while it judges the current run.
"""

from __future__ import annotations

import sys

import pandas as pd

from mta_notebook import Client
from mta_notebook.campaigns import plan_campaign

MESSAGE = "Hi {{first_name}}, your code is {{code}}"


def main() -> None:
    csv, journal, base_url, campaign_id, margin = sys.argv[1:6]
    print("READY", flush=True)
    sys.stdin.readline()
    df = pd.read_csv(csv, dtype=str)
    plan = plan_campaign(
        df, MESSAGE, sender_name="Acme", chunk_size=10, campaign_id=campaign_id, journal=journal
    )
    with Client(base_url=base_url) as client:
        print("START", flush=True)
        plan.send(client, confirm=True, progress=False, clock_margin_s=float(margin))
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
