"""Notebook 07's runner pieces that need no model (rmr1lib.study), and the reproducible figure files of notebook
08 (rmr1lib.figures.save_reproducible)."""

import pytest

from rmr1lib.ablations import plan_study
from rmr1lib.profiles import load_profile
from rmr1lib.study import evaluation_profile, results_label, stage_profile

SMOKE_SFT_STEPS = load_profile("smoke").sft.max_steps  # the judges' names carry their step count


def test_evaluation_profile_applies_the_variant_and_the_study_settings():
    prof = load_profile("smoke", {"ablations.eval_synthetic_n": 1, "ablations.eval_orders": "random",
                                  "ablations.eval_max_items": 3})
    ev = evaluation_profile(prof, {"variant": "verdict_sft", "seed": 43, "size": None, "budget": 64})
    assert (ev.judge.prompt_kind, ev.eval.synthetic_n, ev.eval.orders, ev.eval.max_items) == \
        ("plain_judge", 1, "random", 3)
    assert ev.eval.max_new_tokens == 64
    assert ev.seed == prof.seed  # every variant is judged on the same items, in the same orders
    same = evaluation_profile(load_profile("smoke", {"ablations.eval_orders": ""}),
                              {"variant": "rm_r1", "seed": 42, "size": None, "budget": None})
    assert same.eval.orders == "both" and same.judge.prompt_kind == "instruct_cor"


def test_stage_profiles_carry_seed_steps_reward_and_size():
    prof = load_profile("smoke", {"ablations.variants": ["cold_start_rl_rubrics", "distilled"],
                                  "ablations.sizes": [64], "ablations.size_sft_max_steps": 20,
                                  "ablations.cold_start_max_steps": 3, "ablations.seeds": 2})
    stages = {s["id"]: s for s in plan_study(prof)["stages"]}
    cold = stage_profile(prof, stages["s43/rl_cold_start_rubrics_only_3"])
    assert (cold.seed, cold.rl.reward, cold.judge.prompt_kind, cold.rl.max_steps) == \
        (43, "cold_start", "rubrics_only", 3)
    small = stage_profile(prof, stages["s43/size-64/sft_traces_20"])
    assert (small.model.tiny.hidden_size, small.sft.max_steps, small.seed) == (64, 20, 43)
    base = stage_profile(prof, stages["size-64/base"])
    assert base.model.tiny.hidden_size == 64 and base.seed == 42


def test_results_labels_share_identical_judgements():
    ev = {"judge": f"s42/sft_traces_{SMOKE_SFT_STEPS}/rl_verifiable_instruct_cor_12", "budget": None}
    assert results_label(ev, 256) == f"s42__sft_traces_{SMOKE_SFT_STEPS}__rl_verifiable_instruct_cor_12"
    assert results_label({**ev, "budget": 256}, 256) == results_label(ev, 256)
    assert results_label({**ev, "budget": 64}, 256).endswith("__budget-64")


def test_saved_figures_are_byte_for_byte_reproducible(tmp_path):
    pytest.importorskip("matplotlib")
    from rmr1lib.figures import ladder_figure, save_reproducible

    steps = [{"label": "a", "paper": 0.8}, {"label": "b", "paper": 0.9}]
    first = save_reproducible(ladder_figure(steps, title="t"), tmp_path / "one" / "fig")
    second = save_reproducible(ladder_figure(steps, title="t"), tmp_path / "two" / "fig")
    assert [p.suffix for p in first] == [".png", ".svg"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    svg = first[1].read_text()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    changed = save_reproducible(ladder_figure([{"label": "a", "paper": 0.7}, steps[1]], title="t"), tmp_path / "x")
    assert changed[1].read_bytes() != first[1].read_bytes()
