"""Layers: the pure core loads fast without torch/transformers/vLLM/TRL, and imports point down only."""

import ast
import subprocess
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "rmr1lib"
PURE = {"errors", "prompts", "parsing", "rewards", "scoring", "paper", "evaluate", "synthetic", "profiles", "memory",
        "runs", "judging", "data", "benchmarks"}
HEAVY = ("torch", "transformers", "trl", "vllm", "peft", "datasets", "pandas", "bitsandbytes", "matplotlib")


def _present_pure():
    return sorted(m for m in PURE if (LIB / f"{m}.py").exists())


def test_pure_core_imports_nothing_heavy():
    modules = _present_pure()
    code = ("import sys, time; t = time.time()\n"
            + "".join(f"import rmr1lib.{m}\n" for m in modules)
            + f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            + "print(repr(heavy)); print(time.time() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "[]", f"the pure core pulled in {out[0]}"
    assert float(out[1]) < 2.0, f"importing the pure core took {out[1]} s"


def test_pure_modules_import_only_pure_modules():
    bad = []
    for name in _present_pure():
        tree = ast.parse((LIB / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.col_offset == 0:
                target = (node.module or "").split(".")[0]
                if target and target not in PURE:
                    bad.append(f"{name} imports .{target}")
    assert bad == []
