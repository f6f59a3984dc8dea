"""End to end: the README's main command path (the runner) on the smoke profile, every notebook."""

import json

import pytest

from rmr1lib.runner import discover_notebooks, run_workbook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("RMR1_RUNS_ROOT", str(root))
    try:
        run = run_workbook("smoke", run_name="e2e", progress=False, log=lambda m: None)
    finally:
        mp.undo()
    return run


def test_every_notebook_ran_and_is_recorded(smoke_run):
    manifest = json.loads(smoke_run.manifest_path.read_text())
    names = [p.stem for p in discover_notebooks()]
    assert [n for n in names if manifest["notebooks"].get(n, {}).get("status") != "done"] == []
    for name in names:
        assert (smoke_run.notebooks_dir / f"{name}.ipynb").exists()
        assert manifest["notebooks"][name]["seconds"] > 0
    assert manifest["seed"] == 42 and manifest["profile_config"]["name"] == "smoke"
    assert {"torch", "transformers", "trl", "papermill"} <= set(manifest["versions"])
    for name, entry in manifest["artifacts"].items():
        assert (smoke_run.dir / entry["path"]).exists(), name


def test_overview_walkthrough_numbers(smoke_run):
    overview = json.loads(smoke_run.artifact("overview.json").read_text())
    # the oracle teacher's trace is complete and earns +1; the untrained tiny model cannot earn more
    assert overview["oracle"]["reward"] == 1.0
    assert overview["oracle"]["missing parts"] == "-"
    assert overview["oracle"]["strict verdict"] == overview["winner"][-1].upper()
    assert overview["untrained"]["reward"] in (-1.0, 1.0)
    assert (smoke_run.figures_dir / "pipeline.png").stat().st_size > 10_000
