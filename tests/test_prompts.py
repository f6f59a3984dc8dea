"""Tests for rmr1lib.prompts: CoR structure, pair layouts, validation, explicit prompt kinds."""

import re
import subprocess
import sys

import pytest

from rmr1lib import prompts
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.prompts import (
    PROMPT_KINDS, build_messages, build_messages_for_question, describe_prompt_parts, is_single_turn,
    render_pair, system_prompt,
)


def conv(*turns):
    """A conversation from (role, content) pairs."""
    return [{"role": r, "content": c} for r, c in turns]


SINGLE_A = conv(("user", "What is the capital of Peru?"), ("assistant", "Lima is the capital."))
SINGLE_B = conv(("user", "What is the capital of Peru?"), ("assistant", "It is Cusco."))
MULTI_A = conv(("system", "Be terse."), ("user", "Hi there"), ("assistant", "Hello!"),
               ("user", "Add 2 and 3"), ("assistant", "5"))
MULTI_B = conv(("system", "Be terse."), ("user", "Hi there"), ("assistant", "Hey."),
               ("user", "Add 2 and 3"), ("assistant", "6"))


def _before(text, first, second):
    """True when `first` occurs in text and before `second`."""
    i, j = text.find(first), text.find(second)
    return 0 <= i < j


# ---------------------------------------------------------------- system prompts and parts
def test_prompt_kinds_match_profiles():
    from rmr1lib import profiles
    assert tuple(profiles.PROMPT_KINDS) == PROMPT_KINDS


@pytest.mark.parametrize("kind", PROMPT_KINDS)
def test_system_prompt_is_join_of_parts(kind):
    parts = describe_prompt_parts(kind)
    assert parts and all(isinstance(v, str) and v.strip() for v in parts.values())
    sp = system_prompt(kind)
    if kind == "reasoning_model":
        assert sp is None
    else:
        assert sp == prompts.PART_SEPARATOR.join(parts.values())


def test_instruct_cor_parts_in_paper_order():
    assert list(describe_prompt_parts("instruct_cor")) == [
        "role", "categorize", "reasoning_branch", "chat_branch", "notes", "skeletons"]


def test_instruct_cor_structure():
    parts = describe_prompt_parts("instruct_cor")
    assert "impartial" in parts["role"].lower()
    cat = parts["categorize"]
    assert "<type>Reasoning</type>" in cat and "<type>Chat</type>" in cat
    for word in ("math", "programming", "logic", "safety", "rewriting"):
        assert word in cat.lower(), word
    rb = parts["reasoning_branch"]
    assert _before(rb, "<solution>", "<eval>") and _before(rb, "<eval>", "<answer>[[A]]</answer>")
    for tag in ("<quote_A>", "<summary_A>", "<quote_B>", "<summary_B>", "<answer>[[B]]</answer>"):
        assert tag in rb
    cb = parts["chat_branch"]
    assert _before(cb, "<rubric>", "<justify>") and _before(cb, "<justify>", "<eval>")
    assert "%" in cb and "inside the rubric" in cb.lower()
    for tag in ("<quote_A>", "<summary_B>", "<answer>[[A]]</answer>", "<answer>[[B]]</answer>"):
        assert tag in cb
    notes = parts["notes"].lower()
    for word in ("first", "long", "called", "format", "ties"):
        assert word in notes, word


def test_instruct_cor_skeletons_order_and_weighted_rubric_lines():
    sk = describe_prompt_parts("instruct_cor")["skeletons"]
    reasoning, chat = sk.split("<type>Chat</type>")
    assert _before(reasoning, "<type>Reasoning</type>", "<solution>")
    assert _before(reasoning, "</solution>", "<eval>") and _before(reasoning, "</eval>", "<answer>")
    assert _before(chat, "<rubric>", "<justify>") and _before(chat, "</justify>", "</rubric>")
    assert _before(chat, "</rubric>", "<eval>") and _before(chat, "</eval>", "<answer>")
    items = re.findall(r"^\d+\. .+\((\d+)%\)$", chat, re.M)
    assert len(items) >= 2 and sum(map(int, items)) == 100


def test_skeleton_rubric_parses_as_weighted_rubric():
    from rmr1lib.parsing import parse_trace
    chat = describe_prompt_parts("instruct_cor")["skeletons"].split("Output format when the type is Chat:")[1]
    parse = parse_trace(chat.replace(" or <answer>[[B]]</answer> (write only one of the two)", ""))
    assert parse.type == "Chat" and parse.rubric_weighted and parse.complete
    assert abs(parse.weights_total - 1.0) < 1e-9


def test_plain_judge_has_no_rubric_or_type():
    sp = system_prompt("plain_judge")
    assert "<answer>[[A]]</answer>" in sp and "<answer>[[B]]</answer>" in sp
    for tag in ("<rubric>", "<type>", "<justify>", "<solution>", "<eval>"):
        assert tag not in sp


def test_rubrics_only_is_chat_branch_without_categorization():
    sp = system_prompt("rubrics_only")
    assert "<type>" not in sp and "<solution>" not in sp
    assert _before(sp, "<rubric>", "<justify>") and "<eval>" in sp and "<answer>[[A]]</answer>" in sp
    assert list(describe_prompt_parts("rubrics_only"))[0] == "role"


def test_prompts_are_distinct():
    texts = [system_prompt(k) for k in PROMPT_KINDS if k != "reasoning_model"]
    assert len(set(texts)) == len(texts)


def test_describe_parts_returns_copy():
    parts = describe_prompt_parts("instruct_cor")
    parts["role"] = "changed"
    assert describe_prompt_parts("instruct_cor")["role"] != "changed"


@pytest.mark.parametrize("bad", ["instruct", "INSTRUCT_COR", "", None, 3, "RM-R1-Instruct"])
def test_unknown_kind_lists_kinds(bad):
    for call in (lambda: system_prompt(bad), lambda: describe_prompt_parts(bad),
                 lambda: build_messages(bad, SINGLE_A, SINGLE_B),
                 lambda: build_messages_for_question(bad, "q", "a", "b")):
        with pytest.raises(ConfigError) as err:
            call()
        for kind in PROMPT_KINDS:
            assert kind in str(err.value)


# ---------------------------------------------------------------- pair layouts
def test_is_single_turn():
    assert is_single_turn(SINGLE_A, SINGLE_B)
    assert not is_single_turn(MULTI_A, MULTI_B)
    other_q = conv(("user", "Different question"), ("assistant", "x"))
    assert not is_single_turn(SINGLE_A, other_q)
    with_system = conv(("system", "s"), ("user", "What is the capital of Peru?"), ("assistant", "Lima"))
    assert not is_single_turn(with_system, with_system)
    assert not is_single_turn("not a conversation", SINGLE_B)
    assert not is_single_turn([1, 2], SINGLE_B)


def test_single_turn_layout_preserves_order():
    text = render_pair(SINGLE_A, SINGLE_B)
    assert text.startswith(prompts.QUESTION_HEADER)
    assert text.count("What is the capital of Peru?") == 1
    a_begin, a_end = "== Chatbot A: response begins ==", "== Chatbot A: response ends =="
    b_begin, b_end = "== Chatbot B: response begins ==", "== Chatbot B: response ends =="
    order = [text.find(s) for s in ("What is the capital", a_begin, "Lima is the capital.", a_end,
                                      b_begin, "It is Cusco.", b_end)]
    assert all(i >= 0 for i in order) and order == sorted(order)
    swapped = render_pair(SINGLE_B, SINGLE_A)
    assert swapped.find("It is Cusco.") < swapped.find("Lima is the capital.")


def test_multi_turn_layout_flattens_every_turn():
    text = render_pair(MULTI_A, MULTI_B)
    assert prompts.QUESTION_HEADER not in text
    block_a, block_b = text.split("== Conversation between the client and Chatbot B: begins ==")
    assert block_a.startswith("== Conversation between the client and Chatbot A: begins ==")
    assert "== Conversation between the client and Chatbot A: ends ==" in block_a
    assert block_b.rstrip().endswith("== Conversation between the client and Chatbot B: ends ==")
    for line in ("System: Be terse.", "User: Hi there", "Chatbot A: Hello!", "User: Add 2 and 3", "Chatbot A: 5"):
        assert line in block_a.splitlines(), line
    for line in ("System: Be terse.", "User: Hi there", "Chatbot B: Hey.", "User: Add 2 and 3", "Chatbot B: 6"):
        assert line in block_b.splitlines(), line
    assert "Chatbot B" not in block_a and "Chatbot A" not in block_b
    lines_a = block_a.splitlines()
    assert lines_a.index("User: Hi there") < lines_a.index("Chatbot A: Hello!") < lines_a.index("User: Add 2 and 3")


def test_single_turn_with_different_questions_is_rejected():
    other = conv(("user", "Another question"), ("assistant", "x"))
    with pytest.raises(DataError, match="message 0"):
        render_pair(SINGLE_A, other)


def test_multiline_content_kept_verbatim():
    code = "def f():\n    return 1\n"
    a = conv(("user", "write f"), ("assistant", code))
    b = conv(("user", "write f"), ("assistant", "no"))
    assert code in render_pair(a, b)


# ---------------------------------------------------------------- messages
@pytest.mark.parametrize("kind", ["instruct_cor", "plain_judge", "rubrics_only"])
def test_instruct_kinds_have_system_and_user(kind):
    messages = build_messages(kind, MULTI_A, MULTI_B)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == system_prompt(kind)
    assert messages[1]["content"] == render_pair(MULTI_A, MULTI_B)


def test_reasoning_model_single_user_message():
    messages = build_messages("reasoning_model", SINGLE_A, SINGLE_B)
    assert [m["role"] for m in messages] == ["user"]
    text = messages[0]["content"]
    parts = describe_prompt_parts("reasoning_model")
    pair = render_pair(SINGLE_A, SINGLE_B)
    assert text.startswith(parts["instruction"]) and text.rstrip().endswith(parts["verdict_request"])
    assert "\n" not in parts["instruction"].strip()
    assert pair in text and text.find(pair) > len(parts["instruction"]) - 1
    last_line = text.rstrip().splitlines()[-1]
    assert "<answer>[[A]]</answer>" in last_line and "<answer>[[B]]</answer>" in last_line
    assert "<rubric>" not in text and "<type>" not in text


def test_build_messages_for_question_equals_single_turn_pair():
    for kind in PROMPT_KINDS:
        assert build_messages_for_question(kind, "What is the capital of Peru?", "Lima is the capital.",
                                           "It is Cusco.") == build_messages(kind, SINGLE_A, SINGLE_B)


def test_build_messages_for_question_rejects_non_str():
    with pytest.raises(DataError, match="response_b"):
        build_messages_for_question("plain_judge", "q", "a", None)


def test_inputs_not_mutated():
    a, b = [dict(m) for m in MULTI_A], [dict(m) for m in MULTI_B]
    build_messages("instruct_cor", a, b)
    assert a == MULTI_A and b == MULTI_B


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("conversation_a, pattern", [
    (conv(("user", "q"), ("bot", "x")), r"conversation_a\[1\].*'bot'"),
    (conv(("tool", "q"), ("assistant", "x")), r"conversation_a\[0\].*'tool'"),
    ([{"role": "user"}, {"role": "assistant", "content": "x"}], r"conversation_a\[0\].*NoneType"),
    ([{"role": "user", "content": ["q"]}, {"role": "assistant", "content": "x"}], r"conversation_a\[0\].*list"),
    (conv(("user", "q")), r"end with an assistant turn.*conversation_a\[0\]"),
    (conv(("user", "q"), ("assistant", "x"), ("user", "more?")), r"conversation_a\[2\]"),
    ([], "empty"),
    ("just text", "list"),
    ([("user", "q")], r"conversation_a\[0\]"),
    (conv(("system", "s"), ("assistant", "x")), "no user turn"),
])
def test_bad_conversation_a(conversation_a, pattern):
    with pytest.raises(DataError, match=pattern):
        render_pair(conversation_a, SINGLE_B)


def test_bad_role_in_b_names_b():
    with pytest.raises(DataError, match=r"conversation_b\[1\]"):
        build_messages("instruct_cor", SINGLE_A, conv(("user", "What is the capital of Peru?"), ("model", "x")))


def test_client_turns_must_agree():
    changed = [dict(m) for m in MULTI_B]
    changed[3]["content"] = "Add 2 and 4"
    with pytest.raises(DataError, match=r"message 3 \(user\)"):
        render_pair(MULTI_A, changed)
    changed_system = [dict(m) for m in MULTI_B]
    changed_system[0]["content"] = "Be verbose."
    with pytest.raises(DataError, match=r"message 0 \(system\)"):
        render_pair(MULTI_A, changed_system)


def test_structure_must_agree():
    shorter = conv(("system", "Be terse."), ("user", "Hi there"), ("assistant", "Hello!"))
    with pytest.raises(DataError, match="message 3"):
        render_pair(MULTI_A, shorter)
    swapped_roles = conv(("user", "Be terse."), ("user", "Hi there"), ("assistant", "Hey."),
                         ("user", "Add 2 and 3"), ("assistant", "6"))
    with pytest.raises(DataError, match="message 0 has role"):
        render_pair(MULTI_A, swapped_roles)


def test_assistant_turns_may_differ_in_multi_turn():
    assert "Chatbot B: 6" in render_pair(MULTI_A, MULTI_B)


# ---------------------------------------------------------------- layering
def test_pure_core_imports_no_heavy_libraries():
    code = ("import sys, rmr1lib.prompts, rmr1lib.parsing, rmr1lib.rewards; "
            "heavy = {'torch', 'transformers', 'trl', 'vllm', 'peft', 'datasets', 'pandas', 'numpy', 'verl'}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
