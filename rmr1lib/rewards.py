"""Rewards for RL on the judge: the verifiable reward (paper Eq. 8) and the cold-start ablation (paper Eq. 11).

    verifiable_reward   +1 when the STRICT rule (final 80 characters, exact answer tag of one side; see
                        rmr1lib.parsing) gives the correct side, else -1 (missing, malformed, both tags,
                        truncated). No format term. This is the reward of RM-R1's GRPO stage.
                        `eos_text` reproduces the paper's exact window: its verl version decoded a response that
                        stopped at the end-of-sequence token WITH that token's text, so the 80 characters held
                        only 80 - len(eos_text) characters of judgement (70 for Qwen's "<|im_end|>"). Off by
                        default (profile key rl.reward_counts_eos).
    cold_start_reward   answer (1 if the strict verdict is correct, else 0) + format (1 if the output follows
                        the format of its prompt kind, else 0); range 0..2. See `follows_format`.

Adapters for the two RL stacks:
    TRL 1.16   `trl_verifiable_reward`, `trl_cold_start_reward`, `make_trl_cold_start_reward(kind)`: called
               with keyword arguments prompts, completions, completion_ids, every dataset column as a list
               (`winner` must be one), trainer_state, log_extra, log_metric; return one float per completion.
               Completions may be str or [{"role": "assistant", "content": str}].
    verl 0.9   `compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)` -> float,
               plugged in with reward.custom_reward_function.path=pkg://rmr1lib.rewards and .name=compute_score
               (a plain file path does not work: verl then loads this file outside its package, and the
               relative imports fail).

A label ("winner" / "ground_truth") is "model_a", "model_b", "A" or "B" (case and surrounding spaces ignored);
anything else is a DataError naming the value.

Pure core: standard library only.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from .errors import DataError
from .parsing import STRICT_WINDOW, answer_tags, parse_trace, parse_verdict
from .prompts import check_prompt_kind, output_format

_SIDES = {"model_a": "A", "model_b": "B", "a": "A", "b": "B"}


def winner_side(winner: Any) -> str:
    """Map a preference label ("model_a"/"model_b"/"A"/"B") to "A" or "B"; anything else is a DataError."""
    side = _SIDES.get(winner.strip().lower()) if isinstance(winner, str) else None
    if side is None:
        shown = repr(winner) if len(repr(winner)) <= 80 else repr(winner)[:77] + "..."
        hint = (" (a long text looks like a distillation trace: the Distill-SFT data keeps its SFT target in "
                "'winner')" if isinstance(winner, str) and len(winner) > 80 else "")
        raise DataError(f"preference label {shown} is not one of 'model_a', 'model_b', 'A', 'B'{hint}")
    return side


def verifiable_reward(completion: Any, winner: Any, eos_text: str = "") -> float:
    """+1.0 if the strict verdict (final 80 characters) names the correct side, else -1.0 (paper Eq. 8).

    `eos_text` is appended before the window is read (the paper's verl left it at the end of a finished response).
    """
    side = winner_side(winner)
    if eos_text and isinstance(completion, str):
        completion = completion + eos_text
    return 1.0 if parse_verdict(completion, "strict", STRICT_WINDOW) == side else -1.0


def _single_final_answer(text: str, window: int = STRICT_WINDOW) -> Optional[int]:
    """Start of the only answer element when there is exactly one, it holds [[A]]/[[B]] and sits in the window."""
    tags = answer_tags(text)
    if len(tags) != 1 or text.count("<answer>") != 1 or tags[0].side is None:
        return None
    return tags[0].start if tags[0].start >= len(text) - window else None


def follows_format(completion: Any, prompt_kind: str) -> bool:
    """Whether `completion` follows the output format its prompt kind asks for (the cold-start format term)."""
    prompt_kind = output_format(prompt_kind)  # authors: the format its learned prompt asks for
    if not isinstance(completion, str):
        return False
    answer_at = _single_final_answer(completion)
    if answer_at is None:  # every kind asks for exactly one verdict tag, at the very end
        return False
    if prompt_kind == "plain_judge":
        return True
    if prompt_kind == "reasoning_model":
        close = completion.find("</think>")
        return (close >= 0 and completion.count("</think>") == 1 and completion.count("<think>") <= 1
                and close < answer_at)
    parse = parse_trace(completion)
    if prompt_kind == "rubrics_only":
        return parse.rubric_weighted and bool(parse.eval) and parse.answer is not None
    return parse.type is not None and not parse.missing  # instruct_cor: the parts its branch needs


def cold_start_reward(completion: Any, winner: Any, prompt_kind: str = "plain_judge") -> float:
    """Answer (1/0, strict rule) + format (1/0, per prompt kind): 0..2 (paper Eq. 11)."""
    side = winner_side(winner)
    answer = 1.0 if parse_verdict(completion, "strict", STRICT_WINDOW) == side else 0.0
    return answer + (1.0 if follows_format(completion, prompt_kind) else 0.0)


# ----------------------------------------------------------------------------------------------------------
# TRL 1.16 adapters
# ----------------------------------------------------------------------------------------------------------
def completion_text(completion: Any, index: int = 0) -> str:
    """The text of one TRL completion: a str, or the assistant contents of a conversational completion."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, (list, tuple)):
        parts = []
        for j, message in enumerate(completion):
            if not isinstance(message, dict):
                raise DataError(f"completions[{index}][{j}] must be a message dict, got {type(message).__name__}")
            if message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
                parts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            elif content is not None:
                raise DataError(
                    f"completions[{index}][{j}]['content'] has type {type(content).__name__}; expected str"
                )
        return "".join(parts)
    raise DataError(
        f"completions[{index}] has type {type(completion).__name__}; expected str or a list of messages"
    )


def _column(values: Any, n: int, name: str) -> list:
    """A dataset column passed by TRL, checked to hold one value per completion."""
    if values is None:
        raise DataError(f"the reward needs a dataset column {name!r} (one label per row), but it was not passed")
    if isinstance(values, str) or not isinstance(values, Sequence):
        values = [values] * n
    if len(values) != n:
        raise DataError(f"column {name!r} has {len(values)} values for {n} completions")
    return list(values)


def _log(log_metric: Any, name: str, value: float) -> None:
    if callable(log_metric):
        log_metric(name, value)


def _finished(completion_ids: Any, index: int, eos_ids: Sequence[int]) -> bool:
    """Whether completion `index` stopped at an end-of-sequence token (TRL keeps that token in completion_ids)."""
    if completion_ids is None or index >= len(completion_ids) or not len(completion_ids[index]):
        return False
    return int(completion_ids[index][-1]) in set(int(i) for i in eos_ids)


def trl_verifiable_reward(prompts: Any = None, completions: Sequence[Any] = (), winner: Any = None,
                          eos_text: str = "", eos_ids: Sequence[int] = (), **kwargs: Any) -> list[float]:
    """TRL reward function: verifiable_reward for each completion (logs the strict parse rate).

    With `eos_text`, a completion that stopped at one of `eos_ids` (read from TRL's completion_ids) is read with
    that text appended, as the paper's verl did; a truncated completion is read as it is.
    """
    texts = [completion_text(c, i) for i, c in enumerate(completions)]
    winners = _column(winner, len(texts), "winner")
    ends = [eos_text if eos_text and _finished(kwargs.get("completion_ids"), i, eos_ids) else ""
            for i in range(len(texts))]
    rewards = [verifiable_reward(t, w, e) for t, w, e in zip(texts, winners, ends)]
    if texts:
        parsed = sum(parse_verdict(t, "strict") is not None for t in texts)
        _log(kwargs.get("log_metric"), "strict_verdict_rate", parsed / len(texts))
    return rewards


def trl_cold_start_reward(prompts: Any = None, completions: Sequence[Any] = (), winner: Any = None,
                          prompt_kind: Any = "plain_judge", **kwargs: Any) -> list[float]:
    """TRL reward function: cold_start_reward; prompt_kind is a str or a dataset column (default plain_judge)."""
    texts = [completion_text(c, i) for i, c in enumerate(completions)]
    winners = _column(winner, len(texts), "winner")
    kinds = _column(prompt_kind, len(texts), "prompt_kind")
    rewards = [cold_start_reward(t, w, k) for t, w, k in zip(texts, winners, kinds)]
    if texts:
        formatted = sum(follows_format(t, k) for t, k in zip(texts, kinds))
        _log(kwargs.get("log_metric"), "format_rate", formatted / len(texts))
    return rewards


# Names TRL shows in its logs (rewards/<name>/mean). __qualname__ is untouched, so pickling still works.
trl_verifiable_reward.__name__ = "verifiable_reward"
trl_cold_start_reward.__name__ = "cold_start_reward"


class TrlColdStartReward:
    """A picklable TRL reward function bound to one prompt kind (logged as cold_start_reward_<kind>)."""

    def __init__(self, prompt_kind: str) -> None:
        self.prompt_kind = check_prompt_kind(prompt_kind)
        self.__name__ = f"cold_start_reward_{prompt_kind}"

    def __call__(self, prompts: Any = None, completions: Sequence[Any] = (), winner: Any = None,
                 **kwargs: Any) -> list[float]:
        column = kwargs.pop("prompt_kind", None)
        if column is not None:
            given = {column} if isinstance(column, str) else set(column)
            if given - {self.prompt_kind}:
                raise DataError(
                    f"this reward is bound to prompt kind {self.prompt_kind!r} but the dataset's prompt_kind "
                    f"column holds {sorted(given)}"
                )
        return trl_cold_start_reward(prompts, completions, winner, prompt_kind=self.prompt_kind, **kwargs)


class TrlVerifiableReward:
    """A picklable TRL verifiable reward that counts the end-of-sequence text in the window (the paper's verl)."""

    def __init__(self, eos_text: str, eos_ids: Sequence[int]) -> None:
        if not eos_text or not eos_ids:
            raise DataError("TrlVerifiableReward needs the tokenizer's end-of-sequence text and token ids")
        self.eos_text, self.eos_ids = eos_text, [int(i) for i in eos_ids]
        self.__name__ = "verifiable_reward"

    def __call__(self, prompts: Any = None, completions: Sequence[Any] = (), winner: Any = None,
                 **kwargs: Any) -> list[float]:
        return trl_verifiable_reward(prompts, completions, winner, eos_text=self.eos_text, eos_ids=self.eos_ids,
                                     **kwargs)


def make_trl_cold_start_reward(prompt_kind: str) -> Callable[..., list[float]]:
    """A TRL reward function computing cold_start_reward with the format rules of `prompt_kind`."""
    return TrlColdStartReward(prompt_kind)


# ----------------------------------------------------------------------------------------------------------
# verl adapter
# ----------------------------------------------------------------------------------------------------------
def compute_score(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None,
                  **kwargs: Any) -> float:
    """verl custom reward: verifiable_reward(solution_str, ground_truth) as a float.

    `eos_text` (verl's reward.custom_reward_function.reward_kwargs) appends the end-of-sequence text before the
    window is read, as the paper's verl version did; current verl decodes without it.
    """
    return verifiable_reward(solution_str, ground_truth, kwargs.get("eos_text") or "")
