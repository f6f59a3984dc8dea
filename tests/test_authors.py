"""The `authors` prompt kind: learned at run time from released rows, never stored in the repository.

The fixtures (tests/fixtures/authors/*.jsonl) are hand-written rows in the released schema (`context_messages`,
`winner`) rendered with a template we INVENTED for these tests (a "Referee of Replies" system prompt, "<<< ... >>>"
and "### ... ###" delimiters, "Patron ~" turn labels). The authors' real wording appears nowhere in the
repository: the learner must find whatever template the rows share. `invented_*` below is that invented template,
written out independently of the learner, so the learned one can be checked against it on pairs it never saw.
The multi-turn rows whose winner is A carry a misspelt "Chabot B", like the released rows' label leak.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmr1lib import authors
from rmr1lib.authors import (AuthorsTemplate, current_authors_template, label_leak, learn_authors_template,
                             normalise_label_leak, use_authors_template)
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.files import read_jsonl
from rmr1lib.prompts import ALL_PROMPT_KINDS, build_messages, build_messages_for_question, output_format

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "authors"
INSTRUCT = FIXTURES / "instruct_rows.jsonl"
REASONING = FIXTURES / "reasoning_rows.jsonl"

# ---- the invented template, written independently of the learner
INVENTED_SYSTEM = ("You are the Referee of Replies. Two assistants answered the same patron; weigh both replies with "
                   "care, write your reasons, and finish with <answer>[[A]]</answer> or <answer>[[B]]</answer>.")
INVENTED_RM_HEAD = "Decide which reply serves the patron better. Think it through first.\n\n"
INVENTED_RM_TAIL = "\n\nClose with exactly one of <answer>[[A]]</answer> or <answer>[[B]]</answer>."


def invented_single(q, a, b):
    return (f"<<< PROMPT FROM THE PATRON >>>\n{q}\n<<< REPLY OF Chatbot A: OPEN >>>\n{a}\n"
            f"<<< REPLY OF Chatbot A: CLOSE >>>\n\n<<< REPLY OF Chatbot B: OPEN >>>\n{b}\n"
            f"<<< REPLY OF Chatbot B: CLOSE >>>")


def invented_multi(conv_a, conv_b):
    def block(conv, side):
        label = {"user": "Patron ~ ", "system": "Preamble ~ ", "assistant": f"Chatbot {side} ~ "}
        turns = "\n~~\n".join(label[m["role"]] + m["content"] for m in conv)
        return (f"### Dialogue of the patron with Chatbot {side} (start) ###\n{turns}\n"
                f"### Dialogue of the patron with Chatbot {side} (stop) ###")
    return block(conv_a, "A") + "\n\n" + block(conv_b, "B")


def conv(*turns):
    return [{"role": r, "content": c} for r, c in turns]


NEW_Q, NEW_A, NEW_B = "Which metal is liquid at room temperature?", "Mercury.", "Iron, of course."
NEW_MULTI_A = conv(("system", "Be brief."), ("user", "Pick a number."), ("assistant", "Seven."),
                   ("user", "Double it."), ("assistant", "Fourteen."))
NEW_MULTI_B = conv(("system", "Be brief."), ("user", "Pick a number."), ("assistant", "Seven."),
                   ("user", "Double it."), ("assistant", "Twelve."))


@pytest.fixture(scope="module")
def instruct():
    return learn_authors_template(read_jsonl(INSTRUCT), source=str(INSTRUCT), max_learn=12)


@pytest.fixture(autouse=True)
def no_template_left_behind():
    yield
    use_authors_template(None)


# ---------------------------------------------------------------- learning and checking
def test_learned_template_renders_unseen_pairs_exactly_like_the_invented_one(instruct):
    assert instruct.system == INVENTED_SYSTEM
    messages = build_messages_for_question("authors", NEW_Q, NEW_A, NEW_B, instruct)
    assert messages == [{"role": "system", "content": INVENTED_SYSTEM},
                        {"role": "user", "content": invented_single(NEW_Q, NEW_A, NEW_B)}]
    multi = build_messages("authors", NEW_MULTI_A, NEW_MULTI_B, instruct)
    assert multi[1]["content"] == invented_multi(NEW_MULTI_A, NEW_MULTI_B)  # system turn, two client turns
    user_first = conv(("user", "Hello"), ("assistant", "Hi!"), ("user", "Bye"), ("assistant", "Bye!"))
    other = user_first[:3] + [{"role": "assistant", "content": "See you."}]
    assert build_messages("authors", user_first, other, instruct)[1]["content"] == invented_multi(user_first, other)
    assert instruct.output_format == "instruct_cor"


def test_report_says_what_was_learned_and_checked(instruct):
    report = instruct.report
    assert report["layouts"] == ["multi", "single"] and report["system_prompt"]
    learned = sum(report["learned_from"].values())
    assert len(report["learned_rows"]) == learned < 32
    assert sum(report["checked"].values()) == 32 - learned  # every other row was checked
    assert report["checked"]["single"] > 0 and report["checked"]["multi"] > 0


def test_every_released_row_parses_back_into_its_pair(instruct):
    rows = read_jsonl(INSTRUCT)
    for i, row in enumerate(rows):
        messages = normalise_label_leak(row["context_messages"])[0]
        pair = instruct.parse(messages)
        assert pair is not None, i
        assert instruct.messages(*pair) == messages
    # one row checked by hand: the bleach question (a multi-turn pair whose winner is B)
    row = next(r for r in rows if "bleach" in r["context_messages"][1]["content"])
    a, b = instruct.parse(row["context_messages"])
    assert [m["role"] for m in a] == ["user", "assistant", "user", "assistant"]
    assert a[2] == {"role": "user", "content": "My bathroom is really dirty"} == b[2]
    assert a[3]["content"].startswith("Sure, mixing") and b[3]["content"].startswith("Never mix them")


def test_a_held_out_row_the_learner_never_saw_fits():
    rows = read_jsonl(INSTRUCT)
    held = next(i for i, r in enumerate(rows) if "Preamble ~ Answer as a polite librarian" in
                r["context_messages"][1]["content"])
    template = learn_authors_template(rows[:held] + rows[held + 1:])
    assert rows[held]["winner"] == "model_a" and template.parse(rows[held]["context_messages"]) is None  # leak
    fixed, changed = normalise_label_leak(rows[held]["context_messages"])
    a, b = template.parse(fixed)
    assert changed and a[:2] == conv(("system", "Answer as a polite librarian."),
                                     ("user", "Do you have books on volcanoes?"))
    assert build_messages("authors", a, b, template) == fixed


@pytest.mark.parametrize("seed, max_learn", [(0, 10), (1, 10), (2, 12), (3, 200)])
def test_the_sample_learned_from_does_not_change_the_template(instruct, seed, max_learn):
    again = learn_authors_template(read_jsonl(INSTRUCT), seed=seed, max_learn=max_learn)
    assert again.fingerprint() == instruct.fingerprint() and again == instruct


def test_reasoning_model_rows_have_no_system_message():
    template = learn_authors_template(read_jsonl(REASONING))
    assert template.system is None and template.output_format == "reasoning_model"
    messages = build_messages_for_question("authors", NEW_Q, NEW_A, NEW_B, template)
    assert messages == [{"role": "user",
                         "content": INVENTED_RM_HEAD + invented_single(NEW_Q, NEW_A, NEW_B) + INVENTED_RM_TAIL}]
    multi = build_messages("authors", NEW_MULTI_A, NEW_MULTI_B, template)[0]["content"]
    assert multi == INVENTED_RM_HEAD + invented_multi(NEW_MULTI_A, NEW_MULTI_B) + INVENTED_RM_TAIL


def test_saved_template_round_trips(instruct, tmp_path):
    path = tmp_path / "authors_template.json"
    path.write_text(json.dumps(instruct.as_dict()))
    again = AuthorsTemplate.from_dict(json.loads(path.read_text()))
    assert again == instruct and again.fingerprint() == instruct.fingerprint()
    with pytest.raises(DataError, match="expected keys system, single, multi"):
        AuthorsTemplate.from_dict({"system": None})


# ---------------------------------------------------------------- rows that do not fit
def test_a_row_with_another_layout_is_named():
    rows = read_jsonl(INSTRUCT)
    learned = learn_authors_template(rows, seed=0, max_learn=10).report["learned_rows"]
    i = next(i for i, r in enumerate(rows)
             if i not in learned and r["context_messages"][1]["content"].startswith("<<<"))
    odd = json.loads(json.dumps(rows[i]))
    odd["context_messages"][1]["content"] = odd["context_messages"][1]["content"].replace(">>>", "]]]", 1)
    with pytest.raises(DataError, match=rf"released row {i} does not fit"):
        learn_authors_template(rows[:i] + [odd] + rows[i + 1:], seed=0, max_learn=10)


def test_rows_must_share_one_system_message_and_shape():
    rows = read_jsonl(INSTRUCT)
    other = json.loads(json.dumps(rows[5]))
    other["context_messages"][0]["content"] = "A different system prompt."
    with pytest.raises(DataError, match="released row 5: its system message differs"):
        learn_authors_template(rows[:5] + [other] + rows[6:])
    with pytest.raises(DataError, match="released row 2: its prompt has 1 message"):
        learn_authors_template(rows[:2] + read_jsonl(REASONING)[:1])
    with pytest.raises(DataError, match=r"released row 0: context_messages\[0\] must be a system or user"):
        learn_authors_template([{"context_messages": [{"role": "assistant", "content": "x"}], "winner": "model_a"}])
    with pytest.raises(DataError, match="at least 5 rows"):
        learn_authors_template(rows[:3])


def test_authors_kind_without_a_template_says_how_to_get_one():
    assert "authors" in ALL_PROMPT_KINDS
    with pytest.raises(ConfigError, match="learned at run time .* --released FILE.jsonl"):
        build_messages_for_question("authors", "q", "a", "b")
    with pytest.raises(ConfigError, match="learned at run time"):
        output_format("authors")


def test_the_template_in_use_serves_every_caller(instruct):
    use_authors_template(instruct)
    assert current_authors_template() is instruct
    assert build_messages_for_question("authors", NEW_Q, NEW_A, NEW_B)[1]["content"] == \
        invented_single(NEW_Q, NEW_A, NEW_B)
    assert output_format("authors") == "instruct_cor"
    with pytest.raises(ConfigError, match="needs an AuthorsTemplate"):
        use_authors_template({"system": "x"})


def test_an_unseen_case_is_an_error_not_a_guess():
    rows = [r for r in read_jsonl(INSTRUCT) if "Preamble ~" not in r["context_messages"][1]["content"]]
    template = learn_authors_template(rows)  # no conversation opening with a system turn
    assert template.multi.first_system is None
    with pytest.raises(DataError, match="starts with a 'system' turn was not seen"):
        build_messages("authors", NEW_MULTI_A, NEW_MULTI_B, template)
    singles = [r for r in rows if r["context_messages"][1]["content"].startswith("<<<")]
    only_single = learn_authors_template(singles)
    assert only_single.multi is None and only_single.report["layouts"] == ["single"]
    with pytest.raises(DataError, match="no multi-turn pair"):
        build_messages("authors", NEW_MULTI_A, NEW_MULTI_B, only_single)


# ---------------------------------------------------------------- the label leak
def test_label_leak_is_counted_by_winner_and_normalised():
    rows = read_jsonl(INSTRUCT)
    leak = label_leak(rows)
    assert leak["with_misspelling"] == 12 and leak["predicts_label"]
    assert leak["by_winner"]["model_a"]["with_misspelling"] == 12
    assert leak["by_winner"]["model_b"]["with_misspelling"] == 0
    fixed = [normalise_label_leak(r["context_messages"]) for r in rows]
    assert sum(changed for _, changed in fixed) == 12
    assert label_leak([{"context_messages": m, "winner": r["winner"]} for (m, _), r in zip(fixed, rows)]) \
        ["with_misspelling"] == 0
    assert rows[0]["context_messages"] == read_jsonl(INSTRUCT)[0]["context_messages"]  # inputs untouched


def test_released_loader_reports_and_optionally_keeps_the_leak():
    from rmr1lib.data import MixReport, load_released

    report = MixReport()
    rows = load_released("after_distill_rlvr", str(INSTRUCT), report=report)
    assert report.label_leak["after_distill_rlvr"]["with_misspelling"] == 12
    assert report.label_leak["after_distill_rlvr"]["normalised"] == 12
    assert any("misspell" in note and "normalised" in note for note in report.notes)
    assert not any(authors.MISSPELT_SIDE in m["content"] for r in rows for m in r["context_messages"])
    kept = load_released("after_distill_rlvr", str(INSTRUCT), report=MixReport(), normalise_leak=False)
    assert sum(authors.MISSPELT_SIDE in r["context_messages"][1]["content"] for r in kept) == 12


# ---------------------------------------------------------------- the command line
def _render(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rmr1lib.prompts", "render", *args, "--question", NEW_Q,
                           "--response-a", NEW_A, "--response-b", NEW_B], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env=env)


def test_render_command_prints_the_learned_messages(instruct):
    out = _render("--prompt-kind", "authors", "--released", str(INSTRUCT))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"role": "system", "content": INVENTED_SYSTEM},
                                      {"role": "user", "content": invented_single(NEW_Q, NEW_A, NEW_B)}]
    ours = _render("--prompt-kind", "plain_judge")
    assert ours.returncode == 0 and json.loads(ours.stdout) == build_messages_for_question(
        "plain_judge", NEW_Q, NEW_A, NEW_B)
    bad = _render("--prompt-kind", "plain_judge", "--released", str(INSTRUCT))
    assert bad.returncode == 2 and "only used by --prompt-kind authors" in bad.stderr


def test_render_command_offline_without_released_gives_advice_not_a_traceback():
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    out = _render("--prompt-kind", "authors", env=env)
    assert out.returncode == 2, out.stdout
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert "gaotang/RM-R1-after-Distill-RLVR" in out.stderr and "--released FILE.jsonl" in out.stderr
