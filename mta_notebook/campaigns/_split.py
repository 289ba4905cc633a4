"""A randomized split: each recipient drawn to one Sender Identity, one campaign per identity.

:func:`plan_experiment` draws every distinct number to an identity with numpy's seeded
``Generator`` (the same seed and list give the same split), plans one journaled campaign per
identity with :func:`plan_campaign`, and records the experiment in the journal's
``experiments`` table (created on first use, so older journals open as before): its id, the
seed, and each arm's identity, weight and campaign. Because chance, not the recipient, decides
the identity, a difference between identities is a randomized comparison.

>>> import os, tempfile
>>> import pandas as pd
>>> people = pd.DataFrame({"phone": [f"+1312555{i:04d}" for i in range(100, 140)]})
>>> journal = os.path.join(tempfile.mkdtemp(), "journal.sqlite")
>>> plans = plan_experiment(people, "Hi!", split={"Acme": 0.5, "Acme Deals": 0.5}, seed=7,
...                         journal=journal)
>>> [p.sender_name for p in plans], sum(len(p.to_send) for p in plans)
(['Acme', 'Acme Deals'], 40)
>>> read_experiments(journal)["arm"].tolist()
['Acme', 'Acme Deals']
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from .._errors import ConfigError
from ..contract.phones import normalize_phones
from ._group import CampaignPlans
from ._journal import Journal
from ._plan import plan_campaign
from ._recipients import recipients_frame
from ._schema import iso

__all__ = ["Experiment", "assign_arms", "plan_experiment", "read_experiments"]

_TABLE: Final = """
CREATE TABLE IF NOT EXISTS experiments (
    experiment_id TEXT NOT NULL,
    arm           TEXT NOT NULL,
    campaign_id   TEXT NOT NULL,
    weight        REAL NOT NULL,
    seed          INTEGER NOT NULL,
    recipients    INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (experiment_id, arm)
)
"""
_COLUMNS: Final = ("experiment_id", "arm", "campaign_id", "weight", "seed", "recipients")
_TOLERANCE: Final = 1e-9  # 1/3 + 1/3 + 1/3 is not exactly 1.0 in floating point


@dataclass(frozen=True)
class Experiment:
    """A randomized split as the journal records it: ``arms`` maps each identity to its
    ``(weight, campaign_id)``."""

    experiment_id: str
    seed: int
    arms: Mapping[str, tuple[float, str]]

    def campaign_of(self, arm: str) -> str:
        """The campaign id of identity ``arm``."""
        return self.arms[arm][1]


def checked_split(split: Any) -> dict[str, float]:
    """``split`` as identity -> weight, or a ConfigError saying what is wrong and how to fix it."""
    example = 'split={"Acme": 0.5, "Acme Deals": 0.5}'
    if not isinstance(split, Mapping) or not split:
        raise ConfigError(
            f"split= must map each Sender Identity name to its share of the list, like "
            f"{example}; got {split!r}."
        )
    out: dict[str, float] = {}
    for name, weight in split.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"split= keys are Sender Identity names (senderName), got {name!r}; {example}."
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ConfigError(f"split[{name!r}] must be a number between 0 and 1, got {weight!r}.")
        w = float(weight)
        if not (0 < w <= 1) or math.isnan(w):
            raise ConfigError(
                f"split[{name!r}] = {weight!r}: every weight must be above 0 and at most 1 "
                "(leave an identity out instead of giving it 0)."
            )
        out[name] = w
    total = sum(out.values())
    if abs(total - 1) > _TOLERANCE:
        raise ConfigError(
            f"The weights of split= sum to {total:g}, not 1 ({split!r}). Give shares of the whole "
            f"list, like {example}."
        )
    return out


def assign_arms(keys: pd.Series, weights: Mapping[str, float], seed: int) -> pd.Series:
    """The identity drawn for each row: one draw per distinct key (a number listed twice gets
    one identity, so nobody gets both messages), in order of first appearance."""
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    codes, uniques = pd.factorize(keys, use_na_sentinel=False)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(names), size=len(uniques), p=p / p.sum())
    out: pd.Series = pd.Series(
        np.array(names, dtype=object)[drawn[codes]], index=keys.index, dtype="string"
    )
    return out


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "arm"


def _table(jr: Journal) -> None:
    with jr._tx("creating its experiments table") as conn:
        conn.execute(_TABLE)


def record_experiment(jr: Journal, exp: Experiment, counts: Mapping[str, int]) -> bool:
    """Write ``exp`` to the journal; False when it was there already (a re-plan)."""
    _table(jr)
    now = iso()
    with jr._tx("recording an experiment") as conn:
        known = conn.execute(
            "SELECT 1 FROM experiments WHERE experiment_id = ?", (exp.experiment_id,)
        ).fetchone()
        if known:
            return False
        conn.executemany(
            "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (exp.experiment_id, arm, cid, w, exp.seed, int(counts.get(arm, 0)), now)
                for arm, (w, cid) in exp.arms.items()
            ],
        )
    return True


def read_experiments(journal: Journal | str | os.PathLike[str]) -> pd.DataFrame:
    """One row per arm of every experiment in the journal: ``experiment_id``, ``arm`` (the
    identity), ``campaign_id``, ``weight``, ``seed``, ``recipients``, ``created_at``."""
    jr = journal if isinstance(journal, Journal) else Journal(journal)
    try:
        _table(jr)
        with jr._read() as conn:
            df = pd.read_sql_query(
                "SELECT * FROM experiments ORDER BY created_at, experiment_id, rowid", conn
            )
    finally:
        if jr is not journal:
            jr.close()
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
    return df


def read_experiment(journal: Journal | str | os.PathLike[str], experiment_id: str) -> Experiment:
    """The experiment ``experiment_id`` as recorded in the journal."""
    rows = read_experiments(journal)
    rows = rows[rows["experiment_id"] == experiment_id]
    if rows.empty:
        raise ConfigError(f"No experiment {experiment_id!r} in the journal {journal}.")
    arms = {
        str(r["arm"]): (float(r["weight"]), str(r["campaign_id"])) for r in rows.to_dict("records")
    }
    return Experiment(experiment_id, int(rows["seed"].iloc[0]), arms)


def plan_experiment(
    recipients: Any,
    message: str,
    *,
    split: Mapping[str, float],
    seed: int,
    campaign_id: str | None = None,
    journal: Journal | str | os.PathLike[str] | None = None,
    reachable: pd.DataFrame | None = None,
    **options: Any,
) -> CampaignPlans:
    """Plan a randomized split: each recipient to one identity at random, one campaign each.

    Parameters
    ----------
    recipients, message
        As for :func:`plan_campaign`.
    split
        Sender Identity name to its share of the list, like ``{"Acme": 0.5, "Acme Deals":
        0.5}``; the shares must sum to 1. Each distinct number is drawn to one identity.
    seed
        The seed of numpy's random ``Generator``; required, so that running the cell again
        draws the same split (and finds the campaigns already planned, or sent) and the draw
        can be checked later. It is recorded in the journal.
    campaign_id
        A prefix for the campaigns' ids (``{campaign_id}-{identity}``); by default each id is
        a hash of its inputs, as for a single plan.
    journal, reachable, options
        As for :func:`plan_campaign` (``chunk_size``, ``send_window``, ``tags``...); the same
        for every identity.

    Returns
    -------
    CampaignPlans
        The plans, one per identity in the order of ``split``, with ``.experiment`` (its id,
        seed and arms). Planning the same list with the same split and seed again finds them
        in the journal (``plans.reused``) instead of planning anew.

    Raises
    ------
    ConfigError
        ``split`` is not identity names to weights above 0 that sum to 1, or ``seed`` is not
        an integer.
    CampaignError
        As for :func:`plan_campaign`.
    """
    weights = checked_split(split)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(
            f"seed= must be an integer (like seed=2026), got {seed!r}: the split is drawn from "
            "it, and the same seed draws the same split again."
        )
    for key in ("sender_name", "longcode_id"):
        if key in options:
            raise ConfigError(f"plan_experiment takes the identities from split=, not {key}=.")
    df, _ = recipients_frame(recipients)
    raw = df["phone"].astype("string")
    keys = normalize_phones(raw).astype("string").fillna(raw).fillna("")
    arm = assign_arms(keys.reset_index(drop=True), weights, int(seed))
    jr = journal if isinstance(journal, Journal) else Journal(journal)
    try:
        plans = []
        for name in weights:
            part = df[(arm == name).to_numpy()]
            cid = f"{campaign_id}-{_slug(name)}" if campaign_id else None
            plans.append(
                plan_campaign(
                    part,
                    message,
                    sender_name=name,
                    campaign_id=cid,
                    journal=jr,
                    reachable=reachable,
                    **options,
                )
            )
        arms = {n: (w, p.campaign_id) for (n, w), p in zip(weights.items(), plans, strict=True)}
        digest = json.dumps([int(seed), sorted((n, w, c) for n, (w, c) in arms.items())])
        exp = Experiment("exp-" + hashlib.sha256(digest.encode()).hexdigest()[:12], int(seed), arms)
        new = record_experiment(jr, exp, {p.sender_name or "": len(p.to_send) for p in plans})
        path = Path(jr.path)
    finally:
        if jr is not journal:
            jr.close()
    return CampaignPlans(tuple(plans), experiment=exp, reused=not new, journal_path=path)
