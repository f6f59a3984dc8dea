"""Notebook context, runtime settings, offline model resolution, figures and the environment report."""

import json
import os

import pytest

from rmr1lib import runtime
from rmr1lib.envcheck import environment_report
from rmr1lib.errors import ConfigError, OfflineError, RmR1Error
from rmr1lib.figures import pipeline_figure
from rmr1lib.hub import resolve_model
from rmr1lib.profiles import load_profile
from rmr1lib.workbook import (base_model_path, grpo_start_model, judge_to_evaluate, latest_judge, load_pairs,
                              pair_texts, start_notebook)


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path))
    return tmp_path


def test_start_notebook_records_parameters_and_seed(runs_root):
    ctx = start_notebook("00_x", "smoke", {"sft.max_steps": 3}, run_name="r", seed=7)
    assert (ctx.seed, ctx.profile.seed, ctx.profile.sft.max_steps) == (7, 7, 3)
    manifest = json.loads((runs_root / "smoke" / "r" / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["profile_config"]["sft"]["max_steps"] == 3
    assert manifest["notebooks"]["00_x"]["parameters"]["overrides"] == {"sft.max_steps": 3}
    with pytest.raises(RmR1Error, match=r"different configuration \(differs in: sft.max_steps\)"):
        start_notebook("01_y", "smoke", {"sft.max_steps": 4}, run_name="r", seed=7)
    with pytest.raises(RmR1Error, match="seed must be a non-negative integer"):
        start_notebook("01_y", "smoke", run_name="r2", seed=-1)
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        start_notebook("01_y", "smoke", {"bogus": 1}, run_name="r3")


def test_base_model_built_once_and_judge_chain(runs_root):
    from rmr1lib.tinymodel import read_tiny_model_info

    # a few copy pre-training steps: the profile's value reaches the build (the plumbing, not the 400 steps)
    ctx = start_notebook("00_x", "smoke", {"model.tiny.copy_pretrain_steps": 3}, run_name="m")
    path = base_model_path(ctx)
    assert (ctx.run.artifact("tiny_model") / "config.json").exists()
    assert read_tiny_model_info(path)["copy_pretraining"]["steps"] == 3
    mtime = os.stat(os.path.join(path, "config.json")).st_mtime
    assert base_model_path(ctx) == path and os.stat(os.path.join(path, "config.json")).st_mtime == mtime
    assert latest_judge(ctx) == ("base", path)
    with pytest.raises(RmR1Error, match="artifact 'train_pairs.jsonl' is not there"):
        load_pairs(ctx, "train")
    with pytest.raises(RmR1Error, match="split must be"):
        load_pairs(ctx, "test")


def test_setup_skips_the_slow_optional_import_and_jsonschema_goes_on_without_it():
    import subprocess
    import sys

    code = """
import sys, time
from rmr1lib import runtime
from rmr1lib.profiles import load_profile
runtime.setup(load_profile("smoke"))
assert sys.modules["rfc3987_syntax"] is None
try:
    import rfc3987_syntax
except ImportError:
    pass
else:
    raise SystemExit("rfc3987_syntax was imported")
import jsonschema
assert "iri" not in jsonschema.FormatChecker().checkers
errors = list(jsonschema.Draft7Validator({"type": "object", "required": ["a"]}).iter_errors({}))
assert [e.message for e in errors] == ["'a' is a required property"]
# a module already imported is left alone
sys.modules["already_here"] = sys
assert runtime.skip_optional_imports(("already_here", "not_yet_here")) == ["not_yet_here"]
assert sys.modules["already_here"] is sys and sys.modules["not_yet_here"] is None
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_configure_environment_keeps_user_values(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    applied = runtime.configure_environment(offline=False, threads=1)
    assert applied["OMP_NUM_THREADS"] == "3" and "HF_HUB_OFFLINE" not in applied
    assert runtime.configure_environment(offline=True)["HF_HUB_OFFLINE"] == "1"
    assert runtime.needs_hub(load_profile("smoke")) is False
    assert runtime.needs_hub(load_profile("rehearsal")) is False  # a packaged GGUF model, local files
    assert runtime.needs_hub(load_profile("smoke", {"model.family": "qwen2.5-instruct", "model.size": "7B",
                                                    "sft.learning_rate": 1e-5, "rl.learning_rate": 1e-6}))
    fixture = "tests/fixtures/authors/instruct_rows.jsonl"  # the prompt from a local file, the rows from the hub
    assert runtime.needs_hub(load_profile("smoke", {"data.source": "released", "judge.prompt_kind": "authors",
                                                    "judge.authors_source": fixture}))
    assert runtime.needs_hub(load_profile("smoke", {"judge.prompt_kind": "authors"}))  # learned from the hub's rows
    assert runtime.needs_hub(load_profile("rehearsal", {"data.sources_dir": ""}))  # the released set from the hub


def test_resolve_model_offline_fails_fast_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    with pytest.raises(OfflineError) as info:
        resolve_model("gaotang/RM-R1-Qwen2.5-Instruct-7B")
    message = str(info.value)
    assert "not on this machine and the hub is offline" in message
    assert "huggingface-cli download gaotang/RM-R1-Qwen2.5-Instruct-7B" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(OfflineError, match="holds no config.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(OfflineError, match="no such local folder"):
        resolve_model("./missing/model/dir")
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path / "ok")) == str(tmp_path / "ok")


def test_pipeline_figure_and_environment_report(tmp_path):
    fig = pipeline_figure()
    assert len(fig.axes[0].patches) >= 11  # six stages and five arrows
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000
    report = dict(environment_report())
    import torch

    assert report["torch threads"] == str(torch.get_num_threads()) and "version: torch" in report
    assert report["torch CPU kernels"] == torch.backends.cpu.get_cpu_capability()
    assert report["cpu"] != "unknown" and "ATEN_CPU_CAPABILITY" in report


def _fake_model(folder):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def test_notebook_plumbing_saves_records_and_picks_judges(runs_root):
    no_copy = {"model.tiny.copy_pretrain_steps": 0}  # plumbing only: the model's weights do not matter
    ctx = start_notebook("04_x", "smoke", {"rl.reward": "verifiable", **no_copy}, run_name="plumb")
    path = ctx.save_jsonl("rows.jsonl", [{"a": 1}, {"a": 2}], kind="data", rows=2)  # "rows" can be a manifest field
    assert path == ctx.run.artifact("rows.jsonl") and path.read_text() == '{"a": 1}\n{"a": 2}\n'
    assert ctx.run.artifact_info("rows.jsonl")["rows"] == 2 and ctx.run.artifact_info("rows.jsonl")["seed"] == 42
    ctx.save_json("summary.json", {"x": 1}, obj="a manifest field too")
    assert json.loads(ctx.run.artifact("summary.json").read_text()) == {"x": 1}
    base = base_model_path(ctx)
    assert grpo_start_model(ctx) == ("base", base) and judge_to_evaluate(ctx) == ("base", base)
    sft = _fake_model(ctx.run.path("sft_model"))
    ctx.record("sft_model", sft, kind="model")
    assert grpo_start_model(ctx) == ("sft", str(sft)) and judge_to_evaluate(ctx) == ("sft_model", str(sft))
    # the cold-start ablation never starts from the distilled judge; a named checkpoint is evaluated as named
    cold = start_notebook("04_y", "smoke", {"rl.reward": "cold_start", "eval.checkpoint": "/models/mine", **no_copy},
                          run_name="plumb2")
    cold.record("sft_model", _fake_model(cold.run.path("sft_model")))
    assert grpo_start_model(cold) == ("base", base_model_path(cold))
    assert judge_to_evaluate(cold) == ("/models/mine", "/models/mine")


def test_generation_options_follow_the_profile():
    from rmr1lib.generation import generator_options, sampling_from_profile
    from rmr1lib.profiles import load_profile

    smoke, gpu = load_profile("smoke"), load_profile("single_gpu")
    assert generator_options(smoke)["max_model_len"] == smoke.model.tiny.max_positions
    # a GPU profile runs the model at its own context length: no accidental 4,096-token cap from the tiny shape
    assert generator_options(gpu)["max_model_len"] is None
    assert generator_options(gpu) | {"max_model_len": 0} == dict(
        backend="vllm", dtype="bfloat16", device="cuda", batch_size=gpu.generation.batch_size, max_model_len=0,
        gpu_memory_utilization=gpu.generation.gpu_memory_utilization, tensor_parallel_size=1,
        trust_remote_code=False)
    sampling = sampling_from_profile(gpu, seed=3, max_new_tokens=7)
    assert (sampling.seed, sampling.max_new_tokens, sampling.temperature) == (3, 7, gpu.generation.temperature)


def test_judge_both_orders_judges_every_pair_both_ways_with_the_real_engine(tmp_path, monkeypatch):
    from rmr1lib.synthetic import make_pairs
    from rmr1lib.workbook import base_model_path, judge_both_orders

    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path))
    ctx = start_notebook("02_x", "smoke", {"generation.backend": "transformers", "generation.max_new_tokens": 4,
                                           "torch_threads": 1, "model.tiny.copy_pretrain_steps": 0},
                         run_name="zs", seed=3)
    rows = make_pairs(3, seed=3)
    out = judge_both_orders(ctx, base_model_path(ctx), rows)
    assert sorted((r["id"], r["order"]) for r in out) == sorted((r["id"], o) for r in rows for o in ("AB", "BA"))
    assert all(r["correct"] == int(r["verdict"] == ("A" if r["order"] == "AB" else "B")) for r in out)
    with pytest.raises(RmR1Error, match="no raw pair"):
        judge_both_orders(ctx, base_model_path(ctx), [dict(rows[0], conversation_a=None)])


def test_generate_texts_takes_the_profiles_engine_unless_told(runs_root):
    from rmr1lib.generation import SamplingSettings, TransformersGenerator
    from rmr1lib.prompts import build_messages
    from rmr1lib.synthetic import make_pairs
    from rmr1lib.workbook import generate_texts

    ctx = start_notebook("00_x", "smoke", {"model.tiny.copy_pretrain_steps": 0, "torch_threads": 1}, run_name="g",
                         seed=5)
    assert ctx.profile.generation.backend == "vllm"
    path = base_model_path(ctx)
    row = make_pairs(1, seed=5)[0]
    messages = build_messages("instruct_cor", row["conversation_a"], row["conversation_b"])
    text = generate_texts(ctx, path, [messages], max_new_tokens=6, backend="transformers")[0]
    direct = TransformersGenerator(path).generate([messages], SamplingSettings(max_new_tokens=6, temperature=0.0,
                                                                               top_p=1.0, seed=5))[0]
    assert text == direct and text
    with pytest.raises(ConfigError, match="generation backend 'nonesuch' is not known"):
        generate_texts(ctx, path, [messages], max_new_tokens=6, backend="nonesuch")


def test_pair_texts_reads_both_row_schemas():
    from rmr1lib.synthetic import make_pairs

    row = make_pairs(1, seed=3)[0]
    a, b = row["conversation_a"], row["conversation_b"]
    # the client's turns once, then both responses
    assert pair_texts(row) == [m["content"] for m in a] + [b[-1]["content"]]
    # a released RL row holds only the rendered judge prompt: its non-system messages
    released = {"id": "r1", "context_messages": [{"role": "system", "content": "judge"},
                                                 {"role": "user", "content": "the rendered pair"}],
                "conversation_a": None, "conversation_b": None}
    assert pair_texts(released) == ["the rendered pair"]
    assert pair_texts({"id": "empty"}) == []
