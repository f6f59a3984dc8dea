"""Notebook 03 in the smoke workbook (the session's `smoke_run`): the teacher's two passes, the kept traces, the
SFT judge handed to notebooks 04 and 06, and the judge learning the output format on held-out pairs."""

import json

import pytest

from rmr1lib.parsing import parse_verdict
from rmr1lib.files import read_jsonl

pytestmark = pytest.mark.slow
NB = "03_distillation"


@pytest.fixture(scope="module")
def smoke(smoke_profile):
    return smoke_profile


def test_notebook_ran_and_recorded_its_artifacts(smoke_run):
    manifest = json.loads(smoke_run.manifest_path.read_text())
    assert manifest["notebooks"][NB]["status"] == "done"
    produced = set(manifest["notebooks"][NB]["artifacts"])
    assert {"traces.jsonl", "teacher_calls.jsonl", "sft_model", "sft_loss_history.json", "sft_eval.json",
            "sft_judgements.jsonl"} <= produced
    for fig in ("03_teacher_passes", "03_sft_loss", "03_judge_before_after"):
        assert f"figures/{fig}.png" in produced
        assert (smoke_run.figures_dir / f"{fig}.png").stat().st_size > 10_000


def test_kept_traces_reach_the_labelled_verdict(smoke_run, smoke):
    traces = read_jsonl(smoke_run.artifact("traces.jsonl"))
    train = {r["id"]: r for r in read_jsonl(smoke_run.artifact("train_pairs.jsonl"))}
    calls = read_jsonl(smoke_run.artifact("teacher_calls.jsonl"))
    window = smoke.distill.correctness_window
    assert len(traces) == len(train)  # the oracle recovers every pair in pass 2
    for t in traces:
        side = "A" if train[t["id"]]["winner"] == "model_a" else "B"
        assert parse_verdict(t["completion"][0]["content"], "strict", window) == side
        assert t["prompt"][0]["role"] == "system" and "Reviewer's note" not in t["prompt"][-1]["content"]
    first = [c for c in calls if c["pass"] == 1]
    wrong = [c for c in first if parse_verdict(c["text"], "strict", window) != ("A" if c["winner"] == "model_a"
                                                                                else "B")]
    # about a quarter of first-pass traces are deliberately wrong (seeded); each went through pass 2
    assert 0.1 < len(wrong) / len(first) < 0.4
    assert {c["pair_id"] for c in calls if c["pass"] == 2} == {c["pair_id"] for c in wrong}
    assert sum(t["pass"] == 2 for t in traces) == len(wrong)


def test_sft_model_is_a_full_model_folder(smoke_run):
    folder = smoke_run.artifact("sft_model")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen2" and "quantization_config" not in config
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer_config.json").exists()
    assert not (folder / "adapter_config.json").exists()


#: lower bounds for the trained judge on this profile (measured on 3 seeds and both CPU kinds: README)
LEARNED = {"accuracy": 0.55, "position_consistency": 0.25, "max_share": 0.8}


def test_loss_falls_and_the_judge_learns_to_judge(smoke_run, smoke):
    history = json.loads(smoke_run.artifact("sft_loss_history.json").read_text())
    assert history[-1]["step"] == smoke.sft.max_steps
    assert history[-1]["loss"] < history[0]["loss"] / 2
    summary = json.loads(smoke_run.artifact("sft_eval.json").read_text())
    before, after = summary["before"], summary["after"]
    assert before["n"] == after["n"] == 2 * smoke.data.n_heldout  # every held-out pair in both orders
    # the judge learns the output format ...
    assert after["parse_rate_lenient"] >= 0.95 and after["parse_rate_lenient"] > before["parse_rate_lenient"] + 0.5
    assert after["complete_rate"] >= 0.9
    # ... and some of the judgement: better than coin flips, and not by naming one position (README, "Does the
    # smoke judge learn?", has the measured figures; these bounds leave room for the other CPU kind's rounding)
    # (a judge that names one letter whatever the pair scores 0.5, a consistency of 0 and a share of 1)
    assert after["accuracy_lenient"] >= LEARNED["accuracy"], after
    assert after["position_consistency"] >= LEARNED["position_consistency"], after
    assert max(after["share_A"], after["share_B"]) <= LEARNED["max_share"], after
    assert summary["backend"] == smoke.generation.backend
    assert summary["teacher_stats"]["pass1_accuracy"] < 1.0 and summary["teacher_stats"]["pass2_recovery"] == 1.0
