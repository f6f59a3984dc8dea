"""The smoke workbook run twice with the same seed gives the same numbers.

A second full run goes into another run folder; every JSON / JSON Lines artifact must match the first run's
except for fields that record time, and every model folder's weights must be bit-identical.
"""

import hashlib
import json
from pathlib import Path

import pytest

from rmr1lib.runner import run_workbook

pytestmark = pytest.mark.slow

VOLATILE = ("seconds", "time", "created", "started", "finished", "elapsed", "wall", "runtime", "per_second",
            "_s", "duration", "timestamp", "path", "dir",
            "fingerprint")  # a job identity that includes the base model's absolute path


def _volatile(key: str) -> bool:
    key = key.lower()
    return any(key == v or key.endswith(v) or v in key.split("_") for v in VOLATILE)


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if not _volatile(str(k))}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _load(path: Path):
    if path.suffix == ".jsonl":
        return [_strip(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    return _strip(json.loads(path.read_text()))


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.safetensors"))}


def test_same_seed_same_numbers(smoke_run, tmp_path, monkeypatch):
    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path))
    second = run_workbook("smoke", run_name="again", progress=False, log=lambda m: None)
    first_artifacts = smoke_run.artifacts_dir
    compared, differing = 0, []
    for path in sorted(first_artifacts.rglob("*")):
        rel = path.relative_to(first_artifacts)
        if "checkpoint" in str(rel):
            continue
        other = second.artifacts_dir / rel
        if path.suffix in (".json", ".jsonl"):
            assert other.exists(), f"second run lacks {rel}"
            compared += 1
            if _load(path) != _load(other):
                differing.append(str(rel))
        elif path.is_dir() and (path / "config.json").exists() and list(path.glob("*.safetensors")):
            compared += 1
            if _digest(path) != _digest(other):
                differing.append(f"{rel} (weights)")
    assert compared >= 3, f"only {compared} artifacts compared"
    assert differing == [], f"artifacts differ between two runs with seed 42: {differing}"
