"""Judge preference pairs with a generator and measure the judge: parse rate and verdict accuracy.

Used wherever a notebook asks "how good is the judge now?" (before/after SFT in 03, during GRPO in 04).
Benchmark evaluation (06) has its own item formats and orders but reads verdicts with the same parser.
Which verdict rule a number uses is always part of its name: `accuracy_strict` is the training reward's rule,
`accuracy_lenient` the evaluation parser's (docs/paper-settings.md).
"""

from __future__ import annotations

from statistics import mean
from typing import Sequence

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
