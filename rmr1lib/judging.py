"""Judge preference pairs with a generator and measure the judge: parse rate and verdict accuracy.

Used wherever a notebook asks "how good is the judge now?" (before/after SFT in 03, during GRPO in 04).
Benchmark evaluation (06) has its own item formats and orders but reads verdicts with the same parser.
Which verdict rule a number uses is always part of its name: `accuracy_strict` is the training reward's rule,
`accuracy_lenient` the evaluation parser's (docs/paper-settings.md).
"""

from __future__ import annotations

from math import comb
from statistics import mean
from typing import Optional, Sequence

from .parsing import parse_trace, parse_verdict
from .prompts import build_messages
from .rewards import winner_side


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


def score_judgement(text: str, winner: str) -> dict:
    """Parse one judgement and compare its verdict with the label under both rules."""
    right = winner_side(winner)
    strict, lenient = parse_verdict(text, "strict"), parse_verdict(text, "lenient")
    parsed = parse_trace(text)
    return {"verdict_strict": strict, "verdict_lenient": lenient, "correct_strict": int(strict == right),
            "correct_lenient": int(lenient == right), "complete": int(parsed.complete),
            "missing": parsed.missing, "chars": len(text)}


def judge_pairs(generator, rows: Sequence[dict], prompt_kind: str, settings, progress: bool = False) -> list[dict]:
    """Generate a judgement for every row and score it; one result dict per row, in order."""
    texts = generator.generate(judge_messages(rows, prompt_kind), settings, progress=progress)
    return [{"id": r["id"], "category": r.get("category"), "winner": r["winner"], "text": t,
             **score_judgement(t, r["winner"])} for r, t in zip(rows, texts)]


def verdict_metrics(results: Sequence[dict]) -> dict:
    """Parse rates, accuracies under both rules, complete-trace rate and mean length over judged rows."""
    if not results:
        return {"n": 0}
    return {
        "n": len(results),
        "parse_rate_strict": mean(r["verdict_strict"] is not None for r in results),
        "parse_rate_lenient": mean(r["verdict_lenient"] is not None for r in results),
        "accuracy_strict": mean(r["correct_strict"] for r in results),
        "accuracy_lenient": mean(r["correct_lenient"] for r in results),
        "complete_rate": mean(r["complete"] for r in results),
        "mean_chars": mean(r["chars"] for r in results),
    }


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
