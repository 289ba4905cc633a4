"""The sample files the demo, the notebooks and the dashboard use, wherever the package lives.

A wheel carries them as package data (``mta_notebook/data/``, copied there from the
repository's ``data/`` and ``notebooks/`` at build time); a checkout (``pip install -e .``)
reads them where they are. One place decides, so the demo and the dashboard work both ways.

>>> sample_path("subscribers.csv").name
'subscribers.csv'
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["SAMPLES", "sample_path"]

_PACKAGE: Final = Path(__file__).resolve().parent
_CHECKOUT: Final = _PACKAGE.parent

#: Every sample and where it lives in a checkout (a wheel keeps them all in mta_notebook/data/).
SAMPLES: Final[dict[str, str]] = {
    "subscribers.csv": "data/subscribers.csv",
    "webhooks_sample.jsonl": "data/webhooks_sample.jsonl",
    "sends_sample.csv": "data/sends_sample.csv",
    "03_delivery_dashboard.ipynb": "notebooks/03_delivery_dashboard.ipynb",
}


def sample_path(name: str) -> Path:
    """The path of a bundled sample: ``subscribers.csv``, ``webhooks_sample.jsonl``,
    ``sends_sample.csv`` or the dashboard notebook ``03_delivery_dashboard.ipynb``."""
    if name not in SAMPLES:
        raise ValueError(f"no sample {name!r}; the samples are {', '.join(SAMPLES)}")
    for path in (_PACKAGE / "data" / name, _CHECKOUT / SAMPLES[name]):
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the sample {name} is missing from this installation ({_PACKAGE}); reinstall "
        "mta-notebook (pip install --force-reinstall mta-notebook)"
    )
