"""The runner with real papermill and real kernels, on small throwaway notebooks."""

import json

import nbformat
import pytest

from rmr1lib.errors import ConfigError, RmR1Error
from rmr1lib.runner import (KERNEL_QUIET_ENV, CellProgress, NotebookFailed, discover_notebooks, main, run_workbook,
                            select_notebooks)


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "smoke"\noverrides = {}\nrun_name = None\nseed = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def book(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("RMR1_RUNS_ROOT", str(runs))
    flag = tmp_path / "fail.flag"
    monkeypatch.setenv("RMR1_TEST_FLAG", str(flag))
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    start = ("from rmr1lib.workbook import start_notebook\n"
             "ctx = start_notebook('{name}', profile=profile, overrides=overrides, run_name=run_name, seed=seed)")
    _notebook(nbs / "00_first.ipynb", [
        start.format(name="00_first"),
        "from rmr1lib.files import atomic_write_json\n"
        "atomic_write_json(ctx.run.path('numbers.json'), {'seed': ctx.seed, 'steps': ctx.profile.sft.max_steps})\n"
        "ctx.record('numbers.json')",
    ])
    _notebook(nbs / "01_second.ipynb", [
        start.format(name="01_second"),
        "import json, os\nnumbers = json.loads(ctx.run.artifact('numbers.json').read_text())",
        "if os.path.exists(os.environ['RMR1_TEST_FLAG']):\n    raise ValueError('flag says fail')",
        "from tqdm import tqdm\nfrom huggingface_hub.utils import tqdm as hub_tqdm\n"
        "for bar in (tqdm, hub_tqdm):  # a plain bar, and the hub's (which transformers' and datasets' follow)\n"
        "    for _ in bar(range(3), desc='a library bar'):\n        pass\n"
        "print('progress', os.environ['RMR1_PROGRESS'], os.environ['TQDM_DISABLE'])",
    ])
    (nbs / "notes.ipynb").write_text("{}")  # not NN_name: ignored
    return nbs, runs, flag


def test_discovery_and_selection(book):
    nbs, _, _ = book
    found = discover_notebooks(nbs)
    assert [p.stem for p in found] == ["00_first", "01_second"]
    assert [p.stem for p in select_notebooks(found, only=["01"])] == ["01_second"]
    assert [p.stem for p in select_notebooks(found, start="01_second")] == ["01_second"]
    with pytest.raises(Exception, match="--only '07'"):
        select_notebooks(found, only=["07"])


def test_run_fail_then_resume(book, monkeypatch):
    nbs, runs, flag = book
    for key in ("RMR1_PROGRESS", *KERNEL_QUIET_ENV):  # the runner sets them for its kernels; undone after the test
        monkeypatch.delenv(key, raising=False)
    flag.write_text("1")
    with pytest.raises(NotebookFailed) as info:
        run_workbook("smoke", {"sft.max_steps": 5}, run_name="r", notebooks=nbs, progress=False, log=lambda m: None)
    message = str(info.value)
    assert "notebook 01_second.ipynb failed in cell 3" in message
    assert "ValueError: flag says fail" in message
    run_dir = runs / "smoke" / "r"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["notebooks"]["00_first"]["status"] == "done"
    assert manifest["notebooks"]["01_second"]["status"] == "failed"
    assert (run_dir / "notebooks" / "01_second.failed.ipynb").exists()
    assert not (run_dir / "notebooks" / "01_second.ipynb").exists()
    first_done = manifest["notebooks"]["00_first"]["finished"]

    flag.unlink()
    lines = []
    run_workbook("smoke", {"sft.max_steps": 5}, run_name="r", resume=True, notebooks=nbs, progress=False,
                 log=lines.append)
    assert any("00_first: done in an earlier attempt, skipped" in l for l in lines)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["notebooks"]["00_first"]["finished"] == first_done
    assert manifest["notebooks"]["01_second"]["status"] == "done"
    assert manifest["artifacts"]["numbers.json"]["notebook"] == "00_first"
    assert json.loads((run_dir / "artifacts" / "numbers.json").read_text()) == {"seed": 42, "steps": 5}
    executed = nbformat.read(run_dir / "notebooks" / "01_second.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert manifest["versions"]["papermill"]
    # under the runner a library's progress bar is off (papermill would save its first frame as frozen text)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    printed = "".join(o.get("text", "") for o in outputs)
    assert "progress lines 1" in printed
    assert not any("%|" in json.dumps(o) or "widget-view" in json.dumps(o) for o in outputs)


def test_resume_with_other_config_refused_naming_the_keys(book):
    nbs, _, _ = book
    run_workbook("smoke", None, run_name="r2", only=["00"], notebooks=nbs, progress=False, log=lambda m: None)
    with pytest.raises(Exception, match=r"different configuration \(differs in: seed, sft.max_steps\)"):
        run_workbook("smoke", {"sft.max_steps": 9}, run_name="r2", resume=True, seed=7, notebooks=nbs,
                     progress=False, log=lambda m: None)


@pytest.mark.parametrize("selection", [{"only": ["00", "0x"]}, {"start": "02_typo"}])
def test_a_selection_typo_opens_no_run_folder(book, selection):
    nbs, runs, _ = book
    with pytest.raises(RmR1Error, match="no such notebook; have 00_first, 01_second"):
        run_workbook("smoke", None, notebooks=nbs, progress=False, log=lambda m: None, **selection)
    assert not (runs / "smoke").exists()  # so a later --resume cannot pick an empty run
    with pytest.raises(RmR1Error, match="no such notebook"):  # checked before an earlier run is looked up
        run_workbook("smoke", None, resume=True, notebooks=nbs, progress=False, log=lambda m: None, **selection)
    assert not (runs / "smoke").exists()


def test_bad_profile_fails_before_any_kernel(book, capsys):
    nbs, runs, _ = book
    with pytest.raises(ConfigError, match="sft.mode: 'x'"):
        run_workbook("smoke", ["sft.mode=x"], notebooks=nbs, progress=False, log=lambda m: None)
    assert not runs.exists()
    assert main(["--set", "sft.mode=x"]) == 1
    assert "sft.mode: 'x' is not allowed" in capsys.readouterr().err


def test_cell_progress_reports_the_running_cell(book):
    from rmr1lib.runner import CellProgress, execute_notebook
    from rmr1lib.runs import open_run

    nbs, runs, _ = book
    _notebook(nbs / "05_slow.ipynb", ["x = 1", "import time\ntime.sleep(2.5)  # a slow cell", "y = 2"])
    lines = []
    progress = CellProgress("05_slow", lines.append, first=0.5, every=60)
    execute_notebook(nbs / "05_slow.ipynb", open_run("smoke", "p", root=runs), {}, progress)
    # code cells: parameters, x = 1, the slow one, y = 2 (no parameters given: papermill injects no cell)
    assert len(lines) == 1 and lines[0].startswith("  05_slow: cell 3/4, ")
    assert lines[0].endswith("`time.sleep(2.5)  # a slow cell` (running)")
    assert progress.status() is None  # nothing runs after the notebook ended


@pytest.mark.parametrize("with_progress", [False, True])
def test_a_finished_notebook_leaves_no_process_behind(book, with_progress):
    """The kernel is stopped at once when the last cell is done, not asked to stop (a graceful stop waits 1.5-3 s
    per notebook for the interpreter to tear down torch and vLLM): nothing registered to run at exit runs,
    so artifacts must be written by cells. It takes whatever it started with it: a child process the notebook left
    running (an engine it did not close) does not outlive the notebook."""
    import os
    import time

    from rmr1lib.runner import CellProgress, execute_notebook
    from rmr1lib.runs import open_run

    nbs, runs, _ = book
    pids, at_exit = runs.parent / "pids.json", runs.parent / "at_exit.txt"
    _notebook(nbs / "06_exit.ipynb", [
        f"import atexit, pathlib\natexit.register(pathlib.Path({str(at_exit)!r}).write_text, 'ran')"])
    _notebook(nbs / "07_child.ipynb", [
        "import json, os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"json.dump([os.getpid(), child.pid], open({str(pids)!r}, 'w'))",
    ])
    run = open_run("smoke", f"k{with_progress}", root=runs)
    for name in ("06_exit", "07_child"):
        progress = CellProgress(name, lambda line: None, first=60, every=60) if with_progress else None
        execute_notebook(nbs / f"{name}.ipynb", run, {}, progress)
    kernel, child = json.loads(pids.read_text())

    def alive(pid):
        try:  # a killed child of this test process stays a zombie ("Z") until it is reaped
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.time() + 5
    while (alive(kernel) or alive(child)) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(kernel), "the kernel outlived its notebook"
    assert not alive(child), "a process the notebook started outlived it"
    assert not at_exit.exists(), "the kernel was asked to stop, not stopped"


def test_cell_progress_on_a_terminal_redraws_one_line():
    import io

    now = [100.0]
    stream = io.StringIO()
    progress = CellProgress("03_x", lambda m: None, tty=True, stream=stream, clock=lambda: now[0])
    progress.code_cells = [1, 3]
    progress.cell_start(0, "markdown is ignored")
    assert progress.status() is None
    progress.cell_start(3, "# a comment\nfrom x import train\nresult = train(model)\nmore()")
    now[0] += 75
    assert progress.status() == "  03_x: cell 2/2, 1 min 15 s  `result = train(model)`"
    assert stream.getvalue().startswith("\r\x1b[K  03_x: cell 2/2, 0 s")
    progress.cell_end()
    progress.end()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_kernels_listen_on_private_unix_sockets_removed_afterwards(book, tmp_path):
    """Not TCP: a local user could connect to a TCP kernel's ports (and ipykernel warns at every start)."""
    import os

    from rmr1lib.runner import execute_notebook
    from rmr1lib.runs import open_run

    nbs, runs, _ = book
    seen = tmp_path / "transport.json"
    _notebook(nbs / "05_where.ipynb", [
        "import json, os\nfrom ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\n"
        f"json.dump([app.transport, app.ip, oct(os.stat(os.path.dirname(app.ip)).st_mode & 0o777)], "
        f"open({str(seen)!r}, 'w'))"])
    execute_notebook(nbs / "05_where.ipynb", open_run("smoke", "ipc", root=runs), {})
    transport, ip, mode = json.loads(seen.read_text())
    assert transport == "ipc" and mode == "0o700"
    assert not os.path.exists(os.path.dirname(ip)), "the kernel's socket folder was left behind"


def test_cpu_kernels_avx2_reaches_the_kernels_and_the_manifest(book, monkeypatch):
    """--cpu-kernels avx2: torch in the notebooks runs its AVX2 kernels (the numbers of a CPU without AVX-512),
    the manifest says so, and the runner's own environment is as before afterwards."""
    import os

    from rmr1lib.runs import CPU_KERNEL_ENV

    nbs, runs, _ = book
    for key in CPU_KERNEL_ENV:
        monkeypatch.delenv(key, raising=False)
    _notebook(nbs / "02_isa.ipynb", [
        "from rmr1lib.workbook import start_notebook\n"
        "ctx = start_notebook('02_isa', profile=profile, overrides=overrides, run_name=run_name, seed=seed)",
        "import torch\nctx.run.update(isa_seen=torch.backends.cpu.get_cpu_capability())"])
    run = run_workbook("smoke", None, run_name="isa", only=["02"], notebooks=nbs, progress=False,
                       log=lambda m: None, cpu_kernels="avx2")
    manifest = run.manifest()
    assert manifest["isa_seen"] == "AVX2"
    assert manifest["machine"]["kernel_env"] == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                                                 "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    assert not any(os.environ.get(key) for key in CPU_KERNEL_ENV)
    with pytest.raises(ConfigError, match="unknown setting 'avx1'; known: avx2"):
        run_workbook("smoke", None, run_name="isa2", only=["02"], notebooks=nbs, progress=False,
                     log=lambda m: None, cpu_kernels="avx1")
    assert not (runs / "smoke" / "isa2").exists()
