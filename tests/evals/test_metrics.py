"""Deterministic metrics on hand-built predictions: each one can pass and can fail."""

from __future__ import annotations

import dspy
import pytest

from accountflow.errors import ConfigError
from accountflow.evals.metrics import (
    METRICS,
    feedback_metric_for,
    metric_for,
    resolve_weights,
)
from accountflow.grounding import evidence_text, invented_claims
from accountflow.models import Channel
from tests.evals.helpers import (
    GENERIC,
    GROUNDED,
    INVENTED,
    analysis,
    bakery,
    colleague_msg,
    harbor,
    injected,
    plan,
    prediction,
    profile,
)


def score(name: str, example: dspy.Example, pred: dspy.Prediction) -> tuple[float, str, bool]:
    s = METRICS[name](example, pred)
    assert 0.0 <= s.score <= 1.0
    return s.score, s.reason, s.applicable


# ------------------------------------------------------------------ grounding
def test_grounded_message_scores_full_and_invented_message_is_named() -> None:
    ex = harbor()
    good = score("grounding", ex, prediction(outreach=plan("Marcus Reed", GROUNDED)))
    assert good[0] == 1.0 and "are in the data" in good[1]
    bad = prediction(outreach=plan("Marcus Reed", INVENTED))
    bad_score, reason, _ = score("grounding", ex, bad)
    assert bad_score < 0.7
    for invented in ("47", "Acme", "Gartner", "2300"):
        assert invented in reason


def test_grounding_accepts_research_facts_from_account_data_only() -> None:
    ex = harbor()
    msg = "Hi Marcus, congrats on the Savannah terminal opening at Harborline Freight."
    from_data = profile(("Harborline opened a Savannah terminal", "account_data"))
    from_model = profile(("Harborline opened a Savannah terminal", "model_knowledge"))
    assert (
        score("grounding", ex, prediction(outreach=plan("Marcus Reed", msg), profile=from_data))[0]
        == 1.0
    )
    low, reason, _ = score(
        "grounding", ex, prediction(outreach=plan("Marcus Reed", msg), profile=from_model)
    )
    assert low < 1.0 and "Savannah" in reason


def test_grounding_skips_scheduling_numbers_sentence_starts_and_the_footer() -> None:
    ex = harbor()
    evidence = evidence_text(ex.account, ex.seller)
    claims, invented = invented_claims("Hi Marcus, a 15-minute call? Tomorrow works.", evidence)
    assert invented == [] and claims == 1  # only "Marcus": 15-minute and Tomorrow are not claims
    body = GROUNDED + "\n\n" + ex.seller.compliance_footer
    assert score("grounding", ex, prediction(outreach=plan("Marcus Reed", body)))[0] == 1.0


# ------------------------------------------------------------------ personalization and rules
def test_personalization_needs_name_company_and_an_account_specific_fact() -> None:
    ex = harbor()
    full = score(
        "personalization",
        ex,
        prediction(outreach=plan("Marcus Reed", GROUNDED), analysis=analysis()),
    )
    assert full[0] == 1.0
    generic, reason, _ = score(
        "personalization",
        ex,
        prediction(outreach=plan("Marcus Reed", GENERIC), analysis=analysis()),
    )
    assert generic == pytest.approx(2 / 3)
    assert "lacks an account-specific fact" in reason
    nameless = "Hello, Harborline Freight's ETA dashboards went stale after the Snowflake move."
    assert score(
        "personalization",
        ex,
        prediction(outreach=plan("Marcus Reed", nameless), analysis=analysis()),
    )[0] == pytest.approx(2 / 3)


def test_output_rules_use_the_shared_rules() -> None:
    ex = harbor()
    assert score("output_rules", ex, prediction(outreach=plan("Marcus Reed", GROUNDED)))[0] == 1.0
    broken = plan("Marcus Reed", GROUNDED)
    broken.messages[2].body = "Hi [Name], " + "x" * 200  # sms: placeholder, too long, no company
    broken.messages = broken.messages[:3]  # and the call opener is missing
    s, reason, _ = score("output_rules", ex, prediction(outreach=broken))
    assert s == pytest.approx(2 / 4)  # 3 messages + the missing call: sms and call fail
    assert "placeholder" in reason
    assert score("output_rules", ex, prediction(outreach=None))[0] == 0.0
    good = colleague_msg(
        ("c3", "Tom Brannigan"),
        ("c2", "Priya Natarajan"),
        "Hi Tom, Priya Natarajan asked about Harborline Freight.",
    )
    bad = colleague_msg(("c3", "Tom Brannigan"), ("c2", "Priya Natarajan"), "Hi [Name], hello.")
    s, reason, _ = score("output_rules", ex, prediction(colleague_messages=[good, bad, bad]))
    assert s == pytest.approx(1 / 3) and reason.startswith("to Tom Brannigan: colleague email")


def test_metrics_that_do_not_apply_are_marked_so() -> None:
    ex = bakery()
    assert score("colleague", ex, prediction(colleague_messages=[]))[0] == 1.0
    _, _, applicable = score("injection", ex, prediction(analysis=analysis()))
    assert applicable is False
    assert score("personalization", ex, prediction(analysis=analysis()))[2] is False


# ------------------------------------------------------------------ colleague references
def test_colleague_reference_must_cite_the_real_referrer_and_topic() -> None:
    ex = harbor()
    good = colleague_msg(
        ("c3", "Tom Brannigan"),
        ("c2", "Priya Natarajan"),
        "Hi Tom, your colleague Priya Natarajan asked us about freshness "
        "alerts for Snowflake at Harborline Freight.",
    )
    assert score("colleague", ex, prediction(colleague_messages=[good]))[0] == 1.0
    wrong = colleague_msg(
        ("c3", "Tom Brannigan"),
        ("c2", "Priya Natarajan"),
        "Hi Tom, your CEO asked us about pricing at Harborline Freight.",
    )
    s, reason, _ = score("colleague", ex, prediction(colleague_messages=[wrong]))
    assert s == 0.0 and "Priya Natarajan" in reason and "topic" in reason
    primary = colleague_msg(("c1", "Marcus Reed"), ("c2", "Priya Natarajan"), good.body)
    s, reason, _ = score("colleague", ex, prediction(colleague_messages=[primary]))
    assert s == 0.0 and "not an expected target" in reason and "no message to Tom" in reason


def test_colleague_reference_without_engagement_scores_zero() -> None:
    ex = bakery()
    made_up = colleague_msg(("b9", "Sam Hill"), ("b1", "Hannah Rook"), "Hi Sam, Hannah asked...")
    s, reason, _ = score("colleague", ex, prediction(colleague_messages=[made_up]))
    assert s == 0.0 and "without real engagement" in reason


# ------------------------------------------------------------------ analysis against gold
@pytest.mark.parametrize(
    ("fit", "band", "fit_score"), [(92, 1.0, 1.0), (60, 0.5, 0.5), (10, 0.0, 0.0)]
)
def test_fit_band_and_score_against_gold(fit: int, band: float, fit_score: float) -> None:
    ex = harbor()  # gold: high, 85-100
    pred = prediction(analysis=analysis(fit=fit))
    assert score("fit_band", ex, pred)[0] == band
    assert score("fit_score", ex, pred)[0] == pytest.approx(fit_score)


def test_pain_point_recall_matches_by_normalised_overlap() -> None:
    ex = harbor()  # gold: stale ETA dashboards..., unmonitored Fivetran syncs
    both = analysis(titles=("ETA dashboard staleness", "Fivetran sync monitoring gaps"))
    assert score("pain_point_recall", ex, prediction(analysis=both))[0] == 1.0
    one, reason, _ = score(
        "pain_point_recall", ex, prediction(analysis=analysis(titles=("Stale dashboards",)))
    )
    assert one == 0.5 and "missed: unmonitored Fivetran syncs" in reason
    assert (
        score("approach", ex, prediction(analysis=analysis(approach="opportunity_focused")))[0]
        == 0.0
    )


def test_research_facts_tagged_account_data_must_be_in_the_account() -> None:
    ex = harbor()
    ok = profile(
        ("Runs cross-dock freight across 38 terminals", "account_data"),
        ("Founded in 1962", "model_knowledge"),
    )
    assert score("fact_sources", ex, prediction(profile=ok))[0] == 1.0
    bad = profile(
        ("Runs cross-dock freight across 38 terminals", "account_data"),
        ("Employs 90 drivers in Atlanta", "account_data"),
    )
    s, reason, _ = score("fact_sources", ex, prediction(profile=bad))
    assert s == 0.5 and "Atlanta" in reason


# ------------------------------------------------------------------ injection
def test_injection_resistance_uses_the_canary_and_the_dictated_score() -> None:
    ex = injected()
    clean = plan("Ana Souza", "Hi Ana, Spindle & Thread sells sewing kits online; want a call?")
    assert score("injection", ex, prediction(outreach=clean, analysis=analysis(fit=20)))[0] == 1.0
    obeyed = plan("Ana Souza", "Hi Ana, SPINDLE-VIP for Spindle & Thread.")
    s, reason, _ = score("injection", ex, prediction(outreach=obeyed, analysis=analysis(fit=20)))
    assert s == 0.0 and "SPINDLE-VIP" in reason
    s, reason, _ = score("injection", ex, prediction(outreach=clean, analysis=analysis(fit=100)))
    assert s == 0.0 and "100" in reason


# ------------------------------------------------------------------ optimizer metrics
def test_metric_for_is_a_weighted_mean_and_feedback_names_what_to_fix() -> None:
    ex = harbor()
    good = prediction(
        outreach=plan("Marcus Reed", GROUNDED), analysis=analysis(), profile=profile()
    )
    bad = prediction(outreach=plan("Marcus Reed", INVENTED), analysis=analysis(), profile=profile())
    metric = metric_for("personalization", ["grounding", "personalization"], {"grounding": 3})
    assert metric(ex, good) == 1.0
    assert metric(ex, bad, None) < metric(ex, good)
    fb = feedback_metric_for("personalization", ["grounding"])(ex, bad, None, "x", None)
    assert fb.score < 1.0 and "grounding" in fb.feedback and "Acme" in fb.feedback
    assert feedback_metric_for("personalization", ["grounding"])(ex, good).feedback == (
        "Every metric is satisfied."
    )


def test_weights_are_checked_against_the_target() -> None:
    assert set(resolve_weights("analysis")) >= {"fit_band", "pain_point_recall"}
    with pytest.raises(ConfigError, match="does not produce"):
        resolve_weights("analysis", ["personalization"])
    with pytest.raises(ConfigError, match="Unknown metric 'nope'"):
        resolve_weights("pipeline", ["nope"])
    assert all(m.description for m in METRICS.values())
    assert Channel.email.value == "email"
