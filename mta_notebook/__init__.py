"""mta-notebook: iMessage campaigns through a Mobile Text Alerts Sender Identity, from Jupyter.

Load a list (``load_subscribers``), plan and send a campaign (``plan_campaign``), read the
webhook log (``read_webhook_log``) and report delivery per identity and route
(``delivery_report``, ``charts``, ``Dashboard``). ``sandbox.running()`` is a local MTA to
rehearse against.
"""

from . import charts, contract, sandbox
from .analytics import (
    delivery_report,
    delivery_timeseries,
    failure_reasons,
    fallback_summary,
    reply_report,
)
from .campaigns import CampaignPlan, CampaignResult, plan_campaign, resume_campaign
from .client import AsyncClient, Client
from .config import Settings
from .contract.phones import normalize_phones
from .dashboard import Dashboard
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CampaignError,
    ConfigError,
    JournalError,
    MTAError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SendOutcomeUnknown,
    ServerError,
    SubscriberLoadError,
    ValidationError,
    WebhookLogError,
    WebhookSignatureError,
)
from .journal import Journal
from .models import (
    Account,
    BulkResult,
    DedicatedNumber,
    Delivery,
    Page,
    SendRequest,
    SendResult,
    Subscriber,
    Webhook,
)
from .receiver import running_receiver
from .report import save_report
from .subscribers import SubscriberList, load_subscribers
from .webhook_log import EventLog, read_webhook_log
from .webhooks import fetch_deliveries, register_webhooks, verify_signature

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Account",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BulkResult",
    "CampaignError",
    "CampaignPlan",
    "CampaignResult",
    "Client",
    "ConfigError",
    "Dashboard",
    "DedicatedNumber",
    "Delivery",
    "EventLog",
    "Journal",
    "JournalError",
    "MTAError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "SendOutcomeUnknown",
    "SendRequest",
    "SendResult",
    "ServerError",
    "Settings",
    "Subscriber",
    "SubscriberList",
    "SubscriberLoadError",
    "ValidationError",
    "Webhook",
    "WebhookLogError",
    "WebhookSignatureError",
    "__version__",
    "charts",
    "contract",
    "delivery_report",
    "delivery_timeseries",
    "failure_reasons",
    "fallback_summary",
    "fetch_deliveries",
    "load_subscribers",
    "normalize_phones",
    "plan_campaign",
    "read_webhook_log",
    "register_webhooks",
    "reply_report",
    "resume_campaign",
    "running_receiver",
    "sandbox",
    "save_report",
    "verify_signature",
]
