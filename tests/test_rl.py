"""GRPO through TRL on CPU: the paper-to-TRL mapping, prompt filtering, rewards, LoRA and QLoRA runs, resume.

The training tests start from a tiny judge that a short full fine-tune (a plain torch loop, in the fixture)
has taught to end with a verdict tag, so that sampled groups disagree and GRPO has a reward signal."""

import json

import pytest
import torch

from rmr1lib import rl
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.profiles import load_profile
from rmr1lib.prompts import PROMPT_KINDS, build_messages, system_prompt
from rmr1lib.synthetic import corpus_for_tokenizer, make_pairs, oracle_trace
from rmr1lib.tinymodel import build_tiny_model

KIND = "reasoning_model"  # the shortest prompt kind: keeps CPU steps fast
TEST_OVERRIDES = {
    "judge.prompt_kind": KIND, "rl.num_generations": 4, "rl.prompts_per_step": 2, "rl.mini_batch_prompts": 2,
    "rl.per_device_batch_size": 8, "rl.max_response_tokens": 24, "rl.learning_rate": 1e-3,
    "rl.eval_max_pairs": 8, "rl.lora_r": 8, "rl.lora_alpha": 16,
}


def _profile(**extra):
    return load_profile("smoke", {**TEST_OVERRIDES, **extra})


def _verdict_tail(row):
    """The closing sentence and verdict tag of the oracle's trace: a short, correct SFT target."""
    trace = oracle_trace(row, KIND)
    return trace[trace.rfind("Chatbot "):]


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    """A tiny Qwen2 judge, fully fine-tuned for a few dozen steps to finish with a verdict tag."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = make_pairs(160, seed=11)
    corpus = corpus_for_tokenizer(rows) + [s for s in map(system_prompt, PROMPT_KINDS) if s]
    base = build_tiny_model(tmp_path_factory.mktemp("rl") / "tiny", corpus, seed=11)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    data = []
    for r in rows:
        prompt = tok.apply_chat_template(build_messages(KIND, r["conversation_a"], r["conversation_b"]),
                                         tokenize=False, add_generation_prompt=True)
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        c = tok(_verdict_tail(r) + tok.eos_token, add_special_tokens=False)["input_ids"]
        data.append((p, c))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(40):
        batch = [data[i] for i in torch.randint(0, len(data), (8,), generator=gen).tolist()]
        width = max(len(p) + len(c) for p, c in batch)
        ids = torch.full((8, width), tok.pad_token_id)
        labels = torch.full((8, width), -100)
        mask = torch.zeros((8, width), dtype=torch.long)
        for j, (p, c) in enumerate(batch):
            ids[j, :len(p) + len(c)] = torch.tensor(p + c)
            labels[j, len(p):len(p) + len(c)] = torch.tensor(c)
            mask[j, :len(p) + len(c)] = 1
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    out = tmp_path_factory.mktemp("rl") / "sft"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return {"path": str(out), "train": make_pairs(24, seed=5), "heldout": make_pairs(8, seed=9)}


def _lora_tensors(model, part):
    return {n: p.detach().clone() for n, p in model.named_parameters() if f"{part}.default" in n}


# ---------------------------------------------------------------------------------------------------------
# the mapping and the batch arithmetic (no training)


def test_smoke_config_is_accepted_by_trl():
    prof = load_profile("smoke")
    cfg = rl.grpo_config(prof, "/tmp/unused")
    assert cfg.num_generations == prof.rl.num_generations
    assert cfg.generation_batch_size == prof.rl.prompts_per_step * prof.rl.num_generations
    assert cfg.generation_batch_size % cfg.num_generations == 0
    assert (cfg.beta, cfg.epsilon, cfg.loss_type, cfg.scale_rewards) == (1e-3, 0.2, "bnpo", "group")
    assert cfg.use_vllm is False and cfg.use_cpu and not cfg.bf16
    assert cfg.max_completion_length == prof.rl.max_response_tokens
    assert cfg.lr_scheduler_type == "constant" and cfg.weight_decay == 0.01 and cfg.top_k == 0
    assert cfg.use_bias_correction_kl is False and cfg.logging_steps == 1


@pytest.mark.parametrize("name", ["single_gpu", "cluster"])
def test_gpu_profile_configs_are_accepted_by_trl(name, monkeypatch):
    # Build the config object only (no vLLM start). TRL refuses bf16 on a machine without a GPU, so this one
    # hardware probe is answered "yes"; every other check in GRPOConfig runs as on a GPU machine.
    import transformers.training_args as targs

    monkeypatch.setattr(targs, "is_torch_bf16_gpu_available", lambda *a, **k: True)
    prof = load_profile(name)
    cfg = rl.grpo_config(prof, "/tmp/unused")
    r = prof.rl
    assert cfg.use_vllm and cfg.vllm_mode == "colocate" and cfg.gradient_checkpointing and cfg.bf16
    assert cfg.vllm_gpu_memory_utilization == r.vllm_gpu_memory_utilization
    assert cfg.vllm_max_model_length == r.max_prompt_tokens + r.max_response_tokens
    assert cfg.num_generations == 7 and cfg.generation_batch_size % 7 == 0
    # TRL sees one process here; on num_gpus processes the generation batch is num_gpus times larger
    assert cfg.generation_batch_size * r.num_gpus == r.prompts_per_step * r.num_generations
    per_update = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps * r.num_gpus
    assert per_update == r.mini_batch_prompts * r.num_generations
    if name == "cluster":  # the paper's numbers, unchanged
        assert (r.prompts_per_step * r.num_generations, cfg.max_completion_length) == (7168, 8192)
        assert (cfg.beta, cfg.epsilon, cfg.temperature, cfg.learning_rate) == (1e-3, 0.2, 1.0, 1e-6)
        assert cfg.steps_per_generation // cfg.gradient_accumulation_steps == 8  # 1,024 / 128 prompts
        assert cfg.vllm_tensor_parallel_size == 4


def test_trl_rejects_what_the_profile_check_rejects():
    from trl import GRPOConfig

    with pytest.raises(ValueError, match="divisible by num_generations"):
        GRPOConfig(output_dir="/tmp/unused", use_cpu=True, num_generations=4, per_device_train_batch_size=6,
                   steps_per_generation=1, report_to="none")
    with pytest.raises(ConfigError, match="must divide into micro-batches"):
        load_profile("single_gpu", {"rl.per_device_batch_size": 3})  # 16 x 7 = 112 is not a multiple of 3
    with pytest.raises(ConfigError, match="vllm_tensor_parallel_size"):
        load_profile("cluster", {"rl.vllm_tensor_parallel_size": 3})


@pytest.mark.parametrize("aggregation, loss_type", [("token-mean", "bnpo"), ("token-mean-global", "dapo"),
                                                    ("seq-mean-token-mean", "grpo")])
def test_loss_aggregation_maps_to_a_trl_loss_type(aggregation, loss_type):
    cfg = rl.grpo_config(load_profile("smoke", {"rl.loss_aggregation": aggregation}), "/tmp/unused")
    assert cfg.loss_type == loss_type


def test_mapping_table_covers_the_paper_settings():
    table = rl.config_mapping(load_profile("cluster"))
    settings = {row["setting"] for row in table}
    for needed in ("group size (rollouts per prompt)", "KL as a loss term", "clip ratio", "loss aggregation",
                   "rollout sampling", "response budget", "prompt budget", "advantage"):
        assert needed in settings
    by_setting = {row["setting"]: row["GRPOConfig (cluster)"] for row in table}
    assert "num_generations=7" in by_setting["group size (rollouts per prompt)"]
    assert "beta=0.001" in by_setting["KL as a loss term"]
    assert "generation_batch_size=7168" in by_setting["prompts per rollout batch"]  # 1,024 prompts x 7
    assert all(row["note"] for row in table)


def test_start_checkpoint_rules():
    assert rl.start_checkpoint("verifiable", "/runs/sft", "/base") == ("sft", "/runs/sft")
    assert rl.start_checkpoint("verifiable", None, "/base") == ("base", "/base")
    assert rl.start_checkpoint("cold_start", "/runs/sft", "/base") == ("base", "/base")


def test_group_spread_reward_logs_the_within_group_std():
    logged = {}
    rewards = [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    wrapped = rl.GroupSpreadReward(lambda prompts, completions, **kw: list(rewards))
    out = wrapped(None, ["x"] * 8, id=["a"] * 4 + ["b"] * 4, log_metric=lambda k, v: logged.update({k: v}))
    assert out == rewards
    # group a: sample std of (1, 1, -1, -1) = sqrt(4/3); group b: 0
    assert logged["group_reward_std"] == pytest.approx((4 / 3) ** 0.5 / 2)
    assert rl.reward_functions("verifiable", KIND)[0].__name__ == "verifiable_reward"
    with pytest.raises(ConfigError):
        rl.reward_functions("format_only", KIND)


def test_prepare_prompts_filters_over_budget(judge):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(judge["path"])
    rows = make_pairs(30, seed=2)
    everything, report = rl.prepare_prompts(rows, tok, KIND, 100_000)
    lengths = sorted(r["prompt_tokens"] for r in everything)
    budget = lengths[len(lengths) // 2]
    kept, report = rl.prepare_prompts(rows, tok, KIND, budget)
    assert 0 < len(kept) < len(rows) and report["dropped_over_budget"] == len(rows) - len(kept)
    assert all(r["prompt_tokens"] <= budget for r in kept)
    assert kept[0]["prompt"][-1]["role"] == "user" and kept[0]["winner"] in ("model_a", "model_b")
    with pytest.raises(DataError, match="longer than rl.max_prompt_tokens"):
        rl.prepare_prompts(rows, tok, KIND, lengths[0] - 1)
    broken = dict(rows[0])
    del broken["winner"]
    with pytest.raises(DataError, match="no 'winner' field"):
        rl.prepare_prompts([broken], tok, KIND, 100_000)


# ---------------------------------------------------------------------------------------------------------
# training on CPU


@pytest.mark.slow
def test_grpo_lora_learns_from_the_verifiable_reward(judge, tmp_path):
    prof = _profile(**{"rl.mode": "lora", "rl.max_steps": 3, "rl.eval_steps": 3, "rl.save_steps": 3,
                       "rl.report_to": "tensorboard"})
    run = rl.train_grpo(judge["path"], judge["train"], prof, str(tmp_path / "ckpt"), heldout_rows=judge["heldout"])
    assert run.global_step == 3 and run.new_steps == 3 and run.resumed_from is None
    history = run.trainer.state.log_history
    assert len([e for e in history if e.get("step") == 3 and "reward" in e]) == 1  # one entry per step ...
    assert any("heldout/accuracy_strict" in e and "reward" in e for e in history if e.get("step") == 3)  # ... joined
    # the logging back-end got the held-out numbers too
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = [p for p in (tmp_path / "ckpt").rglob("events.out.tfevents*")]
    assert events, "report_to=tensorboard wrote no event file"
    tags = set()
    for path in events:
        acc = EventAccumulator(str(path))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert {"train/reward", "train/heldout/accuracy_strict", "train/frac_reward_zero_std"} <= tags
    steps = {r["step"]: r for r in run.steps}
    assert sorted(steps) == [0, 1, 2, 3]
    for s in (1, 2, 3):
        assert -1.0 <= steps[s]["reward"] <= 1.0 and "kl" in steps[s] and "completions/mean_length" in steps[s]
    assert "heldout/accuracy_strict" in steps[0] and "heldout/accuracy_strict" in steps[3]
    assert steps[0]["heldout/parse_rate_strict"] >= 0.5  # the fixture's judge writes verdict tags
    # some group disagreed, so the policy gradient was not zero and the adapters moved off their zero init
    assert min(steps[s]["frac_reward_zero_std"] for s in (1, 2, 3)) < 1.0
    assert max(steps[s]["group_reward_std"] for s in (1, 2, 3)) > 0.0
    lora_b = _lora_tensors(run.trainer.model, "lora_B")
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b.values())
    assert (tmp_path / "ckpt" / "checkpoint-3" / "adapter_model.safetensors").exists()

    written = rl.save_rl_model(run, str(tmp_path / "merged"), start_model=judge["path"], profile=prof,
                               adapter_dir=str(tmp_path / "adapter"))
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(written["model"])
    start = AutoModelForCausalLM.from_pretrained(judge["path"])
    diffs = [(a - b).abs().max().item() for (n, a), (_, b) in
             zip(merged.state_dict().items(), start.state_dict().items()) if "proj" in n]
    assert max(diffs) > 0  # the update is in the merged weights
    assert not any("lora" in n for n in merged.state_dict())
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 8


@pytest.mark.slow
def test_grpo_qlora_runs_on_cpu(judge, tmp_path):
    import bitsandbytes as bnb

    prof = _profile(**{"rl.mode": "qlora", "rl.max_steps": 2, "rl.eval_steps": 2, "rl.save_steps": 2})
    run = rl.train_grpo(judge["path"], judge["train"], prof, str(tmp_path / "ckpt"), heldout_rows=judge["heldout"])
    model = run.trainer.model
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())  # the base really is 4-bit
    assert run.global_step == 2
    steps = {r["step"]: r for r in run.steps}
    assert "heldout/accuracy_strict" in steps[2]  # eval-mode generation in between did not break training
    assert all(-1.0 <= steps[s]["reward"] <= 1.0 for s in (1, 2))
    written = rl.save_rl_model(run, str(tmp_path / "merged"), start_model=judge["path"], profile=prof,
                               adapter_dir=str(tmp_path / "adapter"))
    config = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert "quantization_config" not in config  # a full-precision folder that vLLM can load
    assert written["adapter"].endswith("adapter")


class _Crash(Exception):
    pass


class _CrashAt:
    """A callback that kills training at one step, after the previous checkpoint was written."""

    def __init__(self, step):
        from transformers import TrainerCallback

        outer = self

        class CB(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == outer.step:
                    raise _Crash(f"stopped at step {state.global_step}")

        self.step, self.callback = step, CB()


@pytest.mark.slow
def test_stopped_run_resumes_from_its_checkpoint(judge, tmp_path):
    prof = _profile(**{"rl.mode": "lora", "rl.max_steps": 4, "rl.eval_steps": 100, "rl.save_steps": 2})
    out = str(tmp_path / "ckpt")
    with pytest.raises(_Crash):
        rl.train_grpo(judge["path"], judge["train"], prof, out, heldout_rows=judge["heldout"],
                      callbacks=[_CrashAt(3).callback])
    assert (tmp_path / "ckpt" / "checkpoint-2").is_dir() and not (tmp_path / "ckpt" / "checkpoint-3").exists()
    saved = json.loads((tmp_path / "ckpt" / "checkpoint-2" / "trainer_state.json").read_text())
    first_rewards = {e["step"]: e["reward"] for e in saved["log_history"] if "reward" in e}

    run = rl.train_grpo(judge["path"], judge["train"], prof, out, heldout_rows=judge["heldout"])
    assert run.resumed_from.endswith("checkpoint-2")
    assert (run.start_step, run.global_step, run.new_steps) == (2, 4, 2)  # continued, did not restart
    steps = [r["step"] for r in run.steps]
    assert steps == sorted(set(steps)) and steps[-4:] == [1, 2, 3, 4]
    # steps 1-2 come from the checkpoint's history, unchanged; steps 3-4 are new
    logged = {r["step"]: r.get("reward") for r in run.steps}
    assert {s: logged[s] for s in (1, 2)} == first_rewards
    assert steps.count(0) <= 1  # the before-training evaluation is not repeated on resume
    assert (tmp_path / "ckpt" / "checkpoint-4").is_dir()

    again = rl.train_grpo(judge["path"], judge["train"], prof, out, heldout_rows=judge["heldout"])
    assert (again.start_step, again.global_step, again.new_steps) == (4, 4, 0)  # a finished run stays finished
    assert again.trainer is None and [r["step"] for r in again.steps] == steps
    trained, reloaded = _lora_tensors(run.model, "lora_B"), _lora_tensors(again.model, "lora_B")
    assert trained.keys() == reloaded.keys()
    assert all(torch.equal(trained[k], reloaded[k]) for k in trained)  # the policy of checkpoint-4, not a fresh one


def test_step_log_merges_entries_by_step():
    history = [{"heldout/accuracy_strict": 0.25, "step": 0}, {"reward": -1.0, "kl": 0.0, "step": 1},
               {"heldout/accuracy_strict": 0.5, "step": 1}, {"train_runtime": 3.0, "step": 1},
               {"reward": 0.5, "step": 2, "note": "text"}]
    rows = rl.step_log(history)
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert rows[1] == {"step": 1, "reward": -1.0, "kl": 0.0, "heldout/accuracy_strict": 0.5}
    assert "note" not in rows[2]
    ba = rl.heldout_before_after(rows)
    assert ba["before"]["accuracy_strict"] == 0.25 and ba["after"] == {"step": 1, "accuracy_strict": 0.5}
    assert rl.heldout_before_after([{"step": 1, "reward": 0.0}]) == {}
    fig = rl.plot_grpo_curves(rows)
    assert len(fig.axes) == 6
    with pytest.raises(DataError):
        rl.plot_grpo_curves([])
