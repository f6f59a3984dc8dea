"""Test set-up: the workbook's CPU runtime settings before anything imports torch or vLLM."""

import os

from rmr1lib import runtime

runtime.configure_environment(offline=True, threads=1)


def pytest_configure(config):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


import pytest


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole smoke workbook, run once per test session through the runner (the README's main path)."""
    from rmr1lib.runner import run_workbook

    root = tmp_path_factory.mktemp("runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("RMR1_RUNS_ROOT", str(root))
    try:
        return run_workbook("smoke", run_name="e2e", progress=False, log=lambda m: None)
    finally:
        mp.undo()
