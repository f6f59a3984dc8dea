"""Distillation SFT: fine-tune the judge on teacher traces with TRL (paper §3, distillation).

Where each setting comes from: docs/paper-settings.md.

The data is conversational prompt/completion: the prompt is the judge prompt, the completion is the teacher's
trace, so TRL puts the loss on the trace only (the paper's "loss only on the trace"). The optimiser and the
loss follow the paper's SFT trainer where the profile says so: Adam betas (0.9, 0.95), cosine down to
`sft.min_lr_ratio` x the LR, and `sft.loss_averaging: per_sample` (each trace's token mean, then the mean over
the traces of a step; TRL's own default averages all tokens of the step together). Three modes, chosen by the
profile's `sft.mode`:

    full    every weight is trained (the paper; the smoke profile's tiny model)
    lora    a LoRA adapter on every linear layer (PEFT); the base stays frozen
    qlora   the same adapter on a base loaded in 4-bit NF4 through bitsandbytes

Loading, LoRA/QLoRA set-up, checkpoints and saving are the shared training engine's (rmr1lib.engine, also used by
GRPO). Checkpoints are written every `save_steps` and training resumes from the last one when rerun. The result
is a full Hugging Face model folder that vLLM can load (adapters are merged into a full-precision copy of the
base), plus the adapter itself and the loss history.

Engine layer: transformers loads with rmr1lib.engine; torch, TRL, PEFT and datasets are imported inside the
functions that need them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from .engine import (StepProgress, checkpoint_step, free_memory, last_checkpoint, load_for_training, load_tokenizer,
                     merge_adapter, peft_config, quiet_hf_progress, save_trained, training_arguments)
from .errors import ConfigError, DataError
from .files import atomic_write_json, content_hash, model_fingerprint
from .profiles import Profile

RESULT_FILE = "sft_result.json"
CHECKPOINTS = "checkpoints"
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
    job_key: str = ""
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


def sequence_lengths(tokenizer: Any, records: Sequence[dict], chunk: int = 512) -> list[int]:
    """`sequence_length` of every record, the texts encoded in batches (one call per `chunk` records instead of
    one per record: 4,000 smoke traces in 1.2 s instead of 1.9 s)."""
    lengths: list[int] = []
    for start in range(0, len(records), chunk):
        texts = [tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False)
                 for r in records[start:start + chunk]]
        lengths += [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    return lengths


def split_by_length(records: Sequence[dict], tokenizer: Any, max_length: int) -> tuple[list[dict], list[dict]]:
    """(kept, too long): rows longer than max_length are dropped, not truncated (truncation cuts the verdict)."""
    kept, dropped = [], []
    for r, n in zip(records, sequence_lengths(tokenizer, records)):
        (kept if n <= max_length else dropped).append(r)
    return kept, dropped


def sft_dataset(records: Sequence[dict]):
    """A `datasets.Dataset` with only the conversational `prompt` and `completion` columns TRL trains on."""
    from datasets import Dataset

    _check_records(records)
    return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in records])


# ----------------------------------------------------------------------------------------------------------
# training


def sft_training_args(profile: Profile, output_dir: os.PathLike | str):
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
    return SFTConfig(
        **training_arguments(profile, s, output_dir, learning_rate=profile.sft_learning_rate()),
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        per_device_train_batch_size=s.per_device_batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps,
        max_length=s.max_length,
        packing=s.packing,
        train_sampling_strategy="group_by_length" if s.group_by_length else "random",
        data_seed=profile.seed,
        dataset_num_proc=None,
    )


def sft_job_key(model_path: str, records: Sequence[dict], profile: Profile) -> str:
    """Identifies one SFT job: the base model's content, the training data and every sft setting.

    A finished job with the same key is reused instead of trained again; the key does not depend on where the
    base model folder lies, so a rerun in another run folder (or on another machine) gives the same key.
    """
    from .hub import resolve_model

    payload = {"model": model_fingerprint(resolve_model(model_path)),
               "data": [[r["prompt"], r["completion"]] for r in records], "sft": asdict(profile.sft),
               "lr": profile.sft_learning_rate(), "seed": profile.seed, "device": profile.device,
               "dtype": profile.model.dtype}
    return content_hash(payload)


def _loss_history(log_history: Sequence[dict]) -> list[dict]:
    keep = ("step", "epoch", "loss", "learning_rate", "grad_norm", "mean_token_accuracy", "entropy")
    return [{k: h[k] for k in keep if k in h} for h in log_history if "loss" in h]


# The logged token accuracy and entropy are made on every fifth training step (and on each step that is logged),
# not on every step: they cost about a tenth of a tiny model's CPU step (a softmax over the vocabulary for every
# labelled token). A logged value is then the mean over about ten steps of its window instead of all fifty.
_METRICS_EVERY = 5


def _logits_loss_trainer():
    """TRL's SFTTrainer with the loss computed from the model's own logits over the labelled span
    (`sft.loss_impl: logits`): the same token loss and reduction as TRL's fused LM head, and the same logged
    metrics, but one matrix product instead of the chunked kernel's tiles, which dominate a tiny model's CPU step."""
    import torch
    from trl import SFTTrainer

    class LogitsLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs["labels"]
            targets = labels[:, 1:]
            mask = targets != -100
            rows = mask.any(dim=1)
            # the earliest labelled position of the batch: logits are made from there on only (the prompt's are
            # never needed)
            first = int(mask[rows].float().argmax(dim=1).min()) if bool(rows.any()) else 0
            outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
                            use_cache=False, logits_to_keep=labels.shape[1] - first)
            targets, mask = targets[:, first:], mask[:, first:]
            logits = outputs.logits[:, : targets.shape[1]].float()
            token_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                           ignore_index=-100, reduction="sum")
            count = mask.sum() if num_items_in_batch is None else num_items_in_batch
            loss = token_loss / torch.as_tensor(count).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes
            step = self.state.global_step  # steps finished before this one
            if model.training and step % _METRICS_EVERY and (step + 1) % max(int(self.args.logging_steps), 1):
                return (loss, outputs) if return_outputs else loss
            with torch.no_grad():  # the metrics TRL logs with its fused head, averaged over the steps that made them
                picked = logits[mask]
                log_p = torch.log_softmax(picked, dim=-1)
                valid = max(int(mask.sum()), 1)
                metrics = self._metrics["train" if model.training else "eval"]
                metrics["entropy"].append(float(-(log_p.exp() * log_p).sum()) / valid)
                metrics["mean_token_accuracy"].append(float((picked.argmax(-1) == targets[mask]).sum()) / valid)
            return (loss, outputs) if return_outputs else loss

    return LogitsLossSFTTrainer


def make_sft_trainer(model_path: str, records: Sequence[dict], output_dir: os.PathLike | str, profile: Profile, *,
                     callbacks: Sequence[Any] = ()):
    """A ready TRL SFTTrainer for the profile's mode; checkpoints go to output_dir/checkpoints."""
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTTrainer

    s = profile.sft
    tokenizer = load_tokenizer(model_path, profile.model.trust_remote_code)
    model = load_for_training(model_path, s.mode, profile)
    args = sft_training_args(profile, Path(output_dir) / CHECKPOINTS)
    trainer_class = _logits_loss_trainer() if s.loss_impl == "logits" else SFTTrainer
    with quiet_hf_progress():  # TRL tokenizes through datasets.map, one bar per stage
        trainer = trainer_class(model=model, args=args, train_dataset=sft_dataset(records), processing_class=tokenizer,
                             peft_config=peft_config(s), callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)  # every log line would be printed; the loss history keeps them
    if s.loss_averaging == "per_sample":
        # Without the step's token count, each micro-batch's loss is its own token mean and the trainer averages
        # micro-batches: at micro-batch 1 every trace weighs the same (the paper's trainer). With it (TRL's
        # default), all tokens of the step are averaged together and long traces weigh more.
        trainer.model_accepts_loss_kwargs = False
    return trainer


def read_sft_result(output_dir: os.PathLike | str) -> Optional[SFTResult]:
    """The result of a finished SFT run in output_dir, or None."""
    path = Path(output_dir) / RESULT_FILE
    if not path.exists():
        return None
    return SFTResult(**json.loads(path.read_text()))


def train_sft(model_path: str, records: Sequence[dict], output_dir: os.PathLike | str, profile: Profile, *,
              merge: bool = True, resume: bool = True, callbacks: Sequence[Any] = (), progress: bool = True,
              log: Callable[[str], None] = print) -> SFTResult:
    """Fine-tune on trace records; resume from the last checkpoint; save model (+adapter) and loss history.

    Layout of output_dir: checkpoints/ (resume points), adapter/ (lora/qlora), model/ (full model folder, merged
    for lora/qlora when `merge`), loss_history.json, sft_result.json. A finished run with the same job key
    (base model, data, settings) is reused instead of trained again. With `progress`, step, rate and ETA are
    reported through `log` (or as a live bar in Jupyter, see rmr1lib.progress).
    """
    out = Path(output_dir)
    s = profile.sft
    _check_records(records)
    tokenizer = load_tokenizer(model_path, profile.model.trust_remote_code)
    kept, too_long = split_by_length(records, tokenizer, s.max_length)
    if not kept:
        raise DataError(f"SFT: all {len(records)} records are longer than sft.max_length={s.max_length} tokens")
    if too_long:
        log(f"SFT: dropped {len(too_long)} of {len(records)} records longer than {s.max_length} tokens")
    key = sft_job_key(model_path, kept, profile)
    done = read_sft_result(out)
    if resume and done is not None and done.job_key == key and Path(done.model_dir).is_dir():
        log(f"SFT: reusing the finished run in {out} (same model, data and settings)")
        done.reused, done.seconds = True, 0.0
        return done
    shown = [StepProgress("SFT step", log)] if progress else []
    with quiet_hf_progress():
        return _train(model_path, kept, too_long, out, profile, key, merge, resume, [*shown, *callbacks], log)


def _train(model_path: str, kept: list[dict], too_long: list[dict], out: Path, profile: Profile, key: str,
           merge: bool, resume: bool, callbacks: Sequence[Any], log: Callable[[str], None]) -> SFTResult:
    s = profile.sft
    trainer = make_sft_trainer(model_path, kept, out, profile, callbacks=callbacks)
    start_from = last_checkpoint(out / CHECKPOINTS) if resume else None
    if start_from:
        log(f"SFT: resuming from {start_from}")
    started = time.time()
    first_step = checkpoint_step(start_from) if start_from else trainer.state.global_step
    trainer.train(resume_from_checkpoint=start_from)
    seconds = time.time() - started
    done_steps = trainer.state.global_step - first_step
    history, steps = _loss_history(trainer.state.log_history), trainer.state.global_step
    written = save_trained(trainer.model, trainer.processing_class, s.mode, out / "model", base_model=model_path,
                           profile=profile, adapter_dir=out / "adapter", merge=False,
                           save_full=lambda folder: trainer.save_model(str(folder)))
    trainer = None  # free the trained model (and its GPU memory) before a merge loads the base again
    free_memory()
    if written["adapter"] and merge:
        written["model"] = str(merge_adapter(model_path, written["adapter"], out / "model", dtype=profile.model.dtype,
                                             trust_remote_code=profile.model.trust_remote_code))
    atomic_write_json(out / LOSS_FILE, history)
    result = SFTResult(
        mode=s.mode, model_dir=written["model"] or "", adapter_dir=written["adapter"], steps=steps,
        seconds=round(seconds, 2), seconds_per_step=round(seconds / done_steps, 4) if done_steps > 0 else None,
        loss_history=history, resumed_from=start_from, records=len(kept), dropped_too_long=len(too_long),
        learning_rate=profile.sft_learning_rate(), job_key=key, config=asdict(s),
    )
    atomic_write_json(out / RESULT_FILE, result.as_dict())
    return result


__all__ = [
    "SFTResult", "sequence_length", "sequence_lengths", "split_by_length", "sft_dataset", "sft_training_args",
    "sft_job_key", "make_sft_trainer", "read_sft_result", "train_sft",
]
