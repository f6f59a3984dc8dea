"""Runtime set-up shared by notebooks, tests and scripts: environment variables, torch threads, seeds, and the
known harmless warnings silenced (rmr1lib.quiet).

The CPU settings are explained in docs/stack.md: one torch thread on 2-core machines (several times faster than
two), and the vLLM CPU variables that keep its engine small and in-process. Hub access is switched off whenever
the profile needs nothing from the hub, so stray downloads fail fast instead of hanging.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Optional

from .quiet import quiet_known_warnings

if TYPE_CHECKING:  # only for the type hint: runtime is imported before anything else
    from .profiles import Profile

CPU_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_LOGGING_LEVEL": "ERROR",  # the engine's INFO/WARNING lines drown a notebook's own output
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # fixed str hashing in the kernels the runner starts: set iteration order (e.g. LoRA target modules
    # written to adapter_config.json) is then the same in every run
    "PYTHONHASHSEED": "0",
}
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def configure_environment(*, offline: bool = True, threads: int = 1) -> dict[str, str]:
    """Set (without overriding the user's own values) the process variables the workbook relies on."""
    wanted = dict(CPU_ENV)
    wanted["OMP_NUM_THREADS"] = wanted["MKL_NUM_THREADS"] = str(threads)
    if offline:
        wanted.update(OFFLINE_ENV)
    applied = {}
    for key, value in wanted.items():
        os.environ.setdefault(key, value)
        applied[key] = os.environ[key]
    return applied


def configure_torch(threads: int = 1) -> None:
    """Pin torch to `threads` intra-op threads (a no-op if torch is not imported yet and not installed)."""
    try:
        import torch
    except ImportError:  # the pure core runs without torch
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (whichever are installed) for reproducible runs."""
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


#: optional modules that other packages import only to offer extra checks the workbook never uses, and that are
#: slow to import: rfc3987_syntax builds about 40 grammars when imported (1.4 s on a 2-core machine), and
#: jsonschema imports it for its "iri" format check; vLLM pulls jsonschema in through ray on every engine start
SKIPPED_OPTIONAL_IMPORTS = ("rfc3987_syntax",)


def skip_optional_imports(names=SKIPPED_OPTIONAL_IMPORTS) -> list[str]:
    """Make `import NAME` raise ImportError in this process for each optional module not yet imported, so that the
    packages that try it go on without it (as if it were not installed). Returns the names it blocked."""
    import sys

    blocked = []
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = None  # the import system raises ImportError for a None entry
            blocked.append(name)
    return blocked


def needs_hub(profile: "Profile") -> bool:
    """Whether anything the profile reads (model, data, traces, benchmarks) comes from the hub (rmr1lib.sources)."""
    from .sources import needs_hub as profile_needs_hub

    return profile_needs_hub(profile)


def setup(profile: "Profile", seed: Optional[int] = None) -> None:
    """Apply a profile's runtime settings: environment (the hub off when nothing comes from it), threads, the seed."""
    configure_environment(offline=not needs_hub(profile), threads=profile.torch_threads)
    skip_optional_imports()
    configure_torch(profile.torch_threads)
    set_seed(profile.seed if seed is None else seed)
    quiet_known_warnings()
