"""The pre-flight: in seconds, before any notebook or run folder, a profile that cannot run here says why and what to
do (a GPU profile on a CPU machine, a model or data set that is neither here nor reachable, a full disk)."""

import time

import pytest

from rmr1lib import preflight, runner
from rmr1lib.preflight import PreflightFailed, check_profile, require
from rmr1lib.profiles import load_profile


@pytest.fixture
def offline_empty_cache(monkeypatch, tmp_path):
    """No hub (HF_HUB_OFFLINE) and an empty hub cache: what a GPU machine without network looks like."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    preflight.hub_reachable.cache_clear()
    yield
    preflight.hub_reachable.cache_clear()


def _no_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")


def test_cpu_profiles_pass_in_seconds(tmp_path):
    for name in ("smoke", "rehearsal"):
        started = time.time()
        checks = check_profile(load_profile(name), tmp_path)
        assert [c.name for c in checks if not c.ok] == [], name
        assert time.time() - started < 10
        require(checks, name)  # nothing raised
    names = [c.name for c in check_profile(load_profile("rehearsal"), tmp_path)]
    assert "packages" in names and "disk" in names and any("eval.rmb_source" in n for n in names)


def test_a_gpu_profile_without_gpu_or_hub_fails_fast_with_what_to_do(offline_empty_cache, tmp_path, monkeypatch):
    """Before the pre-flight, --profile single_gpu on such a machine ran 15 s into notebook 00 and stopped there with
    transformers' raw hub message."""
    _no_gpu()
    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path / "runs"))
    started = time.time()
    with pytest.raises(PreflightFailed) as info:
        runner.run_workbook("single_gpu", log=lambda line: None)
    assert time.time() - started < 20
    message = str(info.value)
    assert "make workbook PROFILE=rehearsal" in message  # the device check's way out on this machine
    assert "huggingface-cli download Qwen/Qwen2.5-7B-Instruct" in message and "model.name_or_path" in message
    assert "data.sources_dir" in message and "after_distill_rlvr.jsonl" in message
    assert "eval.rmb_source" in message and "git clone" in message
    assert not (tmp_path / "runs").exists()  # nothing was started: no run folder


def test_check_command(offline_empty_cache, capsys):
    _no_gpu()
    assert runner.main(["--check", "--profile", "single_gpu"]) == 1
    out = capsys.readouterr()
    assert "FAIL  device" in out.out and "cannot run on this machine" in out.err and "\n  - device: run on" in out.err
    assert runner.main(["--check", "--profile", "smoke"]) == 0
    assert "all checks passed" in capsys.readouterr().out


def test_missing_local_data_disk_and_api_key(tmp_path, monkeypatch):
    prof = load_profile("rehearsal", {"distill.released_source": "data/rehearsal/missing.jsonl"})
    bad = {c.name: c for c in check_profile(prof, tmp_path) if not c.ok}
    (name,) = bad
    assert "distill.released_source" in name and "a .jsonl file" in bad[name].fix
    prof = load_profile("rehearsal", {"judge.authors_source": "data/rehearsal/missing.jsonl"})
    (authors,) = [c for c in check_profile(prof, tmp_path) if not c.ok]  # the authors' prompt is learned from it
    assert "judge.authors_source" in authors.name and "does not exist" in authors.detail
    monkeypatch.delenv("RMR1_TEACHER_API_KEY", raising=False)
    api = [c for c in check_profile(load_profile("smoke", {"distill.teacher": "openai"}), tmp_path) if not c.ok]
    assert len(api) == 1 and "RMR1_TEACHER_API_KEY" in api[0].fix

    class Small:
        free = 1 << 30  # a 1 GiB disk: the rehearsal's three model folders do not fit

    monkeypatch.setattr(preflight.shutil, "disk_usage", lambda path: Small)
    disk = preflight.check_disk(load_profile("rehearsal"), tmp_path / "not" / "yet")
    assert not disk.ok and "RMR1_RUNS_ROOT" in disk.fix and "1.0 GiB free" in disk.detail
    assert preflight.check_disk(load_profile("smoke"), tmp_path).ok  # the tiny model's run fits


def test_the_failure_message_gives_the_fix_and_what_was_found(tmp_path):
    """Bug: the message gave only the fix, and a profile error's fix ('fix the profile value it names') then named
    no value at all."""
    prof = load_profile("smoke", {"model.name_or_path": "gguf:nothere.gguf"})
    with pytest.raises(PreflightFailed) as info:
        require(check_profile(prof, tmp_path), "smoke")
    assert ("  - model and data sources: fix the profile value it names (found: model source 'gguf:nothere.gguf': "
            "no GGUF file") in str(info.value)
