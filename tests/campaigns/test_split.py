"""Issue 15: a randomized split across identities, one confirm panel and one send for all,
cards instead of dicts and reprs, "already sent" from the journal, the predicted iMessage share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy.stats import binomtest

from mta_notebook import (
    CampaignError,
    CampaignPlans,
    CampaignResults,
    Client,
    ConfigError,
    plan_campaign,
    plan_experiment,
    read_experiments,
)
from mta_notebook.campaigns import Journal
from mta_notebook.campaigns._group import ALREADY_SENT

SPLIT = {"Acme": 0.5, "Acme Deals": 0.5}


def _people(n: int, start: int = 0) -> pd.DataFrame:
    # 10,000 distinct valid US numbers: area codes 312 and 773, lines 555-0100..
    phones = [f"+1{312 if i % 2 else 773}{2000000 + start + i:07d}" for i in range(n)]
    return pd.DataFrame({"phone": phones, "first_name": [f"P{i}" for i in range(n)]})


def _plans(tmp_path: Path, n: int = 40, **kw: Any) -> CampaignPlans:
    options: dict[str, Any] = {"split": SPLIT, "seed": 7, "send_window": False, **kw}
    return plan_experiment(
        _people(n), "Hi {{first_name}}", journal=tmp_path / "j.sqlite", **options
    )


def _arms(plans: CampaignPlans) -> dict[str, set[str]]:
    return {str(p.sender_name): set(p.to_send["phone"]) for p in plans}


@pytest.mark.parametrize(
    "split",
    [
        {"Acme": 0.5, "Acme Deals": 0.5},
        {"Acme": 0.2, "Acme Deals": 0.8},
        {"Acme": 1 / 3, "Acme Deals": 1 / 3, "Acme Plus": 1 / 3},
    ],
)
def test_the_split_draws_shares_within_binomial_bounds(tmp_path: Path, split: Any) -> None:
    n = 10_000
    plans = plan_experiment(
        _people(n), "Hi", split=split, seed=2026, journal=tmp_path / "j", send_window=False
    )
    assert sum(len(p.to_send) for p in plans) == n  # everyone in exactly one arm
    assert len(set().union(*_arms(plans).values())) == n
    for p in plans:
        k, weight = len(p.to_send), split[p.sender_name]
        # two-sided exact binomial test: a fair draw fails it once in a thousand
        assert binomtest(k, n, weight).pvalue > 0.001, (p.sender_name, k, weight)
        ci = binomtest(k, n, weight).proportion_ci(confidence_level=0.999, method="wilson")
        assert ci.low <= weight <= ci.high


def test_the_same_seed_draws_the_same_split_and_another_seed_another(tmp_path: Path) -> None:
    a = _plans(tmp_path / "a", n=200)
    b = _plans(tmp_path / "b", n=200)  # another journal: the draw does not depend on it
    c = _plans(tmp_path / "c", n=200, seed=8)
    assert _arms(a) == _arms(b)
    assert a.campaign_ids == b.campaign_ids
    assert _arms(a) != _arms(c)
    assert a.experiment is not None
    assert c.experiment is not None
    assert a.experiment.experiment_id != c.experiment.experiment_id


def test_a_number_listed_twice_is_drawn_once(tmp_path: Path) -> None:
    df = _people(60)
    twice = pd.concat(
        [df, df.assign(phone="(" + df["phone"].str[2:5] + ") " + df["phone"].str[5:])]
    )
    plans = plan_experiment(twice, "Hi", split=SPLIT, seed=3, journal=tmp_path / "j")
    arms = _arms(plans)
    assert not arms["Acme"] & arms["Acme Deals"]  # nobody gets both identities' message
    assert len(arms["Acme"] | arms["Acme Deals"]) == 60


def test_the_experiment_is_recorded_in_the_journal_and_read_back(tmp_path: Path) -> None:
    plans = _plans(tmp_path, n=100)
    exp = plans.experiment
    assert exp is not None
    assert exp.seed == 7
    rows = read_experiments(tmp_path / "j.sqlite")  # a new connection: what the file holds
    assert rows["experiment_id"].unique().tolist() == [exp.experiment_id]
    assert rows["arm"].tolist() == ["Acme", "Acme Deals"]
    assert rows["weight"].tolist() == [0.5, 0.5]
    assert rows["seed"].tolist() == [7, 7]
    assert rows["campaign_id"].tolist() == list(plans.campaign_ids)
    assert rows["recipients"].tolist() == [len(p.to_send) for p in plans]
    assert exp.campaign_of("Acme Deals") == plans[1].campaign_id
    summary = plans.summary
    assert summary["experiment"]["seed"] == 7
    assert summary["recipients"] == 100


def test_a_journal_from_before_experiments_still_opens(tmp_path: Path) -> None:
    plan = plan_campaign(_people(3), "Hi", sender_name="Acme", journal=tmp_path / "old")
    assert read_experiments(tmp_path / "old").empty
    with Journal(tmp_path / "old") as jr:
        assert jr.has_campaign(plan.campaign_id)


def test_planning_the_same_split_again_finds_it_and_a_changed_one_is_refused(
    tmp_path: Path,
) -> None:
    first = _plans(tmp_path, campaign_id="winter")
    again = _plans(tmp_path, campaign_id="winter")
    assert not first.reused
    assert again.reused
    assert again.campaign_ids == first.campaign_ids == ("winter-acme", "winter-acme-deals")
    assert "Planned before" in again.as_html()
    assert len(read_experiments(tmp_path / "j.sqlite")) == 2  # one experiment, two arms
    with pytest.raises(CampaignError, match="winter-acme"):
        _plans(tmp_path, campaign_id="winter", seed=8)  # other recipients under the same ids


@pytest.mark.parametrize(
    ("split", "seed", "match"),
    [
        ({"Acme": 0.5, "Acme Deals": 0.4}, 1, r"sum to 0\.9, not 1"),
        ({"Acme": 1.2, "Acme Deals": -0.2}, 1, "above 0 and at most 1"),
        ({}, 1, "must map each Sender Identity"),
        ({"Acme": "half", "Acme Deals": 0.5}, 1, "must be a number"),
        (SPLIT, None, "seed= must be an integer"),
        (SPLIT, 1.5, "seed= must be an integer"),
    ],
)
def test_bad_weights_and_seeds_are_config_errors(
    tmp_path: Path, split: Any, seed: Any, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        plan_experiment(_people(4), "Hi", split=split, seed=seed, journal=tmp_path / "j")
    assert not (tmp_path / "j").exists() or Journal(tmp_path / "j").campaigns().empty


def test_the_identities_come_from_the_split_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not sender_name="):
        plan_experiment(
            _people(4), "Hi", split=SPLIT, seed=1, sender_name="X", journal=tmp_path / "j"
        )


# -- cards and words -------------------------------------------------------------------------


def test_the_group_card_gives_totals_and_each_identity_in_plain_words(tmp_path: Path) -> None:
    plans = _plans(tmp_path, n=40)
    html = plans._repr_html_()
    a, b = (len(p.to_send) for p in plans)
    assert f"{a + b} recipients" in html
    assert "Per identity" in html
    assert "Acme Deals" in html
    assert "Drawn share" in html
    assert "50%" in html
    for raw in ("{'", "CampaignPlan(", "snake", "recipients_", "nan", "NaN"):
        assert raw not in html
    text = repr(plans)
    assert text.startswith("CampaignPlans(2 campaigns, 40 recipients, 40 credits)")


def test_one_recipient_is_one_recipient(tmp_path: Path) -> None:
    plan = plan_campaign(
        _people(1), "Hi", sender_name="Acme", journal=tmp_path / "j", send_window=False
    )
    html = plan.as_html()
    assert "1 recipient<" in html
    assert "1 credit<" in html
    assert "1 recipients" not in html
    with pytest.raises(CampaignError, match=r"goes to 1 recipient for about 1 credit\."):
        plan.send(object())  # type: ignore[arg-type]
    group = CampaignPlans((plan,))
    with pytest.raises(CampaignError, match=r"1 campaign go.* 1 recipient for about 1 credit"):
        group.send(object())  # type: ignore[arg-type]


def test_the_predicted_imessage_share_is_counted_from_reachable(tmp_path: Path) -> None:
    people = _people(4)
    reach = pd.DataFrame(
        {
            "phone": [people["phone"][0], people["phone"][1], people["phone"][2], "+13125559999"],
            "sender_name": ["Acme", "Acme", "Other", "Acme"],
        }
    )
    plan = plan_campaign(people, "Hi", sender_name="Acme", journal=tmp_path / "j", reachable=reach)
    assert plan.summary["predicted_imessage"] == {"n": 2, "N": 4, "share": 0.5}
    assert "Predicted iMessage" in plan.as_html()
    assert "50.0 % (2/4)" in plan.as_html()
    plain = plan_campaign(people, "Hi", sender_name="Acme", journal=tmp_path / "j")
    assert plain.summary["predicted_imessage"] is None
    assert "Predicted iMessage" not in plain.as_html()
    plans = plan_experiment(
        people, "Hi", split=SPLIT, seed=1, journal=tmp_path / "k", reachable=reach
    )
    assert "Predicted iMessage" in plans.as_html()


def test_a_wrong_reachable_is_refused_before_anything_is_journaled(tmp_path: Path) -> None:
    with pytest.raises(CampaignError, match="'phone' and 'sender_name'"):
        plan_campaign(
            _people(2), "Hi", sender_name="Acme", journal=tmp_path / "j", reachable=pd.DataFrame()
        )
    assert Journal(tmp_path / "j").campaigns().empty


# -- sending through the sandbox --------------------------------------------------------------


def _rows(sb: Any) -> int:
    """Ground truth: messages the sandbox received through /send (one row per recipient)."""
    return len(sb.state.rows)


def test_the_group_sends_once_and_a_new_sandbox_gets_nothing_on_a_rerun(
    tmp_path: Path, start_sandbox: Any
) -> None:
    sb = start_sandbox(seed=1, time_scale=500)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plans = _plans(tmp_path, n=30, chunk_size=10)
        results = plans.send(client, confirm=True, progress=False)
    assert isinstance(results, CampaignResults)
    assert results.counts == {"sent": 30}
    assert _rows(sb) == 30
    text = repr(results)
    assert text.startswith("Sent 30 messages in 2 campaigns.")
    assert "CampaignResult(" not in text
    assert "Acme Deals" in results._repr_html_()
    assert "Sent" in results._repr_html_()
    # a new kernel: the same cell plans the same split and finds it complete in the journal
    fresh = start_sandbox(seed=1, time_scale=500)
    with Client(api_key=fresh.api_key, base_url=fresh.base_url) as client:
        again = _plans(tmp_path, n=30, chunk_size=10)
        assert again.reused
        assert again.complete
        rerun = again.send(client, confirm=True, progress=False)
    assert _rows(fresh) == 0  # the sandbox got no /send
    assert rerun.already_sent
    assert ALREADY_SENT in repr(rerun)
    assert rerun._repr_html_().count(ALREADY_SENT) == 1  # said once, not again per campaign
    assert repr(rerun).count(ALREADY_SENT) == 1
    assert rerun.counts == {"sent": 30}  # the ledger, from the journal


def test_one_panel_confirms_both_plans_and_says_so_after_sending(
    tmp_path: Path, start_sandbox: Any
) -> None:
    sb = start_sandbox(seed=1, time_scale=500)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plans = _plans(tmp_path, n=30, chunk_size=10)
        panel = plans.confirm(client)
        info, button, _out = panel.children
        assert button.description == "Send to 30 recipients"  # all plans, not the first
        assert button.layout.width == "max-content"  # the label is never cut
        for p in plans:
            credits = int(p.to_send["credits"].sum())
            assert f"<td>{p.sender_name}</td><td>{p.campaign_id}</td>" in info.value
            assert f"<td class='mta-num'>{credits}</td>" in info.value
        assert "planned, not sent" in info.value
        assert _rows(sb) == 0  # showing the panel sends nothing
        button.click()
        assert _rows(sb) == 30
        assert "planned, not sent" not in info.value  # refreshed from the journal
        assert ALREADY_SENT in info.value
        assert button.disabled
        assert button.description == ALREADY_SENT
        # the panel a re-run shows: nothing to send, and its button cannot send
        again = _plans(tmp_path, n=30, chunk_size=10).confirm(client)
        _info, again_button, _ = again.children
        assert again_button.disabled
        assert again_button.description == ALREADY_SENT
        again_button.click()
    assert _rows(sb) == 30


def test_test_sends_answer_with_a_card(tmp_path: Path, start_sandbox: Any) -> None:
    sb = start_sandbox(seed=1, time_scale=500)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plans = _plans(tmp_path, n=10)
        answers = plans.test_send(client, to=["+13125559999"])
    assert [a.total_sent for a in answers] == [1, 1]
    html = answers._repr_html_()
    assert "Test send from 2 identities" in html
    assert "Acme Deals" in html
    assert "SendResult(" not in html
    assert "SendResult(" not in repr(answers)
    one = answers[0]
    assert "1 message accepted" in repr(one)
    assert "Test send of campaign" in one._repr_html_()
    assert _rows(sb) == 2


def test_a_panel_shown_above_is_redrawn_when_the_cell_below_sends(
    tmp_path: Path, start_sandbox: Any
) -> None:
    # notebook 02: the panel is shown, then the next cell sends the same plans
    sb = start_sandbox(seed=1, time_scale=500)
    with Client(api_key=sb.api_key, base_url=sb.base_url) as client:
        plans = _plans(tmp_path, n=20, chunk_size=10)
        info, button, _ = plans.confirm(client).children
        assert not button.disabled
        plans.send(client, confirm=True, progress=False)
        assert ALREADY_SENT in info.value
        assert button.disabled
        button.click()  # a late click sends nothing
        resumed = plans.resume(client, progress=False)
    assert _rows(sb) == 20
    assert resumed.already_sent
    assert resumed._repr_html_().count(ALREADY_SENT) == 1  # the headline's; not per campaign
    assert resumed.counts == {"sent": 20}


def test_warnings_and_preview_headers_read_as_words(tmp_path: Path) -> None:
    people = pd.DataFrame({"phone": ["+13125550101", "+13125550102"], "name": ["Zoë", "Ann"]})
    plan = plan_campaign(people, "Hi {{name}}", sender_name="Acme", journal=tmp_path / "j")
    assert any(w.startswith("1 message is UCS-2") for w in plan.warnings)
    html = plan.as_html()
    assert "<th>Phone</th>" in html
    assert "UCS-2 characters" in html  # Zoë's ë
    assert "ucs2_chars" not in html
    plain = plan_campaign(people.tail(1), "Hi {{name}}", sender_name="Acme", journal=tmp_path / "j")
    assert "UCS-2 characters" not in plain.as_html()  # an empty column is left out
