"""Registering the receiver's URL with MTA for each webhook event, without duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..contract import events as _events
from ..contract.events import EventName

__all__ = ["ALL_EVENTS", "field_of", "register_webhooks"]

#: The events register_webhooks registers by default: all four.
ALL_EVENTS: Final[tuple[EventName, ...]] = _events.EVENTS


def _with_event(url: str, event: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "event"]
    query.append(("event", event))
    return urlunsplit(parts._replace(query=urlencode(query)))


def field_of(obj: Any, name: str) -> Any:
    """``obj[name]`` of a mapping, else the attribute (``None`` when absent)."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def register_webhooks(
    client: Any, url: str, secret: str, *, events: Iterable[str] = ALL_EVENTS
) -> list[Any]:
    """Register ``url`` for each event, creating only the registrations that are missing.

    MTA creates a duplicate when the same event and URL are registered twice, so this lists the
    existing webhooks first. Each URL gets ``?event=<name>`` so the receiver knows the event.

    Parameters
    ----------
    client : Client
        An :class:`mta_notebook.Client` (anything with ``list_webhooks`` and
        ``create_webhook(event=, url=, secret=)``).
    url : str
        The receiver's public URL.
    secret : str
        The shared HMAC secret (never logged).
    events : iterable of str
        Event names; default all four.

    Returns
    -------
    list
        One webhook per event: the existing one or the one just created.

    Examples
    --------
    >>> hooks = register_webhooks(client, "https://example.org/mta", "s3cret")
    >>> [h.event for h in hooks] == list(ALL_EVENTS)
    True
    >>> [h.id for h in register_webhooks(client, "https://example.org/mta", "s3cret")] == [
    ...     h.id for h in hooks]  # nothing new the second time
    True
    >>> _ = [client.delete_webhook(h.id) for h in hooks]
    """
    wanted: list[str] = []
    for event in events:
        alias = _events.event_name(event)
        if alias is None:
            raise ValueError(f"unknown webhook event {event!r}: use one of {', '.join(ALL_EVENTS)}")
        if alias not in wanted:
            wanted.append(alias)
    existing = list(client.list_webhooks())
    result: list[Any] = []
    for name in wanted:
        target = _with_event(url, name)
        match = next(
            (w for w in existing if field_of(w, "event") == name and field_of(w, "url") == target),
            None,
        )
        if match is None:
            match = client.create_webhook(event=name, url=target, secret=secret)
        result.append(match)
    return result
