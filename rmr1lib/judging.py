"""Judge preference pairs with a generator and measure the judge: parse rate, verdict accuracy, position bias.

Used wherever a notebook asks "how good is the judge now?" (before/after SFT in 03, during GRPO in 04).
Benchmark evaluation (06) has its own item formats but reads verdicts with the same parser and reports position
bias with the same definitions (rmr1lib.scoring.summarize_orders). Which verdict rule a number uses is always part
of its name: `accuracy_strict` is the training reward's rule, `accuracy_lenient` the evaluation parser's.

Position bias. A judge that learned the output format but not the judgement tends to name the same letter
whatever the pair; its accuracy then hides the problem (a judge that always answers "B" scores about 0.5 on
randomly placed pairs). So every measurement here reports the share of "A" and "B" verdicts, the accuracy when
the preferred response is shown as A and when it is shown as B, and, when every pair is judged in both orders,
the position consistency: the share of pairs whose two verdicts name the same response.
"""

from __future__ import annotations

import math
import re
from math import comb
from statistics import mean
from typing import Optional, Sequence

from .errors import ConfigError, DataError
from .parsing import parse_trace, parse_verdict
from .prompts import build_messages
from .rewards import winner_side
from .scoring import comparison_key
from .synthetic import BASELINES, baseline_verdict, chat_steps, mixed_chat_rows, rule_in_question, solution_steps

ORDERS = ("AB", "BA")  # AB: the preferred response is shown as A


def judge_messages(rows: Sequence[dict], prompt_kind: str) -> list[list[dict]]:
    """The judge prompt for each row: rendered from its raw pair with an explicit prompt kind, or, for
    released rows that carry only the authors' rendered prompt (no raw pair), their `context_messages`."""
    out = []
    for r in rows:
        if r.get("conversation_a") is not None and r.get("conversation_b") is not None:
            out.append(build_messages(prompt_kind, r["conversation_a"], r["conversation_b"]))
        else:
            out.append(list(r["context_messages"]))
    return out


def has_responses(row: dict) -> bool:
    """Whether a preference row carries its two conversations (conversation_a/_b), not only a rendered prompt."""
    return bool(row.get("conversation_a")) and bool(row.get("conversation_b"))


def swap_sides(row: dict) -> dict:
    """The same pair with responses A and B exchanged (and the label with them); rendered prompts are dropped."""
    if not has_responses(row):
        raise ValueError(f"row {row.get('id')!r} has no raw pair (conversation_a/_b) to swap")
    out = {k: v for k, v in row.items() if k != "context_messages"}
    out["conversation_a"], out["conversation_b"] = row["conversation_b"], row["conversation_a"]
    out["winner"] = "model_b" if winner_side(row["winner"]) == "A" else "model_a"
    return out


def score_judgement(text: str, winner: str) -> dict:
    """Parse one judgement and compare its verdict with the label under both rules."""
    right = winner_side(winner)
    strict, lenient = parse_verdict(text, "strict"), parse_verdict(text, "lenient")
    parsed = parse_trace(text)
    return {"verdict_strict": strict, "verdict_lenient": lenient, "correct_strict": int(strict == right),
            "correct_lenient": int(lenient == right), "complete": int(parsed.complete),
            "missing": parsed.missing, "chars": len(text)}


def judge_pairs(generator, rows: Sequence[dict], prompt_kind: str, settings, progress: bool = False,
                orders: str = "given") -> list[dict]:
    """Judge every row and score it. `orders="given"`: each pair as placed; `"both"`: as placed and swapped
    (two results per pair, for position consistency). A prompt-only row (a released RL row keeps only the rendered
    prompt, see `has_responses`) cannot be swapped and is judged once, as placed, under either setting. Each result
    carries its `order` ("AB": preferred is A)."""
    if orders not in ("given", "both"):
        raise ValueError(f"orders must be 'given' or 'both', got {orders!r}")
    shown = list(rows) if orders == "given" else \
        [x for r in rows for x in ((r, swap_sides(r)) if has_responses(r) else (r,))]
    texts = generator.generate(judge_messages(shown, prompt_kind), settings, progress=progress)
    return [{"id": r["id"], "category": r.get("category"), "task": (r.get("meta") or {}).get("task"),
             "winner": r["winner"], "order": "AB" if winner_side(r["winner"]) == "A" else "BA", "text": t,
             **score_judgement(t, r["winner"])} for r, t in zip(shown, texts)]


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (successes out of n)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def clustered_interval(values: Sequence[float], clusters: Sequence, z: float = 1.96) -> tuple[float, float, int]:
    """(low, high, number of clusters): the 95% interval of the mean of `values` when the values of one cluster are
    not independent (the two orders of one pair, RM-Bench's nine style pairs of one item). Cluster-robust standard
    error of a mean: sqrt(C / (C - 1) * sum over clusters of (cluster sum - mean * cluster size)^2) / N, with C
    clusters and N values; with one value per cluster it is the usual binomial one. (0, 1) below two clusters; at
    a mean of 0 or 1 the Wilson interval of that many items."""
    values, clusters = list(values), list(clusters)
    if len(values) != len(clusters):
        raise ConfigError(f"clustered_interval: {len(values)} values but {len(clusters)} cluster keys")
    sums: dict = {}
    for v, c in zip(values, clusters):
        total, size = sums.get(c, (0.0, 0))
        sums[c] = (total + float(v), size + 1)
    n, k = len(values), len(sums)
    if k < 2:
        return (0.0, 1.0, k)
    p = sum(values) / n
    if p in (0.0, 1.0):  # nothing varies, so no spread to estimate: the Wilson interval of k items all wrong or right
        return (*wilson_interval(p * k, k), k)
    spread = sum((total - p * size) ** 2 for total, size in sums.values())
    half = z * math.sqrt(k / (k - 1) * spread) / n
    return (max(0.0, p - half), min(1.0, p + half), k)


def position_consistency(results: Sequence[dict], rule: str = "lenient") -> Optional[float]:
    """Share of pairs judged in both orders whose two parsed verdicts name the same response (None if none)."""
    by_id: dict = {}
    for r in results:
        if "id" in r:
            by_id.setdefault(r["id"], {})[_order(r)] = r
    both = [v for v in by_id.values() if set(v) >= set(ORDERS)]
    if not both:
        return None
    key, ok = f"verdict_{rule}", f"correct_{rule}"
    return mean(v["AB"][key] is not None and v["BA"][key] is not None and v["AB"][ok] == v["BA"][ok] for v in both)


def verdict_metrics(results: Sequence[dict]) -> dict:
    """Parse rates, accuracies under both rules (with a 95% interval), verdict shares, accuracy per position,
    position consistency (when pairs were judged in both orders), complete-trace rate and mean length."""
    if not results:
        return {"n": 0}
    n = len(results)
    correct = sum(r["correct_lenient"] for r in results)
    low, high = wilson_interval(correct, n)
    out = {
        "n": n,
        "parse_rate_strict": mean(r["verdict_strict"] is not None for r in results),
        "parse_rate_lenient": mean(r["verdict_lenient"] is not None for r in results),
        "accuracy_strict": mean(r["correct_strict"] for r in results),
        "accuracy_lenient": correct / n,
        "accuracy_ci95_low": low,
        "accuracy_ci95_high": high,
        "share_A": mean(r["verdict_lenient"] == "A" for r in results),
        "share_B": mean(r["verdict_lenient"] == "B" for r in results),
    }
    for order, side in zip(ORDERS, "AB"):
        mine = [r["correct_lenient"] for r in results if _order(r) == order]
        if mine:
            out[f"accuracy_preferred_{side}"] = mean(mine)
    ids = [r.get("id") for r in results]
    if None not in ids and len(set(ids)) < n:  # a pair judged in both orders: its two judgements count together
        out["items"] = len(set(ids))
        out["accuracy_ci95_items_low"], out["accuracy_ci95_items_high"], _ = clustered_interval(
            [r["correct_lenient"] for r in results], ids)
    consistency = position_consistency(results)
    if consistency is not None:
        out["position_consistency"] = consistency
    out["complete_rate"] = mean(r["complete"] for r in results)
    out["mean_chars"] = mean(r["chars"] for r in results)
    return out


def verdict_metrics_by(results: Sequence[dict], *keys: str) -> dict:
    """`verdict_metrics` of each group of results that share the values of `keys` (e.g. "category", or "category"
    and "task"), in sorted order; a group is named by its value, or by the tuple of values for several keys."""
    if not keys:
        raise ConfigError("verdict_metrics_by: name at least one key to group by (e.g. 'category')")
    groups: dict = {}
    for i, r in enumerate(results):
        missing = [k for k in keys if k not in r]
        if missing:
            raise DataError(f"verdict_metrics_by: result {i} (id {r.get('id')!r}) has no {missing}")
        value = tuple(r[k] for k in keys)
        groups.setdefault(value[0] if len(keys) == 1 else value, []).append(r)
    return {name: verdict_metrics(groups[name]) for name in sorted(groups, key=str)}


_FINAL_ANSWER = re.compile(r"^\s*Final answer:\s*(\S+?)[.!]?\s*$", re.MULTILINE)


def _final_answer(result: dict) -> Optional[str]:
    """The word on the last "Final answer:" line of the trace's <solution>, or None."""
    found = _FINAL_ANSWER.findall(parse_trace(result.get("text", "")).solution or "")
    return found[-1] if found else None


def _answer_counts(answers: Sequence[tuple]) -> dict:
    counts: dict = {}
    for group, word, _ in answers:
        counts.setdefault(group, {})
        counts[group][word] = counts[group].get(word, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: str(kv[0]))
    return {k: dict(sorted(v.items(), key=lambda kv: -kv[1])) for k, v in ordered}


def _stated_answers(results: Sequence[dict], key: str) -> list[tuple]:
    """(group, final answer word, result) for every result whose trace states a final answer."""
    answers = [(r.get(key), _final_answer(r), r) for r in results]
    return [a for a in answers if a[1] is not None]


def final_answers_by(results: Sequence[dict], key: str = "task") -> dict:
    """For the results whose trace states a final answer in its solution (a line "Final answer: WORD" inside
    <solution>, as the smoke teacher writes them): how often each answer word was given, per value of `key`."""
    return _answer_counts(_stated_answers(results, key))


def reference_answers(rows: Sequence[dict]) -> dict:
    """Row id -> the right answer, for the rows that carry one (synthetic reasoning pairs: meta.reference_answer);
    the `references` of `describe_final_answers`. A row without an id raises DataError naming its position."""
    out = {}
    for i, row in enumerate(rows):
        meta = row.get("meta") or {}
        if "reference_answer" not in meta:
            continue
        if "id" not in row:
            raise DataError(f"row {i} has a reference answer but no 'id'")
        out[row["id"]] = meta["reference_answer"]
    return out


def describe_final_answers(results: Sequence[dict], who: str = "The judge", key: str = "task",
                           references: Optional[dict] = None, share: float = 0.9, at_least: int = 8) -> list[str]:
    """Sentences, computed from the traces, about the judge's own final answers (`final_answers_by`), one per task
    (or other `key`) with at least `at_least` of them. Where one word is at least `share` of them the judge does not
    solve the problem, whatever its accuracy there. With `references` (result
    id -> the right answer), each sentence also says how many final answers were right. Empty when no trace states
    a final answer."""
    answers = _stated_answers(results, key)
    right: dict = {}
    for group, word, r in answers:
        if references and r.get("id") in references:
            right[group] = right.get(group, 0) + (word.lower() == str(references[r["id"]]).lower())
    lines = []
    for group, words in _answer_counts(answers).items():
        n = sum(words.values())
        if n < at_least:
            continue
        word, top = next(iter(words.items()))
        scored = f" ({right[group]} of them right)" if group in right else ""
        if top / n >= share:
            lines.append(f"{who}'s own final answer on {group} pairs was \"{word}\" in {top} of {n} judgements"
                         f"{scored}: it does not solve these problems, whatever its accuracy on them (a fixed "
                         f"answer is right exactly as often as \"{word}\" happens to be).")
        else:
            mix = ", ".join(f"\"{w}\" {c}" for w, c in words.items())
            lines.append(f"{who}'s own final answers on {group} pairs: {mix} of {n} judgements{scored}.")
    return lines


def solution_steps_by(results: Sequence[dict], rows: Sequence[dict], key: str = "task") -> dict:
    """For reasoning judgements of synthetic pairs (`rows` carry the teacher's solution in meta["solution"]): per
    value of `key`, how many traces have a readable "Asked:" line, and in how many of those the judge restated the
    problem as the teacher did, found what its own restatement gives, and gave the final answer its own two lines
    give (`synthetic.solution_steps`)."""
    asked_by_id = {}
    for row in rows:
        teacher = solution_steps((row.get("meta") or {}).get("solution") or "")
        if teacher:
            asked_by_id[row.get("id")] = teacher["asked"]
    out: dict = {}
    for r in results:
        if r.get("id") not in asked_by_id:
            continue
        group = out.setdefault(r.get(key), {"judgements": 0, "readable": 0, "asked_right": 0, "found_follows": 0,
                                            "final_follows": 0})
        group["judgements"] += 1
        steps = solution_steps(parse_trace(r.get("text", "")).solution or "")
        if steps is None:
            continue
        group["readable"] += 1
        group["asked_right"] += steps["asked"] == asked_by_id[r["id"]]
        group["found_follows"] += steps["found_follows"]
        group["final_follows"] += steps["final_follows"]
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))


def describe_solution_steps(steps_by: dict, who: str = "The judge") -> list[str]:
    """One sentence per group of `solution_steps_by`: where in its own solution the judge goes wrong (the step
    with the fewest successes; of steps that tie, the earliest)."""
    lines = []
    for group, c in steps_by.items():
        if not c["judgements"]:
            continue
        if not c["readable"]:
            lines.append(f"{who} wrote no readable \"Asked:\" line in any of its {c['judgements']} {group} "
                         "judgements.")
            continue
        n = c["readable"]
        rates = {"restated": c["asked_right"] / n, "found": c["found_follows"] / n, "final": c["final_follows"] / n}
        weakest = min(rates, key=rates.get)
        step = {"restated": "restating the question", "found": "the step that solves its own restatement",
                "final": "turning its own two lines into the final answer"}[weakest]
        lines.append(f"{who}, on {group} pairs ({n} of {c['judgements']} judgements with a readable solution): "
                     f"restated the question as asked in {c['asked_right']}, solved its own restatement in "
                     f"{c['found_follows']}, and gave the final answer its own two lines give in {c['final_follows']}. "
                     f"The weakest step is {step}.")
    return lines


def chat_cases_from_rows(results: Sequence[dict], rows: Sequence[dict]) -> list[tuple]:
    """(result, question, response A, response B) for each judgement of a preference row (`judge_pairs` results,
    matched to `rows` by id), with the replies in the order the judge saw them (`order`)."""
    by_id = {r.get("id"): r for r in rows if has_responses(r)}
    cases = []
    for res in results:
        row = by_id.get(res.get("id"))
        if row is None or res.get("order") not in ("AB", "BA"):
            continue
        shown = row if (winner_side(row["winner"]) == "A") == (res["order"] == "AB") else swap_sides(row)
        cases.append((res, _last_user_turn(shown["conversation_a"]), shown["conversation_a"][-1].get("content", ""),
                      shown["conversation_b"][-1].get("content", "")))
    return cases


def chat_cases_from_comparisons(results: Sequence[dict], comparisons: Sequence) -> list[tuple]:
    """(result, question, response A, response B) for each benchmark result row whose comparison is in
    `comparisons` (rmr1lib.benchmarks.Comparison), with the replies in the order the judge saw them."""
    by_key = {c.key(): c for c in comparisons}
    cases = []
    for res in results:
        c = by_key.get(comparison_key(res))
        if c is None or res.get("order") not in ("AB", "BA"):
            continue
        a, b = c.conversations(res["order"])
        cases.append((res, _last_user_turn(c.context), a[-1]["content"], b[-1]["content"]))
    return cases


#: what chat_steps_by counts for each rule
_CHAT_COUNTS = ("judgements", "rule_read", "replies_read", "decision_follows", "right")


def _chat_totals(steps_by: dict) -> dict:
    """chat_steps_by's counts summed over the rules."""
    return {k: sum(g[k] for g in steps_by.values()) for k in _CHAT_COUNTS}


def chat_steps_by(cases: Sequence[tuple]) -> dict:
    """For the judgements of chat pairs whose client states one of the synthetic rules (`cases` from
    `chat_cases_from_rows` or `chat_cases_from_comparisons`; the others are left out): per rule, how many
    judgements name that rule in their first rubric criterion, read both replies right for the rule they name, and
    give the verdict their own look-up gives (`synthetic.chat_steps`), and how many are right."""
    out: dict = {}
    for res, question, response_a, response_b in cases:
        rule = rule_in_question(question)
        if rule is None:
            continue
        group = out.setdefault(rule, dict.fromkeys(_CHAT_COUNTS, 0))
        steps = chat_steps(res.get("text", ""), rule, response_a, response_b)
        group["judgements"] += 1
        for name in ("rule_read", "replies_read", "decision_follows"):
            group[name] += steps[name]
        group["right"] += bool(res.get("correct_lenient", res.get("correct")))
    return dict(sorted(out.items()))


def describe_chat_steps(steps_by: dict, who: str = "The judge") -> list[str]:
    """A sentence about `chat_steps_by` for all rules together, naming the weakest step when one fails (the step
    with the fewest successes; of steps that tie, the earliest) and the rules where it fails most. Empty when there
    are no chat judgements with a stated rule."""
    c = _chat_totals(steps_by)
    if not c["judgements"]:
        return []
    names = {"rule_read": "reading the client's rule", "replies_read": "reading the replies",
             "decision_follows": "turning its own look-up into the verdict"}
    line = (f"{who}, on {c['judgements']} judgements of chat pairs with a stated rule ({c['right']} right): named the "
            f"client's rule in {c['rule_read']}, read both replies right for the rule it named in "
            f"{c['replies_read']}, and gave the verdict its own look-up gives in {c['decision_follows']}.")
    weakest = min(names, key=lambda k: c[k])
    if c[weakest] < c["judgements"]:
        worst = sorted(((g[weakest] / g["judgements"], rule) for rule, g in steps_by.items() if g["judgements"]
                        and g[weakest] < g["judgements"]))[:2]
        where = " and ".join(f"'{rule}' ({steps_by[rule][weakest]} of {steps_by[rule]['judgements']})"
                             for _, rule in worst)
        line += f" The weakest step is {names[weakest]}, weakest of all on {where}."
    return [line]


#: reply_wording_probe's conditions: (client's message from split, replies from split, RM-Bench style of the replies)
WORDING_CONDITIONS = {
    "training question, training replies": ("train", "train", 0),
    "training question, benchmark replies": ("train", "bench", 0),
    "benchmark question, training replies": ("bench", "train", 0),
    "benchmark question, benchmark replies": ("bench", "bench", 0),
    "benchmark question, benchmark replies in markdown": ("bench", "bench", 2),
}


def reply_wording_probe(generator, prompt_kind: str, settings, n: int = 40, seed: int = 1_000_003,
                        progress: bool = False) -> dict:
    """Which part of a benchmark chat pair a judge's reading depends on: `n` chat pairs per condition of
    WORDING_CONDITIONS (the client's message from one split, the replies from another, `synthetic.mixed_chat_rows`),
    each judged in both orders, and `chat_steps_by` summed over the rules. The default seed is one no workbook run
    trains on. Returns {condition: {"judgements", "rule_read", "replies_read", "decision_follows", "right"}}."""
    rows = {name: mixed_chat_rows(n, seed, q, r, style) for name, (q, r, style) in WORDING_CONDITIONS.items()}
    flat = [row for group in rows.values() for row in group]
    results = judge_pairs(generator, flat, prompt_kind, settings, progress=progress, orders="both")
    out = {}
    for name, group in rows.items():
        ids = {row["id"] for row in group}
        out[name] = _chat_totals(chat_steps_by(chat_cases_from_rows([r for r in results if r["id"] in ids], group)))
    return out


_ASKED = re.compile(r"^\s*Asked:\s*is\s+\S+\s+(larger|smaller|even or odd|even)\b", re.MULTILINE)
_ASSIGNMENT = re.compile(r"^\s*x\s*=", re.MULTILINE)


def trace_reading(text: str) -> str:
    """What task the judge says it is judging, read from its own trace: "chat: " and the first rubric criterion
    (without its weight), or "reasoning: " and the operation its solution restates on an "Asked:" line (the smoke
    teacher's form; "program" when the solution first copies a program's assignments), or just the type when
    neither is there; "no type" when the trace states none. Two judgements with the same reading were, as far as
    the judge's own words go, the same kind of question."""
    parsed = parse_trace(text or "")
    kind = (parsed.type or "").strip().lower()
    if kind == "chat":
        first = parsed.first_criterion
        return f"chat: {first}" if first else "chat"
    if kind == "reasoning":
        solution = parsed.solution or ""
        asked = _ASKED.search(solution)
        if _ASSIGNMENT.search(solution):
            return "reasoning: program"
        if asked:
            return f"reasoning: {'parity' if asked.group(1) == 'even or odd' else asked.group(1)}"
        return "reasoning"
    return kind or "no type"


def describe_readings(by_reading: dict, who: str = "The judge", share: float = 0.9, at_least: int = 8) -> list[str]:
    """Sentences, computed from metrics per reading (`verdict_metrics` keys, e.g. from
    `scoring.pooled_metrics_by_reading`), on whether the verdict depends on the replies or only on the task the
    judge reads. A reading with at least `at_least` judgements whose readable verdicts are one letter in at least
    `share` of them is decided by the question alone: the replies, shown in both orders, cannot change it."""
    fixed, varied = [], []
    for name, m in by_reading.items():
        n = m.get("n", 0)
        readable = round(n * (m.get("share_A", 0.0) + m.get("share_B", 0.0)))
        if n < at_least or not readable:
            continue
        a = round(n * m.get("share_A", 0.0))
        letter, top = ("A", a) if a >= readable - a else ("B", readable - a)
        right = round(n * m.get("accuracy_lenient", 0.0))
        if top / readable >= share:
            fixed.append((name, letter, top, n, right))
        else:
            varied.append((name, n, right, m.get("position_consistency")))
    if not fixed and not varied:
        return [f"{who} has no reading with at least {at_least} judgements."]
    lines = []
    if fixed:
        listed = "; ".join(f"{name!r}: \"{letter}\" in {top} of {n}" for name, letter, top, n, _ in fixed)
        right, total = sum(f[4] for f in fixed), sum(f[3] for f in fixed)
        lines.append(f"On {len(fixed)} of the {len(fixed) + len(varied)} readings with at least {at_least} "
                     f"judgements, {who.lower() if who != 'The judge' else 'the judge'} names one letter at least "
                     f"{share:.0%} of the time whatever the order ({listed}). There its verdict follows the question it "
                     f"reads, not the replies, and it is right in {right} of {total} judgements.")
    if varied:
        listed = "; ".join(f"{name!r}: {right} of {n} right" + (f", consistency {c:.2f}" if c is not None else "")
                           for name, n, right, c in varied)
        lines.append(f"Where the verdict does vary with the replies: {listed}.")
    return lines


def _order(result: dict) -> Optional[str]:
    if "order" in result:
        return result["order"]
    if "winner" not in result:
        return None
    return "AB" if winner_side(result["winner"]) == "A" else "BA"


def describe_accuracy(metrics: dict, who: str = "The judge", chance: float = 0.5) -> str:
    """A sentence, computed from `verdict_metrics`, placing the accuracy and its 95% interval against a coin flip."""
    if not metrics.get("n"):
        return f"{who} has judged nothing yet."
    acc = metrics["accuracy_lenient"]
    if "accuracy_ci95_items_low" in metrics:  # judgements of one pair or item are not independent
        low, high = metrics["accuracy_ci95_items_low"], metrics["accuracy_ci95_items_high"]
        sentence = (f"{who} picked the labelled response in {acc:.0%} of {metrics['n']} judgements of "
                    f"{metrics['items']} items (95% interval {low:.2f}-{high:.2f}, counting each item's judgements "
                    f"together); ")
    else:
        low, high = metrics["accuracy_ci95_low"], metrics["accuracy_ci95_high"]
        sentence = (f"{who} picked the labelled response in {acc:.0%} of {metrics['n']} judgements "
                    f"(95% interval {low:.2f}-{high:.2f}); ")
    if low > chance:
        sentence += f"the whole interval lies above {chance:.2f}, so this is more than coin flips."
    elif high < chance:
        sentence += f"the whole interval lies below {chance:.2f}: worse than coin flips (see the position bias)."
    else:
        sentence += f"the interval contains {chance:.2f}, so coin flips could give the same."
    return sentence


def describe_position_bias(metrics: dict, who: str = "The judge") -> str:
    """A sentence, computed from `verdict_metrics`, saying how the judge splits its verdicts between A and B
    and whether it prefers one position."""
    if not metrics.get("n"):
        return f"{who} has judged nothing yet."
    a, b = metrics.get("share_A", 0.0), metrics.get("share_B", 0.0)
    pa, pb = metrics.get("accuracy_preferred_A"), metrics.get("accuracy_preferred_B")
    parts = [f"{who} answered A in {a:.0%} and B in {b:.0%} of {metrics['n']} judgements"]
    if metrics.get("parse_rate_lenient", 1.0) < 1.0:
        parts[-1] += f" ({1 - metrics['parse_rate_lenient']:.0%} unreadable)"
    if pa is not None and pb is not None:
        parts.append(f"it picked the preferred response {pa:.0%} of the time when it was shown as A and {pb:.0%} "
                     "when it was shown as B")
    consistency = metrics.get("position_consistency")
    if consistency is not None:
        parts.append(f"in {consistency:.0%} of the pairs judged in both orders it named the same response twice")
    sentence = "; ".join(parts) + "."
    readable = a + b
    if readable and max(a, b) / readable >= 0.8:
        letter = "A" if a > b else "B"
        sentence += (f" That is a position bias: {who.lower() if who != 'The judge' else 'the judge'} mostly "
                     f"answers \"{letter}\" whatever the pair, so its accuracy says little about its judgement.")
    elif pa is not None and pb is not None and abs(pa - pb) >= 0.3:
        better = "A" if pa > pb else "B"
        sentence += f" It is clearly better when the preferred response is shown as {better}: a position bias."
    elif consistency is not None and consistency < 0.5:
        sentence += " Fewer than half of its verdicts survive swapping the two responses."
    else:
        sentence += " No strong preference for either position."
    return sentence


def _last_user_turn(conversation: Sequence[dict]) -> str:
    users = [m.get("content", "") for m in conversation if m.get("role") == "user"]
    return users[-1] if users else ""


def baseline_items_from_pairs(rows: Sequence[dict], orders: str = "given") -> list[dict]:
    """Shortcut-baseline items (question, response_a, response_b, truth) from preference rows, as placed
    ("given") or in both orders ("both", as the judge is measured when it is judged both ways)."""
    items = []
    for row in rows:
        if not has_responses(row):
            raise DataError(f"row {row.get('id')!r} has no conversation_a/conversation_b (a prompt-only released "
                            "row): the shortcut baselines read the two responses; pass only rows for which "
                            "judging.has_responses is true")
        for placed in ([row] if orders == "given" else [row, swap_sides(row)]):
            items.append({"question": _last_user_turn(placed["conversation_a"][:-1]),
                          "response_a": placed["conversation_a"][-1]["content"],
                          "response_b": placed["conversation_b"][-1]["content"],
                          "truth": winner_side(placed["winner"])})
    return items


def baseline_items_from_comparisons(comparisons: Sequence, orders: Sequence[str] = ORDERS) -> list[dict]:
    """Shortcut-baseline items from benchmark comparisons (rmr1lib.benchmarks.Comparison), in each order; each
    carries the benchmark item it was made from (`rmr1lib.scoring.source_item`), for the interval by item."""
    from .scoring import source_item

    items = []
    for c in comparisons:
        question = _last_user_turn(c.context)
        source = source_item(c.row_fields())
        for order in orders:
            a, b = (c.chosen, c.rejected) if order == "AB" else (c.rejected, c.chosen)
            items.append({"question": question, "response_a": a, "response_b": b,
                          "truth": "A" if order == "AB" else "B", "item": source})
    return items


def baseline_scores(items: Sequence[dict]) -> dict[str, dict]:
    """Accuracy (with a 95% interval) of every shortcut baseline in rmr1lib.synthetic.BASELINES on `items`:
    the floor a judge must clear before its accuracy says anything about judgement. Items that all carry an
    `item` key (benchmark comparisons) also get `items` and the interval by item (`clustered_interval`), the one
    a judge's pooled accuracy quotes."""
    out = {}
    n = len(items)
    by_item = n > 0 and all("item" in i for i in items)
    for name in BASELINES:
        right = [int(baseline_verdict(name, i["question"], i["response_a"], i["response_b"]) == i["truth"])
                 for i in items]
        hits = sum(right)
        low, high = wilson_interval(hits, n) if n else (float("nan"), float("nan"))
        out[name] = {"n": n, "accuracy": hits / n if n else float("nan"), "ci95_low": low, "ci95_high": high}
        if by_item:  # items that carry their source item (benchmark comparisons): the interval by item as well
            item_low, item_high, count = clustered_interval(right, [i["item"] for i in items])
            out[name].update(items=count, ci95_items_low=item_low, ci95_items_high=item_high)
    return out


# ----------------------------------------------------------------------------------------------------------
# Sentences computed from the numbers: what a notebook says about a judge holds whatever the run produced.


def coin_flip_band(n: int, level: float = 0.95) -> tuple[float, float]:
    """The accuracies that `n` fair coin flips land inside with probability at least `level` (exact binomial).

    The band is [k/n, (n-k)/n] for the largest k with P(X < k) <= (1 - level) / 2, X ~ Binomial(n, 1/2).
    """
    if n <= 0:
        raise ValueError(f"coin_flip_band: need at least one pair, got n={n}")
    tail, k, below = (1 - level) / 2, 0, 0.0
    while True:
        below_next = below + comb(n, k) / 2 ** n  # P(X < k + 1)
        if below_next > tail:
            break
        below, k = below_next, k + 1
    return k / n, (n - k) / n


def accuracy_against_chance(accuracy: float, n: int, level: float = 0.95) -> str:
    """A sentence placing an accuracy on `n` pairs below, inside or above the coin-flip band."""
    lo, hi = coin_flip_band(n, level)
    band = f"the {level:.0%} coin-flip band for {n} pairs ({lo:.2f} to {hi:.2f})"
    if accuracy < lo:
        return (f"{accuracy:.3f} is below {band}: more wrong or unreadable verdicts than guessing would give, "
                "more than bad luck explains")
    if accuracy > hi:
        return f"{accuracy:.3f} is above {band}: better than guessing, beyond what luck explains"
    return f"{accuracy:.3f} is inside {band}: on this many pairs it cannot be told apart from guessing"


def verdict_pattern(verdicts: Sequence[Optional[str]], count_missing: bool = True) -> str:
    """Which side a judge names, as a phrase: 'always answers B', 'answers A 5 times and B 3 times', ...

    `verdicts` are 'A', 'B' or None (no readable verdict), one per judgement; `count_missing` adds how many
    had none.
    """
    n = len(verdicts)
    a, b = sum(v == "A" for v in verdicts), sum(v == "B" for v in verdicts)
    none = n - a - b
    if n == 0:
        return "judged nothing"
    if a + b == 0:
        return f"gives no readable verdict in any of its {n} judgements"
    if a == 0 or b == 0:
        side = "A" if b == 0 else "B"
        phrase = f"always answers {side}"
    else:
        phrase = f"answers A {a} times and B {b} times"
    if none and count_missing:
        phrase += f" ({none} of {n} judgements without a readable verdict)"
    return phrase


def describe_judge(results: Sequence[dict], name: str = "the judge", rule: str = "lenient") -> str:
    """A sentence on judged pairs (as `judge_pairs` returns): readable verdicts, the side it picks, what a
    one-sided habit earns on these labels, and where the accuracy sits against coin flips."""
    if not results:
        return f"{name} judged no pairs."
    verdicts = [r[f"verdict_{rule}"] for r in results]
    n = len(results)
    accuracy = mean(r[f"correct_{rule}"] for r in results)
    parsed = sum(v is not None for v in verdicts)
    if parsed == 0:
        text = f"{name} gives no readable verdict on any of the {n} pairs ({rule} rule)."
    else:
        habit = verdict_pattern(verdicts, count_missing=False)
        text = (f"{name} gives a readable verdict on {parsed} of {n} pairs ({rule} rule) and "
                + habit + (" when it gives one" if parsed < n and habit.startswith("always") else "") + ".")
    sides = {v for v in verdicts if v is not None}
    if len(sides) == 1:
        side = sides.pop()
        share = mean(winner_side(r["winner"]) == side for r in results)
        text += (f" A judge that always answers {side} is right exactly on the pairs whose preferred answer is "
                 f"{side}, a share of {share:.2f} here.")
    return text + f" Its accuracy {accuracy_against_chance(accuracy, n)}."


__all__ = ["ORDERS", "has_responses", "baseline_items_from_pairs", "baseline_items_from_comparisons", "baseline_scores",
           "judge_messages", "swap_sides", "score_judgement", "judge_pairs", "wilson_interval", "clustered_interval",
           "position_consistency", "verdict_metrics", "verdict_metrics_by", "final_answers_by",
           "reference_answers", "describe_final_answers", "trace_reading", "describe_readings", "solution_steps_by",
           "chat_cases_from_rows", "chat_cases_from_comparisons", "chat_steps_by", "describe_chat_steps",
           "WORDING_CONDITIONS", "reply_wording_probe",
           "describe_solution_steps", "describe_accuracy", "describe_position_bias",
           "coin_flip_band", "accuracy_against_chance", "verdict_pattern", "describe_judge"]
