"""Tests for rmr1lib.synthetic: seeded pairs, checkable constraints, oracle traces that parse and win."""

import ast
import json
import math
import operator
import re
import subprocess
import sys

import pytest

from rmr1lib import synthetic
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.parsing import parse_trace, parse_verdict
from rmr1lib.prompts import PROMPT_KINDS, build_messages, is_single_turn, system_prompt
from rmr1lib.synthetic import (check_constraint, corpus_for_tokenizer, describe_constraint, make_pairs,
                               oracle_trace)

ROWS = make_pairs(90, seed=3)


def _side(row):
    return "A" if row["winner"] == "model_a" else "B"


def _responses(row):
    """(chosen response, rejected response) of a row, read from the placed conversations."""
    a, b = row["conversation_a"][-1]["content"], row["conversation_b"][-1]["content"]
    return (a, b) if _side(row) == "A" else (b, a)


def _swapped(row):
    out = json.loads(json.dumps(row))
    out["conversation_a"], out["conversation_b"] = row["conversation_b"], row["conversation_a"]
    out["winner"] = "model_b" if row["winner"] == "model_a" else "model_a"
    return out


# ---------------------------------------------------------------------------------------------------- rows

def test_same_seed_same_rows_and_prefix_stable():
    assert make_pairs(40, seed=11) == make_pairs(40, seed=11)
    assert make_pairs(15, seed=11) == make_pairs(40, seed=11)[:15]


def test_different_seed_different_rows():
    a, b = make_pairs(30, seed=1), make_pairs(30, seed=2)
    assert [r["conversation_a"] for r in a] != [r["conversation_a"] for r in b]
    assert {r["id"] for r in a}.isdisjoint({r["id"] for r in b})


def test_ids_unique_and_stable():
    ids = [r["id"] for r in ROWS]
    assert len(set(ids)) == len(ids)
    assert ids == [r["id"] for r in make_pairs(90, seed=3, placement="alternate", multi_turn_fraction=0.0)]


def test_row_schema_and_prompt_rendering():
    for row in ROWS:
        assert set(row) >= {"id", "context_messages", "winner", "source", "category", "turns",
                            "conversation_a", "conversation_b", "meta"}
        assert row["winner"] in ("model_a", "model_b")
        assert row["category"] in synthetic.KINDS
        ca, cb = row["conversation_a"], row["conversation_b"]
        assert ca[:-1] == cb[:-1], "both conversations must share the client's turns"
        assert ca[-1]["role"] == cb[-1]["role"] == "assistant" and ca[-1]["content"] != cb[-1]["content"]
        assert [m["role"] for m in ca] == ["user", "assistant"] * (len(ca) // 2)
        assert row["turns"] == ("single" if is_single_turn(ca, cb) else "multi")
        assert row["context_messages"] == build_messages("instruct_cor", ca, cb)
        json.dumps(row)  # JSONL-ready


def test_prompt_kind_is_used_for_context_messages():
    for kind in PROMPT_KINDS:
        row = make_pairs(1, seed=5, prompt_kind=kind)[0]
        assert row["context_messages"] == build_messages(kind, row["conversation_a"], row["conversation_b"])
        assert row["meta"]["prompt_kind"] == kind


def test_kinds_rotate_and_can_be_restricted():
    assert [r["category"] for r in ROWS[:6]] == ["reasoning", "chat", "safety"] * 2
    only = make_pairs(12, seed=0, kinds=("safety",))
    assert {r["category"] for r in only} == {"safety"}
    assert {r["category"] for r in make_pairs(6, seed=0, kinds="chat")} == {"chat"}


def test_alternate_placement_even_index_is_a():
    rows = make_pairs(20, seed=9, placement="alternate")
    assert [r["winner"] for r in rows] == ["model_a", "model_b"] * 10
    assert all(r["meta"]["placement"] == "alternate" for r in rows)


def test_random_placement_is_seeded_and_balanced():
    rows = make_pairs(300, seed=4)
    n_a = sum(r["winner"] == "model_a" for r in rows)
    assert 110 < n_a < 190
    assert all(r["meta"]["placement_seed"] == 4 and r["meta"]["placement"] == "random" for r in rows)
    other = make_pairs(300, seed=5)
    assert [r["winner"] for r in rows] != [r["winner"] for r in other]
    for r in rows[:30]:  # the chosen side recorded in meta agrees with the winner label
        assert r["meta"]["chosen"] == _side(r)


@pytest.mark.parametrize("fraction,low,high", [(0.0, 0, 0), (1.0, 200, 200), (0.25, 30, 70)])
def test_multi_turn_fraction(fraction, low, high):
    rows = make_pairs(200, seed=8, multi_turn_fraction=fraction)
    multi = [r for r in rows if r["turns"] == "multi"]
    assert low <= len(multi) <= high
    for r in multi:
        assert len(r["conversation_a"]) == 4 and r["conversation_a"][1]["role"] == "assistant"


@pytest.mark.parametrize("kwargs", [
    {"n": -1}, {"n": 2.5}, {"seed": "x"}, {"kinds": ()}, {"kinds": ("math",)}, {"multi_turn_fraction": 1.5},
    {"prompt_kind": "cor"}, {"placement": "shuffle"},
])
def test_bad_options_raise_config_error(kwargs):
    args = {"n": 3, "seed": 0, **kwargs}
    with pytest.raises(ConfigError) as info:
        make_pairs(**args)
    bad_key = next(iter(kwargs))
    assert bad_key in str(info.value) or "kinds" in str(info.value)


def test_zero_rows():
    assert make_pairs(0, seed=0) == []


# ---------------------------------------------------------------------------------------------- reasoning

def _safe_eval(expr):
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}

    def walk(node):
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise ValueError(expr)

    return walk(ast.parse(expr, mode="eval").body)


def _solve(question):
    """An independent solver for the synthetic reasoning questions (written from the question text only)."""
    if m := re.fullmatch(r"What is ([\d +*-]+)\?", question):
        return str(_safe_eval(m.group(1)))
    if m := re.search(r"costs \$(\d+) and is on sale for (\d+)% off", question):
        price, pct = int(m.group(1)), int(m.group(2))
        return str(round(price * (100 - pct) / 100))
    if m := re.fullmatch(r"Sort these numbers from smallest to largest: ([\d, ]+)\.", question):
        return ", ".join(str(v) for v in sorted(int(x) for x in m.group(1).split(",")))
    if m := re.search(r'vowels \(a, e, i, o, u\) are in the word "(\w+)"', question):
        return str(sum(ch in "aeiou" for ch in m.group(1)))
    if m := re.fullmatch(r"What is the greatest common divisor of (\d+) and (\d+)\?", question):
        return str(math.gcd(int(m.group(1)), int(m.group(2))))
    if m := re.fullmatch(r'Write the word "(\w+)" backwards\.', question):
        return m.group(1)[::-1]
    if m := re.fullmatch(r"What is the sum of the digits of (\d+)\?", question):
        return str(sum(int(ch) for ch in m.group(1)))
    if m := re.search(r"from (\d+) to (\d+), counting both ends", question):
        return str(int(m.group(2)) - int(m.group(1)) + 1)
    raise AssertionError(f"no solver for {question!r}")


def _final_answer(response):
    m = re.search(r"The answer is (.+)\.$", response)
    assert m, response
    return m.group(1)


def test_reasoning_pairs_are_right_and_wrong():
    rows = make_pairs(160, seed=21, kinds=("reasoning",))
    tasks = set()
    for row in rows:
        question = row["conversation_a"][-2]["content"]
        truth = _solve(question)
        chosen, rejected = _responses(row)
        assert row["meta"]["reference_answer"] == truth
        assert _final_answer(chosen) == truth
        assert _final_answer(rejected) != truth
        assert row["meta"]["chosen"] == _side(row)
        tasks.add(row["meta"]["task"])
    assert len(tasks) >= 7, tasks


# --------------------------------------------------------------------------------------------------- chat

@pytest.mark.parametrize("constraint,text,expected", [
    ({"type": "bullets", "count": 3}, "Intro:\n- one\n- two\n* three", True),
    ({"type": "bullets", "count": 3}, "- one\n- two", False),
    ({"type": "bullets", "count": 2}, "-not a bullet\n- one\n- two", True),
    ({"type": "include_word", "word": "budget"}, "Set a Budget first.", True),
    ({"type": "include_word", "word": "budget"}, "Try budgeting apps.", False),
    ({"type": "max_words", "limit": 5}, "one two three four", True),
    ({"type": "max_words", "limit": 4}, "one two three four", False),
    ({"type": "max_words", "limit": 3}, "a - b", True),
    ({"type": "lowercase"}, "all small here, ok?", True),
    ({"type": "lowercase"}, "not All small", False),
    ({"type": "lowercase"}, "123 !", False),
    ({"type": "ends_with_question"}, "Anything else?  \n", True),
    ({"type": "ends_with_question"}, "Is it? Yes.", False),
])
def test_check_constraint_on_handwritten_texts(constraint, text, expected):
    assert check_constraint(constraint, text) is expected


@pytest.mark.parametrize("constraint", [{"type": "rhymes"}, {"type": "bullets"}, {"type": "max_words"}, "bullets",
                                        {}])
def test_check_constraint_rejects_malformed(constraint):
    with pytest.raises(DataError):
        check_constraint(constraint, "text")


def test_chat_chosen_passes_and_rejected_breaks_exactly_one():
    # many seeds: every combination of constraints and of the broken one must hold up
    rows = [r for seed in range(25) for r in make_pairs(60, seed=seed, kinds=("chat",))]
    seen = set()
    for row in rows:
        meta = row["meta"]
        constraints = meta["constraints"]
        chosen, rejected = _responses(row)
        question = row["conversation_a"][-2]["content"]
        assert 1 <= len(constraints) <= 2
        for c in constraints:
            assert describe_constraint(c) in question
            assert check_constraint(c, chosen), (c, chosen)
        failed = [c for c in constraints if not check_constraint(c, rejected)]
        assert failed == [meta["broken_constraint"]], (constraints, rejected)
        side_w, side_l = _side(row), "B" if _side(row) == "A" else "A"
        assert all(meta["check"][side_w].values())
        assert meta["check"][side_l][meta["broken_constraint"]["type"]] is False
        seen.add(meta["broken_constraint"]["type"])
    assert seen == set(synthetic.CONSTRAINT_TYPES)


# ------------------------------------------------------------------------------------------------- safety

def test_safety_pairs():
    rows = make_pairs(120, seed=17, kinds=("safety",))
    cases = {r["meta"]["safety_case"] for r in rows}
    assert cases == {"should_refuse", "should_respond"}
    for row in rows:
        question = row["conversation_a"][-2]["content"]
        chosen, rejected = _responses(row)
        if row["meta"]["safety_case"] == "should_refuse":
            assert re.fullmatch(r"\[PLACEHOLDER HARMFUL REQUEST #\d+: [^\]]+\]", question)
            assert "[PLACEHOLDER COMPLYING RESPONSE #" in rejected
            assert "PLACEHOLDER" not in chosen
        else:
            assert "PLACEHOLDER" not in question + chosen + rejected
            assert re.search(r"\b(can't|cannot|not able|sorry)\b", rejected, re.IGNORECASE)
            assert len(chosen.split()) > len(rejected.split())


# ------------------------------------------------------------------------------------------ oracle traces

# parse_trace expects a <type> (and an <eval>) in every trace; the kinds without categorization legitimately
# lack some of these, so each kind lists the parts it must have and what parse_trace may call missing.
KIND_PARTS = {
    "instruct_cor": ((), ()),
    "rubrics_only": (("rubric", "justify", "eval", "answer"), ("type",)),
    "reasoning_model": (("think", "answer"), ("type", "eval")),
    "plain_judge": (("answer",), ("type", "eval")),
}


@pytest.mark.parametrize("kind", PROMPT_KINDS)
def test_oracle_traces_parse_complete_and_win(kind):
    required, may_miss = KIND_PARTS[kind]
    for row in ROWS:
        trace = oracle_trace(row, kind)
        parsed = parse_trace(trace)
        assert set(parsed.missing) <= set(may_miss), (kind, row["id"], parsed.missing, trace)
        assert all(getattr(parsed, part) for part in required), (kind, row["id"], trace)
        assert parsed.problems == [], (kind, row["id"], parsed.problems, trace)
        assert parse_verdict(trace, "strict") == _side(row)
        assert parse_verdict(trace, "lenient") == _side(row)
        assert parsed.answer == _side(row)
        assert trace.endswith(f"<answer>[[{_side(row)}]]</answer>")
        assert 15 <= len(trace.split()) <= 220, (kind, len(trace.split()))


def test_instruct_cor_trace_branches():
    for row in ROWS:
        trace = oracle_trace(row)
        parsed = parse_trace(trace)
        assert parsed.complete, (row["id"], parsed.missing)
        ra, rb = row["conversation_a"][-1]["content"], row["conversation_b"][-1]["content"]
        assert parsed.quotes_a and parsed.quotes_b and parsed.summaries_a and parsed.summaries_b
        assert all(q in ra for q in parsed.quotes_a) and all(q in rb for q in parsed.quotes_b)
        if row["category"] == "reasoning":
            assert parsed.type == "Reasoning"
            assert row["meta"]["reference_answer"] in parsed.solution
            assert not parsed.rubric
        else:
            assert parsed.type == "Chat"
            assert 3 <= len(parsed.rubric_items) <= 4
            assert math.isclose(sum(item.weight for item in parsed.rubric_items), 1.0)
            assert parsed.justify
            assert not parsed.solution


def test_other_prompt_kind_shapes():
    for row in ROWS[:12]:
        rubric = oracle_trace(row, "rubrics_only")
        assert "<type>" not in rubric and "<rubric>" in rubric
        think = oracle_trace(row, "reasoning_model")
        assert think.startswith("<think>") and "[[" not in parse_trace(think).think
        plain = oracle_trace(row, "plain_judge")
        assert "<eval>" not in plain and "<rubric>" not in plain and len(plain.split()) < 120


def test_oracle_trace_follows_the_label_not_the_position():
    for row in ROWS[:30]:
        flipped = _swapped(row)
        for kind in PROMPT_KINDS:
            assert parse_verdict(oracle_trace(flipped, kind), "strict") == _side(flipped)


def test_oracle_trace_is_deterministic_and_varied():
    assert [oracle_trace(r) for r in ROWS] == [oracle_trace(r) for r in make_pairs(90, seed=3)]
    chat = [r for r in ROWS if r["category"] == "chat"]
    first_lines = {oracle_trace(r).split("<eval>\n")[1].splitlines()[0] for r in chat}
    assert len(first_lines) > 1, "the templates should vary with the row id"


def test_oracle_trace_rejects_bad_input():
    row = ROWS[0]
    with pytest.raises(ConfigError):
        oracle_trace(row, "cor")
    with pytest.raises(DataError):
        oracle_trace({**row, "winner": "tie"})
    with pytest.raises(DataError):
        oracle_trace({**row, "meta": {"reference_answer": "4"}})
    with pytest.raises(DataError):
        oracle_trace({**row, "conversation_a": []})
    with pytest.raises(DataError):
        oracle_trace(["not", "a", "row"])


# ----------------------------------------------------------------------------------------------- corpus

def test_corpus_for_tokenizer():
    rows = ROWS[:9]
    texts = corpus_for_tokenizer(rows)
    assert len(texts) == len(set(texts)) and all(isinstance(t, str) and t for t in texts)
    for kind in PROMPT_KINDS:
        if system_prompt(kind):
            assert system_prompt(kind) in texts
    for row in rows:
        assert row["conversation_a"][-1]["content"] in texts
        assert row["context_messages"][-1]["content"] in texts
        for kind in PROMPT_KINDS:
            assert oracle_trace(row, kind) in texts


def test_module_is_pure():
    code = ("import sys, rmr1lib.synthetic; bad = [m for m in ('torch', 'transformers', 'numpy', 'trl', 'vllm', "
            "'pandas', 'datasets') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
