"""Tests for rmr1lib.parsing: strict vs lenient verdict rules and the never-raising trace parser."""

import json

import pytest

from rmr1lib.errors import ConfigError
from rmr1lib.parsing import (
    EXPECTED_PARTS, STRICT_WINDOW, RubricItem, TraceParse, answer_tags, parse_trace, parse_verdict,
)

TAG_A, TAG_B = "<answer>[[A]]</answer>", "<answer>[[B]]</answer>"


def chat_trace(weights=(40, 35, 25), verdict="A", justify_inside=True):
    """A well-formed Chat-branch trace written by hand."""
    items = "\n".join(f"{i + 1}. Criterion number {i + 1} ({w}%)" for i, w in enumerate(weights))
    justify = "<justify>These matter most for a travel question.</justify>"
    rubric = f"<rubric>\n{items}\n{justify if justify_inside else ''}\n</rubric>"
    if not justify_inside:
        rubric += "\n" + justify
    return (
        "<type>Chat</type>\n" + rubric + "\n"
        "<eval>\nChatbot A says <quote_A>Lima is the capital</quote_A>, which is right. "
        "<summary_A>A answers directly.</summary_A>\n"
        "Chatbot B claims <quote_B>It is Cusco</quote_B>. <summary_B>B is wrong.</summary_B>\n"
        "A second point: <quote_A>capital</quote_A>.\n</eval>\n"
        f"<answer>[[{verdict}]]</answer>"
    )


def reasoning_trace(verdict="B"):
    """A well-formed Reasoning-branch trace written by hand."""
    return (
        "<type>Reasoning</type>\n<solution>2 + 3 = 5</solution>\n"
        "<eval>A writes <quote_A>6</quote_A>; B writes <quote_B>5</quote_B>.</eval>\n"
        f"<answer>[[{verdict}]]</answer>\n"
    )


# ---------------------------------------------------------------- parse_verdict
@pytest.mark.parametrize("mode", ["strict", "lenient"])
@pytest.mark.parametrize("side", ["A", "B"])
def test_clean_verdict_both_rules(mode, side):
    assert parse_verdict(f"Some reasoning.\n<answer>[[{side}]]</answer>", mode) == side


@pytest.mark.parametrize("text, strict, lenient", [
    # the think block mentions the other side: strict reads only the tail, lenient sees both tokens
    ("<think>Maybe [[B]]? No.</think>\n" + TAG_A, "A", None),
    # both tags at the end: neither rule decides
    (f"{TAG_A} {TAG_B}", None, None),
    # verdict outside the final 80 characters
    (TAG_A + "\n" + "Further remarks that go on. " * 5, None, "A"),
    # [[A]] without the answer tag
    ("My verdict: [[A]]", None, "A"),
    # tag with spaces inside is not the exact tag
    ("<answer> [[B]] </answer>", None, "B"),
    # truncated output: the tag never finished
    ("Long reasoning ... <answer>[[A]", None, None),
    ("Long reasoning ... <answer>[[B]]</ans", None, "B"),
    # nothing at all
    ("", None, None),
    ("I cannot decide.", None, None),
    # lower-case letter is not a verdict
    ("<answer>[[a]]</answer>", None, None),
])
def test_strict_and_lenient_disagree(text, strict, lenient):
    assert parse_verdict(text, "strict") == strict
    assert parse_verdict(text, "lenient") == lenient


def test_whitespace_after_tag_counts_against_window():
    short = TAG_B + "\n\n  \n"
    assert parse_verdict(short, "strict") == "B"
    long_tail = TAG_B + " " * (STRICT_WINDOW - len(TAG_B) + 1)  # the tag's first char falls out of the window
    assert parse_verdict(long_tail, "strict") is None
    assert parse_verdict(long_tail, "lenient") == "B"


def test_window_boundary_is_exact():
    filler = "x" * 200
    exactly = filler + TAG_A + "y" * (STRICT_WINDOW - len(TAG_A))
    assert len(exactly) - exactly.index(TAG_A) == STRICT_WINDOW
    assert parse_verdict(exactly, "strict") == "A"
    one_more = exactly + "y"
    assert parse_verdict(one_more, "strict") is None
    assert parse_verdict(one_more, "strict", window=STRICT_WINDOW + 1) == "A"


def test_other_tag_just_outside_window_is_ignored_by_strict():
    text = TAG_B + "z" * STRICT_WINDOW + TAG_A
    assert parse_verdict(text, "strict") == "A"
    assert parse_verdict(text, "lenient") is None


@pytest.mark.parametrize("bad", [None, 3, b"<answer>[[A]]</answer>", ["<answer>[[A]]</answer>"]])
def test_non_str_text_gives_none(bad):
    assert parse_verdict(bad, "strict") is None
    assert parse_verdict(bad, "lenient") is None


@pytest.mark.parametrize("mode", ["loose", "STRICT", "", None])
def test_bad_mode(mode):
    with pytest.raises(ConfigError, match="strict"):
        parse_verdict(TAG_A, mode)


@pytest.mark.parametrize("window", [0, -5, 2.5, True, "80"])
def test_bad_window_is_refused_by_both_readers(window):
    """One rule: a bad window is the caller's mistake, and both the verdict rule and the trace parser say so."""
    with pytest.raises(ConfigError, match="window"):
        parse_verdict(TAG_A, "strict", window=window)
    with pytest.raises(ConfigError, match="window"):
        parse_trace(TAG_A, window=window)


@pytest.mark.parametrize("unit, expected_problem", [
    ("<quote_A>", "<quote_A> is opened more often than it is closed"),
    ("<answer>", "<answer> is never closed"),
    ("<summary_B>x</summary_B><quote_B>", "<quote_B> is opened more often than it is closed"),
])
def test_degenerate_repeated_tags_parse_in_linear_time(unit, expected_problem):
    """A degenerate judge can write megabytes of one unclosed tag; the parser must not take quadratic time."""
    import time

    text = unit * (2_000_000 // len(unit))
    started = time.perf_counter()
    parsed = parse_trace(text)
    seconds = time.perf_counter() - started
    assert seconds < 1.0, f"parse_trace took {seconds:.2f} s on a 2 MB degenerate output"
    assert any(expected_problem in p for p in parsed.problems) and parsed.answer is None


def test_long_runs_inside_a_rubric_parse_quickly():
    import time

    for line in ("1. " + "7" * 300_000, "1. weight" + " " * 300_000 + "40%", "- x" + " " * 300_000):
        text = f"<type>Chat</type>\n<rubric>\n{line}\n2. Tone (60%)\n</rubric>"
        started = time.perf_counter()
        parsed = parse_trace(text)
        assert time.perf_counter() - started < 1.0
        assert parsed.rubric_items and parsed.rubric_items[-1].weight == 0.6


def test_answer_tags_positions():
    text = f"pre {TAG_A} mid <answer>maybe</answer>"
    tags = answer_tags(text)
    assert [t.side for t in tags] == ["A", None]
    assert text[tags[0].start:tags[0].end] == TAG_A
    assert answer_tags(None) == []


# ---------------------------------------------------------------- parse_trace: well-formed
def test_chat_trace_parts():
    p = parse_trace(chat_trace())
    assert p.type == "Chat" and p.answer == "A" and p.complete and p.problems == []
    assert [i.text for i in p.rubric_items] == ["Criterion number 1", "Criterion number 2", "Criterion number 3"]
    assert [i.weight for i in p.rubric_items] == pytest.approx([0.40, 0.35, 0.25])
    assert p.weights_total == pytest.approx(1.0) and p.rubric_weighted
    assert p.justify == "These matter most for a travel question."
    assert "<justify>" in p.rubric
    assert p.quotes_a == ["Lima is the capital", "capital"] and p.quotes_b == ["It is Cusco"]
    assert p.summaries_a == ["A answers directly."] and p.summaries_b == ["B is wrong."]
    assert p.solution is None and p.think is None


def test_reasoning_trace_parts():
    p = parse_trace(reasoning_trace())
    assert p.type == "Reasoning" and p.solution == "2 + 3 = 5" and p.answer == "B"
    assert p.complete and p.missing == [] and p.problems == []
    assert p.rubric is None and p.rubric_items == []


@pytest.mark.parametrize("value", ["chat", " CHAT ", "Chat"])
def test_type_normalised(value):
    assert parse_trace(chat_trace().replace("<type>Chat</type>", f"<type>{value}</type>")).type == "Chat"


def test_unknown_type_value():
    p = parse_trace(chat_trace().replace("<type>Chat</type>", "<type>Safety</type>"))
    assert p.type is None and "type" in p.missing
    assert any("Safety" in s for s in p.problems)


def test_as_dict_is_json_ready():
    p = parse_trace(chat_trace())
    d = p.as_dict()
    assert d["complete"] is True and d["rubric_items"][0] == {"text": "Criterion number 1", "weight": 0.4}
    assert set(d) == {f for f in TraceParse.__dataclass_fields__} | {"complete"}
    json.dumps(d)


@pytest.mark.parametrize("line, text, weight", [
    ("1. Accuracy of the facts (40%)", "Accuracy of the facts", 0.40),
    ("2) Clarity - 25%", "Clarity", 0.25),
    ("3. **Tone** [weight: 12.5%]", "**Tone**", 0.125),
    ("4. Safety (weight 30%): refuses harmful parts", "Safety : refuses harmful parts", 0.30),
    ("5. Helpfulness", "Helpfulness", None),
    ("(6) Conciseness (10 %)", "Conciseness", 0.10),
])
def test_rubric_item_lines(line, text, weight):
    p = parse_trace(f"<rubric>\n{line}\n</rubric>")
    assert len(p.rubric_items) == 1
    item = p.rubric_items[0]
    assert isinstance(item, RubricItem) and item.text == text
    assert item.weight == (None if weight is None else pytest.approx(weight))


def test_rubric_bullets_and_sub_points():
    bullets = parse_trace("<rubric>\n- Accuracy (60%)\n* Style (40%)\n</rubric>")
    assert [i.weight for i in bullets.rubric_items] == pytest.approx([0.6, 0.4])
    nested = parse_trace("<rubric>\n1. Accuracy (70%)\n   - dates are right\n2. Style (30%)\n"
                         "<justify>- a bullet in the justification (99%)</justify>\n</rubric>")
    assert [i.text for i in nested.rubric_items] == ["Accuracy", "Style"]
    assert not any("add up" in s for s in nested.problems)


# ---------------------------------------------------------------- parse_trace: malformed
@pytest.mark.parametrize("text", ["", "   \n", None, 42, ["<type>Chat</type>"]])
def test_empty_or_non_text(text):
    p = parse_trace(text)
    assert p.answer is None and not p.complete
    assert p.missing == list(EXPECTED_PARTS[None])
    assert p.problems


def test_only_closing_think_deepseek_style():
    text = "Let me compare. [[A]] or [[B]]?\nB is right.\n</think>\nB is correct.\n" + TAG_B
    p = parse_trace(text)
    assert p.think.startswith("Let me compare.") and "B is correct" not in p.think
    assert p.answer == "B"


def test_only_closing_think_nothing_after():
    p = parse_trace("thinking...</think>")
    assert p.think == "thinking..." and p.answer is None and "answer" in p.missing


def test_think_block_tags_are_not_the_trace():
    text = ("<think>Draft: <type>Reasoning</type> <eval>draft</eval> " + TAG_A + "</think>\n"
            "<type>Chat</type>\n" + chat_trace(verdict="B").split("<type>Chat</type>\n", 1)[1])
    p = parse_trace(text)
    assert "Draft" in p.think
    assert p.type == "Chat" and p.answer == "B" and "draft" not in p.eval


def test_unclosed_think_truncated():
    p = parse_trace("<think>I am still thinking about <type>Chat</type> and then")
    assert p.think is None and p.type is None
    assert any("<think> is never closed" in s for s in p.problems)


def test_unclosed_rubric():
    text = "<type>Chat</type>\n<rubric>\n1. Accuracy (50%)\n2. Style (50%)\n<eval>A is better.</eval>\n" + TAG_A
    p = parse_trace(text)
    assert p.rubric is None and p.rubric_items == []
    assert "rubric" in p.missing and "justify" in p.missing
    assert any("<rubric> is never closed" in s for s in p.problems)
    assert p.eval == "A is better." and p.answer == "A"


def test_truncated_mid_eval():
    text = chat_trace()
    cut = text[: text.index("Chatbot B claims")]
    p = parse_trace(cut)
    assert p.eval is None and p.answer is None
    assert set(p.missing) == {"eval", "answer"}
    assert any("<eval> is never closed" in s for s in p.problems)


def test_nested_eval():
    text = ("<type>Reasoning</type><solution>5</solution><eval>outer <eval>inner</eval> tail</eval>\n" + TAG_A)
    p = parse_trace(text)
    assert p.eval.startswith("outer") and p.answer == "A"
    assert any("nested" in s for s in p.problems)


def test_repeated_eval_uses_first():
    text = reasoning_trace().replace("</eval>", "</eval>\n<eval>second thoughts</eval>", 1)
    p = parse_trace(text)
    assert "second thoughts" not in p.eval and "appears 2 times" in " ".join(p.problems)


def test_weights_not_summing_to_100():
    p = parse_trace(chat_trace(weights=(40, 30, 20)))
    assert p.weights_total == pytest.approx(0.9)
    assert any("add up to 90%" in s for s in p.problems)
    assert p.complete  # weights are a quality problem, not a missing part


def test_weights_rounding_is_tolerated():
    p = parse_trace(chat_trace(weights=(33.3, 33.3, 33.3)))
    assert not any("add up" in s for s in p.problems)


def test_partially_weighted_and_unweighted_rubric():
    partial = parse_trace("<rubric>\n1. Accuracy (100%)\n2. Style\n</rubric>")
    assert not partial.rubric_weighted and any("1 of 2" in s for s in partial.problems)
    none = parse_trace("<rubric>\n1. Accuracy\n2. Style\n</rubric>")
    assert none.weights_total is None and any("no rubric item carries" in s for s in none.problems)
    empty = parse_trace("<rubric>Accuracy matters.</rubric>")
    assert empty.rubric_items == [] and any("no list items" in s for s in empty.problems)


def test_justify_outside_rubric():
    p = parse_trace(chat_trace(justify_inside=False))
    assert p.justify and any("outside the rubric" in s for s in p.problems)
    assert p.complete


def test_chat_missing_justify():
    text = chat_trace().replace("<justify>These matter most for a travel question.</justify>", "")
    p = parse_trace(text)
    assert p.missing == ["justify"] and not p.complete


def test_empty_eval_counts_as_missing():
    p = parse_trace("<type>Reasoning</type><solution>5</solution><eval> </eval>" + TAG_B)
    assert p.missing == ["eval"] and any("empty" in s for s in p.problems)


def test_expected_parts_depend_on_type():
    assert parse_trace(TAG_A).missing == ["type", "eval"]
    assert parse_trace("<type>Reasoning</type>" + TAG_A).missing == ["solution", "eval"]
    assert parse_trace("<type>Chat</type>" + TAG_A).missing == ["rubric", "justify", "eval"]


def test_answer_diagnostics():
    far = parse_trace(reasoning_trace() + "x" * 100)
    assert far.answer is None and any("not within the final 80" in s for s in far.problems)
    both = parse_trace(reasoning_trace() + TAG_A)
    assert both.answer is None and any("both verdict tags" in s for s in both.problems)
    odd = parse_trace("<answer>Chatbot A</answer>")
    assert any("'Chatbot A'" in s for s in odd.problems)
    unclosed = parse_trace("<answer>[[A]]")
    assert any("<answer> is never closed" in s for s in unclosed.problems)


def test_stray_closing_tags_and_unclosed_quotes():
    p = parse_trace("</rubric></eval><quote_A>half" + TAG_A)
    assert p.rubric is None and p.quotes_a == []
    joined = " ".join(p.problems)
    assert "</rubric> appears without" in joined and "<quote_A> is opened more often" in joined


def test_parse_trace_never_raises_on_garbage():
    pieces = ["<type>", "</type>", "<rubric>", "</rubric>", "<justify>", "</justify>", "<eval>", "</eval>",
              "<answer>", "</answer>", "[[A]]", "[[B]]", "<think>", "</think>", "<quote_A>", "</summary_B>",
              "1. x (50%)\n", "%", "\n", "Chat", "Reasoning", "<solution>", "(", ")"]
    import random
    rng = random.Random(0)
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        p = parse_trace(text)
        assert p.answer == parse_verdict(text, "strict")
        assert isinstance(p.as_dict(), dict)


def test_answer_is_the_strict_rule():
    text = "<think>[[A]] [[B]]</think>" + TAG_A
    assert parse_trace(text).answer == parse_verdict(text, "strict") == "A"
