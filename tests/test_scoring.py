"""Benchmark scoring: expected numbers are computed by hand in the comments from hand-written fixtures."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rmr1lib.errors import ConfigError, DataError
from rmr1lib.scoring import (apply_rmbench_reference_bug, load_results, rmb_goal, rmbench_matrix_scores,
                             score_file, score_results, score_rewardbench, score_rmb, score_rmbench,
                             summarize_orders, validate_result_rows)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "results"
RB = FIXTURES / "rewardbench_small.jsonl"
RMBENCH = FIXTURES / "rmbench_small.jsonl"
RMB = FIXTURES / "rmb_small.jsonl"
MALFORMED = FIXTURES / "malformed_correct.jsonl"
approx = pytest.approx


def row(bench="rewardbench", subset="alpacaeval-easy", id="x", order="AB", verdict="A", correct=None, **extra):
    """A valid row; `correct` follows from verdict and order unless given."""
    if correct is None:
        correct = int(verdict == ("A" if order == "AB" else "B"))
    return {"benchmark": bench, "subset": subset, "id": id, "order": order, "verdict": verdict,
            "correct": correct, **extra}


def rmbench_prompt(pid, domain, matrix, order="AB"):
    """Nine RM-Bench rows for one prompt; matrix[i][j] = 1 if chosen style i beat rejected style j."""
    out = []
    for i in range(3):
        for j in range(3):
            right = "A" if order == "AB" else "B"
            wrong = "B" if right == "A" else "A"
            out.append(row("rm-bench", domain, pid, order, right if matrix[i][j] else wrong,
                           chosen_style=i, rejected_style=j))
    return out


# ---------------------------------------------------------------------------------------------------------
# RewardBench


def test_rewardbench_sections_use_the_fixed_subset_weights():
    s = score_rewardbench(load_results(RB))
    # Chat: alpacaeval-easy 2/2 = 1.0 (weight 100), mt-bench-med 0/1 = 0.0 (weight 40)
    #   -> (100*1 + 40*0) / 140 = 5/7
    assert s["Chat"] == approx(5 / 7)
    # Chat Hard: llmbar-natural: h1 right in AB only -> 0.5, h2 right in both -> 1.0; subset = 0.75 (w 100)
    #   llmbar-adver-neighbor: h3 parse failure -> 0.0 (w 134) -> (100*0.75 + 0) / 234 = 75/234
    assert s["Chat Hard"] == approx(75 / 234)
    # Reasoning: math-prm 1/2 = 0.5 with weight 984 (not its 447 items), hep-python 4/4 = 1.0 with weight 164
    #   -> (984*0.5 + 164*1) / 1148 = 656/1148 = 4/7; an item-count mean would give 5/6, a plain subset mean 0.75
    assert s["Reasoning"] == approx(4 / 7)
    assert s["Reasoning"] != approx(5 / 6) and s["Reasoning"] != approx(0.75)
    # Safety has no rows: reported missing, score = plain mean of the three sections present
    assert s["Safety"] is None and s["missing"] == ["Safety"]
    assert s["score"] == approx((5 / 7 + 75 / 234 + 4 / 7) / 3)
    assert "Safety" in s["warning"]
    assert s["subsets"]["llmbar-natural"] == {"section": "Chat Hard", "accuracy": 0.75, "comparisons": 2,
                                              "weight": 100}
    assert "xstest-should-respond" in s["missing_subsets"]
    # 14 rows, 12 comparisons (h1 and h2 judged twice), 1 parse failure
    assert s["counts"] == {"rows": 14, "comparisons": 12, "parse_failures": 1}


def test_rewardbench_score_is_plain_mean_of_sections_not_of_items():
    rows = [row(subset="alpacaeval-easy", id=f"c{k}") for k in range(3)]                   # Chat 1.0 (3 items)
    rows += [row(subset="mt-bench-hard", id="h", verdict="B")]                              # Chat Hard 0.0 (1)
    rows += [row(subset="donotanswer", id=f"s{k}", verdict="AB"[k % 2]) for k in range(2)]  # Safety 0.5 (2)
    rows += [row(subset="hep-go", id=f"r{k}", verdict="A" if k else "B") for k in range(4)]  # Reasoning 0.75
    s = score_rewardbench(rows)
    assert (s["Chat"], s["Chat Hard"], s["Safety"], s["Reasoning"]) == (1.0, 0.0, 0.5, 0.75)
    # (1 + 0 + 0.5 + 0.75) / 4 = 0.5625; the item mean would be 6/10
    assert s["score"] == approx(0.5625)
    assert s["missing"] == [] and "warning" not in s


def test_rewardbench_unknown_subset_names_file_line_and_subset(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(row(id="a")) + "\n" + json.dumps(row(id="b", subset="math_prm")) + "\n")
    with pytest.raises(DataError) as err:
        load_results(path)
    msg = str(err.value)
    assert "r.jsonl, line 2" in msg and "'subset'" in msg and "math_prm" in msg and "math-prm" in msg


# ---------------------------------------------------------------------------------------------------------
# RM-Bench


def test_rmbench_matrix_levels_and_missing_domains():
    s = score_rmbench(load_results(RMBENCH))
    # chat: prompt 1 [[1,0,0],[1,1,0],[1,1,1]], prompt 2 [[1,1,0],[1,1,1],[1,1,1]] -> mean matrix below
    assert s["matrix"]["chat"] == [[1.0, 0.5, 0.0], [1.0, 1.0, 0.5], [1.0, 1.0, 1.0]]
    # math: prompt 1 [[0,1,1],[0,1,0],[1,1,0]], prompt 2 [[1,1,0],[0,0,1],[1,0,1]]
    assert s["matrix"]["math"] == [[0.5, 1.0, 0.5], [0.0, 0.5, 0.5], [1.0, 0.5, 0.5]]
    # chat: hard (i<j) = (.5+0+.5)/3 = 1/3, normal 1, easy (i>j) 1, domain = 7/9
    assert s["domains"]["chat"]["hard"] == approx(1 / 3)
    assert (s["domains"]["chat"]["normal"], s["domains"]["chat"]["easy"]) == (1.0, 1.0)
    assert s["chat"] == approx(7 / 9)
    # math: hard = (1+.5+.5)/3 = 2/3, normal .5, easy = (0+1+.5)/3 = .5, domain = (2 + 1.5 + 1.5)/9 = 5/9
    assert s["domains"]["math"]["hard"] == approx(2 / 3)
    assert s["domains"]["math"]["easy"] == approx(0.5)
    assert s["math"] == approx(5 / 9)
    # over the two present domains: total (7/9 + 5/9)/2 = 2/3; easy .75, normal .75, hard .5
    assert s["score"] == approx(2 / 3)
    assert (s["easy"], s["normal"], s["hard"]) == (approx(0.75), approx(0.75), approx(0.5))
    # code and safety have no rows: None, listed, and a warning says the total is over 2 of 4 domains
    assert s["code"] is None and s["safety"] is None and s["missing"] == ["code", "safety"]
    assert "2 of 4 domains" in s["warning"]
    assert s["reference_bug"] is False and "shift_from_bug" not in s


def test_apply_reference_bug_moves_pass_two_into_pass_one():
    m = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    # pass 1 cells (0,1), (1,2), (2,0) take the pass-2 value of the same chosen style: (0,2), (1,0), (2,1)
    assert apply_rmbench_reference_bug(m) == [[0, 2, 2], [3, 4, 3], [7, 7, 8]]
    assert m == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # input untouched
    with pytest.raises(DataError):
        apply_rmbench_reference_bug([[1, 2], [3, 4]])


def test_rmbench_reference_bug_option_changes_the_numbers():
    s = score_rmbench(load_results(RMBENCH), reference_bug=True)
    # chat becomes [[1,0,0],[1,1,1],[1,1,1]]: still 7/9; math becomes [[.5,.5,.5],[0,.5,0],[.5,.5,.5]]: 3.5/9
    assert s["matrix"]["math"] == [[0.5, 0.5, 0.5], [0.0, 0.5, 0.0], [0.5, 0.5, 0.5]]
    assert s["chat"] == approx(7 / 9) and s["math"] == approx(7 / 18)
    # total (7/9 + 7/18)/2 = 7/12 instead of 2/3; easy (1 + 1/3)/2 = 2/3; hard (1/3 + 1/3)/2 = 1/3
    assert s["score"] == approx(7 / 12)
    assert s["easy"] == approx(2 / 3) and s["hard"] == approx(1 / 3) and s["normal"] == approx(0.75)
    assert s["shift_from_bug"]["score"] == approx(7 / 12 - 2 / 3)
    assert s["shift_from_bug"]["math"] == approx(7 / 18 - 5 / 9)
    assert s["reference_bug"] is True


def test_rmbench_both_orders_give_half_credit_and_missing_cell_is_an_error():
    rows = rmbench_prompt("p1", "code", [[1, 1, 1], [1, 1, 1], [1, 1, 1]], order="AB")
    # the (0, 2) comparison is also judged in order BA and lost there -> that cell is 0.5
    rows.append(row("rm-bench", "code", "p1", "BA", "A", chosen_style=0, rejected_style=2))
    s = score_rmbench(rows)
    assert s["matrix"]["code"][0][2] == 0.5
    assert s["code"] == approx(8.5 / 9) and s["domains"]["code"]["hard"] == approx(2.5 / 3)
    with pytest.raises(DataError, match=r"chosen style 2 .* rejected style 1"):
        score_rmbench([r for r in rows if (r["chosen_style"], r["rejected_style"]) != (2, 1)])


def test_rmbench_incomplete_prompt_is_counted():
    rows = rmbench_prompt("p1", "safety", [[1] * 3] * 3) + rmbench_prompt("p2", "safety", [[0] * 3] * 3)[:4]
    s = score_rmbench(rows)
    # cells (0,0)..(1,0) average p1 and p2 (0.5); the other five come from p1 only (1.0)
    assert s["safety"] == approx((4 * 0.5 + 5 * 1.0) / 9)
    assert s["domains"]["safety"]["incomplete_prompts"] == 1 and s["domains"]["safety"]["prompts"] == 2


def test_rmbench_matrix_scores_split():
    m = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]
    out = rmbench_matrix_scores(m)
    assert out["hard"] == approx((0.2 + 0.3 + 0.6) / 3)
    assert out["normal"] == approx((0.1 + 0.5 + 0.9) / 3)
    assert out["easy"] == approx((0.4 + 0.7 + 0.8) / 3)
    assert out["score"] == approx(0.5)


# ---------------------------------------------------------------------------------------------------------
# RMB


def test_rmb_pairwise_and_best_of_n():
    s = score_rmb(load_results(RMB))
    # pairwise helpfulness: p-h1 1, p-h2 1, p-h3 0, p-h4 right in AB only 0.5 -> 2.5/4
    assert s["pairwise_helpfulness"] == approx(0.625)
    # pairwise harmlessness: p-s1 1, p-s2 parse failure 0 -> 0.5
    assert s["pairwise_harmlessness"] == approx(0.5)
    # BoN helpfulness: g1 all 3 won; g2 loses b-2b; g3's b-3b is lost in order BA (0.5 is not 1) -> 1/3
    assert s["bon_helpfulness"] == approx(1 / 3)
    assert s["parts"]["bon_helpfulness"] == {"groups": 3, "groups_won": 1, "comparisons": 7}
    # BoN harmlessness: g4 and group 5 (both orders, all right) won -> 1.0
    assert s["bon_harmlessness"] == 1.0
    assert s["score"] == approx((0.625 + 0.5 + 1 / 3 + 1.0) / 4)
    assert s["missing"] == [] and "warning" not in s
    assert s["counts"] == {"rows": 22, "comparisons": 17, "parse_failures": 1}


def test_rmb_missing_set_is_reported():
    rows = [row("rmb", "Helpfulness/x", "p1", set="pairwise"),
            row("rmb", "Harmlessness/y", "p2", verdict="B", set="pairwise")]
    s = score_rmb(rows)
    assert s["missing"] == ["bon_helpfulness", "bon_harmlessness"]
    assert s["score"] == approx(0.5) and s["bon_helpfulness"] is None


def test_rmb_goal_parsing():
    assert rmb_goal("Helpfulness/Chat") == "helpfulness"
    assert rmb_goal("hArMlEsSnEsS") == "harmlessness"
    assert rmb_goal("BoN_set/Harmlessness/S1", "bon") == "harmlessness"
    with pytest.raises(DataError, match="BoN_set"):
        rmb_goal("BoN_set/Harmlessness/S1", "pairwise")
    for bad in ("Honesty/x", "", "Chat/Helpfulness", "Pairwise_set"):
        with pytest.raises(DataError):
            rmb_goal(bad)


def test_rmb_group_must_not_mix_goals():
    rows = [row("rmb", "Helpfulness/a", "b1", set="bon", group_id="g"),
            row("rmb", "Harmlessness/a", "b2", set="bon", group_id="g")]
    with pytest.raises(DataError, match=r"rows\[1\].*group 'g'"):
        validate_result_rows(rows)


# ---------------------------------------------------------------------------------------------------------
# orders and parse failures


def test_summarize_orders_rewardbench():
    s = summarize_orders(load_results(RB))["rewardbench"]
    # AB rows c1 c3 h1 h2 r1 r3 r5: 6 of 7 right; BA rows c2 h1 h2 h3 r2 r4 r6: 4 of 7 right
    assert s["rows_by_order"] == {"AB": 7, "BA": 7}
    assert s["accuracy_by_order"]["AB"] == approx(6 / 7) and s["accuracy_by_order"]["BA"] == approx(4 / 7)
    # h1: both verdicts "A", i.e. different responses -> inconsistent; h2: "A" then "B" = same response
    assert (s["both_orders"], s["consistent"], s["position_consistency"]) == (2, 1, 0.5)
    assert s["parse_failures"] == 1 and s["parse_failure_rate"] == approx(1 / 14)
    rows = load_results(RB)
    mine = [r for r in rows if r["benchmark"] == "rewardbench"]
    assert s["verdict_share"]["A"] == approx(sum(r["verdict"] == "A" for r in mine) / 14)
    assert s["verdict_share"]["A"] + s["verdict_share"]["B"] == approx(13 / 14)  # one unreadable verdict


def test_summarize_orders_rmb_and_parse_failure_is_not_consistent():
    s = summarize_orders(load_results(RMB))["rmb"]
    # both orders: p-h4 (1,0) no, b-3a (1,1) yes, b-3b (1,0) no, b-5a yes, b-5b yes -> 3/5
    assert (s["both_orders"], s["consistent"]) == (5, 3)
    assert s["accuracy_by_order"]["AB"] == approx(10 / 12) and s["accuracy_by_order"]["BA"] == approx(7 / 10)
    rows = [row(id="q", order="AB", verdict=None, correct=0), row(id="q", order="BA", verdict=None, correct=0)]
    q = summarize_orders(rows)["rewardbench"]
    assert (q["both_orders"], q["consistent"], q["position_consistency"]) == (1, 0, 0.0)
    assert q["parse_failures"] == 2


def test_pooled_judge_metrics_pool_every_benchmark_and_read_like_the_judge_metrics():
    from rmr1lib.judging import describe_position_bias
    from rmr1lib.scoring import pooled_judge_metrics

    rows = load_results(RB) + load_results(RMB)
    pooled = pooled_judge_metrics(rows)
    per = summarize_orders(rows)
    assert pooled["n"] == len(rows) == per["rewardbench"]["rows"] + per["rmb"]["rows"]
    assert pooled["both_orders"] == per["rewardbench"]["both_orders"] + per["rmb"]["both_orders"]
    assert pooled["position_consistency"] == approx((1 + 3) / (2 + 5))
    assert pooled["accuracy_lenient"] == approx(sum(r["correct"] for r in rows) / len(rows))
    assert pooled["accuracy_ci95_low"] < pooled["accuracy_lenient"] < pooled["accuracy_ci95_high"]
    # a judge that always answers "B": half right, never consistent, and the sentence says so
    always_b = [row(id=str(i), order=o, verdict="B") for i in range(40) for o in ("AB", "BA")]
    m = pooled_judge_metrics(always_b)
    assert (m["accuracy_lenient"], m["position_consistency"], m["share_B"]) == (0.5, 0.0, 1.0)
    assert 'mostly answers "B"' in describe_position_bias(m)
    assert pooled_judge_metrics([]) == {"n": 0}


def test_task_kind_maps_every_benchmark_part_to_reasoning_chat_or_safety():
    from rmr1lib.scoring import task_kind

    expected = {("rewardbench", "hep-go"): "reasoning", ("rewardbench", "math-prm"): "reasoning",
                ("rewardbench", "llmbar-natural"): "chat", ("rewardbench", "alpacaeval-easy"): "chat",
                ("rewardbench", "xstest-should-respond"): "safety", ("rm-bench", "code"): "reasoning",
                ("rm-bench", "math"): "reasoning", ("rm-bench", "chat"): "chat", ("rm-bench", "safety"): "safety",
                ("rm-bench", "safety-refuse"): "safety", ("rmb", "Pairwise_set/Harmlessness/S5"): "safety",
                ("rmb", "BoN_set/Helpfulness/Code/Programming"): "reasoning",
                ("rmb", "Helpfulness/Reasoning/Logical Deduction"): "reasoning",
                ("rmb", "BoN_set/Helpfulness/Chat/Casual Conversation"): "chat"}
    assert {key: task_kind(*key) for key in expected} == expected
    for bench, subset, what in (("rewardbench", "no-such-subset", "no-such-subset"), ("rm-bench", "poetry", "poetry"),
                                ("rmb", "Style/Chat", "Helpfulness/"), ("other", "x", "other")):
        with pytest.raises(DataError, match=what):
            task_kind(bench, subset)


def test_pooled_metrics_by_kind_show_where_a_judge_reads_and_where_it_follows_the_position():
    from rmr1lib.scoring import pooled_judge_metrics, pooled_metrics_by_kind

    # safety read right in both orders; reasoning answered "B" whatever the order (half right, never consistent)
    safety = [row(subset="donotanswer", id=f"s{i}", order=o, verdict="A" if o == "AB" else "B")
              for i in range(6) for o in ("AB", "BA")]
    reasoning = [row(subset="hep-go", id=f"r{i}", order=o, verdict="B") for i in range(4) for o in ("AB", "BA")]
    chat = [row("rm-bench", "chat", "c0", o, "A" if o == "AB" else "B", chosen_style=0, rejected_style=1)
            for o in ("AB", "BA")]
    by_kind = pooled_metrics_by_kind(reasoning + safety + chat)
    assert list(by_kind) == ["reasoning", "chat", "safety"]
    assert (by_kind["safety"]["n"], by_kind["safety"]["accuracy_lenient"], by_kind["safety"]["position_consistency"]) \
        == (12, 1.0, 1.0)
    assert (by_kind["reasoning"]["accuracy_lenient"], by_kind["reasoning"]["position_consistency"],
            by_kind["reasoning"]["share_B"]) == (0.5, 0.0, 1.0)
    assert by_kind["chat"] == pooled_judge_metrics(chat)
    assert pooled_metrics_by_kind([]) == {}


# ---------------------------------------------------------------------------------------------------------
# validation

GOOD = row(id="good")
BAD_ROWS = [
    ('{"benchmark": "rewardbench",', "not valid JSON"),
    (json.dumps([1, 2]), "JSON object"),
    (json.dumps({k: v for k, v in row(id="m").items() if k != "verdict"}), "'verdict' is missing"),
    (json.dumps(row(id=["m"])), "'id'"),
    (json.dumps(row(id="m", correct=2)), "'correct'"),
    (json.dumps(row(id="m", correct=True)), "'correct'"),
    (json.dumps(row(id="m", verdict="C", correct=0)), "'verdict'"),
    (json.dumps(row(id="m", order="ab")), "'order'"),
    (json.dumps(row(id="m", verdict=None, correct=1)), "'correct' is 1 but verdict is null"),
    (json.dumps(row(id="m", verdict="B", correct=1)), "'correct' is 1 but verdict \"B\""),
    (json.dumps(row(bench="reward-bench", id="m")), "'benchmark'"),
    (json.dumps(GOOD), "duplicate row"),
    (json.dumps(row(id="good", order="BA", verdict="B", subset="hep-go")), "'subset'"),
    (json.dumps(row("rm-bench", "chat", "m", chosen_style=3, rejected_style=0)), "'chosen_style'"),
    (json.dumps(row("rm-bench", "chat", "m", chosen_style=True, rejected_style=0)), "'chosen_style'"),
    (json.dumps(row("rm-bench", "chat", "m", chosen_style=0)), "'rejected_style' is missing"),
    (json.dumps(row("rm-bench", "Chat", "m", chosen_style=0, rejected_style=0)), "'subset'"),
    (json.dumps(row("rmb", "Helpfulness/x", "m")), "'set' is missing"),
    (json.dumps(row("rmb", "Helpfulness/x", "m", set="best-of-n")), "'set'"),
    (json.dumps(row("rmb", "Helpfulness/x", "m", set="bon")), "'group_id' is missing"),
    (json.dumps(row("rmb", "Helpfulness/x", "m", set="pairwise", group_id="g")), "'group_id'"),
    (json.dumps(row("rmb", "Honesty/x", "m", set="pairwise")), "'subset'"),
]


@pytest.mark.parametrize("bad_line, expected", BAD_ROWS)
def test_malformed_row_names_file_line_and_key(tmp_path, bad_line, expected):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + bad_line + "\n")
    with pytest.raises(DataError) as err:
        load_results(path)
    assert f"{path}, line 2" in str(err.value)
    assert expected in str(err.value)


def test_duplicate_rmbench_rows_need_same_styles():
    a = row("rm-bench", "chat", "p", chosen_style=0, rejected_style=1)
    b = row("rm-bench", "chat", "p", chosen_style=1, rejected_style=0)
    assert len(validate_result_rows([a, b])) == 2  # same prompt and order, different comparison: fine
    with pytest.raises(DataError, match=r"rows\[1\]: duplicate row .* chosen_style 0, rejected_style 1"):
        validate_result_rows([a, dict(a)])


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="no result rows"):
        load_results(tmp_path / "empty.jsonl")
    with pytest.raises(DataError, match="no such results file"):
        load_results(tmp_path / "nope.jsonl")


def test_score_results_benchmark_selection():
    rows = load_results(RB) + load_results(RMB)
    assert list(score_results(rows)) == ["rewardbench", "rmb"]
    assert list(score_results(rows, benchmarks="rmb")) == ["rmb"]
    with pytest.raises(DataError, match="no rm-bench rows"):
        score_results(rows, benchmarks="rm-bench")
    with pytest.raises(ConfigError, match="unknown benchmark"):
        score_results(rows, benchmarks="mt-bench")


def test_score_file_attaches_order_summary():
    out = score_file(RMB)
    assert out["rmb"]["orders"]["both_orders"] == 5


# ---------------------------------------------------------------------------------------------------------
# command line and purity


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "rmr1lib.evaluate", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_scores_all_benchmarks_in_a_file(tmp_path):
    combined = tmp_path / "all.jsonl"
    combined.write_text(RB.read_text() + RMBENCH.read_text() + RMB.read_text())
    done = run_cli("score", combined)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert list(out) == ["rewardbench", "rm-bench", "rmb"]
    assert out["rewardbench"]["score"] == approx((5 / 7 + 75 / 234 + 4 / 7) / 3)
    assert out["rm-bench"]["score"] == approx(2 / 3)
    assert out["rmb"]["score"] == approx((0.625 + 0.5 + 1 / 3 + 1.0) / 4)
    for bench in out.values():
        assert "orders" in bench

    done = run_cli("score", combined, "--benchmark", "rm-bench", "--rmbench-reference-bug")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert list(out) == ["rm-bench"] and out["rm-bench"]["score"] == approx(7 / 12)


def test_cli_malformed_file_exits_2_with_line_number():
    done = run_cli("score", MALFORMED)
    assert done.returncode == 2
    assert "line 3" in done.stderr and "'correct'" in done.stderr and "malformed_correct.jsonl" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_score_command_names_binary_files_and_folders(tmp_path, capsys):
    from rmr1lib.evaluate import main

    binary = tmp_path / "results.jsonl"
    binary.write_bytes(RB.read_bytes().splitlines(keepends=True)[0] + b"\x89PNG\r\n\x1a\n\x00\xff\xfe\n")
    assert main(["score", str(binary)]) == 2
    err = capsys.readouterr().err
    assert f"{binary}, line 2: not UTF-8 text" in err and "binary file" in err
    assert "Fix that row" not in err and "Traceback" not in err
    assert main(["score", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is a folder, not a results file" in err and "no such" not in err
    assert main(["score", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: no such results file" in capsys.readouterr().err


def test_a_malformed_row_gets_the_row_hint(tmp_path, capsys):
    from rmr1lib.evaluate import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text(RB.read_text().splitlines()[0] + "\n{\"benchmark\": \"rewardbench\"\n")
    assert main(["score", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}, line 2: not valid JSON" in err and "Fix that row" in err


def test_cli_benchmark_absent_exits_2():
    done = run_cli("score", RB, "--benchmark", "rmb")
    assert done.returncode == 2 and "no rmb rows" in done.stderr and "Traceback" not in done.stderr


def test_benchmark_accuracy_interval_counts_each_source_item_together():
    from rmr1lib.scoring import pooled_judge_metrics, source_item

    # RM-Bench: the nine style pairs of a prompt are one item; RMB Best-of-N: one group; elsewhere the comparison
    assert source_item(row("rm-bench", "chat", "p1", chosen_style=0, rejected_style=2)) == ("rm-bench", "p1")
    assert source_item(row("rmb", "Pairwise_set/Helpfulness/Chat/x", "bon/g1/2", set="bon", group_id="g1")) == (
        "rmb", "bon", "g1")
    assert source_item(row(id=7)) == ("rewardbench", "7")
    # four RM-Bench prompts, each judged right in all 18 judgements or wrong in all: 4 items, a wide interval
    rows = []
    for p, good in enumerate((1, 1, 1, 0)):
        full = [[good] * 3 for _ in range(3)]
        rows += rmbench_prompt(f"p{p}", "chat", full, "AB") + rmbench_prompt(f"p{p}", "chat", full, "BA")
    m = pooled_judge_metrics(rows)
    assert (m["n"], m["comparisons"], m["items"], m["accuracy_lenient"]) == (72, 36, 4, 0.75)
    assert m["accuracy_ci95_items_low"] < 0.4 < 0.6 < m["accuracy_ci95_low"]


def test_metrics_by_reading_show_which_questions_the_judge_answers_without_reading_the_replies():
    from rmr1lib.judging import describe_readings, trace_reading
    from rmr1lib.scoring import pooled_metrics_by_reading
    from rmr1lib.synthetic import TASKS, make_pairs, oracle_trace

    pairs = make_pairs(200, seed=5)
    readings: dict = {}
    for p in pairs:
        readings.setdefault(p["meta"]["task"], set()).add(trace_reading(oracle_trace(p)))
    # the teacher's traces: one reading per task, twelve different ones
    assert set(readings) == {t for tasks in TASKS.values() for t in tasks}
    assert all(len(v) == 1 for v in readings.values()) and len(set().union(*readings.values())) == 12
    assert readings["smaller"] == {"reasoning: smaller"} and readings["program"] == {"reasoning: program"}
    assert readings["parity"] == {"reasoning: parity"}
    assert readings["bullets"] == {"chat: The reply is a bulleted list"}
    assert trace_reading("no tags at all") == "no type" and trace_reading("<type>Chat</type>\n[[A]]") == "chat"
    assert trace_reading("<type>Reasoning</type>\n<solution>7 is 7</solution>") == "reasoning"

    bullets = next(p for p in pairs if p["meta"]["task"] == "bullets")
    harmful = next(p for p in pairs if p["meta"]["task"] == "should_refuse")
    stuck = [row(subset="alpacaeval-easy", id=f"c{i}", order=o, verdict="A", text=oracle_trace(bullets))
             for i in range(10) for o in ("AB", "BA")]
    reads = [row(subset="donotanswer", id=f"s{i}", order=o, verdict="A" if o == "AB" else "B",
                 text=oracle_trace(harmful)) for i in range(10) for o in ("AB", "BA")]
    by = pooled_metrics_by_reading(stuck + reads[:-2])
    assert list(by) == ["chat: The reply is a bulleted list", "chat: The request is harmful: the reply must refuse"]
    assert by["chat: The reply is a bulleted list"]["share_A"] == 1.0
    assert by["chat: The reply is a bulleted list"]["position_consistency"] == 0.0
    assert by["chat: The request is harmful: the reply must refuse"]["position_consistency"] == 1.0
    lines = describe_readings(by)
    assert len(lines) == 2
    assert "On 1 of the 2 readings" in lines[0]
    assert "'chat: The reply is a bulleted list': \"A\" in 20 of 20" in lines[0] and "right in 10 of 20" in lines[0]
    assert "'chat: The request is harmful: the reply must refuse': 18 of 18 right, consistency 1.00" in lines[1]
    assert describe_readings(by, at_least=30) == ["The judge has no reading with at least 30 judgements."]
