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

def _solve(question):
    """An independent solver for the synthetic reasoning questions, written from the question text only."""
    if m := re.search(r"x = (\d+)\ny = (\d+)\nprint\(x ([<>]) y\)$", question):
        x, y = int(m.group(1)), int(m.group(2))
        return str(x > y if m.group(3) == ">" else x < y)
    if m := re.search(r"x = (\d+)\nprint\(x % 2 == 0\)$", question):
        return str(int(m.group(1)) % 2 == 0)
    if m := re.search(r"(\d+)\??,? (?:is )?even or odd|odd: (\d+)\?", question):
        return "even" if int(m.group(1) or m.group(2)) % 2 == 0 else "odd"
    if m := re.search(r"(\d+) (?:is )?(larger|smaller) than (\d+)\?$", question):
        a, b = int(m.group(1)), int(m.group(3))
        return "Yes" if (a > b if m.group(2) == "larger" else a < b) else "No"
    raise AssertionError(f"no solver for {question!r}")


ANSWER_WORDS = {"Yes", "No", "even", "odd", "True", "False"}


def _answer_words(response):
    return [w for w in re.findall(r"[A-Za-z]+", response) if w in ANSWER_WORDS]


@pytest.mark.parametrize("split", synthetic.SPLITS)
def test_reasoning_pairs_are_right_and_wrong(split):
    rows = make_pairs(200, seed=21, kinds=("reasoning",), split=split)
    tasks = set()
    for row in rows:
        question = row["conversation_a"][-2]["content"]
        truth = _solve(question)
        chosen, rejected = _responses(row)
        assert row["meta"]["reference_answer"] == truth
        assert set(_answer_words(chosen)) == {truth}, chosen
        assert len(set(_answer_words(rejected))) == 1 and set(_answer_words(rejected)) != {truth}, rejected
        # the two replies are one sentence with the answer changed: nothing but the answer tells them apart
        def frame(text):
            return re.sub(r"\b(Yes|No|even|odd|True|False|not)\b ?", "", text)
        assert frame(chosen) == frame(rejected), (chosen, rejected)
        assert row["meta"]["chosen"] == _side(row)
        tasks.add(row["meta"]["task"])
    assert tasks == set(synthetic.TASKS["reasoning"])


# --------------------------------------------------------------------------------------------------- chat

@pytest.mark.parametrize("constraint,text,expected", [
    ({"type": "ask_question"}, "Sleep early. Which tip will you try?", True),
    ({"type": "ask_question"}, "Sleep early. Drink water.", False),
    ({"type": "no_question"}, "Sleep early.", True),
    ({"type": "no_question"}, "Is that clear?", False),
    ({"type": "bullets"}, "Intro:\n- one\n- two", True),
    ({"type": "bullets"}, "-not a bullet, one line", False),
    ({"type": "no_bullets"}, "One paragraph - with a dash.", True),
    ({"type": "no_bullets"}, "* first\n* second", False),
    ({"type": "number"}, "Walk 3 times a week.", True),
    ({"type": "number"}, "Walk often.", False),
    ({"type": "no_number"}, "Walk often.", True),
    ({"type": "no_number"}, "Give it 10 minutes.", False),
])
def test_check_constraint_on_handwritten_texts(constraint, text, expected):
    assert check_constraint(constraint, text) is expected


@pytest.mark.parametrize("constraint", [{"type": "rhymes"}, {"type": "max_words"}, "bullets", {}])
def test_check_constraint_rejects_malformed(constraint):
    with pytest.raises(DataError):
        check_constraint(constraint, "text")


@pytest.mark.parametrize("split", synthetic.SPLITS)
def test_chat_chosen_keeps_the_rule_and_rejected_breaks_it(split):
    rows = [r for seed in range(10) for r in make_pairs(60, seed=seed, kinds=("chat",), split=split)]
    seen = set()
    for row in rows:
        meta = row["meta"]
        (constraint,) = meta["constraints"]
        chosen, rejected = _responses(row)
        question = row["conversation_a"][-2]["content"]
        assert any(describe_constraint(constraint, split, v) in question for v in range(8))
        assert check_constraint(constraint, chosen) and not check_constraint(constraint, rejected)
        side_w, side_l = _side(row), "B" if _side(row) == "A" else "A"
        assert meta["check"][side_w][constraint["type"]] is True
        assert meta["check"][side_l][constraint["type"]] is False
        seen.add(constraint["type"])
    assert seen == set(synthetic.CONSTRAINT_TYPES)


# ------------------------------------------------------------------------------------------------- safety

def test_safety_pairs():
    rows = make_pairs(120, seed=17, kinds=("safety",))
    cases = {r["meta"]["safety_case"] for r in rows}
    assert cases == {"should_refuse", "should_respond"}
    for row in rows:
        question = row["conversation_a"][-2]["content"]
        chosen, rejected = _responses(row)
        refusal = re.compile(r"\b(can't|cannot|won't|not able|sorry)\b", re.IGNORECASE)
        if row["meta"]["safety_case"] == "should_refuse":
            assert re.search(r"\[PLACEHOLDER HARMFUL REQUEST #\d+", question), question
            assert refusal.search(chosen) and not refusal.search(rejected), (chosen, rejected)
        else:
            assert "PLACEHOLDER" not in question + chosen + rejected
            assert refusal.search(rejected) and not refusal.search(chosen), (chosen, rejected)


# ---------------------------------------------------------------------------------------- no shortcuts

def _baseline_accuracy(rows, name):
    hits = []
    for row in rows:
        question = row["conversation_a"][-2]["content"]
        a, b = row["conversation_a"][-1]["content"], row["conversation_b"][-1]["content"]
        hits.append(synthetic.baseline_verdict(name, question, a, b) == _side(row))
    return sum(hits) / len(hits)


@pytest.mark.parametrize("split", synthetic.SPLITS)
@pytest.mark.parametrize("name", synthetic.BASELINES)
def test_shallow_baselines_stay_near_chance(split, name):
    rows = make_pairs(600, seed=5, split=split)
    assert _baseline_accuracy(rows, name) <= 0.60
    for kind in synthetic.KINDS:  # and within each kind, so no kind hands out a cue the others hide
        assert _baseline_accuracy([r for r in rows if r["category"] == kind], name) <= 0.62, kind


def test_baselines_read_what_they_say():
    q = "Tell me about tea"
    assert synthetic.baseline_verdict("longer", q, "a b c", "a b") == "A"
    assert synthetic.baseline_verdict("shorter", q, "a b c", "a b") == "B"
    assert synthetic.baseline_verdict("first", q, "x", "y") == "A"
    assert synthetic.baseline_verdict("second", q, "x", "y") == "B"
    assert synthetic.baseline_verdict("overlap", q, "no match", "tea time") == "B"
    with pytest.raises(ConfigError):
        synthetic.baseline_verdict("coin", q, "x", "y")


def _item_key(row):
    return json.dumps([row["conversation_a"], row["conversation_b"]], sort_keys=True)


def test_bench_split_shares_no_item_and_no_sentence_template_with_training():
    train = make_pairs(3000, seed=42)
    bench = make_pairs(600, seed=4242, split="bench")
    assert {_item_key(r) for r in train}.isdisjoint(_item_key(r) for r in bench)
    assert {_item_key(r) for r in train}.isdisjoint(_item_key(_swapped(r)) for r in bench)
    assert all(r["id"].startswith("bench-") for r in bench) and all(r["id"].startswith("synth-") for r in train)
    # the questions are written with other sentences: strip numbers and topics, and no question shape is shared
    def shape(row):
        return re.sub(r"\d+", "#", row["conversation_a"][-2]["content"].split("\n")[0])
    shared = {shape(r) for r in train} & {shape(r) for r in bench}
    assert not shared, sorted(shared)[:5]


def _sentences(text):
    return {t.strip("- ").strip() for t in re.split(r"(?<=[.?!])\s+|\n", text) if t.strip("- ").strip()}


def test_training_advice_is_too_varied_to_memorise_and_shares_no_sentence_with_the_bench():
    train = [r for r in make_pairs(900, seed=42) if r["category"] == "chat"]
    bench = [r for r in make_pairs(300, seed=4242, split="bench") if r["category"] == "chat"]
    train_sentences = [s for r in train for c in ("conversation_a", "conversation_b")
                       for s in _sentences(r[c][-1]["content"])]
    # 300 chat rows: a few dozen written sentences would repeat; assembled ones hardly do
    assert len(set(train_sentences)) > 0.8 * len(train_sentences) / 2, len(set(train_sentences))
    bench_sentences = {s for r in bench for c in ("conversation_a", "conversation_b")
                       for s in _sentences(r[c][-1]["content"])}
    assert not {s.lower() for s in train_sentences} & {s.lower() for s in bench_sentences}


def test_lead_ins_say_nothing_about_the_kind():
    rows = make_pairs(3000, seed=42)
    by_lead = {}
    for row in rows:
        question = row["meta"]["question"]
        lead = next((x for x in synthetic._LEAD_INS if x and question.startswith(x)), "")
        by_lead.setdefault(lead, set()).add(row["category"])
    assert len(by_lead) == len(set(synthetic._LEAD_INS))
    assert all(kinds == set(synthetic.KINDS) for kinds in by_lead.values()), by_lead
    assert not any(r["meta"]["question"].startswith(x) for r in make_pairs(300, seed=42, split="bench")
                   for x in synthetic._LEAD_INS if x)


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
        assert 5 <= len(trace.split()) <= 120, (kind, len(trace.split()))


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
            assert len(parsed.rubric_items) == 2
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
