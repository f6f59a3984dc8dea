"""Evaluation on RewardBench, RM-Bench and RMB (the paper's experiments, §4; docs/paper-settings.md).

Two halves:

* Judging (`judge_comparisons`, `evaluate_model`): show each comparison (rmr1lib.benchmarks) to a judge in a
  seeded A/B order (or both orders), read the verdict with an explicit rule, and append one result row per
  judgement to a JSON Lines file as each batch finishes. The prompt kind, token budget, temperature, verdict
  rule, order mode and seeds are explicit parameters (`EvalSettings`) and are written on every row, with the
  model and a fingerprint of its weights. A rerun with the same settings skips every judgement already in the
  file, so an interrupted evaluation resumes where it stopped; a rerun with different settings is refused.
* Scoring (rmr1lib.scoring): the benchmarks' own rules, re-runnable without a model.

Command line:

    python -m rmr1lib.evaluate score RESULTS.jsonl [--rmbench-reference-bug] [--benchmark NAME]
    python -m rmr1lib.evaluate run MODEL --prompt-kind KIND --out RESULTS.jsonl [options]

For a released RM-R1 checkpoint, `--prompt-kind authors` is the like-for-like choice (the checkpoint was trained
on the authors' prompt, learned at run time from `--released FILE.jsonl` or the released RL set on the hub); the
"paper" block notes when another kind was used. Each row records whether its judgement was cut off by the token
budget (`truncated`), and the run report gives the truncation rate; the paper's one-command evaluation used a
budget of 50,000 new tokens.

`score` prints one JSON object, {benchmark: scores}, for each benchmark present in the file. `run` judges the
benchmarks with a model (vLLM by default), then prints {"run": ..., "scores": ..., "paper": ...}. A malformed
file or row, or a bad option, is reported on stderr with the file, line number and key, and the exit code is 2.

Module-level imports stay pure (standard library and the pure core): the engines (vLLM, transformers) are
imported inside the functions that start them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

from .errors import ConfigError, DataError, RmR1Error, RowError
from .hubids import released_judge
from .parsing import VERDICT_MODES, parse_verdict
from .profiles import EvalConfig, GenerationConfig, JudgeConfig, Profile
from .prompts import ALL_PROMPT_KINDS, AUTHORS_KIND, build_messages
from .files import AppendLog, model_fingerprint
from .scoring import BENCHMARKS, REWARDBENCH_SUBSETS, rmb_goal, score_file, validate_result_row

PathLike = Union[str, Path]
ORDER_MODES = ("random", "both", "AB", "BA")
#: Keys of EvalSettings written on every result row (batch_size changes nothing in the results).
RECORDED_SETTINGS = ("prompt_kind", "prompt_template", "max_new_tokens", "temperature", "top_p", "verdict_rule",
                     "orders", "order_seed", "sampling_seed")
#: The paper's one-command evaluation script's token budget per judgement.
PAPER_EVAL_MAX_NEW_TOKENS = 50_000
DEFAULT_PAPER_MODEL = "RM-R1-Qwen2.5-Instruct-7B"
# Defaults live in one place, the profile dataclasses: a bare EvalSettings and the command line use them too.
_GENERATION, _JUDGE, _EVAL = GenerationConfig(), JudgeConfig(), EvalConfig()


# ----------------------------------------------------------------------------------------------------------
# settings and A/B orders


@dataclass
class EvalSettings:
    """What decides a judgement and how it is read; every field but batch_size is recorded on each row."""

    prompt_kind: str
    prompt_template: Optional[str] = None  # kind authors: the learned template's fingerprint
    max_new_tokens: int = _GENERATION.max_new_tokens
    temperature: float = _GENERATION.temperature
    top_p: float = _GENERATION.top_p
    verdict_rule: str = _JUDGE.verdict_rule
    orders: str = _EVAL.orders
    order_seed: int = 0
    sampling_seed: int = 0
    batch_size: int = _GENERATION.batch_size

    def check(self) -> "EvalSettings":
        """Raise ConfigError naming the first bad field; return self."""
        if self.prompt_kind not in ALL_PROMPT_KINDS:
            raise ConfigError(f"prompt_kind {self.prompt_kind!r} is not known; choose one of "
                              f"{', '.join(ALL_PROMPT_KINDS)} (it is never guessed from the model name)")
        if self.prompt_kind == AUTHORS_KIND and not self.prompt_template:
            from .authors import current_authors_template

            self.prompt_template = current_authors_template().fingerprint()
        if self.verdict_rule not in VERDICT_MODES:
            raise ConfigError(f"verdict_rule must be one of {', '.join(VERDICT_MODES)}, got {self.verdict_rule!r}")
        if self.orders not in ORDER_MODES:
            raise ConfigError(f"orders must be one of {', '.join(ORDER_MODES)}, got {self.orders!r}")
        for name in ("max_new_tokens", "batch_size", "order_seed", "sampling_seed"):
            value = getattr(self, name)
            low = 1 if name in ("max_new_tokens", "batch_size") else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or self.temperature < 0:
            raise ConfigError(f"temperature must be a number >= 0, got {self.temperature!r}")
        if not isinstance(self.top_p, (int, float)) or not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p!r}")
        return self

    def recorded(self) -> dict:
        """The settings written on every result row."""
        data = asdict(self)
        return {k: data[k] for k in RECORDED_SETTINGS}

    def sampling(self):
        """The generation back-ends' SamplingSettings for these settings."""
        from .generation import SamplingSettings

        return SamplingSettings(max_new_tokens=self.max_new_tokens, temperature=float(self.temperature),
                                top_p=float(self.top_p), seed=self.sampling_seed)


def seeded_order(key: Sequence, seed: int) -> str:
    """The A/B order of one comparison: a coin flip seeded by (seed, comparison key), stable across runs."""
    draw = random.Random(f"rmr1-order|{seed}|{json.dumps(list(key))}").random()
    return "AB" if draw < 0.5 else "BA"


def plan_judgements(comparisons: Sequence, orders: str, seed: int) -> list[tuple[Any, str]]:
    """(comparison, order) for every judgement to make: one seeded order each, both orders, or a fixed one."""
    if orders not in ORDER_MODES:
        raise ConfigError(f"orders must be one of {', '.join(ORDER_MODES)}, got {orders!r}")
    seen: dict[tuple, int] = {}
    plan = []
    for i, comp in enumerate(comparisons):
        key = comp.key()
        if key in seen:
            raise DataError(f"comparisons[{i}] repeats comparisons[{seen[key]}] ({key}); each comparison is "
                            f"judged once per order")
        seen[key] = i
        if orders == "both":
            plan += [(comp, "AB"), (comp, "BA")]
        elif orders == "random":
            plan.append((comp, seeded_order(key, seed)))
        else:
            plan.append((comp, orders))
    return plan


# ----------------------------------------------------------------------------------------------------------
# resumable results files


def _identity(row: dict) -> tuple:
    if row["benchmark"] == "rm-bench":
        return (row["benchmark"], str(row["id"]), row["chosen_style"], row["rejected_style"], row["order"])
    return (row["benchmark"], str(row["id"]), row["order"])


def results_log(results_path: PathLike) -> AppendLog:
    """The results file as an append-only log (one row per judgement; an interrupted last line is cut off)."""
    return AppendLog(results_path, what="results file (JSON Lines)")


def read_done(results_path: PathLike, expected: Optional[dict] = None) -> set[tuple]:
    """The (comparison key + order) of every row already in a results file (none if it does not exist).

    A last line cut off by an interruption is removed from the file; any other bad line is an error naming the
    file and line. With `expected` (model and settings), a row made differently raises ConfigError.
    """
    done: set[tuple] = set()
    for number, row in results_log(results_path).rows():
        where = f"{results_path}, line {number}"
        validate_result_row(row, where)
        for key, value in (expected or {}).items():
            if row.get(key) != value:
                raise ConfigError(
                    f"{where}: this results file was made with {key}={row.get(key)!r}, but this evaluation uses "
                    f"{key}={value!r}. Resuming would mix two evaluations: write to another file, or delete "
                    f"this one to start over.")
        ident = _identity(row)
        if ident in done:
            raise RowError(f"{where}: a second row for the same comparison and order {ident}")
        done.add(ident)
    return done


def pending_judgements(comparisons: Sequence, settings: EvalSettings, results_path: PathLike,
                       expected: dict) -> tuple[list[tuple[Any, str]], int]:
    """(judgements still to make, how many of the plan the file already holds)."""
    plan = plan_judgements(comparisons, settings.orders, settings.order_seed)
    done = read_done(results_path, expected)
    todo = [(c, o) for c, o in plan if c.key() + (o,) not in done]
    return todo, len(plan) - len(todo)


def judgement_row(comparison: Any, order: str, text: str, verdict_rule: str, recorded: dict,
                  keep_text: bool = True, truncated: Optional[bool] = None) -> dict:
    """One result row: the comparison's keys, order, verdict under the rule, correct, both rules, settings
    (and `truncated`: cut off by the token budget, when the engine says)."""
    strict, lenient = parse_verdict(text, "strict"), parse_verdict(text, "lenient")
    verdict = strict if verdict_rule == "strict" else lenient
    preferred = "A" if order == "AB" else "B"
    row = {**comparison.row_fields(), "order": order, "verdict": verdict, "correct": int(verdict == preferred),
           "verdict_strict": strict, "verdict_lenient": lenient, "chars": len(text)}
    if keep_text:
        row["text"] = text
    if truncated is not None:
        row["truncated"] = bool(truncated)
    row.update(recorded)
    return row


def truncation(rows: Sequence[dict]) -> dict:
    """Judgements cut off by the token budget, per benchmark and overall (rows that record `truncated`)."""
    out: dict[str, dict] = {}
    for row in rows:
        if "truncated" not in row:
            continue
        for key in (row["benchmark"], "all"):
            entry = out.setdefault(key, {"judgements": 0, "truncated": 0})
            entry["judgements"] += 1
            entry["truncated"] += bool(row["truncated"])
    for entry in out.values():
        entry["rate"] = entry["truncated"] / entry["judgements"]
    return out


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def judge_comparisons(generator: Any, comparisons: Sequence, settings: EvalSettings, results_path: PathLike, *,
                      model: str, fingerprint: Optional[str] = None, keep_text: bool = True,
                      progress: bool = False) -> dict:
    """Judge every planned (comparison, order) not yet in `results_path`; append rows batch by batch.

    `generator` has `generate(conversations, sampling_settings) -> list[str]` (rmr1lib.generation), or is a
    zero-argument callable that returns one (started only if something is left to judge; closed afterwards).
    Returns a report: planned, already_done, judged, rows, seconds (judging only), engine_seconds (start-up),
    judgements_per_second, generated_chars.
    """
    settings.check()
    expected = {"model": model, "model_fingerprint": fingerprint or model_fingerprint(model),
                **settings.recorded()}
    todo, already = pending_judgements(comparisons, settings, results_path, expected)
    report = {"results_path": str(results_path), "planned": len(todo) + already, "already_done": already,
              "judged": 0, "rows": already, "seconds": 0.0, "generated_chars": 0, "judgements_per_second": None,
              "model": model, **settings.recorded()}
    if not todo:
        return report
    owned = callable(generator) and not hasattr(generator, "generate")
    engine_start = time.time()
    engine = generator() if owned else generator
    report["engine_seconds"] = round(time.time() - engine_start, 3)
    sampling = settings.sampling()
    log = results_log(results_path)
    batches = list(_batches(todo, settings.batch_size))
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="judge", unit="batch")
    started = time.time()
    try:
        for batch in batches:
            prompts = [build_messages(settings.prompt_kind, *c.conversations(o)) for c, o in batch]
            texts = engine.generate(prompts, sampling)
            if len(texts) != len(batch):
                raise RmR1Error(f"the generator returned {len(texts)} texts for {len(batch)} prompts")
            cut = getattr(engine, "last_truncated", None)
            cut = list(cut) if cut is not None and len(cut) == len(texts) else [None] * len(texts)
            rows = [judgement_row(comp, order, text, settings.verdict_rule, expected, keep_text, was_cut)
                    for (comp, order), text, was_cut in zip(batch, texts, cut)]
            log.append(rows)
            report["judged"] += len(rows)
            report["truncated"] = report.get("truncated", 0) + sum(bool(c) for c in cut)
            report["generated_chars"] += sum(len(t) for t in texts)
    finally:
        if owned and hasattr(engine, "close"):
            engine.close()
        report["seconds"] = round(time.time() - started, 3)
        if report["seconds"] > 0:
            report["judgements_per_second"] = round(report["judged"] / report["seconds"], 3)
    report["rows"] = report["already_done"] + report["judged"]
    if report["judged"]:
        report["truncation_rate"] = report.get("truncated", 0) / report["judged"]
    return report


def evaluate_model(model: str, comparisons: Sequence, settings: EvalSettings, results_path: PathLike, *,
                   engine: Optional[dict] = None, keep_text: bool = True, label: Optional[str] = None,
                   progress: bool = False) -> dict:
    """Judge `comparisons` with a model folder or hub name; the engine starts only if work is left.

    `engine` holds the generation engine's settings (`rmr1lib.generation.generator_options(profile)` for a
    profile; default: vLLM with its defaults). Rows record `label` (default: `model` as given) as the model, with
    a fingerprint of its weights; a label such as "sft_model" keeps a results file free of machine-specific paths.
    """
    from .hub import resolve_model

    location = resolve_model(model)
    options = {"backend": "vllm", **(engine or {}), "seed": settings.sampling_seed}
    options.setdefault("batch_size", settings.batch_size)

    def start():
        from .generation import load_generator

        return load_generator(location, **options)

    report = judge_comparisons(start, comparisons, settings, results_path, model=label or model,
                               fingerprint=model_fingerprint(location), keep_text=keep_text, progress=progress)
    report["backend"] = options["backend"]
    return report


# ----------------------------------------------------------------------------------------------------------
# profiles and the paper


def settings_from_profile(profile: Profile, seed: Optional[int] = None) -> EvalSettings:
    """EvalSettings from a profile: judge.prompt_kind / verdict_rule, generation.*, eval.orders, the seed."""
    seed = profile.seed if seed is None else seed
    gen = profile.generation
    budget = profile.eval.max_new_tokens or gen.max_new_tokens
    return EvalSettings(prompt_kind=profile.judge.prompt_kind, max_new_tokens=budget,
                        temperature=gen.temperature, top_p=gen.top_p, verdict_rule=profile.judge.verdict_rule,
                        orders=profile.eval.orders, order_seed=seed, sampling_seed=seed,
                        batch_size=gen.batch_size).check()


def suite_from_profile(profile: Profile, seed: Optional[int] = None) -> tuple[dict[str, list], Optional[dict]]:
    """({benchmark: comparisons}, how the miniature suite was drawn) for the profile's eval section. Miniature
    data come from `benchmarks.synthetic_suite` (no shortcut baseline above 0.60; its info is the second value);
    real data are loaded as they are (second value None)."""
    from .benchmarks import load_comparisons, synthetic_suite

    seed = profile.seed if seed is None else seed
    cfg = profile.eval
    wanted = [b for b in BENCHMARKS if b in cfg.benchmarks]
    if cfg.data == "synthetic":
        return synthetic_suite(wanted, cfg.synthetic_n, seed, max_items=cfg.max_items)
    sources = {"rewardbench": cfg.rewardbench_source, "rm-bench": cfg.rmbench_source, "rmb": cfg.rmb_source}
    return {b: load_comparisons(b, cfg.data, source=sources[b] or None, seed=seed, synthetic_n=cfg.synthetic_n,
                                max_items=cfg.max_items) for b in wanted}, None


def comparisons_from_profile(profile: Profile, seed: Optional[int] = None) -> dict[str, list]:
    """{benchmark: comparisons} for the profile's eval section (miniature or real data, sources, caps)."""
    return suite_from_profile(profile, seed)[0]


def paper_reference(checkpoint: str, paper_model: str = "auto", family: str = "", size: str = "") -> tuple[str, str]:
    """(paper model to compare with, why): `paper_model` if given, the checkpoint's own name if it is a
    released RM-R1 model, else the RM-R1 model of the same family and size, else RM-R1-Qwen2.5-Instruct-7B."""
    from .paper import resolve_model_name

    if paper_model and paper_model != "auto":
        return resolve_model_name(paper_model), "chosen in the profile (eval.paper_model)"
    try:
        return resolve_model_name(checkpoint), "the evaluated checkpoint is this released model"
    except ConfigError:
        pass
    by_family = {"qwen2.5-instruct": "RM-R1-Qwen2.5-Instruct-{}", "deepseek-r1-distill-qwen":
                 "RM-R1-DeepSeek-Distilled-Qwen-{}"}
    if family in by_family and size in ("7B", "14B", "32B"):
        return by_family[family].format(size), f"the released RM-R1 model with the same base ({family} {size})"
    return DEFAULT_PAPER_MODEL, ("a reference point only: the evaluated judge is not one of the paper's models, "
                                 "so the differences say nothing about the reproduction")


def paper_comparison(paper_model: str, results_path: PathLike, scores: dict) -> list[dict]:
    """"Paper vs this run" rows with RM-Bench scored both ways from the results file: correctly, and with the
    reference script's aggregation (like-for-like with the paper's numbers, which very likely carry it)."""
    from .paper import compare_with_paper

    if "rm-bench" not in scores:
        return compare_with_paper(paper_model, scores)
    correct = score_file(results_path, rmbench_reference_bug=False, benchmarks=["rm-bench"])["rm-bench"]
    as_paper = score_file(results_path, rmbench_reference_bug=True, benchmarks=["rm-bench"])["rm-bench"]
    return compare_with_paper(paper_model, {**scores, "rm-bench": correct}, rmbench_as_paper=as_paper)


def prompt_note(model: str, prompt_kind: str) -> str:
    """A warning when a released checkpoint is judged with another prompt than the authors' ('' otherwise)."""
    from .profiles import RELEASED_JUDGE_PREFIX

    if model.startswith(RELEASED_JUDGE_PREFIX) and prompt_kind != AUTHORS_KIND:
        return (f"{model} was trained on the authors' prompt but was evaluated here with {prompt_kind!r}: not "
                "like-for-like with the paper (use --prompt-kind authors)")
    return ""


def results_file_name(label: str) -> str:
    """A results file name for a judge label (a stage such as "sft_model", or a checkpoint name or path)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "--", str(label)).strip("-.")
    if not slug:
        raise ConfigError(f"cannot make a results file name from {label!r}")
    return f"results_{slug[-80:]}.jsonl"


def _part(row: dict) -> str:
    if row["benchmark"] == "rmb":
        return f"{row['set']}_{rmb_goal(row['subset'])}"
    if row["benchmark"] == "rewardbench":
        return REWARDBENCH_SUBSETS[row["subset"]]
    return row["subset"]


def parse_failures(rows: Sequence[dict]) -> list[dict]:
    """Per benchmark and part (RewardBench section, RM-Bench domain, RMB set and goal): judgements and how many
    gave no verdict under the rule used, and under each rule (when the rows record both)."""
    table: dict[tuple, dict] = {}
    for row in rows:
        entry = table.setdefault((row["benchmark"], _part(row)), {
            "benchmark": row["benchmark"], "part": _part(row), "judgements": 0, "no_verdict": 0,
            "no_verdict_strict": 0, "no_verdict_lenient": 0})
        entry["judgements"] += 1
        entry["no_verdict"] += row["verdict"] is None
        entry["no_verdict_strict"] += row.get("verdict_strict", row["verdict"]) is None
        entry["no_verdict_lenient"] += row.get("verdict_lenient", row["verdict"]) is None
    order = {b: i for i, b in enumerate(BENCHMARKS)}
    out = sorted(table.values(), key=lambda e: (order[e["benchmark"]], e["part"]))
    for entry in out:
        entry["rate"] = entry["no_verdict"] / entry["judgements"]
    return out


def describe_rule_failures(table: Sequence[dict]) -> str:
    """A sentence comparing the strict and the lenient rule's failures over `parse_failures` rows."""
    if not table:
        return "No judgements to compare."
    more = sum(e["no_verdict_strict"] > e["no_verdict_lenient"] for e in table)
    fewer = sum(e["no_verdict_strict"] < e["no_verdict_lenient"] for e in table)
    strict, lenient = sum(e["no_verdict_strict"] for e in table), sum(e["no_verdict_lenient"] for e in table)
    total = sum(e["judgements"] for e in table)
    text = (f"Over {total} judgements the strict rule finds no verdict in {strict} and the lenient rule in "
            f"{lenient}; ")
    if more == fewer == 0:
        return text + f"the two rules fail equally often in all {len(table)} rows of the table."
    return text + (f"the strict rule fails more often in {more}, less often in {fewer} and equally often in "
                   f"{len(table) - more - fewer} of the {len(table)} rows.")


# ----------------------------------------------------------------------------------------------------------
# command line


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m rmr1lib.evaluate`."""
    parser = argparse.ArgumentParser(prog="python -m rmr1lib.evaluate",
                                     description="Evaluate RM-R1 style judges; re-score saved results.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    score = commands.add_parser("score", help="re-score a results JSONL file (no model needed)",
                                description="Print the benchmark scores of a results JSONL file as JSON.")
    score.add_argument("results", metavar="RESULTS.jsonl", help="one JSON row per judged comparison")
    score.add_argument("--rmbench-reference-bug", action="store_true",
                       help="reproduce the reference script's RM-Bench aggregation bug (off by default); the "
                            "output then also shows how far each RM-Bench number moves")
    score.add_argument("--benchmark", choices=BENCHMARKS, help="score only this benchmark")

    run = commands.add_parser("run", help="judge the benchmarks with a model, then score (resumable)",
                              description="Judge RewardBench, RM-Bench and RMB comparisons with a model, append "
                                          "one row per judgement to --out (a rerun skips what is there), then "
                                          "print the scores as JSON.")
    run.add_argument("model", help=f"a local model folder or a hub name (e.g. {released_judge(DEFAULT_PAPER_MODEL)})")
    run.add_argument("--prompt-kind", required=True, choices=ALL_PROMPT_KINDS,
                     help="judge prompt; authors for the released RM-R1 checkpoints (their training prompt, "
                          "learned from released rows), else instruct_cor for Qwen2.5-Instruct judges, "
                          "reasoning_model for DeepSeek-distilled ones (never guessed from the model name)")
    run.add_argument("--released", metavar="FILE.jsonl",
                     help="authors: released rows (context_messages, winner) to learn the prompt from "
                          "(default: the released RL set on the hub, see --released-set)")
    run.add_argument("--released-set", default="after_distill_rlvr", choices=("after_distill_rlvr", "reasoning_rlvr"),
                     help="authors without --released: after_distill_rlvr (Instruct judges) or reasoning_rlvr "
                          "(DeepSeek-distilled judges)")
    run.add_argument("--out", required=True, metavar="RESULTS.jsonl", help="results file (appended to)")
    run.add_argument("--benchmark", action="append", choices=BENCHMARKS,
                     help="benchmark to run (repeat for several; default all three)")
    run.add_argument("--data", choices=("synthetic", "real"), default="real",
                     help="the real benchmark data, or the miniature synthetic versions (default real)")
    run.add_argument("--source", action="append", default=[], metavar="BENCHMARK=PATH_OR_NAME",
                     help="where a benchmark's real data is (a local file/folder or a hub dataset name)")
    run.add_argument("--max-new-tokens", type=int, default=_GENERATION.max_new_tokens,
                     help=f"token budget per judgement ({_GENERATION.max_new_tokens}; the paper's evaluation "
                          f"script used {PAPER_EVAL_MAX_NEW_TOKENS}); the truncation rate is reported")
    run.add_argument("--temperature", type=float, default=_GENERATION.temperature,
                     help=f"0 = greedy (default {_GENERATION.temperature:g})")
    run.add_argument("--verdict-rule", choices=VERDICT_MODES, default=_JUDGE.verdict_rule,
                     help="how a verdict is read: lenient (evaluation parser) or strict (training rule); "
                          f"default {_JUDGE.verdict_rule}")
    run.add_argument("--orders", choices=ORDER_MODES, default=_EVAL.orders,
                     help=f"A/B order: seeded random per comparison, both orders, or fixed; default {_EVAL.orders}")
    run.add_argument("--seed", type=int, default=0, help="order and sampling seed (0)")
    run.add_argument("--backend", choices=("vllm", "transformers"), default="vllm")
    run.add_argument("--batch-size", type=int, default=_GENERATION.batch_size,
                     help=f"judgements per generation call and per flush ({_GENERATION.batch_size})")
    run.add_argument("--max-items", type=int, default=_EVAL.max_items, help="cap on items per benchmark (0 = all)")
    run.add_argument("--synthetic-n", type=int, default=_EVAL.synthetic_n,
                     help=f"miniature data: items per subset/domain/part ({_EVAL.synthetic_n})")
    run.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16", "float16"))
    run.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    run.add_argument("--max-model-len", type=int, default=None, help="vLLM context length (default: model's)")
    run.add_argument("--tensor-parallel-size", type=int, default=1)
    run.add_argument("--no-text", action="store_true", help="do not keep the judgement texts in the rows")
    run.add_argument("--rmbench-reference-bug", action="store_true",
                     help="score RM-Bench with the reference script's aggregation bug (off by default)")
    run.add_argument("--compare-with", default="auto", metavar="PAPER_MODEL",
                     help="paper model for the 'paper vs this run' table (auto: the model's own name if released)")
    return parser


def _sources(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, where = item.partition("=")
        if not sep or name not in BENCHMARKS or not where:
            raise ConfigError(f"--source {item!r}: expected BENCHMARK=PATH_OR_NAME with BENCHMARK one of "
                              f"{', '.join(BENCHMARKS)}")
        out[name] = where
    return out


def _run_command(args: argparse.Namespace) -> dict:
    from . import runtime
    from .authors import learn_authors_template, use_authors_template
    from .benchmarks import load_comparisons, synthetic_suite

    if args.device == "cpu":
        runtime.configure_environment(offline=False)
    sources = _sources(args.source)
    if args.prompt_kind == AUTHORS_KIND:
        from .data import authors_template_from_hub
        from .files import read_jsonl

        use_authors_template(learn_authors_template(read_jsonl(args.released), source=args.released, seed=args.seed)
                             if args.released else authors_template_from_hub(args.released_set, seed=args.seed))
    elif args.released:
        raise ConfigError("--released is only used with --prompt-kind authors")
    settings = EvalSettings(prompt_kind=args.prompt_kind, max_new_tokens=args.max_new_tokens,
                            temperature=args.temperature, verdict_rule=args.verdict_rule, orders=args.orders,
                            order_seed=args.seed, sampling_seed=args.seed, batch_size=args.batch_size).check()
    wanted = [b for b in BENCHMARKS if b in (args.benchmark or BENCHMARKS)]
    if args.data == "synthetic":  # the same suite as notebook 06 for the same benchmarks and seed
        suite, _ = synthetic_suite(wanted, args.synthetic_n, args.seed, max_items=args.max_items)
        comparisons = [c for b in wanted for c in suite[b]]
    else:
        comparisons = [c for b in wanted for c in load_comparisons(b, args.data, source=sources.get(b),
                                                                   seed=args.seed, max_items=args.max_items)]
    engine = dict(backend=args.backend, dtype=args.dtype, device=args.device, batch_size=args.batch_size,
                  max_model_len=args.max_model_len, tensor_parallel_size=args.tensor_parallel_size)
    report = evaluate_model(args.model, comparisons, settings, args.out, engine=engine, keep_text=not args.no_text)
    scores = score_file(args.out, rmbench_reference_bug=args.rmbench_reference_bug, benchmarks=wanted)
    name, why = paper_reference(args.model, args.compare_with)
    paper = {"model": name, "why": why, "rows": paper_comparison(name, args.out, scores)}
    note = prompt_note(args.model, args.prompt_kind)
    if note:
        paper["note"] = note
    return {"run": report, "scores": scores, "paper": paper}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "score":
            out = score_file(args.results, rmbench_reference_bug=args.rmbench_reference_bug,
                             benchmarks=args.benchmark)
        else:
            out = _run_command(args)
    except (RmR1Error, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, RowError):  # a malformed row: say where its format is described
            print("Fix that row (the result-row format is described in rmr1lib/scoring.py) and run again.",
                  file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
