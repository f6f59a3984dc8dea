"""Profiles: one YAML file per scale (smoke, single_gpu, cluster) validated against typed dataclasses.

Every hyper-parameter lives in a dataclass field with a one-line help text; the cluster profile's defaults
are the paper's (docs/paper-settings.md says where each comes from). A profile is data a user can copy and
edit: load it by name (`load_profile("smoke")`) or by path (`load_profile("my_profile.yaml")`), and pass
overrides as a dict of dotted keys (`{"sft.learning_rate": 1e-5}`), a nested dict, or a YAML string. An unknown
key or a bad value fails at once with the key, the value and what is allowed.

Pure core: imports only the standard library and PyYAML.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from .errors import ConfigError
from .hubids import BASE_MODELS, BENCHMARK_DATASETS, RELEASED_DATASETS, RMB_REPOSITORY
from .prompts import ALL_PROMPT_KINDS, AUTHORS_KIND, PLACEMENTS, PROMPT_KINDS

PROFILE_DIR = Path(__file__).with_name("profiles")
BUILTIN_PROFILES = ("smoke", "study", "rehearsal", "single_gpu", "cluster")
TRAINING_MODES = ("full", "lora", "qlora")
#: How the judge is trained: distillation SFT then RL (Qwen2.5-Instruct judges), or RL only (DeepSeek-distilled).
RECIPES = ("distill_then_rl", "rl_only")
MODEL_SIZES = ("tiny", "0.5B", "1.5B", "3B", "7B", "14B", "32B")
RL_ONLY_FAMILIES = ("deepseek-r1-distill-qwen",)
#: Hub owner and name prefix of the authors' released judges (checkpoints trained on the authors' prompt).
RELEASED_JUDGE_PREFIX = "gaotang/RM-R1-"

# Paper learning rates by model size (paper's training details; docs/paper-settings.md); "auto" resolves through these.
PAPER_SFT_LR = {"7B": 5e-6, "14B": 3e-6, "32B": 2e-6}
PAPER_RL_LR = {
    "qwen2.5-instruct": {"7B": 1e-6, "14B": 7e-7, "32B": 5e-7},
    "deepseek-r1-distill-qwen": {"7B": 1e-6, "14B": 1e-6, "32B": 8e-7},
}


def _f(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field with a help text and optional checks (choices, ge, gt, le, lt)."""
    meta = {"help": help, **checks}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TinyModelConfig:
    """Shape of the offline tiny Qwen2 model used by the smoke profile."""

    vocab_size: int = _f(2048, "BPE vocabulary size of the tokenizer trained on local text", ge=300)
    hidden_size: int = _f(128, "hidden width (head_dim = hidden/heads must be >= 32 for vLLM CPU)", ge=32)
    num_layers: int = _f(2, "transformer layers", ge=1)
    num_heads: int = _f(4, "attention heads", ge=1)
    num_kv_heads: int = _f(2, "key/value heads (grouped-query attention)", ge=1)
    intermediate_size: int = _f(256, "MLP width", ge=1)
    max_positions: int = _f(4096, "maximum sequence length", ge=128)
    copy_pretrain_steps: int = _f(0, "steps of copy pre-training on random repeated token runs before the model is "
                                  "saved (tinymodel.pretrain_copying; 0 = random weights)", ge=0)


@dataclass
class ModelConfig:
    """Which base model the judge starts from."""

    family: str = _f("tiny", "model family ('other': any causal LM named in name_or_path, e.g. the rehearsal's "
                     "SmolLM2)", choices=("tiny", "qwen2.5-instruct", "deepseek-r1-distill-qwen", "other"))
    size: str = _f("tiny", "parameter count ('other': a size without paper values or a memory-planner shape)",
                   choices=("tiny", "0.5B", "1.5B", "3B", "7B", "14B", "32B", "other"))
    name_or_path: str = _f("auto", "local folder, hub name, gguf:FILE, gguf:PACKAGE/FILE or pkg:PACKAGE "
                           "(rmr1lib.sources); 'auto' derives it from family and size")
    dtype: str = _f("float32", "weights dtype", choices=("float32", "bfloat16", "float16"))
    trust_remote_code: bool = _f(False, "run model code shipped with a checkpoint (never needed for Qwen2)")
    recipe: str = _f("auto", "training stages: 'auto' = rl_only for DeepSeek-distilled bases (the paper gives them "
                     "no distillation), distill_then_rl otherwise", choices=("auto",) + RECIPES)
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig, metadata={"help": "tiny model shape"})


@dataclass
class DataConfig:
    """Preference pairs used for training and held-out checks."""

    source: str = _f("synthetic", "where pairs come from", choices=("synthetic", "released", "build_from_sources"))
    n_train: int = _f(256, "training pairs (synthetic) or a cap on real rows (0 = all)", ge=0)
    n_heldout: int = _f(32, "held-out pairs for verdict-accuracy checks", ge=0)
    kinds: list = _f(["reasoning", "chat", "safety"], "synthetic pair kinds",
                     items=("reasoning", "chat", "safety"))
    multi_turn_fraction: float = _f(0.25, "share of synthetic pairs with an earlier exchange", ge=0.0, le=1.0)
    placement: str = _f("random", "A/B placement of the preferred response", choices=PLACEMENTS)
    max_prompt_tokens: int = _f(4096, "rows whose rendered prompt is longer are filtered out", ge=16)
    skip_bad_rows: bool = _f(False, "drop malformed rows with a reasons table instead of failing")
    dedup: bool = _f(True, "drop repeated pairs (same client turns and responses) and contradicting labels")
    sources: list = _f(["skywork", "code_pref", "math_dpo"], "build_from_sources: which paper sources to mix",
                       items=("skywork", "code_pref", "math_dpo"))
    code_pairs: int = _f(8000, "build_from_sources: Code-Preference-Pairs rows kept after the shuffle (0 = all)",
                         ge=0)
    code_shuffle_seed: int = _f(42, "build_from_sources: seed of the Code-Preference-Pairs shuffle (paper: 42)",
                                ge=0)
    sources_dir: str = _f("", "folder with local copies instead of the hub: <source>.jsonl for build_from_sources, "
                          "<released set>.jsonl (e.g. after_distill_rlvr.jsonl) for released")
    released_set: str = _f("auto", "released: RLVR set; 'auto' picks by judge.prompt_kind (authors: by model family)",
                           choices=("auto", "after_distill_rlvr", "reasoning_rlvr"))
    normalise_label_leak: bool = _f(True, "released sets: write 'Chatbot B' where the multi-turn rows misspell it "
                                    "(they do exactly when the winner is A: a label leak); false keeps the rows "
                                    "as released (the paper trained on them so)")


@dataclass
class JudgeConfig:
    """How the judge is prompted and how its verdict is read."""

    prompt_kind: str = _f("instruct_cor", "judge prompt (always explicit, never guessed from a model name); "
                          "'authors' = the authors' wording, learned from their released rows at run time",
                          choices=ALL_PROMPT_KINDS)
    authors_source: str = _f("auto", "prompt kind authors: rows to learn it from: 'auto' = the released RL set "
                             "of the model family, a released set name, or a local .jsonl in the released schema")
    mixed_prompts: bool = _f(False, "allow a run that starts from the authors' released traces, RL data or "
                             "checkpoint to use another prompt kind (two prompts in one run; refused when false)")
    verdict_rule: str = _f("lenient", "evaluation verdict rule (training always uses strict)",
                           choices=("strict", "lenient"))


@dataclass
class GenerationConfig:
    """Sampling settings for judge generation (evaluation and inspection)."""

    backend: str = _f("vllm", "generation engine", choices=("vllm", "transformers"))
    max_new_tokens: int = _f(8192, "token budget of one judgement", ge=1)
    temperature: float = _f(0.0, "0 = greedy", ge=0.0)
    top_p: float = _f(1.0, "nucleus sampling mass", gt=0.0, le=1.0)
    batch_size: int = _f(64, "prompts per generation call", ge=1)
    gpu_memory_utilization: float = _f(0.85, "vLLM GPU memory fraction (ignored on CPU)", gt=0.0, le=1.0)
    tensor_parallel_size: int = _f(1, "vLLM tensor parallel degree", ge=1)


@dataclass
class SFTConfig:
    """Distillation SFT (paper §3 and training details; docs/paper-settings.md; notebook 03, rmr1lib.sft)."""

    mode: str = _f("full", "what is trained", choices=TRAINING_MODES)
    learning_rate: Union[float, str] = _f("auto", "peak LR; 'auto' = paper value for the model size")
    epochs: float = _f(1.0, "passes over the traces", gt=0.0)
    max_steps: int = _f(-1, "stop after this many optimizer steps (-1 = use epochs)", ge=-1)
    per_device_batch_size: int = _f(1, "micro-batch per device", ge=1)
    gradient_accumulation_steps: int = _f(16, "micro-batches per optimizer step", ge=1)
    num_gpus: int = _f(1, "GPUs the trainer is launched on; batch = per_device x accumulation x num_gpus", ge=1)
    max_length: int = _f(12288, "max tokens per training sequence", ge=16)
    warmup_ratio: float = _f(0.03, "share of steps spent warming up", ge=0.0, le=1.0)
    lr_scheduler: str = _f("cosine", "LR schedule", choices=("cosine", "constant", "linear"))
    lora_r: int = _f(64, "LoRA rank (lora/qlora)", ge=1)
    lora_alpha: int = _f(128, "LoRA alpha", ge=1)
    lora_dropout: float = _f(0.05, "LoRA dropout", ge=0.0, le=1.0)
    gradient_checkpointing: bool = _f(True, "recompute activations to save memory (ignored on CPU)")
    save_steps: int = _f(50, "checkpoint every N steps (resume point)", ge=1)
    lora_targets: str = _f("all-linear", "LoRA target modules: 'all-linear' or comma-separated module names")
    weight_decay: float = _f(0.0, "AdamW weight decay", ge=0.0)
    max_grad_norm: float = _f(1.0, "gradient clipping norm", gt=0.0)
    adam_beta1: float = _f(0.9, "Adam beta1 (the paper's SFT trainer: 0.9)", ge=0.0, lt=1.0)
    adam_beta2: float = _f(0.95, "Adam beta2 (the paper's SFT trainer: 0.95; TRL's default 0.999)", ge=0.0, lt=1.0)
    min_lr_ratio: float = _f(0.1, "cosine schedule floor as a share of the peak LR (the paper's SFT trainer: "
                             "0.1; 0 = decay to zero, TRL's default)", ge=0.0, lt=1.0)
    loss_averaging: str = _f("per_sample", "how token losses are averaged into a step's loss: per_sample = each "
                             "sequence's token mean, then the mean over sequences (the paper's trainer at "
                             "micro-batch 1); per_token = all tokens of the step together (TRL's default)",
                             choices=("per_sample", "per_token"))
    loss_impl: str = _f("fused", "how the loss is computed: fused = TRL's chunked LM-head kernel (never builds "
                        "the full logits: the memory-safe choice for large vocabularies on GPUs); logits = the "
                        "model's own logits over the labelled span and a plain cross-entropy, the same loss "
                        "(the smoke profile's SFT on a 2-core CPU: 145 s instead of 246 s)", choices=("fused", "logits"))
    packing: bool = _f(False, "pack sequences into max_length blocks (paper: on; needs GPU FlashAttention)")
    group_by_length: bool = _f(False, "batch traces of similar length together (less padding when micro-batch > 1; "
                               "the order stays seeded)")
    logging_steps: int = _f(10, "log loss every N steps", ge=1)
    keep_checkpoints: int = _f(2, "newest checkpoints kept on disk", ge=1)


@dataclass
class RLConfig:
    """GRPO with the verifiable reward (paper §3.3, Eq. 8; docs/paper-settings.md; notebook 04, rmr1lib.rl)."""

    mode: str = _f("full", "what is trained", choices=TRAINING_MODES)
    learning_rate: Union[float, str] = _f("auto", "constant LR; 'auto' = paper value for family and size")
    num_generations: int = _f(7, "rollouts per prompt (group size)", ge=2)
    prompts_per_step: int = _f(1024, "prompts per rollout batch (all GPUs together)", ge=1)
    mini_batch_prompts: int = _f(128, "prompts per optimizer update (PPO mini-batch, all GPUs together)", ge=1)
    per_device_batch_size: int = _f(1, "sequences per forward/backward pass on one GPU (micro-batch)", ge=1)
    num_gpus: int = _f(1, "GPUs the trainer runs on (data parallel); batch sizes above are totals", ge=1)
    max_steps: int = _f(-1, "stop after N optimizer updates (TRL's global_step; -1 = one epoch)", ge=-1)
    kl_coef: float = _f(1e-3, "KL loss coefficient (k3 estimator)", ge=0.0)
    clip_ratio: float = _f(0.2, "PPO clip epsilon", ge=0.0)
    entropy_coef: float = _f(0.0, "entropy bonus", ge=0.0)
    loss_aggregation: str = _f("token-mean", "loss aggregation: token-mean per micro-batch (paper), over the whole "
                               "mini-batch (token-mean-global), or per sequence then mean",
                               choices=("token-mean", "token-mean-global", "seq-mean-token-mean"))
    temperature: float = _f(1.0, "rollout temperature", gt=0.0)
    max_prompt_tokens: int = _f(4096, "longer prompts are filtered out", ge=16)
    max_response_tokens: int = _f(8192, "rollout budget", ge=1)
    reward: str = _f("verifiable", "reward function", choices=("verifiable", "cold_start"))
    reward_counts_eos: bool = _f(False, "count the end-of-sequence token's text in the reward's 80-character "
                                 "window, as the paper's verl version did (about 70 characters of text for Qwen)")
    exclude_distilled_pairs: bool = _f(True, "leave the pairs the distillation stage trained on out of the RL pool "
                                       "(the paper's Instruct RL set excludes them)")
    use_vllm: bool = _f(True, "generate rollouts with vLLM (GPU only; TRL's own generation otherwise)")
    vllm_gpu_memory_utilization: float = _f(0.3, "share of GPU memory colocated vLLM takes (weights + KV cache)",
                                            gt=0.0, le=1.0)
    vllm_tensor_parallel_size: int = _f(1, "GPUs one colocated vLLM engine spans", ge=1)
    gradient_checkpointing: bool = _f(True, "recompute activations in the backward pass to save memory")
    lora_r: int = _f(64, "LoRA rank (lora/qlora)", ge=1)
    lora_alpha: int = _f(128, "LoRA alpha", ge=1)
    lora_dropout: float = _f(0.0, "LoRA dropout (0 keeps policy log-probs deterministic)", ge=0.0, le=1.0)
    lora_targets: str = _f("all-linear", "LoRA target modules: 'all-linear' or comma-separated module names")
    weight_decay: float = _f(0.01, "AdamW weight decay (paper: 0.01)", ge=0.0)
    max_grad_norm: float = _f(1.0, "gradient clipping norm (paper: 1.0)", gt=0.0)
    adam_beta1: float = _f(0.9, "AdamW beta1 (paper: 0.9)", ge=0.0, lt=1.0)
    adam_beta2: float = _f(0.999, "AdamW beta2 (paper: 0.999)", ge=0.0, lt=1.0)
    lr_scheduler: str = _f("constant", "LR schedule (paper: constant)", choices=("constant", "cosine", "linear"))
    warmup_ratio: float = _f(0.0, "share of steps spent warming up (paper: none)", ge=0.0, le=1.0)
    logging_steps: int = _f(1, "log metrics every N steps (paper: every step)", ge=1)
    save_steps: int = _f(10, "checkpoint every N steps (resume point)", ge=1)
    keep_checkpoints: int = _f(2, "newest checkpoints kept on disk", ge=1)
    eval_steps: int = _f(10, "held-out verdict accuracy every N steps", ge=1)
    eval_max_pairs: int = _f(64, "held-out pairs judged at each evaluation (0 = all)", ge=0)
    report_to: str = _f("none", "TRL logging back-end", choices=("none", "tensorboard", "trackio"))

    def check(self) -> None:
        """Batch-size rules GRPO needs: whole groups per generation batch, whole micro-batches per update."""
        if self.prompts_per_step % self.mini_batch_prompts:
            raise ConfigError(
                f"rl.prompts_per_step ({self.prompts_per_step}) must be a multiple of rl.mini_batch_prompts "
                f"({self.mini_batch_prompts})"
            )
        sequences = self.mini_batch_prompts * self.num_generations
        per_pass = self.per_device_batch_size * self.num_gpus
        if sequences % per_pass:
            raise ConfigError(
                f"rl: a mini-batch holds mini_batch_prompts x num_generations = {sequences} sequences, which must "
                f"divide into micro-batches of per_device_batch_size x num_gpus = {per_pass}; change "
                "rl.per_device_batch_size or rl.mini_batch_prompts"
            )
        if self.num_gpus % self.vllm_tensor_parallel_size:
            raise ConfigError(
                f"rl.vllm_tensor_parallel_size ({self.vllm_tensor_parallel_size}) must divide rl.num_gpus "
                f"({self.num_gpus})"
            )


@dataclass
class DistillConfig:
    """Teacher traces for distillation (paper §3; docs/paper-settings.md; notebook 03)."""

    teacher: str = _f("oracle", "who writes traces", choices=("oracle", "openai", "vllm", "released"))
    teacher_model: str = _f("", "API model name (openai) or local model folder / hub name (vllm)")
    sample_fraction: float = _f(0.12, "share of the training pairs sent to the teacher", gt=0.0, le=1.0)
    max_pairs: int = _f(0, "cap on pairs sent to the teacher (0 = no cap)", ge=0)
    teacher_max_tokens: int = _f(8192, "token budget of one teacher trace", ge=16)
    correctness_window: int = _f(100, "a trace is right when its last N characters hold the right verdict", ge=10)
    second_pass: bool = _f(True, "re-ask for wrong traces with the correct verdict and the wrong trace as a hint")
    oracle_error_rate: float = _f(0.0, "oracle teacher only: share of first-pass traces made deliberately wrong",
                                  ge=0.0, le=1.0)
    max_retries: int = _f(5, "retries with back-off on rate-limit and transient API errors", ge=0)
    teacher_temperature: float = _f(0.0, "teacher sampling temperature (0 = greedy)", ge=0.0)
    second_pass_model: str = _f("", "API model for pass 2 (paper: o3 after Claude); empty = teacher_model")
    api_workers: int = _f(4, "API requests in flight at once", ge=1)
    released_source: str = _f(RELEASED_DATASETS["distill_sft"],
                              "teacher 'released': hub name or local .jsonl/.parquet")


@dataclass
class EvalConfig:
    """Benchmark evaluation (paper §4; docs/paper-settings.md; notebook 06)."""

    benchmarks: list = _f(["rewardbench", "rm-bench", "rmb"], "benchmarks to run",
                          items=("rewardbench", "rm-bench", "rmb"))
    data: str = _f("synthetic", "benchmark data: miniature synthetic versions, or the real sets",
                   choices=("synthetic", "real"))
    max_items: int = _f(0, "cap on items per benchmark (0 = all)", ge=0)
    orders: str = _f("random", "A/B order per comparison: seeded random, both orders, or chosen-first",
                     choices=("random", "both", "AB"))
    checkpoint: str = _f("auto", "judge to evaluate: 'auto' = the run's latest judge, else a folder or hub name")
    rmbench_reference_bug: bool = _f(False, "reproduce the reference code's RM-Bench aggregation bug (the headline "
                                     "scores; 'paper vs this run' always shows both scorings)")
    max_new_tokens: int = _f(0, "token budget of a benchmark judgement (0 = generation.max_new_tokens; the paper's "
                             "evaluation script: 50,000)", ge=0)
    synthetic_n: int = _f(2, "miniature data: items per RewardBench subset, RM-Bench domain and RMB part", ge=1)
    rewardbench_source: str = _f(BENCHMARK_DATASETS["rewardbench"],
                                 "real data: hub name or local file (split 'filtered')")
    rmbench_source: str = _f(BENCHMARK_DATASETS["rm-bench"], "real data: hub name or local total_dataset.json")
    rmb_source: str = _f("", f"real data: local RMB_dataset folder of a clone of {RMB_REPOSITORY}")
    paper_model: str = _f("auto", "paper model for 'paper vs this run' ('auto': the checkpoint's own, else same base)")
    zero_shot_items: int = _f(0, "pairs (02) and comparisons (06) the untrained base model judges in both orders "
                              "before any training, next to the untrained tiny judge (0 = skip the section)", ge=0)


#: Notebook 07's variants (what each trains: rmr1lib.ablations.VARIANTS).
ABLATION_VARIANTS = ("original", "cold_start_rl", "cold_start_rl_rubrics", "cold_start_rl_rubrics_qc",
                     "verdict_sft", "distilled", "rm_r1")


@dataclass
class AblationConfig:
    """Notebook 07: the paper's ablations (Tables 2 and 3) and the budget and size sweeps (rmr1lib.ablations)."""

    variants: list = _f(list(ABLATION_VARIANTS), "variants to train and evaluate (Table 2 ladder, Table 3)",
                        items=ABLATION_VARIANTS)
    seeds: int = _f(1, "training seeds per variant: the profile's seed, then seed+1, seed+2, ...", ge=1)
    reuse_workbook_models: bool = _f(True, "at the profile's own seed, take notebook 03/04's judges where a variant "
                                     "is exactly their recipe instead of training them again")
    verdict_sft_max_steps: int = _f(0, "SFT steps of the verdict-only variant (0 = sft.max_steps)", ge=0)
    cold_start_max_steps: int = _f(0, "GRPO steps of the cold-start variants (0 = rl.max_steps; the RM-R1 variant "
                                   "always trains rl.max_steps, as notebook 04 does)", ge=0)
    budgets: list = _f([], "budget sweep: evaluation token budgets for the rm_r1 judge (empty: no sweep)",
                       may_be_empty=True)
    sizes: list = _f([], "size sweep: hidden widths of tiny models (family tiny) or model sizes such as '7B' "
                     "(empty: no sweep)", may_be_empty=True)
    size_recipe: str = _f("distilled", "how each size is trained: distillation SFT only, or SFT then GRPO",
                          choices=("distilled", "rm_r1"))
    size_sft_max_steps: int = _f(0, "SFT steps of each size in the sweep (0 = sft.max_steps)", ge=0)
    eval_synthetic_n: int = _f(0, "miniature benchmarks for the variants: items per part (0 = eval.synthetic_n)",
                               ge=0)
    eval_orders: str = _f("", "A/B orders for the variants ('' = eval.orders)", choices=("", "random", "both", "AB"))
    eval_max_items: int = _f(-1, "cap on items per benchmark for the variants (-1 = eval.max_items, 0 = all)",
                             ge=-1)

    def check(self, family: str) -> None:
        """Sizes fit the model family; budgets are positive integers."""
        for b in self.budgets:
            if isinstance(b, bool) or not isinstance(b, int) or b < 1:
                raise ConfigError(f"ablations.budgets: {b!r} is not a positive number of tokens")
        for s in self.sizes:
            if family == "tiny":
                if isinstance(s, bool) or not isinstance(s, int) or s < 32 or s % 32:
                    raise ConfigError(f"ablations.sizes: {s!r} is not a tiny model width; family 'tiny' takes hidden "
                                      "widths that are multiples of 32 (heads of 32 dimensions), such as 64 or 128")
            elif s not in MODEL_SIZES or s == "tiny":
                raise ConfigError(f"ablations.sizes: {s!r} is not a model size; choose from "
                                  f"{', '.join(x for x in MODEL_SIZES if x != 'tiny')}")
        if len(set(map(str, self.sizes))) != len(self.sizes):
            raise ConfigError(f"ablations.sizes: {self.sizes} repeats a size")


@dataclass
class Profile:
    """A complete, validated workbook configuration."""

    name: str = _f("custom", "profile name (used in runs/<profile>/)")
    description: str = _f("", "one line for humans")
    seed: int = _f(42, "global seed: data, placement, model init, training, evaluation order", ge=0)
    device: str = _f("cpu", "where training and generation run", choices=("cpu", "cuda"))
    torch_threads: int = _f(1, "torch intra-op threads (1 is fastest on 2-core machines)", ge=1)
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "base model"})
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "data"})
    judge: JudgeConfig = field(default_factory=JudgeConfig, metadata={"help": "judge prompt and verdict"})
    generation: GenerationConfig = field(default_factory=GenerationConfig, metadata={"help": "generation"})
    sft: SFTConfig = field(default_factory=SFTConfig, metadata={"help": "distillation SFT"})
    rl: RLConfig = field(default_factory=RLConfig, metadata={"help": "GRPO"})
    distill: DistillConfig = field(default_factory=DistillConfig, metadata={"help": "teacher traces"})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "benchmark evaluation"})
    ablations: AblationConfig = field(default_factory=AblationConfig, metadata={"help": "ablations (notebook 07)"})

    # ---- derived values (computed, never stored in YAML) ----
    def model_name(self) -> str:
        """The hub name or local path of the base model ('tiny' for the offline tiny model)."""
        m = self.model
        if m.name_or_path != "auto":
            return m.name_or_path
        if m.family == "tiny":
            return "tiny"
        return BASE_MODELS[m.family].format(size=m.size)

    def recipe(self) -> str:
        """The training recipe: model.recipe, with 'auto' resolved by the model family."""
        if self.model.recipe != "auto":
            return self.model.recipe
        return "rl_only" if self.model.family in RL_ONLY_FAMILIES else "distill_then_rl"

    def released_inputs(self) -> list[str]:
        """What this run takes from the authors' releases (each carries the authors' prompt)."""
        found = []
        if self.data.source == "released":
            found.append("data.source: released (the authors' RL rows)")
        if self.distill.teacher == "released" and self.recipe() == "distill_then_rl":
            found.append("distill.teacher: released (the authors' traces)")
        for key, value in (("eval.checkpoint", self.eval.checkpoint), ("model.name_or_path", self.model.name_or_path)):
            if value.startswith(RELEASED_JUDGE_PREFIX):
                found.append(f"{key}: {value} (a released checkpoint)")
        return found

    def sft_learning_rate(self) -> float:
        """The SFT learning rate, resolving 'auto' through the paper's table."""
        return _resolve_lr(self.sft.learning_rate, PAPER_SFT_LR, self.model.size, "sft.learning_rate")

    def rl_learning_rate(self) -> float:
        """The GRPO learning rate, resolving 'auto' through the paper's table for the model family."""
        table = PAPER_RL_LR.get(self.model.family, {})
        return _resolve_lr(self.rl.learning_rate, table, self.model.size, "rl.learning_rate")

    def to_dict(self) -> dict:
        """The profile as plain data (what gets recorded in a run's manifest)."""
        return dataclasses.asdict(self)


def _resolve_lr(value: Union[float, str], table: dict, size: str, key: str) -> float:
    if not isinstance(value, str):
        return float(value)
    if size in table:
        return table[size]
    raise ConfigError(
        f"{key}: 'auto' has no paper value for model size {size!r} (paper sizes: {sorted(table)}); "
        f"set {key} to a number"
    )


# ----------------------------------------------------------------------------------------------------------
# validation


def _allowed_keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _describe(cls: type, key: str) -> str:
    f = {f.name: f for f in dataclasses.fields(cls)}[key]
    meta = f.metadata
    parts = [meta.get("help", "")]
    if "choices" in meta:
        parts.append("one of " + ", ".join(repr(c) for c in meta["choices"]))
    return "; ".join(p for p in parts if p)


def _check_value(path: str, value: Any, ftype: Any, meta: dict) -> Any:
    """Validate and coerce one leaf value; raise ConfigError naming the key, the value and what is allowed."""
    origin = get_origin(ftype)
    if ftype is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
    elif ftype is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
    elif ftype is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = _float_from_str(path, value)
        value = float(value)
    elif ftype is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
    elif origin is Union:  # float | "auto"
        if isinstance(value, str) and value != "auto":
            value = _float_from_str(path, value, allow_auto=True)
        elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{path}: expected a number or 'auto', got {value!r}")
        if not isinstance(value, str):
            value = float(value)
            if value <= 0:
                raise ConfigError(f"{path}: must be > 0 or 'auto', got {value!r}")
    elif ftype is list:
        if not isinstance(value, list) or (not value and not meta.get("may_be_empty")):
            raise ConfigError(f"{path}: expected a {'' if meta.get('may_be_empty') else 'non-empty '}list, "
                              f"got {value!r}")
        items = meta.get("items")
        for v in value:
            if items and v not in items:
                raise ConfigError(f"{path}: {v!r} is not allowed; allowed items: {', '.join(items)}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(
            f"{path}: {value!r} is not allowed; choose one of " + ", ".join(repr(c) for c in meta["choices"])
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "ge" in meta and value < meta["ge"]:
            raise ConfigError(f"{path}: {value!r} is too small; must be >= {meta['ge']}")
        if "gt" in meta and value <= meta["gt"]:
            raise ConfigError(f"{path}: {value!r} is too small; must be > {meta['gt']}")
        if "le" in meta and value > meta["le"]:
            raise ConfigError(f"{path}: {value!r} is too large; must be <= {meta['le']}")
        if "lt" in meta and value >= meta["lt"]:
            raise ConfigError(f"{path}: {value!r} is too large; must be < {meta['lt']}")
    return value


def _float_from_str(path: str, value: Any, allow_auto: bool = False) -> float:
    # YAML 1.1 reads "1e-5" (no dot) as a string; accept it, reject anything else clearly.
    try:
        return float(value)
    except (TypeError, ValueError):
        allowed = "a number or 'auto'" if allow_auto else "a number"
        raise ConfigError(f"{path}: expected {allowed}, got {value!r}") from None


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'profile'}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    allowed = _allowed_keys(cls)
    kwargs = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown key {full!r}.{hint} Allowed keys here: {', '.join(allowed)}")
        ftype = hints[key]
        if dataclasses.is_dataclass(ftype):
            kwargs[key] = _build(ftype, value, full)
        else:
            meta = {f.name: f for f in dataclasses.fields(cls)}[key].metadata
            kwargs[key] = _check_value(full, value, ftype, dict(meta))
    return cls(**kwargs)


def _check_consistency(p: Profile) -> None:
    if p.model.family == "tiny" and p.model.size != "tiny":
        raise ConfigError(f"model.size: {p.model.size!r} does not fit model.family 'tiny' (use size 'tiny')")
    if p.model.family != "tiny" and p.model.size == "tiny":
        raise ConfigError(f"model.size: 'tiny' only fits model.family 'tiny', not {p.model.family!r}")
    if p.model.family == "other" and p.model.name_or_path == "auto":
        raise ConfigError("model.name_or_path: 'auto' needs a paper model family; with model.family 'other' name "
                          "the model (a folder, a hub name, gguf:FILE or pkg:PACKAGE)")
    t = p.model.tiny
    if t.hidden_size % t.num_heads or t.num_heads % t.num_kv_heads:
        raise ConfigError(
            f"model.tiny: hidden_size {t.hidden_size} must divide by num_heads {t.num_heads}, "
            f"and num_heads by num_kv_heads {t.num_kv_heads}"
        )
    if t.hidden_size // t.num_heads < 32:
        raise ConfigError(
            f"model.tiny: head size {t.hidden_size // t.num_heads} (hidden_size/num_heads) is below 32, "
            "which vLLM's CPU attention rejects; raise hidden_size or lower num_heads"
        )
    p.rl.check()
    p.ablations.check(p.model.family)
    if p.device == "cpu" and p.rl.use_vllm:
        raise ConfigError(
            "rl.use_vllm: true needs device 'cuda'; TRL's vLLM colocate mode does not run on CPU "
            "(docs/stack.md). Set rl.use_vllm: false for CPU profiles."
        )
    if p.device == "cpu" and p.model.dtype != "float32":
        raise ConfigError(f"model.dtype: {p.model.dtype!r} on device 'cpu'; use float32 on CPU")
    p.sft_learning_rate()
    p.rl_learning_rate()
    released = p.released_inputs()
    if released and p.judge.prompt_kind != AUTHORS_KIND and not p.judge.mixed_prompts:
        raise ConfigError(
            f"judge.prompt_kind {p.judge.prompt_kind!r}: this run starts from the authors' releases "
            f"({'; '.join(released)}), which were made with the authors' prompt. Set judge.prompt_kind: authors so "
            "that SFT, RL and evaluation use that one prompt throughout, or judge.mixed_prompts: true to mix two "
            "prompts on purpose")


# ----------------------------------------------------------------------------------------------------------
# loading and overrides


def _nest(dotted: dict, where: str) -> dict:
    """Turn {"a.b": 1, "c": {"d": 2}} into nested dicts."""
    out: dict = {}
    for key, value in dotted.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where}: override keys must be non-empty strings, got {key!r}")
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{where}: key {key!r} conflicts with another override")
        if isinstance(value, dict):
            value = _nest(value, where)
            existing = node.get(parts[-1])
            if isinstance(existing, dict):
                value = _merge(existing, value)
        node[parts[-1]] = value
    return out


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_overrides(overrides: Union[None, dict, str, list]) -> dict:
    """Normalise overrides given as a dict (dotted or nested), a YAML mapping string, or ["k=v", ...]."""
    if overrides is None or overrides == "" or overrides == {}:
        return {}
    if isinstance(overrides, str):
        try:
            loaded = yaml.safe_load(overrides)
        except yaml.YAMLError as exc:
            raise ConfigError(f"overrides: not valid YAML ({exc}); example: 'sft.max_steps: 20'") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"overrides: expected a mapping such as 'sft.max_steps: 20', got {overrides!r}")
        overrides = loaded
    if isinstance(overrides, (list, tuple)):
        pairs = {}
        for item in overrides:
            if not isinstance(item, str) or "=" not in item:
                raise ConfigError(f"overrides: expected KEY=VALUE, got {item!r}")
            key, raw = item.split("=", 1)
            pairs[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        overrides = pairs
    if not isinstance(overrides, dict):
        raise ConfigError(f"overrides: expected a dict, a YAML string or KEY=VALUE items, got {overrides!r}")
    return _nest(overrides, "overrides")


def profile_path(name_or_path: Union[str, Path]) -> Path:
    """The YAML file for a built-in profile name or a user path."""
    text = str(name_or_path)
    if text in BUILTIN_PROFILES:
        return PROFILE_DIR / f"{text}.yaml"
    path = Path(text)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    raise ConfigError(
        f"profile {text!r} not found: use one of {', '.join(BUILTIN_PROFILES)} or the path of a YAML file "
        f"(copy one from {PROFILE_DIR} to start)"
    )


def _profile_data(path: Path, seen: tuple) -> dict:
    """A profile file's settings as nested dicts; `extends: NAME` (a built-in name or a path relative to the file)
    starts from that profile's settings and changes only what the file gives."""
    if path.resolve() in seen:
        raise ConfigError(f"profile file {path}: 'extends' goes round in a circle ({' -> '.join(map(str, seen))})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"profile file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"profile file {path}: expected a mapping at the top level")
    parent = data.pop("extends", None)
    nested = _nest(data, str(path))
    if parent is None:
        return nested
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"profile file {path}: 'extends' must name a profile, got {parent!r}")
    given = parent
    if parent not in BUILTIN_PROFILES and not Path(parent).is_absolute():
        parent = str(path.parent / parent)
    try:
        found = profile_path(parent)
    except ConfigError:
        raise ConfigError(f"profile file {path}: extends {given!r}, which is neither a built-in profile "
                          f"({', '.join(BUILTIN_PROFILES)}) nor a YAML file next to it") from None
    return _merge(_profile_data(found, seen + (path.resolve(),)), nested)


def load_profile(name_or_path: Union[str, Path] = "smoke", overrides: Union[None, dict, str, list] = None) -> Profile:
    """Load, override and validate a profile; raise ConfigError naming the bad key and value."""
    merged = _merge(_profile_data(profile_path(name_or_path), ()), parse_overrides(overrides))
    return _validated(merged, f"profile {str(name_or_path)!r}")


def _validated(merged: dict, what: str) -> Profile:
    """Build and check a profile from merged data; errors start with `what`."""
    try:
        profile = _build(Profile, merged, "")
        _check_consistency(profile)
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}") from None
    return profile


def describe_fields(cls: type = Profile, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, help) for every field: the reference table a notebook shows."""
    rows = []
    defaults = cls()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            rows.extend(describe_fields(hints[f.name], key + "."))
        else:
            rows.append((key, repr(getattr(defaults, f.name)), _describe(cls, f.name)))
    return rows


def with_overrides(profile: Profile, overrides: Union[None, dict, str, list]) -> Profile:
    """A validated copy of a resolved profile with overrides applied (the profile itself is not changed)."""
    merged = _merge(profile.to_dict(), parse_overrides(overrides))
    return _validated(merged, f"profile {profile.name!r} with overrides {overrides!r}")
