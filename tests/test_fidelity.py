"""Fidelity to the paper's runs and the authors' released models and data (README, "Fidelity to the paper").

One prompt throughout a run that starts from the authors' releases (kind `authors`, recorded in the manifest);
the RL pool without the distillation pairs; the rl_only recipe of the DeepSeek-distilled judges (03 skipped, RL
from the base model); the SFT optimiser of the paper's trainer; the reward window with the end-of-sequence text;
the evaluation budget and truncation rate; RM-Bench scored both ways in "paper vs this run".
The authors' prompt is learned here from the invented-template fixtures of tests/test_authors.py.
"""

import json
from pathlib import Path

import pytest
from pytest import approx

from rmr1lib.authors import learn_authors_template, use_authors_template
from rmr1lib.errors import ConfigError, DataError, RmR1Error
from rmr1lib.files import read_jsonl
from rmr1lib.profiles import load_profile
from rmr1lib.rewards import compute_score, trl_verifiable_reward, verifiable_reward

REPO = Path(__file__).resolve().parent.parent
AUTHORS_ROWS = REPO / "tests" / "fixtures" / "authors" / "instruct_rows.jsonl"
RESULTS = REPO / "tests" / "fixtures" / "results"
INVENTED_SYSTEM_START = "You are the Referee of Replies."
TAG = "<answer>[[A]]</answer>"
QWEN_EOS = "<|im_end|>"


@pytest.fixture(autouse=True)
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    use_authors_template(None)


def authors_smoke(**extra):
    return {"judge.prompt_kind": "authors", "judge.authors_source": str(AUTHORS_ROWS), **extra}


# ---------------------------------------------------------------- one prompt throughout
def test_runs_that_start_from_the_releases_use_the_authors_prompt():
    gpu = load_profile("single_gpu")
    assert gpu.judge.prompt_kind == "authors" and len(gpu.released_inputs()) == 3
    with pytest.raises(ConfigError, match=r"starts from the authors' releases .*Set judge.prompt_kind: authors"):
        load_profile("single_gpu", {"judge.prompt_kind": "instruct_cor"})
    assert load_profile("single_gpu", {"judge.prompt_kind": "instruct_cor", "judge.mixed_prompts": True})
    with pytest.raises(ConfigError, match="eval.checkpoint: gaotang/RM-R1-Qwen2.5-Instruct-7B"):
        load_profile("smoke", {"eval.checkpoint": "gaotang/RM-R1-Qwen2.5-Instruct-7B"})
    assert load_profile("cluster").judge.prompt_kind == "authors"
    deepseek = load_profile("cluster", {"model.family": "deepseek-r1-distill-qwen",
                                        "judge.prompt_kind": "reasoning_model"})
    assert deepseek.recipe() == "rl_only" and deepseek.released_inputs() == []  # no released traces used


def test_the_run_learns_the_template_once_and_records_it(runs_root):
    from rmr1lib.data import build_mix
    from rmr1lib.workbook import start_notebook

    ctx = start_notebook("01_data_prep", overrides=authors_smoke(), run_name="a")
    expected = learn_authors_template(read_jsonl(AUTHORS_ROWS), seed=ctx.seed).fingerprint()
    prompt = ctx.run.manifest()["prompt"]
    assert prompt["kind"] == "authors" and prompt["template"] == expected
    assert prompt["learned_from"] == str(AUTHORS_ROWS) and prompt["recipe"] == "distill_then_rl"
    assert ctx.run.artifact_info("authors_template.json")["notebook"] == "01_data_prep"
    mix = build_mix(ctx.profile)  # synthetic pairs rendered in the learned (invented) template
    assert all(r["context_messages"][0]["content"].startswith(INVENTED_SYSTEM_START) for r in mix.train)
    use_authors_template(None)
    later = start_notebook("04_rl_single_gpu", overrides=authors_smoke(), run_name="a")  # reuses the artifact
    assert later.run.manifest()["prompt"]["template"] == expected
    from rmr1lib.prompts import build_messages

    row = mix.heldout[0]
    assert build_messages("authors", row["conversation_a"], row["conversation_b"]) == row["context_messages"]
    manifest = json.loads(ctx.run.manifest_path.read_text())
    manifest["prompt"]["template"] = "another"
    ctx.run.manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(RmR1Error, match="one run uses one prompt throughout"):
        start_notebook("06_evaluation", overrides=authors_smoke(), run_name="a")


def test_distillation_with_the_authors_prompt_writes_its_output_format(tmp_path):
    from rmr1lib.distill import OracleTeacher, run_two_pass
    from rmr1lib.parsing import parse_trace
    from rmr1lib.synthetic import make_pairs

    use_authors_template(learn_authors_template(read_jsonl(AUTHORS_ROWS)))
    rows = make_pairs(4, seed=2, multi_turn_fraction=0.5)
    records = run_two_pass(rows, OracleTeacher("authors"), tmp_path / "store.jsonl", prompt_kind="authors").records
    assert len(records) == 4
    assert all(r["prompt"][0]["content"].startswith(INVENTED_SYSTEM_START) for r in records)
    assert all(parse_trace(r["completion"][0]["content"]).complete for r in records)  # the CoR format it asks for


def test_the_oracle_trace_of_kind_authors_has_the_format_its_prompt_asks_for():
    """Bug found by the rehearsal (kind authors): notebook 00's oracle_trace(row, prompt_kind) refused 'authors'."""
    from rmr1lib.synthetic import make_pairs, oracle_trace

    row = make_pairs(4, seed=2)[0]
    use_authors_template(learn_authors_template(read_jsonl(AUTHORS_ROWS)))  # instruct rows: a system message
    assert oracle_trace(row, "authors") == oracle_trace(row, "instruct_cor")
    use_authors_template(learn_authors_template(read_jsonl(AUTHORS_ROWS.with_name("reasoning_rows.jsonl"))))
    assert oracle_trace(row, "authors") == oracle_trace(row, "reasoning_model") != oracle_trace(row, "instruct_cor")
    with pytest.raises(ConfigError, match="unknown prompt_kind 'nope'"):
        oracle_trace(row, "nope")


def test_our_own_kinds_are_recorded_too():
    from rmr1lib.workbook import start_notebook

    ctx = start_notebook("02_cor_prompts", run_name="b")
    assert ctx.run.manifest()["prompt"] == {"kind": "instruct_cor", "recipe": "distill_then_rl",
                                            "released_inputs": [], "mixed_prompts": False}


def test_released_rows_keep_their_prompt_and_report_the_leak():
    from rmr1lib.cluster import verl_rl_rows
    from rmr1lib.data import build_mix

    prof = load_profile("smoke", {"data.source": "released", "data.n_heldout": 4, "data.n_train": 0,
                                  **authors_smoke()})
    mix = build_mix(prof, records={"after_distill_rlvr": read_jsonl(AUTHORS_ROWS)})
    assert mix.report.label_leak["after_distill_rlvr"]["normalised"] == 12
    assert not any("Chabot B" in m["content"] for r in mix.train + mix.heldout for m in r["context_messages"])
    use_authors_template(learn_authors_template(read_jsonl(AUTHORS_ROWS)))
    exported = verl_rl_rows(mix.train, "train", "authors")
    assert [r["prompt"] for r in exported] == [r["context_messages"] for r in mix.train]
    assert all(r["extra_info"]["prompt_kind"] == "authors" for r in exported)


def test_paper_comparison_of_a_released_checkpoint_warns_about_another_prompt():
    from rmr1lib.evaluate import prompt_note

    assert "not like-for-like" in prompt_note("gaotang/RM-R1-Qwen2.5-Instruct-7B", "instruct_cor")
    assert prompt_note("gaotang/RM-R1-Qwen2.5-Instruct-7B", "authors") == ""
    assert prompt_note("runs/x/sft_model", "instruct_cor") == ""


# ---------------------------------------------------------------- data flow between the stages
def test_rl_pool_leaves_out_the_distilled_pairs(runs_root):
    from rmr1lib.data import exclude_distilled
    from rmr1lib.workbook import RL_POOL_ARTIFACT, rl_training_rows, start_notebook

    rows = [{"id": f"p{i}", "context_messages": [{"role": "user", "content": f"pair {i}"}]} for i in range(10)]
    traces = [{"id": "p1", "prompt": [{"role": "user", "content": "pair 1"}]},
              {"id": "distill_sft-000007", "prompt": [{"role": "user", "content": "pair 7"}]},  # released: by prompt
              {"id": "elsewhere", "prompt": [{"role": "user", "content": "not in the pool"}]}]
    kept, counts = exclude_distilled(rows, traces)
    assert [r["id"] for r in kept] == [f"p{i}" for i in (0, 2, 3, 4, 5, 6, 8, 9)]
    assert counts == {"rows": 10, "traces": 3, "excluded": 2, "by_id": 1, "by_prompt": 1, "kept": 8}
    ctx = start_notebook("04_rl_single_gpu", overrides={"rl.exclude_distilled_pairs": True}, run_name="c")
    ctx.save_jsonl("traces.jsonl", traces)
    pool, report = rl_training_rows(ctx, rows)
    assert len(pool) == 8 and report["excluded"] == 2
    assert json.loads(ctx.run.artifact(RL_POOL_ARTIFACT).read_text())["kept"] == 8
    ctx.save_jsonl("traces.jsonl", [{"id": r["id"]} for r in rows])
    with pytest.raises(DataError, match="RL pool is empty"):
        rl_training_rows(ctx, rows)
    smoke = start_notebook("04_rl_single_gpu", run_name="d")  # smoke: the oracle traced every pair
    assert rl_training_rows(smoke, rows)[1]["kept"] == 10


def test_rl_only_recipe_skips_distillation_and_starts_rl_from_the_base(runs_root, tmp_path):
    import nbformat

    from rmr1lib.runner import run_workbook
    from rmr1lib.workbook import StageSkipped, grpo_start_model, require_stage, skip_reason, start_notebook

    assert load_profile("smoke").recipe() == "distill_then_rl"
    rl_only = {"model.recipe": "rl_only", "model.name_or_path": str(tmp_path / "base")}
    assert "no distillation stage" in skip_reason(load_profile("smoke", rl_only), "03_distillation")
    ctx = start_notebook("03_distillation", overrides=rl_only, run_name="e")
    with pytest.raises(StageSkipped, match="03_distillation is skipped: model.recipe is rl_only"):
        require_stage(ctx)
    sft = tmp_path / "sft_model"
    sft.mkdir()
    ctx.record("sft_model", sft)
    assert grpo_start_model(ctx) == ("base", str(tmp_path / "base"))
    distilled = start_notebook("04_rl_single_gpu", overrides={"model.name_or_path": str(tmp_path / "base")},
                               run_name="f")
    distilled.record("sft_model", sft)
    stage, path = grpo_start_model(distilled)
    assert stage == "sft" and Path(path).resolve() == sft.resolve()
    # the runner never starts 03 for rl_only (this notebook would fail if it ran)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('03 must not run')")]
    nbformat.write(nb, folder / "03_distillation.ipynb")
    lines = []
    (tmp_path / "base").mkdir()  # a stand-in base model folder (the pre-flight checks it is there; nothing loads it)
    run = run_workbook("smoke", rl_only, run_name="g", notebooks=folder, progress=False, log=lines.append)
    entry = run.manifest()["notebooks"]["03_distillation"]
    assert entry["status"] == "skipped" and "rl_only" in entry["reason"]
    assert any("03_distillation: skipped" in line for line in lines)


# ---------------------------------------------------------------- optimisation and reward
def test_sft_profile_keys_reach_the_trainer_arguments(tmp_path):
    from rmr1lib.engine import training_arguments

    gpu = load_profile("single_gpu")
    args = training_arguments(gpu, gpu.sft, tmp_path, learning_rate=1e-4)
    assert (args["adam_beta1"], args["adam_beta2"]) == (0.9, 0.95)
    assert args["lr_scheduler_type"] == "cosine_with_min_lr" and args["lr_scheduler_kwargs"] == {"min_lr_rate": 0.1}
    smoke = load_profile("smoke")  # keeps the values it was tuned with
    args = training_arguments(smoke, smoke.sft, tmp_path, learning_rate=1e-3)
    assert args["adam_beta2"] == 0.999 and args["lr_scheduler_type"] == "cosine"
    assert load_profile("cluster").sft.loss_averaging == "per_sample"


def _ending(gap: int) -> str:
    """A judgement whose verdict tag is followed by `gap` characters: the tag ends gap characters from the end."""
    return "The rubric favours A. " * 6 + TAG + "x" * gap


@pytest.mark.parametrize("gap, plain, with_eos", [
    (80 - len(TAG), 1.0, -1.0),      # the tag fills the first characters of the 80: seen only without the EOS text
    (70 - len(TAG), 1.0, 1.0),       # inside the 70 characters left when the EOS text takes 10
    (71 - len(TAG), 1.0, -1.0),      # one character too far once the EOS text counts
    (81 - len(TAG), -1.0, -1.0),     # outside either way
])
def test_reward_window_with_and_without_the_eos_text(gap, plain, with_eos):
    text = _ending(gap)
    assert verifiable_reward(text, "model_a") == plain
    assert verifiable_reward(text, "model_a", eos_text=QWEN_EOS) == with_eos
    assert compute_score("rm-r1", text, "model_a", eos_text=QWEN_EOS) == with_eos  # verl's reward_kwargs
    # TRL: only a completion that stopped at the EOS token carries its text; a truncated one does not
    finished, truncated = [5, 6, 99], [5, 6, 7]
    got = trl_verifiable_reward(completions=[text, text], winner=["model_a"] * 2, eos_text=QWEN_EOS, eos_ids=[99],
                                completion_ids=[finished, truncated])
    assert got == [with_eos, plain]


def test_verl_passes_the_eos_text_to_the_reward():
    from verl.trainer.ppo.reward import get_custom_reward_fn

    from rmr1lib.cluster import build_recipe, compose_verl_config

    plain = build_recipe("instruct-7b")
    assert not any("eos_text" in o for o in plain.overrides)
    recipe = build_recipe("instruct-7b", profile_overrides={"rl.reward_counts_eos": True})
    cfg = compose_verl_config(recipe.overrides, resolve=False)
    score = get_custom_reward_fn(cfg)
    near_edge = _ending(75 - len(TAG))
    assert score("rm-r1", near_edge, "model_a") == -1.0  # 75 characters: only 70 are text
    assert compute_score("rm-r1", near_edge, "model_a") == 1.0


# ---------------------------------------------------------------- evaluation budget and truncation
def test_paper_evaluation_budget_and_truncation_rate(tmp_path):
    from rmr1lib import benchmarks as bm
    from rmr1lib.evaluate import EvalSettings, judge_comparisons, settings_from_profile, truncation

    use_authors_template(learn_authors_template(read_jsonl(AUTHORS_ROWS)))
    gpu = settings_from_profile(load_profile("single_gpu"))
    assert gpu.max_new_tokens == 50_000 and gpu.prompt_kind == "authors" and gpu.prompt_template
    smoke = load_profile("smoke")
    assert settings_from_profile(smoke).max_new_tokens == smoke.generation.max_new_tokens  # eval.max_new_tokens 0

    class Engine:
        last_truncated: list = []

        def generate(self, prompts, sampling):
            assert sampling.max_new_tokens == 50_000
            self.last_truncated = [i % 3 == 0 for i in range(len(prompts))]
            return ["<answer>[[A]]</answer>"] * len(prompts)

    comps = bm.expand_items("rewardbench", bm.load_items(
        "rewardbench", REPO / "tests" / "fixtures" / "benchmarks" / "rewardbench_filtered.jsonl"))
    settings = EvalSettings(prompt_kind="plain_judge", max_new_tokens=50_000, orders="AB", batch_size=4)
    report = judge_comparisons(Engine(), comps, settings, tmp_path / "r.jsonl", model="m", fingerprint="f")
    rows = read_jsonl(tmp_path / "r.jsonl")
    flags = [r["truncated"] for r in rows]
    assert len(rows) == len(comps) and any(flags) and not all(flags)
    assert report["truncation_rate"] == approx(sum(flags) / len(flags))
    assert truncation(rows)["all"] == {"judgements": len(rows), "truncated": sum(flags),
                                       "rate": approx(sum(flags) / len(flags))}


# ---------------------------------------------------------------- RM-Bench both ways
def test_paper_vs_this_run_scores_rmbench_both_ways():
    from rmr1lib.evaluate import paper_comparison
    from rmr1lib.scoring import score_file

    path = RESULTS / "rmbench_small.jsonl"
    correct = score_file(path)["rm-bench"]
    buggy = score_file(path, rmbench_reference_bug=True)["rm-bench"]
    assert correct["hard"] != buggy["hard"]  # the fixture is one where the bug moves the numbers
    rows = paper_comparison("RM-R1-Qwen2.5-Instruct-7B", path, {"rm-bench": correct})
    rm = {(r["metric"], r["scoring"]): r for r in rows if r["benchmark"] == "rm-bench"}
    for metric in ("score", "easy", "normal", "hard"):
        assert rm[(metric, "correct")]["ours"] == approx(correct[metric])
        assert rm[(metric, "reference_aggregation")]["ours"] == approx(buggy[metric])
        assert not rm[(metric, "correct")]["like_for_like"] and rm[(metric, "reference_aggregation")]["like_for_like"]
        assert rm[(metric, "correct")]["paper"] == rm[(metric, "reference_aggregation")]["paper"]
    averages = [r for r in rows if r["benchmark"] == "average"]
    assert [r["scoring"] for r in averages] == ["correct", "reference_aggregation"]
    assert all(r["scoring"] == "correct" and r["like_for_like"] for r in rows
               if r["benchmark"] in ("rewardbench", "rmb"))


# ---------------------------------------------------------------- SFT as the paper's trainer ran it (slow: real TRL)
@pytest.mark.slow
def test_sft_optimiser_schedule_floor_and_per_sample_loss(tmp_path):
    from rmr1lib.distill import OracleTeacher, run_two_pass
    from rmr1lib.prompts import system_prompt
    from rmr1lib.sft import make_sft_trainer
    from rmr1lib.synthetic import corpus_for_tokenizer, make_pairs
    from rmr1lib.tinymodel import build_tiny_model

    kind = "reasoning_model"  # short prompts keep the steps cheap, and its traces differ in length and content
    rows = make_pairs(12, seed=5, multi_turn_fraction=0.0)
    corpus = corpus_for_tokenizer(make_pairs(48, seed=5)) + [system_prompt("instruct_cor")]
    base = str(build_tiny_model(tmp_path / "tiny", corpus, seed=5, hidden_size=64, num_heads=2, num_kv_heads=1,
                                intermediate_size=128))
    records = sorted(run_two_pass(rows, OracleTeacher(kind), tmp_path / "store.jsonl", prompt_kind=kind).records,
                     key=lambda r: len(r["completion"][0]["content"]))
    short, longest = records[0], records[-1]
    # the synthetic traces are compact (their lengths differ by ~30%): repeat the longest so that the two
    # averaging rules weigh the traces clearly differently
    long = {**longest, "completion": [{"role": "assistant",
                                       "content": "\n".join([longest["completion"][0]["content"]] * 3)}]}

    def trainer(recs, out, **keys):
        over = {"judge.prompt_kind": kind, "sft.per_device_batch_size": 1, "sft.logging_steps": 1,
                "sft.warmup_ratio": 0.0, "sft.save_steps": 1000, "sft.learning_rate": 3e-3, "sft.max_grad_norm": 5.0,
                "sft.group_by_length": False, **keys}
        return make_sft_trainer(base, recs, tmp_path / out, load_profile("smoke", over))

    # make one trace much easier than the other, so that the two averages differ clearly
    warm = trainer([short], "warm", **{"sft.max_steps": 25, "sft.gradient_accumulation_steps": 1})
    warm.train()
    warm.save_model(str(tmp_path / "warmed"))
    warm.processing_class.save_pretrained(str(tmp_path / "warmed"))
    base = str(tmp_path / "warmed")

    def first_loss(recs, out, averaging, accumulation):
        t = trainer(recs, out, **{"sft.max_steps": 1, "sft.gradient_accumulation_steps": accumulation,
                                  "sft.loss_averaging": averaging})
        t.train()
        return t.state.log_history[0]["loss"]

    loss_short = first_loss([short], "s", "per_token", 1)
    loss_long = first_loss([long], "l", "per_token", 1)
    assert loss_long > 1.4 * loss_short  # the warmed-up trace is far easier
    per_sample = first_loss([short, long], "ps", "per_sample", 2)
    per_token = first_loss([short, long], "pt", "per_token", 2)
    assert per_sample == approx((loss_short + loss_long) / 2, rel=2e-3)  # every trace weighs the same
    assert per_token > per_sample * 1.05  # the long (harder) trace's many tokens weigh more

    floor = trainer([short, long], "floor", **{"sft.max_steps": 4, "sft.gradient_accumulation_steps": 1,
                                               "sft.adam_beta2": 0.95, "sft.min_lr_ratio": 0.1})
    floor.train()
    assert floor.optimizer.param_groups[0]["betas"] == (0.9, 0.95)
    import math

    peak, low = 3e-3, 0.1 * 3e-3  # cosine from the peak down to the floor over 4 steps (logged: the rate each used)
    rates = [h["learning_rate"] for h in floor.state.log_history if "learning_rate" in h]
    assert rates == approx([low + (peak - low) * 0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)], rel=1e-4)
    assert floor.lr_scheduler.get_last_lr()[0] == approx(low, rel=1e-6)  # ends on the floor, not at zero
