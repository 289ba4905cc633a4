"""Delivery analytics: join the webhook Events to the send ledger, per Sender Identity and route.

The join is written once as an ibis expression and runs on any ibis backend: DuckDB in-process
by default, or Spark (through ibis's PySpark backend) for logs that live in a lake or warehouse.
Inputs may be pandas DataFrames, an ``EventLog`` (anything with a ``.df``), Parquet paths, or
ibis tables; results always come back as pandas DataFrames. ``messages(events, sends)`` runs the
join once and keeps it in the backend; every reducer (``delivery_report``,
``delivery_timeseries``, ``failure_reasons``, ``reply_report``, ``fallback_summary``,
``message_table``, ``time_to_deliver``, ``compare_identities``) takes that ``Messages``, or
one narrowed by ``Messages.where``, in place of ``(events, sends)``, and gives the same table
as on the raw inputs.

MTA's facts (status names, outcomes, precedence, route evidence, keywords) come from
:mod:`mta_notebook.contract`; the rules below are how the reports use them (``design.md``,
"Data contracts" and "Assumptions"):

* A **message** is one recipient of one send. Delivery events (``message-send`` and
  ``delivery-status``) are grouped per (``external_id``, ``message_id``, ``phone``) and joined to
  the ledger on (``external_id``, ``phone``), else on (``message_id``, ``phone``).
* Its **status** and **outcome** come from one deciding event: a final outcome
  (``contract.statuses.FINAL_OUTCOMES``) is never replaced by a later non-final one; among the
  rest, dated events go by ``occurred_at``; undated ones (``dated`` False: the body had no time,
  e.g. V1) rank below dated ones and among themselves by ``contract.statuses.precedence``, never
  by arrival; ties go to the higher precedence. Duplicate deliveries of a webhook count once. A
  ``message-send`` alone gives no status (null) and outcome ``pending``; so does a ledger row
  without events. Frames without ``outcome`` (older Parquet, hand-made) get it from ``status``
  through the contract's table; without ``dated``, a present ``occurred_at`` counts as dated.
* **Route** (``contract.routes``): an explicit route field on an event first, then
  ``senderName`` on any of the message's ``message-send``, ``delivery-status`` or
  ``message-reply`` events (a reply belongs to the message whose ``external_id``, else
  ``message_id``, and phone it carries) means ``imessage``; ``route_basis`` names the event type
  that carried it (``message-send`` preferred, then ``delivery-status``, then ``message-reply``).
  Without such evidence: ``sms_fallback`` when the ledger asked for an identity, ``sms`` when it
  did not (basis ``ledger``). A ledger row without any event that asked for an identity has route
  ``unknown`` (nothing says yet whether it went by iMessage). Events without a ledger row count
  too, attributed to their own ``senderName``; without one the route is ``unknown`` (plain SMS
  and SMS fallback cannot be told apart) and the basis ``none``. They are flagged ``unmatched``.
* Ledger rows count as messages when their ``state`` is ``sent``; rows in state ``failed``,
  ``skipped`` or ``unknown`` count only if events show they were sent.
* **Test sends** (``CampaignPlan.test_send``: externalId ``{campaign_id}-test``, or the
  messageId of such a send) and the replies to them are left out of every figure;
  ``messages(..., include_tests=True)`` keeps them, flagged ``test``.
* Reports count ``delivered``, ``failed``, ``unconfirmed`` (final, neither) and ``pending``
  (pending, unknown, or no event yet: MTA may still update them). ``delivery_rate`` =
  delivered / (delivered + failed) (NaN when nothing settled); ``ci_low``/``ci_high`` is the
  Wilson 95 % interval; ``share`` is the row's part of its identity's messages.
"""

from __future__ import annotations

from ..campaigns._schema import TEST_SUFFIX
from ._compare import OBSERVATIONAL, compare_routes, newcombe_interval
from ._cost import COST_COLUMNS, cost_report
from ._failures import failure_reasons
from ._fallback import fallback_summary
from ._identities import compare_identities
from ._intervals import wilson_bounds, wilson_interval
from ._join import NOT_SENT_LABELS
from ._latency import time_to_deliver
from ._messages import Messages, messages
from ._reach import ImessageShare, OptInReach, optin_reach, predicted_imessage_share, reachable
from ._reduce import REPORT_COLUMNS, REPORT_OUTCOMES
from ._replies import reply_report
from ._report import delivery_report
from ._table import message_table
from ._timeseries import auto_freq, delivery_timeseries

__all__ = [
    "COST_COLUMNS",
    "NOT_SENT_LABELS",
    "OBSERVATIONAL",
    "REPORT_COLUMNS",
    "REPORT_OUTCOMES",
    "TEST_SUFFIX",
    "ImessageShare",
    "Messages",
    "OptInReach",
    "auto_freq",
    "compare_identities",
    "compare_routes",
    "cost_report",
    "delivery_report",
    "delivery_timeseries",
    "failure_reasons",
    "fallback_summary",
    "message_table",
    "messages",
    "newcombe_interval",
    "optin_reach",
    "predicted_imessage_share",
    "reachable",
    "reply_report",
    "time_to_deliver",
    "wilson_bounds",
    "wilson_interval",
]
