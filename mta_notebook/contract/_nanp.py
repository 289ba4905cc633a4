"""What phonenumbers' metadata says about NANP numbers (country code 1), read once: which
region a national number belongs to and the patterns that make it valid, for the vectorised
fast path in :mod:`.phones` (the exact algorithm of ``is_valid_number``, column-wise).
"""

from __future__ import annotations

import functools
from typing import Any, Final

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import phonenumberutil as _pnu

_TYPE_DESCS: Final = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)

# (general desc pattern or None when it accepts every [2-9]XXXXXXXXX, union of number-type
# patterns), both anchored
_Rule = tuple[str | None, str]
_ANY_NSN: Final = r"[2-9]\d{9}"


def _desc_pattern(desc: Any, length: int) -> str | None:
    """The desc's pattern when a number of ``length`` digits can match it (as phonenumbers)."""
    if desc is None:
        return None
    pattern = desc.national_number_pattern
    if not pattern:
        return None
    lengths = desc.possible_length
    if len(lengths) > 0 and length not in lengths:
        return None
    return str(pattern)


def _type_names(md: Any) -> list[str]:
    names = list(_TYPE_DESCS)
    if not md.same_mobile_and_fixed_line_pattern:
        names.append("mobile")
    return names


class _Nanp:
    """phonenumbers' NANP metadata (country code 1), compiled for column-wise checks.

    ``steps`` replays ``region_code_for_number``: regions without ``leading_digits`` are tried
    by their patterns; runs of regions with ``leading_digits`` become one lookup table over the
    first four digits (every such regex matches at most four characters, checked here, so four
    digits decide it).
    """

    def __init__(self) -> None:
        import re

        self.regions: list[str] = []
        self.rules: list[_Rule | None] = []
        self.steps: list[tuple[str, Any]] = []
        self.valid_lengths: set[int] = set()
        self.ok = True
        for region in _pnu.COUNTRY_CODE_TO_REGION_CODE[1]:
            md = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
            if md is None:  # pragma: no cover - metadata ships with phonenumbers
                continue
            k = len(self.regions)
            self.regions.append(region)
            general = _desc_pattern(md.general_desc, 10)
            types = [p for p in (_desc_pattern(getattr(md, n), 10) for n in _type_names(md)) if p]
            rule = None
            if general is not None and types:
                # the fast path only asks about [2-9] + 9 digits: a general pattern that lists
                # exactly that as a top-level alternative (no groups) accepts all of them
                covers = "(" not in general and _ANY_NSN in general.split("|")
                rule = (
                    None if covers else f"^(?:{general})$",
                    "^(?:" + "|".join(f"(?:{t})" for t in types) + ")$",
                )
            self.rules.append(rule)
            for n in ["general_desc", *_type_names(md)]:
                desc = getattr(md, n)
                if desc is not None and desc.national_number_pattern:
                    lengths = {int(x) for x in desc.possible_length if int(x) > 0}
                    if not lengths:  # no lengths: any length could match, claim nothing
                        self.ok = False
                    self.valid_lengths |= lengths
            if md.leading_digits is None:
                self.steps.append(("pattern", k))
                continue
            compiled = re.compile(md.leading_digits)
            if "$" in md.leading_digits:
                self.ok = False
            if re._parser.parse(md.leading_digits).getwidth()[1] > 4:  # type: ignore[attr-defined]
                self.ok = False
            if not self.steps or self.steps[-1][0] != "table":
                self.steps.append(("table", np.full(10000, -1, dtype=np.int16)))
            table = self.steps[-1][1]
            for prefix in range(1000, 10000):
                if table[prefix] < 0 and compiled.match(str(prefix)):
                    table[prefix] = k

    def resolve(
        self, nsn2d: np.ndarray[Any, np.dtype[np.uint8]]
    ) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], np.ndarray[Any, np.dtype[np.int64]]]:
        """Validity and region (index into ``regions``) of 10-digit national numbers.

        ``nsn2d`` holds the ASCII digits, one number per row.

        As ``is_valid_number`` decides: ``region_code_for_number`` picks the first region whose
        leading digits match (or, without leading digits, whose patterns match); validity is
        then checked against that region only.
        """
        n = len(nsn2d)
        valid = np.zeros(n, dtype=bool)
        region = np.full(n, -1, dtype=np.int64)
        if n == 0:
            return valid, region
        nsn = pa.LargeStringArray.from_buffers(
            n,
            pa.py_buffer(np.arange(0, 10 * n + 1, 10, dtype=np.int64)),
            pa.py_buffer(np.ascontiguousarray(nsn2d).tobytes()),
        )
        digits = nsn2d[:, :4].astype(np.int64) - ord("0")
        prefix4 = digits @ np.array([1000, 100, 10, 1], dtype=np.int64)
        todo = np.arange(n)
        for kind, arg in self.steps:
            if len(todo) == 0:
                break
            if kind == "pattern":
                sub = nsn if len(todo) == n else nsn.take(pa.array(todo))
                hit = _valid_mask(sub, self.rules[arg])
                valid[todo[hit]] = True
                region[todo[hit]] = arg
            else:
                owner = arg[prefix4[todo]]
                hit = owner >= 0
                for k in np.unique(owner[hit]):
                    rows = todo[owner == k]
                    ok = _valid_mask(nsn.take(pa.array(rows)), self.rules[int(k)])
                    valid[rows] = ok
                    region[rows[ok]] = k
            todo = todo[~hit]
        return valid, region


@functools.lru_cache(maxsize=1)
def _nanp() -> _Nanp:
    return _Nanp()


#: A validity rule: ``None`` matches nothing; else ``(general, types)``, anchored RE2 patterns
#: that must both match the 10-digit national number (``general`` ``None``: no condition).
NanpRule = tuple[str | None, str] | None
#: One step of the NANP validity test: ``("pattern", rule)`` (valid when the rule matches, else
#: the next step decides) or ``("prefix", ((rule, four-digit prefixes), ...))`` (a number whose
#: first four digits are listed is decided by that rule alone, valid or not).
NanpStep = tuple[str, Any]


def nanp_validity_steps() -> tuple[NanpStep, ...] | None:
    """The test the vectorised path runs on "+1" and ten digits starting 2-9, as data.

    phonenumbers reads such a number as country code 1 and those ten digits, and
    ``is_valid_number`` is then these steps in order (the first region whose leading digits
    or patterns match, then that region's patterns); whatever no step decides is invalid. For
    code that must decide it elsewhere exactly as here (the webhook log reader's SQL; the
    patterns are RE2, as pyarrow and DuckDB run them). ``None`` when the metadata breaks the
    fast path's assumptions: then only phonenumbers may decide.

    >>> steps = nanp_validity_steps()
    >>> [kind for kind, _ in steps][:2]
    ['pattern', 'prefix']
    """
    nanp = _nanp()
    if not nanp.ok:
        return None
    steps: list[NanpStep] = []
    for kind, arg in nanp.steps:
        if kind == "pattern":
            steps.append(("pattern", nanp.rules[arg]))
            continue
        owners = sorted(int(k) for k in np.unique(arg[arg >= 0]))
        steps.append(
            (
                "prefix",
                tuple(
                    (nanp.rules[k], tuple(int(p) for p in np.flatnonzero(arg == k))) for k in owners
                ),
            )
        )
    return tuple(steps)


def _valid_mask(nsn: pa.Array, rule: _Rule | None) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if rule is None or len(nsn) == 0:
        return np.zeros(len(nsn), dtype=bool)
    general, types = rule
    both = pc.match_substring_regex(nsn, types)
    if general is not None:
        both = pc.and_(pc.match_substring_regex(nsn, general), both)
    return _np_bool(both)


def _np_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)
