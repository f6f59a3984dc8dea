"""Progress that stays short: step counters with their rate and ETA, printed at most every few seconds.

Long jobs (SFT, GRPO, a notebook run by the runner) report through `ProgressLine`: it is told the step count
as often as the job likes and returns a line only when one is due (the first step, then every `interval`
seconds, and the last step), so a log of a 10-minute job holds a dozen lines, not thousands. Under the runner
(papermill) progress is always such plain lines, which read well in the executed notebook and never leave a
frozen widget behind; in an interactive Jupyter kernel `progress_mode()` says "bar" and the engines show a live
progress bar instead.

Pure core: standard library only.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Optional

#: Set by the runner for the kernels it starts: progress there is plain lines (papermill keeps no widgets).
PROGRESS_ENV = "RMR1_PROGRESS"
PROGRESS_MODES = ("lines", "bar", "off")


def progress_mode() -> str:
    """'lines', 'bar' or 'off': $RMR1_PROGRESS if set, 'bar' in an interactive Jupyter kernel, else 'lines'."""
    chosen = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if chosen in PROGRESS_MODES:
        return chosen
    return "bar" if "ipykernel" in sys.modules else "lines"


def format_duration(seconds: float) -> str:
    """A short human duration: '45 s', '3 min 05 s', '1 h 02 min'."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_rate(steps: float, seconds: float, unit: str = "step") -> str:
    """'4.2 steps/s' for fast jobs, '3.1 s/step' for slow ones ('' when nothing was measured)."""
    if steps <= 0 or seconds <= 0:
        return ""
    per_second = steps / seconds
    if per_second >= 1:
        return f"{per_second:.1f} {unit}s/s"
    return f"{seconds / steps:.1f} s/{unit}"


class ProgressLine:
    """Formats 'label 120/800 (15%), 4.2 steps/s, ETA 2 min 40 s' lines and decides when one is due.

    `update(done)` returns a line on the first update, then at most once every `interval` seconds, and always
    when `done` reaches `total`; otherwise None. The rate counts only steps made since the first update, so a
    resumed job does not look faster than it is.
    """

    def __init__(self, label: str, total: Optional[int] = None, *, interval: float = 20.0, unit: str = "step",
                 clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.interval, self.unit, self.clock = label, total, float(interval), unit, clock
        self.start_time: Optional[float] = None
        self.start_done = 0
        self.last_time: Optional[float] = None
        self.lines = 0

    def begin(self, done: int = 0) -> None:
        """Start the clock at `done` steps (called by the first update if not before)."""
        self.start_time, self.start_done = self.clock(), done

    def text(self, done: int, extra: str = "") -> str:
        """The line for `done` steps, whether or not it is due."""
        if self.start_time is None:
            self.begin(done)
        elapsed = self.clock() - self.start_time
        made = done - self.start_done
        parts = [f"{self.label} {done}" + (f"/{self.total}" if self.total else "")]
        if self.total:
            parts[0] += f" ({100 * done / self.total:.0f}%)"
        rate = format_rate(made, elapsed, self.unit)
        if rate:
            parts.append(rate)
            if self.total and done < self.total:
                parts.append(f"ETA {format_duration((self.total - done) * elapsed / made)}")
            elif self.total:
                parts.append(f"took {format_duration(elapsed)}")
        if extra:
            parts.append(extra)
        return ", ".join(parts)

    def update(self, done: int, extra: str = "") -> Optional[str]:
        """The line for `done` steps if one is due now, else None."""
        now = self.clock()
        if self.start_time is None:
            self.begin(done)
        final = self.total is not None and done >= self.total
        due = self.last_time is None or final or now - self.last_time >= self.interval
        if not due:
            return None
        self.last_time = now
        self.lines += 1
        return self.text(done, extra)
