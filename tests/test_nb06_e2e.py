"""End to end: notebook 06_evaluation in the smoke workbook (the session's `smoke_run`, see conftest.py).

Checks the artifacts the notebook leaves: a results file with every miniature comparison judged in both orders
and the settings on each row, scores that the `score` command reproduces from that file, the figures, and the
paper comparison."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rmr1lib.evaluate import comparisons_from_profile
from rmr1lib.paper import paper_table
from rmr1lib.files import read_jsonl

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


#: bounds for the final judge on this profile (README, "Does the smoke judge learn?", has the measured figures). On
#: the benchmark split the judge is well short of the goal (0.59-0.71 measured over seeds and both kinds of CPU
#: code), so accuracy is only held off a judge that is systematically wrong; what these bounds guard is the collapse:
#: one letter for everything has consistency 0 and a share of 1.
LEARNED = {"accuracy": 0.45, "position_consistency": 0.1, "max_share": 0.85}


@pytest.fixture(scope="module")
def evaluation(smoke_run):
    summary = json.loads(smoke_run.artifact("eval/scores.json").read_text())
    rows = read_jsonl(smoke_run.artifact(f"eval/{summary['results']}"))
    return smoke_run, summary, rows


def test_every_comparison_is_judged_in_both_orders_once(evaluation, smoke_profile):
    run, summary, rows = evaluation
    prof = smoke_profile
    suite = comparisons_from_profile(prof, prof.seed)
    expected = {c.key() + (o,) for items in suite.values() for c in items for o in ("AB", "BA")}
    got = [(r["benchmark"], str(r["id"])) + ((r["chosen_style"], r["rejected_style"])
                                              if r["benchmark"] == "rm-bench" else ()) + (r["order"],) for r in rows]
    assert len(got) == len(set(got)) == len(expected) and set(got) == expected
    assert summary["report"]["planned"] == len(expected)


def test_settings_and_judge_are_recorded(evaluation, smoke_profile):
    run, summary, rows = evaluation
    prof = smoke_profile
    manifest = json.loads(run.manifest_path.read_text())
    stage = next((a for a in ("rl_model", "sft_model") if a in manifest["artifacts"]), "base")
    assert summary["stage"] == stage
    for row in rows:
        assert (row["prompt_kind"], row["verdict_rule"], row["orders"]) == \
            (prof.judge.prompt_kind, prof.judge.verdict_rule, "both")
        assert row["max_new_tokens"] == prof.generation.max_new_tokens and row["temperature"] == 0.0
        assert row["model"] == summary["model"] and row["order_seed"] == 42
    if stage != "base":  # a distilled judge writes verdict tags
        assert sum(r["verdict"] is not None for r in rows) > len(rows) // 2


def test_score_command_reproduces_the_notebook_scores(evaluation):
    run, summary, rows = evaluation
    results = run.artifact(f"eval/{summary['results']}")
    done = subprocess.run([sys.executable, "-m", "rmr1lib.evaluate", "score", str(results)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == summary["scores"]
    for bench in ("rewardbench", "rm-bench", "rmb"):
        assert summary["scores"][bench]["missing"] == []
        assert summary["scores"][bench]["orders"]["both_orders"] == summary["scores"][bench]["counts"]["comparisons"]


def test_figures_and_paper_comparison(evaluation):
    run, summary, rows = evaluation
    for name in ("rmbench_style_matrix.png", "paper_vs_run.png"):
        assert (run.figures_dir / name).stat().st_size > 10_000, name
    paper = {(r["benchmark"], r["metric"]): r for r in summary["paper_comparison"]}
    assert summary["paper_model"] == "RM-R1-Qwen2.5-Instruct-7B"
    assert paper[("rewardbench", "score")]["paper"] == pytest.approx(0.852)
    assert paper[("rmb", "score")]["ours"] == pytest.approx(summary["scores"]["rmb"]["score"])
    assert {r["benchmark"] for r in paper_table(summary["paper_model"])} <= {b for b, _ in paper}


def test_the_final_judge_judges_the_miniature_benchmarks(evaluation, smoke_profile):
    """At least 128 comparisons in both orders, shortcut baselines near chance, and a judge that has not collapsed
    onto one letter. On the benchmarks the current smoke judge scores 0.60-0.71 (README; 0.62 at these test
    settings); the goal of accuracy 0.75 and consistency 0.70 is not reached, and these bounds only catch the
    collapse (accuracy 0.5, consistency 0, one letter throughout) with room for other CPUs and seeds."""
    from rmr1lib.scoring import pooled_judge_metrics, pooled_metrics_by_kind, pooled_metrics_by_reading

    run, summary, rows = evaluation
    pooled = summary["pooled"]
    assert pooled == pytest.approx(pooled_judge_metrics(rows))
    # the by-kind table: every kind of the synthetic mix, and the same verdicts as the pooled figure
    by_kind = summary["by_kind"]
    expected = pooled_metrics_by_kind(rows)
    assert list(by_kind) == list(expected) == ["reasoning", "chat", "safety"]
    assert all(by_kind[kind] == pytest.approx(expected[kind]) for kind in expected)
    assert sum(m["n"] for m in by_kind.values()) == pooled["n"]
    # the table by the judge's own reading of the question: the same verdicts again, split finer
    by_reading, expected = summary["by_reading"], pooled_metrics_by_reading(rows)
    assert list(by_reading) == list(expected)
    assert all(by_reading[name] == pytest.approx(expected[name]) for name in expected)
    assert sum(m["n"] for m in summary["by_reading"].values()) == pooled["n"]
    # the chat steps: every judgement of a comparison whose client states a synthetic rule, and no other
    from rmr1lib.synthetic import rule_in_question

    suite = comparisons_from_profile(smoke_profile, smoke_profile.seed)
    stated = sum(1 for items in suite.values() for c in items if rule_in_question(c.context[-1]["content"]))
    steps = summary["chat_steps"]
    assert sum(g["judgements"] for g in steps.values()) == 2 * stated > 0
    assert all(max(g["rule_read"], g["replies_read"], g["decision_follows"], g["right"]) <= g["judgements"]
               for g in steps.values())
    assert pooled["comparisons"] >= 128 and pooled["both_orders"] == pooled["comparisons"]
    assert pooled["accuracy_lenient"] >= LEARNED["accuracy"], pooled
    assert pooled["position_consistency"] >= LEARNED["position_consistency"], pooled
    assert max(pooled["share_A"], pooled["share_B"]) <= LEARNED["max_share"], pooled
    best_shortcut = max(v["accuracy"] for k, v in summary["floor"].items() if not k.startswith("judge"))
    assert best_shortcut <= 0.6
    # the recorded draw of the miniature suite: the one the floor was computed on, for the run's seed
    from rmr1lib.evaluate import suite_from_profile

    draw = summary["suite_draw"]
    assert draw == suite_from_profile(smoke_profile, smoke_profile.seed)[1]
    assert draw["seed"] == smoke_profile.seed and draw["draw"] == len(draw["rejected"])
    assert all(draw["baselines"][k] == pytest.approx(v["accuracy"], abs=1e-4)
               for k, v in summary["floor"].items() if not k.startswith("judge"))


def test_tokens_the_judge_never_saw_in_training(evaluation, smoke_profile):
    """Notebook 06 counts, per benchmark and for the held-out pairs, the tokens that never occur in the run's
    distillation data. The held-out pairs are worded like the training pairs, the benchmarks are not: recount both
    from the files (the comparisons, notebook 01's held-out pairs, notebook 03's traces) with the run's tokenizer."""
    from transformers import AutoTokenizer

    run, summary, rows = evaluation
    unseen = summary["unseen_tokens"]
    suite = comparisons_from_profile(smoke_profile, smoke_profile.seed)
    assert list(unseen) == ["held-out pairs (notebook 03)", *suite]
    tok = AutoTokenizer.from_pretrained(summary["model_path"])
    ids = lambda text: tok(text, add_special_tokens=False)["input_ids"]
    seen = {t for r in read_jsonl(run.artifact("traces.jsonl")) for m in r["prompt"] + r["completion"]
            for t in ids(m["content"])}
    for name, comparisons in suite.items():
        tokens = [t for c in comparisons for text in [m["content"] for m in c.context] + [c.chosen, c.rejected]
                  for t in ids(text)]
        missing = sum(t not in seen for t in tokens)
        assert (unseen[name]["tokens"], unseen[name]["unseen"]) == (len(tokens), missing), name
        assert unseen[name]["unseen_share"] > 0.1, name  # other words than training (0.23-0.30 measured)
    held = unseen["held-out pairs (notebook 03)"]
    assert held["tokens"] > 1000 and held["unseen_share"] < 0.01  # the training wording (0 measured)


def test_notebook_time_budget(evaluation):
    run, summary, rows = evaluation
    seconds = json.loads(run.manifest_path.read_text())["notebooks"]["06_evaluation"]["seconds"]
    assert seconds < 240, f"06_evaluation took {seconds:.0f} s (budget 120 s on 2 cores)"


def test_reply_wording_probe_script_on_the_distilled_judge(evaluation, tmp_path):
    """scripts/probe_reply_wording.py on the smoke run's SFT judge, with the profile's engine (vLLM on CPU): one row
    per mix of question and reply wording, each pair judged in both orders; a folder without a model is refused."""
    from rmr1lib.judging import WORDING_CONDITIONS

    run, summary, rows = evaluation
    script = str(REPO / "scripts" / "probe_reply_wording.py")
    done = subprocess.run([sys.executable, script, str(run.artifact("sft_model")), "--n", "3", "--json"],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads(done.stdout[done.stdout.index("{"):])
    assert list(table) == list(WORDING_CONDITIONS)
    for counts in table.values():
        assert counts["judgements"] == 6
        assert max(counts[k] for k in ("rule_read", "replies_read", "decision_follows", "right")) <= 6
    refused = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "is not a model folder" in refused.stderr


def test_seed_trials_reads_the_figures_of_a_real_run(smoke_run):
    """scripts/seed_trials.py summarizes trial runs from what notebooks 03 and 06 save: the same figures."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("seed_trials", REPO / "scripts" / "seed_trials.py")
    trials = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trials)
    figures = trials.run_figures(smoke_run.dir)
    held = json.loads(smoke_run.artifact("sft_eval.json").read_text())["after"]
    pooled = json.loads(smoke_run.artifact("eval/scores.json").read_text())["pooled"]
    assert figures["heldout_accuracy"] == held["accuracy_lenient"]
    assert figures["bench_accuracy"] == pooled["accuracy_lenient"]
    assert set(figures["by_kind"]) == {"reasoning", "chat", "safety"}
