"""Subscribers: read a list from a file, a DataFrame or the account, normalise and account for
every row (:func:`load_subscribers`), then upload it (:meth:`SubscriberList.to_mta`)."""

from ._list import REASONS, SubscriberList, UploadResult
from ._load import load_subscribers

__all__ = ["REASONS", "SubscriberList", "UploadResult", "load_subscribers"]
