"""Sentences the notebooks print about a judge are computed from its numbers: they change when the numbers do."""

from math import comb

import pytest

from rmr1lib.evaluate import describe_rule_failures
from rmr1lib.judging import accuracy_against_chance, coin_flip_band, describe_judge, verdict_pattern
from rmr1lib.scoring import describe_positions, describe_rmbench_matrix


@pytest.mark.parametrize("n", [1, 2, 16, 32, 33, 100])
def test_coin_flip_band_is_the_exact_central_binomial_interval(n):
    lo, hi = coin_flip_band(n)
    k = round(lo * n)
    p_below = sum(comb(n, i) for i in range(k)) / 2 ** n
    p_below_wider = sum(comb(n, i) for i in range(k + 1)) / 2 ** n
    assert p_below <= 0.025 < p_below_wider  # the largest k whose lower tail stays within 2.5%
    assert hi == pytest.approx(1 - lo)


def test_coin_flip_band_known_values_and_bad_input():
    assert coin_flip_band(32) == (10 / 32, 22 / 32)
    assert coin_flip_band(16) == (4 / 16, 12 / 16)
    with pytest.raises(ValueError, match="n=0"):
        coin_flip_band(0)


@pytest.mark.parametrize("accuracy, where", [(0.28, "below"), (0.3125, "inside"), (0.5, "inside"),
                                             (0.6875, "inside"), (0.72, "above")])
def test_accuracy_against_chance_places_the_number(accuracy, where):
    text = accuracy_against_chance(accuracy, 32)
    assert text.startswith(f"{accuracy:.3f} is {where} the 95% coin-flip band for 32 pairs (0.31 to 0.69)")


def test_verdict_pattern_names_the_habit():
    assert verdict_pattern(["B", "B", "B"]) == "always answers B"
    assert verdict_pattern(["A", None]) == "always answers A (1 of 2 judgements without a readable verdict)"
    assert verdict_pattern(["A", "B", "B"]) == "answers A 1 times and B 2 times"
    assert verdict_pattern([None, None]) == "gives no readable verdict in any of its 2 judgements"
    assert verdict_pattern([]) == "judged nothing"


def _judged(verdicts, winners):
    return [{"verdict_lenient": v, "winner": w, "correct_lenient": int(v is not None and w == f"model_{v.lower()}")}
            for v, w in zip(verdicts, winners)]


def test_describe_judge_explains_a_one_sided_judge_by_the_labels():
    winners = ["model_a"] * 23 + ["model_b"] * 9
    text = describe_judge(_judged(["B"] * 32, winners), "After SFT the judge")
    assert text.startswith("After SFT the judge gives a readable verdict on 32 of 32 pairs (lenient rule) and "
                           "always answers B.")
    assert "preferred answer is B, a share of 0.28 here" in text
    assert "0.281 is below the 95% coin-flip band" in text
    partly = describe_judge(_judged(["B"] * 30 + [None] * 2, winners), "After SFT the judge")
    assert partly.startswith("After SFT the judge gives a readable verdict on 30 of 32 pairs (lenient rule) and "
                             "always answers B when it gives one.")
    silent = describe_judge(_judged([None] * 32, winners), "Before SFT the judge")
    assert silent.startswith("Before SFT the judge gives no readable verdict on any of the 32 pairs (lenient rule).")
    assert "0.000 is below" in silent
    mixed = describe_judge(_judged(["A"] * 20 + ["B"] * 12, winners))
    assert "answers A 20 times and B 12 times" in mixed and "always answers" not in mixed
    assert "is above the 95% coin-flip band" in mixed  # 20 of 23 A right, 9 of 12 B right: 29/32


def _row(bench, cid, order, verdict, preferred_shown_as):
    correct = int(verdict is not None and verdict == preferred_shown_as)
    return {"benchmark": bench, "subset": "alpacaeval-easy", "id": cid, "order": order, "verdict": verdict, "correct": correct}


def test_describe_positions_says_when_scores_measure_the_position():
    # an always-B judge, both orders: right only when the preferred answer is shown as B (order BA)
    rows = [_row("rewardbench", i, o, "B", "A" if o == "AB" else "B") for i in range(4) for o in ("AB", "BA")]
    (text,) = describe_positions(rows)
    assert text.startswith("rewardbench: the judge always answers B; it names the same response in both orders in "
                           "0 of 4 comparisons (position consistency 0.000)")
    assert "0.00 with the preferred answer shown as A and 1.00 with the preferred answer shown as B" in text
    assert "measure the position" in text
    fair = [_row("rewardbench", i, o, "A" if o == "AB" else "B", "A" if o == "AB" else "B")
            for i in range(4) for o in ("AB", "BA")]
    (text,) = describe_positions(fair)
    assert "answers A 4 times and B 4 times" in text and "4 of 4 comparisons (position consistency 1.000)" in text
    assert "measure the position" not in text


def test_describe_rmbench_matrix_follows_the_cells():
    flat = describe_rmbench_matrix({"matrix": {"chat": [[0.5] * 3] * 3}, "easy": 0.5, "normal": 0.5, "hard": 0.5})
    assert "every cell reads the same" in flat and "no sign here" in flat
    styled = describe_rmbench_matrix({"matrix": {"chat": [[.5, .2, .1], [.7, .5, .3], [.9, .8, .5]],
                                                 "math": [[.5] * 3] * 3}, "easy": .65, "normal": .5, "hard": .35})
    assert "chat, math matrices the cells range from 0.10 to 0.90" in styled
    assert "hard cells trail the easy ones by 0.30" in styled


def test_describe_rule_failures_counts_rows_both_ways():
    same = [{"judgements": 10, "no_verdict_strict": 2, "no_verdict_lenient": 2}] * 3
    assert describe_rule_failures(same).endswith("the two rules fail equally often in all 3 rows of the table.")
    mixed = same[:1] + [{"judgements": 10, "no_verdict_strict": 5, "no_verdict_lenient": 1}]
    text = describe_rule_failures(mixed)
    assert text.startswith("Over 20 judgements the strict rule finds no verdict in 7 and the lenient rule in 3")
    assert "more often in 1, less often in 0 and equally often in 1 of the 2 rows" in text


def test_describe_heldout_change_counts_pairs_and_names_the_subset():
    from rmr1lib.rl import describe_heldout_change

    change = {"before": {"step": 0, "n": 16, "accuracy_strict": 0.375, "parse_rate_strict": 0.75},
              "after": {"step": 12, "n": 16, "accuracy_strict": 0.4375, "parse_rate_strict": 0.8125}}
    text = describe_heldout_change(change, heldout_total=32)
    assert text.startswith("Held-out here means the first 16 of the 32 held-out pairs (rl.eval_max_pairs)")
    assert "one pair is 6.2 accuracy points" in text
    assert "from 0.375 to 0.438, 1 more pair right (6 -> 7 of 16)" in text and "accuracy 0.438 is inside" in text
    assert "readable verdicts went from 12 to 13" in text and "inside the 95% coin-flip band for 16 pairs" in text
    change["after"].update(accuracy_strict=0.25)
    assert "2 fewer pairs right" in describe_heldout_change(change, heldout_total=16)
    assert "all 16 held-out pairs" in describe_heldout_change(change, heldout_total=16)
    assert "not evaluated" in describe_heldout_change({}, heldout_total=16)


def test_describe_positions_names_a_strong_lean():
    # B in 7 of 8 readable verdicts: an always-B judge, except once with the preferred answer shown as A
    rows = [_row("rewardbench", i, o, "B", "A" if o == "AB" else "B") for i in range(4) for o in ("AB", "BA")]
    rows[0] = _row("rewardbench", 0, "AB", "A", "A")
    (text,) = describe_positions(rows)
    assert "answers A 1 times and B 7 times" in text
    assert "88% of its readable verdicts name B, so the position it favours drives much of its score" in text
    balanced = [_row("rewardbench", i, o, v, "A" if o == "AB" else "B")
                for i, (o, v) in enumerate([("AB", "A"), ("BA", "B"), ("AB", "B"), ("BA", "A")])]
    assert "drives much" not in describe_positions(balanced)[0]
