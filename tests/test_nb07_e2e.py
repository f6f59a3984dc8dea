"""End to end: notebook 07_ablations in the smoke workbook (the session's `smoke_run`, see conftest.py).

Checks what the notebook leaves: a result row per variant and sweep point of the smoke profile's reduced set,
scores that the results files reproduce, notebook 03/04's judges standing in where the recipe is theirs, the
variants' own prompts on their rows, and claims that one seed cannot decide."""

import json

import pytest

from rmr1lib.ablations import VERDICTS, default_budget, plan_study
from rmr1lib.files import read_jsonl
from rmr1lib.scoring import score_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(smoke_run):
    rows = read_jsonl(smoke_run.artifact("ablations/results.jsonl"))
    report = json.loads(smoke_run.artifact("ablations/study.json").read_text())
    return smoke_run, rows, report


def scores_of(run, row, profile):
    label = row["judge"].replace("/", "__")
    if row["budget"] and row["budget"] != default_budget(profile):
        label += f"__budget-{row['budget']}"
    return json.loads(run.path(f"ablations/eval/scores_{label}.json").read_text())


def test_every_variant_and_sweep_point_has_a_row(study, smoke_profile):
    run, rows, _ = study
    a = smoke_profile.ablations
    got = {(r["sweep"], r["variant"], r["size"], r["budget"]) for r in rows}
    want = {("variants", v, None, None) for v in a.variants}
    want |= {("budget", "rm_r1", None, b) for b in set(a.budgets) | {default_budget(smoke_profile)}}
    want |= {("size", a.size_recipe, s, None) for s in a.sizes}
    assert got == want and len(rows) == len(want)
    assert {r["seed"] for r in rows} == {42}


def test_rows_are_reproduced_from_their_results_files(study, smoke_profile):
    run, rows, _ = study
    for row in rows:
        summary = scores_of(run, row, smoke_profile)
        rescored = score_file(run.path(f"ablations/eval/{summary['results']}"))
        parts = [rescored[b]["score"] for b in ("rewardbench", "rm-bench", "rmb")]
        assert row["average"] == pytest.approx(sum(parts) / 3)
        assert row["judgements"] == sum(s["orders"]["rows"] for s in rescored.values())
        settings = summary["settings"]
        assert settings["orders"] == "both" and settings["order_seed"] == 42
        assert settings["max_new_tokens"] == (row["budget"] or default_budget(smoke_profile))
        want_kind = "plain_judge" if row["variant"] in ("original", "verdict_sft") else "instruct_cor"
        assert settings["prompt_kind"] == want_kind, row["variant"]


def test_workbook_judges_stand_in_and_the_rest_is_trained(study, smoke_profile):
    run, rows, report = study
    stages, plan = report["stages"], plan_study(smoke_profile)
    reuse = {s["reuse"]: s["id"] for s in plan["stages"] if s["reuse"]}
    assert stages[reuse["sft_model"]]["how"] == "notebook 03's judge"
    assert stages[reuse["sft_model"]]["model"] == str(run.artifact("sft_model"))
    assert stages[reuse["rl_model"]]["how"] == "notebook 04's judge"
    verdict = next(v for k, v in stages.items() if "sft_verdict" in k)
    assert verdict["how"] == "trained" and verdict["steps"] == smoke_profile.ablations.verdict_sft_max_steps
    assert {s["how"] for s in stages.values()} <= {"run's starting model", "notebook 03's judge",
                                                    "notebook 04's judge", "trained", "built"}


def test_a_shorter_budget_cuts_off_at_least_as_many_judgements(study):
    _, rows, _ = study
    budget = {r["budget"]: r["truncation_rate"] for r in rows if r["sweep"] == "budget"}
    rates = [budget[b] for b in sorted(budget)]
    assert len(rates) >= 2 and rates == sorted(rates, reverse=True)  # greedy: cut at the long budget means cut at 64


def test_one_seed_decides_no_claim(smoke_run):
    found = json.loads(smoke_run.artifact("ablations/claims.json").read_text())
    assert len(found) == 8
    assert {c["verdict"] for c in found} <= {VERDICTS[2], VERDICTS[3]}
    by_claim = {c["claim"]: c for c in found}
    assert by_claim["Reasoning before the verdict beats a direct verdict"]["verdict"] == VERDICTS[2]
    assert by_claim["Rubrics help (cold-start RL)"]["verdict"] == VERDICTS[3]


def test_notebook_time_budget(smoke_run):
    seconds = json.loads(smoke_run.manifest_path.read_text())["notebooks"]["07_ablations"]["seconds"]
    assert seconds < 200, f"07_ablations took {seconds:.0f} s (budget with 08: about 100 s on an idle 2-core machine)"
