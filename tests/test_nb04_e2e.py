"""Notebook 04 in the smoke workbook (the session's `smoke_run`): GRPO ran, curves and artifacts are there, the
judge handed to notebook 06 is a loadable full model, and the held-out numbers are consistent."""

import json

import pytest

from rmr1lib.files import read_jsonl

pytestmark = pytest.mark.slow
NB = "04_rl_single_gpu"


def test_notebook_ran_and_recorded_its_artifacts(smoke_run):
    manifest = json.loads(smoke_run.manifest_path.read_text())
    assert manifest["notebooks"][NB]["status"] == "done"
    produced = set(manifest["notebooks"][NB]["artifacts"])
    assert {"rl_model", "rl_adapter", "rl_step_log.jsonl", "rl_summary.json", "figures/rl_curves.png"} <= produced
    assert manifest["artifacts"]["rl_model"]["notebook"] == NB
    assert (smoke_run.figures_dir / "rl_curves.png").stat().st_size > 20_000


def test_rl_model_is_a_full_model_folder(smoke_run):
    folder = smoke_run.artifact("rl_model")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen2" and "quantization_config" not in config
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer_config.json").exists()
    assert not (folder / "adapter_config.json").exists()  # merged, not an adapter
    assert (smoke_run.artifact("rl_adapter") / "adapter_config.json").exists()


def test_step_log_covers_every_step_and_the_evaluations(smoke_run, smoke_profile):

    smoke = smoke_profile
    rl = smoke.rl
    rows = read_jsonl(smoke_run.artifact("rl_step_log.jsonl"))
    by_step = {r["step"]: r for r in rows}
    assert sorted(s for s in by_step if s > 0) == list(range(1, rl.max_steps + 1))
    for step in range(1, rl.max_steps + 1):
        r = by_step[step]
        for key in ("reward", "reward_std", "frac_reward_zero_std", "completions/mean_length", "kl"):
            assert key in r, (step, key)
        assert -1.0 <= r["reward"] <= 1.0 and 0.0 <= r["frac_reward_zero_std"] <= 1.0
        assert r["completions/mean_length"] <= rl.max_response_tokens
    evaluated = sorted(s for s, r in by_step.items() if "heldout/accuracy_strict" in r)
    assert evaluated == [0] + list(range(rl.eval_steps, rl.max_steps + 1, rl.eval_steps))
    for s in evaluated:
        r = by_step[s]
        assert r["heldout/n"] == min(smoke.data.n_heldout, rl.eval_max_pairs or smoke.data.n_heldout)
        assert r["heldout/accuracy_strict"] <= r["heldout/parse_rate_strict"]


def test_summary_matches_the_log_and_the_start_point(smoke_run):
    summary = json.loads(smoke_run.artifact("rl_summary.json").read_text())
    rows = read_jsonl(smoke_run.artifact("rl_step_log.jsonl"))
    assert summary["rollouts"] == "trl_generate" and summary["device"] == "cpu"
    assert summary["global_step"] == max(r["step"] for r in rows)
    expected_start = "sft" if smoke_run.has_artifact("sft_model") else "base"
    assert summary["start"] == expected_start
    before, after = summary["heldout"]["before"], summary["heldout"]["after"]
    first = next(r for r in rows if "heldout/accuracy_strict" in r)
    assert before["step"] == 0 and before["accuracy_strict"] == first["heldout/accuracy_strict"]
    assert after["step"] == summary["global_step"]
    assert summary["prompts"]["kept"] > 0


def test_the_whole_held_out_set_is_judged_both_ways_before_and_after(smoke_run, smoke_profile):

    n = 2 * smoke_profile.data.n_heldout
    full = json.loads(smoke_run.artifact("rl_heldout_eval.json").read_text())
    assert full["start_stage"] == "sft" and full["start"]["n"] == full["after"]["n"] == n
    sft = json.loads(smoke_run.artifact("sft_eval.json").read_text())["after"]
    assert full["start"]["accuracy_lenient"] == sft["accuracy_lenient"]  # notebook 03's judgements, reused
    # GRPO after a good distillation changes little; it must not undo what SFT taught
    assert full["after"]["accuracy_lenient"] >= 0.55, full["after"]
    assert full["after"]["parse_rate_lenient"] >= 0.95
