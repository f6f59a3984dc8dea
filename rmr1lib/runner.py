"""Run the workbook: every notebook in order, each in a fresh python3 kernel, through papermill.

    python -m rmr1lib.runner --profile smoke                 # a new run, named by the UTC time
    python -m rmr1lib.runner --profile smoke --resume        # continue the latest run from where it stopped
    python -m rmr1lib.runner --set sft.max_steps=20 --only 03_distillation --run-name try1
    python -m rmr1lib.runner --profile single_gpu --check    # only the pre-flight: can this machine run it?

Before the first notebook the pre-flight (rmr1lib.preflight) checks in seconds that the machine can run the
profile: a CUDA GPU when the profile's device is cuda, the engines' packages, every model and data set (local,
packaged, cached or reachable on the hub) and the free disk; a failure lists each problem with what to do, and no
run folder is created.

The runner stops at the first failure, naming the notebook and the cell, keeps the partly executed notebook
as <name>.failed.ipynb in the run, and can resume from the notebook that failed. Each finished notebook is
recorded in the run's manifest with its timing; notebooks record their own artifacts and seeds.

While a notebook runs, the terminal shows which code cell is running and how far the notebook is ("cell 12/25",
the cell's first line, seconds so far): one line that updates itself on a terminal, or, in a log file, a line
for every cell that is still running after 15 s and again every minute. Training inside the kernels reports
its steps as short throttled lines in the executed notebook (rmr1lib.progress).

Workbook layer.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, TextIO

from . import runtime
from .errors import ConfigError, RmR1Error
from .profiles import load_profile, parse_overrides
from .progress import PROGRESS_ENV, format_duration
from .files import repo_root
from .preflight import check_profile, report_lines, require
from .runs import Run, latest_run, now_iso, open_profile_run

NOTEBOOK_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
KERNEL = "python3"
#: for the kernels the runner starts: no library progress bars (papermill saves a widget as its first frame)
KERNEL_QUIET_ENV = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def notebooks_dir() -> Path:
    """The folder that holds the workbook's notebooks."""
    return repo_root() / "notebooks"


def discover_notebooks(folder: Optional[Path] = None) -> list[Path]:
    """The workbook's notebooks (NN_name.ipynb) in execution order."""
    folder = folder or notebooks_dir()
    found = sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))
    if not found:
        raise RmR1Error(f"no notebooks named NN_name.ipynb in {folder}")
    return found


def select_notebooks(all_notebooks: list[Path], only: Sequence[str] = (), start: Optional[str] = None) -> list[Path]:
    """Restrict the list to `only` (names or NN prefixes) and/or from `start` onwards."""

    def matches(path: Path, key: str) -> bool:
        return path.stem == key or path.stem.startswith(key + "_") or path.name == key

    chosen = list(all_notebooks)
    if start:
        idx = [i for i, p in enumerate(chosen) if matches(p, start)]
        if not idx:
            raise RmR1Error(f"--from {start!r}: no such notebook; have {', '.join(p.stem for p in all_notebooks)}")
        chosen = chosen[idx[0]:]
    if only:
        for key in only:
            if not any(matches(p, key) for p in all_notebooks):
                raise RmR1Error(f"--only {key!r}: no such notebook; have {', '.join(p.stem for p in all_notebooks)}")
        chosen = [p for p in chosen if any(matches(p, k) for k in only)]
    return chosen


class NotebookFailed(RmR1Error):
    """A notebook raised during execution; the message names the notebook and the cell."""


def _describe_failure(nb: Path, exc: BaseException, kept: Path) -> str:
    cell = getattr(exc, "cell_index", None)
    if cell is not None and kept.exists():
        # papermill counts the injected-parameters cell; report the index in the source notebook
        import nbformat

        cells = nbformat.read(kept, as_version=4).cells[:cell]
        cell -= sum("injected-parameters" in c.metadata.get("tags", []) for c in cells)
    if cell is not None:
        source = (getattr(exc, "source", "") or "").strip().splitlines()
        first = source[0][:100] if source else ""
        ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
        where = f"cell {cell} (0-based; execution count {getattr(exc, 'exec_count', '?')}), starting `{first}`"
        what = f"{ename}: {evalue}"
    else:
        where, what = "before any cell ran", f"{type(exc).__name__}: {exc}"
    return (f"notebook {nb.name} failed in {where}\n  {what}\n"
            f"  the partly executed notebook is {kept}")


class CellProgress:
    """Which code cell of a notebook is running, and since when: a self-updating line on a terminal, or
    heartbeat lines in a log (a cell still running after `first` seconds, then every `every` seconds)."""

    def __init__(self, label: str, log: Callable[[str], None], *, tty: bool = False, stream: TextIO = sys.stderr,
                 first: float = 15.0, every: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.label, self.log, self.tty, self.stream = label, log, tty, stream
        self.first, self.every, self.clock = first, every, clock
        self.code_cells: list[int] = []
        self.current: Optional[tuple[int, str, float]] = None  # (ordinal, first line, start time)
        self.next_report = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def begin(self, cells: Sequence) -> None:
        """Learn the notebook's cells and start the reporting thread."""
        self.code_cells = [i for i, c in enumerate(cells) if c.get("cell_type") == "code"]
        self._thread = threading.Thread(target=self._loop, name=f"progress {self.label}", daemon=True)
        self._thread.start()

    def status(self) -> Optional[str]:
        """The line that describes the running cell now (None between cells)."""
        with self._lock:
            if self.current is None:
                return None
            ordinal, first_line, started = self.current
        return (f"  {self.label}: cell {ordinal}/{len(self.code_cells)}, {format_duration(self.clock() - started)}"
                f"  `{first_line}`")

    def cell_start(self, index: Optional[int], source: str) -> None:
        """A cell started (markdown cells are ignored)."""
        if index not in self.code_cells:
            return
        lines = [line.strip() for line in source.splitlines() if line.strip() and not line.startswith("#")]
        doing = [line for line in lines if not line.startswith(("import ", "from "))]  # what the cell does
        first_line = (doing or lines or [""])[0]
        with self._lock:
            self.current = (self.code_cells.index(index) + 1, first_line[:70], self.clock())
            self.next_report = self.first
        if self.tty:
            self._draw()

    def cell_end(self) -> None:
        """The running cell finished."""
        with self._lock:
            self.current = None

    def end(self) -> None:
        """Stop reporting (and clear the terminal line)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _draw(self) -> None:
        line = self.status()
        if line is not None:
            self.stream.write("\r\033[K" + line[: max(20, _terminal_width() - 1)])
            self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            if self.tty:
                self._draw()
                continue
            with self._lock:
                due = self.current is not None and self.clock() - self.current[2] >= self.next_report
                if due:
                    self.next_report += self.every
            if due:
                line = self.status()
                if line:
                    self.log(line + " (running)")


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        return 120


@functools.lru_cache(maxsize=None)
def _reporting_engine() -> str:
    """A papermill engine that tells a CellProgress when each cell starts and ends (registered once)."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class Manager(NotebookExecutionManager):
        reporter: Optional[CellProgress] = None

        def cell_start(self, cell, cell_index=None, **kwargs):
            super().cell_start(cell, cell_index, **kwargs)
            self.reporter.cell_start(cell_index, cell.source)

        def cell_complete(self, cell, cell_index=None, **kwargs):
            super().cell_complete(cell, cell_index, **kwargs)
            self.reporter.cell_end()

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=False, log_output=False,
                             autosave_cell_every=30, reporter=None, **kwargs):
            # papermill's Engine.execute_notebook, with a manager that reports cells
            nb_man = Manager(nb, output_path=output_path, progress_bar=False, log_output=log_output,
                             autosave_cell_every=autosave_cell_every)
            nb_man.reporter = reporter
            reporter.begin(nb.cells)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                reporter.end()
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register("rmr1-progress", Engine)
    return "rmr1-progress"


class _KernelSockets:
    """Where a notebook's kernel listens: Unix sockets in a private temporary folder, removed afterwards. Over
    TCP (jupyter's default) any local user can connect to the kernel's ports and read its messages, and ipykernel
    warns about that at every start; where there are no Unix sockets (Windows), TCP it is."""

    def __init__(self):
        self.folder: Optional[str] = None

    def manager(self) -> dict:
        """papermill's keyword for the kernel manager's settings (nothing where Unix sockets are unavailable).
        The client still makes the manager, so it also stops the kernel (a manager passed in it would not)."""
        if os.name != "posix":
            return {}
        from traitlets.config import Config

        self.folder = tempfile.mkdtemp(prefix="rmr1-kernel-")  # mode 0700: only this user reaches the sockets
        return {"config": Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(self.folder, "k")}})}

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def execute_notebook(nb: Path, run: Run, parameters: dict, progress: Optional[CellProgress] = None) -> float:
    """Execute one notebook into the run's notebooks/ folder; return seconds, raise NotebookFailed.

    With `progress`, the running cell is reported as the notebook goes (see CellProgress).
    """
    import papermill as pm

    final = run.notebooks_dir / nb.name
    running = run.notebooks_dir / f".{nb.stem}.running.ipynb"
    failed = run.notebooks_dir / f"{nb.stem}.failed.ipynb"
    failed.unlink(missing_ok=True)
    run.notebook_status(nb.stem, status="running", started=now_iso(), error=None)
    t0 = time.time()
    # A kernel started from inside pytest inherits PYTEST_CURRENT_TEST, and ipykernel then leaves sys.stdout
    # without a file descriptor, which vLLM's engine start needs ("UnsupportedOperation: fileno").
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    engine = {"engine_name": _reporting_engine(), "reporter": progress} if progress is not None else {}
    sockets = _KernelSockets()
    try:
        pm.execute_notebook(
            str(nb), str(running), parameters=parameters, kernel_name=KERNEL, cwd=str(nb.parent),
            progress_bar=False, log_output=False, request_save_on_cell_execute=True,
            # the kernel and what it started are killed once the last cell is done: a graceful stop costs 1.5-3 s
            # per notebook (the interpreter tearing down torch and vLLM), and cells write every artifact
            shutdown_kernel="immediate", **sockets.manager(), **engine,
        )
    except BaseException as exc:  # noqa: BLE001 - every failure is reported the same way, then re-raised
        seconds = time.time() - t0
        if running.exists():
            os.replace(running, failed)
        message = _describe_failure(nb, exc, failed)
        run.notebook_status(nb.stem, status="failed", finished=now_iso(), seconds=round(seconds, 1),
                            error=message)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise NotebookFailed(message) from None
    finally:
        sockets.close()
    os.replace(running, final)
    seconds = time.time() - t0
    run.notebook_status(nb.stem, status="done", finished=now_iso(), seconds=round(seconds, 1),
                        executed=os.path.relpath(final, run.dir))
    return seconds


def _skip_reason(profile, notebook: str) -> str:
    from .workbook import skip_reason

    return skip_reason(profile, notebook)


#: --cpu-kernels: the variables (inherited by every kernel) that narrow each library's instruction set
CPU_KERNEL_SETTINGS = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def cpu_kernel_env(name: str) -> dict[str, str]:
    """The environment variables of a --cpu-kernels setting; a ConfigError names the known ones."""
    if name not in CPU_KERNEL_SETTINGS:
        raise ConfigError(f"--cpu-kernels: unknown setting {name!r}; known: {', '.join(sorted(CPU_KERNEL_SETTINGS))}")
    return dict(CPU_KERNEL_SETTINGS[name])


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """Set environment variables (inherited by the kernels started inside), then restore the old values."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_workbook(
    profile: str = "smoke",
    overrides: Optional[dict] = None,
    run_name: Optional[str] = None,
    resume: bool = False,
    only: Sequence[str] = (),
    start: Optional[str] = None,
    seed: Optional[int] = None,
    notebooks: Optional[Path] = None,
    progress: Optional[bool] = None,
    log: Optional[Callable[[str], None]] = None,
    preflight: bool = True,
    cpu_kernels: Optional[str] = None,
) -> Run:
    """Execute the workbook's notebooks in order for a profile; return the Run.

    `progress` (default: on) reports the running cell of each notebook: a self-updating line when stderr is a
    terminal, heartbeat lines through `log` otherwise. `preflight` (default: on) checks the machine first and
    raises PreflightFailed, before any run folder exists, when the profile cannot run here. `cpu_kernels`
    ("avx2") makes the kernels' torch, oneDNN and MKL use AVX2 code even on a CPU with AVX-512: the numbers of a
    machine without AVX-512, to check a result against the other CPU kind (see `CPU_KERNEL_SETTINGS`).
    """
    if cpu_kernels is not None:
        with _environment(cpu_kernel_env(cpu_kernels)):
            return run_workbook(profile, overrides, run_name=run_name, resume=resume, only=only, start=start,
                                seed=seed, notebooks=notebooks, progress=progress, log=log, preflight=preflight)
    log = log or (lambda message: print(message, flush=True))
    overrides = parse_overrides(overrides)
    prof = load_profile(profile, overrides)  # fail at once on a bad profile, before any kernel starts
    if seed is not None:
        prof.seed = seed
    runtime.configure_environment(offline=not runtime.needs_hub(prof), threads=prof.torch_threads)
    # everything that can be wrong with the request is checked before a run folder is created or picked
    chosen = select_notebooks(discover_notebooks(notebooks), only, start)
    checks = []
    if preflight:
        t0 = time.time()
        checks = check_profile(prof)
        log(f"pre-flight of profile {prof.name!r}: {sum(c.ok for c in checks)} of {len(checks)} checks passed "
            f"({time.time() - t0:.1f} s)")
        for line in report_lines(checks):
            log(line)
        require(checks, prof.name)
    if resume and run_name is None:
        found = latest_run(prof.name)
        if found is None:
            raise RmR1Error(f"--resume: there is no earlier run of profile {prof.name!r} to resume")
        run_name = found.name
    run_name = run_name or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    run = open_profile_run(prof, run_name, overrides=overrides, who="--resume" if resume else "")
    if checks:
        run.update(preflight=[c.as_row() for c in checks])
    manifest = run.manifest()
    done = {k for k, v in manifest.get("notebooks", {}).items() if v.get("status") == "done"}
    params = {"profile": str(profile), "overrides": overrides, "run_name": run.name}
    if seed is not None:
        params["seed"] = seed
    os.environ.setdefault(PROGRESS_ENV, "lines")  # training in the kernels prints short lines, never widgets
    for key, value in KERNEL_QUIET_ENV.items():  # libraries' own bars would be saved as frozen widget text
        os.environ.setdefault(key, value)
    tty = sys.stderr.isatty()
    log(f"workbook run {run.dir} (profile {prof.name}, seed {prof.seed}); {len(chosen)} notebooks")
    total0 = time.time()
    for i, nb in enumerate(chosen, start=1):
        if resume and nb.stem in done and (run.notebooks_dir / nb.name).exists():
            log(f"[{i}/{len(chosen)}] {nb.stem}: done in an earlier attempt, skipped")
            continue
        skipped = _skip_reason(prof, nb.stem)
        if skipped:  # a stage the profile's recipe leaves out (e.g. distillation for rl_only)
            run.notebook_status(nb.stem, status="skipped", reason=skipped, finished=now_iso())
            log(f"[{i}/{len(chosen)}] {nb.stem}: skipped, {skipped}")
            continue
        log(f"[{i}/{len(chosen)}] {nb.stem} ...")
        cells = CellProgress(nb.stem, log, tty=tty) if progress is not False else None
        seconds = execute_notebook(nb, run, params, cells)
        log(f"[{i}/{len(chosen)}] {nb.stem}: done in {seconds:.1f} s")
    total = time.time() - total0
    run.update(finished=now_iso(), wall_seconds=round(total, 1))
    log(f"workbook finished in {total:.1f} s; executed notebooks, artifacts and manifest in {run.dir}")
    return run


def preflight_only(profile: str, overrides: Optional[Sequence[str]] = None,
                   log: Callable[[str], None] = print) -> int:
    """The pre-flight alone: print every check; 0 when the profile can run here (else PreflightFailed)."""
    prof = load_profile(profile, parse_overrides(overrides))
    runtime.configure_environment(offline=not runtime.needs_hub(prof), threads=prof.torch_threads)
    checks = check_profile(prof)
    log(f"pre-flight of profile {prof.name!r}:")
    for line in report_lines(checks):
        log(line)
    require(checks, prof.name)
    log("all checks passed")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m rmr1lib.runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=os.environ.get("RMR1_PROFILE", "smoke"),
                        help="smoke (default), single_gpu, cluster, or a YAML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile value, e.g. --set sft.max_steps=20 (repeatable)")
    parser.add_argument("--run-name", default=None, help="folder under runs/<profile>/ (default: UTC time)")
    parser.add_argument("--resume", action="store_true", help="skip notebooks already done in this run")
    parser.add_argument("--only", default="", help="comma-separated notebooks (names or NN prefixes)")
    parser.add_argument("--from", dest="start", default=None, help="start at this notebook")
    parser.add_argument("--seed", type=int, default=None, help="override the profile's seed")
    parser.add_argument("--check", action="store_true", help="run only the pre-flight checks, then stop")
    parser.add_argument("--skip-preflight", action="store_true", help="start the notebooks without the checks")
    parser.add_argument("--cpu-kernels", default=None, choices=sorted(CPU_KERNEL_SETTINGS),
                        help="use AVX2 kernels even on an AVX-512 CPU: the other CPU kind's numbers")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    try:
        if args.check:
            return preflight_only(args.profile, args.overrides)
        run_workbook(args.profile, args.overrides, args.run_name, args.resume, only, args.start, args.seed,
                     preflight=not args.skip_preflight, cpu_kernels=args.cpu_kernels)
    except RmR1Error as exc:
        print(f"\nrmr1 workbook: {exc}", file=sys.stderr)
        if isinstance(exc, NotebookFailed):
            print("  fix the problem, then continue with: make workbook ARGS=--resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nrmr1 workbook: interrupted; continue with: make workbook ARGS=--resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
