"""Data preparation: converters on hand-written fixtures in each source's schema, every bad-row case in both
policies, placement, de-duplication, the length filter, the split, the released-set loaders and build_mix.

Fixtures (tests/fixtures/sources/) are written by hand in the field names and shapes of the real datasets; the
expected values below are read from the fixture files themselves, not from what the code produced."""

import json
import random
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rmr1lib.data import (
    BAD_ROW_REASONS, PAIR_SOURCES, SKYWORK_CATEGORIES, BadRowError, MixReport, Preference, RecipeExclusion,
    build_mix, convert_record, convert_records, deduplicate, filter_by_length, load_released, pair_summary,
    place_pair, preference_to_row, read_source_file, released_set_for, shuffled_indices, split_rows,
    validate_training_row,
)
from rmr1lib.errors import ConfigError, DataError
from rmr1lib.parsing import parse_verdict
from rmr1lib.profiles import load_profile
from rmr1lib.prompts import QUESTION_HEADER
from rmr1lib.synthetic import check_constraint, oracle_trace

SOURCES = Path(__file__).parent / "fixtures" / "sources"
BAD = SOURCES / "bad"


def raw(path):
    """The fixture's records, parsed independently of rmr1lib (blank lines skipped)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


class WordCounter:
    """A stand-in tokenizer: one token per whitespace-separated word."""

    def prompts(self, conversations):
        return [sum(len(m["content"].split()) for m in c) for c in conversations]

    def texts(self, texts):
        return [len(t.split()) for t in texts]


def convert_file(source, path, **kw):
    return convert_records(source, read_source_file(path), str(path), **kw)


def rows_of(prefs, placement="random", seed=0, kind="instruct_cor"):
    for i, p in enumerate(prefs):
        p.index = i
    return [preference_to_row(p, kind, placement, seed) for p in prefs]


def chosen_text(row):
    return row["conversation_a" if row["winner"] == "model_a" else "conversation_b"][-1]["content"]


def rejected_text(row):
    return row["conversation_b" if row["winner"] == "model_a" else "conversation_a"][-1]["content"]


# ----------------------------------------------------------------------------------------------------------
# Converters on good fixtures
# ----------------------------------------------------------------------------------------------------------
def test_skywork_converter_keeps_preference_category_and_drops_magpie_ultra():
    records = raw(SOURCES / "skywork.jsonl")
    report = MixReport()
    prefs = convert_file("skywork", SOURCES / "skywork.jsonl", report=report)
    kept_records = [r for r in records if r["source"] != "magpie_ultra"]
    assert len(prefs) == len(kept_records) == len(records) - 1
    assert report.dropped("recipe", "excluded_magpie_ultra") == 1 and report.loaded["skywork"] == len(records)
    for pref, rec in zip(prefs, kept_records):
        assert pref.chosen == rec["chosen"] and pref.rejected == rec["rejected"]
        assert pref.category == SKYWORK_CATEGORIES[rec["source"]]
        assert pref.meta["sub_source"] == rec["source"]
    for row, rec in zip(rows_of(prefs), kept_records):
        validate_training_row(row)
        assert chosen_text(row) == rec["chosen"][-1]["content"]
        assert rejected_text(row) == rec["rejected"][-1]["content"]


def test_skywork_template_depends_on_the_conversation_shape():
    records = [r for r in raw(SOURCES / "skywork.jsonl") if r["source"] != "magpie_ultra"]
    rows = rows_of(convert_file("skywork", SOURCES / "skywork.jsonl"))
    for row, rec in zip(rows, records):
        plain = [m["role"] for m in rec["chosen"]] == ["user", "assistant"]
        assert row["turns"] == ("single" if plain else "multi")
        user_message = row["context_messages"][-1]["content"]
        assert (QUESTION_HEADER in user_message) == plain
        # every turn of the conversation is in the prompt
        for message in rec["chosen"]:
            assert message["content"] in user_message
    assert {r["turns"] for r in rows} == {"single", "multi"}  # the fixture covers both layouts


def test_magpie_ultra_alone_raises_recipe_exclusion():
    record = next(r for r in raw(SOURCES / "skywork.jsonl") if r["source"] == "magpie_ultra")
    with pytest.raises(RecipeExclusion):
        convert_record("skywork", record, 0)


def test_code_pref_converter_maps_input_accepted_rejected():
    records = raw(SOURCES / "code_pref.jsonl")
    rows = rows_of(convert_file("code_pref", SOURCES / "code_pref.jsonl"))
    assert len(rows) == len(records)
    for row, rec in zip(rows, records):
        assert row["category"] == "code" and row["source"] == "code_pref" and row["turns"] == "single"
        assert row["conversation_a"][0] == {"role": "user", "content": rec["input"]}
        assert chosen_text(row) == rec["accepted"] and rejected_text(row) == rec["rejected"]


def test_math_dpo_response_is_shared_steps_plus_full_continuation():
    records = raw(SOURCES / "math_dpo.jsonl")
    rows = rows_of(convert_file("math_dpo", SOURCES / "math_dpo.jsonl"))
    assert len(rows) == len(records)
    for row, rec in zip(rows, records):
        steps = rec["initial_reason_steps"]
        for text, full in ((chosen_text(row), rec["full_chosen"]), (rejected_text(row), rec["full_rejected"])):
            assert text.startswith(steps) and text.endswith(full)
            assert len(text) - len(steps) - len(full) in (0, 1)  # at most one joining newline
            if steps and not steps.endswith("\n"):
                assert text == steps + "\n" + full
        assert row["meta"]["reference_answer"] == rec["answer"] and row["category"] == "math"
    assert rows[2]["conversation_a"][-1]["content"] in (records[2]["full_chosen"], records[2]["full_rejected"])


# ----------------------------------------------------------------------------------------------------------
# Every bad-row case, in both policies
# ----------------------------------------------------------------------------------------------------------
BAD_CASES = [
    # file, source, row, line, field, reason
    ("skywork_missing_field.jsonl", "skywork", 1, 2, "rejected", "missing_field"),
    ("math_dpo_missing_field.jsonl", "math_dpo", 0, 1, "full_rejected", "missing_field"),
    ("after_distill_rlvr_missing_field.jsonl", "after_distill_rlvr", 1, 2, "winner", "missing_field"),
    ("skywork_empty_response.jsonl", "skywork", 0, 1, "chosen[1].content", "empty_response"),
    ("code_pref_empty_response.jsonl", "code_pref", 2, 3, "accepted", "empty_response"),
    ("code_pref_identical.jsonl", "code_pref", 1, 2, "rejected", "identical_responses"),
    ("math_dpo_identical.jsonl", "math_dpo", 1, 2, "full_rejected", "identical_responses"),
    ("skywork_unknown_role.jsonl", "skywork", 2, 4, "rejected[1].role", "unknown_role"),
    ("after_distill_rlvr_unknown_role.jsonl", "after_distill_rlvr", 0, 1, "context_messages[0].role",
     "unknown_role"),
    ("after_distill_rlvr_bad_label.jsonl", "after_distill_rlvr", 1, 2, "winner", "bad_label"),
    ("reasoning_rlvr_bad_label.jsonl", "reasoning_rlvr", 0, 1, "winner", "bad_label"),
    ("distill_sft_no_verdict.jsonl", "distill_sft", 1, 2, "winner", "bad_label"),
    ("skywork_invalid_json.jsonl", "skywork", 1, 2, "(line)", "invalid_json"),
]


def load_bad(source, path, **kw):
    if source in PAIR_SOURCES:
        return convert_file(source, path, **kw)
    return load_released(source, path, **kw)


@pytest.mark.parametrize("name,source,row,line,field,reason", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_row_fails_naming_source_file_row_and_field(name, source, row, line, field, reason):
    with pytest.raises(BadRowError) as info:
        load_bad(source, BAD / name)
    exc = info.value
    assert (exc.source, exc.row, exc.line, exc.field, exc.reason) == (source, row, line, field, reason)
    message = str(exc)
    assert source in message and name in message and f"row {row}" in message and f"line {line}" in message
    assert repr(field) in message and "skip_bad_rows" in message  # says what to do


@pytest.mark.parametrize("name,source,row,line,field,reason", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_row_is_skipped_and_counted_with_its_reason(name, source, row, line, field, reason):
    total = len([ln for ln in (BAD / name).read_text().splitlines() if ln.strip()])
    report = MixReport(skip_bad_rows=True)
    kept = load_bad(source, BAD / name, skip_bad_rows=True, report=report)
    assert len(kept) == total - 1
    assert report.reasons_table() == [{"stage": "convert", "source": source, "reason": reason, "field": field,
                                       "count": 1, "first_row": row, "example": report.drops[0].detail}]
    assert reason in BAD_ROW_REASONS


def test_every_issue_bad_row_kind_has_a_case():
    reasons = {c[5] for c in BAD_CASES}
    assert {"missing_field", "empty_response", "identical_responses", "unknown_role", "bad_label"} <= reasons
    for kind in ("missing_field", "empty_response", "identical_responses", "unknown_role"):
        assert len({c[1] for c in BAD_CASES if c[5] == kind}) >= 2, kind  # more than one source per kind


@pytest.mark.parametrize("record,field,reason", [
    ("not an object", "(record)", "wrong_type"),
    ({"input": "q", "accepted": ["not", "a", "string"], "rejected": "b"}, "accepted", "wrong_type"),
    ({"input": "", "accepted": "a", "rejected": "b"}, "input", "empty_response"),
    ({"input": "q", "accepted": "a", "rejected": None}, "rejected", "missing_field"),
])
def test_code_pref_malformed_records(record, field, reason):
    with pytest.raises(BadRowError) as info:
        convert_record("code_pref", record, 7, "memory")
    assert (info.value.field, info.value.reason, info.value.row) == (field, reason, 7)


@pytest.mark.parametrize("chosen,rejected,field,reason", [
    ([], [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}], "chosen",
     "malformed_conversation"),
    ([{"role": "user", "content": "q"}], [{"role": "user", "content": "q"}], "chosen[0].role",
     "malformed_conversation"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
     [{"role": "user", "content": "other q"}, {"role": "assistant", "content": "b"}], "chosen/rejected",
     "mismatched_turns"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": 5}],
     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}], "chosen[1].content", "wrong_type"),
    ([{"content": "q"}, {"role": "assistant", "content": "a"}],
     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}], "chosen[0].role", "missing_field"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": " same "}],
     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "same"}], "rejected",
     "identical_responses"),
])
def test_skywork_conversation_checks(chosen, rejected, field, reason):
    with pytest.raises(BadRowError) as info:
        convert_record("skywork", {"chosen": chosen, "rejected": rejected, "source": "helpsteer2"}, 3, "memory")
    assert (info.value.field, info.value.reason) == (field, reason)


def test_unknown_source_is_a_config_error():
    with pytest.raises(ConfigError, match="known sources"):
        convert_record("ultrafeedback", {}, 0)


def test_missing_source_file_is_named():
    with pytest.raises(DataError, match="nope.jsonl"):
        list(read_source_file(SOURCES / "nope.jsonl"))


# ----------------------------------------------------------------------------------------------------------
# Placement, de-duplication, length, split
# ----------------------------------------------------------------------------------------------------------
def make_prefs(n):
    prefs = []
    for i in range(n):
        user = {"role": "user", "content": f"question {i}"}
        prefs.append(Preference(f"p{i}", "test", "chat", [user, {"role": "assistant", "content": f"good {i}"}],
                                [user, {"role": "assistant", "content": f"bad {i}"}], index=i))
    return prefs


def test_random_placement_is_seeded_balanced_and_order_independent():
    prefs = make_prefs(400)
    first = {p.id: place_pair(p, "random", 7)[2] for p in prefs}
    again = {p.id: place_pair(p, "random", 7)[2] for p in reversed(prefs)}
    other = {p.id: place_pair(p, "random", 8)[2] for p in prefs}
    assert first == again
    assert first != other
    share_a = sum(w == "model_a" for w in first.values()) / len(first)
    assert 0.4 < share_a < 0.6
    for p in prefs[:20]:
        a, b, winner = place_pair(p, "random", 7)
        assert (a if winner == "model_a" else b) is p.chosen


def test_alternate_placement_follows_the_mix_index_and_is_recorded():
    rows = rows_of(make_prefs(6), placement="alternate", seed=5)
    assert [r["winner"] for r in rows] == ["model_a", "model_b"] * 3
    assert all(r["meta"]["placement"] == "alternate" and r["meta"]["placement_seed"] == 5 for r in rows)
    assert [r["meta"]["chosen"] for r in rows] == ["A", "B"] * 3
    with pytest.raises(ConfigError, match="placement"):
        place_pair(make_prefs(1)[0], "chosen_first", 0)


def test_deduplicate_drops_repeats_and_both_sides_of_contradictions():
    prefs = convert_file("skywork", SOURCES / "skywork.jsonl")
    kept, drops = deduplicate(prefs)
    assert len(kept) == len(prefs) - 1 and [d.reason for d in drops] == ["duplicate"]
    p = make_prefs(3)
    flipped = Preference("flip", "test", "chat", p[1].rejected, p[1].chosen)
    kept, drops = deduplicate(p + [flipped])
    assert [k.id for k in kept] == ["p0", "p2"]
    assert sorted(d.row for d in drops) == ["flip", "p1"] and {d.reason for d in drops} == {"contradicting_labels"}


def test_length_filter_drops_long_prompts_and_records_counts():
    rows = rows_of(make_prefs(4))
    long = rows_of([Preference("long", "test", "chat",
                               [{"role": "user", "content": "word " * 500}, {"role": "assistant", "content": "x y"}],
                               [{"role": "user", "content": "word " * 500}, {"role": "assistant", "content": "z"}])])
    counter = WordCounter()
    limit = max(counter.prompts([r["context_messages"] for r in rows])) + 10
    kept, drops = filter_by_length(rows + long, counter, limit)
    assert [r["id"] for r in kept] == [r["id"] for r in rows]
    assert [(d.row, d.reason) for d in drops] == [("long", "prompt_too_long")]
    assert long[0]["meta"]["prompt_tokens"] > limit
    assert (long[0]["meta"]["response_tokens_a"], long[0]["meta"]["response_tokens_b"]) in ((2, 1), (1, 2))


def test_split_keeps_question_groups_together_and_honours_the_caps():
    prefs = make_prefs(30)
    # three more pairs that share a question with p0: they must land in the same split as p0
    for j in range(3):
        prefs.append(Preference(f"p0-{j}", "test", "chat", [prefs[0].chosen[0], {"role": "assistant",
                                "content": f"good alt {j}"}], [prefs[0].chosen[0], {"role": "assistant",
                                "content": f"bad alt {j}"}]))
    rows = rows_of(prefs)
    train, heldout, drops = split_rows(rows, n_heldout=6, n_train=20, seed=3)
    assert len(heldout) == 6 and len(train) == 20 and len(drops) == len(rows) - 26
    where = {r["id"]: "train" for r in train} | {r["id"]: "heldout" for r in heldout}
    group = [where.get(i) for i in ("p0", "p0-0", "p0-1", "p0-2")]
    assert len(set(group)) == 1
    questions = lambda rs: {r["conversation_a"][0]["content"] for r in rs}  # noqa: E731
    assert not questions(train) & questions(heldout)
    again = split_rows(rows_of(prefs), n_heldout=6, n_train=20, seed=3)
    assert [r["id"] for r in again[1]] == [r["id"] for r in heldout]


# ----------------------------------------------------------------------------------------------------------
# Released sets and the row schema
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["after_distill_rlvr", "reasoning_rlvr"])
def test_released_rlvr_sets_load_as_rm_r1_rows(name):
    records = raw(SOURCES / "released" / f"{name}.jsonl")
    rows = load_released(name, SOURCES / "released" / f"{name}.jsonl")
    assert [r["winner"] for r in rows] == [r["winner"] for r in records]
    assert [r["context_messages"] for r in rows] == [r["context_messages"] for r in records]
    for row in rows:
        validate_training_row(row)
        assert row["conversation_a"] is None


def test_released_distill_sft_reads_the_verdict_from_the_trace():
    records = raw(SOURCES / "released" / "distill_sft.jsonl")
    rows = load_released("distill_sft", SOURCES / "released" / "distill_sft.jsonl")
    assert [r["trace"] for r in rows] == [r["winner"] for r in records]
    expected = ["model_a" if rec["winner"].rstrip().endswith("[[A]]</answer>") else "model_b" for rec in records]
    assert [r["winner"] for r in rows] == expected and set(expected) == {"model_a", "model_b"}


def test_released_set_choice_follows_the_prompt_kind():
    assert released_set_for("instruct_cor") == "after_distill_rlvr"
    assert released_set_for("reasoning_model") == "reasoning_rlvr"
    assert released_set_for("reasoning_model", "after_distill_rlvr") == "after_distill_rlvr"
    with pytest.raises(ConfigError):
        released_set_for("instruct_cor", "ultra")
    with pytest.raises(ConfigError):
        load_released("rm-r1-everything", [])


@pytest.mark.parametrize("change,field", [
    ({"winner": "tie"}, "winner"),
    ({"turns": "multi"}, "turns"),
    ({"context_messages": None}, "context_messages"),
    ({"id": ""}, "id"),
    ({"conversation_b": None}, "conversation_b"),
])
def test_validate_row_names_the_bad_field(change, field):
    row = rows_of(make_prefs(1))[0]
    validate_training_row(row)
    with pytest.raises(DataError, match=repr(field)):
        validate_training_row({**row, **change}, "train_pairs.jsonl line 1")


# ----------------------------------------------------------------------------------------------------------
# build_mix: the paper's sources from local files, the released route, the synthetic route
# ----------------------------------------------------------------------------------------------------------
def cluster_profile(**overrides):
    # our prompt on purpose (the cluster profile's authors prompt is learned from released rows: tested elsewhere)
    return load_profile("cluster", {"data.sources_dir": str(SOURCES), "data.code_pairs": 3, "data.n_heldout": 2,
                                    "judge.prompt_kind": "instruct_cor", "judge.mixed_prompts": True, **overrides})


def test_build_from_sources_runs_every_step_on_local_copies():
    mix = build_mix(cluster_profile(), WordCounter())
    rep = mix.report
    n_sky, n_code, n_math = (len(raw(SOURCES / f"{s}.jsonl")) for s in ("skywork", "code_pref", "math_dpo"))
    assert rep.loaded == {"skywork": n_sky, "code_pref": n_code, "math_dpo": n_math}
    assert rep.dropped("recipe", "excluded_magpie_ultra") == 1
    assert rep.dropped("recipe", "beyond_code_pairs") == n_code - 3
    assert rep.dropped("dedup", "duplicate") == 1
    expected = (n_sky - 2) + 3 + n_math
    assert len(mix.train) + len(mix.heldout) == expected and len(mix.heldout) == 2
    for row in mix.train + mix.heldout:
        validate_training_row(row)
        assert row["meta"]["placement_seed"] == 42 and row["meta"]["prompt_tokens"] > 0
    assert {r["category"] for r in mix.train + mix.heldout} >= {"code", "math", "chat"}
    # the code rows kept are the first three of the seed-42 shuffle of the file
    code_inputs = [r["input"] for r in raw(SOURCES / "code_pref.jsonl")]
    kept = {r["conversation_a"][0]["content"] for r in mix.train + mix.heldout if r["source"] == "code_pref"}
    assert kept == {code_inputs[i] for i in shuffled_indices(n_code, 42)[:3]}
    assert json.loads(json.dumps(rep.as_dict()))["counts"]["heldout"] == 2


def test_build_fails_on_a_bad_source_file_unless_skipping(tmp_path):
    for name in ("code_pref", "math_dpo"):
        shutil.copy(SOURCES / f"{name}.jsonl", tmp_path)
    shutil.copy(BAD / "skywork_unknown_role.jsonl", tmp_path / "skywork.jsonl")
    prof = cluster_profile(**{"data.sources_dir": str(tmp_path)})
    with pytest.raises(BadRowError, match=r"skywork .*skywork.jsonl\), row 2 \(line 4\), field 'rejected\[1\].role'"):
        build_mix(prof, WordCounter())
    mix = build_mix(prof, WordCounter(), skip_bad_rows=True)
    assert mix.report.dropped("convert", "unknown_role") == 1
    assert mix.report.skip_bad_rows


def test_build_from_sources_reports_a_missing_local_copy(tmp_path):
    with pytest.raises(DataError, match="no skywork.jsonl"):
        build_mix(cluster_profile(**{"data.sources_dir": str(tmp_path)}), WordCounter())


def test_length_limit_in_the_profile_filters_the_mix():
    counter = WordCounter()
    full = build_mix(cluster_profile(), counter)
    lengths = sorted(r["meta"]["prompt_tokens"] for r in full.train + full.heldout)
    limit = lengths[len(lengths) // 2]
    cut = build_mix(cluster_profile(**{"data.max_prompt_tokens": limit}), counter)
    too_long = sum(n > limit for n in lengths)
    assert too_long > 0 and cut.report.dropped("length", "prompt_too_long") == too_long
    assert all(r["meta"]["prompt_tokens"] <= limit for r in cut.train + cut.heldout)


def test_released_route_keeps_the_authors_rows():
    prof = load_profile("single_gpu", {"data.n_heldout": 1})
    records = {"after_distill_rlvr": raw(SOURCES / "released" / "after_distill_rlvr.jsonl")}
    mix = build_mix(prof, WordCounter(), records=records)
    assert mix.report.placement == "as_released" and len(mix.heldout) == 1 and len(mix.train) == 2
    assert {r["winner"] for r in mix.train + mix.heldout} == {"model_a", "model_b"}
    prof.data.released_set = "distill_sft"  # not allowed in a YAML file; the build refuses it too
    with pytest.raises(ConfigError, match="distill_sft"):
        build_mix(prof, WordCounter(), records=records)


def test_a_build_with_no_training_rows_stops_and_says_why():
    # every row fits into the held-out set
    with pytest.raises(DataError, match=r"no training rows: all \d+ rows that passed the filters went to "
                                        r"held-out \(data.n_heldout=1000.*lower data.n_heldout"):
        build_mix(cluster_profile(**{"data.n_heldout": 1000}), WordCounter())
    # every prompt is over the length limit
    with pytest.raises(DataError, match=r"no training rows: every row was left out before the split.*"
                                        r"length: prompt_too_long x\d+.*raise data.max_prompt_tokens"):
        build_mix(cluster_profile(**{"data.max_prompt_tokens": 16}), WordCounter())


def test_synthetic_route_meets_the_caps_and_keeps_oracle_traces_right():
    prof = load_profile("smoke", {"data.n_train": 60, "data.n_heldout": 12})
    mix = build_mix(prof, WordCounter())
    assert len(mix.train) == 60 and len(mix.heldout) == 12
    assert mix.report.counts["converted"] > 72  # the margin of extra pairs
    q = lambda rs: {r["conversation_a"][-2]["content"] for r in rs}  # noqa: E731
    assert not q(mix.train) & q(mix.heldout)
    for row in mix.train + mix.heldout:
        validate_training_row(row)
        # placement was redone here, and the oracle still agrees with the label
        assert parse_verdict(oracle_trace(row), "strict") == row["meta"]["chosen"] == row["winner"][-1].upper()
        if row["category"] == "chat":
            constraints = row["meta"]["constraints"]
            assert all(check_constraint(c, chosen_text(row)) for c in constraints)
            assert not all(check_constraint(c, rejected_text(row)) for c in constraints)
            # the generator's side-keyed check (its own placement) is re-keyed to chosen / rejected
            assert "check" not in row["meta"] and all(row["meta"]["check_chosen"].values())
    again = build_mix(prof, WordCounter())
    assert [r["id"] for r in again.heldout] == [r["id"] for r in mix.heldout]
    assert [r["winner"] for r in again.train] == [r["winner"] for r in mix.train]


def test_synthetic_placement_option_and_seed_change_the_labels():
    base = build_mix(load_profile("smoke", {"data.n_train": 40, "data.n_heldout": 0}))
    alt = build_mix(load_profile("smoke", {"data.n_train": 40, "data.n_heldout": 0, "data.placement": "alternate"}))
    reseeded = build_mix(load_profile("smoke", {"data.n_train": 40, "data.n_heldout": 0, "seed": 7}))
    assert "no tokenizer given" in " ".join(base.report.notes)
    for row in alt.train:
        assert row["meta"]["placement"] == "alternate"
        assert row["winner"] == ("model_a" if row["meta"]["mix_index"] % 2 == 0 else "model_b")
    assert all(r["meta"]["placement"] == "random" and r["meta"]["placement_seed"] == 42 for r in base.train)
    assert {r["meta"]["placement_seed"] for r in reseeded.train} == {7}
    same_ids = {r["id"]: r["winner"] for r in base.train}
    alt_winners = {r["id"]: r["winner"] for r in alt.train}
    assert any(same_ids[i] != w for i, w in alt_winners.items() if i in same_ids)


def test_synthetic_needs_a_positive_n_train():
    with pytest.raises(ConfigError, match="n_train"):
        build_mix(load_profile("smoke", {"data.n_train": 0}))


def test_pair_summary_reports_chosen_and_rejected_lengths():
    rows = rows_of(make_prefs(4))
    kept, _ = filter_by_length(rows, WordCounter(), 10_000)
    summary = pair_summary(kept, "train")
    assert [s["chosen_tokens"] for s in summary] == [len(chosen_text(r).split()) for r in kept]
    assert {s["split"] for s in summary} == {"train"}


def test_profile_data_section_validates_new_keys():
    with pytest.raises(ConfigError, match="data.sources"):
        load_profile("cluster", {"data.sources": ["skywork", "ultrafeedback"]})
    with pytest.raises(ConfigError, match="data.released_set"):
        load_profile("single_gpu", {"data.released_set": "everything"})
    assert load_profile("cluster").data.code_pairs == 8000 and load_profile("cluster").data.code_shuffle_seed == 42


def test_data_module_is_pure_core():
    code = ("import sys, rmr1lib.data; "
            "print(','.join(m for m in ('datasets','pandas','torch','transformers','numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


# ----------------------------------------------------------------------------------------------------------
# Engine-side agreements (import numpy / datasets / transformers)
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_shuffled_indices_match_datasets_shuffle():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"i": i} for i in range(50)])
    assert [r["i"] for r in ds.shuffle(seed=42)] == shuffled_indices(50, 42)
    assert shuffled_indices(50, 42) != shuffled_indices(50, 43)
    assert sorted(shuffled_indices(50, 42)) == list(range(50))


def _small_bpe():
    """A byte-level BPE tokenizer (tokenizers.Tokenizer) trained on two short sentences."""
    tokenizers = pytest.importorskip("tokenizers")
    from rmr1lib.tinymodel import SPECIAL_TOKENS

    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=300, special_tokens=list(SPECIAL_TOKENS),
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["judge the two replies", "which reply is better"] * 20, trainer)
    return tok


@pytest.mark.slow
def test_token_counter_counts_the_chat_prompt_like_chatml():
    transformers = pytest.importorskip("transformers")
    from rmr1lib.tinymodel import CHATML_TEMPLATE
    from rmr1lib.tokens import TokenCounter

    tok = _small_bpe()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                                pad_token="<|endoftext|>", chat_template=CHATML_TEMPLATE)
    counter = TokenCounter(fast)
    messages = [{"role": "system", "content": "judge"}, {"role": "user", "content": "which reply is better"}]
    by_hand = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    by_hand += "<|im_start|>assistant\n"
    assert counter.prompts([messages]) == [len(tok.encode(by_hand).ids)]
    assert counter.texts(["<|im_start|>", "judge"]) == [1, len(tok.encode("judge").ids)]
    rng = random.Random(0)
    texts = [" ".join(rng.choice(["judge", "reply", "two"]) for _ in range(rng.randint(1, 30))) for _ in range(7)]
    assert counter.texts(texts, batch_size=3) == [len(tok.encode(t).ids) for t in texts]


@pytest.mark.slow
def test_token_counter_counts_tokens_never_seen_in_training():
    transformers = pytest.importorskip("transformers")
    from rmr1lib.tokens import TokenCounter

    tok = _small_bpe()
    counter = TokenCounter(transformers.PreTrainedTokenizerFast(tokenizer_object=tok))
    # a text made only of training words has no unseen token
    same = counter.unseen(["judge the two replies"], ["judge the two", "judge"])
    assert (same["unseen"], same["unseen_share"], same["top_unseen"]) == (0, 0.0, [])
    assert same["tokens"] == len(tok.encode("judge the two").ids) + len(tok.encode("judge").ids)
    # "which reply is better" is tokenized into tokens the first sentence never holds
    new = counter.unseen(["judge the two replies"], ["which reply is better", "which reply is better"], top=2)
    missing = [t for t in tok.encode("which reply is better").ids if t not in tok.encode("judge the two replies").ids]
    assert new["unseen"] == 2 * len(missing) and new["tokens"] == 2 * len(tok.encode("which reply is better").ids)
    assert len(new["top_unseen"]) == 2 and all(n == 2 for _, n in new["top_unseen"])
    assert counter.unseen([], ["judge"])["unseen_share"] == 1.0
    # the training side given once as token ids counts the same
    ids = counter.token_set(["judge the two replies"])
    assert ids == frozenset(tok.encode("judge the two replies").ids)
    assert counter.unseen(ids, ["which reply is better"] * 2, top=2) == new
    with pytest.raises(TypeError, match="lists of texts"):
        counter.unseen("judge", ["judge"])
    with pytest.raises(TypeError, match="a list of texts"):
        counter.token_set("judge")

# ----------------------------------------------------------------------------------------------------------
# HTML views used by notebook 02 (rmr1lib.figures): escaped, balanced, every part marked
# ----------------------------------------------------------------------------------------------------------
class _Balance(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], set()

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.add(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(tag)


def balanced(markup):
    parser = _Balance()
    parser.feed(markup)
    parser.close()
    return not parser.stack and not parser.errors and parser.tags <= {"div", "span", "table", "tr", "td", "caption"}


def test_trace_html_escapes_model_text_and_marks_every_part():
    from rmr1lib.figures import TRACE_PARTS, trace_html

    hostile = '<script>alert(1)</script> <img src=x onerror="boom"> " onmouseover="x'
    trace = "".join(f"<{t}>{hostile} {t}</{t}>\n" for t in TRACE_PARTS)
    view = trace_html(trace, title="<b>title</b>")
    assert "<script" not in view and "<img" not in view and "<b>" not in view and 'onmouseover="x' not in view
    assert "&lt;script&gt;" in view and "&lt;b&gt;title&lt;/b&gt;" in view
    for tag, (colour, _) in TRACE_PARTS.items():
        assert f"background: {colour}" in view and f"&lt;{tag}&gt;" in view and f"&lt;/{tag}&gt;" in view
    assert balanced(view) and "tag problems" not in view


def test_trace_html_flags_broken_tags_and_stays_balanced():
    from rmr1lib.figures import trace_html

    view = trace_html("<rubric>1. x (100%)<eval>e</rubric></eval></justify><answer>[[A]]")
    assert "tag problems" in view
    assert "&lt;/rubric&gt; closes out of order" in view and "&lt;/justify&gt; closes nothing" in view
    assert "&lt;answer&gt; is never closed" in view
    assert balanced(view)
    rng = random.Random(1)
    pieces = ["<eval>", "</eval>", "<quote_A>", "</quote_A>", "<answer>", "</answer>", "text & <x>", "\n"]
    for _ in range(200):
        assert balanced(trace_html("".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))))


def test_side_by_side_html_escapes_titles_and_parts():
    from rmr1lib.figures import side_by_side_html

    view = side_by_side_html({"<i>left</i>": {"part <1>": "a & b"}, "right": {"x": "</td></tr>"}}, caption="<c>")
    assert "<i>" not in view and "&lt;i&gt;left&lt;/i&gt;" in view and "a &amp; b" in view
    assert "&lt;/td&gt;&lt;/tr&gt;" in view and view.count("<td") == 2 and balanced(view)


def test_split_keeps_a_shared_reply_pair_on_one_side():
    from rmr1lib.data import split_rows
    from rmr1lib.synthetic import make_pairs

    rows = make_pairs(40, seed=9)
    twin = json.loads(json.dumps(rows[0]))  # another question, the same two replies
    twin["id"] = "twin"
    twin["conversation_a"][-2]["content"] = twin["conversation_b"][-2]["content"] = "A different question?"
    for n_heldout in range(0, 12):
        train, heldout, _ = split_rows(rows + [twin], n_heldout, 0, seed=n_heldout)
        sides = {r["id"]: side for side, part in (("train", train), ("heldout", heldout)) for r in part}
        assert sides["twin"] == sides[rows[0]["id"]]


def test_heldout_gives_each_category_about_an_equal_share():
    from collections import Counter

    from rmr1lib.data import split_rows
    from rmr1lib.synthetic import make_pairs

    # the reasoning rows form a few large groups (generic replies shared across questions): without a quota the
    # held-out split would be mostly the kinds with many small groups
    _, heldout, _ = split_rows(make_pairs(1500, seed=4), 60, 0, seed=4)
    counts = Counter(r["category"] for r in heldout)
    assert len(heldout) == 60 and set(counts) == {"reasoning", "chat", "safety"}
    assert max(counts.values()) - min(counts.values()) <= 6, counts


def test_heldout_coverage_names_a_task_whose_groups_are_too_big_to_hold_out():
    from rmr1lib.data import describe_heldout_coverage, heldout_coverage, split_rows
    from rmr1lib.synthetic import make_pairs

    rows = json.loads(json.dumps(make_pairs(300, seed=6)))
    parity = [r for r in rows if r["meta"]["task"] == "parity"]
    for r in parity:  # every parity pair now has the same two replies, "odd" preferred: one linked group of them all
        good, bad = ("conversation_a", "conversation_b") if r["winner"] == "model_a" else ("conversation_b",
                                                                                           "conversation_a")
        r[good][-1]["content"], r[bad][-1]["content"] = "It is odd.", "It is even."
    train, heldout, _ = split_rows(rows, 30, 0, seed=6)
    coverage = heldout_coverage(train, heldout)
    counts = {(r["category"], r["task"]): r for r in coverage["rows"]}
    assert sum(r["train"] for r in coverage["rows"]) == len(train)
    assert sum(r["heldout"] for r in coverage["rows"]) == len(heldout) == 30
    assert counts[("reasoning", "parity")]["heldout"] == 0 and len(parity) > 10
    assert counts[("reasoning", "parity")]["smallest_group"] == len(parity)
    missing = [(r["category"], r["task"]) for r in coverage["missing"]]
    assert ("reasoning", "parity") in missing and len(missing) < len(coverage["rows"]) // 2
    sentence = describe_heldout_coverage(coverage, 30)
    assert sentence.startswith(f"{len(missing)} of {len(coverage['rows'])} ")
    assert (f"reasoning/parity ({len(parity)} training pairs; whole groups of at least {len(parity)}, more than a "
            f"category's share of 10)") in sentence
    for task in set(missing) - {("reasoning", "parity")}:  # small groups that the draw happened to leave out
        assert f"{task[0]}/{task[1]} (" in sentence and "the draw left it out" in sentence
    whole = heldout_coverage(rows, [])  # nothing held out: every task is missing
    assert len(whole["missing"]) == len(whole["rows"])


def test_split_links_a_question_under_another_greeting_but_not_a_pair_that_carries_no_label():
    from rmr1lib.data import split_rows
    from rmr1lib.synthetic import make_pairs

    rows = make_pairs(40, seed=9)
    greeted = json.loads(json.dumps(rows[1]))  # the same question under another greeting, other replies
    greeted["id"] = "greeted"
    for conv in ("conversation_a", "conversation_b"):
        greeted[conv][-2]["content"] = "Good morning. " + greeted["meta"]["question_key"]
        greeted[conv][-1]["content"] += " Anything else?"
    # two rows with the same two replies and opposite labels under different questions: the pair decides nothing
    flip_a, flip_b = json.loads(json.dumps(rows[2])), json.loads(json.dumps(rows[2]))
    for row, name, question in ((flip_a, "flip_a", "Is it True?"), (flip_b, "flip_b", "Is it False?")):
        row["id"], row["meta"]["question_key"] = name, question
        for conv in ("conversation_a", "conversation_b"):
            row[conv][-2]["content"] = question
    flip_a["conversation_a"][-1]["content"], flip_a["conversation_b"][-1]["content"] = "True", "False"
    flip_b["conversation_a"][-1]["content"], flip_b["conversation_b"][-1]["content"] = "False", "True"
    flip_a["winner"] = flip_b["winner"] = "model_a"
    apart = 0
    for n_heldout in range(1, 16):
        train, heldout, _ = split_rows(rows + [greeted, flip_a, flip_b], n_heldout, 0, seed=n_heldout)
        sides = {r["id"]: side for side, part in (("train", train), ("heldout", heldout)) for r in part}
        assert sides["greeted"] == sides[rows[1]["id"]]
        apart += sides["flip_a"] != sides["flip_b"]
    assert apart > 0  # linked, they would always share a side
