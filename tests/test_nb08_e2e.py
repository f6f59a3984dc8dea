"""End to end: notebook 08_paper_figures in the smoke workbook (the session's `smoke_run`, see conftest.py).

The figures of the paper's numbers it writes to figures/ must be the committed ones, byte for byte, and the
run's own figures must show this run next to the paper."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def test_paper_figures_match_the_committed_files(smoke_run):
    recorded = json.loads(smoke_run.artifact("paper_figures.json").read_text())["figures"]
    stems = {"paper_table1", "paper_table2_ladder", "paper_table3_sft_vs_reasoning", "paper_scaling_size"}
    assert set(recorded) == {f"{s}.{ext}" for s in stems for ext in ("png", "svg")}
    for name, digest in recorded.items():
        assert hashlib.sha256((REPO / "figures" / name).read_bytes()).hexdigest()[:16] == digest
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: cannot compare with the committed figures")
    for name, digest in recorded.items():
        blob = subprocess.run(["git", "show", f"HEAD:figures/{name}"], cwd=REPO, capture_output=True)
        if blob.returncode:
            pytest.fail(f"figures/{name} is not committed")
        assert hashlib.sha256(blob.stdout).hexdigest()[:16] == digest, f"figures/{name} differs from HEAD's"


def test_this_run_stands_next_to_the_paper(smoke_run):
    for name in ("08_paper_table1", "08_paper_table2_ladder_vs_run", "08_paper_table3_sft_vs_reasoning_vs_run",
                 "08_run_budget"):
        assert (smoke_run.figures_dir / f"{name}.png").stat().st_size > 5_000, name
    executed = json.loads((smoke_run.notebooks_dir / "08_paper_figures.ipynb").read_text())
    text = json.dumps(executed["cells"])
    assert "this run (rl_model)" in text  # Table 1 has this run's row
    seconds = json.loads(smoke_run.manifest_path.read_text())["notebooks"]["08_paper_figures"]["seconds"]
    assert seconds < 60, f"08_paper_figures took {seconds:.0f} s"
