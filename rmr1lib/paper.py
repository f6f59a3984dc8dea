"""The paper's numbers (Tables 1, 2, 3 and the per-benchmark breakdowns 6, 7, 8) and a
"paper vs this run" comparison.

The numbers live in data/paper_results.csv, long format: model, table, benchmark, metric, value, as_printed,
source. `value` is always a fraction in [0, 1] (the paper's percentages divided by 100), the same scale as
rmr1lib.scoring, so differences need no conversion. Benchmark and metric names are the keys of
rmr1lib.scoring.METRIC_KEYS, plus benchmark "average" (metric "score") for the mean of the three benchmarks.

Pure core: standard library only; results are plain lists of dicts (wrap them in a DataFrame in a notebook).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Optional, Union

from .errors import ConfigError, DataError
from .scoring import BENCHMARKS, METRIC_KEYS

PAPER_RESULTS_CSV = Path(__file__).resolve().parent.parent / "data" / "paper_results.csv"
COLUMNS = ("model", "table", "benchmark", "metric", "value", "as_printed", "source")
TABLES = ("1", "2", "3", "6", "7", "8")
#: When a model's number appears in several tables, the comparison uses the first table in this order.
TABLE_PREFERENCE = ("6", "7", "8", "1", "2", "3")
#: Short names (DS = DeepSeek-distilled, Inst = Qwen2.5-Instruct), for convenience.
MODEL_ALIASES = {
    "DS-7B": "RM-R1-DeepSeek-Distilled-Qwen-7B", "DS-14B": "RM-R1-DeepSeek-Distilled-Qwen-14B",
    "DS-32B": "RM-R1-DeepSeek-Distilled-Qwen-32B", "Inst-7B": "RM-R1-Qwen2.5-Instruct-7B",
    "Inst-14B": "RM-R1-Qwen2.5-Instruct-14B", "Inst-32B": "RM-R1-Qwen2.5-Instruct-32B",
}
ALL_METRICS: dict[str, tuple[str, ...]] = {**METRIC_KEYS, "average": ("score",)}

PathLike = Union[str, Path]


def load_paper_results(path: Optional[PathLike] = None) -> list[dict]:
    """All rows of the paper-results CSV (value as float); a bad row raises DataError naming its line."""
    path = Path(path) if path is not None else PAPER_RESULTS_CSV
    if not path.is_file():
        raise DataError(f"{path}: paper results file not found")
    with open(path, encoding="utf-8", newline="") as fh:
        numbered = [(n, line) for n, line in enumerate(fh, start=1) if line.strip() and not line.startswith("#")]
    if not numbered:
        raise DataError(f"{path}: no header line")
    header = next(csv.reader([numbered[0][1]]))
    if tuple(header) != COLUMNS:
        raise DataError(f"{path}, line {numbered[0][0]}: header must be {','.join(COLUMNS)}, got {','.join(header)}")
    rows = []
    for number, line in numbered[1:]:
        cells = next(csv.reader([line]))
        where = f"{path}, line {number}"
        if len(cells) != len(COLUMNS):
            raise DataError(f"{where}: expected {len(COLUMNS)} columns, got {len(cells)}")
        row: dict[str, Any] = dict(zip(COLUMNS, cells))
        if row["table"] not in TABLES:
            raise DataError(f"{where}: column 'table' must be one of {', '.join(TABLES)}, got {row['table']!r}")
        if row["benchmark"] not in ALL_METRICS or row["metric"] not in ALL_METRICS[row["benchmark"]]:
            raise DataError(f"{where}: unknown benchmark/metric {row['benchmark']!r}/{row['metric']!r}")
        try:
            row["value"] = float(row["value"])
        except ValueError:
            raise DataError(f"{where}: column 'value' is not a number: {row['value']!r}") from None
        if not 0.0 <= row["value"] <= 1.0:
            raise DataError(f"{where}: column 'value' must be a fraction in [0, 1], got {row['value']}")
        rows.append(row)
    return rows


def paper_models(path: Optional[PathLike] = None) -> list[str]:
    """The model names in the paper-results CSV, in file order."""
    return list(dict.fromkeys(r["model"] for r in load_paper_results(path)))


def resolve_model_name(name: str, path: Optional[PathLike] = None) -> str:
    """The CSV's name for a model: exact, case-insensitive, a facts-doc alias (DS-7B) or a hub id (owner/name)."""
    models = paper_models(path)
    aliases = {k.lower(): v for k, v in MODEL_ALIASES.items()}
    candidates = [name, aliases.get(name.lower(), name), name.rsplit("/", 1)[-1]]
    for candidate in candidates:
        for model in models:
            if model.lower() == candidate.lower():
                return model
    raise ConfigError(f"model {name!r} is not in the paper's tables; known: {', '.join(models)} "
                      f"(aliases: {', '.join(MODEL_ALIASES)})")


def paper_table(model: Optional[str] = None, table: Optional[str] = None,
                path: Optional[PathLike] = None) -> list[dict]:
    """The paper's numbers as rows, optionally only one model and/or one table (e.g. "1")."""
    rows = load_paper_results(path)
    if model is not None:
        name = resolve_model_name(model, path)
        rows = [r for r in rows if r["model"] == name]
    if table is not None:
        table = str(table)
        if table not in TABLES:
            raise ConfigError(f"table {table!r} is not one of the paper tables held here: {', '.join(TABLES)}")
        rows = [r for r in rows if r["table"] == table]
    return rows


def _our_value(our_scores: dict, benchmark: str, metric: str) -> Optional[float]:
    if benchmark == "average":
        parts = [_our_value(our_scores, b, "score") for b in BENCHMARKS]
        return sum(parts) / len(parts) if all(p is not None for p in parts) else None
    block = our_scores.get(benchmark)
    if block is None:
        return None
    if not isinstance(block, dict):
        raise DataError(f"our_scores[{benchmark!r}] must be a dict of metrics (as score_results returns), "
                        f"got {type(block).__name__}")
    value = block.get(metric)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"our_scores[{benchmark!r}][{metric!r}] must be a number, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise DataError(f"our_scores[{benchmark!r}][{metric!r}] = {value} is not a fraction in [0, 1] "
                        f"(scores are fractions, not percentages)")
    return float(value)


#: How a row of "paper vs this run" was scored: the benchmarks' own rules, or RM-Bench with the reference
#: script's aggregation (which the paper's RM-Bench numbers very likely include: the authors' committed result
#: file reproduces Table 7 and was written by that script).
SCORINGS = ("correct", "reference_aggregation")


def compare_with_paper(model_name: str, our_scores: dict, path: Optional[PathLike] = None, *,
                       rmbench_as_paper: Optional[dict] = None) -> list[dict]:
    """Paper vs this run for one paper model: rows of benchmark, metric, paper, ours, difference (ours - paper).

    `our_scores` is {benchmark: {metric: fraction}}, as rmr1lib.scoring.score_results returns. Every number the
    paper reports for the model appears once (the breakdown tables win over Table 1); "ours" and "difference"
    are None where this run has no value. The "average" row is the mean of our three benchmark scores.

    Every row says how "ours" was scored (`scoring`) and whether it is `like_for_like` with the paper's number.
    With `rmbench_as_paper` (RM-Bench scored with the reference aggregation, `score_rmbench(rows,
    reference_bug=True)`), the RM-Bench rows and the average appear twice: scored correctly (not like-for-like)
    and scored as the paper's script did (like-for-like).
    """
    if not isinstance(our_scores, dict):
        raise DataError(f"our_scores must be a dict {{benchmark: {{metric: value}}}}, got {type(our_scores).__name__}")
    name = resolve_model_name(model_name, path)
    chosen: dict[tuple[str, str], dict] = {}
    for row in sorted(paper_table(name, path=path), key=lambda r: TABLE_PREFERENCE.index(r["table"])):
        chosen.setdefault((row["benchmark"], row["metric"]), row)
    both = rmbench_as_paper is not None
    as_paper = {**our_scores, "rm-bench": rmbench_as_paper} if both else our_scores
    out = []
    for benchmark, metrics in ALL_METRICS.items():
        for metric in metrics:
            row = chosen.get((benchmark, metric))
            if row is None:
                continue
            ways = [("correct", our_scores, not (both and benchmark in ("rm-bench", "average")))]
            if both and benchmark in ("rm-bench", "average"):
                ways.append(("reference_aggregation", as_paper, True))
            for scoring, scores, like in ways:
                ours = _our_value(scores, benchmark, metric)
                out.append({"model": name, "benchmark": benchmark, "metric": metric, "table": row["table"],
                            "paper": row["value"], "ours": ours,
                            "difference": None if ours is None else ours - row["value"],
                            "scoring": scoring, "like_for_like": like})
    return out
