"""Runs: atomic writes never leave partial files, the manifest records artifacts, lookups fail clearly."""

import json
import os

import pytest

from rmr1lib.errors import RmR1Error
from rmr1lib.files import atomic_path, atomic_write_json, atomic_write_jsonl, atomic_write_text, read_jsonl
from rmr1lib.runs import latest_run, open_run


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary left behind


def test_crash_mid_write_leaves_previous_version(tmp_path):
    target = tmp_path / "rows.jsonl"
    atomic_write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        atomic_write_jsonl(target, rows())
    assert read_jsonl(target) == [{"a": 1}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]


def test_atomic_directory(tmp_path):
    target = tmp_path / "model"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "w.bin").write_text("v1")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "w.bin").write_text("half")
            raise ValueError("crash")
    assert (target / "w.bin").read_text() == "v1"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "w.bin").write_text("v2")
    assert (target / "w.bin").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_atomic_path_requires_a_write(tmp_path):
    with pytest.raises(RmR1Error, match="nothing was written"):
        with atomic_path(tmp_path / "x"):
            pass


def test_manifest_records_artifacts_and_lookup(tmp_path):
    run = open_run("smoke", "r1", root=tmp_path)
    assert run.dir == tmp_path / "smoke" / "r1"
    with pytest.raises(RmR1Error, match="artifact 'pairs' is not there"):
        run.artifact("pairs")
    with pytest.raises(RmR1Error, match="does not exist"):
        run.record_artifact("pairs", "01_data_prep")
    atomic_write_json(run.path("pairs"), [1, 2])
    run.record_artifact("pairs", "01_data_prep", seed=7, rows=2)
    assert run.artifact("pairs") == run.path("pairs")
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["artifacts"]["pairs"]["seed"] == 7
    assert manifest["notebooks"]["01_data_prep"]["artifacts"] == ["pairs"]
    os.remove(run.path("pairs"))
    with pytest.raises(RmR1Error, match="registered but .* is missing; rerun notebook 01_data_prep"):
        run.artifact("pairs")


def test_bad_names_rejected(tmp_path):
    with pytest.raises(RmR1Error, match="cannot be used as a folder name"):
        open_run("smoke", "../escape", root=tmp_path)
    run = open_run("smoke", "ok", root=tmp_path)
    with pytest.raises(RmR1Error, match="not allowed"):
        run.path("../../etc")


def test_latest_run(tmp_path):
    assert latest_run("smoke", root=tmp_path) is None
    a = open_run("smoke", "a", root=tmp_path)
    b = open_run("smoke", "b", root=tmp_path)
    os.utime(a.manifest_path, (1, 1))
    assert latest_run("smoke", root=tmp_path).dir == b.dir


def test_a_run_records_its_machine_and_a_change_of_machine(tmp_path, monkeypatch):
    """The numbers of a seed hold on one kind of machine: a run records the CPU, its vector features and any
    kernel setting; continued under another setting, it keeps the first and lists the other."""
    from rmr1lib.profiles import load_profile
    from rmr1lib.runs import CPU_KERNEL_ENV, open_profile_run

    for key in CPU_KERNEL_ENV:
        monkeypatch.delenv(key, raising=False)
    profile = load_profile("smoke")
    run = open_profile_run(profile, "m", root=tmp_path)
    machine = run.manifest()["machine"]
    assert machine["cores"] == os.cpu_count() and machine["kernel_env"] == {}
    with open("/proc/cpuinfo") as fh:
        flags = next(line for line in fh if line.startswith("flags")).split()
    assert ("avx2" in machine["cpu_features"]) == ("avx2" in flags)
    assert machine["cpu"] and machine["cpu"] != "unknown"

    open_profile_run(profile, "m", root=tmp_path)  # the same machine: nothing to note
    assert "machine_changes" not in run.manifest()
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    for _ in range(2):  # every notebook opens the run: the change is listed once
        open_profile_run(profile, "m", root=tmp_path)
    manifest = run.manifest()
    assert manifest["machine"] == machine
    assert [c["machine"]["kernel_env"] for c in manifest["machine_changes"]] == [{"ATEN_CPU_CAPABILITY": "avx2"}]
