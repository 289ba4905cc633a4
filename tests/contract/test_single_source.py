"""Every part of the package takes MTA's facts from ``mta_notebook.contract``, never a copy.

Two kinds of proof: the objects the client and the sandbox use *are* the contract's (identity,
not equality), and no module outside ``contract/`` spells a documented MTA value itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mta_notebook
from mta_notebook import Client
from mta_notebook._pacing import Pacer
from mta_notebook.contract import events, keywords, limits, routes, statuses
from mta_notebook.sandbox import ratelimit

PACKAGE = Path(mta_notebook.__file__).resolve().parent


def _modules_outside_contract() -> list[Path]:
    return [
        p for p in sorted(PACKAGE.rglob("*.py")) if "contract" not in p.relative_to(PACKAGE).parts
    ]


def test_client_and_sandbox_pace_with_the_same_table() -> None:
    with Client(api_key="k", base_url="http://127.0.0.1:9/v3") as client:
        pacer = client.pacer
        assert pacer is not None
        assert pacer.limits is limits.RATE_LIMITS
    assert Pacer().limits is limits.RATE_LIMITS
    assert ratelimit.RATE_LIMITS is limits.RATE_LIMITS


def _string_constants(path: Path) -> set[str]:
    """String literals of a module that state a value, not those that look one up.

    Left out: docstrings; a subscript key (``STATUS_BY_NAME["landline"]``); a call argument
    (``status_label("delivery_unconfirmed")``); the keys of a table of numbers (the sandbox's
    outcome mix, validated against the contract when it loads).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        elif isinstance(node, ast.Subscript):
            skip.add(id(node.slice))
        elif isinstance(node, ast.Call):
            skip.update(id(arg) for arg in node.args)
        elif isinstance(node, ast.Dict) and all(
            isinstance(v, ast.Constant) and isinstance(v.value, (int, float)) for v in node.values
        ):
            skip.update(id(k) for k in node.keys if k is not None)
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    }


def test_no_module_restates_a_documented_value() -> None:
    documented = set(events.MTA_TYPES)  # "MTAWebhook.DELIVERY_STATUS", ...
    documented |= {s.name for s in statuses.DELIVERY_STATUSES}  # "DELIVERY_REJECTED", ...
    documented |= {s.key for s in statuses.DELIVERY_STATUSES if "_" in s.key}  # "delivery_failed"
    # the rarer keywords ("STOPALL", "OPTOUT", ...); STOP, END, QUIT are also ordinary words
    documented |= set(keywords.STOP_WORDS - {"STOP", "END", "CANCEL", "QUIT"})
    documented |= set(routes.ROUTE_LABELS.values())  # "SMS fallback", ...
    found = {
        str(path.relative_to(PACKAGE)): sorted(_string_constants(path) & documented)
        for path in _modules_outside_contract()
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_no_module_defines_its_own_table() -> None:
    names = {
        "STOP_WORDS",
        "START_WORDS",
        "OPT_OUT_WORDS",
        "ROUTE_LABELS",
        "DELIVERY_STATUS_CODES",
        "STATUS_NAMES",
        "FINAL_STATUSES",
        "EVENT_TYPES",
        "MTA_TYPES",
        "RATE_LIMITS",
        "DEFAULT_LIMITS",
        "LIMITS",
        "BULK_MAX_RECORDS",
        "MAX_MESSAGE_CHARS",
    }
    defined: dict[str, list[str]] = {}
    for path in _modules_outside_contract():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = (
                [node.target]
                if isinstance(node, ast.AnnAssign)
                else node.targets
                if isinstance(node, ast.Assign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id in names:
                    defined.setdefault(str(path.relative_to(PACKAGE)), []).append(target.id)
    assert defined == {}
