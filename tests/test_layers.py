"""Layers: the table in docs/architecture.md places every module, and every import (also inside functions) obeys it.

core      imports nothing heavy, anywhere, and only core modules
engine    imports core and engine modules
pipeline  imports only core modules at load time (so the command lines load fast); engines inside functions
workbook  anything below
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIB = REPO / "rmr1lib"
LAYERS = ("core", "engine", "pipeline", "workbook")
HEAVY = ("torch", "transformers", "trl", "vllm", "peft", "datasets", "pandas", "numpy", "bitsandbytes",
         "matplotlib", "seaborn", "papermill", "accelerate", "tokenizers", "huggingface_hub", "tqdm", "nbformat")


def layer_table() -> dict[str, str]:
    """{module: layer} from the table in docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text()
    table = {}
    for layer, modules in re.findall(r"^\| (core|engine|pipeline|workbook) \| ([a-z_, ]+) \|", text, re.M):
        for module in modules.split(","):
            table[module.strip()] = layer
    return table


def _cli_functions(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside a module's command line: `main` and functions named `_cli_*`."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (node.name == "main" or node.name.startswith("_cli_")):
            inside |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return inside


def imports(module: str, with_cli: bool = False) -> list:
    """(imported name, at load time?, line) for every import statement of a module, wherever it is written
    (with_cli: a fourth item says whether the import sits in the module's command line)."""
    tree = ast.parse((LIB / f"{module}.py").read_text())
    top = {id(node) for node in tree.body}
    cli = _cli_functions(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import y / from . import x
                names = [node.module] if node.module else [a.name for a in node.names]
                found += [(f"rmr1lib.{n.split('.')[0]}", id(node) in top, node.lineno, id(node) in cli)
                          for n in names]
            elif node.level == 0:
                found.append((node.module, id(node) in top, node.lineno, id(node) in cli))
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in top, node.lineno, id(node) in cli) for a in node.names]
    return found if with_cli else [item[:3] for item in found]


MODULES = sorted(p.stem for p in LIB.glob("*.py") if p.stem != "__init__")


def test_every_module_is_placed_in_the_architecture_note():
    table = layer_table()
    assert set(table.values()) == set(LAYERS)
    assert sorted(m for m in MODULES if m not in table) == [], "place new modules in docs/architecture.md"
    assert sorted(m for m in table if m not in MODULES) == [], "the note lists modules that do not exist"


def test_only_a_core_command_line_may_import_a_pipeline_module():
    found = imports("prompts", with_cli=True)
    to_data = [item for item in found if item[0] == "rmr1lib.data"]
    assert to_data and all(not at_load and in_cli for _, at_load, _, in_cli in to_data)


def test_the_import_scanner_sees_imports_inside_functions():
    found = imports("workbook")
    assert ("rmr1lib.tinymodel", False, ) == next((n, top) for n, top, _ in found if n == "rmr1lib.tinymodel")
    assert any(n == "papermill" and not top for n, top, _ in imports("runner"))


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down_only(module):
    table = layer_table()
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    mine = table[module]
    bad = []
    for name, at_load, line, in_cli in imports(module, with_cli=True):
        root = name.split(".")[0]
        if root == "rmr1lib":
            target = name.split(".")[1]
            theirs = table.get(target)
            if mine == "core" and in_cli and theirs == "pipeline":
                continue  # a core module's command line may reach a pipeline module (e.g. to load from the hub)
            if theirs is None or rank[theirs] > rank[mine]:
                bad.append(f"line {line}: imports {target} ({theirs}) from the {mine} layer")
            elif mine == "pipeline" and at_load and theirs != "core":
                bad.append(f"line {line}: imports {target} ({theirs}) at load time; pipeline modules may load only "
                           "core modules at load time (import engines inside the function)")
            elif mine == "core" and theirs != "core":
                bad.append(f"line {line}: core imports {target} ({theirs})")
        elif root in HEAVY:
            if mine == "core":
                bad.append(f"line {line}: core imports {root} (even inside a function it is not allowed)")
            elif mine == "pipeline" and at_load:
                bad.append(f"line {line}: imports {root} at load time")
    assert bad == []


def test_core_and_pipeline_load_fast_without_heavy_libraries():
    table = layer_table()
    light = sorted(m for m, layer in table.items() if layer in ("core", "pipeline"))
    code = ("import sys, time; t = time.time()\n"
            + "".join(f"import rmr1lib.{m}\n" for m in light)
            + f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            + "print(repr(heavy)); print(time.time() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout.split()
    assert out[0] == "[]", f"loading the core and pipeline modules pulled in {out[0]}"
    assert float(out[1]) < 2.0, f"importing the core and pipeline modules took {out[1]} s"
