"""Model evaluation: seeded A/B orders, resumable results files, hand-computed scores end to end through the
`score` command, and (slow) a real vLLM evaluation of the offline tiny model through the `run` command.

Hand computation for the fixtures (tests/fixtures/benchmarks/), every comparison judged in both orders:
RewardBench judge table (same verdict in both orders): 101 right, 102 wrong, 103 right, 104 no verdict,
105 right, 106 right, 107 wrong, 108 right. Subset weights (rmr1lib.scoring.REWARDBENCH_SECTIONS):
    Chat      = (100*1 + 40*0) / 140           = 5/7        (alpacaeval-easy 101, mt-bench-med 102)
    Chat Hard = (100*1 + 46*0) / 146           = 50/73      (llmbar-natural 103, llmbar-adver-manual 104)
    Safety    = (136*1 + 250*1) / 386          = 1          (donotanswer 105, xstest-should-respond 106)
    Reasoning = (984*0 + 164*1) / 1148         = 1/7        (math-prm 107, hep-python 108)
    score     = (5/7 + 50/73 + 1 + 1/7) / 4
RM-Bench: a style-loving judge picks the fancier response, and the preferred one on equal styles, so a cell
(chosen style i, rejected style j) is right exactly when i >= j, in both orders: every domain 6/9, easy 1,
normal 1, hard 0, score 2/3. With the reference bug, cell (0,1) takes (0,2) = 0, (1,2) takes (1,0) = 1 and
(2,0) takes (2,1) = 1: hard = (0 + 0 + 1)/3 = 1/3, easy 1, normal 1, every domain and the score 7/9.
RMB: p-help-1 right twice (1), p-help-2 right in AB only (1/2) -> pairwise_helpfulness 3/4; p-harm-1 right
twice, p-harm-2 wrong twice -> pairwise_harmlessness 1/2; Best-of-N group g-help-1 won, g-help-2 lost (its
loser 1 has no verdict in BA), g-harm-1 won -> bon_helpfulness 1/2, bon_harmlessness 1;
score = (3/4 + 1/2 + 1/2 + 1) / 4 = 11/16. Consistent in both orders: 9 of 11 comparisons (not p-help-2,
not g-help-2/1).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest import approx

from rmr1lib import benchmarks as bm
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.evaluate import (EvalSettings, judge_comparisons, judgement_row, paper_reference,
                              parse_failures, plan_judgements, read_done, results_file_name, seeded_order)
from rmr1lib.files import model_fingerprint, read_jsonl
from rmr1lib.prompts import build_messages

REPO = Path(__file__).resolve().parent.parent
FIX = REPO / "tests" / "fixtures" / "benchmarks"
MODEL = "test-judge"  # a name, not a folder: its fingerprint is the name itself


def fixture_comparisons():
    return (bm.expand_items("rewardbench", bm.load_items("rewardbench", FIX / "rewardbench_filtered.jsonl"))
            + bm.expand_items("rm-bench", bm.load_items("rm-bench", FIX / "rmbench_total_dataset.json"))
            + bm.expand_items("rmb", bm.load_items("rmb", FIX / "rmb_dataset")))


def _prompt_key(messages):
    return json.dumps(messages, sort_keys=True)


class TableJudge:
    """A stand-in judge (not an engine): answers each prompt from a table the test writes by hand.

    `decide(comparison, order)` returns "preferred", "other" or None (an answer without a verdict tag).
    Counts calls and prompts, and can stop with an error after some batches (an interruption)."""

    def __init__(self, comparisons, decide, prompt_kind="plain_judge", fail_after_batches=None):
        self.answers, self.calls, self.prompts, self.fail_after = {}, 0, [], fail_after_batches
        for comp in comparisons:
            for order in ("AB", "BA"):
                pick = decide(comp, order)
                if pick is None:
                    text = "Both responses have merits and I cannot choose."
                else:
                    letter = "A" if (pick == "preferred") == (order == "AB") else "B"
                    text = f"Comparing the two answers. <answer>[[{letter}]]</answer>"
                self.answers[_prompt_key(build_messages(prompt_kind, *comp.conversations(order)))] = text

    def generate(self, conversations, settings, progress=False):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("interrupted by the test")
        self.calls += 1
        keys = [_prompt_key(m) for m in conversations]
        self.prompts += keys
        return [self.answers[k] for k in keys]


RB_TABLE = {101: "preferred", 102: "other", 103: "preferred", 104: None, 105: "preferred", 106: "preferred",
            107: "other", 108: "preferred"}
RMB_TABLE = {("pairwise/p-help-1", "AB"): "preferred", ("pairwise/p-help-1", "BA"): "preferred",
             ("pairwise/p-help-2", "AB"): "preferred", ("pairwise/p-help-2", "BA"): "other",
             ("pairwise/p-harm-1", "AB"): "preferred", ("pairwise/p-harm-1", "BA"): "preferred",
             ("pairwise/p-harm-2", "AB"): "other", ("pairwise/p-harm-2", "BA"): "other",
             ("bon/g-help-2/1", "BA"): None}


def hand_judge(comp, order):
    if comp.benchmark == "rewardbench":
        return RB_TABLE[comp.id]
    if comp.benchmark == "rm-bench":
        return "preferred" if comp.fields["chosen_style"] >= comp.fields["rejected_style"] else "other"
    return RMB_TABLE.get((comp.id, order), "preferred")


def settings(**change):
    base = dict(prompt_kind="plain_judge", max_new_tokens=64, orders="both", order_seed=3, sampling_seed=3,
                batch_size=7)
    base.update(change)
    return EvalSettings(**base)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "rmr1lib.evaluate", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_fixtures_end_to_end_through_the_score_command(tmp_path):
    comps = fixture_comparisons()
    out = tmp_path / "results.jsonl"
    judge = TableJudge(comps, hand_judge)
    report = judge_comparisons(judge, comps, settings(), out, model=MODEL)
    assert report["judged"] == report["planned"] == 2 * (8 + 45 + 11) and report["rows"] == 128
    done = run_cli("score", out)
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    rb, rmbench, rmb = scores["rewardbench"], scores["rm-bench"], scores["rmb"]
    assert rb["Chat"] == approx(5 / 7) and rb["Chat Hard"] == approx(50 / 73)
    assert rb["Safety"] == approx(1) and rb["Reasoning"] == approx(1 / 7)
    assert rb["score"] == approx((5 / 7 + 50 / 73 + 1 + 1 / 7) / 4) and rb["missing"] == []
    assert rb["orders"]["parse_failures"] == 2 and rb["orders"]["position_consistency"] == approx(7 / 8)
    for key in ("chat", "math", "code", "safety", "score"):
        assert rmbench[key] == approx(2 / 3), key
    assert (rmbench["easy"], rmbench["normal"], rmbench["hard"]) == (approx(1), approx(1), approx(0))
    assert rmbench["domains"]["safety"]["prompts"] == 2 and rmbench["orders"]["position_consistency"] == 1
    assert rmb["pairwise_helpfulness"] == approx(3 / 4) and rmb["pairwise_harmlessness"] == approx(1 / 2)
    assert rmb["bon_helpfulness"] == approx(1 / 2) and rmb["bon_harmlessness"] == approx(1)
    assert rmb["score"] == approx(11 / 16)
    assert rmb["parts"]["bon_helpfulness"] == {"groups": 2, "groups_won": 1, "comparisons": 5}
    assert rmb["orders"]["consistent"] == 9 and rmb["orders"]["both_orders"] == 11

    buggy = run_cli("score", out, "--benchmark", "rm-bench", "--rmbench-reference-bug")
    assert buggy.returncode == 0, buggy.stderr
    buggy = json.loads(buggy.stdout)["rm-bench"]
    assert buggy["hard"] == approx(1 / 3) and buggy["score"] == approx(7 / 9) and buggy["math"] == approx(7 / 9)
    assert buggy["shift_from_bug"]["score"] == approx(7 / 9 - 2 / 3)


def test_position_biased_judge_scores_half_and_never_wins_a_group(tmp_path):
    comps = fixture_comparisons()
    out = tmp_path / "always_a.jsonl"
    judge_comparisons(TableJudge(comps, lambda c, o: "preferred" if o == "AB" else "other"), comps, settings(),
                      out, model=MODEL)
    scores = json.loads(run_cli("score", out).stdout)
    assert scores["rewardbench"]["score"] == approx(0.5) and scores["rm-bench"]["score"] == approx(0.5)
    assert scores["rmb"]["pairwise_helpfulness"] == approx(0.5) and scores["rmb"]["bon_helpfulness"] == 0
    assert scores["rmb"]["score"] == approx(0.25)
    for bench in scores.values():
        assert bench["orders"]["position_consistency"] == 0
        assert bench["orders"]["accuracy_by_order"] == {"AB": 1.0, "BA": 0.0}


def test_seeded_orders_are_deterministic_balanced_and_per_comparison():
    comps = bm.load_comparisons("rm-bench", "synthetic", seed=1, synthetic_n=4)
    plan = plan_judgements(comps, "random", seed=11)
    assert plan == plan_judgements(comps, "random", seed=11)
    orders = [o for _, o in plan]
    assert 0.35 < orders.count("AB") / len(orders) < 0.65
    other = [o for _, o in plan_judgements(comps, "random", seed=12)]
    assert orders != other and sum(a != b for a, b in zip(orders, other)) > len(orders) // 4
    # a comparison's order depends on the seed and on the comparison only, not on its neighbours
    subset = comps[5::7]
    assert [o for _, o in plan_judgements(list(reversed(subset)), "random", 11)] == \
        [seeded_order(c.key(), 11) for c in reversed(subset)]
    assert [o for _, o in plan_judgements(comps, "AB", 11)] == ["AB"] * len(comps)
    both = plan_judgements(comps[:3], "both", 11)
    assert [(c.key(), o) for c, o in both] == [(c.key(), o) for c in comps[:3] for o in ("AB", "BA")]
    with pytest.raises(DataError, match=r"comparisons\[1\] repeats comparisons\[0\]"):
        plan_judgements([comps[0], comps[0]], "random", 0)
    with pytest.raises(ConfigError, match="orders must be one of"):
        plan_judgements(comps, "shuffle", 0)


def test_recorded_orders_follow_the_seed(tmp_path):
    comps = bm.load_comparisons("rewardbench", "synthetic", seed=2, synthetic_n=1)
    for seed in (1, 2):
        judge_comparisons(TableJudge(comps, lambda c, o: "preferred"), comps, settings(orders="random",
                          order_seed=seed), tmp_path / f"r{seed}.jsonl", model=MODEL)
    rows1, rows2 = read_jsonl(tmp_path / "r1.jsonl"), read_jsonl(tmp_path / "r2.jsonl")
    assert [r["order"] for r in rows1] == [seeded_order(("rewardbench", str(c.id)), 1) for c in comps]
    assert [r["order"] for r in rows1] != [r["order"] for r in rows2]
    assert all(r["order_seed"] == 1 and r["orders"] == "random" and r["correct"] == 1 for r in rows1)


def test_resume_after_an_interruption_judges_nothing_twice(tmp_path):
    comps = bm.load_comparisons("rmb", "synthetic", seed=4, synthetic_n=2) + \
        bm.load_comparisons("rewardbench", "synthetic", seed=4, synthetic_n=1)
    out = tmp_path / "results.jsonl"
    first = TableJudge(comps, lambda c, o: "preferred", fail_after_batches=3)
    with pytest.raises(KeyboardInterrupt):
        judge_comparisons(first, comps, settings(), out, model=MODEL)
    assert first.calls == 3 and len(read_jsonl(out)) == 3 * 7  # three whole batches were flushed
    second = TableJudge(comps, lambda c, o: "preferred")
    report = judge_comparisons(second, comps, settings(), out, model=MODEL)
    planned = 2 * len(comps)
    assert (report["already_done"], report["judged"], report["rows"]) == (21, planned - 21, planned)
    assert len(first.prompts) + len(second.prompts) == planned
    assert not set(first.prompts) & set(second.prompts)
    rows = read_jsonl(out)
    assert len({(r["benchmark"], str(r["id"]), r["order"]) for r in rows}) == len(rows) == planned
    third = TableJudge(comps, lambda c, o: "preferred")
    assert judge_comparisons(third, comps, settings(), out, model=MODEL)["judged"] == 0 and third.calls == 0


def test_a_cut_off_last_line_is_judged_again(tmp_path):
    comps = bm.load_comparisons("rmb", "synthetic", seed=4, synthetic_n=1)
    out = tmp_path / "results.jsonl"
    judge_comparisons(TableJudge(comps, lambda c, o: "preferred"), comps, settings(), out, model=MODEL)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:25])  # the process died while writing the last row
    assert len(read_done(out)) == len(lines) - 1 and out.read_text().endswith("\n")
    judge = TableJudge(comps, lambda c, o: "preferred")
    report = judge_comparisons(judge, comps, settings(), out, model=MODEL)
    assert report["judged"] == 1 and len(judge.prompts) == 1 and len(read_jsonl(out)) == len(lines)
    out.write_text("".join(lines[:2]) + "{broken\n" + "".join(lines[2:]))
    with pytest.raises(DataError, match=r"results.jsonl, line 3: not valid JSON"):
        read_done(out)


def test_resume_refuses_other_settings_or_another_model(tmp_path):
    comps = bm.load_comparisons("rmb", "synthetic", seed=4, synthetic_n=1)
    out = tmp_path / "results.jsonl"
    judge_comparisons(TableJudge(comps, lambda c, o: "preferred"), comps, settings(), out, model=MODEL)
    judge = TableJudge(comps, lambda c, o: "preferred")
    for change, key in ((dict(max_new_tokens=65), "max_new_tokens"), (dict(verdict_rule="strict"), "verdict_rule"),
                        (dict(orders="random"), "orders"), (dict(order_seed=4), "order_seed")):
        with pytest.raises(ConfigError, match=rf"line 1: this results file was made with {key}=.*Resuming would "
                                              r"mix two evaluations"):
            judge_comparisons(judge, comps, settings(**change), out, model=MODEL)
    with pytest.raises(ConfigError, match="made with model='test-judge'"):
        judge_comparisons(judge, comps, settings(), out, model="other-judge")
    assert judge.calls == 0


def test_model_fingerprint_follows_the_weights(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"\x00" * 100)
    before = model_fingerprint(str(folder))
    assert before.startswith("sha256:") and before == model_fingerprint(str(folder))
    (folder / "model.safetensors").write_bytes(b"\x01" + b"\x00" * 99)
    assert model_fingerprint(str(folder)) != before
    assert model_fingerprint("owner/name") == "name:owner/name"


def test_engine_factory_starts_only_when_work_is_left(tmp_path):
    comps = bm.load_comparisons("rmb", "synthetic", seed=4, synthetic_n=1)
    started = []

    def factory():
        judge = TableJudge(comps, lambda c, o: "preferred")
        judge.close = lambda: started.append("closed")
        started.append("started")
        return judge

    out = tmp_path / "r.jsonl"
    judge_comparisons(factory, comps, settings(), out, model=MODEL)
    judge_comparisons(factory, comps, settings(), out, model=MODEL)
    assert started == ["started", "closed"]


def test_judgement_row_reads_the_verdict_with_the_chosen_rule():
    comp = next(c for c in bm.expand_items("rmb", bm.load_items("rmb", FIX / "rmb_dataset"))
                if c.id == "pairwise/p-help-1")
    late = "<answer>[[B]]</answer>" + " and that settles it, after a long closing remark" * 3
    lenient = judgement_row(comp, "BA", late, "lenient", {"model": "m"})
    strict = judgement_row(comp, "BA", late, "strict", {"model": "m"}, keep_text=False)
    assert (lenient["verdict"], lenient["correct"], strict["verdict"], strict["correct"]) == ("B", 1, None, 0)
    assert strict["verdict_lenient"] == "B" and "text" not in strict and lenient["text"] == late
    assert list(lenient)[:7] == ["benchmark", "subset", "id", "set", "order", "verdict", "correct"]
    assert lenient["model"] == "m" and lenient["id"] == "pairwise/p-help-1"


def test_parse_failures_table_counts_both_rules():
    rows = [{"benchmark": "rmb", "subset": "Helpfulness/Chat", "set": "bon", "id": 1, "verdict": None,
             "verdict_strict": None, "verdict_lenient": None},
            {"benchmark": "rmb", "subset": "Helpfulness/Chat", "set": "bon", "id": 2, "verdict": "A",
             "verdict_strict": None, "verdict_lenient": "A"},
            {"benchmark": "rewardbench", "subset": "hep-go", "id": 3, "verdict": "B"}]
    table = {(r["benchmark"], r["part"]): r for r in parse_failures(rows)}
    assert table[("rmb", "bon_helpfulness")] == {"benchmark": "rmb", "part": "bon_helpfulness", "judgements": 2,
                                                "no_verdict": 1, "no_verdict_strict": 2,
                                                "no_verdict_lenient": 1, "rate": 0.5}
    assert table[("rewardbench", "Reasoning")]["no_verdict"] == 0


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="never guessed"):
        settings(prompt_kind="auto").check()
    with pytest.raises(ConfigError, match="verdict_rule must be one of strict, lenient"):
        settings(verdict_rule="loose").check()
    with pytest.raises(ConfigError, match="max_new_tokens must be an integer >= 1"):
        settings(max_new_tokens=0).check()
    with pytest.raises(ConfigError, match="temperature must be a number >= 0"):
        settings(temperature=-1).check()
    assert set(settings().recorded()) == {"prompt_kind", "prompt_template", "max_new_tokens", "temperature",
                                          "top_p", "verdict_rule", "orders", "order_seed", "sampling_seed"}


def test_paper_reference_and_results_names():
    assert paper_reference("gaotang/RM-R1-Qwen2.5-Instruct-14B")[0] == "RM-R1-Qwen2.5-Instruct-14B"
    assert paper_reference("/runs/x/sft_model", "auto", "deepseek-r1-distill-qwen", "7B")[0] == \
        "RM-R1-DeepSeek-Distilled-Qwen-7B"
    name, why = paper_reference("/runs/x/sft_model", "auto", "tiny", "tiny")
    assert name == "RM-R1-Qwen2.5-Instruct-7B" and "reference point only" in why
    assert paper_reference("whatever", "DS-32B")[0] == "RM-R1-DeepSeek-Distilled-Qwen-32B"
    assert results_file_name("gaotang/RM-R1-Qwen2.5-Instruct-7B") == \
        "results_gaotang--RM-R1-Qwen2.5-Instruct-7B.jsonl"
    with pytest.raises(ConfigError):
        results_file_name("///")


def test_settings_and_comparisons_from_the_smoke_profile():
    from rmr1lib.evaluate import comparisons_from_profile, settings_from_profile
    from rmr1lib.profiles import load_profile

    prof = load_profile("smoke", {"eval.synthetic_n": 1, "eval.benchmarks": ["rmb", "rewardbench"]})
    s = settings_from_profile(prof, seed=9)
    assert (s.prompt_kind, s.verdict_rule, s.orders, s.order_seed) == ("instruct_cor", "lenient", "both", 9)
    assert s.max_new_tokens == prof.generation.max_new_tokens
    suite = comparisons_from_profile(prof, seed=9)
    assert list(suite) == ["rewardbench", "rmb"] and len(suite["rewardbench"]) == 23


def test_run_command_rejects_bad_options_without_a_traceback():
    done = run_cli("run", "nowhere/model", "--prompt-kind", "instruct_cor", "--out", "/tmp/x.jsonl",
                   "--source", "rmb")
    assert done.returncode == 2 and "expected BENCHMARK=PATH_OR_NAME" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("run", "nowhere/model", "--out", "/tmp/x.jsonl")
    assert done.returncode == 2 and "--prompt-kind" in done.stderr



@pytest.mark.slow
def test_tiny_model_through_vllm_gives_a_results_file_the_score_command_accepts(tmp_path):
    from rmr1lib.prompts import PROMPT_KINDS, system_prompt
    from rmr1lib.synthetic import corpus_for_tokenizer, make_pairs
    from rmr1lib.tinymodel import build_tiny_model

    corpus = corpus_for_tokenizer(make_pairs(96, seed=3)) + [s for s in map(system_prompt, PROMPT_KINDS) if s]
    model = build_tiny_model(tmp_path / "tiny", corpus, seed=3)
    out = tmp_path / "results.jsonl"
    args = ["run", model, "--prompt-kind", "instruct_cor", "--out", out, "--data", "synthetic", "--synthetic-n", 1,
            "--max-new-tokens", 24, "--orders", "random", "--seed", 5, "--device", "cpu", "--dtype", "float32",
            "--max-model-len", 4096, "--batch-size", 16]
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    suite, _ = bm.synthetic_suite(bm.BENCHMARKS, 1, 5)  # the CLI draws the same shortcut-free suite as notebook 06
    planned = 23 + 5 * 9 + len(suite["rmb"])
    assert planned == sum(map(len, suite.values()))
    assert result["run"]["backend"] == "vllm" and result["run"]["judged"] == result["run"]["planned"] == planned
    assert result["run"]["judgements_per_second"] > 0
    rows = read_jsonl(out)
    assert len(rows) == planned and all(r["chars"] > 0 and r["max_new_tokens"] == 24 for r in rows)
    assert {r["model_fingerprint"] for r in rows} == {model_fingerprint(str(model))}
    assert [r["order"] for r in rows[:23]] == [seeded_order(("rewardbench", str(r["id"])), 5) for r in rows[:23]]
    scored = run_cli("score", out)
    assert scored.returncode == 0, scored.stderr
    scores = json.loads(scored.stdout)
    assert set(scores) == {"rewardbench", "rm-bench", "rmb"}
    for bench, metrics in (("rewardbench", ("Chat", "Chat Hard", "Safety", "Reasoning", "score")),
                           ("rm-bench", ("chat", "math", "code", "safety", "easy", "normal", "hard", "score")),
                           ("rmb", ("pairwise_helpfulness", "pairwise_harmlessness", "bon_helpfulness",
                                    "bon_harmlessness", "score"))):
        assert all(0 <= scores[bench][m] <= 1 for m in metrics) and scores[bench]["missing"] == []
    assert scores == result["scores"]
    # a rerun finds everything done and does not start the engine
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["run"]["judged"] == 0 and len(read_jsonl(out)) == planned
    # the first run started the engine; the rerun had nothing to judge and never started it
    assert result["run"].get("engine_seconds", 0) > 0 and "engine_seconds" not in json.loads(again.stdout)["run"]

    # the transformers fallback runs through the same path (tests/test_generation.py checks that the two
    # back-ends agree token for token; an untrained model's judgements are too uniform to show it here)
    from rmr1lib.evaluate import evaluate_model

    rmb = suite["rmb"]
    fallback = tmp_path / "transformers.jsonl"
    report = evaluate_model(str(model), rmb, settings(prompt_kind="instruct_cor", max_new_tokens=24,
                                                      orders="random", order_seed=5, sampling_seed=5),
                            fallback, engine={"backend": "transformers", "dtype": "float32", "device": "cpu"})
    assert report["backend"] == "transformers" and report["judged"] == len(rmb)
    vllm_rows = {(r["id"], r["order"]) for r in rows if r["benchmark"] == "rmb"}
    assert {(r["id"], r["order"]) for r in read_jsonl(fallback)} == vllm_rows
    assert run_cli("score", fallback).returncode == 0


def test_run_refused_for_another_evaluation_gives_no_row_hint(tmp_path, capsys):
    """A results file made with other settings is refused before any engine starts; the message names the
    setting, and the "fix that row" advice (for malformed rows) does not follow it."""
    from rmr1lib.evaluate import main

    model = tmp_path / "judge"
    model.mkdir()
    (model / "config.json").write_text("{}")
    out = tmp_path / "results.jsonl"
    comps = bm.load_comparisons("rmb", "synthetic", seed=0, synthetic_n=1)
    row = judgement_row(comps[0], "AB", "<answer>[[A]]</answer>", "lenient",
                        {"model": str(model), "model_fingerprint": model_fingerprint(str(model)),
                         **EvalSettings(prompt_kind="instruct_cor", max_new_tokens=32).recorded()})
    out.write_text(json.dumps(row) + "\n")
    args = ["run", str(model), "--prompt-kind", "instruct_cor", "--out", str(out), "--data", "synthetic",
            "--benchmark", "rmb", "--synthetic-n", "1", "--device", "cpu", "--dtype", "float32", "--seed", "0"]
    assert main(args + ["--max-new-tokens", "64"]) == 2
    err = capsys.readouterr().err
    assert "line 1: this results file was made with max_new_tokens=32" in err and "max_new_tokens=64" in err
    assert "Fix that row" not in err
