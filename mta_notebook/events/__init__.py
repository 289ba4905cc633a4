"""Events: signed webhooks in, one Events table out.

The flow inside this stage, one module a job:

- ``_receiver``     the starlette receiver: verify ``X-Signature``, keep each raw body as a
                    fsynced JSON line (starlette and uvicorn load only when a receiver is made)
- ``_register``     register the receiver's URL for each event, without duplicates
- ``_signature``    ``check_signature`` and the reader's re-verification, on the contract's rule
- ``_models``       one body as a pydantic model (``parse_event``), read by ``_body``
- ``_body``         where one body keeps its phone, time and reply text (the contract's tables)
- ``_files``        find, open (gzip), sniff and cut log files into blocks of lines
- ``_sources``      each file shape (JSON Lines, array, CSV, Parquet) as lines for the loader
- ``_sql``          the reader's DuckDB query, generated from the contract's tables
- ``_loader``       blocks through that query on a worker thread, signatures re-checked
- ``_rows``         what SQL leaves open, decided by the contract's functions
- ``_store``        file rows as events or rejected lines; drop exact duplicates
- ``_schema``       the Events and rejected columns, their Arrow types, the pandas frame
- ``_log``          ``EventLog`` and ``read_webhook_log`` / ``read_bodies``
- ``_deliveries``   ``fetch_deliveries``: ``GET /deliveries`` rows into the same Events table
"""

from __future__ import annotations

from ..contract.events import infer_event
from ..contract.signature import sign, verify_signature
from ._deliveries import fetch_deliveries
from ._log import EventLog, read_bodies, read_webhook_log
from ._models import (
    DeliveryStatusEvent,
    MessageReplyEvent,
    MessageSendEvent,
    NumberOptInEvent,
    WebhookEvent,
    parse_event,
)
from ._receiver import (
    DEFAULT_MAX_BODY,
    Receiver,
    ReceiverLimits,
    create_receiver_app,
    running_receiver,
    serve,
)
from ._register import ALL_EVENTS, register_webhooks
from ._schema import EVENT_COLUMNS, REJECTED_COLUMNS
from ._signature import check_signature

__all__ = [
    "ALL_EVENTS",
    "DEFAULT_MAX_BODY",
    "EVENT_COLUMNS",
    "REJECTED_COLUMNS",
    "DeliveryStatusEvent",
    "EventLog",
    "MessageReplyEvent",
    "MessageSendEvent",
    "NumberOptInEvent",
    "Receiver",
    "ReceiverLimits",
    "WebhookEvent",
    "check_signature",
    "create_receiver_app",
    "fetch_deliveries",
    "infer_event",
    "parse_event",
    "read_bodies",
    "read_webhook_log",
    "register_webhooks",
    "running_receiver",
    "serve",
    "sign",
    "verify_signature",
]
