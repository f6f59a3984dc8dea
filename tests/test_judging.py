"""Position bias in the judge metrics: verdict shares, accuracy per position, consistency, and the sentence."""

import pytest

from rmr1lib.judging import (describe_position_bias, judge_pairs, position_consistency, score_judgement,
                             swap_sides, verdict_metrics, wilson_interval)
from rmr1lib.synthetic import make_pairs

TAG = {"A": "<answer>[[A]]</answer>", "B": "<answer>[[B]]</answer>"}


def _result(pid, winner, verdict, order=None):
    text = TAG[verdict] if verdict else "no verdict here"
    out = {"id": pid, "winner": winner, **score_judgement(text, winner)}
    if order:
        out["order"] = order
    return out


class _Always:
    """A generator that writes the same verdict for every prompt (a collapsed judge)."""

    def __init__(self, letter):
        self.letter = letter

    def generate(self, conversations, settings, progress=False):
        return [TAG[self.letter]] * len(conversations)


class _Oracle:
    """A generator that reads the placed label off the rendered prompt's row (by position in the list)."""

    def __init__(self, rows):
        self.rows = rows

    def generate(self, conversations, settings, progress=False):
        return [TAG["A" if r["winner"] == "model_a" else "B"] for r in self.rows]


def test_collapsed_judge_is_exposed():
    rows = make_pairs(40, seed=1)
    results = judge_pairs(_Always("B"), rows, "instruct_cor", None, orders="both")
    assert len(results) == 80 and {r["order"] for r in results} == {"AB", "BA"}
    m = verdict_metrics(results)
    assert m["share_B"] == 1.0 and m["share_A"] == 0.0
    assert m["accuracy_lenient"] == pytest.approx(0.5)
    assert m["accuracy_preferred_A"] == 0.0 and m["accuracy_preferred_B"] == 1.0
    assert m["position_consistency"] == 0.0
    sentence = describe_position_bias(m)
    assert "B in 100%" in sentence and "position bias" in sentence and "0%" in sentence


def test_perfect_judge_is_consistent():
    rows = make_pairs(30, seed=2)
    shown = [x for r in rows for x in (r, swap_sides(r))]
    results = judge_pairs(_Oracle(shown), rows, "instruct_cor", None, orders="both")
    m = verdict_metrics(results)
    assert m["accuracy_lenient"] == 1.0 and m["position_consistency"] == 1.0
    assert m["share_A"] == pytest.approx(0.5)
    assert "No strong preference" in describe_position_bias(m)
    assert m["accuracy_ci95_low"] > 0.9 and m["accuracy_ci95_high"] == pytest.approx(1.0)


def test_metrics_by_category_expose_a_kind_the_judge_answers_by_position():
    from rmr1lib.errors import DataError
    from rmr1lib.judging import verdict_metrics_by

    rows = make_pairs(60, seed=3)
    shown = [x for r in rows for x in (r, swap_sides(r))]
    right = judge_pairs(_Oracle(shown), rows, "instruct_cor", None, orders="both")
    always_b = judge_pairs(_Always("B"), rows, "instruct_cor", None, orders="both")
    mixed = [good if good["category"] == "reasoning" else b for good, b in zip(right, always_b)]
    by = verdict_metrics_by(mixed, "category")
    assert list(by) == sorted({r["category"] for r in mixed}) and sum(m["n"] for m in by.values()) == len(mixed)
    assert by["reasoning"]["position_consistency"] == 1.0 and by["reasoning"]["accuracy_lenient"] == 1.0
    for kind in set(by) - {"reasoning"}:  # pooled, these kinds' 0.5 looks like chance; split, they are collapsed
        assert by[kind]["share_B"] == 1.0 and by[kind]["position_consistency"] == 0.0
        assert by[kind]["accuracy_preferred_A"] == 0.0
    by_task = verdict_metrics_by(mixed, "category", "task")
    assert all(isinstance(k, tuple) and len(k) == 2 for k in by_task)
    assert sum(m["n"] for m in by_task.values()) == len(mixed)
    with pytest.raises(DataError, match="result 1 .*'task'"):
        verdict_metrics_by([mixed[0], {k: v for k, v in mixed[1].items() if k != "task"}], "category", "task")


def test_final_answers_expose_a_judge_that_answers_one_word_whatever_the_problem():
    from rmr1lib.judging import describe_final_answers, final_answers_by

    def trace(word):
        return (f"<type>Reasoning</type>\n<solution>\nAsked: is 4 smaller than 3?\nFinal answer: {word}\n</solution>\n"
                f"<eval>\nSo only Chatbot A is correct.\n</eval>\n<answer>[[A]]</answer>")

    stuck = [{"id": i, "task": "smaller", "text": trace("No")} for i in range(10)]
    mixed = [{"id": 100 + i, "task": "larger", "text": trace("Yes" if i % 2 else "No")} for i in range(10)]
    chat = [{"id": 200 + i, "task": "bullets", "text": "<type>Chat</type>\n<answer>[[B]]</answer>"} for i in range(10)]
    assert final_answers_by(stuck + mixed + chat) == {"larger": {"No": 5, "Yes": 5}, "smaller": {"No": 10}}
    truth = {i: ("No" if i < 3 else "Yes") for i in range(10)} | {100 + i: "Yes" for i in range(10)}
    lines = describe_final_answers(stuck + mixed + chat, references=truth)
    assert len(lines) == 2
    assert '"No" 5, "Yes" 5 of 10 judgements (5 of them right)' in lines[0] and "larger" in lines[0]
    assert 'on smaller pairs was "No" in 10 of 10 judgements (3 of them right): it does not solve' in lines[1]
    assert describe_final_answers(stuck[:5]) == []  # too few to say anything
    assert describe_final_answers(chat) == []  # no trace states a final answer


def test_given_order_has_no_consistency_but_per_position_accuracy():
    results = [_result("p1", "model_a", "A"), _result("p2", "model_b", "A"), _result("p3", "model_b", "B")]
    m = verdict_metrics(results)
    assert "position_consistency" not in m
    assert m["accuracy_preferred_A"] == 1.0 and m["accuracy_preferred_B"] == 0.5
    assert all(isinstance(v, (int, float)) for v in m.values())  # RL logs every value as a float


def test_consistency_counts_unparsed_as_inconsistent():
    results = [_result("p", "model_a", "A", "AB"), _result("p", "model_b", None, "BA"),
               _result("q", "model_a", "B", "AB"), _result("q", "model_b", "A", "BA")]
    # p: second order unreadable; q: both wrong but both name the dispreferred response -> consistent
    assert position_consistency(results) == 0.5


def test_swap_sides_exchanges_responses_and_label():
    row = make_pairs(1, seed=3)[0]
    swapped = swap_sides(row)
    assert swapped["conversation_a"] == row["conversation_b"] and swapped["winner"] != row["winner"]
    assert "context_messages" not in swapped
    with pytest.raises(ValueError):
        swap_sides({"id": "x", "winner": "model_a", "context_messages": []})


def test_wilson_interval():
    low, high = wilson_interval(64, 128)
    assert low == pytest.approx(0.414, abs=0.002) and high == pytest.approx(0.586, abs=0.002)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_baselines_on_pairs_and_comparisons_stay_near_chance_and_can_fail():
    from rmr1lib.benchmarks import Comparison
    from rmr1lib.judging import baseline_items_from_comparisons, baseline_items_from_pairs, baseline_scores
    from rmr1lib.synthetic import BASELINES, make_pairs

    rows = make_pairs(300, seed=11, split="bench")
    given = baseline_scores(baseline_items_from_pairs(rows))
    both = baseline_scores(baseline_items_from_pairs(rows, orders="both"))
    assert set(given) == set(BASELINES) and given["longer"]["n"] == 300 and both["longer"]["n"] == 600
    assert both["first"]["accuracy"] == 0.5 and both["second"]["accuracy"] == 0.5  # both orders: exactly half
    assert all(s["accuracy"] <= 0.6 and s["ci95_low"] < s["accuracy"] < s["ci95_high"] for s in given.values())
    # a data set with a length shortcut is caught: the longer reply always wins
    ctx = ({"role": "user", "content": "Tell me about tea."},)
    leaky = [Comparison("x", "s", i, ctx, "Tea is a drink made from leaves, hot or cold.", "Tea.") for i in range(20)]
    scores = baseline_scores(baseline_items_from_comparisons(leaky))
    assert scores["longer"]["accuracy"] == 1.0 and scores["shorter"]["accuracy"] == 0.0
    assert scores["longer"]["items"] == 20 and "items" not in given["longer"]  # pairs carry no source item
    # RM-Bench-like: 9 comparisons per prompt from 4 prompts; a cue right on two prompts and wrong on the others is
    # 0.5 either way, but by item its interval is that of 4 items, far wider than that of 72 judgements
    styled = [Comparison("rm-bench", "chat", f"p{p}", ctx, *(("Tea is a drink made from leaves.", "Tea.") if p < 2
                                                             else ("Tea.", "Tea is a drink made from leaves.")),
                         fields={"chosen_style": i // 3, "rejected_style": i % 3}) for p in range(4) for i in range(9)]
    longer = baseline_scores(baseline_items_from_comparisons(styled))["longer"]
    assert longer["accuracy"] == 0.5 and longer["n"] == 72 and longer["items"] == 4
    assert longer["ci95_items_low"] < 0.1 and longer["ci95_items_high"] > 0.9
    assert 0.35 < longer["ci95_low"] and longer["ci95_high"] < 0.65


def test_describe_accuracy_places_the_interval_against_chance():
    from rmr1lib.judging import describe_accuracy

    def m(correct, n):
        results = [{"verdict_strict": "A", "verdict_lenient": "A", "correct_strict": int(i < correct),
                    "correct_lenient": int(i < correct), "complete": 1, "chars": 10, "winner": "model_a", "id": i}
                   for i in range(n)]
        return verdict_metrics(results)

    assert "more than coin flips" in describe_accuracy(m(110, 128))
    assert "coin flips could give the same" in describe_accuracy(m(66, 128))
    assert "below 0.50" in describe_accuracy(m(20, 128))
    assert "judged nothing" in describe_accuracy({"n": 0})


def _prompt_only(row):
    """A row as the released RL sets hold it: the rendered prompt and the label, no raw pair."""
    return {**row, "conversation_a": None, "conversation_b": None}


def test_prompt_only_rows_are_judged_once_in_both_orders_mode():
    rows = make_pairs(6, seed=4)
    mixed = rows[:4] + [_prompt_only(r) for r in rows[4:]]
    results = judge_pairs(_Always("A"), mixed, "instruct_cor", None, orders="both")
    assert len(results) == 4 * 2 + 2
    counts = {}
    for r in results:
        counts[r["id"]] = counts.get(r["id"], 0) + 1
    assert [counts[r["id"]] for r in mixed] == [2, 2, 2, 2, 1, 1]
    m = verdict_metrics(results)
    assert m["n"] == 10 and m["position_consistency"] == 0.0  # consistency over the four swappable pairs only


def test_shortcut_baselines_name_a_prompt_only_row():
    from rmr1lib.errors import DataError
    from rmr1lib.judging import baseline_items_from_pairs, has_responses

    rows = make_pairs(3, seed=5)
    bad = _prompt_only(rows[1])
    assert has_responses(rows[0]) and not has_responses(bad)
    with pytest.raises(DataError, match=repr(bad["id"]).replace("[", r"\[")):
        baseline_items_from_pairs([rows[0], bad, rows[2]])


def test_clustered_interval_counts_an_items_judgements_together():
    import math

    from rmr1lib.errors import ConfigError
    from rmr1lib.judging import clustered_interval

    # one value per cluster: the binomial (Wald) interval, times sqrt(C / (C - 1))
    values = [1] * 60 + [0] * 40
    low, high, k = clustered_interval(values, range(100))
    half = 1.96 * math.sqrt(0.6 * 0.4 / 100) * math.sqrt(100 / 99)
    assert k == 100 and (low, high) == (pytest.approx(0.6 - half), pytest.approx(0.6 + half))
    # the same 100 values as 10 items of 10 judgements each, all right or all wrong: far less information
    lumped = clustered_interval(values, [i // 10 for i in range(100)])
    assert lumped[2] == 10 and lumped[1] - lumped[0] > 2.5 * (high - low)
    # items half right each (a judge that names one position for both orders): no spread between items
    mixed = clustered_interval([i % 2 for i in range(100)], [i // 2 for i in range(100)])
    assert mixed[:2] == (pytest.approx(0.5), pytest.approx(0.5))
    assert clustered_interval([1, 0, 1], ["a", "a", "a"]) == (0.0, 1.0, 1)
    with pytest.raises(ConfigError, match="3 values but 2 cluster keys"):
        clustered_interval([1, 0, 1], ["a", "b"])


def test_verdict_metrics_count_a_pairs_two_orders_as_one_item():
    from rmr1lib.judging import describe_accuracy

    def result(i, correct):
        return {"verdict_strict": "A", "verdict_lenient": "A", "correct_strict": correct, "correct_lenient": correct,
                "complete": 1, "chars": 10, "winner": "model_a", "id": i // 2, "order": "AB" if i % 2 else "BA"}

    both = verdict_metrics([result(i, int(i < 80)) for i in range(128)])  # 64 pairs, 40 right in both orders
    assert both["items"] == 64
    assert both["accuracy_ci95_items_high"] - both["accuracy_ci95_items_low"] > (
        both["accuracy_ci95_high"] - both["accuracy_ci95_low"])
    assert "of 64 items (95% interval" in describe_accuracy(both)
    single = verdict_metrics([dict(result(2 * i, 1), id=i) for i in range(10)])  # one judgement per pair
    assert "items" not in single and "accuracy_ci95_items_low" not in single


def test_clustered_interval_at_all_wrong_or_all_right_is_not_a_point():
    from rmr1lib.judging import clustered_interval, wilson_interval

    assert clustered_interval([0] * 10, [i // 2 for i in range(10)]) == (*wilson_interval(0, 5), 5)
    low, high, k = clustered_interval([1] * 10, [i // 2 for i in range(10)])
    assert k == 5 and high == 1.0 and low == pytest.approx(wilson_interval(5, 5)[0]) and low < 0.7


def test_solution_steps_find_the_step_where_a_judge_goes_wrong():
    from rmr1lib.judging import describe_solution_steps, solution_steps_by
    from rmr1lib.synthetic import oracle_trace, solution_steps

    rows = [r for r in make_pairs(300, seed=4) if r["category"] == "reasoning"]
    teacher = [{"id": r["id"], "task": r["meta"]["task"], "text": oracle_trace(r)} for r in rows]
    by = solution_steps_by(teacher, rows)
    assert set(by) == {"larger", "smaller", "parity", "program"}
    for c in by.values():  # the teacher: every step right
        assert c["judgements"] == c["readable"] == c["asked_right"] == c["found_follows"] == c["final_follows"] > 0

    # a right comparison of the wrong numbers, then a final answer that ignores both lines
    assert solution_steps("Asked: is 4 smaller than 4?\nFound: 4 is larger than 4.\nFinal answer: No") == \
        {"asked": "Asked: is 4 smaller than 4?", "found_follows": False, "final_follows": True}
    stuck_on_no = solution_steps("Asked: is 2 smaller than 7?\nFound: 2 is smaller than 7.\nFinal answer: No")
    assert stuck_on_no["found_follows"] is True and stuck_on_no["final_follows"] is False
    assert solution_steps("x = 3\ny = 1\nAsked: is 3 larger than 1?\nFound: 3 is larger than 1.\nFinal answer: True") \
        == {"asked": "Asked: is 3 larger than 1?", "found_follows": True, "final_follows": True}
    assert solution_steps("Asked: is 5 even or odd?\nFound: 5 is odd.\nFinal answer: even")["final_follows"] is False
    assert solution_steps("Found: 5 is odd.") is None and solution_steps("") is None

    smaller = [r for r in rows if r["meta"]["task"] == "smaller"]
    # restated and solved as the teacher did, then the wrong final answer every time
    stuck = [{"id": r["id"], "task": "smaller",
              "text": f"<type>Reasoning</type>\n<solution>\n{r['meta']['solution']}\n"
                      f"Final answer: {r['meta']['wrong_answer']}\n</solution>\n<answer>[[A]]</answer>"}
             for r in smaller]
    c = solution_steps_by(stuck, rows)["smaller"]
    assert c["readable"] == c["asked_right"] == c["found_follows"] == len(smaller) and c["final_follows"] == 0
    lines = describe_solution_steps({"smaller": c}, who="After SFT the judge")
    assert len(lines) == 1 and f"restated the question as asked in {len(smaller)}" in lines[0]
    assert "gave the final answer its own two lines give in 0" in lines[0]
    assert "The weakest step is turning its own two lines into the final answer." in lines[0]
    blank = solution_steps_by([{"id": smaller[0]["id"], "task": "smaller", "text": "<answer>[[B]]</answer>"}], rows)
    assert describe_solution_steps(blank) == ['The judge wrote no readable "Asked:" line in any of its 1 smaller '
                                              'judgements.']


def _shown(row: dict, order: str) -> dict:
    """The row as the judge sees it in `order` ("AB": the preferred reply is A)."""
    from rmr1lib.judging import swap_sides
    from rmr1lib.rewards import winner_side

    return row if (winner_side(row["winner"]) == "A") == (order == "AB") else swap_sides(row)


def test_chat_steps_find_the_step_where_a_judge_goes_wrong():
    import re

    from rmr1lib.errors import ConfigError
    from rmr1lib.judging import chat_cases_from_rows, chat_steps_by, describe_chat_steps, score_judgement
    from rmr1lib.synthetic import chat_steps, oracle_trace, rule_in_question

    rows = [r for r in make_pairs(240, seed=5) if r["category"] == "chat"]
    assert all(rule_in_question(r["conversation_a"][-2]["content"]) == r["meta"]["constraints"][0]["type"]
               for r in rows)
    assert rule_in_question("Is 7 larger than 2?") is None and rule_in_question(None) is None

    def judged(text_of):
        out = []
        for r in rows:
            for order in ("AB", "BA"):
                shown = _shown(r, order)
                text = text_of(shown)
                out.append({"id": r["id"], "order": order, "text": text, **score_judgement(text, shown["winner"])})
        return out

    teacher = judged(oracle_trace)
    by = chat_steps_by(chat_cases_from_rows(teacher, rows))
    assert set(by) == {r["meta"]["task"] for r in rows}
    for c in by.values():  # the teacher, in both orders: every step right
        assert c["judgements"] == c["rule_read"] == c["replies_read"] == c["decision_follows"] == c["right"] > 0
    # the mistaken teacher names the rule and reads the replies, then wants the wrong answer
    mistaken = judged(lambda row: oracle_trace(row, mistaken=True))
    c = chat_steps_by(chat_cases_from_rows(mistaken, rows))
    assert all(g["rule_read"] == g["replies_read"] == g["judgements"] and g["decision_follows"] == g["right"] == 0
               for g in c.values())
    lines = describe_chat_steps(c, who="After SFT the judge")
    n = 2 * len(rows)
    assert len(lines) == 1 and f"on {n} judgements of chat pairs with a stated rule (0 right)" in lines[0]
    assert f"named the client's rule in {n}" in lines[0]
    assert "The weakest step is turning its own look-up into the verdict" in lines[0]
    assert "The weakest step" not in describe_chat_steps(by)[0]  # nothing fails: no weakest step named

    # one pair, step by step: the teacher's trace, then the same trace with one line changed
    row = next(r for r in rows if r["meta"]["task"] == "bullets")
    a, b = row["conversation_a"][-1]["content"], row["conversation_b"][-1]["content"]
    trace = oracle_trace(row)
    assert chat_steps(trace, "bullets", a, b) == {"rule_read": True, "replies_read": True, "decision_follows": True}
    misread = trace.replace("The reply is a bulleted list", "The reply has no bullet list")
    # the rule it names is wrong; its reading of the replies is right for that rule, its decision is not
    assert chat_steps(misread, "bullets", a, b) == {"rule_read": False, "replies_read": True,
                                                    "decision_follows": False}
    flipped = re.sub(r"Bulleted: (yes|no) A, (yes|no) B\.", lambda m: f"Bulleted: {m.group(2)} A, {m.group(1)} B.",
                     trace)
    assert flipped != trace
    assert chat_steps(flipped, "bullets", a, b)["replies_read"] is False
    assert chat_steps("<answer>[[A]]</answer>", "bullets", a, b) == {"rule_read": False, "replies_read": False,
                                                                    "decision_follows": False}
    with pytest.raises(ConfigError, match="rule must be one of"):
        chat_steps(trace, "lowercase", a, b)
    # questions without a stated rule (reasoning, safety) are left out, and then there is nothing to say
    other = [r for r in make_pairs(60, seed=5) if r["category"] != "chat"]
    none = [{"id": r["id"], "order": "AB" if r["winner"] == "model_a" else "BA", "text": oracle_trace(r)}
            for r in other]
    assert chat_steps_by(chat_cases_from_rows(none, other)) == {} and describe_chat_steps({}) == []


def test_chat_cases_from_comparisons_show_the_replies_in_the_order_judged():
    from rmr1lib.benchmarks import load_comparisons
    from rmr1lib.judging import chat_cases_from_comparisons

    comparisons = load_comparisons("rm-bench", seed=3) + load_comparisons("rewardbench", seed=3)
    results = [{**c.row_fields(), "order": order, "text": ""} for c in comparisons for order in ("AB", "BA")]
    results.append({"benchmark": "rewardbench", "id": "not-there", "order": "AB"})  # no comparison: left out
    cases = chat_cases_from_comparisons(results, comparisons)
    assert len(cases) == 2 * len(comparisons)
    for (res, question, a, b), c in zip(cases[::2], comparisons):
        assert res["order"] == "AB" and (a, b) == (c.chosen, c.rejected) and question == c.context[-1]["content"]
    for (res, _, a, b), c in zip(cases[1::2], comparisons):
        assert res["order"] == "BA" and (a, b) == (c.rejected, c.chosen)
    # RM-Bench's nine style pairs of one prompt are told apart by their styles
    rm = [case for case in cases if case[0]["benchmark"] == "rm-bench" and case[0]["order"] == "AB"]
    assert len({(case[2], case[3]) for case in rm}) == len(rm)


def test_mixed_chat_rows_take_the_question_from_one_split_and_the_replies_from_another():
    from rmr1lib.errors import ConfigError
    from rmr1lib.synthetic import check_constraint, mixed_chat_rows, oracle_trace

    for q_split, r_split, style in (("train", "bench", 0), ("bench", "train", 0), ("bench", "bench", 2)):
        rows = mixed_chat_rows(30, 11, q_split, r_split, style)
        assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
        questions = {r["conversation_a"][-2]["content"]
                     for r in make_pairs(200, 11, kinds=("chat",), multi_turn_fraction=0.0, split=q_split)}
        replies = {m["content"] for r in make_pairs(200, 12, kinds=("chat",), multi_turn_fraction=0.0, split=r_split)
                   for m in (r["conversation_a"][-1], r["conversation_b"][-1])}
        for row in rows:
            assert row["conversation_a"][-2]["content"] in questions
            good = row["conversation_a" if row["winner"] == "model_a" else "conversation_b"][-1]["content"]
            bad = row["conversation_b" if row["winner"] == "model_a" else "conversation_a"][-1]["content"]
            if style == 0:
                assert good in replies and bad in replies
            else:  # RM-Bench's markdown version: the bold detail sentence, the reply's own words around it
                assert "**" in good and "**" in bad
            rule = row["meta"]["constraints"][0]
            assert check_constraint(rule, good) and not check_constraint(rule, bad)
            assert "<answer>" in oracle_trace(row)  # the teacher can judge it: the label singles out one reply
    with pytest.raises(ConfigError, match="question_split"):
        mixed_chat_rows(4, 1, "test", "bench")
    with pytest.raises(ConfigError, match="style"):
        mixed_chat_rows(4, 1, "train", "bench", style=3)


class _Teacher:
    """A generator that writes the smoke teacher's trace for every rendered prompt it was given the row of."""

    def __init__(self, rows):
        import json

        from rmr1lib.judging import judge_messages
        from rmr1lib.synthetic import oracle_trace

        shown = [x for r in rows for x in (r, swap_sides(r))]
        self.traces = {json.dumps(m): oracle_trace(r) for r, m in zip(shown, judge_messages(shown, "instruct_cor"))}

    def generate(self, conversations, settings, progress=False):
        import json

        return [self.traces[json.dumps(c)] for c in conversations]


def test_reply_wording_probe_counts_each_condition_apart():
    from rmr1lib.judging import WORDING_CONDITIONS, reply_wording_probe
    from rmr1lib.synthetic import mixed_chat_rows

    rows = [r for q, r_split, style in WORDING_CONDITIONS.values() for r in mixed_chat_rows(6, 5, q, r_split, style)]
    table = reply_wording_probe(_Teacher(rows), "instruct_cor", None, n=6, seed=5)
    assert list(table) == list(WORDING_CONDITIONS)
    for counts in table.values():  # the teacher: every step right, in both orders
        assert counts == {"judgements": 12, "rule_read": 12, "replies_read": 12, "decision_follows": 12, "right": 12}
    collapsed = reply_wording_probe(_Always("B"), "instruct_cor", None, n=6, seed=5)
    assert all(c["judgements"] == 12 and c["rule_read"] == 0 and c["right"] == 6 for c in collapsed.values())


def test_reference_answers_map_ids_of_rows_that_carry_one():
    from rmr1lib.errors import DataError
    from rmr1lib.judging import reference_answers

    rows = [{"id": "r1", "meta": {"reference_answer": "Yes"}}, {"id": "c1", "meta": {"kind": "chat"}},
            {"id": "r2", "meta": {"reference_answer": "odd"}}, {"id": "x"}]
    assert reference_answers(rows) == {"r1": "Yes", "r2": "odd"}
    assert reference_answers([]) == {}
    with pytest.raises(DataError, match="row 1 has a reference answer but no 'id'"):
        reference_answers([rows[0], {"meta": {"reference_answer": "No"}}])
