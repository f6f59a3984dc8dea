"""Distillation SFT: fine-tune the judge on teacher traces with TRL (paper section 3, distillation; rmr1-facts.md §5).

The data is conversational prompt/completion: the prompt is the judge prompt, the completion is the teacher's
trace, so TRL puts the loss on the trace only (the paper's "loss only on the trace"). Three modes, chosen by the
profile's `sft.mode`:

    full    every weight is trained (the paper; the smoke profile's tiny model)
    lora    a LoRA adapter on every linear layer (PEFT); the base stays frozen
    qlora   the same adapter on a base loaded in 4-bit NF4 through bitsandbytes. On CPUs with AVX512-BF16 the
            4-bit layers repack their weights for inference after any eval-mode forward, and training then
            fails; `disable_cpu_bf16_repacking` switches that off on every Linear4bit (see the stack notes)

Checkpoints are written every `save_steps` and training resumes from the last one when rerun. The result is a
full Hugging Face model folder that vLLM can load (adapters are merged into a full-precision copy of the base),
plus the adapter itself and the loss history.

Engine layer: imports torch, transformers, TRL and PEFT lazily inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from .errors import ConfigError, DataError
from .runs import atomic_path, atomic_write_json

SFT_MODES = ("full", "lora", "qlora")
RESULT_FILE = "sft_result.json"
LOSS_FILE = "loss_history.json"


@dataclass
class SFTResult:
    """What a finished SFT run produced and how it went."""

    mode: str
    model_dir: str                       # full HF model folder (merged for lora/qlora)
    adapter_dir: Optional[str]           # LoRA adapter (lora/qlora), else None
    steps: int
    seconds: float                       # training time of this call (0 when reused)
    seconds_per_step: Optional[float]
    loss_history: list[dict]
    resumed_from: Optional[str] = None   # checkpoint this call continued from
    reused: bool = False                 # True when a finished run with the same inputs was found
    records: int = 0
    dropped_too_long: int = 0
    learning_rate: float = 0.0
    fingerprint: str = ""
    config: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain data (what is saved in sft_result.json)."""
        return asdict(self)


# ----------------------------------------------------------------------------------------------------------
# data


def _check_records(records: Sequence[dict]) -> None:
    if not records:
        raise DataError("SFT: no training records (did every teacher trace get filtered out?)")
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise DataError(f"SFT record {i}: expected a dict with 'prompt' and 'completion', got {type(r).__name__}")
        prompt, completion = r.get("prompt"), r.get("completion")
        if not isinstance(prompt, list) or not prompt or not all(isinstance(m, dict) for m in prompt):
            raise DataError(f"SFT record {i} (id {r.get('id')!r}): 'prompt' must be a non-empty list of messages")
        if (not isinstance(completion, list) or len(completion) != 1 or not isinstance(completion[0], dict)
                or completion[0].get("role") != "assistant"
                or not isinstance(completion[0].get("content"), str) or not completion[0]["content"].strip()):
            raise DataError(f"SFT record {i} (id {r.get('id')!r}): 'completion' must be one non-empty assistant "
                            "message")


def sequence_length(tokenizer: Any, record: dict) -> int:
    """Tokens of prompt + completion as the chat template renders them (what one training row costs)."""
    text = tokenizer.apply_chat_template(record["prompt"] + record["completion"], tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def split_by_length(records: Sequence[dict], tokenizer: Any, max_length: int) -> tuple[list[dict], list[dict]]:
    """(kept, too long): rows longer than max_length are dropped, not truncated (truncation cuts the verdict)."""
    kept, dropped = [], []
    for r in records:
        (kept if sequence_length(tokenizer, r) <= max_length else dropped).append(r)
    return kept, dropped


def sft_dataset(records: Sequence[dict]):
    """A `datasets.Dataset` with only the conversational `prompt` and `completion` columns TRL trains on."""
    from datasets import Dataset

    _check_records(records)
    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in records])


# ----------------------------------------------------------------------------------------------------------
# models


def disable_cpu_bf16_repacking(model: Any) -> int:
    """Switch off bitsandbytes' AVX512-BF16 inference repacking on every Linear4bit; returns how many layers."""
    import bitsandbytes as bnb

    n = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_base_model(model_path: str, mode: str, *, dtype: str = "float32", device: str = "cpu",
                    trust_remote_code: bool = False):
    """The model to fine-tune: full precision for full/lora, 4-bit NF4 (bitsandbytes) for qlora."""
    from transformers import AutoModelForCausalLM

    from .hub import resolve_model

    path = resolve_model(model_path)
    if mode not in SFT_MODES:
        raise ConfigError(f"sft.mode {mode!r} is not known; choose one of {', '.join(SFT_MODES)}")
    if mode != "qlora":
        return AutoModelForCausalLM.from_pretrained(path, dtype=_torch_dtype(dtype),
                                                    trust_remote_code=trust_remote_code)
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    compute = torch.float32 if device == "cpu" else _torch_dtype(dtype)
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=compute)
    model = AutoModelForCausalLM.from_pretrained(path, quantization_config=quant, dtype=compute,
                                                 device_map={"": "cpu" if device == "cpu" else 0},
                                                 trust_remote_code=trust_remote_code)
    if device == "cpu":
        disable_cpu_bf16_repacking(model)
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


def lora_config(sft: Any):
    """The PEFT LoRA configuration from a profile's sft section."""
    from peft import LoraConfig

    targets = sft.lora_targets if sft.lora_targets == "all-linear" else [t.strip() for t in
                                                                       sft.lora_targets.split(",") if t.strip()]
    return LoraConfig(r=sft.lora_r, lora_alpha=sft.lora_alpha, lora_dropout=sft.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


def merge_adapter(base_model: str, adapter_dir: os.PathLike | str, out_dir: os.PathLike | str, *,
                  dtype: str = "float32", trust_remote_code: bool = False) -> Path:
    """Merge a LoRA adapter into a full-precision copy of its base and save a full model folder (atomically)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .hub import resolve_model

    path = resolve_model(base_model)
    base = AutoModelForCausalLM.from_pretrained(path, dtype=_torch_dtype(dtype), trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir) if (Path(adapter_dir) / "tokenizer_config.json")
                                              .exists() else path)
    with atomic_path(out_dir) as tmp:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)


# ----------------------------------------------------------------------------------------------------------
# training


def sft_training_args(profile: Any, output_dir: os.PathLike | str, *, progress: bool = False):
    """TRL's SFTConfig from the profile: LR, batch, schedule, checkpoints; CPU runs use use_cpu and no bf16."""
    from trl import SFTConfig

    s, cpu = profile.sft, profile.device == "cpu"
    if s.packing and cpu:
        raise ConfigError("sft.packing: true needs a GPU with FlashAttention (padding-free batches); "
                          "set sft.packing: false on CPU")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if not cpu and world != s.num_gpus:
        raise ConfigError(
            f"sft.num_gpus is {s.num_gpus} but this trainer runs on {world} process(es) (WORLD_SIZE), so the batch "
            f"would be {s.per_device_batch_size * s.gradient_accumulation_steps * world} instead of "
            f"{s.per_device_batch_size * s.gradient_accumulation_steps * s.num_gpus}; launch with "
            f"`accelerate launch --num_processes {s.num_gpus}` or change sft.num_gpus / gradient_accumulation_steps")
    warmup = s.warmup_ratio if s.warmup_ratio < 1.0 else 0.999  # a float >= 1 would mean a step count
    return SFTConfig(
        output_dir=str(output_dir),
        learning_rate=profile.sft_learning_rate(),
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        per_device_train_batch_size=s.per_device_batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps,
        lr_scheduler_type=s.lr_scheduler,
        warmup_steps=warmup,
        weight_decay=s.weight_decay,
        max_grad_norm=s.max_grad_norm,
        max_length=s.max_length,
        packing=s.packing,
        gradient_checkpointing=s.gradient_checkpointing and not cpu,
        logging_steps=s.logging_steps,
        save_strategy="steps",
        save_steps=s.save_steps,
        save_total_limit=s.keep_checkpoints,
        seed=profile.seed,
        data_seed=profile.seed,
        use_cpu=cpu,
        bf16=(not cpu) and profile.model.dtype == "bfloat16",
        fp16=(not cpu) and profile.model.dtype == "float16",
        report_to="none",
        disable_tqdm=not progress,
        dataset_num_proc=None,
    )


def fingerprint(model_path: str, records: Sequence[dict], profile: Any) -> str:
    """Identifies one SFT job: base model, training data and every sft setting (a finished job is reused)."""
    from .distill import records_digest

    payload = {"model": str(model_path), "data": records_digest(records), "sft": asdict(profile.sft),
               "lr": profile.sft_learning_rate(), "seed": profile.seed, "device": profile.device,
               "dtype": profile.model.dtype}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _loss_history(log_history: Sequence[dict]) -> list[dict]:
    keep = ("step", "epoch", "loss", "learning_rate", "grad_norm", "mean_token_accuracy", "entropy")
    return [{k: h[k] for k in keep if k in h} for h in log_history if "loss" in h]


def make_sft_trainer(model_path: str, records: Sequence[dict], output_dir: os.PathLike | str, profile: Any, *,
                     callbacks: Sequence[Any] = (), progress: bool = False):
    """A ready TRL SFTTrainer for the profile's mode; checkpoints go to output_dir/checkpoints."""
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    from .hub import resolve_model

    s = profile.sft
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(model_path),
                                              trust_remote_code=profile.model.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base_model(model_path, s.mode, dtype=profile.model.dtype, device=profile.device,
                            trust_remote_code=profile.model.trust_remote_code)
    import datasets

    args = sft_training_args(profile, Path(output_dir) / "checkpoints", progress=progress)
    bars = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()  # TRL tokenizes through datasets.map, one bar per stage
    try:
        trainer = SFTTrainer(model=model, args=args, train_dataset=sft_dataset(records), processing_class=tokenizer,
                             peft_config=lora_config(s) if s.mode in ("lora", "qlora") else None,
                             callbacks=list(callbacks))
    finally:
        if bars:
            datasets.enable_progress_bars()
    if not progress:  # without a progress bar the trainer prints every log line; the loss history keeps them
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def last_checkpoint(output_dir: os.PathLike | str) -> Optional[str]:
    """The newest complete checkpoint under output_dir/checkpoints, or None."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(output_dir) / "checkpoints"
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def read_sft_result(output_dir: os.PathLike | str) -> Optional[SFTResult]:
    """The result of a finished SFT run in output_dir, or None."""
    path = Path(output_dir) / RESULT_FILE
    if not path.exists():
        return None
    return SFTResult(**json.loads(path.read_text()))


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def train_sft(model_path: str, records: Sequence[dict], output_dir: os.PathLike | str, profile: Any, *,
              merge: bool = True, resume: bool = True, callbacks: Sequence[Any] = (), progress: bool = False,
              log: Callable[[str], None] = print) -> SFTResult:
    """Fine-tune on trace records; resume from the last checkpoint; save model (+adapter) and loss history.

    Layout of output_dir: checkpoints/ (resume points), adapter/ (lora/qlora), model/ (full model folder, merged
    for lora/qlora when `merge`), loss_history.json, sft_result.json. A finished run with the same fingerprint
    (base model, data, settings) is reused instead of trained again.
    """
    from transformers import AutoTokenizer

    from .hub import resolve_model

    out = Path(output_dir)
    s = profile.sft
    _check_records(records)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(model_path),
                                              trust_remote_code=profile.model.trust_remote_code)
    kept, too_long = split_by_length(records, tokenizer, s.max_length)
    if not kept:
        raise DataError(f"SFT: all {len(records)} records are longer than sft.max_length={s.max_length} tokens")
    if too_long:
        log(f"SFT: dropped {len(too_long)} of {len(records)} records longer than {s.max_length} tokens")
    fp = fingerprint(model_path, kept, profile)
    done = read_sft_result(out)
    if resume and done is not None and done.fingerprint == fp and Path(done.model_dir).is_dir():
        log(f"SFT: reusing the finished run in {out} (same model, data and settings)")
        done.reused, done.seconds = True, 0.0
        return done

    with _quiet_progress(not progress):
        return _train(model_path, kept, too_long, out, profile, fp, merge, resume, callbacks, progress, log)


@contextlib.contextmanager
def _quiet_progress(quiet: bool) -> Iterator[None]:
    """Hide transformers' per-checkpoint progress bars ("Writing model shards") while training."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _train(model_path: str, kept: list[dict], too_long: list[dict], out: Path, profile: Any, fp: str, merge: bool,
           resume: bool, callbacks: Sequence[Any], progress: bool, log: Callable[[str], None]) -> SFTResult:
    s = profile.sft
    trainer = make_sft_trainer(model_path, kept, out, profile, callbacks=callbacks, progress=progress)
    start_from = last_checkpoint(out) if resume else None
    if start_from:
        log(f"SFT: resuming from {start_from}")
    started = time.time()
    first_step = trainer.state.global_step
    trainer.train(resume_from_checkpoint=start_from)
    seconds = time.time() - started
    done_steps = trainer.state.global_step - (int(Path(start_from).name.split("-")[-1]) if start_from else first_step)

    adapter_dir: Optional[Path] = None
    model_dir = out / "model"
    if s.mode == "full":
        with atomic_path(model_dir) as tmp:
            trainer.save_model(str(tmp))
            trainer.processing_class.save_pretrained(tmp)
    else:
        adapter_dir = out / "adapter"
        with atomic_path(adapter_dir) as tmp:
            trainer.model.save_pretrained(tmp)
            trainer.processing_class.save_pretrained(tmp)
    history, steps = _loss_history(trainer.state.log_history), trainer.state.global_step
    trainer = None  # free the trained model (and its GPU memory) before a merge loads the base again
    _free_memory()
    if adapter_dir is not None and merge:
        merge_adapter(model_path, adapter_dir, model_dir, dtype=profile.model.dtype,
                      trust_remote_code=profile.model.trust_remote_code)
    atomic_write_json(out / LOSS_FILE, history)
    result = SFTResult(
        mode=s.mode, model_dir=str(model_dir) if (s.mode == "full" or merge) else "",
        adapter_dir=str(adapter_dir) if adapter_dir else None, steps=steps,
        seconds=round(seconds, 2), seconds_per_step=round(seconds / done_steps, 4) if done_steps > 0 else None,
        loss_history=history, resumed_from=start_from, records=len(kept), dropped_too_long=len(too_long),
        learning_rate=profile.sft_learning_rate(), fingerprint=fp, config=asdict(s),
    )
    atomic_write_json(out / RESULT_FILE, result.as_dict())
    return result


__all__ = [
    "SFT_MODES", "SFTResult", "sequence_length", "split_by_length", "sft_dataset", "disable_cpu_bf16_repacking",
    "load_base_model", "lora_config", "merge_adapter", "sft_training_args", "fingerprint", "make_sft_trainer",
    "last_checkpoint", "read_sft_result", "train_sft",
]
