"""mta-notebook."""

from . import charts, sandbox
from .analytics import (
    delivery_report,
    delivery_timeseries,
    failure_reasons,
    fallback_summary,
    reply_report,
)
from .campaigns import CampaignPlan, CampaignResult, plan_campaign, resume_campaign
from .client import AsyncClient, Client
from .dashboard import Dashboard
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
from .phones import normalize_phones
from .receiver import running_receiver
from .report import save_report
from .subscribers import SubscriberList, load_subscribers
from .webhook_log import EventLog, read_webhook_log
from .webhooks import fetch_deliveries, register_webhooks, verify_signature

__all__ = [
    "Account",
    "AsyncClient",
    "BulkResult",
    "CampaignPlan",
    "CampaignResult",
    "Client",
    "Dashboard",
    "DedicatedNumber",
    "Delivery",
    "EventLog",
    "Journal",
    "Page",
    "SendRequest",
    "SendResult",
    "Subscriber",
    "SubscriberList",
    "Webhook",
    "charts",
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
