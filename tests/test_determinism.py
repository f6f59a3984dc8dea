"""The smoke workbook run twice with the same seed gives the same artifacts, bit for bit.

Both runs take the whole workbook path (runner, papermill, vLLM, TRL SFT and GRPO) on the smoke profile with
overrides that only shrink it (fewer pairs, steps and tokens), so the check costs a fraction of a full run; the full
run is the end-to-end fixture's. They cover the notebooks that make data, models and judgements (00-04 and 06);
05 renders configuration files from these artifacts, 07 trains and judges with the same functions as 03 and 06,
and 08 draws figures whose bytes tests/test_study.py checks. The two runs are made in separate processes beside the
rest of the suite (tests/conftest.py). Every file the runs leave under artifacts/ and figures/ must match: JSON and
JSON Lines after dropping fields that record time or a location, everything else (model weights, tokenizer files,
adapter cards, figures) byte for byte once the run folder's own path is masked. Only training checkpoints are left
out (they hold timings).
"""

import hashlib
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

#: The smoke profile, smaller: same code path, a fraction of the time.
REDUCED = {
    "data.n_train": 32, "data.n_heldout": 8,
    "generation.max_new_tokens": 48,
    "sft.max_steps": 24, "sft.save_steps": 12, "sft.logging_steps": 4,
    "rl.max_steps": 2, "rl.save_steps": 2, "rl.eval_steps": 2, "rl.eval_max_pairs": 4, "rl.max_response_tokens": 48,
    "eval.synthetic_n": 1,
}
NOTEBOOKS = ("00", "01", "02", "03", "04", "06")
VOLATILE = ("seconds", "time", "created", "started", "finished", "elapsed", "wall", "runtime", "per_second",
            "_s", "duration", "timestamp", "path", "dir")


def _volatile(key: str) -> bool:
    key = key.lower()
    return any(key == v or key.endswith(v) or v in key.split("_") for v in VOLATILE)


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not _volatile(str(k))}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _content(path: Path, run_dir: Path):
    """What must match: JSON without volatile fields, pickled trainer arguments as settings, other bytes as they are;
    the run's own folder (which differs between the two runs) is written as <run> wherever it appears."""
    if path.name == "training_args.bin":  # transformers' pickled TrainingArguments
        import torch

        return _strip(torch.load(path, weights_only=False).to_dict())
    raw = path.read_bytes().replace(str(run_dir).encode(), b"<run>")
    if path.suffix == ".jsonl":
        return [_strip(json.loads(line)) for line in raw.decode().splitlines() if line.strip()]
    if path.suffix == ".json":
        return _strip(json.loads(raw))
    return hashlib.sha256(raw).hexdigest()


def _files(run) -> dict[str, Path]:
    out = {}
    for top in (run.artifacts_dir, run.figures_dir):
        for path in top.rglob("*"):
            rel = path.relative_to(run.dir)
            if path.is_file() and not any(part.startswith("checkpoint") for part in rel.parts):
                out[str(rel)] = path
    return out


def test_same_seed_same_artifacts(determinism_runs):
    first, second = determinism_runs
    a, b = _files(first), _files(second)
    assert sorted(a) == sorted(b), f"the runs left different files: {sorted(set(a) ^ set(b))}"
    kinds = {Path(name).suffix for name in a}
    assert {".json", ".jsonl", ".safetensors", ".png"} <= kinds  # data, results, weights and figures compared
    assert sum(name.endswith(".safetensors") for name in a) >= 3  # tiny model, SFT judge, GRPO judge (+ adapter)
    assert any(name.startswith("artifacts/eval/") for name in a)  # notebook 06's judgements
    differing = [name for name in sorted(a) if _content(a[name], first.dir) != _content(b[name], second.dir)]
    assert differing == [], f"artifacts differ between two runs with the same seed: {differing}"
