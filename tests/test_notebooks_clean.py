"""Notebooks are committed clean: no outputs, kernelspec python3, a tagged parameters cell with the
workbook's parameters, and only rmr1lib's public names imported from the library."""

import ast
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_name.ipynb"
    assert NOTEBOOKS[0].name == "00_overview.ipynb"


def installed_kernel_display_name() -> str:
    """The display name of the python3 kernel the installed ipykernel registers (what JupyterLab writes back)."""
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager().get_kernel_spec("python3").display_name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernelspec_matches_the_installed_kernel(path):
    # JupyterLab rewrites a differing display name on open and marks the notebook modified before the reader
    # has touched it; the saved name must be the installed kernel's own.
    saved = json.loads(path.read_text())["metadata"]["kernelspec"]
    assert saved["name"] == "python3"
    assert saved["display_name"] == installed_kernel_display_name(), (
        f"{path.name}: kernelspec display_name {saved['display_name']!r} differs from the installed kernel's "
        f"{installed_kernel_display_name()!r}; JupyterLab would open it marked modified")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    assert dirty == [], f"{path.name}: code cells {dirty} carry outputs; clear them before committing"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    names = {t.id for node in ast.parse("".join(tagged[0]["source"])).body
             for t in getattr(node, "targets", []) if isinstance(t, ast.Name)}
    assert {"profile", "overrides", "run_name", "seed"} <= names
    for i, cell in enumerate(code):
        source = "".join(cell["source"])
        assert len(source.splitlines()) <= 40, f"{path.name}: code cell {i} is longer than a screen"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rmr1lib"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name}: cell {i} imports private names {private}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_its_own_id(path):
    """nbformat 4.5 cell ids: a cell without one draws a warning from papermill now and an error in later
    nbformat versions; duplicates break cell-level merges."""
    ids = [cell.get("id") for cell in json.loads(path.read_text())["cells"]]
    assert None not in ids, f"{path.name}: cell {ids.index(None)} has no id"
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate cell ids"
