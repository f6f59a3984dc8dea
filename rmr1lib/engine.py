"""The training engine both stages share: loading a model to train, LoRA / QLoRA, checkpoints, saving, progress.

Distillation SFT (rmr1lib.sft) and GRPO (rmr1lib.rl) differ in their trainer and their data, not in how a model
is loaded or saved, so that part lives here once:

    load_for_training   the model for a training mode: full precision for 'full' and 'lora'; for 'qlora' a 4-bit
                        NF4 base (bitsandbytes, double quantisation) that computes in the profile's dtype (fp32 on
                        CPU), placed on this process's own GPU (LOCAL_RANK) so every rank of a multi-GPU launch
                        holds its copy, with the CPU AVX512-BF16 repacking switched off (`disable_cpu_bf16_repacking`)
    peft_config         the PEFT LoraConfig from a profile section (rank, alpha, dropout, target modules)
    training_arguments  the trainer arguments both stages share: optimiser, schedule, precision, checkpoints,
                        logging, seed, CPU or GPU (TRL's SFTConfig and GRPOConfig add their own)
    last_checkpoint     the newest checkpoint-N folder a trainer wrote (resume point); `checkpoint_step` its N
    save_trained        the trained judge as a full model folder vLLM can load (adapters merged into a
                        full-precision copy of the base, never into 4-bit weights) plus, for LoRA/QLoRA, the adapter
    StepProgress        a TrainerCallback that prints step, rate and ETA (throttled), or a live bar in Jupyter

Engine layer: transformers loads with the module (StepProgress is a TrainerCallback); torch, PEFT, bitsandbytes
and datasets are imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, Optional, Protocol, Union

from .errors import ConfigError
from .files import atomic_path
from .profiles import TRAINING_MODES, Profile
from .progress import ProgressLine, progress_mode

PathLike = Union[str, os.PathLike]


class LoraSettings(Protocol):
    """What a profile section (sft or rl) holds for LoRA."""

    mode: str
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    lora_targets: str


def torch_dtype(name: str):
    """The torch dtype for a profile dtype name ('float32', 'bfloat16', 'float16')."""
    import torch

    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in table:
        raise ConfigError(f"dtype {name!r} is not one of {', '.join(table)}")
    return table[name]


def lora_target_modules(spec: str) -> Union[str, list[str]]:
    """A profile's lora_targets: 'all-linear' (every linear layer but the LM head) or comma-separated names."""
    if spec.strip() == "all-linear":
        return "all-linear"
    names = [t.strip() for t in spec.split(",") if t.strip()]
    if not names:
        raise ConfigError(f"lora_targets {spec!r}: give 'all-linear' or comma-separated module names")
    return names


def peft_config(section: LoraSettings):
    """The PEFT LoraConfig for a profile section in lora/qlora mode, None for full fine-tuning."""
    if section.mode == "full":
        return None
    from peft import LoraConfig

    return LoraConfig(r=section.lora_r, lora_alpha=section.lora_alpha, lora_dropout=section.lora_dropout,
                      target_modules=lora_target_modules(section.lora_targets), bias="none", task_type="CAUSAL_LM")


class TrainingSettings(LoraSettings, Protocol):
    """What a profile section (sft or rl) holds for the optimiser, schedule, checkpoints and logging."""

    lr_scheduler: str
    warmup_ratio: float
    weight_decay: float
    max_grad_norm: float
    gradient_checkpointing: bool
    save_steps: int
    keep_checkpoints: int
    logging_steps: int


def training_arguments(profile: Profile, section: TrainingSettings, output_dir: PathLike, *, learning_rate: float,
                       report_to: str = "none") -> dict:
    """The transformers TrainingArguments both trainers share, from a profile section (sft or rl).

    On CPU: use_cpu, no bf16/fp16, no gradient checkpointing. Adam betas are set when the section has them; a
    cosine schedule with a floor (`min_lr_ratio` > 0, the sft section) becomes transformers' cosine_with_min_lr.
    """
    on_gpu = profile.device == "cuda"
    args = dict(
        output_dir=str(output_dir), seed=profile.seed, learning_rate=learning_rate,
        lr_scheduler_type=section.lr_scheduler,
        warmup_steps=section.warmup_ratio if section.warmup_ratio < 1.0 else 0.999,  # a float >= 1 means steps
        weight_decay=section.weight_decay, max_grad_norm=section.max_grad_norm,
        gradient_checkpointing=section.gradient_checkpointing and on_gpu,
        use_cpu=not on_gpu, bf16=on_gpu and profile.model.dtype == "bfloat16",
        fp16=on_gpu and profile.model.dtype == "float16",
        save_strategy="steps", save_steps=section.save_steps, save_total_limit=section.keep_checkpoints,
        logging_steps=section.logging_steps, report_to=report_to,
        disable_tqdm=True,  # progress is StepProgress: throttled lines, or a bar in Jupyter
    )
    for beta in ("adam_beta1", "adam_beta2"):
        if hasattr(section, beta):
            args[beta] = getattr(section, beta)
    floor = getattr(section, "min_lr_ratio", 0.0)
    if section.lr_scheduler == "cosine" and floor > 0:  # cosine down to floor x LR (the paper's SFT trainer)
        args.update(lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": floor})
    return args


def compute_dtype(profile: Profile) -> str:
    """The dtype training computes in: the profile's on GPU, float32 on CPU."""
    return profile.model.dtype if profile.device == "cuda" else "float32"


def device_map(device: str) -> dict:
    """Where 4-bit weights are placed at load time: this process's GPU (LOCAL_RANK of a multi-GPU launch), or CPU."""
    if device == "cpu":
        return {"": "cpu"}
    rank = os.environ.get("LOCAL_RANK", "0")
    if not rank.isdigit():
        raise ConfigError(f"LOCAL_RANK={rank!r} is not a GPU index; launch with accelerate or torchrun")
    return {"": int(rank)}


def quantization_config(dtype: str):
    """4-bit NF4 with double quantisation (the QLoRA recipe), computing in `dtype`."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch_dtype(dtype))


def disable_cpu_bf16_repacking(model: Any) -> int:
    """Switch off bitsandbytes' AVX512-BF16 inference repacking on every Linear4bit; returns how many layers.

    On CPUs with AVX512-BF16, a 4-bit layer repacks its weights for inference after any eval-mode forward, and a
    later training step then fails (docs/stack.md).
    """
    import bitsandbytes as bnb

    n = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def load_tokenizer(model_path: str, trust_remote_code: bool = False):
    """The model's tokenizer, with the EOS token as padding when it has none."""
    from transformers import AutoTokenizer

    from .hub import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(model_path), trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_for_training(model_path: str, mode: str, profile: Profile):
    """The model to train in `mode` ('full', 'lora', 'qlora') with the profile's dtype, device and trust setting."""
    from transformers import AutoModelForCausalLM

    from .hub import resolve_model

    if mode not in TRAINING_MODES:
        raise ConfigError(f"training mode {mode!r} is not known; choose one of {', '.join(TRAINING_MODES)}")
    path, trust = resolve_model(model_path), profile.model.trust_remote_code
    if mode != "qlora":
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(profile.model.dtype),
                                                    trust_remote_code=trust)
    from peft import prepare_model_for_kbit_training

    dtype = compute_dtype(profile)
    model = AutoModelForCausalLM.from_pretrained(path, quantization_config=quantization_config(dtype),
                                                 dtype=torch_dtype(dtype), device_map=device_map(profile.device),
                                                 trust_remote_code=trust)
    disable_cpu_bf16_repacking(model)
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


# ----------------------------------------------------------------------------------------------------------
# checkpoints and saving


def last_checkpoint(folder: PathLike) -> Optional[str]:
    """The newest complete checkpoint-N folder directly under `folder`, or None."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if Path(folder).is_dir() else None


def checkpoint_step(checkpoint: PathLike) -> int:
    """The step N of a checkpoint-N folder."""
    name = Path(checkpoint).name
    try:
        return int(name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise ConfigError(f"{checkpoint}: not a checkpoint-N folder") from None


def merge_adapter(base_model: str, adapter_dir: PathLike, out_dir: PathLike, *, dtype: str = "float32",
                  trust_remote_code: bool = False) -> Path:
    """Merge a LoRA adapter into a full-precision copy of its base and save a full model folder (atomically)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from .hub import resolve_model

    base = AutoModelForCausalLM.from_pretrained(resolve_model(base_model), dtype=torch_dtype(dtype),
                                                trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    tokenizer = load_tokenizer(base_model, trust_remote_code)
    with atomic_path(out_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)


def free_memory() -> None:
    """Collect garbage and return cached GPU memory (before loading another model)."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def save_trained(model: Any, tokenizer: Any, mode: str, model_dir: PathLike, *, base_model: str, profile: Profile,
                 adapter_dir: Optional[PathLike] = None, merge: bool = True,
                 save_full: Optional[Callable[[Path], None]] = None) -> dict:
    """Save a trained judge: the full model folder (full mode), or the adapter and, when `merge`, the adapter
    merged into a full-precision copy of `base_model` (lora / qlora). Returns {'model': ..., 'adapter': ...}.

    `save_full(folder)` replaces `model.save_pretrained` for full mode (a Trainer's save_model, which gathers
    sharded weights on multi-GPU runs).
    """
    written: dict = {"mode": mode, "model": None, "adapter": None}
    if mode == "full":
        with atomic_path(model_dir) as tmp:
            if save_full is not None:
                save_full(tmp)
            else:
                model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        written["model"] = str(model_dir)
        return written
    if adapter_dir is None:
        raise ConfigError(f"saving a {mode} model needs an adapter folder (adapter_dir)")
    with atomic_path(adapter_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    written["adapter"] = str(adapter_dir)
    if merge:
        merge_adapter(base_model, adapter_dir, model_dir, dtype=profile.model.dtype,
                      trust_remote_code=profile.model.trust_remote_code)
        written["model"] = str(model_dir)
    return written


@contextlib.contextmanager
def quiet_hf_progress() -> Iterator[None]:
    """Hide transformers' and datasets' own progress bars (tokenizing, "Writing model shards") inside the block."""
    import datasets
    from transformers.utils import logging as hf_logging

    hf_bars, ds_bars = hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if hf_bars:
            hf_logging.enable_progress_bar()
        if ds_bars:
            datasets.enable_progress_bars()


# ----------------------------------------------------------------------------------------------------------
# progress


def _trainer_callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class StepProgress(_trainer_callback_base()):
    """Step, rate and ETA of a training run: a line at most every `interval` seconds, or a live bar in Jupyter.

    `show` maps log keys (e.g. "loss", "reward") to the labels their latest values get on each line. Lines go
    to `log`; with mode 'bar' (an interactive Jupyter kernel, see rmr1lib.progress) a tqdm bar is shown instead.
    """

    def __init__(self, label: str, log: Callable[[str], None], *, show: Mapping[str, str] = MappingProxyType(
                 {"loss": "loss"}), interval: float = 20.0, mode: Optional[str] = None) -> None:
        self.label, self.log, self.show = label, log, dict(show)
        self.mode = mode or progress_mode()
        self.line = ProgressLine(label, interval=interval)
        self.latest: dict = {}
        self.bar = None
        self.pending = False

    def _extra(self) -> str:
        return ", ".join(f"{label} {self.latest[key]:.4g}" for key, label in self.show.items() if key in self.latest)

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        self.line.total = state.max_steps if state.max_steps and state.max_steps > 0 else None
        self.line.begin(state.global_step)
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.line.total, initial=state.global_step, desc=self.label, unit="step")
        elif self.mode == "lines" and state.global_step:
            self.log(f"{self.label}: continuing at step {state.global_step}")

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        for key in self.show:
            if logs and isinstance(logs.get(key), (int, float)):
                self.latest[key] = float(logs[key])
        if self.pending:  # a line was due at this step: print it with the step's own numbers
            self.pending = False
            self.log(self.line.text(state.global_step, self._extra()))

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)
            if self.latest:
                self.bar.set_postfix_str(self._extra(), refresh=False)
        elif self.mode == "lines" and self.line.update(state.global_step) is not None:
            if control.should_log:  # the trainer logs this step right after: wait for its numbers
                self.pending = True
            else:
                self.log(self.line.text(state.global_step, self._extra()))

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102
        if self.bar is not None:
            self.bar.close()
            self.bar = None
