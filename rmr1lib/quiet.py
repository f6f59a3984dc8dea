"""Known harmless messages, silenced where they arise, and progress bars that suit where the code runs.

Starting vLLM or loading bitsandbytes on a CPU prints messages that look alarming in red and mean nothing here:

* torch's "Triton not available" (Triton compiles GPU kernels; a CPU machine has no use for it),
* vLLM's FutureWarning that `torch.distributed.reduce_op` is deprecated (vLLM inspecting torch's attributes),
* the CPU worker's "NUMA binding: Using MEMBIND policy" (it keeps the engine's memory on the machine's one
  memory node, which is what we want),
* bitsandbytes' "Failed to load CPU gemm_4bit_forward from kernels-community" (an optional kernel from the hub).

`HARMLESS` lists them with what each means; notebook 00 shows that table once. Python-level warnings and log
records are filtered by exact message (`quiet_known_warnings`); the NUMA line comes from C++ straight onto file
descriptor 2, so `filtered_native_stderr` passes that descriptor through a filter while the in-process engine
starts and forwards every other line unchanged. Any message not listed here still shows.

Progress bars: in an interactive Jupyter kernel bars are live widgets; in a notebook executed by the runner
(papermill) they would be saved as frozen "0% Completed" text, so there the runner asks for plain lines
(rmr1lib.progress) and switches library bars off; `library_bars_wanted()` says which applies.

Pure core: standard library only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import warnings
from typing import Iterator, Sequence

from .progress import PROGRESS_ENV

#: (where it comes from, the message as printed, why it is harmless here)
HARMLESS = (
    ("torch (logger torch._library.triton)", "Triton not available, find_triton_kernels = []",
     "Triton compiles GPU kernels; on a CPU-only machine there is nothing for it to do"),
    ("vLLM (FutureWarning)", "`torch.distributed.reduce_op` is deprecated, please use `torch.distributed.ReduceOp`",
     "vLLM looks at every attribute of torch.distributed when it loads; nothing here uses the old name"),
    ("vLLM CPU worker (C++)", "NUMA binding: Using MEMBIND policy for memory allocation on the NUMA nodes (0)",
     "the engine keeps its memory on the machine's memory node, which is the right choice on one socket"),
    ("bitsandbytes (logger)", "Failed to load CPU gemm_4bit_forward from kernels-community",
     "an optional faster 4-bit CPU kernel is fetched from the hub by the `kernels` package, deliberately not "
     "installed; bitsandbytes uses its own kernel instead"),
)

_FUTURE_REDUCE_OP = r"`torch\.distributed\.reduce_op` is deprecated"
#: logger name -> the start of the one record dropped from it
LOG_NOTICES = {"torch._library.triton": "Triton not available",
               "bitsandbytes.backends.cpu.ops": "Failed to load CPU gemm_4bit_forward from kernels-community"}
#: lines written by native code to stderr that `filtered_native_stderr` drops
NATIVE_PATTERNS = (re.compile(r"Warning: NUMA binding: Using MEMBIND policy"),)


class _DropNotice(logging.Filter):
    """Drops the log records whose message starts with `prefix`, and nothing else."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quiet_known_warnings() -> None:
    """Silence the Python-level harmless messages of `HARMLESS` (idempotent; other warnings are untouched)."""
    warnings.filterwarnings("ignore", message=_FUTURE_REDUCE_OP, category=FutureWarning)
    for name, prefix in LOG_NOTICES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNotice) for f in logger.filters):
            logger.addFilter(_DropNotice(prefix))


def drop_harmless_lines(text: str, patterns: Sequence[re.Pattern] = NATIVE_PATTERNS) -> str:
    """`text` without the lines that match one of `patterns` (line endings of the kept lines preserved)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not any(p.search(line) for p in patterns))


@contextlib.contextmanager
def filtered_native_stderr(patterns: Sequence[re.Pattern] = NATIVE_PATTERNS) -> Iterator[None]:
    """While the block runs, send file descriptor 2 through a filter that drops lines matching `patterns`.

    Everything else written to descriptor 2 reaches the real stderr, line by line, as it arrives. Meant for
    code that starts no child process inside the block: a child would keep writing through the filter (still
    forwarded, but through this process) for as long as it lives.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (some embedded interpreters): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    out = os.dup(saved)  # the pump's own copy: it forwards for as long as anything holds the pipe open

    def pump() -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    _forward(out, line + b"\n", patterns)
        if pending:
            _forward(out, pending, patterns)
        os.close(out)

    thread = threading.Thread(target=pump, name="rmr1-stderr-filter", daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        os.dup2(saved, 2)  # closes our last write end of the pipe: the pump drains what is left and stops
        os.close(saved)
        thread.join(timeout=5)


def _forward(fd: int, line: bytes, patterns: Sequence[re.Pattern]) -> None:
    text = line.decode("utf-8", "replace")
    if not any(p.search(text) for p in patterns):
        os.write(fd, line)


def library_bars_wanted() -> bool:
    """Whether libraries' own progress bars (vLLM weight loading, ...) should show: yes in a terminal or an
    interactive kernel, where they update live; no when $RMR1_PROGRESS asks for 'lines' or 'off' (the runner
    sets 'lines' for the kernels papermill drives, which would save a bar as its frozen first frame)."""
    return os.environ.get(PROGRESS_ENV, "").strip().lower() not in ("lines", "off")


def harmless_table() -> list[dict]:
    """The known harmless messages as rows (source, message, why harmless) for a notebook table."""
    return [{"source": source, "message": message, "why it is harmless here": why} for source, message, why in HARMLESS]


__all__ = ["HARMLESS", "NATIVE_PATTERNS", "drop_harmless_lines", "filtered_native_stderr", "harmless_table",
           "library_bars_wanted", "quiet_known_warnings"]
