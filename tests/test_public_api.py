"""The curated namespace: complete, sorted, the one public path, and light to import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import mta_notebook
from mta_notebook import _errors, _models


def test_all_is_sorted_unique_and_importable() -> None:
    names = mta_notebook.__all__
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(mta_notebook, name) is not None, name
    assert set(dir(mta_notebook)) >= set(names)


def test_every_public_error_and_model_is_exported() -> None:
    errors = {
        n for n, obj in vars(_errors).items() if inspect.isclass(obj) and not n.startswith("_")
    }
    errors = {n for n in errors if issubclass(getattr(_errors, n), Exception)}
    models = set(_models.__all__)
    assert errors | models <= set(mta_notebook.__all__)


@pytest.mark.parametrize(
    "name", ["Client", "CampaignPlan", "EventLog", "RateLimitError", "Journal"]
)
def test_public_classes_show_the_public_module(name: str) -> None:
    cls = getattr(mta_notebook, name)
    assert cls.__module__ == "mta_notebook"
    assert repr(cls) == f"<class 'mta_notebook.{name}'>"


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mta_notebook.nope  # noqa: B018


def test_import_loads_no_heavy_library() -> None:
    heavy = ("pandas", "pyarrow", "numpy", "starlette", "uvicorn", "plotly", "ipywidgets")
    heavy += ("ibis", "duckdb", "phonenumbers", "httpx", "pydantic")
    code = f"import sys, mta_notebook; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_using_the_client_does_not_load_the_web_server_or_charts() -> None:
    code = (
        "import sys, mta_notebook as mta; mta.Client(api_key='k'); mta.read_webhook_log; "
        "print(','.join(m for m in ('starlette', 'uvicorn', 'plotly', 'ipywidgets') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# The public functions whose leading arguments are a natural pair or triple (the data and what
# it joins to, the client and what it calls); every other parameter is keyword-only.
POSITIONAL: dict[str, tuple[str, ...]] = {
    "compare_routes": ("events", "sends"),
    "cost_report": ("events", "sends"),
    "optin_reach": ("events", "subscribers"),
    "predicted_imessage_share": ("reachable", "phones"),
    "delivery_report": ("events", "sends"),
    "delivery_timeseries": ("events", "sends"),
    "failure_reasons": ("events", "sends"),
    "fallback_summary": ("events", "sends"),
    "message_table": ("events", "sends"),
    "messages": ("events", "sends"),
    "reply_report": ("events", "sends"),
    "time_to_deliver": ("events", "sends"),
    "compare_identities": ("events", "sends"),
    "Dashboard": ("events", "sends"),
    "save_report": ("path", "events", "sends"),
    "plan_campaign": ("recipients", "message"),
    "plan_experiment": ("recipients", "message"),
    "resume_campaign": ("campaign_id", "client"),
    "register_webhooks": ("client", "url", "secret"),
    "fetch_deliveries": ("client", "start", "end"),
    "verify_signature": ("raw_body", "signature", "secret"),
}


def test_parameters_after_the_first_are_keyword_only() -> None:
    import dataclasses

    offenders = {}
    for name in mta_notebook.__all__:
        obj = getattr(mta_notebook, name)
        if inspect.isclass(obj) and (
            issubclass(obj, BaseException) or dataclasses.is_dataclass(obj)  # values we build
        ):
            continue
        if not callable(obj) or name in ("charts", "contract", "sandbox"):
            continue
        target = obj.__init__ if inspect.isclass(obj) else obj
        params = list(inspect.signature(target).parameters.values())
        if inspect.isclass(obj):
            params = params[1:]  # self
        positional = tuple(
            p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        if len(positional) > 1 and positional != POSITIONAL.get(name):
            offenders[name] = positional
    assert offenders == {}
