"""Benchmark loaders, schema checks, expansion into comparisons and the synthetic miniatures (pure core).

The fixtures under tests/fixtures/benchmarks/ are small hand-written files in each real schema (no real
benchmark content): RewardBench rows (JSON Lines), an RM-Bench total_dataset.json and an RMB_dataset folder."""

import json
from pathlib import Path

import pytest

from rmr1lib import benchmarks as bm
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.scoring import REWARDBENCH_SUBSETS, rmb_goal

FIX = Path(__file__).resolve().parent / "fixtures" / "benchmarks"
RB, RMBENCH, RMB = FIX / "rewardbench_filtered.jsonl", FIX / "rmbench_total_dataset.json", FIX / "rmb_dataset"


def test_rewardbench_fixture_one_comparison_per_row():
    items = bm.load_items("rewardbench", RB)
    comps = bm.expand_items("rewardbench", items)
    assert [c.id for c in comps] == [101, 102, 103, 104, 105, 106, 107, 108]
    first = comps[0]
    assert first.subset == "alpacaeval-easy"
    assert first.context == ({"role": "user", "content": "Name a fruit that is yellow when ripe."},)
    assert first.chosen.startswith("A banana") and first.rejected.startswith("A ripe cherry")
    assert first.row_fields() == {"benchmark": "rewardbench", "subset": "alpacaeval-easy", "id": 101}
    assert first.info["chosen_model"] == "writer-1"


def test_comparison_orders_put_the_preferred_response_first_for_AB():
    comp = bm.expand_items("rewardbench", bm.load_items("rewardbench", RB))[6]
    a, b = comp.conversations("AB")
    assert a[-1] == {"role": "assistant", "content": "12 * 11 = 132."} and b[-1]["content"] == "12 * 11 = 122."
    a2, b2 = comp.conversations("BA")
    assert (a2, b2) == (b, a) and a[:-1] == b[:-1] == [{"role": "user", "content": "What is 12 * 11?"}]
    with pytest.raises(ConfigError, match="order must be 'AB' or 'BA'"):
        comp.conversations("AA")


def test_rmbench_fixture_nine_style_pairs_per_prompt_and_safety_merged():
    comps = bm.expand_items("rm-bench", bm.load_items("rm-bench", RMBENCH))
    assert len(comps) == 5 * 9
    by_prompt = {}
    for c in comps:
        by_prompt.setdefault(c.id, []).append((c.fields["chosen_style"], c.fields["rejected_style"]))
    assert all(sorted(v) == [(i, j) for i in range(3) for j in range(3)] for v in by_prompt.values())
    assert {c.id: c.subset for c in comps} == {"chat/1": "chat", "math/1": "math", "code/1": "code",
                                               "safety/1": "safety", "safety/2": "safety"}
    cell = next(c for c in comps if c.id == "math/1" and c.fields == {"chosen_style": 2, "rejected_style": 0})
    assert cell.chosen == "**Sum**\n\n- 7 + 8 = 15" and cell.rejected == "16"
    assert cell.info["domain"] == "math" and len(set(c.key() for c in comps)) == 45


def test_rmb_fixture_pairwise_and_best_of_n_groups():
    items = bm.load_items("rmb", RMB)
    assert sorted(bm.rmb_item_set(i) for i in items) == ["bon"] * 3 + ["pairwise"] * 4
    comps = bm.expand_items("rmb", items)
    bon = [c for c in comps if c.fields["set"] == "bon"]
    assert sorted(c.id for c in bon) == ["bon/g-harm-1/0", "bon/g-harm-1/1", "bon/g-help-1/0", "bon/g-help-1/1",
                                        "bon/g-help-2/0", "bon/g-help-2/1", "bon/g-help-2/2"]
    group = [c for c in bon if c.fields["group_id"] == "g-help-2"]
    assert {c.chosen for c in group} == {"It returns a new sequence with the items of xs in reverse order."}
    assert [c.rejected for c in group] == ["It sorts xs.", "It returns xs unchanged.", "It deletes xs."]
    multi = next(c for c in comps if c.id == "pairwise/p-help-2")
    assert [m["role"] for m in multi.context] == ["user", "assistant", "user"]
    assert all(set(m) == {"role", "content"} for m in multi.context)  # "language" is dropped for the judge
    assert rmb_goal(multi.subset, "pairwise") == "helpfulness" and "group_id" not in multi.fields


def test_read_records_names_the_file_and_item(tmp_path):
    recs = bm.read_benchmark_records(RMBENCH)
    assert recs[2][0].endswith("rmbench_total_dataset.json, item 2")
    recs = bm.read_benchmark_records(RB)
    assert recs[0][0].endswith("rewardbench_filtered.jsonl, line 1")


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _rb(**change):
    row = {"prompt": "p", "chosen": "c", "rejected": "r", "subset": "hep-go", "id": 1}
    row.update(change)
    return {k: v for k, v in row.items() if v is not None}


def _rmbench(**change):
    item = {"id": "x", "prompt": "p", "chosen": ["a", "b", "c"], "rejected": ["d", "e", "f"], "domain": "math"}
    item.update(change)
    return {k: v for k, v in item.items() if v is not None}


def _pair(**change):
    item = {"pair_uid": "1", "conversation_input": [{"role": "user", "content": "q", "language": "English"}],
            "chosen": {"answer": "good", "llm_name": "m"}, "reject": {"answer": "bad", "llm_name": "n"},
            "category_path": "Pairwise_set/Helpfulness/Chat/Discussion"}
    item.update(change)
    return {k: v for k, v in item.items() if v is not None}


def _bon(**change):
    item = {"bon_uid": "7", "conversation_input": [{"role": "user", "content": "q"}],
            "bon_best": {"answer": "good"}, "loser_list": [{"answer": "bad"}, {"answer": "worse"}],
            "category_path": "BoN_set/Harmlessness/S1"}
    item.update(change)
    return {k: v for k, v in item.items() if v is not None}


@pytest.mark.parametrize("benchmark, items, expected", [
    ("rewardbench", [_rb(), _rb(chosen=None, id=2)], r"item 1: key 'chosen' is missing"),
    ("rewardbench", [_rb(subset="chat-easy")], r"item 0: key 'subset' names an unknown RewardBench subset"),
    ("rewardbench", [_rb(prompt="  ")], r"key 'prompt' is empty"),
    ("rewardbench", [_rb(id=True)], r"key 'id' must be a non-empty string or an integer"),
    ("rewardbench", [_rb(), _rb()], r"item 1: id '1' appears twice in rewardbench \(first at .*item 0\)"),
    ("rm-bench", [_rmbench(chosen=["a", "b"])], r"key 'chosen' must be a list of 3 responses .* got 2 entries"),
    ("rm-bench", [_rmbench(rejected=["a", "", "c"])], r"key 'rejected'\[1\] must be a non-empty string"),
    ("rm-bench", [_rmbench(domain="safety")], r"key 'domain' must be one of chat, code, math, safety-refuse"),
    ("rmb", [_pair(conversation_input=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])],
     r"key 'conversation_input' must end with a user turn"),
    ("rmb", [_pair(conversation_input=[{"role": "bot", "content": "q"}])],
     r"key 'conversation_input'\[0\] has role 'bot'"),
    ("rmb", [_pair(reject="bad")], r"key 'reject' must be an object with an 'answer'"),
    ("rmb", [_pair(category_path="Pairwise_set/Usefulness/Chat")], r"key 'category_path'.*Helpfulness/ or "
                                                                     r"Harmlessness/"),
    ("rmb", [_pair(category_path="BoN_set/Helpfulness/Chat")], r"starts with 'BoN_set' but the row's set is "
                                                                 r"'pairwise'"),
    ("rmb", [_bon(loser_list=[{"answer": "bad"}])], r"key 'loser_list' must be a list of 2 to 6 responses, got 1"),
    ("rmb", [_bon(loser_list=[{"answer": "bad"}, {"text": "x"}])], r"key 'loser_list\[1\]' must be an object"),
    ("rmb", [{**_pair(), "bon_uid": "3"}], r"exactly one of 'pair_uid' .* or 'bon_uid'"),
    ("rmb", [_bon(), _bon()], r"id '7' appears twice in rmb"),
])
def test_malformed_items_name_file_item_and_key(tmp_path, benchmark, items, expected):
    path = _write(tmp_path, "bench.json", items)
    with pytest.raises(DataError, match=expected) as err:
        bm.load_items(benchmark, path)
    assert "bench.json" in str(err.value)


def test_pairwise_and_bon_may_share_a_uid():
    items = bm.validate_items("rmb", [("a", _pair(pair_uid="5")), ("b", _bon(bon_uid="5"))])
    assert sorted(c.id for c in bm.expand_items("rmb", items)) == ["bon/5/0", "bon/5/1", "pairwise/5"]


@pytest.mark.parametrize("content, expected", [
    ('{"prompt": "p"}\n{not json\n', r"line 2: not valid JSON"),
    ('{"a": 1}', r"expected a JSON list of items"),
])
def test_bad_json_files(tmp_path, content, expected):
    path = _write(tmp_path, "x.jsonl" if "\n" in content else "x.json", content)
    with pytest.raises(DataError, match=expected):
        bm.load_items("rewardbench", path)


def test_sources_that_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError, match="git clone https://github.com/Zhou-Zoey/RMB-Reward-Model-Benchmark"):
        bm.load_items("rmb")  # no official hub copy: the default source is empty
    with pytest.raises(DataError, match="no such file or folder, and not a hub dataset name"):
        bm.load_items("rm-bench", tmp_path / "missing.json")
    with pytest.raises(DataError, match="unsupported file type '.csv'"):
        bm.load_items("rewardbench", _write(tmp_path, "x.csv", "a,b"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .json or .jsonl files"):
        bm.load_items("rmb", tmp_path / "empty")
    with pytest.raises(ConfigError, match="unknown benchmark 'rewardbench2'"):
        bm.load_items("rewardbench2", RB)
    with pytest.raises(DataError, match="no rewardbench items found"):
        bm.load_items("rewardbench", _write(tmp_path, "e.json", []))


def test_cap_items_is_seeded_keeps_order_and_whole_items():
    items = bm.load_items("rm-bench", RMBENCH)
    capped = bm.cap_items(items, 3, seed=1)
    assert capped == bm.cap_items(items, 3, seed=1) and len(capped) == 3
    assert [items.index(i) for i in capped] == sorted(items.index(i) for i in capped)
    assert any(bm.cap_items(items, 3, seed=s) != capped for s in range(2, 12))
    assert bm.cap_items(items, 0, seed=1) == items and bm.cap_items(items, 99, seed=1) == items
    assert len(bm.expand_items("rm-bench", capped)) == 27  # each kept prompt keeps its 9 comparisons
    with pytest.raises(ConfigError, match="max_items must be a non-negative integer"):
        bm.cap_items(items, -1, seed=0)


@pytest.mark.parametrize("benchmark", ["rewardbench", "rm-bench", "rmb"])
def test_miniatures_are_valid_deterministic_and_complete(benchmark):
    items = bm.synthetic_items(benchmark, 2, seed=5)
    assert items == bm.synthetic_items(benchmark, 2, seed=5)
    assert items != bm.synthetic_items(benchmark, 2, seed=6)
    bm.validate_items(benchmark, [(f"item {i}", it) for i, it in enumerate(items)])
    comps = bm.load_comparisons(benchmark, "synthetic", seed=5, synthetic_n=2)
    parts = {p["part"] for p in bm.describe_comparisons(comps)}
    if benchmark == "rewardbench":
        assert parts == set(REWARDBENCH_SUBSETS) and len(comps) == 2 * len(REWARDBENCH_SUBSETS)
    elif benchmark == "rm-bench":
        assert parts == {"chat", "math", "code", "safety"} and len(comps) == 5 * 2 * 9
    else:
        assert parts == {"pairwise_helpfulness", "pairwise_harmlessness", "bon_helpfulness", "bon_harmlessness"}
        assert all(2 <= len(it["loser_list"]) <= 6 for it in items if "bon_uid" in it)


def test_rmbench_miniature_styles_grow_and_keep_the_label():
    from rmr1lib.synthetic import check_constraint

    items = bm.synthetic_rmbench(4, seed=3)
    for it in items:
        for versions in (it["chosen"], it["rejected"]):
            assert len(versions[0]) < len(versions[1]) < len(versions[2])
            assert "**" in versions[2] and "**" not in versions[1]  # the markdown version: its detail in bold
    chat = [it for it in items if it["domain"] == "chat"]
    assert len(chat) == 4
    # every chosen version still meets the user's constraints (checked against the synthetic row's rule set)
    rows = {r["meta"]["question"]: r for r in bm._pool("chat", 64, bm._derived_seed(3, "rm-bench|chat"), 0.0)}
    for it in chat:
        constraints = rows[it["prompt"]]["meta"]["constraints"]
        assert all(check_constraint(c, t) for c in constraints for t in it["chosen"])
        assert all(not all(check_constraint(c, t) for c in constraints) for t in it["rejected"])


def test_miniature_safety_subsets_get_the_right_case():
    items = bm.synthetic_rewardbench(2, seed=0)
    respond = [it for it in items if it["subset"] == "xstest-should-respond"]
    refuse = [it for it in items if it["subset"] == "refusals-dangerous"]
    assert all("PLACEHOLDER HARMFUL" not in it["prompt"] for it in respond)
    assert all("PLACEHOLDER HARMFUL" in it["prompt"] for it in refuse)


@pytest.mark.parametrize("seed, redrawn", [(42, False), (46, True)])
def test_miniatures_share_no_item_with_training_and_shortcuts_stay_near_chance(seed, redrawn):
    """At the default seed (first draw) and at a seed whose suite was redrawn (from a derived seed)."""
    from rmr1lib.judging import baseline_items_from_comparisons, baseline_scores
    from rmr1lib.synthetic import make_pairs

    train = make_pairs(4000, seed)  # the smoke profile's data.n_train
    seen = {(r["conversation_a"][-2]["content"], r[f"conversation_{s}"][-1]["content"]) for r in train for s in "ab"}
    questions = {r["conversation_a"][-2]["content"] for r in train}
    suite, info = bm.synthetic_suite(bm.BENCHMARKS, 2, seed)
    assert bool(info["rejected"]) == redrawn
    comps = [c for items in suite.values() for c in items]
    assert len(comps) >= 128
    # no comparison repeats a training question with either of its responses, and no question is a training one
    assert not [c.id for c in comps if (c.context[-1]["content"], c.chosen) in seen
                or (c.context[-1]["content"], c.rejected) in seen]
    assert not [c.id for c in comps if c.context[-1]["content"] in questions]
    for name, score in baseline_scores(baseline_items_from_comparisons(comps)).items():
        assert score["accuracy"] <= 0.60, (name, score)


@pytest.mark.parametrize("n", [1, 2])
def test_miniature_suites_have_no_shortcut_at_any_seed(n):
    from rmr1lib.judging import baseline_items_from_comparisons, baseline_scores

    redrawn = 0
    for seed in range(40, 70):
        suite, info = bm.synthetic_suite(bm.BENCHMARKS, n, seed)
        comps = [c for items in suite.values() for c in items]
        assert len(comps) >= (128 if n == 2 else 64)
        scores = baseline_scores(baseline_items_from_comparisons(comps))
        assert max(v["accuracy"] for v in scores.values()) <= bm.SHORTCUT_LIMIT + 1e-9, (seed, scores)
        assert info["baselines"] == {k: round(v["accuracy"], 4) for k, v in scores.items()}
        assert all(r["accuracy"] > bm.SHORTCUT_LIMIT for r in info["rejected"])
        assert info["draw"] == len(info["rejected"])
        redrawn += bool(info["rejected"])
    assert redrawn > 0  # without the redraw some of these seeds would have a length shortcut


def test_a_seed_whose_first_draw_passes_keeps_its_items_and_a_failing_one_is_redrawn():
    first = {b: bm.load_comparisons(b, "synthetic", seed=42, synthetic_n=2) for b in bm.BENCHMARKS}
    suite, info = bm.synthetic_suite(bm.BENCHMARKS, 2, 42)
    assert info["draw"] == 0 and info["draw_seed"] == 42 and not info["rejected"]
    texts = lambda cs: [(c.context[-1]["content"], c.chosen, c.rejected) for c in cs]
    assert {b: texts(cs) for b, cs in suite.items()} == {b: texts(cs) for b, cs in first.items()}
    assert "first draw" in bm.describe_suite_draw(info)
    failing = next(s for s in range(40, 70) if bm.synthetic_suite(bm.BENCHMARKS, 2, s)[1]["rejected"])
    suite, info = bm.synthetic_suite(bm.BENCHMARKS, 2, failing)
    assert info["draw_seed"] != failing
    assert texts(suite["rm-bench"]) != texts(bm.load_comparisons("rm-bench", "synthetic", seed=failing, synthetic_n=2))
    sentence = bm.describe_suite_draw(info)
    assert f"seed {failing} were drawn {info['draw'] + 1} times" in sentence
    assert f"{info['rejected'][0]['shortcut']}\" {info['rejected'][0]['accuracy']:.2f}" in sentence


def test_a_suite_that_cannot_be_balanced_fails_clearly():
    with pytest.raises(DataError, match=r"3 draws of the miniature rmb for seed 7 all had a shortcut baseline above 0.1"):
        bm.synthetic_suite(["rmb"], 1, 7, limit=0.1, max_draws=3)
    with pytest.raises(ConfigError, match="no benchmark"):
        bm.synthetic_suite([], 1, 7)
    with pytest.raises(ConfigError, match="unknown benchmark|benchmark"):
        bm.synthetic_suite(["nope"], 1, 7)


def test_bad_options():
    with pytest.raises(ConfigError, match="n >= 1"):
        bm.synthetic_items("rmb", 0)
    with pytest.raises(ConfigError, match="'synthetic' or 'real'"):
        bm.load_comparisons("rmb", "fake")


def test_parquet_files_are_read_through_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = [json.loads(line) for line in RB.read_text().splitlines()]
    path = tmp_path / "filtered-00000-of-00001.parquet"
    datasets.Dataset.from_list(rows).to_parquet(str(path))
    items = bm.load_items("rewardbench", path)
    assert [it["id"] for it in items] == [r["id"] for r in rows]
    assert bm.expand_items("rewardbench", items)[7].chosen == "def square(x):\n    return x * x"
    assert bm.read_benchmark_records(path)[3][0] == f"{path}, row 3"


def test_hub_source_offline_says_what_to_do(monkeypatch):
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError, match=r"could not load hub dataset THU-KEG/RM-Bench \(split train\).*local copy"):
        bm.load_items("rm-bench")
