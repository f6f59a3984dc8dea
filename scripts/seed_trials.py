"""Run one setting of the smoke profile at several seeds, as docs/experiments.md's trials were run, and compare.

Each seed is a workbook run of notebooks 00-03 and 06 on one torch thread (two runs side by side on 2 cores), so
notebook 06 judges the SFT judge. The runs are named trial-NAME-sSEED under runs/smoke/ and resume where they
stopped; their runner logs and a summary go to runs/trials/NAME/. One seed tells little: the same setting scores
0.56-0.72 on the miniature benchmarks from seed to seed, so compare two settings on the same seeds (paired) and
read the 95% interval of the mean difference (Student's t over the paired seeds).

    .venv/bin/python scripts/seed_trials.py base --seeds 42-51
    .venv/bin/python scripts/seed_trials.py wd01 --seeds 42-51 --set sft.weight_decay=0.1 --against base
    .venv/bin/python scripts/seed_trials.py wd01 --seeds 42-51 --report-only --against base

A code change (not a profile setting) is tried the same way from a git worktree with the change applied, with
PYTHONPATH pointing at it and RMR1_RUNS_ROOT at a shared runs folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rmr1lib.runs import runs_root  # noqa: E402 - after the path set-up

#: what every trial run executes: the data, the distillation SFT and the evaluation of its judge (no GRPO)
NOTEBOOKS = "00,01,02,03,06"
PREFIX = "trial"


def parse_seeds(text: str) -> list[int]:
    """"42-45,50" -> [42, 43, 44, 45, 50]; a ValueError names the part it cannot read."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            low, _, high = part.partition("-")
            first, last = int(low), int(high or low)
            if first < 0 or last < first:
                raise ValueError
            seeds += range(first, last + 1)
        except ValueError:
            raise ValueError(f"--seeds: cannot read {part!r} (write seeds as 42-51 or 42,43,45)") from None
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: a seed is listed twice in {text!r}")
    return seeds


def run_name(name: str, seed: int) -> str:
    return f"{PREFIX}-{name}-s{seed}"


def runner_command(name: str, seed: int, settings: list[str], profile: str = "smoke") -> list[str]:
    """The runner call of one trial run (resumable: a run that stopped continues where it stopped)."""
    command = [sys.executable, "-m", "rmr1lib.runner", "--profile", profile, "--run-name", run_name(name, seed),
               "--seed", str(seed), "--only", NOTEBOOKS, "--skip-preflight", "--resume", "--set", "torch_threads=1"]
    for setting in settings:
        command += ["--set", setting]
    return command


def run_figures(run_dir: Path) -> dict:
    """One trial run's figures: held-out accuracy / consistency after SFT (notebook 03), miniature benchmarks
    (notebook 06), and the benchmark accuracy by kind. A FileNotFoundError names what is missing."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run folder {run_dir} (run the trial first)")
    artifacts = run_dir / "artifacts"
    missing = [p for p in (artifacts / "sft_eval.json", artifacts / "eval" / "scores.json") if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir.name}: no {', '.join(str(p.relative_to(run_dir)) for p in missing)} "
                                "(the run has not finished notebooks 03 and 06)")
    held = json.loads((artifacts / "sft_eval.json").read_text())["after"]
    scores = json.loads((artifacts / "eval" / "scores.json").read_text())
    pooled = scores["pooled"]
    return {"heldout_accuracy": held["accuracy_lenient"], "heldout_consistency": held.get("position_consistency"),
            "bench_accuracy": pooled["accuracy_lenient"], "bench_consistency": pooled.get("position_consistency"),
            "share_A": pooled.get("share_A"),
            "by_kind": {k: v["accuracy_lenient"] for k, v in scores.get("by_kind", {}).items()}}


#: two-sided 95% quantiles of Student's t by degrees of freedom (n - 1 paired seeds)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def t95(df: int) -> float:
    """Student's t quantile for a 95% interval (an approximation within 0.01 above 10 degrees of freedom)."""
    return T95[df] if df in T95 else 1.96 + 2.4 / df


def mean_sd(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else float("nan")
    return m, sd


def summarize(figures: dict[int, dict], against: dict[int, dict] | None = None) -> dict:
    """Mean and standard deviation over the seeds; with `against`, the paired differences of the benchmark and
    held-out accuracy on the seeds both have, with the standard error of their mean and its 95% interval."""
    keys = ("heldout_accuracy", "heldout_consistency", "bench_accuracy", "bench_consistency")
    out: dict = {"seeds": sorted(figures)}
    for key in keys:
        values = [f[key] for f in figures.values() if f.get(key) is not None]
        if values:
            out[key] = mean_sd(values)
    if against is not None:
        common = sorted(set(figures) & set(against))
        out["paired_seeds"] = common
        for key in ("bench_accuracy", "heldout_accuracy"):
            diffs = [figures[s][key] - against[s][key] for s in common]
            if diffs:
                m, sd = mean_sd(diffs)
                se = sd / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
                half = t95(len(diffs) - 1) * se if len(diffs) > 1 else float("nan")
                out[f"{key}_difference"] = {"mean": m, "sd": sd, "se": se, "ci95": [m - half, m + half],
                                            "each": dict(zip(common, diffs))}
    return out


def report_lines(name: str, figures: dict[int, dict], summary: dict, against_name: str | None = None) -> list[str]:
    lines = [f"{'seed':>5} {'held-out':>13} {'benchmarks':>13} {'A':>5}  by kind"]
    for seed in sorted(figures):
        f = figures[seed]
        kinds = " ".join(f"{k} {v:.2f}" for k, v in f["by_kind"].items())
        lines.append(f"{seed:>5} {f['heldout_accuracy']:.3f} / {f['heldout_consistency'] or 0:.2f} "
                     f"{f['bench_accuracy']:.3f} / {f['bench_consistency'] or 0:.2f} {f['share_A'] or 0:5.2f}  {kinds}")
    if "bench_accuracy" in summary:
        (hm, hs), (bm, bs) = summary["heldout_accuracy"], summary["bench_accuracy"]
        lines.append(f"{name}: {len(figures)} seeds, held-out {hm:.3f} ± {hs:.3f}, benchmarks {bm:.3f} ± {bs:.3f} "
                     "(mean ± sd)")
    diff = summary.get("bench_accuracy_difference")
    if against_name is not None:
        if not diff:
            lines.append(f"against {against_name}: no seed in common")
        else:
            n = len(summary["paired_seeds"])
            low, high = diff["ci95"]
            if n < 2:
                verdict = "one seed: no interval"
            elif low > 0 or high < 0:
                verdict = f"95% interval {low:+.3f} to {high:+.3f}, which excludes 0"
            else:
                verdict = f"95% interval {low:+.3f} to {high:+.3f}, which includes 0: no clear difference"
            lines.append(f"against {against_name} on {n} paired seeds: benchmarks {diff['mean']:+.3f} (sd {diff['sd']:.3f}, "
                         f"standard error {diff['se']:.3f}), {verdict}")
    return lines


def collect(name: str, seeds: list[int], profile: str = "smoke") -> dict[int, dict]:
    root = runs_root() / profile
    return {seed: run_figures(root / run_name(name, seed)) for seed in seeds}


def run_trials(name: str, seeds: list[int], settings: list[str], jobs: int, log=print) -> list[int]:
    """Run the seeds `jobs` at a time; returns the seeds whose run failed (their logs say why)."""
    folder = runs_root() / "trials" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({"settings": settings, "notebooks": NOTEBOOKS}, indent=1) + "\n")
    waiting, running, failed = list(seeds), {}, []
    started = time.time()
    while waiting or running:
        while waiting and len(running) < jobs:
            seed = waiting.pop(0)
            log_file = open(folder / f"s{seed}.log", "a")
            proc = subprocess.Popen(runner_command(name, seed, settings), stdout=log_file, stderr=subprocess.STDOUT,
                                    cwd=Path(__file__).resolve().parents[1])
            running[seed] = (proc, log_file, time.time())
            log(f"seed {seed}: started ({len(seeds) - len(waiting)} of {len(seeds)} begun)")
        time.sleep(1)
        for seed, (proc, log_file, t0) in list(running.items()):
            if proc.poll() is None:
                continue
            log_file.close()
            del running[seed]
            if proc.returncode:
                failed.append(seed)
                log(f"seed {seed}: FAILED (exit {proc.returncode}); see {folder / f's{seed}.log'}")
            else:
                log(f"seed {seed}: done in {time.time() - t0:.0f} s "
                    f"({time.time() - started:.0f} s since the first start)")
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the trial's name (runs are called trial-NAME-sSEED)")
    parser.add_argument("--seeds", default="42-51", help="e.g. 42-51 or 42,43,45 (default 42-51)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="a profile setting for this trial (repeatable), as the runner's --set")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (default 2: one per core)")
    parser.add_argument("--against", default=None, metavar="NAME", help="another trial to compare with, seed by seed")
    parser.add_argument("--report-only", action="store_true", help="run nothing; summarize the runs there are")
    parser.add_argument("--dry-run", action="store_true", help="print the runner commands and stop")
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        parser.error(str(exc))
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.dry_run:
        for seed in seeds:
            print(" ".join(runner_command(args.name, seed, args.settings)))
        return 0
    if not args.report_only:
        failed = run_trials(args.name, seeds, args.settings, args.jobs)
        if failed:
            print(f"{len(failed)} of {len(seeds)} runs failed (seeds {', '.join(map(str, failed))}); the others are "
                  "summarized below", file=sys.stderr)
            seeds = [s for s in seeds if s not in failed]
    try:
        figures = collect(args.name, seeds)
        against = collect(args.against, [s for s in seeds
                                         if (runs_root() / "smoke" / run_name(args.against, s)).exists()]) \
            if args.against else None
    except FileNotFoundError as exc:
        print(f"seed_trials: {exc}", file=sys.stderr)
        return 1
    if not figures:
        print("seed_trials: no finished run to summarize", file=sys.stderr)
        return 1
    summary = summarize(figures, against)
    for line in report_lines(args.name, figures, summary, args.against):
        print(line)
    folder = runs_root() / "trials" / args.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps({"figures": figures, "summary": summary,
                                                     "against": args.against}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
