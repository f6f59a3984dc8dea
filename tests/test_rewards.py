"""Tests for rmr1lib.rewards: verifiable and cold-start rewards, TRL 1.16 and verl adapters."""

import inspect
import pickle

import pytest

from rmr1lib import rewards
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.parsing import STRICT_WINDOW
from rmr1lib.prompts import PROMPT_KINDS
from rmr1lib.rewards import (
    cold_start_reward, compute_score, follows_format, make_trl_cold_start_reward, trl_cold_start_reward,
    trl_verifiable_reward, verifiable_reward, winner_side,
)

TAG_A, TAG_B = "<answer>[[A]]</answer>", "<answer>[[B]]</answer>"

CHAT = ("<type>Chat</type>\n<rubric>\n1. Accuracy (60%)\n2. Tone (40%)\n<justify>Facts first.</justify>\n"
        "</rubric>\n<eval><quote_A>Lima</quote_A> is right; <quote_B>Cusco</quote_B> is not.</eval>\n")
REASONING = ("<type>Reasoning</type>\n<solution>5</solution>\n"
             "<eval><summary_A>A says 5.</summary_A> <summary_B>B says 6.</summary_B></eval>\n")
RUBRIC_NO_TYPE = CHAT.replace("<type>Chat</type>\n", "")


# ---------------------------------------------------------------- labels
@pytest.mark.parametrize("label, side", [("model_a", "A"), ("model_b", "B"), ("A", "A"), ("B", "B"),
                                         (" Model_A ", "A"), ("b", "B")])
def test_winner_side(label, side):
    assert winner_side(label) == side


@pytest.mark.parametrize("label", ["tie", "model_c", "", None, 0, ["model_a"], "<type>Chat</type>" * 20])
def test_bad_winner_is_data_error_naming_value(label):
    with pytest.raises(DataError) as err:
        verifiable_reward(TAG_A, label)
    assert repr(label)[:30] in str(err.value)


def test_long_winner_hints_at_sft_data():
    with pytest.raises(DataError, match="distillation trace"):
        winner_side("x" * 500)


# ---------------------------------------------------------------- verifiable reward (paper Eq. 8)
@pytest.mark.parametrize("completion, winner, expected", [
    ("reasoning...\n" + TAG_A, "model_a", 1.0),
    ("reasoning...\n" + TAG_A, "model_b", -1.0),
    ("reasoning...\n" + TAG_B, "B", 1.0),
    (TAG_A + TAG_B, "model_a", -1.0),                       # both tags
    ("verdict [[A]]", "model_a", -1.0),                     # no answer tag
    (TAG_A + "\n" + "more text " * 10, "model_a", -1.0),    # outside the last 80 characters
    ("<think>[[B]] maybe</think>" + TAG_A, "model_a", 1.0),  # think block mentions B: strict ignores it
    ("long reasoning <answer>[[A", "model_a", -1.0),        # truncated
    ("", "model_a", -1.0),
    (None, "model_a", -1.0),
])
def test_verifiable_reward(completion, winner, expected):
    assert verifiable_reward(completion, winner) == expected


def test_verifiable_reward_only_two_values():
    for text in ["", TAG_A, TAG_B, TAG_A + TAG_B, "[[A]]", "x" * 1000 + TAG_B]:
        for w in ("model_a", "model_b"):
            assert verifiable_reward(text, w) in (1.0, -1.0)
    # exactly one side is rewarded for a clean tag
    assert verifiable_reward(TAG_B, "model_a") + verifiable_reward(TAG_B, "model_b") == 0.0


# ---------------------------------------------------------------- format and cold-start reward (paper Eq. 11)
def test_plain_judge_format():
    assert follows_format("I prefer A.\n" + TAG_A, "plain_judge")
    assert follows_format(TAG_B, "plain_judge")
    assert not follows_format("I prefer A. [[A]]", "plain_judge")
    assert not follows_format(TAG_A + " then " + TAG_A, "plain_judge")           # two tags
    assert not follows_format(TAG_A + "x" * STRICT_WINDOW, "plain_judge")         # not at the end
    assert not follows_format("<answer>A</answer>", "plain_judge")                # malformed content
    assert not follows_format("<answer>[[A]]</answer><answer>", "plain_judge")     # a second, unclosed tag
    assert not follows_format(None, "plain_judge")


def test_reasoning_model_format_needs_closed_think():
    assert follows_format("<think>A is right.</think>\n" + TAG_A, "reasoning_model")
    assert follows_format("A is right (think opened by the template).</think>\n" + TAG_A, "reasoning_model")
    assert not follows_format("<think>A is right.\n" + TAG_A, "reasoning_model")          # unclosed
    assert not follows_format("No think at all.\n" + TAG_A, "reasoning_model")
    assert not follows_format("<think>x</think><think>y</think>" + TAG_A, "reasoning_model")
    assert not follows_format("<think>x " + TAG_A + "</think>", "reasoning_model")         # answer inside think


def test_rubrics_only_format():
    assert follows_format(RUBRIC_NO_TYPE + TAG_A, "rubrics_only")
    unweighted = RUBRIC_NO_TYPE.replace(" (60%)", "").replace(" (40%)", "")
    assert not follows_format(unweighted + TAG_A, "rubrics_only")
    no_eval = RUBRIC_NO_TYPE.split("<eval>")[0]
    assert not follows_format(no_eval + TAG_A, "rubrics_only")
    assert not follows_format(RUBRIC_NO_TYPE, "rubrics_only")


def test_instruct_cor_format_by_branch():
    assert follows_format(CHAT + TAG_A, "instruct_cor")
    assert follows_format(REASONING + TAG_B, "instruct_cor")
    assert not follows_format(RUBRIC_NO_TYPE + TAG_A, "instruct_cor")           # no type
    assert not follows_format(REASONING.replace("<solution>5</solution>\n", "") + TAG_B, "instruct_cor")
    no_justify = CHAT.replace("<justify>Facts first.</justify>\n", "")
    assert not follows_format(no_justify + TAG_A, "instruct_cor")
    # a Reasoning-typed trace with a rubric but no solution does not satisfy its branch
    assert not follows_format(CHAT.replace("<type>Chat</type>", "<type>Reasoning</type>") + TAG_A, "instruct_cor")


@pytest.mark.parametrize("kind, good", [
    ("plain_judge", "A because of the facts.\n" + TAG_A),
    ("reasoning_model", "<think>facts</think>\n" + TAG_A),
    ("rubrics_only", RUBRIC_NO_TYPE + TAG_A),
    ("instruct_cor", CHAT + TAG_A),
])
def test_cold_start_reward_four_cases(kind, good):
    assert cold_start_reward(good, "model_a", kind) == 2.0          # right and well-formed
    assert cold_start_reward(good, "model_b", kind) == 1.0          # wrong but well-formed
    right_but_sloppy = good.replace(TAG_A, TAG_A + " " * STRICT_WINDOW)
    assert cold_start_reward(right_but_sloppy, "model_a", kind) == 0.0  # tag not at the end: neither term
    assert cold_start_reward("A wins [[A]]", "model_a", kind) == 0.0


def test_cold_start_answer_without_format():
    # correct strict verdict, but the instruct_cor format is not followed (no type/eval): answer only
    assert cold_start_reward("Obviously.\n" + TAG_A, "model_a", "instruct_cor") == 1.0
    assert cold_start_reward("Obviously.\n" + TAG_A, "model_a") == 2.0  # default kind plain_judge


def test_cold_start_unknown_kind():
    with pytest.raises(ConfigError, match="instruct_cor"):
        cold_start_reward(TAG_A, "model_a", "mt_bench")


def test_cold_start_range():
    for kind in PROMPT_KINDS:
        for text in ["", TAG_A, CHAT + TAG_B, "<think></think>" + TAG_A, TAG_A + TAG_B]:
            assert cold_start_reward(text, "A", kind) in (0.0, 1.0, 2.0)


# ---------------------------------------------------------------- TRL 1.16 adapters
def trl_kwargs(completions, winners, **extra):
    """The keyword arguments TRL 1.16's GRPOTrainer passes to a reward function."""
    logged = {}
    kwargs = dict(
        prompts=[[{"role": "user", "content": "judge this"}]] * len(completions),
        completions=completions,
        completion_ids=[[1, 2, 3]] * len(completions),
        winner=winners,
        source=["synthetic"] * len(completions),
        id=[str(i) for i in range(len(completions))],
        trainer_state=object(),
        log_extra=lambda column, values: logged.setdefault("extra", []).append((column, values)),
        log_metric=lambda name, value: logged.setdefault(name, []).append(value),
        **extra,
    )
    return kwargs, logged


def test_trl_verifiable_with_conversational_completions():
    completions = [
        [{"role": "assistant", "content": "A is right.\n" + TAG_A}],
        [{"role": "assistant", "content": "B is right.\n" + TAG_B}],
        [{"role": "assistant", "content": "no verdict"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "parts " + TAG_B}]}],
    ]
    kwargs, logged = trl_kwargs(completions, ["model_a", "model_a", "model_b", "model_b"])
    out = trl_verifiable_reward(**kwargs)
    assert out == [1.0, -1.0, -1.0, 1.0]
    assert all(isinstance(x, float) for x in out)
    assert logged["strict_verdict_rate"] == [0.75]


def test_trl_verifiable_with_string_completions_matches_scalar():
    texts = ["x " + TAG_A, TAG_B + "y" * 100, "", "<think>[[B]]</think>" + TAG_A]
    winners = ["model_a", "model_b", "model_a", "model_a"]
    kwargs, _ = trl_kwargs(texts, winners)
    assert trl_verifiable_reward(**kwargs) == [verifiable_reward(t, w) for t, w in zip(texts, winners)]


def test_trl_cold_start_default_and_column():
    texts = ["x " + TAG_A, CHAT + TAG_A]
    kwargs, logged = trl_kwargs(texts, ["model_a", "model_a"])
    assert trl_cold_start_reward(**kwargs) == [2.0, 2.0]                   # plain_judge default
    kwargs, _ = trl_kwargs(texts, ["model_a", "model_a"], prompt_kind=["instruct_cor"] * 2)
    assert trl_cold_start_reward(**kwargs) == [1.0, 2.0]
    assert "format_rate" in logged


def test_bound_cold_start_reward_is_picklable_and_named():
    fn = make_trl_cold_start_reward("rubrics_only")
    assert fn.__name__ == "cold_start_reward_rubrics_only"
    kwargs, _ = trl_kwargs([RUBRIC_NO_TYPE + TAG_B, "x " + TAG_B], ["model_b", "model_a"])
    assert fn(**kwargs) == [2.0, 0.0]
    clone = pickle.loads(pickle.dumps(fn))
    assert clone.__name__ == fn.__name__ and clone(**kwargs) == [2.0, 0.0]
    kwargs, _ = trl_kwargs(["x"], ["model_a"], prompt_kind=["instruct_cor"])
    with pytest.raises(DataError, match="bound to prompt kind 'rubrics_only'"):
        fn(**kwargs)
    with pytest.raises(ConfigError):
        make_trl_cold_start_reward("cor")


def test_trl_function_names_for_logging_and_pickling():
    assert trl_verifiable_reward.__name__ == "verifiable_reward"
    assert trl_cold_start_reward.__name__ == "cold_start_reward"
    assert pickle.loads(pickle.dumps(trl_verifiable_reward)) is trl_verifiable_reward
    params = inspect.signature(trl_verifiable_reward).parameters
    assert {"prompts", "completions", "winner"} <= set(params) and any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_trl_errors_name_the_problem():
    kwargs, _ = trl_kwargs([TAG_A, TAG_B], ["model_a"])
    with pytest.raises(DataError, match="1 values for 2 completions"):
        trl_verifiable_reward(**kwargs)
    kwargs, _ = trl_kwargs([TAG_A], ["model_a"])
    del kwargs["winner"]
    with pytest.raises(DataError, match="'winner'"):
        trl_verifiable_reward(**kwargs)
    kwargs, _ = trl_kwargs([TAG_A, {"content": TAG_A}], ["model_a", "model_a"])
    with pytest.raises(DataError, match=r"completions\[1\]"):
        trl_verifiable_reward(**kwargs)
    kwargs, _ = trl_kwargs([TAG_A], ["draw"])
    with pytest.raises(DataError, match="'draw'"):
        trl_verifiable_reward(**kwargs)


def test_trl_empty_batch_and_no_logger():
    assert trl_verifiable_reward(prompts=[], completions=[], winner=[]) == []
    assert trl_cold_start_reward(prompts=[TAG_A], completions=[TAG_A], winner=["A"]) == [2.0]


# ---------------------------------------------------------------- verl adapter
def test_verl_compute_score_signature_and_values():
    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert compute_score("rmr1", "x " + TAG_A, "model_a") == 1.0
    score = compute_score(data_source="rmr1", solution_str="x " + TAG_A, ground_truth="model_b",
                          extra_info={"index": 3}, reward_router_address=None)
    assert score == -1.0 and isinstance(score, float)
    with pytest.raises(DataError):
        compute_score("rmr1", TAG_A, "tie")


def test_verl_module_path_is_importable_by_name():
    import importlib
    module = importlib.import_module("rmr1lib.rewards")  # what verl's pkg://rmr1lib.rewards resolves to
    assert module.compute_score is rewards.compute_score
