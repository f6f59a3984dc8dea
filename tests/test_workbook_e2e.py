"""End to end: the README's main command path (the runner) on the smoke profile, every notebook.

The `smoke_run` fixture (tests/conftest.py) runs the workbook once per session; each notebook's own
end-to-end assertions live in tests/test_nbNN_e2e.py files that use the same fixture."""

import json

import pytest

from rmr1lib.runner import discover_notebooks, run_workbook

pytestmark = pytest.mark.slow


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


FROZEN_BAR_MARKS = ("% Completed", "%|")  # vLLM's and tqdm's bar formats


def test_executed_notebooks_show_no_known_harmless_warning_and_no_frozen_bar(smoke_run):
    from rmr1lib.quiet import HARMLESS

    found = []
    for name in (p.stem for p in discover_notebooks()):
        nb = json.loads((smoke_run.notebooks_dir / f"{name}.ipynb").read_text())
        for i, cell in enumerate(nb["cells"]):
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                text = "".join(out.get("text", "")) + "".join(data.get("text/plain", ""))
                where = f"{name} cell {i}"
                if "application/vnd.jupyter.widget-view+json" in data:
                    found.append(f"{where}: a progress widget (saved as its first frame)")
                found += [f"{where}: frozen progress text {mark!r}" for mark in FROZEN_BAR_MARKS if mark in text]
                if out.get("output_type") == "stream":  # (00 shows the list itself as a table: not a stream)
                    found += [f"{where}: known harmless message {message[:40]!r}" for _, message, _ in HARMLESS
                              if message[:40] in text]
    assert found == []
