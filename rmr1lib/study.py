"""Run notebook 07's plan (rmr1lib.ablations.plan_study): train every variant's judge with the main path and
evaluate it with notebook 06's code.

    result = run_study(ctx)                 # trains what is missing, judges what is not judged yet
    rows = result["rows"]                   # one row per variant, seed, size and budget (rmr1lib.ablations)

Training is `rmr1lib.sft.train_sft` and `rmr1lib.rl.train_grpo` (+ `save_rl_model`), with the run's profile
changed only by each variant's overrides (`ablations.stage_overrides`); the variants' SFT data are notebook 03's
traces (or, for the verdict-only variant, the same pairs with the verdict as the whole answer). Evaluation is
`rmr1lib.evaluate.judge_comparisons` on the miniature (or real) benchmarks of the profile, scored with
`rmr1lib.scoring.score_file`, written in notebook 06's format (a results file and a scores.json per judgement
setting) under artifacts/ablations/. Everything resumes: a finished stage is found and reused, a results file
is continued where it stopped. At the profile's own seed, notebook 03/04's judges stand in for the variants that
are exactly their recipe (`ablations.reuse_workbook_models`).

Workbook layer: the engines are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .ablations import (default_budget, plan_study, result_row, stage_overrides, variant, variant_overrides,
                        verdict_records, verdict_records_from_traces)
from .errors import RmR1Error
from .files import atomic_write_json, read_jsonl
from .profiles import Profile, with_overrides
from .workbook import (RL_MODEL_ARTIFACT, SFT_MODEL_ARTIFACT, TRACES_ARTIFACT, NotebookContext, base_model_path,
                       load_pairs)

STUDY_DIR = "ablations"
STAGE_FILE = "stage.json"


def stage_profile(profile: Profile, stage: dict) -> Profile:
    """The profile one planned stage trains with."""
    return with_overrides(profile, stage_overrides(profile, stage))


def evaluation_profile(profile: Profile, evaluation: dict) -> Profile:
    """The profile one evaluation judges with: the variant's prompt and the ablations' evaluation settings."""
    a = profile.ablations
    changes = variant_overrides(profile, evaluation["variant"], profile.seed, evaluation.get("size"))
    if a.eval_synthetic_n:
        changes["eval.synthetic_n"] = a.eval_synthetic_n
    if a.eval_orders:
        changes["eval.orders"] = a.eval_orders
    if a.eval_max_items >= 0:
        changes["eval.max_items"] = a.eval_max_items
    if evaluation.get("budget"):
        changes["eval.max_new_tokens"] = evaluation["budget"]
    return with_overrides(profile, changes)


def _stage_dir(ctx: NotebookContext, stage_id: str) -> Path:
    return ctx.run.path(f"{STUDY_DIR}/models/{stage_id}")


def _done(folder: Path) -> Optional[dict]:
    marker = folder / STAGE_FILE
    return json.loads(marker.read_text()) if marker.exists() else None


def _sft_reusable(ctx: NotebookContext, model_path: str, records: list, prof: Profile) -> Optional[str]:
    """Notebook 03's model when its SFT job is exactly this one (same base, traces and settings), else None."""
    from .engine import load_tokenizer
    from .sft import read_sft_result, sft_job_key, split_by_length

    if not ctx.run.has_artifact(SFT_MODEL_ARTIFACT):
        return None
    done = read_sft_result(ctx.run.path("sft"))
    if done is None:
        return None
    kept, _ = split_by_length(records, load_tokenizer(model_path, prof.model.trust_remote_code), prof.sft.max_length)
    return str(ctx.run.artifact(SFT_MODEL_ARTIFACT)) if done.job_key == sft_job_key(model_path, kept, prof) else None


def _rl_reusable(ctx: NotebookContext, stage: dict) -> Optional[str]:
    """Notebook 04's model when it was trained from notebook 03's judge for this stage's number of steps."""
    if not ctx.run.has_artifact(RL_MODEL_ARTIFACT):
        return None
    info = ctx.run.artifact_info(RL_MODEL_ARTIFACT)
    if info.get("start") != "sft" or info.get("steps") != stage["steps"]:
        return None
    return str(ctx.run.artifact(RL_MODEL_ARTIFACT))


def build_stage(ctx: NotebookContext, stage: dict, models: dict, data: dict,
                log: Callable[[str], None] = print) -> dict:
    """Make one planned stage's model (or find it); returns {"model": path, "seconds": ..., "how": ...}."""
    prof = stage_profile(ctx.profile, stage)
    folder = _stage_dir(ctx, stage["id"])
    done = _done(folder)
    if done is not None and Path(done["model"]).is_dir():
        return {**done, "how": "found"}
    started = time.time()
    kind = stage["kind"]
    if kind == "base":
        artifact = "tiny_model" if stage["reuse"] else f"{STUDY_DIR}/models/{stage['id']}/tiny_model"
        path, how = base_model_path(ctx, prof, artifact), "run's starting model" if stage["reuse"] else "built"
        return {"model": path, "seconds": round(time.time() - started, 2), "how": how}
    start = models[stage["start"]]["model"]
    if kind == "sft":
        from .sft import train_sft

        if stage["records"] == "traces":
            records = data["traces"]
        elif data["distilled_pairs"]:
            records = verdict_records(data["distilled_pairs"], prof.judge.prompt_kind)
        else:  # traces written for no training pair of this run (a released distillation set)
            records = verdict_records_from_traces(data["traces"])
        reused = _sft_reusable(ctx, start, records, prof) if stage["reuse"] else None
        if reused:
            return {"model": reused, "seconds": 0.0, "how": "notebook 03's judge"}
        result = train_sft(start, records, folder, prof, log=log)
        info = {"model": result.model_dir, "steps": result.steps, "seconds": result.seconds,
                "seconds_per_step": result.seconds_per_step, "records": result.records}
    elif kind == "rl":
        from .data import exclude_distilled
        from .rl import save_rl_model, train_grpo

        reused = _rl_reusable(ctx, stage) if stage["reuse"] else None
        if reused:
            return {"model": reused, "seconds": 0.0, "how": "notebook 04's judge"}
        rows = data["train"]
        if prof.rl.exclude_distilled_pairs and stage["after_sft"]:
            rows, _ = exclude_distilled(rows, data["traces"])
        run = train_grpo(start, rows, prof, str(folder / "checkpoints"), echo=log)
        adapter = str(folder / "adapter") if prof.rl.mode != "full" else None
        written = save_rl_model(run, str(folder / "model"), start_model=start, profile=prof, adapter_dir=adapter)
        info = {"model": written["model"], "steps": run.global_step, "seconds": round(run.seconds, 2),
                "seconds_per_step": run.seconds_per_step}
    else:
        raise RmR1Error(f"study: unknown stage kind {kind!r} in stage {stage['id']!r}")
    atomic_write_json(folder / STAGE_FILE, info)
    return {**info, "how": "trained"}


class _SharedEngine:
    """One generation engine for every evaluation of a judge, started only when something is left to judge."""

    def __init__(self, start: Callable[[], Any]):
        self._start, self.engine = start, None
        self.seconds = 0.0

    def generate(self, prompts, sampling):  # noqa: D102 - the generators' interface
        if self.engine is None:
            t0 = time.time()
            self.engine = self._start()
            self.seconds = time.time() - t0
        return self.engine.generate(prompts, sampling)

    @property
    def last_truncated(self):  # noqa: D102
        return getattr(self.engine, "last_truncated", None)

    def close(self) -> None:
        """Shut the engine down (if it was started)."""
        if self.engine is not None and hasattr(self.engine, "close"):
            self.engine.close()
        self.engine = None


def results_label(evaluation: dict, default_budget: int) -> str:
    """The file label of one evaluation: its judge's stage id and budget (the same judgement is made once)."""
    label = evaluation["judge"].replace("/", "__")
    budget = evaluation.get("budget")
    return label + (f"__budget-{budget}" if budget and budget != default_budget else "")


def evaluate_judge(ctx: NotebookContext, model_path: str, evaluations: list, stage_prof: Profile) -> list[dict]:
    """Judge and score every evaluation of one judge (one engine); one result row each, saved like notebook 06's."""
    from .evaluate import comparisons_from_profile, judge_comparisons, settings_from_profile, truncation
    from .files import model_fingerprint
    from .generation import generator_options, load_generator
    from .hub import resolve_model
    from .scoring import score_file

    location = resolve_model(model_path)
    options = generator_options(stage_prof)
    engine = _SharedEngine(lambda: load_generator(location, seed=ctx.seed, **options))
    fingerprint = model_fingerprint(location)
    rows = []
    try:
        for evaluation in evaluations:
            prof = evaluation_profile(ctx.profile, evaluation)
            settings = settings_from_profile(prof, ctx.seed)
            comparisons = [c for items in comparisons_from_profile(prof, ctx.seed).values() for c in items]
            label = results_label(evaluation, default_budget(ctx.profile))
            path = ctx.run.path(f"{STUDY_DIR}/eval/results_{label}.jsonl")
            path.parent.mkdir(parents=True, exist_ok=True)
            report = judge_comparisons(engine, comparisons, settings, path, model=label, fingerprint=fingerprint)
            report["engine_seconds"] = round(engine.seconds, 3)
            cut = truncation(read_jsonl(path)).get("all")  # from the file: a judgement made earlier counts too
            report["truncation_rate"] = cut["rate"] if cut else None
            scores = score_file(path, rmbench_reference_bug=prof.eval.rmbench_reference_bug,
                                benchmarks=prof.eval.benchmarks)
            summary = {"stage": evaluation["judge"], "model": label, "model_path": str(model_path),
                       "results": path.name, "settings": settings.recorded(), "report": report, "scores": scores,
                       "evaluation": evaluation}
            atomic_write_json(ctx.run.path(f"{STUDY_DIR}/eval/scores_{label}.json"), summary)
            rows.append(result_row(evaluation, scores, {b: s["orders"] for b, s in scores.items()}, report))
    finally:
        engine.close()
    return rows


def study_data(ctx: NotebookContext) -> dict:
    """What the variants train on: the run's training pairs, notebook 03's traces and the pairs they cover (none
    when the traces come from a released distillation set: the verdict-only variant then reads the traces' own
    prompts and labels)."""
    train = load_pairs(ctx, "train")
    traces = read_jsonl(ctx.run.artifact(TRACES_ARTIFACT))
    if not traces:
        raise RmR1Error(f"run {ctx.run.dir}: traces.jsonl is empty; rerun notebook 03")
    by_id = {r["id"]: r for r in train}
    distilled_pairs = [by_id[t["id"]] for t in traces if t.get("id") in by_id]
    return {"train": train, "traces": traces, "distilled_pairs": distilled_pairs}


def run_study(ctx: NotebookContext, plan: Optional[dict] = None, log: Callable[[str], None] = print) -> dict:
    """Train every stage of the plan that is not there yet, then judge every evaluation; returns
    {"plan", "stages": {id: how it was made, seconds}, "rows": result rows (rmr1lib.ablations.result_row)}."""
    plan = plan or plan_study(ctx.profile)
    data = study_data(ctx)
    models: dict[str, dict] = {}
    for stage in plan["stages"]:
        if stage["kind"] != "base":
            log(f"study: {stage['id']} ({variant(stage['variant']).label}, {stage['steps']} {stage['kind']} steps)")
        models[stage["id"]] = build_stage(ctx, stage, models, data, log)
    rows = []
    by_judge: dict[str, list] = {}
    for evaluation in plan["evaluations"]:
        by_judge.setdefault(evaluation["judge"], []).append(evaluation)
    stages = {s["id"]: s for s in plan["stages"]}
    for judge, evaluations in by_judge.items():
        t0 = time.time()
        prof = stage_profile(ctx.profile, stages[judge])
        rows += evaluate_judge(ctx, models[judge]["model"], evaluations, prof)
        models[judge]["eval_seconds"] = round(time.time() - t0, 2)
        log(f"study: judged {judge} ({len(evaluations)} setting(s)) in {time.time() - t0:.0f} s")
    return {"plan": plan, "stages": models, "rows": rows}


def measured_unit_costs(ctx: NotebookContext) -> dict:
    """Unit costs for rmr1lib.ablations.estimate_seconds, measured by this run's notebooks 03, 04 and 06 where
    they ran (each value says where it comes from)."""
    from .sft import read_sft_result

    units, source = {}, {}
    sft = read_sft_result(ctx.run.path("sft"))
    if sft is not None and sft.seconds_per_step:
        units["sft_step"], source["sft_step"] = sft.seconds_per_step, "notebook 03"
    if ctx.run.has_artifact("rl_summary.json"):
        rl = json.loads(ctx.run.artifact("rl_summary.json").read_text())
        if rl.get("seconds_per_step"):
            units["rl_step"], source["rl_step"] = rl["seconds_per_step"], "notebook 04 (held-out checks included)"
    if ctx.run.has_artifact("eval/scores.json"):
        report = json.loads(ctx.run.artifact("eval/scores.json").read_text())["report"]
        if report.get("judged") and report.get("seconds"):
            units["judgement"], source["judgement"] = report["seconds"] / report["judged"], "notebook 06"
        if report.get("engine_seconds") is not None:
            units["engine_start"], source["engine_start"] = report["engine_seconds"], "notebook 06"
    return {"units": units, "source": source}


__all__ = ["STUDY_DIR", "stage_profile", "evaluation_profile", "build_stage", "results_label", "evaluate_judge",
           "study_data", "run_study", "measured_unit_costs"]
