"""mta-notebook: iMessage campaigns through a Mobile Text Alerts Sender Identity, from Jupyter.

The flow, and the names that carry it (this namespace is the one public path):

1. load: ``load_subscribers`` -> ``SubscriberList`` (``.df`` usable rows, ``.rejected``)
2. plan: ``plan_campaign`` -> ``CampaignPlan`` (preview, segments, credits, warnings);
   ``plan_experiment`` -> ``CampaignPlans`` (a seeded random split across identities)
3. send: ``plan.send(client)`` / ``resume_campaign`` -> ``CampaignResult`` (the send ledger),
   journaled in a ``Journal``; ``Client`` / ``AsyncClient`` talk to MTA
4. events: ``running_receiver`` (signed webhooks) -> ``read_webhook_log`` -> ``EventLog``
5. analytics: ``compare_routes`` (the verdict: iMessage vs SMS fallback per identity),
   ``compare_identities``, ``delivery_report``, ``message_table``, ``delivery_timeseries``,
   ``time_to_deliver``, ``failure_reasons``, ``reply_report``, ``fallback_summary``,
   ``cost_report``, ``optin_reach``, ``reachable``, ``predicted_imessage_share``
6. display: ``readable`` (tables for people), ``charts``, ``save_report``, ``Dashboard``

``sandbox.running()`` is a local MTA to rehearse against; ``contract`` is what MTA documents.
Everything but the errors loads on first use, so ``import mta_notebook`` is quick and pulls in
neither pandas nor a web server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _errors
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CampaignError,
    ConfigError,
    ConflictError,
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

if TYPE_CHECKING:
    from . import contract, sandbox
    from ._async_client import AsyncClient
    from ._client import Client
    from ._config import Settings
    from ._models import (
        Account,
        BulkResult,
        DedicatedNumber,
        Delivery,
        Page,
        SendFields,
        SendRequest,
        SendResult,
        Subscriber,
        Webhook,
    )
    from ._samples import sample_path
    from .analytics import (
        Messages,
        compare_identities,
        compare_routes,
        cost_report,
        delivery_report,
        delivery_timeseries,
        failure_reasons,
        fallback_summary,
        message_table,
        messages,
        optin_reach,
        predicted_imessage_share,
        reachable,
        reply_report,
        time_to_deliver,
    )
    from .campaigns import (
        CampaignPlan,
        CampaignPlans,
        CampaignResult,
        CampaignResults,
        Journal,
        check_message,
        plan_campaign,
        plan_experiment,
        read_experiments,
        resume_campaign,
    )
    from .contract.phones import normalize_phones
    from .contract.signature import verify_signature
    from .dashboard import Dashboard, load_sends
    from .display import _charts as charts
    from .display import readable, save_report
    from .display._latency_chart import time_to_deliver_chart
    from .events import (
        EventLog,
        fetch_deliveries,
        read_webhook_log,
        register_webhooks,
        running_receiver,
    )
    from .subscribers import SubscriberList, load_subscribers

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use).
_LAZY: dict[str, str] = {
    "Client": "._client",
    "AsyncClient": "._async_client",
    "Settings": "._config",
    **dict.fromkeys(
        (
            "Account",
            "BulkResult",
            "DedicatedNumber",
            "Delivery",
            "Page",
            "SendFields",
            "SendRequest",
            "SendResult",
            "Subscriber",
            "Webhook",
        ),
        "._models",
    ),
    "load_subscribers": ".subscribers",
    "SubscriberList": ".subscribers",
    "plan_campaign": ".campaigns",
    "check_message": ".campaigns",
    "resume_campaign": ".campaigns",
    "CampaignPlan": ".campaigns",
    "CampaignResult": ".campaigns",
    "Journal": ".campaigns",
    "plan_experiment": ".campaigns",
    "read_experiments": ".campaigns",
    "CampaignPlans": ".campaigns",
    "CampaignResults": ".campaigns",
    "running_receiver": ".events",
    "read_webhook_log": ".events",
    "EventLog": ".events",
    "register_webhooks": ".events",
    "fetch_deliveries": ".events",
    "verify_signature": ".contract.signature",
    "normalize_phones": ".contract.phones",
    **dict.fromkeys(
        (
            "message_table",
            "messages",
            "Messages",
            "compare_routes",
            "delivery_report",
            "delivery_timeseries",
            "failure_reasons",
            "reply_report",
            "fallback_summary",
            "time_to_deliver",
            "compare_identities",
            "cost_report",
            "optin_reach",
            "reachable",
            "predicted_imessage_share",
        ),
        ".analytics",
    ),
    "time_to_deliver_chart": ".display",
    "save_report": ".display",
    "readable": ".display",
    "sample_path": "._samples",
    "Dashboard": ".dashboard",
    "load_sends": ".dashboard",
}
#: Public submodules, also loaded on first use.
_SUBMODULES: dict[str, str] = {
    "charts": ".display._charts",
    "contract": ".contract",
    "sandbox": ".sandbox",
}

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
    "CampaignPlans",
    "CampaignResult",
    "CampaignResults",
    "Client",
    "ConfigError",
    "ConflictError",
    "Dashboard",
    "DedicatedNumber",
    "Delivery",
    "EventLog",
    "Journal",
    "JournalError",
    "MTAError",
    "Messages",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "SendFields",
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
    "check_message",
    "compare_identities",
    "compare_routes",
    "contract",
    "cost_report",
    "delivery_report",
    "delivery_timeseries",
    "failure_reasons",
    "fallback_summary",
    "fetch_deliveries",
    "load_sends",
    "load_subscribers",
    "message_table",
    "messages",
    "normalize_phones",
    "optin_reach",
    "plan_campaign",
    "plan_experiment",
    "predicted_imessage_share",
    "reachable",
    "read_experiments",
    "read_webhook_log",
    "readable",
    "register_webhooks",
    "reply_report",
    "resume_campaign",
    "running_receiver",
    "sample_path",
    "sandbox",
    "save_report",
    "time_to_deliver",
    "time_to_deliver_chart",
    "verify_signature",
]

for _error in vars(_errors).values():  # every class of the error tree
    if isinstance(_error, type) and issubclass(_error, MTAError):
        _error.__module__ = __name__  # tracebacks and reprs show the public path
del _error


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value: Any = importlib.import_module(_SUBMODULES[name], __name__)
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        if isinstance(value, type):
            value.__module__ = __name__
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
