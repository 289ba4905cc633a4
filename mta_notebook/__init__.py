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

__all__ = [
    "Account",
    "AsyncClient",
    "BulkResult",
    "Client",
    "DedicatedNumber",
    "Delivery",
    "Page",
    "SendRequest",
    "SendResult",
    "Subscriber",
    "Webhook",
]
