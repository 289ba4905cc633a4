"""MTA's contract, once: every fact about the API that the toolkit and the sandbox rely on.

Each module cites the developer-center page its tables come from
(developers.mobile-text-alerts.com; summarised in ``shared/reference/mta-api.md`` §0a). The
client, the pacer, the webhook models, the log reader (its SQL is generated from these
tables), analytics, charts, the dashboard and the sandbox import them; nothing else restates a
value. Where the docs are silent the choice is named in :mod:`.assumptions`.

- :mod:`.statuses`: delivery status codes and names -> documented name -> outcome; finality.
- :mod:`.events`: event types and ``MTAWebhook.*`` constants, payload fields, versions, dates.
- :mod:`.routes`: route evidence (``senderName``), route names and labels.
- :mod:`.keywords`: STOP/START words and the one keyword normalisation.
- :mod:`.limits`: rate-limit families, bulk sizes, SMS/MMS content limits and credits.
- :mod:`.segments`: GSM-7/UCS-2 length, segments and credits of an SMS body.
- :mod:`.dates`: MTA's date formats and the one payload-time rule.
- :mod:`.signature`: the ``X-Signature`` HMAC.
- :mod:`.phones`: the one phone normaliser (phonenumbers, with a vectorised fast path).
- :mod:`.assumptions`: the named choices where the docs say nothing.
"""

from __future__ import annotations

from . import assumptions, dates, events, keywords, limits, routes, segments, signature, statuses

__all__ = [
    "assumptions",
    "dates",
    "events",
    "keywords",
    "limits",
    "routes",
    "segments",
    "signature",
    "statuses",
]
