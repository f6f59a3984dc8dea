"""scripts/seed_trials.py: seeds, runner commands, figures of finished runs, paired comparison, bad input."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "seed_trials.py"
spec = importlib.util.spec_from_file_location("seed_trials", SCRIPT)
trials = importlib.util.module_from_spec(spec)
spec.loader.exec_module(trials)


def test_seeds_are_read_as_ranges_and_lists():
    assert trials.parse_seeds("42-45,50") == [42, 43, 44, 45, 50]
    assert trials.parse_seeds("7") == [7]
    for bad in ("4a", "45-42", "-3", "42,42", ""):
        with pytest.raises(ValueError, match="--seeds"):
            trials.parse_seeds(bad)


def test_a_trial_run_is_the_resumable_sft_and_evaluation_on_one_thread():
    command = trials.runner_command("wd", 44, ["sft.weight_decay=0.1"])
    assert command[1:3] == ["-m", "rmr1lib.runner"]
    text = " ".join(command)
    assert "--run-name trial-wd-s44 --seed 44 --only 00,01,02,03,06" in text and "--resume" in text
    assert text.endswith("--set torch_threads=1 --set sft.weight_decay=0.1")


def _fake_run(root, name, seed, held, bench, kinds):
    art = root / "smoke" / trials.run_name(name, seed) / "artifacts"
    (art / "eval").mkdir(parents=True)
    (art / "sft_eval.json").write_text(json.dumps({"after": {"accuracy_lenient": held, "position_consistency": 0.8}}))
    (art / "eval" / "scores.json").write_text(json.dumps({
        "pooled": {"accuracy_lenient": bench, "position_consistency": 0.5, "share_A": 0.5},
        "by_kind": {k: {"accuracy_lenient": v} for k, v in kinds.items()}}))


def test_report_pairs_the_seeds_both_trials_have(tmp_path, monkeypatch):
    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path))
    for seed, (a, b) in {42: (0.60, 0.70), 43: (0.70, 0.72), 44: (0.65, 0.69)}.items():
        _fake_run(tmp_path, "base", seed, 0.8, a, {"chat": a})
        _fake_run(tmp_path, "new", seed, 0.8, b, {"chat": b})
    _fake_run(tmp_path, "new", 45, 0.8, 0.9, {"chat": 0.9})  # no baseline at this seed: not paired
    done = subprocess.run([sys.executable, str(SCRIPT), "new", "--seeds", "42-45", "--report-only",
                           "--against", "base"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "new: 4 seeds" in done.stdout
    assert "against base on 3 paired seeds: benchmarks +0.053" in done.stdout
    summary = json.loads((tmp_path / "trials" / "new" / "summary.json").read_text())["summary"]
    diff = summary["bench_accuracy_difference"]
    assert summary["paired_seeds"] == [42, 43, 44]
    assert diff["mean"] == pytest.approx((0.10 + 0.02 + 0.04) / 3)
    assert diff["se"] == pytest.approx(diff["sd"] / 3 ** 0.5)
    # three pairs: Student's t with 2 degrees of freedom (4.30), not 1.96; +0.053 with se 0.024 is no clear difference
    assert diff["ci95"] == pytest.approx([diff["mean"] - 4.303 * diff["se"], diff["mean"] + 4.303 * diff["se"]])
    assert "95% interval -0.050 to +0.157, which includes 0: no clear difference" in done.stdout


def test_the_interval_uses_student_t_and_a_clear_difference_is_called_so():
    figures = {s: {"bench_accuracy": 0.70 + 0.01 * (s % 2), "heldout_accuracy": 0.8} for s in range(10)}
    base = {s: {"bench_accuracy": 0.60, "heldout_accuracy": 0.8} for s in range(10)}
    summary = trials.summarize(figures, base)
    low, high = summary["bench_accuracy_difference"]["ci95"]
    assert 0 < low < high and trials.t95(9) == pytest.approx(2.262) and abs(trials.t95(30) - 2.042) < 0.01


def test_an_unfinished_or_missing_run_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path))
    (tmp_path / "smoke" / "trial-half-s42" / "artifacts").mkdir(parents=True)
    done = subprocess.run([sys.executable, str(SCRIPT), "half", "--seeds", "42", "--report-only"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1
    assert "trial-half-s42: no artifacts/sft_eval.json, artifacts/eval/scores.json" in done.stderr
    done = subprocess.run([sys.executable, str(SCRIPT), "none", "--seeds", "42", "--report-only"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1 and "no run folder" in done.stderr and "trial-none-s42" in done.stderr
