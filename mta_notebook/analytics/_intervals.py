"""The Wilson score interval of a delivery rate, one formula for Python values and for ibis."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

_Z: Final[float] = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(delivered: int, settled: int, z: float = _Z) -> tuple[float, float]:
    """The Wilson score interval for ``delivered`` out of ``settled`` (NaN, NaN when 0).

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if settled <= 0:
        return (math.nan, math.nan)
    n = float(settled)
    low, high = wilson_bounds(delivered / n, n, z=z)
    return (float(low), float(high))


def wilson_bounds(p: Any, n: Any, *, z: float = _Z, sqrt: Callable[[Any], Any] = math.sqrt) -> Any:
    """Wilson score bounds ``(low, high)`` for a rate ``p`` over ``n`` trials.

    One formula for every engine: ``p`` and ``n`` may be floats, numpy arrays or pandas Series
    (pass ``sqrt=numpy.sqrt``) or ibis values (``sqrt=lambda v: v.sqrt()``).

    >>> [round(x, 4) for x in wilson_bounds(0.8, 10.0)]
    [0.4902, 0.9433]
    """
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return (centre - half, centre + half)
