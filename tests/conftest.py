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
