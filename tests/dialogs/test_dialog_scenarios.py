"""Conversation scenarios (dialogs/scenario_data/*.yaml) through the policy: with hand labels, and through the
real NLU."""
from __future__ import annotations

import pytest

from dialogs.bench import SCENARIO_DIR
from dialogs.scenarios import load_scenarios, run_scenario

SCENARIOS = load_scenarios(SCENARIO_DIR)
IDS = [f"{s.source}:{s.name}" for s in SCENARIOS]


def test_enough_scenarios_across_scripts_and_languages():
    assert len(SCENARIOS) >= 60
    langs = {s.script.split("_")[-2] for s in SCENARIOS}
    assert langs == {"zh", "en"}
    groups = {s.script.rsplit("_", 2)[0] for s in SCENARIOS}
    assert {"collections_m0", "collections_m1", "collections_m2", "collections_voicemail",
            "telesales_reborrow", "telesales_limit_increase", "telesales_reactivation"} <= groups


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_scenario_with_labels(scenario):
    errors = run_scenario(scenario)
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="session")
def real_classify():
    # the intent model ships with the code: a model that fails to load fails every scenario, never skips it
    from dialogs.converse import real_classifier

    classify = real_classifier()
    classify("好的", "zh")
    classify("okay", "en")
    return classify


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_scenario_through_real_nlu(scenario, real_classify):
    if not scenario.nlu:
        pytest.skip("this scenario is about its labels (e.g. a low confidence)")
    errors = run_scenario(scenario, classify=real_classify)
    if scenario.nlu_known_issue and errors:
        pytest.xfail(f"known NLU issue: {scenario.nlu_known_issue}")
    assert not errors, "\n".join(errors)


def test_the_bench_reads_the_scenarios_shipped_with_the_package():
    from dialogs.bench import scenario_rates

    assert "tests" not in SCENARIO_DIR.parts and len(SCENARIOS) > 0
    assert scenario_rates(with_nlu=False)["scenarios"] == len(SCENARIOS)
