"""Campaigns: check a message, plan it to a list, send it in journaled chunks, resume safely.

Data flows down these modules:

- ``_message``: what a filled text costs (encoding, segments, credits) and the templates;
- ``_recipients``: every recipient row checked (phone, values, length), skip reasons, warnings;
- ``_schedule``: time zones, local send windows, ``scheduledDate``;
- ``_chunks``: rows into chunks, the campaign id, chunks packed for the journal;
- ``_manifest``: the typed manifest the plan writes and the engine reads;
- ``_plan``: :func:`plan_campaign` and the frozen :class:`CampaignPlan`;
- ``_schema`` / ``_journal``: the SQLite journal and its chunk state machine;
- ``_engine``: sending (threads, Ctrl-C) over a small client protocol; never retries;
- ``_reconcile``: unknown outcomes settled from evidence (webhook log, ``GET /deliveries``);
- ``_results``: :class:`CampaignResult`, the send ledger of a run;
- ``_group``: :class:`CampaignPlans` (plans sent together) and :class:`CampaignResults`;
- ``_split``: :func:`plan_experiment`, a seeded random split across identities, journaled;
- ``_cards`` / ``_words`` / ``_reach``: what people read (cards, "1 recipient", the
  predicted iMessage share);
- ``_confirm``: the ipywidgets confirm panel (one for everything a cell sends).

A chunk moves ``planned -> in_flight -> sent | failed | unknown`` with a commit before every
request. A chunk whose outcome is unknown (a crash, a dropped connection, a 5xx after
processing) is never re-sent blindly, and never on a timer: it is settled from evidence, or it
stays ``unknown`` until the user says ``resume_campaign(..., unknown="resend" | "skip")``.

>>> import os, tempfile
>>> import pandas as pd
>>> people = pd.DataFrame({"phone": ["+13125550101", "+13125550102"], "first_name": ["Ann", "Bob"]})
>>> journal = os.path.join(tempfile.mkdtemp(), "journal.sqlite")
>>> plan = plan_campaign(people, "Hi {{first_name}}!", sender_name="Acme", journal=journal)
>>> plan.preview(1)["text"].tolist(), plan.summary["credits"]
(['Hi Ann!'], 2)
>>> plan.send(client, confirm=True, progress=False).counts
{'sent': 2}
>>> resume_campaign(plan.campaign_id, client, journal=journal, progress=False).complete
True
"""

from __future__ import annotations

from ._engine import CampaignClient, resume_campaign
from ._group import CampaignPlans, CampaignResults
from ._journal import Journal
from ._manifest import Manifest
from ._message import GSM7_BASIC, GSM7_EXTENDED, MessageCheck, check_message
from ._plan import CampaignPlan, plan_campaign
from ._results import CampaignResult, UnknownPolicy
from ._schedule import next_in_window
from ._schema import CHUNK_STATES, DEFAULT_JOURNAL_PATH, SENDS_COLUMNS, ChunkState, utcnow
from ._split import Experiment, plan_experiment, read_experiments

__all__ = [
    "CHUNK_STATES",
    "DEFAULT_JOURNAL_PATH",
    "GSM7_BASIC",
    "GSM7_EXTENDED",
    "SENDS_COLUMNS",
    "CampaignClient",
    "CampaignPlan",
    "CampaignPlans",
    "CampaignResult",
    "CampaignResults",
    "ChunkState",
    "Experiment",
    "Journal",
    "Manifest",
    "MessageCheck",
    "UnknownPolicy",
    "check_message",
    "next_in_window",
    "plan_campaign",
    "plan_experiment",
    "read_experiments",
    "resume_campaign",
    "utcnow",
]
