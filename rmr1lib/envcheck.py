"""Environment check: what this machine has, as a table a notebook can show."""

from __future__ import annotations

import os
import platform
import sys

from .runs import CPU_KERNEL_ENV, machine_record, package_versions


def environment_report() -> list[tuple[str, str]]:
    """(item, value) rows: Python, platform, CPU and its vector features, cores, threads, the kernels torch runs
    (AVX512, AVX2...), accelerator, key library versions, environment variables that change them."""
    machine = machine_record()
    rows = [("python", sys.version.split()[0]), ("platform", platform.platform()),
            ("cpu", machine["cpu"]), ("cpu cores", str(os.cpu_count())),
            ("cpu vector features (decide the last digits of every result)", ", ".join(machine["cpu_features"]) or "none")]
    rows.append(("avx512_bf16 (bitsandbytes 4-bit repack pitfall)",
                 "yes" if "avx512_bf16" in machine["cpu_features"] else "no"))
    try:
        import torch

        rows.append(("torch threads", str(torch.get_num_threads())))
        rows.append(("torch CPU kernels", torch.backends.cpu.get_cpu_capability()))
        rows.append(("CUDA available", str(torch.cuda.is_available())))
    except ImportError:
        rows.append(("torch", "not installed"))
    for key in ("OMP_NUM_THREADS", "HF_HUB_OFFLINE", "VLLM_CPU_KVCACHE_SPACE", "VLLM_ENABLE_V1_MULTIPROCESSING",
                *CPU_KERNEL_ENV):
        rows.append((key, os.environ.get(key, "(unset)")))
    rows += [(f"version: {k}", v) for k, v in package_versions().items()]
    return rows
