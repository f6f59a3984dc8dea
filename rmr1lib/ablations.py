"""The paper's ablations as data: which judges notebook 07 trains, what each costs, and what the results say.

Variants (paper Table 2, the ablation ladder, and Table 3, reasoning training against SFT on the verdict):

    original                   the starting model, asked with the plain judge prompt; no training
    cold_start_rl              GRPO from the starting model, plain judge prompt, answer + format reward (Eq. 11)
    cold_start_rl_rubrics      the same with the rubric prompt (no query categorisation)
    cold_start_rl_rubrics_qc   the same with the run's full Chain-of-Rubrics prompt (rubrics + categorisation)
    verdict_sft                SFT on the distillation pairs with the verdict tag as the whole completion
    distilled                  SFT on the teacher's reasoning traces (notebook 03)
    rm_r1                      distillation, then GRPO with the verifiable reward (notebooks 03 and 04)

and two sweeps: the rm_r1 judge evaluated at several token budgets (`ablations.budgets`; the paper's budget
figure trained a judge per budget, this sweep changes only the evaluation budget), and judges of several sizes
(`ablations.sizes`) trained with `ablations.size_recipe`. Every variant is trained with the library's main path
(rmr1lib.sft.train_sft, rmr1lib.rl.train_grpo) and evaluated with notebook 06's code (rmr1lib.evaluate); this
module only says what to run (`plan_study`), what it should cost (`estimate_seconds`) and how to read the
results (`summarize`, `paired_differences`, `claims`). rmr1lib.study runs the plan.

Pure core: standard library only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import mean, stdev
from typing import Any, Iterable, Optional, Sequence

from .errors import ConfigError, DataError
from .profiles import ABLATION_VARIANTS, Profile

#: The number every summary and claim uses: the mean of the three benchmarks' headline scores (paper Table 1).
METRIC = "average"
BENCHMARK_KEYS = ("rewardbench", "rm-bench", "rmb")


@dataclass(frozen=True)
class Variant:
    """One judge recipe of the ablations: how it is trained and which paper row it stands next to."""

    name: str
    label: str                       # short name in tables and plots
    sft: Optional[str]               # None, "traces" (the teacher's reasoning) or "verdict" (the verdict tag only)
    rl: Optional[str]                # None, "verifiable" (Eq. 8) or "cold_start" (Eq. 11)
    prompt_kind: Optional[str]       # None: the run's judge.prompt_kind
    paper: dict = field(default_factory=dict)   # {table: model name in data/paper_results.csv}
    what: str = ""

    def as_dict(self) -> dict:
        """Plain data for tables and saved results."""
        return asdict(self)


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("original", "original", None, None, "plain_judge", {"2": "Qwen2.5-Instruct-32B (original)"},
            "the starting model, untrained, asked with the plain judge prompt"),
    Variant("cold_start_rl", "cold-start RL", None, "cold_start", "plain_judge",
            {"2": "Qwen2.5-Instruct-32B + cold-start RL"},
            "GRPO from the starting model with the plain judge prompt and the answer + format reward"),
    Variant("cold_start_rl_rubrics", "+ rubrics", None, "cold_start", "rubrics_only",
            {"2": "Qwen2.5-Instruct-32B + cold-start RL + rubrics"},
            "the same, prompted to write a rubric first (no query categorisation)"),
    Variant("cold_start_rl_rubrics_qc", "+ query categorisation", None, "cold_start", None,
            {"2": "Qwen2.5-Instruct-32B + cold-start RL + rubrics + query categorization"},
            "the same with the run's full Chain-of-Rubrics prompt (categorise, then rubric or solution)"),
    Variant("verdict_sft", "SFT on the verdict", "verdict", None, "plain_judge",
            {"3": "SFT on final answer (9K distillation data)"},
            "SFT on the distillation pairs with only the verdict tag as the answer (no reasoning)"),
    Variant("distilled", "distilled", "traces", None, None, {"3": "distilled (9K distillation data)"},
            "SFT on the teacher's Chain-of-Rubrics traces (notebook 03)"),
    Variant("rm_r1", "RM-R1 (distilled + RL)", "traces", "verifiable", None,
            {"2": "RM-R1-Qwen2.5-Instruct-32B", "3": "RM-R1-Qwen2.5-Instruct-32B"},
            "distillation, then GRPO with the verifiable reward (notebooks 03 and 04)"),
)}
assert tuple(VARIANTS) == ABLATION_VARIANTS


def variant(name: str) -> Variant:
    """The variant called `name`; a ConfigError lists the known ones."""
    if name not in VARIANTS:
        raise ConfigError(f"unknown ablation variant {name!r}; known: {', '.join(VARIANTS)}")
    return VARIANTS[name]


# ----------------------------------------------------------------------------------------------------------
# the plan


def study_seeds(profile: Profile) -> list[int]:
    """The training seeds of the study: the profile's seed, then seed+1, seed+2, ... (ablations.seeds of them)."""
    return [profile.seed + i for i in range(profile.ablations.seeds)]


def variant_overrides(profile: Profile, name: str, seed: int, size: Any = None) -> dict:
    """The dotted profile overrides that turn the run's profile into one variant's: prompt kind, reward, seed and
    (for the size sweep) the model's size. Step counts come with each stage (`stage_overrides`)."""
    v = variant(name)
    kind = v.prompt_kind or profile.judge.prompt_kind
    out: dict = {"seed": seed, "judge.prompt_kind": kind}
    if kind != profile.judge.prompt_kind:
        out["judge.mixed_prompts"] = True  # the ablation changes the prompt on purpose
    if v.rl is not None:
        out["rl.reward"] = v.rl
    if size is not None:
        out.update(size_overrides(profile, size))
    return out


def stage_overrides(profile: Profile, stage: dict) -> dict:
    """The overrides a planned stage trains with: its variant's, and its own number of steps."""
    out = variant_overrides(profile, stage.get("variant", "original"), stage["seed"], stage.get("size"))
    if stage["kind"] in ("sft", "rl"):
        out[f"{stage['kind']}.max_steps"] = stage["steps"]
    return out


def _verdict_record(rid: Any, prompt: list, winner: str, category: Any) -> dict:
    """One verdict-only SFT record: the prompt, and the labelled side's verdict tag as the whole completion."""
    from .prompts import VERDICT_TAGS
    from .rewards import winner_side

    tag = VERDICT_TAGS[0] if winner_side(winner) == "A" else VERDICT_TAGS[1]
    return {"id": rid, "prompt": prompt, "completion": [{"role": "assistant", "content": tag}], "winner": winner,
            "category": category}


def verdict_records(pairs: Sequence[dict], prompt_kind: str) -> list[dict]:
    """SFT records whose whole completion is the verdict tag of the labelled side (Table 3's "SFT on the final
    answer"): the same pairs, prompted with `prompt_kind`, without any reasoning to learn."""
    from .judging import judge_messages

    if not pairs:
        raise DataError("verdict_records: no pairs")
    return [_verdict_record(row["id"], messages, row["winner"], row.get("category"))
            for row, messages in zip(pairs, judge_messages(pairs, prompt_kind))]


def verdict_records_from_traces(traces: Sequence[dict]) -> list[dict]:
    """Verdict-only SFT records from distillation traces themselves (their prompt, their labelled winner): for
    traces that no training pair matches by id, as the released distillation set's."""
    if not traces:
        raise DataError("verdict_records_from_traces: no traces")
    out = []
    for i, t in enumerate(traces):
        if not t.get("prompt") or t.get("winner") is None:
            raise DataError(f"trace {i} (id {t.get('id')!r}) has no {'prompt' if not t.get('prompt') else 'winner'}: "
                            "a verdict-only record needs both")
        out.append(_verdict_record(t.get("id", i), t["prompt"], t["winner"], t.get("category")))
    return out


def size_overrides(profile: Profile, size: Any) -> dict:
    """Overrides for one point of the size sweep: a tiny model's width (heads of 32 dimensions, MLP twice as wide)
    or a model size of the profile's family."""
    if profile.model.family != "tiny":
        return {"model.size": size}
    if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 32:
        raise ConfigError(f"ablations.sizes: {size!r} is not a tiny model width (a multiple of 32)")
    heads = size // 32
    kv = heads // 2 if heads % 2 == 0 else heads
    return {"model.tiny.hidden_size": size, "model.tiny.num_heads": heads, "model.tiny.num_kv_heads": kv,
            "model.tiny.intermediate_size": 2 * size}


def _steps(profile: Profile, section: str, override: int) -> int:
    if override:
        return override
    steps = getattr(profile, section).max_steps
    if steps < 0:
        raise ConfigError(f"{section}.max_steps is -1 (epochs): the study needs a fixed number of steps to plan; "
                          f"set {section}.max_steps or ablations.*_max_steps")
    return steps


def default_budget(profile: Profile) -> int:
    """The evaluation token budget of the run (eval.max_new_tokens, else generation.max_new_tokens)."""
    return profile.eval.max_new_tokens or profile.generation.max_new_tokens


def plan_study(profile: Profile) -> dict:
    """What notebook 07 trains and evaluates for a profile: training stages (shared where two variants start
    alike) and evaluations, each with its seed, size, steps and whether a workbook model can stand in for it."""
    a = profile.ablations
    stages: dict[str, dict] = {}
    evaluations: list[dict] = []
    own_size = profile.model.tiny.hidden_size if profile.model.family == "tiny" else profile.model.size

    def add(stage: dict) -> str:
        stages.setdefault(stage["id"], stage)
        return stage["id"]

    def judge(name: str, seed: int, size: Any = None) -> str:
        """The id of the last stage of a variant's judge (adding the stages it needs). Ids name everything that
        decides a stage, so two variants that start alike share their first stages."""
        v = variant(name)
        own = size is None or size == own_size
        where = "" if own else f"size-{size}/"
        tag = f"s{seed}/{where}"
        workbook = a.reuse_workbook_models and seed == profile.seed and own
        # one starting point per size, whatever the seed (built with the profile's seed)
        start = add({"id": f"{where}base", "kind": "base", "seed": profile.seed, "size": None if own else size,
                     "steps": 0, "reuse": "base" if own else None})
        if v.sft is not None:
            steps = _steps(profile, "sft", (a.verdict_sft_max_steps if v.sft == "verdict" else 0)
                           or (a.size_sft_max_steps if size is not None else 0))
            same_as_03 = v.sft == "traces" and steps == _steps(profile, "sft", 0)
            start = add({"id": f"{tag}sft_{v.sft}_{steps}", "kind": "sft", "records": v.sft, "seed": seed,
                         "size": None if own else size, "steps": steps, "start": start, "variant": name,
                         "reuse": "sft_model" if workbook and same_as_03 else None})
        if v.rl is not None:
            steps = _steps(profile, "rl", a.cold_start_max_steps if v.rl == "cold_start" else 0)
            kind = v.prompt_kind or profile.judge.prompt_kind
            same_as_04 = (v.rl == profile.rl.reward and kind == profile.judge.prompt_kind
                          and steps == _steps(profile, "rl", 0) and stages[start].get("reuse") == "sft_model")
            prefix = f"{start}/" if v.sft is not None else tag  # an RL stage belongs to one seed
            start = add({"id": f"{prefix}rl_{v.rl}_{kind}_{steps}", "kind": "rl", "reward": v.rl,
                         "prompt_kind": kind, "after_sft": v.sft is not None, "seed": seed,
                         "size": None if own else size, "steps": steps,
                         "start": start, "variant": name, "reuse": "rl_model" if workbook and same_as_04 else None})
        return start

    for seed in study_seeds(profile):
        for name in a.variants:
            evaluations.append({"variant": name, "seed": seed, "size": None, "budget": None,
                                "judge": judge(name, seed), "sweep": "variants"})
        for budget in sorted(set(a.budgets) | ({default_budget(profile)} if a.budgets else set())):
            evaluations.append({"variant": "rm_r1", "seed": seed, "size": None, "budget": budget,
                                "judge": judge("rm_r1", seed), "sweep": "budget"})
        for size in a.sizes:
            evaluations.append({"variant": a.size_recipe, "seed": seed, "size": size, "budget": None,
                                "judge": judge(a.size_recipe, seed, size),
                                "sweep": "size"})
    return {"stages": list(stages.values()), "evaluations": evaluations, "seeds": study_seeds(profile),
            "default_budget": default_budget(profile)}


#: Unit costs `estimate_seconds` needs (seconds); the notebook measures them from the run's own notebooks.
UNIT_COSTS = ("sft_step", "rl_step", "judgement", "engine_start", "model_build")


def estimate_seconds(plan: dict, units: dict, judgements_per_eval: int) -> dict:
    """Expected seconds of a plan from unit costs: SFT and GRPO steps, model builds, engine starts and judgements.

    Stages a workbook model stands in for cost nothing; evaluations of one judge share an engine.
    """
    missing = [k for k in UNIT_COSTS if k not in units]
    if missing:
        raise ConfigError(f"estimate_seconds: unit costs missing: {', '.join(missing)} (need {', '.join(UNIT_COSTS)})")
    out = {"sft": 0.0, "rl": 0.0, "build": 0.0, "evaluation": 0.0}
    for stage in plan["stages"]:
        if stage["reuse"]:
            continue
        if stage["kind"] == "sft":
            out["sft"] += stage["steps"] * units["sft_step"]
        elif stage["kind"] == "rl":
            out["rl"] += stage["steps"] * units["rl_step"]
        elif stage["kind"] == "base":
            out["build"] += units["model_build"]
    judges = {e["judge"] for e in plan["evaluations"]}
    distinct = {(e["judge"], e["budget"] or plan["default_budget"])  # the same judge and budget: judged once
                for e in plan["evaluations"]}
    out["evaluation"] = (len(judges) * units["engine_start"] + len(distinct) * judgements_per_eval * units["judgement"])
    out["total"] = sum(out.values())
    return out


# ----------------------------------------------------------------------------------------------------------
# reading the results


def result_row(evaluation: dict, scores: dict, orders: dict, report: dict) -> dict:
    """One flat row of the study's results table from an evaluation and its 06-style scores."""
    parts = {b: scores[b]["score"] for b in BENCHMARK_KEYS if b in scores}
    consistency = [o["position_consistency"] for o in orders.values() if o.get("position_consistency") is not None]
    failures = sum(o["parse_failures"] for o in orders.values())
    rows = sum(o["rows"] for o in orders.values())
    return {"variant": evaluation["variant"], "sweep": evaluation["sweep"], "seed": evaluation["seed"],
            "size": evaluation["size"], "budget": evaluation["budget"], "judge": evaluation["judge"], **parts,
            METRIC: mean(parts.values()) if len(parts) == len(BENCHMARK_KEYS) else None,
            "position_consistency": mean(consistency) if consistency else None,
            "parse_rate": 1 - failures / rows if rows else None,
            "truncation_rate": report.get("truncation_rate"), "judgements": rows}


def _group_key(row: dict) -> tuple:
    return (row["sweep"], row["variant"], row.get("size"), row.get("budget"))


def summarize(rows: Iterable[dict], metric: str = METRIC) -> list[dict]:
    """Mean, sample standard deviation, min and max of `metric` over seeds, per variant (and size / budget)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if metric not in row:
            raise DataError(f"summarize: a result row has no {metric!r} (keys: {', '.join(row)})")
        groups.setdefault(_group_key(row), []).append(row)
    out = []
    for (sweep, name, size, budget), mine in groups.items():
        values = [r[metric] for r in mine if r[metric] is not None]
        out.append({"sweep": sweep, "variant": name, "size": size, "budget": budget, "n": len(values),
                    "seeds": sorted(r["seed"] for r in mine), "mean": mean(values) if values else None,
                    "sd": stdev(values) if len(values) > 1 else None,
                    "min": min(values) if values else None, "max": max(values) if values else None})
    return out


def paired_differences(rows: Sequence[dict], a: dict, b: dict, metric: str = METRIC) -> list[float]:
    """Per seed, `metric` of the rows matching `b` minus that of the rows matching `a` (seeds with both only).

    `a` and `b` select rows by key, e.g. {"variant": "distilled", "sweep": "variants"}.
    """
    def pick(sel: dict) -> dict:
        found = {}
        for r in rows:
            if all(r.get(k) == v for k, v in sel.items()) and r.get(metric) is not None:
                if r["seed"] in found:
                    raise DataError(f"paired_differences: two rows for seed {r['seed']} match {sel}")
                found[r["seed"]] = r[metric]
        return found

    left, right = pick(a), pick(b)
    return [right[s] - left[s] for s in sorted(set(left) & set(right))]


#: The paper's claims the study can test: (claim, paper's evidence, baseline selection, treatment selection).
CLAIMS = (
    ("Reasoning before the verdict beats a direct verdict",
     "Table 3: distilled 79.2 vs SFT on the final answer 76.6 (average, 9K distillation data)",
     {"sweep": "variants", "variant": "verdict_sft"}, {"sweep": "variants", "variant": "distilled"}),
    ("RL after distillation adds accuracy",
     "Table 3: RM-R1 81.2 vs distilled 79.2 (average)",
     {"sweep": "variants", "variant": "distilled"}, {"sweep": "variants", "variant": "rm_r1"}),
    ("Cold-start RL improves on the original model",
     "Table 2: 85.8 -> 89.5 (RewardBench)",
     {"sweep": "variants", "variant": "original"}, {"sweep": "variants", "variant": "cold_start_rl"}),
    ("Rubrics help (cold-start RL)",
     "Table 2: 89.5 -> 90.1 (RewardBench)",
     {"sweep": "variants", "variant": "cold_start_rl"}, {"sweep": "variants", "variant": "cold_start_rl_rubrics"}),
    ("Query categorisation helps (cold-start RL)",
     "Table 2: 90.1 -> 90.8 (RewardBench)",
     {"sweep": "variants", "variant": "cold_start_rl_rubrics"},
     {"sweep": "variants", "variant": "cold_start_rl_rubrics_qc"}),
    ("Distillation before RL helps",
     "Table 2: 90.8 -> 91.4 (RewardBench)",
     {"sweep": "variants", "variant": "cold_start_rl_rubrics_qc"}, {"sweep": "variants", "variant": "rm_r1"}),
)
VERDICTS = ("holds here", "reversed here", "no clear difference here", "not run in this profile")


def judge_claim(differences: Sequence[float]) -> str:
    """The plain-words verdict on paired differences (treatment minus baseline, one per seed).

    'holds here' only when every seed improves and the mean gain exceeds one standard deviation of the gains;
    'reversed here' when every seed gets worse by the same rule; otherwise 'no clear difference here'. With
    three seeds this is a weak test (all three signs agree by chance one time in four), and it is meant to be.
    """
    if not differences:
        return VERDICTS[3]
    m = mean(differences)
    spread = stdev(differences) if len(differences) > 1 else math.inf
    if all(d > 0 for d in differences) and m > spread:
        return VERDICTS[0]
    if all(d < 0 for d in differences) and -m > spread:
        return VERDICTS[1]
    return VERDICTS[2]


def _sweep_claim(rows: Sequence[dict], sweep: str, key: str, claim: str, paper: str) -> dict:
    values = sorted({r[key] for r in rows if r["sweep"] == sweep and r.get(key) is not None},
                    key=lambda v: (isinstance(v, str), v))
    if len(values) < 2:
        return {"claim": claim, "paper": paper, "compared": "", "differences": [], "mean_difference": None,
                "sd_difference": None, "verdict": VERDICTS[3]}
    low, high = values[0], values[-1]
    d = paired_differences(rows, {"sweep": sweep, key: low}, {"sweep": sweep, key: high})
    return {"claim": claim, "paper": paper, "compared": f"{key} {high} vs {low}", "differences": d,
            "mean_difference": mean(d) if d else None, "sd_difference": stdev(d) if len(d) > 1 else None,
            "verdict": judge_claim(d)}


def claims(rows: Sequence[dict], metric: str = METRIC) -> list[dict]:
    """Each testable claim of the paper with this study's paired differences (per seed) and a verdict."""
    out = []
    for claim, paper, base, treat in CLAIMS:
        d = paired_differences(rows, base, treat, metric)
        out.append({"claim": claim, "paper": paper, "compared": f"{treat['variant']} vs {base['variant']}",
                    "differences": d, "mean_difference": mean(d) if d else None,
                    "sd_difference": stdev(d) if len(d) > 1 else None, "verdict": judge_claim(d)})
    out.append(_sweep_claim(rows, "budget", "budget", "A longer token budget helps",
                            "budget figure: about 76% -> 80% average from 512 to 8K tokens (DeepSeek-14B)"))
    out.append(_sweep_claim(rows, "size", "size", "Larger models judge better",
                            "Table 1: 7B < 14B < 32B for both RM-R1 families (average)"))
    return out


def paper_rows(rows: Sequence[dict], paper: Sequence[dict]) -> list[dict]:
    """Tables 2 and 3 side by side: per variant and paper table, the paper's number and this study's mean.

    Table 2 compares RewardBench scores, Table 3 the average; `paper` is rmr1lib.paper.load_paper_results().
    """
    lookup = {(r["table"], r["model"], r["benchmark"], r["metric"]): r["value"] for r in paper}
    out = []
    for name, v in VARIANTS.items():
        for table, model in v.paper.items():
            bench = "rewardbench" if table == "2" else "average"
            mine = [r[bench] for r in rows
                    if r["variant"] == name and r["sweep"] == "variants" and r.get(bench) is not None]
            ours = mean(mine) if mine else None
            paper_value = lookup.get((table, model, bench, "score"))
            out.append({"table": table, "variant": name, "paper_row": model, "benchmark": bench,
                        "paper": paper_value, "ours_mean": ours, "ours_sd": stdev(mine) if len(mine) > 1 else None,
                        "seeds": len(mine),
                        "difference": None if ours is None or paper_value is None else ours - paper_value})
    return out


__all__ = ["METRIC", "Variant", "VARIANTS", "variant", "study_seeds", "variant_overrides", "stage_overrides",
           "verdict_records", "verdict_records_from_traces", "size_overrides",
           "default_budget", "plan_study", "UNIT_COSTS", "estimate_seconds", "result_row", "summarize",
           "paired_differences",
           "CLAIMS", "VERDICTS", "judge_claim", "claims", "paper_rows"]
