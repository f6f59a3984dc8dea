"""The known harmless messages are silenced, and nothing else is: Python warnings, log records and native stderr."""

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

from rmr1lib.quiet import HARMLESS, drop_harmless_lines, harmless_table, library_bars_wanted, quiet_known_warnings

REPO = Path(__file__).resolve().parent.parent


def test_the_reduce_op_future_warning_is_silenced_and_others_are_not():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_warnings()
        warnings.warn("`torch.distributed.reduce_op` is deprecated, please use `torch.distributed.ReduceOp`",
                      FutureWarning)
        warnings.warn("some other deprecation", FutureWarning)
        warnings.warn("`torch.distributed.reduce_op` is deprecated", UserWarning)  # other category: kept
    assert [str(w.message) for w in caught] == ["some other deprecation", "`torch.distributed.reduce_op` is deprecated"]


def test_the_triton_notice_is_dropped_and_other_records_of_that_logger_are_kept(caplog):
    quiet_known_warnings()
    quiet_known_warnings()  # idempotent: one filter, not two
    logger = logging.getLogger("torch._library.triton")
    assert len(logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger="torch._library.triton"):
        logger.warning("Triton not available, find_triton_kernels = []")
        logger.warning("something else went wrong")
    assert [r.getMessage() for r in caplog.records] == ["something else went wrong"]


def test_the_bitsandbytes_kernel_notice_is_dropped(caplog):
    quiet_known_warnings()
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please ...", "no kernels")
        logger.warning("Failed to load something else")
    assert [r.getMessage() for r in caplog.records] == ["Failed to load something else"]


def test_drop_harmless_lines_keeps_everything_else():
    text = ("[W1127 19:37:12.9 utils.cpp:68] Warning: NUMA binding: Using MEMBIND policy for memory allocation on "
            "the NUMA nodes (0). (function init_cpu_memory_env)\nreal error\nlast line without newline")
    assert drop_harmless_lines(text) == "real error\nlast line without newline"


def test_native_stderr_is_filtered_line_by_line_in_a_real_process():
    # a child python writes to descriptor 2 directly (as C++ code does) inside and outside the filter
    code = (
        "import os, sys\n"
        "from rmr1lib.quiet import filtered_native_stderr\n"
        "with filtered_native_stderr():\n"
        "    os.write(2, b'[W utils.cpp:68] Warning: NUMA binding: Using MEMBIND policy for memory (0)\\n')\n"
        "    os.write(2, b'kept inside, ')\n"
        "    os.write(2, b'in two writes\\n')\n"
        "    os.write(2, b'no newline at the end')\n"
        "os.write(2, b'\\nafter the block\\n')\n"
        "os.write(2, b'Warning: NUMA binding: Using MEMBIND policy outside the block is not filtered\\n')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         cwd=REPO).stderr
    assert err == ("kept inside, in two writes\nno newline at the end\nafter the block\n"
                   "Warning: NUMA binding: Using MEMBIND policy outside the block is not filtered\n")


def test_library_bars_follow_the_progress_mode(monkeypatch):
    monkeypatch.setenv("RMR1_PROGRESS", "lines")  # what the runner sets for its kernels
    assert library_bars_wanted() is False
    monkeypatch.setenv("RMR1_PROGRESS", "off")
    assert library_bars_wanted() is False
    monkeypatch.setenv("RMR1_PROGRESS", "bar")
    assert library_bars_wanted() is True
    monkeypatch.delenv("RMR1_PROGRESS")  # a terminal or an interactive kernel: bars update live there
    assert library_bars_wanted() is True


def test_every_harmless_message_is_explained():
    rows = harmless_table()
    assert len(rows) == len(HARMLESS) == 4
    assert all(row["why it is harmless here"] and row["message"] for row in rows)
