"""The ablation study as data (rmr1lib.ablations): variants, the plan, the cost estimate, summaries and claims;
and the profile features it needs (the study profile, `extends`, ablations settings, with_overrides)."""

import textwrap

import pytest

from rmr1lib import ablations as ab
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.paper import load_paper_results
from rmr1lib.profiles import ABLATION_VARIANTS, BUILTIN_PROFILES, load_profile, with_overrides
from rmr1lib.prompts import VERDICT_TAGS
from rmr1lib.synthetic import make_pairs

SMOKE_SFT_STEPS = load_profile("smoke").sft.max_steps  # the judges' names carry their step count

UNITS = {"sft_step": 0.5, "rl_step": 4.0, "judgement": 0.1, "engine_start": 3.0, "model_build": 7.0}


def full_smoke(**extra):
    changes = {"ablations.variants": list(ABLATION_VARIANTS), "ablations.seeds": 2, "ablations.budgets": [64],
               "ablations.sizes": [64, 128], "ablations.verdict_sft_max_steps": 0, "ablations.size_sft_max_steps": 0,
               **extra}
    return load_profile("smoke", changes)


def test_every_variant_names_paper_rows_that_exist():
    paper = {(r["table"], r["model"]) for r in load_paper_results()}
    assert tuple(ab.VARIANTS) == ABLATION_VARIANTS
    for v in ab.VARIANTS.values():
        assert v.paper, v.name
        for table, model in v.paper.items():
            assert (table, model) in paper, (v.name, table, model)
    with pytest.raises(ConfigError, match="unknown ablation variant 'nope'"):
        ab.variant("nope")


def test_plan_reuses_the_workbook_judges_only_at_the_profile_seed():
    prof = full_smoke()
    plan = ab.plan_study(prof)
    stages = {s["id"]: s for s in plan["stages"]}
    assert len(stages) == len(plan["stages"])
    reused = {s["id"]: s["reuse"] for s in plan["stages"] if s["reuse"]}
    assert reused == {"base": "base", f"s42/sft_traces_{SMOKE_SFT_STEPS}": "sft_model",
                      f"s42/sft_traces_{SMOKE_SFT_STEPS}/rl_verifiable_instruct_cor_12": "rl_model"}
    # seed 43 trains its own judges, from the same starting model
    assert stages[f"s43/sft_traces_{SMOKE_SFT_STEPS}"]["start"] == "base" and stages[f"s43/sft_traces_{SMOKE_SFT_STEPS}"]["reuse"] is None
    assert plan["seeds"] == [42, 43]
    # every evaluation's judge is a planned stage, parents come before children
    order = [s["id"] for s in plan["stages"]]
    for s in plan["stages"]:
        if "start" in s:
            assert order.index(s["start"]) < order.index(s["id"])
    assert {e["judge"] for e in plan["evaluations"]} <= set(stages)
    # variants x seeds, budgets (with the profile's own) x seeds, sizes x seeds
    assert len(plan["evaluations"]) == 2 * (len(ABLATION_VARIANTS) + 2 + 2)
    cold = [s for s in plan["stages"] if s.get("reward") == "cold_start"]
    assert {s["prompt_kind"] for s in cold} == {"plain_judge", "rubrics_only", "instruct_cor"}
    assert len(cold) == 3 * 2 and {s["seed"] for s in cold} == {42, 43}  # each seed trains its own
    assert all(s["start"] == "base" and not s["after_sft"] for s in cold)


def test_the_size_sweep_shares_the_run_width_and_builds_the_others():
    plan = ab.plan_study(full_smoke())
    sizes = [e for e in plan["evaluations"] if e["sweep"] == "size" and e["seed"] == 42]
    judges = {e["size"]: e["judge"] for e in sizes}
    assert judges[128] == f"s42/sft_traces_{SMOKE_SFT_STEPS}"                 # the run's own width: the distilled judge itself
    assert judges[64] == f"s42/size-64/sft_traces_{SMOKE_SFT_STEPS}"
    base64 = next(s for s in plan["stages"] if s["id"] == "size-64/base")
    assert base64["reuse"] is None and base64["size"] == 64
    # with its own step count the sweep trains the run's width again (a fair sweep), and reuses nothing there
    plan = ab.plan_study(full_smoke(**{"ablations.size_sft_max_steps": 50}))
    judges = {e["size"]: e["judge"] for e in plan["evaluations"] if e["sweep"] == "size" and e["seed"] == 42}
    assert judges == {64: "s42/size-64/sft_traces_50", 128: "s42/sft_traces_50"}
    assert next(s for s in plan["stages"] if s["id"] == "s42/sft_traces_50")["reuse"] is None


def test_cold_start_steps_leave_the_rm_r1_judge_to_notebook_04():
    plan = ab.plan_study(full_smoke(**{"ablations.cold_start_max_steps": 3}))
    rl = {s["id"]: s for s in plan["stages"] if s["kind"] == "rl" and s["seed"] == 42}
    assert rl["s42/rl_cold_start_plain_judge_3"]["steps"] == 3
    assert rl[f"s42/sft_traces_{SMOKE_SFT_STEPS}/rl_verifiable_instruct_cor_12"]["reuse"] == "rl_model"


def test_plan_needs_fixed_step_counts():
    with pytest.raises(ConfigError, match="sft.max_steps is -1"):
        ab.plan_study(full_smoke(**{"sft.max_steps": -1}))


def test_estimate_adds_what_is_trained_and_judged():
    prof = load_profile("smoke", {"ablations.variants": ["original", "verdict_sft", "distilled", "rm_r1"],
                                  "ablations.budgets": [], "ablations.sizes": [],
                                  "ablations.verdict_sft_max_steps": 10})
    plan = ab.plan_study(prof)
    est = ab.estimate_seconds(plan, UNITS, judgements_per_eval=100)
    # only the verdict-only SFT trains (distilled and rm_r1 are the workbook's); 4 judges, 4 evaluations
    assert est["sft"] == 10 * 0.5 and est["rl"] == 0 and est["build"] == 0
    assert est["evaluation"] == pytest.approx(4 * 3.0 + 4 * 100 * 0.1)
    assert est["total"] == pytest.approx(est["sft"] + est["evaluation"])
    with pytest.raises(ConfigError, match="engine_start"):
        ab.estimate_seconds(plan, {k: v for k, v in UNITS.items() if k != "engine_start"}, 10)


def test_variant_overrides_make_valid_profiles():
    prof = full_smoke()
    cold = with_overrides(prof, ab.variant_overrides(prof, "cold_start_rl", 43))
    assert (cold.seed, cold.judge.prompt_kind, cold.rl.reward, cold.judge.mixed_prompts) == \
        (43, "plain_judge", "cold_start", True)
    assert prof.seed == 42 and prof.judge.prompt_kind == "instruct_cor"  # the run's profile is unchanged
    small = with_overrides(prof, ab.variant_overrides(prof, "distilled", 42, size=64))
    assert (small.model.tiny.hidden_size, small.model.tiny.num_heads, small.model.tiny.num_kv_heads,
            small.model.tiny.intermediate_size) == (64, 2, 1, 128)
    stage = {"kind": "sft", "variant": "verdict_sft", "seed": 44, "size": None, "steps": 9}
    assert ab.stage_overrides(prof, stage)["sft.max_steps"] == 9
    with pytest.raises(ConfigError, match="not a tiny model width"):
        ab.size_overrides(prof, 48)


def test_verdict_records_answer_with_the_label_only():
    pairs = make_pairs(6, seed=3)
    records = ab.verdict_records(pairs, "plain_judge")
    assert [r["id"] for r in records] == [p["id"] for p in pairs]
    for pair, record in zip(pairs, records):
        want = VERDICT_TAGS[0] if pair["winner"] == "model_a" else VERDICT_TAGS[1]
        assert record["completion"] == [{"role": "assistant", "content": want}]
        assert record["prompt"][-1]["role"] == "user"
    with pytest.raises(DataError):
        ab.verdict_records([], "plain_judge")


def test_verdict_records_from_released_traces_keep_their_prompts():
    from rmr1lib.distill import load_released_traces
    from rmr1lib.files import repo_root

    traces, _ = load_released_traces(str(repo_root() / "data" / "rehearsal" / "distill_sft.jsonl"))
    records = ab.verdict_records_from_traces(traces)
    assert len(records) == len(traces)
    for trace, record in zip(traces, records):
        want = VERDICT_TAGS[0] if trace["winner"] in ("model_a", "A") else VERDICT_TAGS[1]
        assert record["prompt"] == trace["prompt"] and record["completion"][0]["content"] == want
    with pytest.raises(DataError, match="trace 1 .*winner"):
        ab.verdict_records_from_traces([traces[0], {**traces[1], "winner": None}])


def rows_for(values: dict, sweep="variants", key=None):
    out = []
    for name, per_seed in values.items():
        for seed, v in zip((1, 2, 3), per_seed):
            row = {"sweep": sweep, "variant": name if key is None else "rm_r1", "seed": seed, "size": None,
                   "budget": None, "average": v, "rewardbench": v}
            if key is not None:
                row[key] = name
            out.append(row)
    return out


def test_summaries_and_paired_differences():
    rows = rows_for({"verdict_sft": [0.5, 0.6, 0.7], "distilled": [0.7, 0.8, 0.95]})
    summary = {s["variant"]: s for s in ab.summarize(rows)}
    assert summary["verdict_sft"]["mean"] == pytest.approx(0.6)
    assert summary["verdict_sft"]["sd"] == pytest.approx(0.1)
    assert (summary["distilled"]["min"], summary["distilled"]["max"], summary["distilled"]["n"]) == (0.7, 0.95, 3)
    d = ab.paired_differences(rows, {"variant": "verdict_sft"}, {"variant": "distilled"})
    assert d == pytest.approx([0.2, 0.2, 0.25])
    with pytest.raises(DataError, match="two rows for seed 1"):
        ab.paired_differences(rows + rows[:1], {"variant": "verdict_sft"}, {"variant": "distilled"})
    with pytest.raises(DataError, match="no 'average'"):
        ab.summarize([{"sweep": "variants", "variant": "x", "seed": 1}])


@pytest.mark.parametrize("diffs, verdict", [
    ([0.1, 0.12, 0.09], "holds here"),
    ([-0.1, -0.12, -0.09], "reversed here"),
    ([0.3, 0.01, -0.05], "no clear difference here"),
    ([0.3, 0.01, 0.02], "no clear difference here"),   # all positive, but the mean is within one sd
    ([0.2], "no clear difference here"),               # one seed cannot show a difference
    ([], "not run in this profile"),
])
def test_judge_claim(diffs, verdict):
    assert ab.judge_claim(diffs) == verdict


def test_claims_read_the_rows():
    rows = rows_for({"verdict_sft": [0.5, 0.55, 0.52], "distilled": [0.7, 0.72, 0.71], "rm_r1": [0.7, 0.6, 0.75]})
    rows += rows_for({64: [0.2, 0.25, 0.22], 256: [0.7, 0.72, 0.71]}, sweep="budget", key="budget")
    found = {c["claim"]: c for c in ab.claims(rows)}
    assert found["Reasoning before the verdict beats a direct verdict"]["verdict"] == "holds here"
    assert found["RL after distillation adds accuracy"]["verdict"] == "no clear difference here"
    assert found["Rubrics help (cold-start RL)"]["verdict"] == "not run in this profile"
    budget = found["A longer token budget helps"]
    assert budget["verdict"] == "holds here" and budget["compared"] == "budget 256 vs 64"
    assert found["Larger models judge better"]["verdict"] == "not run in this profile"


def test_paper_rows_put_tables_2_and_3_next_to_the_study():
    rows = rows_for({"rm_r1": [0.6, 0.7, 0.8], "distilled": [0.5, 0.5, 0.5]})
    table = {(r["table"], r["variant"]): r for r in ab.paper_rows(rows, load_paper_results())}
    assert table[("2", "rm_r1")]["paper"] == pytest.approx(0.914)
    assert table[("2", "rm_r1")]["benchmark"] == "rewardbench"
    assert table[("3", "distilled")]["paper"] == pytest.approx(0.792)
    assert table[("3", "rm_r1")]["ours_mean"] == pytest.approx(0.7)
    assert table[("3", "rm_r1")]["difference"] == pytest.approx(0.7 - 0.812)
    assert table[("2", "original")]["ours_mean"] is None and table[("2", "original")]["seeds"] == 0


def test_result_row_flattens_scores():
    scores = {"rewardbench": {"score": 0.5}, "rm-bench": {"score": 0.6}, "rmb": {"score": 0.7}}
    orders = {"rewardbench": {"position_consistency": 0.4, "parse_failures": 1, "rows": 10},
              "rm-bench": {"position_consistency": 0.6, "parse_failures": 0, "rows": 10},
              "rmb": {"position_consistency": None, "parse_failures": 1, "rows": 5}}
    evaluation = {"variant": "rm_r1", "sweep": "budget", "seed": 43, "size": None, "budget": 64, "judge": "j"}
    row = ab.result_row(evaluation, scores, orders, {"truncation_rate": 0.25})
    assert row["average"] == pytest.approx(0.6) and row["position_consistency"] == pytest.approx(0.5)
    assert row["parse_rate"] == pytest.approx(1 - 2 / 25) and row["truncation_rate"] == 0.25
    partial = ab.result_row(evaluation, {"rewardbench": {"score": 0.5}}, {}, {})
    assert partial["average"] is None and partial["rewardbench"] == 0.5


# ---- the profile side -------------------------------------------------------------------------------------


def test_study_profile_extends_smoke_with_every_ablation():
    assert "study" in BUILTIN_PROFILES
    study, smoke = load_profile("study"), load_profile("smoke")
    assert study.name == "study" and study.ablations.seeds >= 3
    assert set(study.ablations.variants) == set(ABLATION_VARIANTS)
    assert study.ablations.budgets and study.ablations.sizes
    assert study.model == smoke.model and study.data == smoke.data  # the same starting point as smoke


def test_extends_a_profile_from_a_user_file(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: smoke\nname: mine\nsft:\n  max_steps: 7\n")
    prof = load_profile(str(mine))
    assert prof.name == "mine" and prof.sft.max_steps == 7
    assert prof.sft.learning_rate == load_profile("smoke").sft.learning_rate  # the rest comes from smoke
    child = tmp_path / "child.yaml"
    child.write_text("extends: mine.yaml\nseed: 5\n")  # relative to the file
    assert (load_profile(str(child)).seed, load_profile(str(child)).sft.max_steps) == (5, 7)
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    with pytest.raises(ConfigError, match="round in a circle"):
        load_profile(str(loop))
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: nowhere\n")
    with pytest.raises(ConfigError, match="extends 'nowhere', which is neither"):
        load_profile(str(bad))


@pytest.mark.parametrize("overrides, message", [
    ({"ablations.sizes": [48]}, "not a tiny model width"),
    ({"ablations.sizes": [64, 64]}, "repeats a size"),
    ({"ablations.budgets": [0]}, "not a positive number"),
    ({"ablations.variants": []}, "expected a non-empty list"),
    ({"ablations.variants": ["rm_r2"]}, "'rm_r2' is not allowed"),
    ({"ablations.eval_orders": "BA"}, "'BA' is not allowed"),
])
def test_bad_ablation_settings_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_profile("smoke", overrides)
    assert "ablations." in str(err.value)


def test_empty_sweeps_are_allowed_and_sizes_follow_the_family():
    prof = load_profile("smoke", {"ablations.budgets": [], "ablations.sizes": []})
    assert prof.ablations.budgets == [] and prof.ablations.sizes == []
    gpu = load_profile("single_gpu", {"ablations.sizes": ["7B", "14B"]})
    assert gpu.ablations.sizes == ["7B", "14B"]
    with pytest.raises(ConfigError, match="not a model size"):
        load_profile("single_gpu", {"ablations.sizes": [64]})


def test_with_overrides_validates_and_copies(tmp_path):
    prof = load_profile("smoke")
    changed = with_overrides(prof, {"sft.max_steps": 3, "model.tiny.hidden_size": 96, "model.tiny.num_heads": 3,
                                    "model.tiny.num_kv_heads": 1})
    assert changed.sft.max_steps == 3 and prof.sft.max_steps == SMOKE_SFT_STEPS
    with pytest.raises(ConfigError, match="head size"):
        with_overrides(prof, {"model.tiny.hidden_size": 96})
    text = textwrap.dedent("""\
        sft.max_steps: 4
    """)
    assert with_overrides(prof, text).sft.max_steps == 4
