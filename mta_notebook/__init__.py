"""mta-notebook."""

from .client import AsyncClient, Client
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
from .webhook_log import EventLog, read_webhook_log
from .webhooks import fetch_deliveries, register_webhooks, verify_signature

__all__ = [
    "Account",
    "AsyncClient",
    "BulkResult",
    "Client",
    "DedicatedNumber",
    "Delivery",
    "EventLog",
    "Page",
    "SendRequest",
    "SendResult",
    "Subscriber",
    "Webhook",
    "fetch_deliveries",
    "read_webhook_log",
    "register_webhooks",
    "running_receiver",
    "verify_signature",
]
