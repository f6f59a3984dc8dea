"""RL with a verifiable reward: GRPO on the judge through TRL's GRPOTrainer (paper §3.3, Eq. 8).

Where each setting comes from: docs/paper-settings.md.

The paper runs GRPO in verl on 8-32 H100s. This module runs the same algorithm through TRL 1.16 so that it fits
one GPU (LoRA or QLoRA through PEFT, vLLM colocated with the trainer) and, on the smoke profile, a CPU (TRL's
own generation; vLLM colocate cannot run on CPU).

    PAPER_TO_TRL / config_mapping   how each of the paper's verl settings becomes a GRPOConfig field, and why
                                    TRL differs where it does (notebook 04 shows the table)
    grpo_config_kwargs / grpo_config the mapping applied to a profile
    prepare_prompts                 RM-R1 rows -> conversational GRPO prompts; longer prompts are filtered out
                                    as in the paper (TRL 1.16 has no max_prompt_length)
    reward_functions                the verifiable reward (or the cold-start ablation reward), wrapped to also
                                    log the reward spread inside each group
    load_policy                     the starting model for full, LoRA or QLoRA (4-bit NF4) training, through the
                                    training engine SFT uses too (rmr1lib.engine)
    GRPOStepLog                     per-step metrics and held-out verdict accuracy every eval_steps
    train_grpo                      the whole run, with checkpoints every save_steps and resume
    save_rl_model                   the merged full model folder (vLLM can load it) and the adapter
    plot_grpo_curves                training curves (seaborn)

Engine layer: imports transformers; torch, trl, peft, datasets (bitsandbytes for QLoRA) inside the functions
that need them.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from transformers import TrainerCallback

from .engine import (StepProgress, last_checkpoint, load_for_training, load_tokenizer, peft_config, save_trained,
                     torch_dtype, training_arguments)
from .errors import ConfigError, DataError
from .generation import SamplingSettings, TransformersGenerator
from .judging import judge_messages, judge_pairs, verdict_metrics
from .profiles import Profile, RLConfig
from .rewards import TrlVerifiableReward, make_trl_cold_start_reward, trl_verifiable_reward

HELDOUT_PREFIX = "heldout/"
PROGRESS_METRICS = {"reward": "reward", "frac_reward_zero_std": "zero-spread groups",
                    "completions/mean_length": "length", "kl": "kl"}
LOSS_TYPES = {"token-mean": "bnpo", "token-mean-global": "dapo", "seq-mean-token-mean": "grpo"}


# ----------------------------------------------------------------------------------------------------------
# the paper's verl settings -> TRL's GRPOConfig
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MappingRow:
    """One setting of the paper's verl recipe and the GRPOConfig field(s) that carry it in TRL."""

    setting: str
    verl_key: str
    paper_value: str
    trl_fields: tuple[str, ...]
    note: str


PAPER_TO_TRL: tuple[MappingRow, ...] = (
    MappingRow("group size (rollouts per prompt)", "actor_rollout_ref.rollout.n", "7", ("num_generations",),
               "same meaning"),
    MappingRow("prompts per rollout batch", "data.train_batch_size", "1,024 (7,168 sequences)",
               ("generation_batch_size",),
               "TRL counts sequences, not prompts: prompts_per_step x num_generations. TRL requires it to be a "
               "multiple of num_generations so that every group is complete"),
    MappingRow("PPO mini-batch (one optimizer update)", "actor.ppo_mini_batch_size", "128 prompts",
               ("per_device_train_batch_size", "gradient_accumulation_steps"),
               "per_device_train_batch_size x gradient_accumulation_steps x GPUs = mini_batch_prompts x "
               "num_generations sequences"),
    MappingRow("updates per rollout batch", "train_batch_size / ppo_mini_batch_size", "8",
               ("steps_per_generation",),
               "TRL counts micro-batches: steps_per_generation = updates per rollout batch x "
               "gradient_accumulation_steps. Updates after the first are off-policy and clipped, as in verl"),
    MappingRow("PPO epochs per rollout batch", "actor.ppo_epochs", "1", ("num_iterations",), "same meaning"),
    MappingRow("learning rate and schedule", "actor.optim.lr", "1e-6 (7B), constant, AdamW (0.9, 0.999)",
               ("learning_rate", "lr_scheduler_type", "adam_beta1", "adam_beta2"),
               "from the profile (rl.learning_rate, rl.lr_scheduler, rl.adam_beta1/2); TRL's default schedule "
               "is linear decay, the profiles set the paper's constant"),
    MappingRow("weight decay / gradient clip", "actor.optim.weight_decay / actor.grad_clip", "0.01 / 1.0",
               ("weight_decay", "max_grad_norm"),
               "from the profile (rl.weight_decay, rl.max_grad_norm); TRL's default weight decay is 0"),
    MappingRow("KL as a loss term", "actor.use_kl_loss, kl_loss_coef, kl_loss_type=low_var_kl",
               "coefficient 1e-3, k3 estimator", ("beta", "use_bias_correction_kl"),
               "TRL's per-token KL is the same k3 estimator, always added to the loss (never to the reward). TRL "
               "1.16 multiplies it by the importance ratio by default; verl does not, so we switch that off. "
               "verl also clamps the k3 value to [-10, 10]; TRL does not. With LoRA the reference is the starting "
               "model with the adapters switched off, so no second copy is loaded"),
    MappingRow("clip ratio", "actor.clip_ratio", "0.2", ("epsilon", "epsilon_high"),
               "symmetric clip; epsilon_high left unset = epsilon"),
    MappingRow("entropy bonus", "actor.entropy_coeff", "0", ("entropy_coef",), "same meaning"),
    MappingRow("loss aggregation", "actor.loss_agg_mode (later verl; the only mode then)", "token-mean",
               ("loss_type",),
               "TRL 1.16 offers grpo (mean per sequence, then over sequences), bnpo (mean over the tokens of the "
               "local micro-batch), dr_grpo (sum / constant), dapo (its default: mean over the tokens of the whole "
               "accumulated mini-batch), plus cispo/sapo/luspo/vespo. verl's token-mean at the paper's commit "
               "averaged the tokens of each micro-batch and divided by the accumulation steps: that is bnpo. dapo "
               "gives the same value when one micro-batch holds the whole mini-batch"),
    MappingRow("advantage", "algorithm.adv_estimator=grpo, norm_adv_by_std_in_grpo",
               "(r - group mean) / (group std + 1e-6)", ("scale_rewards",),
               "scale_rewards='group' divides by the group's std; TRL adds 1e-4 instead of 1e-6, which only "
               "matters for groups whose rewards all agree (their advantage is 0 either way)"),
    MappingRow("rollout sampling", "rollout.temperature / top_p / top_k", "1.0 / 1.0 / off",
               ("temperature", "top_p", "top_k"), "same meaning (top_k=0 switches it off in TRL)"),
    MappingRow("response budget", "data.max_response_length", "8,192 tokens", ("max_completion_length",),
               "same meaning; a cut-off answer has no final verdict tag and earns -1"),
    MappingRow("prompt budget", "data.max_prompt_length + filter_overlong_prompts", "4,096 tokens, longer dropped",
               (), "TRL 1.16 has no max_prompt_length: rmr1lib.rl.prepare_prompts drops longer prompts before "
               "training (cutting a judge prompt would cut one of the two answers)"),
    MappingRow("rollout engine", "rollout.name=vllm, tensor_model_parallel_size, gpu_memory_utilization",
               "vLLM, TP 4, 0.4-0.5", ("use_vllm", "vllm_mode", "vllm_tensor_parallel_size",
                                        "vllm_gpu_memory_utilization", "vllm_max_model_length"),
               "GPU profiles: vLLM colocated in the trainer process (vllm_mode='colocate'). CPU: TRL's own "
               "generate, because vLLM's CPU back-end repacks weights and TRL's weight sync fails"),
    MappingRow("importance-sampling correction of vLLM log-probs", "(not in verl at the paper's commit)", "none",
               ("vllm_importance_sampling_correction",),
               "TRL 1.16 corrects for vLLM/trainer log-prob mismatch by default; off here to match the paper. "
               "Turn it on for long runs"),
    MappingRow("activation memory", "actor.model.enable_gradient_checkpointing", "true",
               ("gradient_checkpointing",), "from the profile (off on CPU: the tiny model does not need it)"),
    MappingRow("checkpoints", "trainer.save_freq", "every N steps", ("save_steps", "save_strategy"),
               "TRL saves adapter/model, optimizer, scheduler and RNG state; train_grpo resumes from the last one"),
    MappingRow("logging", "trainer.logger", "console + wandb", ("report_to", "logging_steps"),
               "from the profile (rl.logging_steps, rl.report_to: none, tensorboard or trackio)"),
    MappingRow("sharding / offload", "actor.fsdp_config (param/optimizer offload)", "FSDP, offload",
               (), "not a GRPOConfig field: launch with `accelerate launch --config_file` (FSDP or DeepSpeed "
               "ZeRO-3); on one GPU LoRA/QLoRA replace it"),
)


def grpo_batch_plan(rl: RLConfig) -> dict:
    """The batch arithmetic TRL needs, from the profile's prompts-based batch sizes (validated)."""
    rl.check()
    G = rl.num_generations
    mini_sequences = rl.mini_batch_prompts * G
    accumulation = mini_sequences // (rl.per_device_batch_size * rl.num_gpus)
    updates = rl.prompts_per_step // rl.mini_batch_prompts
    return {
        "sequences_per_rollout_batch": rl.prompts_per_step * G,
        "sequences_per_update": mini_sequences,
        "per_device_train_batch_size": rl.per_device_batch_size,
        "gradient_accumulation_steps": accumulation,
        "updates_per_rollout_batch": updates,
        "steps_per_generation": updates * accumulation,
        "generation_batch_size": rl.per_device_batch_size * rl.num_gpus * updates * accumulation,
    }


def grpo_config_kwargs(profile: Profile, output_dir: str, *, max_steps: Optional[int] = None,
                       report_to: Optional[str] = None) -> dict:
    """The GRPOConfig keyword arguments that carry a profile's rl section (see PAPER_TO_TRL)."""
    rl = profile.rl
    plan = grpo_batch_plan(rl)
    kwargs = training_arguments(profile, rl, output_dir, learning_rate=profile.rl_learning_rate(),
                                report_to=report_to or rl.report_to)
    kwargs.update(
        # batch arithmetic
        num_generations=rl.num_generations,
        per_device_train_batch_size=plan["per_device_train_batch_size"],
        gradient_accumulation_steps=plan["gradient_accumulation_steps"],
        steps_per_generation=plan["steps_per_generation"],
        num_iterations=1,
        max_steps=rl.max_steps if max_steps is None else max_steps,
        num_train_epochs=1.0,
        shuffle_dataset=True,
        # GRPO objective
        beta=rl.kl_coef,
        use_bias_correction_kl=False,
        epsilon=rl.clip_ratio,
        entropy_coef=rl.entropy_coef,
        loss_type=LOSS_TYPES[rl.loss_aggregation],
        scale_rewards="group",
        mask_truncated_completions=False,
        # rollouts
        temperature=rl.temperature,
        top_p=1.0,
        top_k=0,
        max_completion_length=rl.max_response_tokens,
        use_vllm=rl.use_vllm,
    )
    if rl.use_vllm:
        kwargs.update(vllm_mode="colocate", vllm_gpu_memory_utilization=rl.vllm_gpu_memory_utilization,
                      vllm_tensor_parallel_size=rl.vllm_tensor_parallel_size,
                      vllm_max_model_length=rl.max_prompt_tokens + rl.max_response_tokens,
                      vllm_importance_sampling_correction=False)
    return kwargs


def grpo_config(profile: Profile, output_dir: str, **kwargs: Any):
    """A trl.GRPOConfig for the profile (TRL validates it; on CPU a bf16 GPU profile fails TRL's hardware check)."""
    from trl import GRPOConfig

    return GRPOConfig(**grpo_config_kwargs(profile, output_dir, **kwargs))


def _our_values(row: MappingRow, profile_kwargs: dict) -> str:
    values = []
    for name in row.trl_fields:
        if name == "generation_batch_size":
            values.append(f"{name}={profile_kwargs['_generation_batch_size']}")
        elif name in profile_kwargs:
            values.append(f"{name}={profile_kwargs[name]!r}")
    return ", ".join(values) or "-"


def config_mapping(profile: Profile) -> list[dict]:
    """The mapping table for a profile: paper setting, verl key, paper value, our GRPOConfig value(s), why."""
    kwargs = grpo_config_kwargs(profile, "<output_dir>")
    kwargs["_generation_batch_size"] = grpo_batch_plan(profile.rl)["generation_batch_size"]
    return [{"setting": r.setting, "verl": r.verl_key, "paper": r.paper_value,
             f"GRPOConfig ({profile.name})": _our_values(r, kwargs), "note": r.note} for r in PAPER_TO_TRL]


# ----------------------------------------------------------------------------------------------------------
# data and rewards
# ----------------------------------------------------------------------------------------------------------
def prepare_prompts(rows: Sequence[dict], tokenizer: Any, prompt_kind: str,
                    max_prompt_tokens: int) -> tuple[list[dict], dict]:
    """GRPO records {prompt, winner, id} from RM-R1 rows; prompts over max_prompt_tokens are dropped (paper)."""
    from .tokens import TokenCounter

    for i, row in enumerate(rows):
        for key in ("id", "winner", "conversation_a", "conversation_b"):
            if key not in row:
                raise DataError(f"RL rows: row {i} (id {row.get('id')!r}) has no {key!r} field")
    messages = judge_messages(rows, prompt_kind)
    lengths = TokenCounter(tokenizer).prompts(messages)
    kept, dropped = [], []
    for row, prompt, n in zip(rows, messages, lengths):
        if n > max_prompt_tokens:
            dropped.append(row["id"])
            continue
        kept.append({"prompt": prompt, "winner": row["winner"], "id": str(row["id"]), "prompt_tokens": n})
    report = {"rows": len(rows), "kept": len(kept), "dropped_over_budget": len(dropped),
              "max_prompt_tokens": max_prompt_tokens,
              "longest_kept": max((r["prompt_tokens"] for r in kept), default=0),
              "dropped_ids": dropped[:20]}
    if not kept:
        raise DataError(f"RL data: all {len(rows)} prompts are longer than rl.max_prompt_tokens="
                        f"{max_prompt_tokens} tokens (shortest: {min(lengths, default=0)}); raise the budget")
    return kept, report


class GroupSpreadReward:
    """A TRL reward function that also logs the mean reward spread (std) inside each prompt's group."""

    def __init__(self, reward: Callable[..., list[float]]) -> None:
        self.reward = reward
        self.__name__ = getattr(reward, "__name__", "reward")

    def __call__(self, prompts: Any = None, completions: Sequence[Any] = (), **kwargs: Any) -> list[float]:
        rewards = self.reward(prompts, completions, **kwargs)
        ids, log_metric = kwargs.get("id"), kwargs.get("log_metric")
        if callable(log_metric) and ids is not None and len(ids) == len(rewards):
            groups: dict[str, list[float]] = {}
            for key, value in zip(ids, rewards):
                if value is not None:
                    groups.setdefault(str(key), []).append(float(value))
            spreads = [statistics.stdev(v) for v in groups.values() if len(v) > 1]
            if spreads:
                log_metric("group_reward_std", sum(spreads) / len(spreads))
        return rewards


def reward_functions(reward: str, prompt_kind: str, eos: Optional[tuple[str, Sequence[int]]] = None
                     ) -> list[Callable[..., list[float]]]:
    """TRL reward functions for rl.reward: 'verifiable' (+1/-1, Eq. 8) or 'cold_start' (answer + format, Eq. 11).

    `eos` = (end-of-sequence text, token ids): the verifiable reward then counts that text in its window, as the
    paper's verl did (rl.reward_counts_eos).
    """
    if reward == "verifiable":
        inner = TrlVerifiableReward(*eos) if eos else trl_verifiable_reward
    elif reward == "cold_start":
        inner = make_trl_cold_start_reward(prompt_kind)
    else:
        raise ConfigError(f"rl.reward: {reward!r} is not 'verifiable' or 'cold_start'")
    return [GroupSpreadReward(inner)]


def start_checkpoint(reward: str, sft_model: Optional[str], base_model: str,
                     recipe: str = "distill_then_rl") -> tuple[str, str]:
    """(stage, path) GRPO starts from: the distilled judge if there is one, else the base model.

    The cold-start ablation (reward 'cold_start', paper Table 2) is RL without distillation by definition, and so
    is the rl_only recipe (the paper's DeepSeek-distilled judges): both always start from the base model.
    """
    if reward == "cold_start" or recipe == "rl_only" or not sft_model:
        return "base", base_model
    return "sft", sft_model


# ----------------------------------------------------------------------------------------------------------
# the policy
# ----------------------------------------------------------------------------------------------------------
def load_policy(model_path: str, profile: Profile) -> tuple[Any, Any, Any]:
    """(model, tokenizer, peft_config) to start GRPO from, for rl.mode full, lora or qlora."""
    rl = profile.rl
    tokenizer = load_tokenizer(model_path, profile.model.trust_remote_code)
    return load_for_training(model_path, rl.mode, profile), tokenizer, peft_config(rl)


# ----------------------------------------------------------------------------------------------------------
# logging: per-step metrics and held-out verdict accuracy
# ----------------------------------------------------------------------------------------------------------
class GRPOStepLog(TrainerCallback):
    """TrainerCallback: judges held-out pairs (greedy) before training and every eval_steps, logging through TRL.

    The held-out numbers join the trainer's log (before training: a log entry of their own; at a step: that
    step's entry), so they land in the trainer state (saved with every checkpoint, restored on resume) and in
    whatever report_to back-end is on, provided this callback comes first (train_grpo puts it there). Call
    `bind(trainer)` first.
    """

    def __init__(self, heldout_rows: Sequence[dict], prompt_kind: str, settings: SamplingSettings,
                 eval_steps: int, batch_size: int = 16, echo: Optional[Callable[[str], None]] = None) -> None:
        self.rows = list(heldout_rows)
        self.prompt_kind = prompt_kind
        self.settings = settings
        self.eval_steps = eval_steps
        self.batch_size = batch_size
        self.echo = echo
        self.trainer = None
        self.pending: Optional[dict] = None
        self.started = False

    def bind(self, trainer: Any) -> "GRPOStepLog":
        """Attach the trainer whose model is judged and whose log receives the numbers."""
        self.trainer = trainer
        return self

    def evaluate(self, model: Any) -> dict:
        """Judge the held-out pairs with the model as it is now; metrics under the heldout/ prefix."""
        tokenizer = self.trainer.processing_class
        generator = TransformersGenerator.from_model(model, tokenizer, batch_size=self.batch_size)
        started = time.time()
        results = judge_pairs(generator, self.rows, self.prompt_kind, self.settings)
        metrics = {f"{HELDOUT_PREFIX}{k}": float(v) for k, v in verdict_metrics(results).items()}
        metrics[f"{HELDOUT_PREFIX}seconds"] = time.time() - started
        return metrics

    def _due(self, state: Any) -> bool:
        return bool(self.rows) and (state.global_step % self.eval_steps == 0 or state.global_step == state.max_steps)

    def on_step_begin(self, args, state, control, model=None, **kwargs):  # noqa: D102
        # the starting judge, judged once before the first update (not in on_train_begin: the logging
        # back-ends set themselves up there, after this callback)
        if self.rows and state.global_step == 0 and not self.started and self.trainer is not None:
            self.started = True
            metrics = self.evaluate(model)
            self.trainer.log(metrics)
            self._say(0, metrics)

    def on_step_end(self, args, state, control, model=None, **kwargs):  # noqa: D102
        if self._due(state) and self.trainer is not None:
            self.pending = self.evaluate(model)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if logs is None or "reward" not in logs:
            return
        if self.pending is not None:
            # Join this step's log entry: the callbacks after this one (report_to back-ends) see the held-out
            # numbers in `logs`, and the trainer state (saved with the checkpoint that follows) gets them too.
            metrics, self.pending = self.pending, None
            logs.update(metrics)
            if state.log_history and state.log_history[-1].get("step") == state.global_step:
                state.log_history[-1].update(metrics)
            self._say(state.global_step, metrics)

    def _say(self, step: int, metrics: dict) -> None:
        if self.echo:
            self.echo(f"step {step:>4}: held-out accuracy {metrics.get(HELDOUT_PREFIX + 'accuracy_lenient', 0):.3f} "
                      f"(lenient) / {metrics.get(HELDOUT_PREFIX + 'accuracy_strict', 0):.3f} (strict), "
                      f"parse rate {metrics.get(HELDOUT_PREFIX + 'parse_rate_strict', 0):.2f}")


def step_log(log_history: Sequence[dict]) -> list[dict]:
    """One row per step from a trainer's log history (TRL metrics and held-out metrics merged)."""
    by_step: dict[int, dict] = {}
    for entry in log_history:
        if "train_runtime" in entry or "step" not in entry:
            continue
        row = by_step.setdefault(int(entry["step"]), {"step": int(entry["step"])})
        for key, value in entry.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                row[key] = float(value)
    return [by_step[s] for s in sorted(by_step)]


def heldout_before_after(rows: Sequence[dict]) -> dict:
    """Held-out metrics at the first and the last evaluated step of a step log."""
    evaluated = [r for r in rows if f"{HELDOUT_PREFIX}accuracy_strict" in r]
    if not evaluated:
        return {}
    strip = lambda r: {k[len(HELDOUT_PREFIX):]: v for k, v in r.items() if k.startswith(HELDOUT_PREFIX)}  # noqa: E731
    return {"before": {"step": evaluated[0]["step"], **strip(evaluated[0])},
            "after": {"step": evaluated[-1]["step"], **strip(evaluated[-1])}}


def describe_heldout_change(change: dict, heldout_total: int, rule: str = "strict") -> str:
    """Sentences on `heldout_before_after`: which pairs were judged, what one pair is worth, and how many more
    (or fewer) pairs the judge got right between the first and the last evaluation."""
    from .judging import accuracy_against_chance

    if not change:
        return "The held-out pairs were not evaluated in this run (rl.eval_steps)."
    before, after = change["before"], change["after"]
    n = int(after.get("n") or before.get("n") or 0)
    if n <= 0:
        return "The held-out evaluation judged no pairs."
    which = (f"all {n} held-out pairs" if n >= heldout_total else
             f"the first {n} of the {heldout_total} held-out pairs (rl.eval_max_pairs), so the starting accuracy "
             f"need not equal the one measured on all of them in notebook 03")
    key = f"accuracy_{rule}"
    right0, right1 = round(before[key] * n), round(after[key] * n)
    moved = right1 - right0
    how = ("the same number of pairs right" if moved == 0 else
           f"{abs(moved)} {'more' if moved > 0 else 'fewer'} pair{'s' if abs(moved) != 1 else ''} right")
    return (f"Held-out here means {which}; one pair is {100 / n:.1f} accuracy points. From step {before['step']} "
            f"to step {after['step']} the {rule}-rule accuracy went from {before[key]:.3f} to {after[key]:.3f}, "
            f"{how} ({right0} -> {right1} of {n}); readable verdicts went from "
            f"{round(before[f'parse_rate_{rule}'] * n)} to {round(after[f'parse_rate_{rule}'] * n)}. "
            f"The final accuracy {accuracy_against_chance(after[key], n)}.")


# ----------------------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------------------
@dataclass
class GRPORun:
    """What train_grpo leaves behind: the trained policy, where checkpoints are, and the step log."""

    model: Any
    trainer: Any
    output_dir: Path
    resumed_from: Optional[str]
    start_step: int
    global_step: int
    seconds: float
    prompts: dict
    steps: list = field(default_factory=list)

    @property
    def new_steps(self) -> int:
        """Optimizer steps this call trained (0 when a finished run was found)."""
        return self.global_step - self.start_step

    @property
    def seconds_per_step(self) -> Optional[float]:
        """Wall seconds per new step, held-out evaluations included (None if no new step)."""
        return self.seconds / self.new_steps if self.new_steps else None


def _checkpoint_state(checkpoint: Optional[str]) -> dict:
    if not checkpoint:
        return {}
    state = Path(checkpoint) / "trainer_state.json"
    return json.loads(state.read_text()) if state.exists() else {}


def _finished(state: dict, max_steps: int) -> bool:
    """Whether a checkpoint's state already reached the requested number of steps."""
    if not state:
        return False
    target = max_steps if max_steps > 0 else state.get("max_steps", 0)
    return target > 0 and state.get("global_step", 0) >= target


def train_grpo(model_path: str, train_rows: Sequence[dict], profile: Profile, output_dir: str, *,
               heldout_rows: Sequence[dict] = (), resume: bool = True, max_steps: Optional[int] = None,
               callbacks: Sequence[Any] = (), echo: Optional[Callable[[str], None]] = None) -> GRPORun:
    """GRPO from model_path on train_rows with the profile's rl settings; resumes from output_dir's last checkpoint.

    A run whose last checkpoint already reached max_steps is not trained again: its policy is loaded from that
    checkpoint and its step log from the checkpoint's trainer state.
    """
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback
    from trl import GRPOTrainer

    rl, kind = profile.rl, profile.judge.prompt_kind
    model, tokenizer, lora = load_policy(model_path, profile)
    records, prompt_report = prepare_prompts(train_rows, tokenizer, kind, rl.max_prompt_tokens)
    checkpoint = last_checkpoint(output_dir) if resume else None
    state = _checkpoint_state(checkpoint)
    start_step = int(state.get("global_step", 0))
    started = time.time()
    if _finished(state, rl.max_steps if max_steps is None else max_steps):
        policy = _load_checkpoint_policy(model, checkpoint, profile)
        return GRPORun(model=policy, trainer=None, output_dir=Path(output_dir), resumed_from=checkpoint,
                       start_step=start_step, global_step=start_step, seconds=time.time() - started,
                       prompts=prompt_report, steps=step_log(state.get("log_history", [])))
    dataset = Dataset.from_list([{k: r[k] for k in ("prompt", "winner", "id")} for r in records])
    args = grpo_config(profile, output_dir, max_steps=max_steps)
    heldout = list(heldout_rows)[: rl.eval_max_pairs or None]
    settings = SamplingSettings(max_new_tokens=rl.max_response_tokens, temperature=0.0, seed=profile.seed)
    logger = GRPOStepLog(heldout, kind, settings, rl.eval_steps, batch_size=profile.generation.batch_size,
                         echo=echo)
    eos = (tokenizer.eos_token, [tokenizer.eos_token_id]) if rl.reward_counts_eos else None
    trainer = GRPOTrainer(model=model, reward_funcs=reward_functions(rl.reward, kind, eos), args=args,
                          train_dataset=dataset, processing_class=tokenizer, peft_config=lora,
                          callbacks=[logger, *callbacks])
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    trainer.callback_handler.callbacks.remove(logger)  # first, so that logging back-ends see its numbers
    trainer.callback_handler.callbacks.insert(0, logger)
    logger.bind(trainer)
    if echo is not None:  # step, rate, ETA and the step's reward, KL, length and zero-spread share (throttled)
        trainer.add_callback(StepProgress("GRPO step", echo, show=PROGRESS_METRICS))
    trainer.train(resume_from_checkpoint=checkpoint)
    return GRPORun(model=trainer.model, trainer=trainer, output_dir=Path(output_dir), resumed_from=checkpoint,
                   start_step=start_step, global_step=trainer.state.global_step, seconds=time.time() - started,
                   prompts=prompt_report, steps=step_log(trainer.state.log_history))


def _load_checkpoint_policy(model: Any, checkpoint: str, profile: Profile) -> Any:
    """The policy saved in a checkpoint: the adapter on top of the starting model, or the full model."""
    if profile.rl.mode == "full":
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch_dtype(profile.model.dtype))
    from peft import PeftModel

    return PeftModel.from_pretrained(model, checkpoint)


def save_rl_model(run: GRPORun, model_dir: str, *, start_model: str, profile: Profile,
                  adapter_dir: Optional[str] = None) -> dict:
    """Write the trained judge as a full model folder (LoRA merged) and, for LoRA/QLoRA, the adapter folder.

    start_model is the folder GRPO started from: its tokenizer is copied, and for LoRA and QLoRA its
    full-precision weights receive the adapter (merging into 4-bit weights would round the update away).
    """
    tokenizer = load_tokenizer(start_model, profile.model.trust_remote_code)
    return save_trained(run.model, tokenizer, profile.rl.mode, model_dir, base_model=start_model, profile=profile,
                        adapter_dir=adapter_dir)


# ----------------------------------------------------------------------------------------------------------
# curves
# ----------------------------------------------------------------------------------------------------------
CURVES = (
    ("reward", "mean reward (+1 right, -1 wrong)"),
    ("group_reward_std", "reward spread inside a group (std)"),
    ("frac_reward_zero_std", "groups with zero spread (no signal)"),
    ("completions/mean_length", "response length (tokens)"),
    ("kl", "KL to the starting judge (k3)"),
    (f"{HELDOUT_PREFIX}accuracy_strict", "held-out verdict accuracy"),
)


def plot_grpo_curves(rows: Sequence[dict], rolling: int = 5):
    """A 2x3 seaborn figure of the step log: reward, spread, zero-spread groups, length, KL, held-out accuracy.

    Panels with enough steps carry a labelled rolling mean over `rolling` steps. The held-out panel draws both
    verdict rules; where they give the same numbers it draws one line and says so, instead of hiding one.
    """
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import MaxNLocator
    import seaborn as sns

    if not rows:
        raise DataError("plot_grpo_curves: the step log is empty (did training run any step?)")
    frame = pd.DataFrame(rows)
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.8))
    smoothed = False
    for ax, (key, title) in zip(axes.flat, CURVES):
        ax.set_title(title, fontsize=12)
        ax.set_xlabel("optimizer step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if key == f"{HELDOUT_PREFIX}accuracy_strict":
            _plot_heldout_rules(ax, frame)
            continue
        if key not in frame or frame[key].dropna().empty:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes)
            continue
        part = frame[["step", key]].dropna()
        sns.lineplot(data=part, x="step", y=key, ax=ax, marker="o", markersize=3)
        if len(part) >= 6:  # a rolling mean shows the trend through the per-step noise
            ax.plot(part["step"], part[key].rolling(rolling, min_periods=1).mean(), color="black", lw=1.2,
                    alpha=0.7, label=f"rolling mean ({rolling} steps)")
            smoothed = True
        ax.set_ylabel("")
    heading = "GRPO per optimizer step"
    if smoothed:
        heading += f"; black line: rolling mean over {rolling} steps"
    fig.suptitle(heading, fontsize=12)
    fig.tight_layout()
    return fig


def _plot_heldout_rules(ax, frame) -> None:
    """Held-out accuracy under both verdict rules: two lines, or one labelled 'strict = lenient' if identical."""
    cols = {rule: f"{HELDOUT_PREFIX}accuracy_{rule}" for rule in ("strict", "lenient")}
    parts = {rule: frame[["step", col]].dropna() for rule, col in cols.items() if col in frame}
    parts = {rule: part for rule, part in parts.items() if not part.empty}
    same = (len(parts) == 2 and parts["strict"]["step"].tolist() == parts["lenient"]["step"].tolist()
            and parts["strict"][cols["strict"]].tolist() == parts["lenient"][cols["lenient"]].tolist())
    if same:
        part = parts["strict"]
        ax.plot(part["step"], part[cols["strict"]], "o-", label="strict = lenient rule (identical here)")
    else:
        for rule, style in (("strict", "o-"), ("lenient", "s--")):
            if rule in parts:
                ax.plot(parts[rule]["step"], parts[rule][cols[rule]], style, label=f"{rule} rule")
    if not parts:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
    ax.axhline(0.5, color="grey", lw=1, ls=":", label="coin flip (0.5)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("")
    ax.legend(fontsize=9, loc="best")


def memory_note(profile: Profile) -> Optional[dict]:
    """The memory planner's estimate for a GPU profile's own settings (None for the tiny CPU model)."""
    from .memory import MODEL_SHAPES, estimate_memory

    if profile.model.size not in MODEL_SHAPES:
        return None
    rl = profile.rl
    estimate = estimate_memory(profile.model.size, rl.mode, num_generations=rl.num_generations,
                               prompt_tokens=rl.max_prompt_tokens, response_tokens=rl.max_response_tokens,
                               micro_batch=rl.per_device_batch_size, lora_r=rl.lora_r,
                               gradient_checkpointing=rl.gradient_checkpointing, use_vllm=rl.use_vllm,
                               kl=rl.kl_coef > 0)
    return estimate.as_row()

